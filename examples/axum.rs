//! A WebSocket in an axum app: `/ws` upgrades and echoes, `/` answers as plain HTTP.
//!
//! ```text
//! cargo run --release --features hyper --example axum -- 127.0.0.1:9001
//! cargo run --release --features hyper,deflate --example axum -- 127.0.0.1:9001 --deflate
//! ```
//!
//! The handler hands the request to `wsmachine::tokio::upgrade`, which checks it with the
//! handshake layer and returns the 101 for axum to send; the echo runs on the upgraded
//! connection in a task of its own.

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use wsmachine::{Config, EventRef};

#[path = "shared/args.rs"]
mod args;
#[path = "shared/listen.rs"]
mod listen;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = args::Args::from_env();
    let config = args.config;
    let app = Router::new()
        .route("/", get(|| async { "a WebSocket echo lives at /ws\n" }))
        .route("/ws", get(move |request: Request| echo(request, config)));
    let listener = tokio::net::TcpListener::from_std(listen::listen(&args.address, true)?)?;
    eprintln!("axum listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
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
