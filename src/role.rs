//! Which end of the connection this endpoint is.

/// The side of a WebSocket connection an endpoint plays.
///
/// The role decides the masking rules of RFC 6455 §5.1 and §5.3: a client masks every frame it
/// sends and the server must reject unmasked frames; a server never masks, and a client must
/// reject masked frames.
///
/// ```
/// use wsmachine::Role;
///
/// assert!(Role::Server.expects_masked_frames());
/// assert!(!Role::Client.expects_masked_frames());
/// assert_eq!(Role::Client.peer(), Role::Server);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The endpoint that opened the connection and sends the handshake request.
    Client,
    /// The endpoint that accepted the connection and answers the handshake.
    Server,
}

impl Role {
    /// The role of the other endpoint.
    #[must_use]
    pub const fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }

    /// Whether frames this endpoint *receives* must be masked (§5.1): true for a server.
    #[must_use]
    pub const fn expects_masked_frames(self) -> bool {
        matches!(self, Role::Server)
    }

    /// Whether frames this endpoint *sends* must be masked (§5.3): true for a client.
    #[must_use]
    pub const fn masks_outgoing_frames(self) -> bool {
        matches!(self, Role::Client)
    }
}
