//! `wsmachine::tokio::upgrade` in a real axum server over loopback TCP: an echo, the deflate
//! configuration applied on this path as on `Connection::accept`, a subprotocol chosen by the
//! callback, and the refusals of requests that are not valid upgrades.

#![cfg(feature = "hyper")]

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wsmachine::frame::CloseCode;
use wsmachine::handshake::{ClientHandshake, Rejection};
use wsmachine::tokio::{connect_with, upgrade_with, Answer};
use wsmachine::{Config, Message};

/// Serves `/ws` (upgraded with `config`, echoing) on a fresh port; returns the address.
async fn serve(config: Config) -> std::net::SocketAddr {
    let app = Router::new().route(
        "/ws",
        get(move |request: Request| async move {
            let decide = |upgrade: &wsmachine::handshake::Offer<'_>| {
                if upgrade.origin() == Some("http://evil.example") {
                    Answer::Reject(Rejection::new(403))
                } else if upgrade.protocols().iter().any(|p| p == "echo") {
                    Answer::accept_protocol("echo")
                } else {
                    Answer::accept()
                }
            };
            let answer: Response<Body> = match upgrade_with(request, config, decide) {
                Ok((response, upgrading)) => {
                    tokio::spawn(async move {
                        let mut ws = upgrading.await.unwrap();
                        while let Some(Ok(message)) = ws.recv().await {
                            if message.is_data() {
                                ws.send(message).await.unwrap();
                            }
                        }
                    });
                    response
                }
                Err(refusal) => refusal,
            };
            answer
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

#[tokio::test]
async fn axum_upgrades_and_the_websocket_echoes_with_the_chosen_subprotocol() {
    let address = serve(Config::default()).await;
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let handshake = ClientHandshake::new(&format!("ws://{address}/ws")).unwrap().protocol("echo");
    let mut ws = connect_with(stream, handshake, Config::default()).await.unwrap();
    assert_eq!(ws.negotiated().protocol(), Some("echo"));
    ws.send("over hyper".into()).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::from("over hyper"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(ws.closed().unwrap().clean);
}

#[cfg(feature = "deflate")]
#[tokio::test]
async fn the_deflate_configuration_applies_on_the_hyper_path() {
    let mut config = Config::default();
    config.deflate = Some(Default::default());
    let address = serve(config).await;
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let handshake = ClientHandshake::new(&format!("ws://{address}/ws")).unwrap();
    let mut ws = connect_with(stream, handshake, config).await.unwrap();
    let names: Vec<&str> = ws.negotiated().extensions().iter().map(|e| e.name()).collect();
    assert_eq!(names, ["permessage-deflate"]);
    let text = "compress me ".repeat(100);
    ws.send(Message::from(text.as_str())).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::from(text.as_str()));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

#[tokio::test]
async fn requests_that_are_not_valid_upgrades_are_refused_by_the_handshake_layer() {
    let address = serve(Config::default()).await;
    let ask = |request: &'static str| async move {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = vec![0u8; 4096];
        let n = stream.read(&mut response).await.unwrap();
        String::from_utf8_lossy(&response[..n]).into_owned()
    };
    let plain = ask("GET /ws HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert!(plain.starts_with("HTTP/1.1 426 "), "{plain}");
    let old = ask("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
    .await;
    assert!(old.starts_with("HTTP/1.1 426 ") && old.contains("sec-websocket-version: 13"), "{old}");
    let evil = ask("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Origin: http://evil.example\r\n\r\n")
    .await;
    assert!(evil.starts_with("HTTP/1.1 403 "), "{evil}");
}
