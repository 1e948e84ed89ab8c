//! WebSocket extensions (RFC 6455 §9).
//!
//! - [`deflate`]: permessage-deflate (RFC 7692). So far its negotiation; compression follows.

pub mod deflate;
