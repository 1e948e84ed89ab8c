//! The chat example's room (`examples/chat/room.rs`), driven without sockets: wsmachine
//! clients in memory play the browsers, and the test owns the clock. The browser itself is
//! tested by `scripts/browser_test.sh`.

#![cfg(feature = "std")]

#[path = "../examples/chat/room.rs"]
mod room;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use room::{
    chat_config, json_string, message_envelope, Options, Origins, Room, CLOSE_DEADLINE,
    HANDSHAKE_DEADLINE, KEEPALIVE_INTERVAL, MAX_MESSAGE_LEN, MAX_OUTPUT, PAGE, PING_INTERVAL,
    PONG_DEADLINE,
};
use wsmachine::frame::CloseCode;
use wsmachine::handshake::ClientHandshake;
use wsmachine::{Config, Connection, Event};

const SITE: &str = "http://127.0.0.1:8080";
const RTT: &str = r#"{"type":"rtt","#;

/// A browser stand-in: a client connection and every event it reported.
struct Peer {
    connection: Connection,
    events: Vec<Event>,
    /// Whether it reads what the room sends (a stalled reader does not).
    reading: bool,
    /// The room finished with it and the "socket" was closed.
    gone: bool,
}

/// The room and its peers, with a clock that moves only when told.
struct Chat {
    room: Room,
    now: Instant,
    peers: BTreeMap<u64, Peer>,
    next_id: u64,
}

impl Chat {
    fn new(origins: Origins) -> Chat {
        Chat {
            room: Room::new(chat_config(), origins),
            now: Instant::now(),
            peers: BTreeMap::new(),
            next_id: 0,
        }
    }

    /// A page of the served origin offering `chat, superchat`, as the demo's page does.
    fn browser() -> ClientHandshake {
        ClientHandshake::new("ws://127.0.0.1:8080/chat")
            .unwrap()
            .protocol("chat")
            .protocol("superchat")
            .origin(SITE)
    }

    /// Connects a peer with `handshake` and runs the conversation until it is quiet.
    fn connect(&mut self, handshake: ClientHandshake, config: Config) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.room.connect(id, self.now);
        let connection = Connection::client(handshake, config, Instant::now()).unwrap();
        self.peers.insert(id, Peer { connection, events: Vec::new(), reading: true, gone: false });
        self.pump();
        id
    }

    fn join(&mut self) -> u64 {
        let id = self.connect(Chat::browser(), Config::default());
        assert!(self.peers[&id].connection.is_open(), "{:?}", self.peers[&id].events);
        id
    }

    /// Peers' output to the room; true if anything moved.
    fn deliver_to_room(&mut self) -> bool {
        let mut moved = false;
        for (&id, peer) in &mut self.peers {
            let mut out = Vec::new();
            peer.connection.poll_transmit(&mut out);
            if !out.is_empty() && !peer.gone {
                self.room.receive(id, &out, self.now);
                moved = true;
            }
        }
        moved
    }

    /// The room's output to the peers that read; closes the transports the room finished
    /// with, as `main.rs` does. True if anything moved.
    fn deliver_to_peers(&mut self) -> bool {
        let mut moved = false;
        let mut touched = Vec::new();
        loop {
            self.room.take_touched(&mut touched);
            if touched.is_empty() {
                return moved;
            }
            for &id in &touched {
                let Some(peer) = self.peers.get_mut(&id) else { continue };
                if peer.gone || !peer.reading {
                    continue;
                }
                let bytes = self.room.pending(id).to_vec();
                self.room.written(id, bytes.len());
                if !bytes.is_empty() {
                    peer.connection.receive(&bytes);
                    moved = true;
                }
                if self.room.finished(id) {
                    peer.gone = true;
                    peer.connection.receive_eof();
                    self.room.remove(id);
                    moved = true;
                }
                while let Some(event) = peer.connection.poll_event() {
                    peer.events.push(event.expect("the room keeps to the protocol"));
                }
            }
        }
    }

    fn pump(&mut self) {
        while self.deliver_to_room() | self.deliver_to_peers() {}
    }

    fn send(&mut self, id: u64, text: &str) {
        self.peers.get_mut(&id).unwrap().connection.sender().send_text(text).unwrap();
        self.pump();
    }

    /// Every text message `id` received since the last call, but the round trips.
    fn texts(&mut self, id: u64) -> Vec<String> {
        self.take_texts(id, |text| !text.starts_with(RTT))
    }

    /// Every round-trip message `id` received since the last call.
    fn rtts(&mut self, id: u64) -> Vec<String> {
        self.take_texts(id, |text| text.starts_with(RTT))
    }

    fn take_texts(&mut self, id: u64, wanted: impl Fn(&str) -> bool) -> Vec<String> {
        let peer = self.peers.get_mut(&id).unwrap();
        let mut texts = Vec::new();
        peer.events.retain(|event| match event {
            Event::Text(text) if wanted(text.as_str()) => {
                texts.push(text.as_str().to_owned());
                false
            }
            _ => true,
        });
        texts
    }

    fn pings(&self, id: u64) -> usize {
        self.peers[&id].events.iter().filter(|event| matches!(event, Event::Ping(_))).count()
    }

    fn close_code(&self, id: u64) -> Option<CloseCode> {
        self.peers[&id].events.iter().find_map(|event| match event {
            Event::Close(close) => Some(close.code),
            _ => None,
        })
    }

    fn tick_after(&mut self, elapsed: Duration) {
        self.now += elapsed;
        self.room.tick(self.now);
        self.pump();
    }
}

fn count(n: usize) -> String {
    format!(r#"{{"type":"count","n":{n}}}"#)
}

/// A raw HTTP exchange with the room: the response as text, and whether the room is done
/// with the connection.
fn http(room: &mut Room, id: u64, request: &str) -> (String, bool) {
    room.connect(id, Instant::now());
    room.receive(id, request.as_bytes(), Instant::now());
    let bytes = room.pending(id).to_vec();
    room.written(id, bytes.len());
    // A 101 is followed by frames, which need not be UTF-8.
    let response = String::from_utf8_lossy(&bytes).into_owned();
    (response, room.finished(id))
}

fn upgrade_request(path: &str, origin: Option<&str>, protocols: Option<&str>) -> String {
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n"
    );
    if let Some(origin) = origin {
        request += &format!("Origin: {origin}\r\n");
    }
    if let Some(protocols) = protocols {
        request += &format!("Sec-WebSocket-Protocol: {protocols}\r\n");
    }
    request + "\r\n"
}

#[test]
fn json_strings_escape_quotes_backslashes_and_control_characters_only() {
    assert_eq!(json_string(""), r#""""#);
    assert_eq!(json_string(r#"say "hi" \o/"#), r#""say \"hi\" \\o/""#);
    assert_eq!(json_string("a\nb\rc\td\u{1}e\u{1f}"), r#""a\nb\rc\td\u0001e\u001f""#);
    // Non-ASCII, the line separators and markup need no escaping in JSON.
    assert_eq!(json_string("héllo ✓ 🎉 \u{2028} </script>"), "\"héllo ✓ 🎉 \u{2028} </script>\"");
    assert_eq!(message_envelope(7, "x\"y"), r#"{"type":"message","from":7,"text":"x\"y"}"#);
}

#[test]
fn the_page_is_served_at_the_root_and_other_paths_are_404() {
    let mut room = Room::new(chat_config(), Origins::SameHost);
    let (response, finished) = http(&mut room, 1, "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("\r\nContent-Type: text/html; charset=utf-8\r\n"), "{head}");
    assert!(head.contains(&format!("\r\nContent-Length: {}", PAGE.len())), "{head}");
    assert!(head.contains("\r\nConnection: close\r\n"), "{head}");
    assert_eq!(body, PAGE);
    assert!(finished, "the connection closes once the page is written");
    assert!(!room.wants_input(1), "nothing more is read from it");

    for (id, request, status) in [
        (2, "GET /favicon.ico HTTP/1.1\r\nHost: a\r\n\r\n", "404 Not Found"),
        (3, "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n", "404 Not Found"),
        (4, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "405 Method Not Allowed"),
        (5, "GET /chat HTTP/1.1\r\nHost: a\r\n\r\n", "426 Upgrade Required"),
    ] {
        let (response, finished) = http(&mut room, id, request);
        assert!(response.starts_with(&format!("HTTP/1.1 {status}\r\n")), "{request}: {response}");
        assert!(finished);
    }
    let upgrade_elsewhere = upgrade_request("/other", Some(SITE), Some("chat"));
    let (response, _) = http(&mut room, 6, &upgrade_elsewhere);
    assert!(response.starts_with("HTTP/1.1 404 Not Found\r\n"), "{response}");
}

#[test]
fn the_chat_subprotocol_is_selected_when_offered_and_not_required() {
    let mut room = Room::new(chat_config(), Origins::SameHost);
    let cases = [
        (Some("superchat, chat"), Some("chat")),
        (Some("chat, superchat"), Some("chat")),
        (None, None),
        (Some("superchat"), None),
    ];
    for (id, (offer, selected)) in (1..).zip(cases) {
        let (response, finished) =
            http(&mut room, id, &upgrade_request("/chat", Some(SITE), offer));
        assert!(response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{response}");
        // The accept key of the RFC's sample nonce (§1.3).
        assert!(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        let header = selected.map(|protocol| format!("Sec-WebSocket-Protocol: {protocol}\r\n"));
        assert_eq!(response.contains("Sec-WebSocket-Protocol"), header.is_some(), "{response}");
        if let Some(header) = header {
            assert!(response.contains(&header), "{response}");
        }
        assert!(!finished);
        assert!(room.wants_input(id));
    }
}

#[test]
fn origins_are_checked_against_the_host_or_the_configured_list() {
    let same_host = |origin| {
        let mut room = Room::new(chat_config(), Origins::SameHost);
        http(&mut room, 1, &upgrade_request("/chat", origin, Some("chat"))).0
    };
    assert!(same_host(Some(SITE)).starts_with("HTTP/1.1 101 "));
    assert!(same_host(Some("HTTP://127.0.0.1:8080")).starts_with("HTTP/1.1 101 "));
    assert!(same_host(None).starts_with("HTTP/1.1 101 "), "no Origin: not a browser page");
    for origin in ["http://evil.example", "http://127.0.0.1:9090", "https://127.0.0.1:8080", "null"]
    {
        let response = same_host(Some(origin));
        assert!(response.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{origin}: {response}");
    }

    let same = Origins::SameHost;
    assert!(same.allows(Some("http://chat.example"), Some("chat.example:80"), false));
    assert!(same.allows(Some("http://chat.example:80"), Some("chat.example"), false));
    assert!(!same.allows(Some("http://chat.example"), None, false));
    // Over TLS the page's origin is https:// and the default port 443.
    assert!(same.allows(Some("https://chat.example"), Some("chat.example:443"), true));
    assert!(same.allows(Some("https://127.0.0.1:8443"), Some("127.0.0.1:8443"), true));
    assert!(!same.allows(Some("http://chat.example"), Some("chat.example"), true));
    assert!(!same.allows(Some("https://chat.example"), Some("chat.example"), false));
    let listed = Origins::List(vec!["https://chat.example/".into(), "http://b.example".into()]);
    assert!(listed.allows(Some("https://chat.example"), Some("127.0.0.1:8080"), false));
    assert!(listed.allows(Some("http://B.example"), Some("whatever"), true));
    assert!(
        !listed.allows(Some(SITE), Some("127.0.0.1:8080"), false),
        "the list replaces the default"
    );
    assert!(Origins::Any.allows(Some("http://evil.example"), Some("127.0.0.1:8080"), false));
}

#[test]
fn options_read_the_address_and_the_origin_policy() {
    let parse = |args: &[&str]| Options::parse(args.iter().map(|arg| arg.to_string()));
    assert_eq!(
        parse(&[]),
        Ok(Options {
            address: "127.0.0.1:8080".into(),
            origins: Origins::SameHost,
            deflate_preset: None,
            tls: false,
        })
    );
    assert_eq!(
        parse(&["0.0.0.0:80", "--origin", "http://a.example", "--origin", "https://b.example"]),
        Ok(Options {
            address: "0.0.0.0:80".into(),
            origins: Origins::List(vec!["http://a.example".into(), "https://b.example".into()]),
            deflate_preset: None,
            tls: false,
        })
    );
    assert_eq!(
        parse(&["--deflate-preset", "smallest"]).unwrap().deflate_preset.as_deref(),
        Some("smallest")
    );
    assert!(parse(&["--deflate-preset"]).is_err());
    assert_eq!(parse(&["--any-origin"]).unwrap().origins, Origins::Any);
    assert_eq!(parse(&["[::1]:9000"]).unwrap().address, "[::1]:9000");
    assert!(parse(&["--origin"]).is_err());
    assert!(parse(&["--origin", "a.example"]).is_err());
    assert!(parse(&["--any-origin", "--origin", "http://a.example"]).is_err());
    assert!(parse(&["--verbose"]).is_err());
    assert!(parse(&["127.0.0.1:1", "127.0.0.1:2"]).is_err());
}

#[test]
fn messages_reach_every_member_unchanged_and_the_count_follows_joins_and_leaves() {
    let mut chat = Chat::new(Origins::SameHost);
    let a = chat.join();
    assert_eq!(chat.peers[&a].connection.negotiated().protocol(), Some("chat"));
    assert_eq!(chat.texts(a), [format!(r#"{{"type":"welcome","id":{a}}}"#), count(1)]);
    let b = chat.join();
    assert_eq!(chat.texts(a), [count(2)]);
    assert_eq!(chat.texts(b), [format!(r#"{{"type":"welcome","id":{b}}}"#), count(2)]);

    let text = "say \"hi\" \\o/\ttabbed — ünïcødé ✓ 🎉 <b>not markup</b>";
    chat.send(a, text);
    let expected = format!(
        r#"{{"type":"message","from":{a},"text":"say \"hi\" \\o/\ttabbed — ünïcødé ✓ 🎉 <b>not markup</b>"}}"#
    );
    assert_eq!(chat.texts(b), std::slice::from_ref(&expected));
    assert_eq!(chat.texts(a), [expected], "the sender sees its own message as relayed");

    // A third member leaves with a Close; a fourth just drops its transport.
    let c = chat.join();
    let d = chat.join();
    assert_eq!(chat.texts(a), [count(3), count(4)]);
    chat.peers
        .get_mut(&c)
        .unwrap()
        .connection
        .sender()
        .close(CloseCode::GOING_AWAY, "tab closed")
        .unwrap();
    chat.pump();
    assert_eq!(chat.texts(a), [count(3)]);
    assert!(chat.peers[&c].gone, "the server closes the transport after the closing handshake");
    chat.room.receive_eof(d, chat.now);
    chat.pump();
    assert_eq!(chat.texts(a), [count(2)]);
    assert_eq!(chat.texts(b), [count(3), count(4), count(3), count(2)]);
}

#[test]
fn the_round_trip_of_each_ping_is_measured_and_pushed_to_its_member() {
    let mut chat = Chat::new(Origins::SameHost);
    let a = chat.join();
    // The first Ping goes out on joining; its Pong came back at the same instant here.
    assert_eq!(chat.pings(a), 1);
    assert_eq!(chat.rtts(a), [r#"{"type":"rtt","ms":0.00}"#]);

    chat.now += PING_INTERVAL;
    chat.room.tick(chat.now);
    chat.deliver_to_peers(); // the Ping arrives, and the peer's automatic Pong is queued
    assert_eq!(chat.pings(a), 2);
    chat.now += Duration::from_micros(12_340);
    chat.pump();
    assert_eq!(chat.rtts(a), [r#"{"type":"rtt","ms":12.34}"#]);

    // An unsolicited Pong (§5.5.3) is not a measurement.
    chat.peers.get_mut(&a).unwrap().connection.sender().send_pong(b"heartbeat").unwrap();
    chat.pump();
    assert_eq!(chat.rtts(a), Vec::<String>::new());
}

#[test]
fn silent_members_and_stalled_handshakes_are_dropped_at_their_deadlines() {
    let mut chat = Chat::new(Origins::SameHost);
    let a = chat.join();
    let silent = chat.join();
    chat.peers.get_mut(&silent).unwrap().reading = false; // no more Pongs from it
    chat.texts(a);
    chat.rtts(a);
    let stalled = 100;
    chat.room.connect(stalled, chat.now);
    assert!(!chat.room.finished(stalled));

    // A tick a second, as main.rs gives them; the deadlines are the connections' own.
    let mut elapsed = Duration::ZERO;
    while !chat.room.finished(stalled) {
        chat.tick_after(Duration::from_secs(1));
        elapsed += Duration::from_secs(1);
        assert!(elapsed <= HANDSHAKE_DEADLINE, "no request within the handshake deadline");
    }
    assert_eq!(elapsed, HANDSHAKE_DEADLINE);
    while !chat.room.finished(silent) {
        chat.tick_after(Duration::from_secs(1));
        elapsed += Duration::from_secs(1);
    }
    // Silent since it joined: the keepalive Ping went out after KEEPALIVE_INTERVAL, less the
    // member's own part of the jitter (up to 2 s), unanswered; the ticks come each second.
    let latest = KEEPALIVE_INTERVAL + PONG_DEADLINE;
    assert!(
        elapsed >= latest - Duration::from_secs(2) && elapsed <= latest,
        "dropped when its Pong was overdue, not after {elapsed:?}"
    );
    assert!(!chat.room.finished(a), "its Pongs keep it in");
    let pings = chat.pings(a);
    assert!(pings >= 3, "pinged every {PING_INTERVAL:?}");
    assert_eq!(chat.texts(a), [count(1)]);
    assert_eq!(chat.rtts(a).len(), pings - 1, "each later Ping's round trip");
}

#[test]
fn a_member_that_does_not_read_is_dropped_before_its_output_grows_past_the_limit() {
    let mut chat = Chat::new(Origins::SameHost);
    let a = chat.join();
    let b = chat.join();
    let stalled = chat.join();
    chat.peers.get_mut(&stalled).unwrap().reading = false;
    chat.texts(b);
    let text = "x".repeat(8 * 1024);
    let mut sent = 0;
    while !chat.room.finished(stalled) {
        assert!(chat.room.pending(stalled).len() <= MAX_OUTPUT + text.len() + 64);
        chat.send(a, &text);
        sent += 1;
        assert!(sent <= MAX_OUTPUT / text.len() + 1, "never dropped");
    }
    chat.room.remove(stalled);
    chat.pump();
    let texts = chat.texts(b);
    assert_eq!(texts.len(), sent + 1, "every message and the new count reach the others");
    assert_eq!(texts.last(), Some(&count(2)));
}

#[test]
fn binary_and_oversized_messages_end_only_their_sender() {
    let mut chat = Chat::new(Origins::SameHost);
    let a = chat.join();
    let binary = chat.join();
    chat.peers.get_mut(&binary).unwrap().connection.sender().send_binary(b"\x00\x01").unwrap();
    chat.pump();
    assert_eq!(chat.close_code(binary), Some(CloseCode::UNSUPPORTED_DATA));

    let big = chat.join();
    chat.send(big, &"y".repeat(MAX_MESSAGE_LEN as usize + 1));
    assert_eq!(chat.close_code(big), Some(CloseCode::MESSAGE_TOO_BIG));
    let texts = chat.texts(a);
    assert!(texts.iter().all(|text| !text.contains("yyyy")), "nothing relayed");
    assert_eq!(texts.last(), Some(&count(1)), "{texts:?}");
    assert!(chat.peers[&binary].gone && chat.peers[&big].gone);

    // A peer that never answers the room's Close is let go at the close deadline.
    let mute = chat.join();
    let peer = chat.peers.get_mut(&mute).unwrap();
    peer.reading = false;
    peer.connection.sender().send_binary(b"\x02").unwrap();
    chat.pump();
    chat.tick_after(CLOSE_DEADLINE - Duration::from_millis(1));
    assert!(!chat.room.finished(mute));
    chat.tick_after(Duration::from_millis(1));
    assert!(chat.room.finished(mute));
}

#[cfg(feature = "deflate")]
#[test]
fn a_browser_offering_permessage_deflate_gets_it_and_messages_still_arrive_unchanged() {
    let mut chat = Chat::new(Origins::SameHost);
    let mut config = Config::default();
    config.deflate = Some(Default::default());
    let a = chat.connect(Chat::browser(), config);
    let b = chat.connect(Chat::browser(), config);
    let names: Vec<&str> =
        chat.peers[&a].connection.negotiated().extensions().iter().map(|e| e.name()).collect();
    assert_eq!(names, ["permessage-deflate"]);
    chat.texts(b);
    chat.send(a, "compressed ünïcødé, compressed ünïcødé, compressed ünïcødé");
    assert_eq!(
        chat.texts(b),
        [format!(
            r#"{{"type":"message","from":{a},"text":"compressed ünïcødé, compressed ünïcødé, compressed ünïcødé"}}"#
        )]
    );
}

#[test]
fn a_connection_whose_handshake_was_done_elsewhere_joins_as_a_member() {
    // The HTTPS front end: hyper answered the request (over HTTP/2, say) and hands the open
    // connection over; the room welcomes it, counts it, and relays as for any member.
    let mut chat = Chat::new(Origins::SameHost);
    let a = chat.join();
    let _ = chat.texts(a);
    let negotiated = wsmachine::handshake::Negotiated::default();
    chat.next_id += 1;
    let b = chat.next_id;
    let server =
        Connection::open(wsmachine::Role::Server, negotiated.clone(), chat_config(), chat.now);
    chat.room.adopt(b, server, chat.now);
    let client = Connection::open(wsmachine::Role::Client, negotiated, Config::default(), chat.now);
    chat.peers
        .insert(b, Peer { connection: client, events: Vec::new(), reading: true, gone: false });
    chat.pump();
    assert_eq!(chat.texts(b), [format!(r#"{{"type":"welcome","id":{b}}}"#), count(2)]);
    assert_eq!(chat.texts(a), [count(2)]);
    assert_eq!(chat.pings(b), 1, "pinged on joining, to time the round trip");
    chat.send(b, "over HTTP/2");
    assert_eq!(chat.texts(a), [format!(r#"{{"type":"message","from":{b},"text":"over HTTP/2"}}"#)]);
}

#[test]
fn the_same_policy_decides_requests_over_http2() {
    use room::{decide, Decision};
    use wsmachine::handshake::{H2Request, Offer};
    let request = |path: &'static [u8], origin: &'static [u8]| {
        H2Request::validate([
            (":method", &b"CONNECT"[..]),
            (":protocol", b"websocket"),
            (":scheme", b"https"),
            (":path", path),
            (":authority", b"127.0.0.1:8443"),
            ("origin", origin),
            ("sec-websocket-protocol", b"chat, superchat"),
            ("sec-websocket-version", b"13"),
        ])
        .unwrap()
    };
    let page = request(b"/chat", b"https://127.0.0.1:8443");
    let decision = decide(&Offer::Http2(&page), &Origins::SameHost, false, true);
    assert_eq!(decision, Decision::Accept(Some("chat")));
    let plain_origin = request(b"/chat", b"http://127.0.0.1:8443");
    let decision = decide(&Offer::Http2(&plain_origin), &Origins::SameHost, false, true);
    assert!(matches!(decision, Decision::Refuse(r) if r.status() == 403));
    let elsewhere = request(b"/other", b"https://127.0.0.1:8443");
    let decision = decide(&Offer::Http2(&elsewhere), &Origins::SameHost, false, true);
    assert!(matches!(decision, Decision::Refuse(r) if r.status() == 404));
    let decision = decide(&Offer::Http2(&page), &Origins::SameHost, true, true);
    assert!(matches!(decision, Decision::Refuse(r) if r.status() == 503));
}
