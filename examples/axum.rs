//! A WebSocket in an axum app: `/ws` upgrades and echoes, `/` answers as plain HTTP.
//!
//! ```text
//! cargo run --release --features hyper --example axum -- 127.0.0.1:9001
//! cargo run --release --features hyper,deflate --example axum -- 127.0.0.1:9001 --deflate
//! ```
//!
//! The handler hands the request to `wsmachine::tokio::upgrade`, which checks it with the
//! handshake layer and returns the 101 for axum to send; the echo runs on the upgraded
//! connection in a task of its own. The connections are served by hyper's HTTP/1 builder
//! rather than `axum::serve`, for a deadline on reading a request head and a limit on its
//! size; at most 10,000 are open at once, 256 from one address (`--max-connections=N`,
//! `--max-per-address=N`), and more are closed as they are accepted.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use wsmachine::{Config, EventRef};

#[path = "shared/admission.rs"]
mod admission;
#[path = "shared/args.rs"]
mod args;
#[path = "shared/listen.rs"]
mod listen;

/// How long a client may take to send a request head (a slowloris gains nothing).
const HEAD_DEADLINE: Duration = Duration::from_secs(10);
/// The largest request head read (the handshake layer's default limit).
const MAX_HEAD: usize = 16 * 1024;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = args::Args::from_env();
    let config = args.config;
    let app = Router::new()
        .route("/", get(|| async { "a WebSocket echo lives at /ws\n" }))
        .route("/ws", get(move |request: Request| echo(request, config)));
    let listener = tokio::net::TcpListener::from_std(listen::listen(&args.address, true)?)?;
    eprintln!("axum listening on http://{}", listener.local_addr()?);
    // `axum::serve` sets no deadline on reading a request head and reads heads of up to
    // 400 KiB; hyper's own builder sets both.
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(HEAD_DEADLINE).max_buf_size(MAX_HEAD);
    let admission = admission::Admission::new(args.limits);
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            // Out of file descriptors, say: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Some(ticket) = admission.admit(peer.ip()) else {
            continue; // over a cap: closed at once
        };
        let connection = http
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()))
            .with_upgrades();
        tokio::spawn(async move {
            let _ticket = ticket;
            let _ = connection.await;
        });
    }
}

/// Upgrades the request and echoes every message on the WebSocket.
async fn echo(request: Request, config: Config) -> Response<Body> {
    match wsmachine::tokio::upgrade(request, config) {
        Ok((response, upgrading)) => {
            tokio::spawn(async move {
                let mut ws = upgrading.await?;
                ws.for_each_ref(|event, sender| match event {
                    EventRef::Text(text) => sender.send_text(text),
                    EventRef::Binary(data) => sender.send_binary(data),
                    _ => Ok(()),
                })
                .await
            });
            response
        }
        Err(refusal) => refusal,
    }
}
