//! A WebSocket in an axum app: `/ws` upgrades and echoes, `/` answers as plain HTTP.
//!
//! ```text
//! cargo run --release --features hyper --example axum -- 127.0.0.1:9001
//! cargo run --release --features hyper,deflate --example axum -- 127.0.0.1:9001 --deflate
//! ```
//!
//! The handler hands the request to `wsmachine::tokio::upgrade`, which checks it with the
//! handshake layer and returns the 101 for axum to send; the echo runs on the upgraded
//! connection in a task of its own. At most 10,000 WebSockets are open at once, 256 from one
//! address (`--max-connections=N`, `--max-per-address=N`); more upgrades get 503.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use wsmachine::{Config, EventRef};

#[path = "shared/admission.rs"]
mod admission;
#[path = "shared/args.rs"]
mod args;
#[path = "shared/listen.rs"]
mod listen;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = args::Args::from_env();
    let (config, admission) = (args.config, admission::Admission::new(args.limits));
    let app = Router::new().route("/", get(|| async { "a WebSocket echo lives at /ws\n" })).route(
        "/ws",
        get(move |ConnectInfo(peer): ConnectInfo<SocketAddr>, request: Request| {
            echo(request, config, admission.admit(peer.ip()))
        }),
    );
    let listener = tokio::net::TcpListener::from_std(listen::listen(&args.address, true)?)?;
    eprintln!("axum listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
}

/// Upgrades the request and echoes every message on the WebSocket, holding its place under
/// the caps (`None`: over them) until it ends.
async fn echo(
    request: Request,
    config: Config,
    ticket: Option<admission::Ticket>,
) -> Response<Body> {
    let Some(ticket) = ticket else {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many WebSockets open\n").into_response();
    };
    match wsmachine::tokio::upgrade(request, config) {
        Ok((response, upgrading)) => {
            tokio::spawn(async move {
                let _ticket = ticket;
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
