//! Limits, switches and deadlines of a connection.

use core::time::Duration;

use crate::handshake::HeadLimits;

/// Limits, behaviour and deadlines of a [`Connection`](crate::Connection), with defaults safe
/// for a public server.
///
/// Every limit bounds memory: no input can make a connection hold more than about
/// `max_message_len + max_frame_len` bytes of received data, and no buffer is reserved for a
/// declared length before the bytes arrive. With the defaults the worst case per connection
/// is about 4 MiB: 2 MiB received (a whole message and the next frame), and output up to
/// `max_buffered_output` plus the message being answered; an idle connection holds none of it.
///
/// The deadlines are kept by the connection and measured on the caller's clock
/// ([`Connection::handle_timeout`](crate::Connection::handle_timeout)); each is switched off
/// with `None`. Durations are counted in whole milliseconds, up to 49.7 days.
///
/// ```
/// use std::time::Duration;
/// use wsmachine::Config;
///
/// let mut config = Config::default();
/// config.max_message_len = 1 << 20;
/// config.stream_messages_above = Some(64 << 10); // deliver larger messages in pieces
/// config.idle_timeout = Some(Duration::from_secs(300)); // close quiet connections
/// assert!(config.auto_pong);
/// assert_eq!(config.keepalive_interval, Some(Duration::from_secs(20)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The largest frame payload accepted; a larger frame fails the connection with 1009 as
    /// soon as its header arrives. Default 1 MiB.
    pub max_frame_len: u64,
    /// The largest message accepted, all fragments together; a larger one fails with 1009 as
    /// soon as a frame header shows it would be exceeded. Default 1 MiB, as python-websockets:
    /// enough for any chat, API or dashboard message, and a bound a server with many
    /// connections can afford (see the worst case above); raise it, or stream larger
    /// messages ([`stream_messages_above`](Config::stream_messages_above)), where needed.
    pub max_message_len: u64,
    /// The most frames one message may span; more fail with 1008 (a flood of tiny or empty
    /// fragments costs work per frame and gains nothing). Default 131,072: room for a 4 MiB
    /// message in 64-byte fragments (Autobahn 9.3.x/9.4.x) and a bound on the flood.
    pub max_fragments: u32,
    /// Messages larger than this are not assembled but delivered as
    /// [`Event::Piece`](crate::Event::Piece)s as their bytes arrive, so a message of any
    /// allowed size flows in constant memory. `None` (the default) assembles every message.
    pub stream_messages_above: Option<u64>,
    /// Limits on the opening handshake's HTTP head.
    pub handshake: HeadLimits,
    /// Once this many bytes of output are buffered, `send_*` refuses more data with
    /// [`CommandError::OutputFull`](crate::CommandError::OutputFull) until some is written
    /// (control frames always fit). Below it a message of any size is taken whole, so the
    /// output holds at most this plus one message, and a message as large as the largest
    /// one received can always be sent back. Default 1 MiB.
    pub max_buffered_output: usize,
    /// Outgoing messages longer than this are sent in fragments of this size (§5.4). `None`
    /// (the default) sends each message as one frame.
    pub fragment_size: Option<usize>,
    /// Answer every Ping with a Pong automatically (§5.5.2). Default true.
    pub auto_pong: bool,
    /// Accept frame lengths written in a longer form than needed (§5.2 forbids it). Default
    /// false.
    pub allow_non_minimal_length: bool,
    /// permessage-deflate (RFC 7692): a client offers it with these parameters and a server
    /// accepts a client's offer with them; messages are then compressed, and inflated within
    /// [`max_message_len`](Config::max_message_len). `None` (the default) neither offers nor
    /// accepts it.
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::extensions::deflate::DeflateConfig>,
    /// How long the opening handshake may take, from the connection's creation until it is
    /// open (the decision on a server's request included); then the transport is closed
    /// without a response ([`CloseCause::HandshakeTimeout`](crate::CloseCause)). Measured from
    /// the start, not from the last byte, so a peer that sends one byte at a time gains
    /// nothing. Default 10 s.
    pub handshake_timeout: Option<Duration>,
    /// How long an open connection may go without receiving anything; then this end closes
    /// with 1001 ([`CloseCause::IdleTimeout`](crate::CloseCause)). Keepalive Pongs count as
    /// something. Default `None`: a quiet peer that answers its Pings stays.
    pub idle_timeout: Option<Duration>,
    /// This long after the last Pong arrived (or the connection opened), a Ping is sent to
    /// find out whether the peer is still there and still reads, whatever else arrives
    /// meanwhile: only a Pong shows that (python-websockets' default). Default 20 s. When the
    /// Ping goes out, the connection also gives back its empty buffers, as
    /// [`Connection::release_buffers`](crate::Connection::release_buffers) does.
    pub keepalive_interval: Option<Duration>,
    /// Connections opened together would all reach their keepalive Ping, and its Pong
    /// deadline, in the same instant: a server with thousands of them would wake them all at
    /// once and keep everyone else waiting. So each connection shortens its interval by a
    /// random part of this, drawn once from its [`RandomSource`](crate::RandomSource) (at most
    /// half the interval is taken). `None` keeps every interval exact, as does a server made
    /// by `Connection::server` without `std`, which has no randomness. Default 2 s, a tenth of
    /// the default interval.
    pub keepalive_jitter: Option<Duration>,
    /// How long the keepalive Ping may go without a Pong before the peer is presumed gone and
    /// the connection fails with 1011 ([`CloseCause::PongTimeout`](crate::CloseCause)); with
    /// `None`, Pings simply repeat. Only a Pong answers: other input may have been sent before
    /// the Ping reached the peer, or by a peer that sends and never reads (which would
    /// otherwise hold the connection, and its unsent output, as long as it kept sending).
    /// Default 20 s.
    pub pong_timeout: Option<Duration>,
    /// How long to wait for the peer's Close after sending ours (§7.1.2); then the transport
    /// is closed ([`CloseCause::CloseTimeout`](crate::CloseCause)). Default 10 s.
    pub close_timeout: Option<Duration>,
    /// Client: how long to wait, after the closing handshake, for the server to close the
    /// transport (§7.1.1) before the client does. Default 2 s (Chromium's).
    pub transport_close_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_frame_len: 1 << 20,
            max_message_len: 1 << 20,
            max_fragments: 131_072,
            stream_messages_above: None,
            handshake: HeadLimits::default(),
            max_buffered_output: 1 << 20,
            fragment_size: None,
            auto_pong: true,
            allow_non_minimal_length: false,
            #[cfg(feature = "deflate")]
            deflate: None,
            handshake_timeout: Some(Duration::from_secs(10)),
            idle_timeout: None,
            keepalive_interval: Some(Duration::from_secs(20)),
            keepalive_jitter: Some(Duration::from_secs(2)),
            pong_timeout: Some(Duration::from_secs(20)),
            close_timeout: Some(Duration::from_secs(10)),
            transport_close_timeout: Some(Duration::from_secs(2)),
        }
    }
}
