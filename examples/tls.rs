//! `wss://`: a TLS echo server and a client talking to it, with rustls through tokio-rustls
//! and a self-signed certificate generated at start (rcgen).
//!
//! ```text
//! cargo run --release --features tokio --example tls -- 127.0.0.1:9443
//! cargo run --release --features tokio --example tls -- 127.0.0.1:0 --once   # exit after the exchange
//! ```
//!
//! Encryption is the caller's layer: the WebSocket connection runs unchanged over any stream
//! that reads and writes bytes, here a rustls stream. The program starts the server, connects
//! the client with a trust store holding only the generated certificate, exchanges a message,
//! closes cleanly, and keeps serving until interrupted (try it with any WebSocket client that
//! trusts the printed certificate, or stop it with Ctrl-C).

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use wsmachine::frame::CloseCode;
use wsmachine::handshake::ClientHandshake;
use wsmachine::tokio::{connect_with, Error};
use wsmachine::{Config, Message};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let once = std::env::args().any(|arg| arg == "--once");
    let address = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with("--"))
        .unwrap_or_else(|| "127.0.0.1:9443".to_owned());
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let certificate: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    println!("self-signed certificate for localhost:\n{}", certified.cert.pem());

    let server_config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certificate.clone()], key)?;
    let acceptor = TlsAcceptor::from(Arc::new(server_config));
    let listener = TcpListener::bind(&address).await?;
    let port = listener.local_addr()?.port();
    println!("wss echo server on wss://localhost:{port}/");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                match acceptor.accept(tcp).await {
                    Ok(tls) => {
                        if let Err(error) = echo(tls).await {
                            eprintln!("server connection: {error}");
                        }
                    }
                    Err(error) => eprintln!("TLS handshake failed: {error}"),
                }
            });
        }
    });

    let mut roots = rustls::RootCertStore::empty();
    roots.add(certificate)?;
    let client_config =
        rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(client_config));
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let tls = connector.connect(ServerName::try_from("localhost")?, tcp).await?;
    let reply = ask(tls, &format!("wss://localhost:{port}/"), "hello over TLS").await?;
    println!("client received: {reply}");

    if !once {
        tokio::signal::ctrl_c().await?;
    }
    Ok(())
}

/// Serves one connection: echoes every message until the connection is over.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(stream: S) -> Result<(), Error> {
    let mut ws = wsmachine::tokio::accept(stream).await?;
    while let Some(message) = ws.recv().await {
        if let message @ (Message::Text(_) | Message::Binary(_)) = message? {
            ws.send(message).await?;
        }
    }
    Ok(())
}

/// Opens a WebSocket over `stream`, sends `message`, and returns the first text that comes
/// back, after closing cleanly.
async fn ask<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    url: &str,
    message: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut ws = connect_with(stream, ClientHandshake::new(url)?, Config::default()).await?;
    ws.send(message.into()).await?;
    let reply = loop {
        match ws.recv().await.transpose()? {
            Some(Message::Text(text)) => break text.as_str().to_owned(),
            Some(_) => {}
            None => return Err("the connection ended before the reply".into()),
        }
    };
    ws.close(CloseCode::NORMAL, "done").await?;
    Ok(reply)
}
