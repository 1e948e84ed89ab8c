//! A WebSocket ([RFC 6455]) implementation as a **sans-IO state machine**: hand a
//! [`Connection`] the bytes that arrived, in any chunking, and it hands back what they mean
//! ([`Event`]s) and the bytes to send. It never touches a socket, a clock, a thread or a global
//! random number generator, so the same code runs under blocking `std::net`, tokio, mio, a
//! custom event loop, a test harness or a fuzzer. permessage-deflate ([RFC 7692]) comes with
//! the `deflate` feature.
//!
//! # The drive loop
//!
//! A [`Connection`] is driven by five kinds of calls: the bytes that arrived
//! ([`receive`](Connection::receive), [`receive_eof`](Connection::receive_eof)), its events
//! ([`poll_event`](Connection::poll_event) until `None`), commands
//! ([`accept`](Connection::accept), [`reject`](Connection::reject), and everything that sends,
//! through [`sender`](Connection::sender)), the time
//! ([`handle_timeout`](Connection::handle_timeout) when
//! [`poll_timeout`](Connection::poll_timeout) says), and the bytes to write
//! ([`poll_transmit`](Connection::poll_transmit)) until
//! [`should_close_transport`](Connection::should_close_transport). The caller owns the clock;
//! the connection owns its deadlines: the opening handshake, the keepalive Ping and its Pong,
//! idle time, the closing handshake. Here the "socket" is memory:
//!
//! ```
//! use std::time::Instant;
//! use wsmachine::frame::CloseCode;
//! use wsmachine::handshake::ClientHandshake;
//! use wsmachine::{Config, Connection, Event};
//!
//! let now = Instant::now();
//! let mut server = Connection::server(Config::default(), now);
//! let mut client = Connection::client(ClientHandshake::new("ws://example.com/chat")?, Config::default(), now)?;
//!
//! let mut wire = Vec::new();
//! let mut echoed = None;
//! while !server.should_close_transport() {
//!     client.poll_transmit(&mut wire);
//!     server.receive(&wire);
//!     wire.clear();
//!     while let Some(event) = server.poll_event() {
//!         match event? {
//!             Event::Request(request) => server.accept(request.accept())?, // check Origin here
//!             Event::Text(text) => server.sender().send_text(text.as_str())?, // echo
//!             _ => {}
//!         }
//!     }
//!     server.handle_timeout(Instant::now()); // when server.poll_timeout() falls due
//!     server.poll_transmit(&mut wire);
//!     client.receive(&wire);
//!     wire.clear();
//!     while let Some(event) = client.poll_event() {
//!         match event? {
//!             Event::Accepted(_) => client.sender().send_text("hello")?,
//!             Event::Text(text) => {
//!                 echoed = Some(text.as_str().to_owned());
//!                 client.sender().close(CloseCode::NORMAL, "bye")?;
//!             }
//!             _ => {}
//!         }
//!     }
//! }
//! assert_eq!(echoed.as_deref(), Some("hello"));
//! let closed = server.closed().expect("over");
//! assert!(closed.clean); // both Close frames passed (§7.1.4); the server closes TCP first
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Where a connection is in its life is one value, [`Connection::state`]; a command that state
//! does not allow fails with [`CommandError::NotAllowed`], naming it. Every connection ends
//! with exactly one [`Event::Closed`], whose [`Closed::cause`] says why.
//!
//! # Adapters
//!
//! The same connection on real sockets, with its I/O and clock attached: `wsmachine::tokio` (feature
//! `tokio`: `accept`, `connect`, `recv`/`send`, `Stream`/`Sink`, split halves; `wss://` with
//! `rustls`; hyper and axum upgrades with `hyper`) and `wsmachine::blocking` (feature `blocking`).
//!
//! # Zero copy
//!
//! [`Connection::poll_event_ref`] reports the same events with each whole message borrowed
//! from the connection rather than owned, with the [`Sender`] to answer it while it is
//! borrowed; [`Connection::receive_in_place`] reads messages where the caller's read put them,
//! so an event loop that reads every connection into one buffer copies only frames cut by the
//! end of a read.
//!
//! # The layers
//!
//! - [`frame`]: header parsing and encoding, masking, close codes, incremental UTF-8: pure and
//!   allocation-free, each fast path checked against a naive oracle.
//! - [`handshake`]: the opening handshake for both roles; one port serves plain HTTP and
//!   WebSocket; RFC 8441 (HTTP/2) helpers.
//! - [`Connection`]: the state machine, for both roles; [`Connection::split`] gives halves for
//!   two tasks.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `std` | yes | SIMD UTF-8 with run-time CPU detection, and [`OsSeededRandom`], the default source of handshake and mask keys; without it the crate is `no_std` + `alloc` |
//! | `deflate` | no | permessage-deflate: `Config::deflate` and `extensions::deflate` |
//! | `tokio` | no | the tokio adapter, `wsmachine::tokio` |
//! | `rustls` | no | `wss://` for the tokio adapter's `connect` |
//! | `hyper` | no | WebSockets from hyper 1.x and axum servers: `wsmachine::tokio::upgrade` |
//! | `http2` | no | WebSockets over HTTP/2 (RFC 8441): `upgrade` answers hyper's extended CONNECT, and `wsmachine::tokio::http2::Client` opens WebSockets as streams of one h2 connection |
//! | `blocking` | no | the blocking adapter, `wsmachine::blocking` |
//! | `http` | no | conversions from and to the `http` crate's request and response types |
//!
//! Input never panics; `#![forbid(unsafe_code)]`.
//!
//! [RFC 6455]: https://www.rfc-editor.org/rfc/rfc6455
//! [RFC 7692]: https://www.rfc-editor.org/rfc/rfc7692

#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
// Lengths are u64 on the wire and usize in memory: every narrowing must be deliberate.
#![cfg_attr(not(test), warn(clippy::cast_possible_truncation))]

extern crate alloc;

#[cfg(any(feature = "tokio", feature = "blocking"))]
mod adapter;
#[cfg(feature = "blocking")]
pub mod blocking;
mod config;
mod connection;
mod error;
mod event;
#[cfg(feature = "deflate")]
pub mod extensions;
pub mod frame;
pub mod handshake;
mod message;
mod payload;
mod random;
mod role;
mod time;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use config::Config;
pub use connection::{
    CloseCause, Closed, Command, Connection, DefaultRandom, InPlace, PreparedMessage, Receiver,
    Reply, Sender, ServerOnly, SplitError, State,
};
pub use error::{CommandError, ProtocolError};
pub use event::{CloseFrame, Event, EventRef, MessageKind, Piece, Text};
pub use message::Message;
pub use payload::Payload;
#[cfg(feature = "std")]
pub use random::OsSeededRandom;
pub use random::RandomSource;
pub use role::Role;
pub use time::{DefaultTimestamp, Timestamp};

/// The README's examples, compiled and run as doctests (the crate's front page is above); they
/// use the adapters and compression, so with their features (`cargo test --all-features`).
#[cfg(all(doctest, feature = "tokio", feature = "hyper", feature = "deflate"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
