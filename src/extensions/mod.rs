//! WebSocket extensions (RFC 6455 §9).
//!
//! - [`deflate`]: permessage-deflate (RFC 7692): negotiation and the per-message codec, used by
//!   [`Connection`](crate::Connection) when [`Config::deflate`](crate::Config::deflate) is set.

pub mod deflate;
