//! The chat room, sans-IO like the crate: every connection's [`Connection`] and unsent output,
//! driven by the bytes that arrived and the time the caller read. No sockets, no clock, so
//! `main.rs` moves bytes between it and mio, and `tests/chat_demo.rs` drives the very same room
//! with in-memory clients and a made-up clock.
//!
//! What the room decides:
//!
//! - **Routing.** A plain HTTP `GET /` gets the page; `/chat` without an upgrade gets 426; any
//!   other path 404. A WebSocket upgrade is accepted on `/chat` only, and only from an allowed
//!   [`Origins`] (403 otherwise, §10.2), selecting the subprotocol `chat` when offered (§4.2.2,
//!   item 5.4) and accepting without one when not.
//! - **Relaying.** A text message from a member goes to every member, the sender included,
//!   unchanged inside a JSON envelope: `{"type":"message","from":ID,"text":TEXT}`, as one
//!   [`PreparedMessage`], framed once for every member; with compression on, each member's
//!   compressor keeps its context (`balanced`), so each compresses it for itself. The room
//!   also sends `{"type":"welcome","id":ID}` on joining, `{"type":"count","n":N}` whenever the
//!   number of members changes, and `{"type":"rtt","ms":MS}` after each answered ping.
//! - **Liveness.** Every member is pinged on joining and every [`PING_INTERVAL`]; the round
//!   trip is measured from the caller's clock (the crate never reads one) and pushed to that
//!   member. The deadlines are the connection's own ([`chat_config`]), given the time with
//!   every read and every tick: a member silent for [`KEEPALIVE_INTERVAL`] gets a keepalive
//!   Ping and is dropped if it goes unanswered for [`PONG_DEADLINE`], a handshake not done within
//!   [`HANDSHAKE_DEADLINE`] is dropped, and so is a closing handshake not answered within
//!   [`CLOSE_DEADLINE`]. A connection whose last bytes are not taken by its transport within
//!   [`CLOSE_DEADLINE`] after its end is dropped too.
//! - **Bounds.** Messages are limited by [`chat_config`]; a member whose unsent output passes
//!   [`MAX_OUTPUT`] (a slow or stalled reader) is dropped rather than buffered without end;
//!   at most [`MAX_MEMBERS`] are in the room at once (503 after that).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use wsmachine::frame::CloseCode;
use wsmachine::handshake::{Header, Offer, Rejection, Request, UpgradeRequest};
use wsmachine::{CloseCause, CommandError, Config, Connection, Event, PreparedMessage, Sender};

/// The page served at `/`.
pub(crate) const PAGE: &str = include_str!("index.html");
/// The subprotocol the room speaks (§1.9): JSON envelopes from the server, plain text to it.
pub(crate) const SUBPROTOCOL: &str = "chat";
/// The largest message a client may send, compressed or not.
pub(crate) const MAX_MESSAGE_LEN: u64 = 16 * 1024;
/// Unsent output above which a member is dropped as too slow.
pub(crate) const MAX_OUTPUT: usize = 256 * 1024;
/// The most members at once; with permessage-deflate's `balanced` preset each costs about
/// 22 KB of codec state (docs/benchmarks.md), so this bounds the room's codecs to about 6 MB.
pub(crate) const MAX_MEMBERS: usize = 256;
/// How often each member is pinged by the room, for the round trip.
pub(crate) const PING_INTERVAL: Duration = Duration::from_secs(5);
/// A member silent this long (the room's Pings unanswered too) gets the connection's
/// keepalive Ping; one that answers the room's Pings never does.
pub(crate) const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// How long the keepalive Ping may go unanswered before the member is dropped.
pub(crate) const PONG_DEADLINE: Duration = Duration::from_secs(5);
/// How long a connection may take to send its request.
pub(crate) const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
/// How long a closing handshake, or the writing of a last response, may take.
pub(crate) const CLOSE_DEADLINE: Duration = Duration::from_secs(5);

/// The connection settings of the room: small messages, few fragments, bounded output, the
/// room's deadlines, and permessage-deflate (RFC 7692) whenever a browser offers it and the
/// feature is built in, with the `balanced` preset: 4 KiB windows (asked of the browser too)
/// keep 96% of the default's saving on chat messages at an eighth of its memory.
pub(crate) fn chat_config() -> Config {
    chat_config_with_preset(None).unwrap_or_default()
}

/// [`chat_config`] with another compression preset, named as `DeflatePreset` names them; an
/// error for an unknown name, or for any name without the `deflate` feature.
pub(crate) fn chat_config_with_preset(preset: Option<&str>) -> Result<Config, String> {
    let mut config = Config::default();
    config.max_frame_len = MAX_MESSAGE_LEN;
    config.max_message_len = MAX_MESSAGE_LEN;
    config.max_fragments = 64;
    config.max_buffered_output = MAX_OUTPUT;
    config.handshake_timeout = Some(HANDSHAKE_DEADLINE);
    config.keepalive_interval = Some(KEEPALIVE_INTERVAL);
    config.pong_timeout = Some(PONG_DEADLINE);
    config.close_timeout = Some(CLOSE_DEADLINE);
    #[cfg(feature = "deflate")]
    {
        use wsmachine::extensions::deflate::{DeflateConfig, DeflatePreset};
        let preset = match preset.map(str::parse::<DeflatePreset>) {
            None => DeflatePreset::Balanced,
            Some(Ok(preset)) => preset,
            Some(Err(unknown)) => return Err(format!("--deflate-preset: {unknown}")),
        };
        config.deflate = Some(DeflateConfig::preset(preset));
    }
    #[cfg(not(feature = "deflate"))]
    if let Some(name) = preset {
        return Err(format!("--deflate-preset {name} needs the deflate feature"));
    }
    Ok(config)
}

/// Which pages may open the chat: the `Origin` header a browser sends with every WebSocket
/// request names the page whose script opened it (§10.2), so checking it stops other sites'
/// pages from joining on their visitors' behalf. A request without `Origin` is not from a
/// browser page and is let in: any other client could send whatever `Origin` it liked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origins {
    /// The origin the page itself was served from: `http://` (`https://` over TLS) and the
    /// request's `Host`.
    SameHost,
    /// Exactly these origins (`--origin URL`, repeatable), compared ASCII case-insensitively.
    List(Vec<String>),
    /// Any origin (`--any-origin`).
    Any,
}

impl Origins {
    /// Whether a request with this `Origin` and `Host`, over plain HTTP or TLS (`secure`), may
    /// join.
    pub(crate) fn allows(&self, origin: Option<&str>, host: Option<&str>, secure: bool) -> bool {
        let Some(origin) = origin else { return true };
        let (scheme, default_port) = if secure { ("https://", ":443") } else { ("http://", ":80") };
        match self {
            Origins::Any => true,
            Origins::SameHost => host.is_some_and(|host| {
                let host = host.strip_suffix(default_port).unwrap_or(host);
                let origin = origin.strip_suffix(default_port).unwrap_or(origin);
                origin.get(..scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme))
                    && origin[scheme.len()..].eq_ignore_ascii_case(host)
            }),
            Origins::List(allowed) => allowed.iter().any(|allowed| {
                allowed.trim_end_matches('/').eq_ignore_ascii_case(origin.trim_end_matches('/'))
            }),
        }
    }
}

/// The command line: `chat [ADDRESS] [--origin URL]... [--any-origin]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    /// Where to listen; default `127.0.0.1:8080`.
    pub(crate) address: String,
    /// The origin policy; default [`Origins::SameHost`].
    pub(crate) origins: Origins,
    /// `--deflate-preset NAME`: another compression preset than [`chat_config`]'s `balanced`
    /// (the browser test runs the chat with each).
    pub(crate) deflate_preset: Option<String>,
    /// `--tls`: HTTPS with HTTP/2 and HTTP/1.1 on the address, a certificate made at start.
    pub(crate) tls: bool,
}

impl Options {
    /// Reads the arguments after the program name.
    pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
        let mut address = None;
        let mut listed = Vec::new();
        let mut any = false;
        let mut deflate_preset = None;
        let mut tls = false;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--deflate-preset" => match args.next() {
                    Some(name) => deflate_preset = Some(name),
                    None => return Err("--deflate-preset needs a preset's name".into()),
                },
                "--origin" => match args.next() {
                    Some(origin) if origin.contains("://") => listed.push(origin),
                    Some(origin) => return Err(format!("--origin {origin}: expected a URL")),
                    None => return Err("--origin needs a URL, such as http://example.com".into()),
                },
                "--any-origin" => any = true,
                "--tls" => tls = true,
                flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
                _ if address.is_some() => return Err(format!("unexpected argument {arg}")),
                _ => address = Some(arg),
            }
        }
        let origins = match (any, listed.is_empty()) {
            (true, true) => Origins::Any,
            (true, false) => return Err("--any-origin and --origin exclude each other".into()),
            (false, true) => Origins::SameHost,
            (false, false) => Origins::List(listed),
        };
        Ok(Options {
            address: address.unwrap_or_else(|| "127.0.0.1:8080".into()),
            origins,
            deflate_preset,
            tls,
        })
    }
}

/// `text` as a JSON string literal (RFC 8259 §7): quotes, backslashes and control characters
/// escaped, everything else, non-ASCII included, as is.
pub(crate) fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The envelope of a relayed message: the text unchanged, as a JSON string.
pub(crate) fn message_envelope(from: u64, text: &str) -> String {
    format!(r#"{{"type":"message","from":{from},"text":{}}}"#, json_string(text))
}

/// The answer to a plain HTTP request: the page at `/`, 426 at `/chat`, 404 elsewhere. Every
/// answer closes the connection (no keep-alive), which a page this small can afford.
pub(crate) fn http_response(request: &Request) -> Rejection {
    page_response(request.method(), request.path())
}

/// The answer to a plain HTTP request for `path`: the page, or why not.
pub(crate) fn page_response(method: &str, path: &str) -> Rejection {
    match (method, path) {
        ("GET", "/") => Rejection::new(200)
            .with_header(header("Content-Type", "text/html; charset=utf-8"))
            .with_header(header("Cache-Control", "no-store"))
            .with_header(header("Connection", "close"))
            .with_body(PAGE),
        (_, "/") => text_response(405, "only GET here\n").with_header(header("Allow", "GET")),
        (_, "/chat") => text_response(426, "/chat is the chat's WebSocket endpoint\n")
            .with_header(header("Upgrade", "websocket"))
            .with_header(header("Sec-WebSocket-Version", "13")),
        _ => text_response(404, "not found\n"),
    }
}

/// What to do with a WebSocket request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Accept, with the subprotocol to select, if the client offered ours.
    Accept(Option<&'static str>),
    /// Answer with this response instead.
    Refuse(Rejection),
}

/// Decides a WebSocket request, over HTTP/1.1 or HTTP/2, plain or over TLS (`secure`): the
/// path, then the origin, then room.
pub(crate) fn decide(offer: &Offer<'_>, origins: &Origins, full: bool, secure: bool) -> Decision {
    if offer.path() != "/chat" {
        return Decision::Refuse(text_response(404, "not found\n"));
    }
    if !origins.allows(offer.origin(), offer.host(), secure) {
        return Decision::Refuse(text_response(403, "origin not allowed\n"));
    }
    if full {
        return Decision::Refuse(
            text_response(503, "the room is full\n").with_header(header("Retry-After", "10")),
        );
    }
    Decision::Accept(offer.protocols().iter().any(|p| p == SUBPROTOCOL).then_some(SUBPROTOCOL))
}

fn text_response(status: u16, body: &str) -> Rejection {
    Rejection::new(status)
        .with_header(header("Content-Type", "text/plain; charset=utf-8"))
        .with_header(header("Connection", "close"))
        .with_body(body)
}

fn header(name: &str, value: &str) -> Header {
    Header::new(name, value).expect("the room's headers are valid")
}

/// The room: every connection by the caller's id.
#[derive(Debug)]
pub(crate) struct Room {
    config: Config,
    origins: Origins,
    clients: BTreeMap<u64, Client>,
    members: usize,
    /// Clients whose output grew or whose state changed since the caller last asked.
    touched: Vec<u64>,
    /// Members whose output passed [`MAX_OUTPUT`], to drop once the current step is done.
    slow: Vec<u64>,
}

/// One connection: a page load, a refused request, or a member of the chat.
#[derive(Debug)]
struct Client {
    connection: Connection,
    /// Output not yet taken by the transport starts at `written`.
    output: Vec<u8>,
    written: usize,
    /// In the chat: accepted on `/chat` and not yet gone.
    member: bool,
    /// Given up on (slow, or a deadline passed): the transport should close now.
    dropped: bool,
    last_ping: Instant,
    /// The payload of the Ping awaiting its Pong, and when it was sent.
    ping: Option<([u8; 8], Instant)>,
    pings_sent: u64,
    /// When the connection ended and its transport was due to close, its last bytes written.
    over_since: Option<Instant>,
}

impl Client {
    fn new(connection: Connection, now: Instant) -> Client {
        Client {
            connection,
            output: Vec::new(),
            written: 0,
            member: false,
            dropped: false,
            last_ping: now,
            ping: None,
            pings_sent: 0,
            over_since: None,
        }
    }

    fn pending(&self) -> usize {
        self.output.len() - self.written
    }
}

impl Room {
    /// An empty room whose connections use `config` and admit `origins`.
    pub(crate) fn new(config: Config, origins: Origins) -> Room {
        Room {
            config,
            origins,
            clients: BTreeMap::new(),
            members: 0,
            touched: Vec::new(),
            slow: Vec::new(),
        }
    }

    /// A transport connected; `id` names it until [`remove`](Room::remove).
    pub(crate) fn connect(&mut self, id: u64, now: Instant) {
        self.clients.insert(id, Client::new(Connection::server(self.config, now), now));
    }

    /// Bytes arrived from `id`.
    pub(crate) fn receive(&mut self, id: u64, bytes: &[u8], now: Instant) {
        let Some(client) = self.clients.get_mut(&id) else { return };
        client.connection.receive(bytes);
        client.connection.handle_timeout(now); // dates the input: exact keepalive deadlines
        self.handle_events(id, now);
        self.settle();
    }

    /// `id`'s transport reached its end.
    pub(crate) fn receive_eof(&mut self, id: u64, now: Instant) {
        let Some(client) = self.clients.get_mut(&id) else { return };
        client.connection.receive_eof();
        self.handle_events(id, now);
        self.settle();
    }

    /// Gives every connection the time (its deadlines act), sends the room's pings that are
    /// due, and drops the connections whose last bytes were not taken in time; call it about
    /// once a second.
    pub(crate) fn tick(&mut self, now: Instant) {
        let ids: Vec<u64> = self.clients.keys().copied().collect();
        for id in ids {
            let Some(client) = self.clients.get_mut(&id) else { continue };
            if client.dropped {
                continue;
            }
            client.connection.handle_timeout(now);
            self.handle_events(id, now);
            let Some(client) = self.clients.get_mut(&id) else { continue };
            if client.over_since.is_some_and(|since| now >= since + CLOSE_DEADLINE) {
                self.drop_client(id, "last bytes not taken");
            } else if client.member && now >= client.last_ping + PING_INTERVAL {
                self.ping(id, now);
            }
        }
        self.settle();
    }

    /// Moves the ids of the connections that have output to write or may be finished into
    /// `ids` (emptied first).
    pub(crate) fn take_touched(&mut self, ids: &mut Vec<u64>) {
        ids.clear();
        ids.append(&mut self.touched);
        ids.sort_unstable();
        ids.dedup();
    }

    /// The output waiting for `id`'s transport.
    pub(crate) fn pending(&self, id: u64) -> &[u8] {
        self.clients.get(&id).map_or(&[], |client| &client.output[client.written..])
    }

    /// `id`'s transport took `n` bytes of [`pending`](Room::pending).
    pub(crate) fn written(&mut self, id: u64, n: usize) {
        let Some(client) = self.clients.get_mut(&id) else { return };
        client.written += n.min(client.pending());
        if client.pending() == 0 {
            client.output.clear();
            client.written = 0;
        } else if client.written >= 64 * 1024 {
            client.output.drain(..client.written);
            client.written = 0;
        }
    }

    /// Whether `id`'s transport should be closed now: the room gave up on it, or its last
    /// bytes are written and the connection is over (a response sent, the closing handshake
    /// done, the peer gone; the server closes first, §7.1.1).
    pub(crate) fn finished(&self, id: u64) -> bool {
        self.clients.get(&id).is_none_or(|client| {
            client.dropped || (client.pending() == 0 && client.connection.should_close_transport())
        })
    }

    /// Whether more input from `id` is of any use: not once its connection is over (its
    /// response queued, the closing handshake done) or the room gave up on it, when further
    /// bytes would only be buffered for nothing.
    pub(crate) fn wants_input(&self, id: u64) -> bool {
        self.clients
            .get(&id)
            .is_some_and(|client| !client.dropped && client.connection.closed().is_none())
    }

    /// Forgets `id`, whose transport is closed; the other members learn the new count.
    pub(crate) fn remove(&mut self, id: u64) {
        self.leave(id);
        self.clients.remove(&id);
        self.settle();
    }

    fn handle_events(&mut self, id: u64, now: Instant) {
        loop {
            let Some(client) = self.clients.get_mut(&id) else { return };
            if client.dropped {
                return;
            }
            let Some(event) = client.connection.poll_event() else {
                // What the events began (a Close sent, the connection opened) may have a
                // deadline, which starts now; a deadline may also end the connection here.
                if client.connection.poll_timeout().is_some_and(|deadline| deadline <= now) {
                    client.connection.handle_timeout(now);
                    continue;
                }
                break;
            };
            match event {
                Ok(Event::HttpRequest(request)) => {
                    if let Err(error) = client.connection.reject(&http_response(&request)) {
                        eprintln!("connection {id}: {error}");
                    }
                }
                Ok(Event::Request(upgrade)) => self.answer_upgrade(id, &upgrade, now),
                Ok(Event::Text(text)) => self.broadcast(&message_envelope(id, text.as_str())),
                Ok(Event::Binary(_)) => {
                    // The chat is text; §7.4.1 has a code for data an endpoint cannot accept.
                    let _closing =
                        client.connection.sender().close(CloseCode::UNSUPPORTED_DATA, "text only");
                }
                Ok(Event::Pong(payload)) => self.pong(id, &payload, now),
                Ok(Event::Close(close)) => {
                    if client.member {
                        eprintln!("guest {id} sent Close ({})", close.code);
                    }
                    self.leave(id);
                }
                Ok(Event::Closed(closed)) => {
                    self.leave(id);
                    if matches!(
                        closed.cause,
                        CloseCause::HandshakeTimeout
                            | CloseCause::PongTimeout
                            | CloseCause::CloseTimeout
                    ) {
                        // The peer is gone or stalled: its transport closes now, written or not.
                        self.drop_client(id, "deadline passed");
                    }
                }
                Ok(_) => {}
                // The connection has queued its Close or its 400; `Closed` follows.
                Err(error) => eprintln!("connection {id}: {error}"),
            }
        }
        self.transmit(id);
        if let Some(client) = self.clients.get_mut(&id) {
            if client.connection.should_close_transport() && client.over_since.is_none() {
                client.over_since = Some(now);
            }
        }
    }

    fn answer_upgrade(&mut self, id: u64, upgrade: &UpgradeRequest, now: Instant) {
        let full = self.is_full();
        let Some(client) = self.clients.get_mut(&id) else { return };
        let protocol = match decide(&Offer::Http1(upgrade), &self.origins, full, false) {
            Decision::Accept(protocol) => protocol,
            Decision::Refuse(response) => return refuse(id, &mut client.connection, &response),
        };
        let mut accept = upgrade.accept();
        if let Some(protocol) = protocol {
            accept = accept.protocol(protocol);
        }
        if let Err(error) = client.connection.accept(accept) {
            eprintln!("connection {id}: cannot accept: {error}");
            return refuse(id, &mut client.connection, &text_response(500, "cannot accept\n"));
        }
        self.join(id, now);
    }

    /// Whether the room has no place left.
    pub(crate) fn is_full(&self) -> bool {
        self.members >= MAX_MEMBERS
    }

    /// The configuration every connection of the room uses.
    #[allow(dead_code)] // for the HTTPS front end only, not the plain server or the tests
    pub(crate) fn config(&self) -> Config {
        self.config
    }

    /// The origins the room admits.
    #[allow(dead_code)] // for the HTTPS front end only, not the plain server or the tests
    pub(crate) fn origins(&self) -> &Origins {
        &self.origins
    }

    /// Takes in a connection whose handshake was done elsewhere (an HTTP stack that accepted
    /// the request after [`decide`]): a member from now on, named `id`.
    #[cfg_attr(not(feature = "http2"), allow(dead_code))] // for the HTTPS front end
    pub(crate) fn adopt(&mut self, id: u64, connection: Connection, now: Instant) {
        self.clients.insert(id, Client::new(connection, now));
        self.join(id, now);
        self.settle();
    }

    /// `id`'s WebSocket is open: a member, welcomed, counted and pinged.
    fn join(&mut self, id: u64, now: Instant) {
        let Some(client) = self.clients.get_mut(&id) else { return };
        client.member = true;
        self.members += 1;
        let negotiated = client.connection.negotiated();
        let extensions: Vec<&str> = negotiated.extensions().iter().map(|e| e.name()).collect();
        eprintln!(
            "guest {id} joined (subprotocol {:?}, extensions {extensions:?}); {} here",
            negotiated.protocol(),
            self.members,
        );
        self.send(id, &format!(r#"{{"type":"welcome","id":{id}}}"#));
        self.broadcast_count();
        self.ping(id, now);
    }

    fn pong(&mut self, id: u64, payload: &[u8], now: Instant) {
        let Some(client) = self.clients.get_mut(&id) else { return };
        let Some((expected, sent)) = client.ping else { return };
        if payload != expected {
            return; // an unsolicited Pong (§5.5.3), or the answer to an older Ping
        }
        client.ping = None;
        let ms = now.duration_since(sent).as_secs_f64() * 1000.0;
        self.send(id, &format!(r#"{{"type":"rtt","ms":{ms:.2}}}"#));
    }

    fn ping(&mut self, id: u64, now: Instant) {
        let Some(client) = self.clients.get_mut(&id) else { return };
        client.pings_sent += 1;
        let payload = client.pings_sent.to_be_bytes();
        client.last_ping = now;
        if client.connection.sender().send_ping(&payload).is_ok() {
            client.ping = Some((payload, now));
            self.transmit(id);
        }
    }

    /// A member left: the others learn the new count.
    fn leave(&mut self, id: u64) {
        let Some(client) = self.clients.get_mut(&id) else { return };
        if !client.member {
            return;
        }
        client.member = false;
        self.members -= 1;
        eprintln!("guest {id} left; {} here", self.members);
        self.broadcast_count();
    }

    fn broadcast_count(&mut self) {
        self.broadcast(&format!(r#"{{"type":"count","n":{}}}"#, self.members));
    }

    fn broadcast(&mut self, text: &str) {
        let message = PreparedMessage::text(text);
        let members: Vec<u64> =
            self.clients.iter().filter(|(_, client)| client.member).map(|(&id, _)| id).collect();
        for id in members {
            self.queue(id, |sender| sender.send_prepared(&message));
        }
    }

    fn send(&mut self, id: u64, text: &str) {
        self.queue(id, |sender| sender.send_text(text));
    }

    /// Queues what `send` sends on `id`'s connection, and moves it to the output.
    fn queue(&mut self, id: u64, send: impl FnOnce(&mut Sender) -> Result<(), CommandError>) {
        let Some(client) = self.clients.get_mut(&id) else { return };
        match send(client.connection.sender()) {
            Ok(()) => self.transmit(id),
            Err(CommandError::OutputFull) => self.slow.push(id),
            Err(_) => {} // closing: the message no longer matters to it
        }
    }

    /// Moves `id`'s queued frames to its output, and marks it slow if that grew too long.
    fn transmit(&mut self, id: u64) {
        let Some(client) = self.clients.get_mut(&id) else { return };
        client.connection.poll_transmit(&mut client.output);
        if client.pending() > MAX_OUTPUT {
            self.slow.push(id);
        }
        self.touched.push(id);
    }

    fn drop_client(&mut self, id: u64, why: &str) {
        let Some(client) = self.clients.get_mut(&id) else { return };
        if client.dropped {
            return;
        }
        client.dropped = true;
        client.output = Vec::new();
        client.written = 0;
        if client.member {
            eprintln!("guest {id} dropped: {why}");
        }
        self.touched.push(id);
        self.leave(id);
    }

    /// Drops the members that fell behind; each drop tells the others the new count, which
    /// may leave another behind, and each member is dropped at most once.
    fn settle(&mut self) {
        while let Some(id) = self.slow.pop() {
            self.drop_client(id, "too slow: output not read");
        }
    }
}

/// Answers a WebSocket request with `response` instead of accepting it.
fn refuse(id: u64, connection: &mut Connection, response: &Rejection) {
    if let Err(error) = connection.reject(response) {
        eprintln!("connection {id}: {error}");
    }
}
