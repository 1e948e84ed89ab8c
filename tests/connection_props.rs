//! Property tests for the connection state machine: what comes out does not depend on how the
//! input is chunked, two connections joined in memory deliver exactly what each other sent, and
//! no input makes a connection panic or misreport a protocol error.

#![cfg(feature = "std")]

mod common;

use common::{receive_and_poll, Polling};
use proptest::prelude::*;
use proptest::sample::Index;
use std::time::Instant;
use wsmachine::frame::{
    apply_mask, CloseCode, FrameHeader, HeaderRules, Opcode, Status, MAX_HEADER_LEN,
};
use wsmachine::handshake::ClientHandshake;
use wsmachine::{
    CloseCause, CloseFrame, Closed, Command, CommandError, Config, Connection, Event,
    ProtocolError, Role, State,
};

// ----- shared helpers -----

/// A valid opening handshake request, with a fixed key so that runs are reproducible.
fn request_bytes() -> Vec<u8> {
    let handshake = ClientHandshake::new("ws://example.com/chat").expect("valid URI");
    let mut client = Connection::client_with(
        handshake,
        Config::default(),
        |buf: &mut [u8]| buf.fill(7),
        Instant::now(),
    )
    .expect("valid request");
    let mut request = Vec::new();
    client.poll_transmit(&mut request);
    request
}

/// Appends one masked frame, as a client sends it.
fn push_masked(out: &mut Vec<u8>, opcode: Opcode, fin: bool, payload: &[u8], key: [u8; 4]) {
    let header = FrameHeader::new(opcode, payload.len() as u64).with_fin(fin).with_mask(key);
    let mut head = [0u8; MAX_HEADER_LEN];
    let head_len = header.encode(&mut head).expect("header fits");
    out.extend_from_slice(&head[..head_len]);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], key);
}

/// The cut positions an arbitrary list of indices picks in `0..=len`, sorted.
fn cut_points(cuts: &[Index], len: usize) -> Vec<usize> {
    let mut points: Vec<usize> = cuts.iter().map(|cut| cut.index(len + 1)).collect();
    points.sort_unstable();
    points
}

/// `bytes` split at `points` (sorted positions; repeats give empty chunks).
fn split_at_points<'a>(bytes: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::with_capacity(points.len() + 1);
    let mut start = 0;
    for &point in points {
        chunks.push(&bytes[start..point]);
        start = point;
    }
    chunks.push(&bytes[start..]);
    chunks
}

/// The frames after the HTTP head of `wire`, parsed as the peer of `sender` parses them:
/// (header, unmasked payload). Panics on a malformed stream, and on a trailing partial frame.
fn frames_after_head(wire: &[u8], sender: Role) -> Vec<(FrameHeader, Vec<u8>)> {
    let head_end = wire
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(wire)))
        + 4;
    let rules = HeaderRules::new(sender.peer());
    let mut rest = &wire[head_end..];
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let parsed = FrameHeader::parse(rest, &rules)
            .unwrap_or_else(|error| panic!("invalid frame in the output: {error}"));
        let Status::Complete((header, header_len)) = parsed else {
            panic!("the output ends in a partial frame header: {rest:02x?}");
        };
        let len = usize::try_from(header.payload_len).expect("small frame");
        assert!(rest.len() >= header_len + len, "the output ends in a partial frame");
        let mut payload = rest[header_len..header_len + len].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key);
        }
        frames.push((header, payload));
        rest = &rest[header_len + len..];
    }
    frames
}

/// Close codes an endpoint may send.
fn close_code() -> impl Strategy<Value = u16> {
    prop_oneof![
        prop::sample::select(vec![1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1011]),
        3000..=4999u16,
    ]
}

/// A close reason short enough for a Close frame (at most 123 bytes).
fn close_reason() -> impl Strategy<Value = String> {
    "\\PC{0,30}"
}

// ----- (a) chunking independence -----

/// A control frame a client may put anywhere in its stream.
#[derive(Debug, Clone)]
enum Control {
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

fn control() -> impl Strategy<Value = Control> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..=125).prop_map(Control::Ping),
        prop::collection::vec(any::<u8>(), 0..=125).prop_map(Control::Pong),
    ]
}

/// One item of a client's stream: a message cut into fragments with control frames between
/// them, or a lone control frame.
#[derive(Debug, Clone)]
enum ClientItem {
    Message { text: bool, payload: Vec<u8>, cuts: Vec<Index>, between: Vec<Option<Control>> },
    Control(Control),
}

fn message_payload() -> impl Strategy<Value = (bool, Vec<u8>)> {
    prop_oneof![
        4 => any::<String>().prop_map(|text| (true, text.into_bytes())),
        4 => prop::collection::vec(any::<u8>(), 0..300).prop_map(|data| (false, data)),
        // Lengths needing the 16-bit form.
        1 => prop::collection::vec(any::<u8>(), 126..1500).prop_map(|data| (false, data)),
    ]
}

fn client_item() -> impl Strategy<Value = ClientItem> {
    prop_oneof![
        3 => (
            message_payload(),
            prop::collection::vec(any::<Index>(), 0..4),
            prop::collection::vec(prop::option::weighted(0.3, control()), 0..4),
        )
            .prop_map(|((text, payload), cuts, between)| ClientItem::Message {
                text,
                payload,
                cuts,
                between,
            }),
        1 => control().prop_map(ClientItem::Control),
    ]
}

/// The client's frames for `items`, then a Close, masked with keys derived from `seed`.
fn client_stream(items: &[ClientItem], close: (u16, &str), seed: u32) -> Vec<u8> {
    let mut counter = seed;
    let mut next_key = move || {
        counter = counter.wrapping_mul(0x9E37_79B9).wrapping_add(0x7F4A_7C15);
        counter.to_le_bytes()
    };
    let mut out = Vec::new();
    let push_control = |out: &mut Vec<u8>, control: &Control, key| match control {
        Control::Ping(payload) => push_masked(out, Opcode::Ping, true, payload, key),
        Control::Pong(payload) => push_masked(out, Opcode::Pong, true, payload, key),
    };
    for item in items {
        match item {
            ClientItem::Control(control) => push_control(&mut out, control, next_key()),
            ClientItem::Message { text, payload, cuts, between } => {
                let points = cut_points(cuts, payload.len());
                let fragments = split_at_points(payload, &points);
                let count = fragments.len();
                for (i, fragment) in fragments.into_iter().enumerate() {
                    let opcode = match (i, text) {
                        (0, true) => Opcode::Text,
                        (0, false) => Opcode::Binary,
                        _ => Opcode::Continuation,
                    };
                    push_masked(&mut out, opcode, i + 1 == count, fragment, next_key());
                    if i + 1 < count {
                        if let Some(Some(control)) = between.get(i) {
                            push_control(&mut out, control, next_key());
                        }
                    }
                }
            }
        }
    }
    let (code, reason) = close;
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(reason.as_bytes());
    push_masked(&mut out, Opcode::Close, true, &body, next_key());
    out
}

/// Feeds `input` to a fresh server in the chunks `points` cuts it into, polling events after
/// each chunk until `None` (accepting the request) and taking the output after each chunk.
fn run_server(input: &[u8], points: &[usize]) -> (Vec<Result<Event, ProtocolError>>, Vec<u8>) {
    run_server_polling(input, points, Polling::Owned)
}

/// [`run_server`], with events read the `polling` way.
fn run_server_polling(
    input: &[u8],
    points: &[usize],
    polling: Polling,
) -> (Vec<Result<Event, ProtocolError>>, Vec<u8>) {
    let mut server = Connection::server(Config::default(), Instant::now());
    let mut events = Vec::new();
    let mut output = Vec::new();
    for chunk in split_at_points(input, points) {
        events.extend(receive_and_poll(&mut server, chunk, polling, |server, event| {
            if let Ok(Event::Request(request)) = event {
                server.accept(request.accept()).expect("accept");
            }
        }));
        server.poll_transmit(&mut output);
    }
    (events, output)
}

/// The messages, in order, that a client stream of `items` carries.
fn expected_messages(items: &[ClientItem]) -> Vec<Event> {
    items
        .iter()
        .filter_map(|item| match item {
            ClientItem::Message { text: true, payload, .. } => Some(Event::Text(
                std::str::from_utf8(payload).expect("text items are UTF-8").into(),
            )),
            ClientItem::Message { text: false, payload, .. } => {
                Some(Event::Binary(payload.clone().into()))
            }
            ClientItem::Control(_) => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// The same client bytes give the same events and the same output whether they arrive at
    /// once, cut at arbitrary points, or one byte at a time.
    #[test]
    fn chunking_does_not_change_events_or_output(
        items in prop::collection::vec(client_item(), 0..6),
        close in (close_code(), close_reason()),
        seed in any::<u32>(),
        cuts in prop::collection::vec(any::<Index>(), 0..12),
    ) {
        let mut input = request_bytes();
        input.extend_from_slice(&client_stream(&items, (close.0, &close.1), seed));

        let (events, output) = run_server(&input, &[]);
        let (cut_events, cut_output) = run_server(&input, &cut_points(&cuts, input.len()));
        let bytewise: Vec<usize> = (1..input.len()).collect();
        let (byte_events, byte_output) = run_server(&input, &bytewise);
        let (borrowed_events, borrowed_output) =
            run_server_polling(&input, &cut_points(&cuts, input.len()), Polling::Borrowed);
        let (in_place_events, in_place_output) =
            run_server_polling(&input, &cut_points(&cuts, input.len()), Polling::InPlace);
        let (whole_in_place_events, whole_in_place_output) =
            run_server_polling(&input, &[], Polling::InPlace);

        // The stream is valid: a request, its messages and controls, the Close, the end.
        prop_assert!(events.iter().all(Result::is_ok), "errors: {events:?}");
        prop_assert!(matches!(events.first(), Some(Ok(Event::Request(_)))));
        let messages: Vec<Event> = events
            .iter()
            .filter_map(|event| match event {
                Ok(event @ (Event::Text(_) | Event::Binary(_))) => Some(event.clone()),
                _ => None,
            })
            .collect();
        prop_assert_eq!(messages, expected_messages(&items));
        let code = CloseCode::from(close.0);
        prop_assert_eq!(
            &events[events.len() - 2..],
            &[
                Ok(Event::Close(CloseFrame { code, reason: close.1.as_str().into() })),
                Ok(Event::Closed(Closed { code, clean: true, cause: CloseCause::PeerClosed })),
            ][..]
        );

        prop_assert_eq!(&cut_events, &events);
        prop_assert_eq!(&byte_events, &events);
        prop_assert_eq!(&borrowed_events, &events);
        prop_assert_eq!(&borrowed_output, &output);
        prop_assert_eq!(&in_place_events, &events);
        prop_assert_eq!(&in_place_output, &output);
        prop_assert_eq!(&whole_in_place_events, &events);
        prop_assert_eq!(&whole_in_place_output, &output);
        prop_assert!(output.starts_with(b"HTTP/1.1 101 "), "output: {output:02x?}");
        // The output: a Pong for each Ping, in order, then the Close echoing the code.
        let pings: Vec<Vec<u8>> = events
            .iter()
            .filter_map(|event| match event {
                Ok(Event::Ping(payload)) => Some(payload.to_vec()),
                _ => None,
            })
            .collect();
        let mut expected_frames: Vec<(Opcode, Vec<u8>)> =
            pings.into_iter().map(|payload| (Opcode::Pong, payload)).collect();
        expected_frames.push((Opcode::Close, close.0.to_be_bytes().to_vec()));
        let frames: Vec<(Opcode, Vec<u8>)> = frames_after_head(&output, Role::Server)
            .into_iter()
            .map(|(header, payload)| (header.opcode, payload))
            .collect();
        prop_assert_eq!(frames, expected_frames);
        prop_assert_eq!(&cut_output, &output);
        prop_assert_eq!(&byte_output, &output);
    }
}

// ----- (b) a client and a server exchanging messages -----

/// A message as the test records it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Message {
    Text(String),
    Binary(Vec<u8>),
}

/// Something one side's application does.
#[derive(Debug, Clone)]
enum Action {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    /// Move bytes both ways until neither side has output.
    Pump,
}

fn action() -> impl Strategy<Value = (bool, Action)> {
    let action = prop_oneof![
        3 => any::<String>().prop_map(Action::Text),
        3 => prop::collection::vec(any::<u8>(), 0..400).prop_map(Action::Binary),
        2 => prop::collection::vec(any::<u8>(), 0..=125).prop_map(Action::Ping),
        2 => Just(Action::Pump),
    ];
    (any::<bool>(), action)
}

/// One end of the pair with what it did and what it saw.
struct Peer {
    conn: Connection,
    /// Every byte it transmitted.
    wire: Vec<u8>,
    sent: Vec<Message>,
    sent_pings: Vec<Vec<u8>>,
    /// Whether it has sent (or queued) its Close.
    close_sent: bool,
    received: Vec<Message>,
    pings: Vec<Vec<u8>>,
    /// The pings it reported before its Close: a Pong is owed for each.
    pongs_owed: Vec<Vec<u8>>,
    pongs: Vec<Vec<u8>>,
    close: Option<CloseFrame>,
    closed: Option<Closed>,
}

impl Peer {
    fn new(conn: Connection) -> Peer {
        Peer {
            conn,
            wire: Vec::new(),
            sent: Vec::new(),
            sent_pings: Vec::new(),
            close_sent: false,
            received: Vec::new(),
            pings: Vec::new(),
            pongs_owed: Vec::new(),
            pongs: Vec::new(),
            close: None,
            closed: None,
        }
    }

    /// Polls events until `None`, recording them; a server accepts the request.
    fn drain_events(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            assert!(self.closed.is_none(), "{event:?} after Closed");
            match event.expect("a valid exchange has no protocol error") {
                Event::Request(request) => self.conn.accept(request.accept()).expect("accept"),
                Event::Accepted(_) => {}
                Event::Text(text) => self.received.push(Message::Text(text.as_str().to_owned())),
                Event::Binary(data) => self.received.push(Message::Binary(data.to_vec())),
                Event::Ping(payload) => {
                    if !self.close_sent {
                        self.pongs_owed.push(payload.to_vec());
                    }
                    self.pings.push(payload.to_vec());
                }
                Event::Pong(payload) => self.pongs.push(payload.to_vec()),
                Event::Close(frame) => {
                    assert!(self.close.is_none(), "two Close events");
                    self.close = Some(frame);
                    self.close_sent = true;
                }
                Event::Closed(closed) => self.closed = Some(closed),
                other => panic!("unexpected event {other:?}"),
            }
        }
    }

    fn act(&mut self, action: &Action) {
        match action {
            Action::Text(text) => {
                self.conn.sender().send_text(text).expect("send_text");
                self.sent.push(Message::Text(text.clone()));
            }
            Action::Binary(data) => {
                self.conn.sender().send_binary(data).expect("send_binary");
                self.sent.push(Message::Binary(data.clone()));
            }
            Action::Ping(payload) => {
                self.conn.sender().send_ping(payload).expect("send_ping");
                self.sent_pings.push(payload.clone());
            }
            Action::Pump => unreachable!("pumping takes both peers"),
        }
    }
}

/// Chunk sizes used in turn to deliver bytes.
struct Chunker {
    sizes: Vec<usize>,
    next: usize,
}

impl Chunker {
    fn next_size(&mut self) -> usize {
        let size = self.sizes[self.next % self.sizes.len()];
        self.next += 1;
        size
    }
}

/// Moves `from`'s output to `to` in chunks, `to` polling its events after each; returns how
/// many bytes moved.
fn transfer(from: &mut Peer, to: &mut Peer, chunker: &mut Chunker) -> usize {
    let mut out = Vec::new();
    from.conn.poll_transmit(&mut out);
    from.wire.extend_from_slice(&out);
    let mut rest = &out[..];
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(chunker.next_size().min(rest.len()));
        to.conn.receive(chunk);
        to.drain_events();
        rest = tail;
    }
    out.len()
}

/// Moves bytes both ways until neither side has anything to send.
fn pump(client: &mut Peer, server: &mut Peer, chunker: &mut Chunker) {
    while transfer(client, server, chunker) + transfer(server, client, chunker) > 0 {}
}

/// Checks one direction's bytes: the right HTTP head first, valid frames after it, and no
/// data frame after the Close (§5.5.1).
fn check_wire(peer: &Peer, role: Role) {
    let head: &[u8] = if role == Role::Client { b"GET " } else { b"HTTP/1.1 101 " };
    assert!(
        peer.wire.starts_with(head),
        "{role:?} output does not start with its HTTP head: {:?}",
        String::from_utf8_lossy(&peer.wire[..peer.wire.len().min(40)])
    );
    let frames = frames_after_head(&peer.wire, role);
    if let Some(close) = frames.iter().position(|(header, _)| header.opcode == Opcode::Close) {
        let after: Vec<Opcode> = frames[close + 1..].iter().map(|(h, _)| h.opcode).collect();
        assert!(
            after.iter().all(|opcode| opcode.is_control() && *opcode != Opcode::Close),
            "{role:?} sent {after:?} after its Close"
        );
    }
}

/// Joins a client and a server, runs `actions`, optionally closes, and checks that each side
/// got what the other sent.
fn exchange(
    configs: (Config, Config),
    actions: &[(bool, Action)],
    close: Option<(bool, u16, String)>,
    chunk_sizes: Vec<usize>,
) {
    let handshake = ClientHandshake::new("ws://localhost/pair").expect("valid URI");
    let mut client =
        Peer::new(Connection::client(handshake, configs.0, Instant::now()).expect("request"));
    let mut server = Peer::new(Connection::server(configs.1, Instant::now()));
    let mut chunker = Chunker { sizes: chunk_sizes, next: 0 };
    pump(&mut client, &mut server, &mut chunker);
    assert!(client.conn.is_open() && server.conn.is_open(), "the handshake did not complete");

    for (from_client, action) in actions {
        match action {
            Action::Pump => pump(&mut client, &mut server, &mut chunker),
            action if *from_client => client.act(action),
            action => server.act(action),
        }
    }
    if let Some((from_client, code, reason)) = &close {
        let closer = if *from_client { &mut client } else { &mut server };
        closer.conn.sender().close(CloseCode::from(*code), reason).expect("close");
        closer.close_sent = true;
    }
    pump(&mut client, &mut server, &mut chunker);

    check_wire(&client, Role::Client);
    check_wire(&server, Role::Server);
    let closer_is_client = close.as_ref().map(|(from_client, ..)| *from_client);
    for (from, to, from_is_client) in [(&client, &server, true), (&server, &client, false)] {
        let side = if from_is_client { "client -> server" } else { "server -> client" };
        // The side that replied to a Close may drop messages it had queued but not sent.
        if closer_is_client == Some(!from_is_client) {
            assert!(
                from.sent.starts_with(&to.received),
                "{side}: received messages are not a prefix of the sent ones"
            );
        } else {
            assert_eq!(to.received, from.sent, "{side}: messages");
        }
        assert_eq!(to.pings, from.sent_pings, "{side}: pings");
        assert_eq!(from.pongs, to.pongs_owed, "{side}: automatic pongs");
    }
    match close {
        None => {
            for peer in [&client, &server] {
                assert!(peer.close.is_none() && peer.closed.is_none());
                assert!(peer.conn.is_open());
            }
        }
        Some((from_client, code, reason)) => {
            let code = CloseCode::from(code);
            let (closer, replier) =
                if from_client { (&client, &server) } else { (&server, &client) };
            assert_eq!(
                replier.close,
                Some(CloseFrame { code, reason: reason.as_str().into() }),
                "the Close the replier saw"
            );
            assert_eq!(closer.close.as_ref().map(|frame| frame.code), Some(code), "the echo");
            for (peer, cause) in [
                (
                    &mut client,
                    if from_client { CloseCause::LocalClose } else { CloseCause::PeerClosed },
                ),
                (
                    &mut server,
                    if from_client { CloseCause::PeerClosed } else { CloseCause::LocalClose },
                ),
            ] {
                assert_eq!(peer.closed, Some(Closed { code, clean: true, cause }));
                assert!(!peer.conn.is_open());
                assert_eq!(
                    peer.conn.sender().send_text("late"),
                    Err(CommandError::NotAllowed {
                        command: Command::SendMessage,
                        state: State::Closed
                    })
                );
                assert_eq!(peer.conn.poll_transmit(&mut Vec::new()), 0, "output after the end");
            }
        }
    }
}

fn fragment_size() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![Just(None), (1usize..24).prop_map(Some)]
}

fn config_with(fragment_size: Option<usize>) -> Config {
    let mut config = Config::default();
    config.fragment_size = fragment_size;
    config
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// Whatever the two sides send, in whatever chunks the bytes travel and whatever the
    /// senders' fragment sizes, each side receives the other's messages and pings in order,
    /// gets a Pong for each of its pings the peer saw before closing, and a Close from either
    /// side ends both cleanly with its code.
    #[test]
    fn pair_delivers_what_was_sent(
        actions in prop::collection::vec(action(), 0..16),
        close in prop::option::of((any::<bool>(), close_code(), close_reason())),
        fragments in (fragment_size(), fragment_size()),
        chunk_sizes in prop::collection::vec(prop_oneof![1usize..8, 8usize..200, Just(4096)], 1..6),
    ) {
        let configs = (config_with(fragments.0), config_with(fragments.1));
        exchange(configs, &actions, close, chunk_sizes);
    }

    /// Messages sent in fragments of a few bytes by both sides still arrive whole.
    #[test]
    fn small_fragments_arrive_whole(
        actions in prop::collection::vec(action(), 1..12),
        close in prop::option::of((any::<bool>(), close_code(), close_reason())),
        fragments in (1usize..6, 1usize..6),
        chunk_sizes in prop::collection::vec(1usize..64, 1..4),
    ) {
        let configs = (config_with(Some(fragments.0)), config_with(Some(fragments.1)));
        exchange(configs, &actions, close, chunk_sizes);
    }
}

// ----- (c) invalid input -----

/// How a junk frame declares its payload length.
#[derive(Debug, Clone, Copy)]
enum LengthForm {
    Minimal,
    Bits16,
    Bits64,
    MadeUp(u64),
}

/// Bytes that are often almost a frame, masked with probability `masked`: any header fields,
/// a payload of any length, declared lengths that match or not.
fn junk_frame(masked: f64) -> impl Strategy<Value = Vec<u8>> {
    // Mostly defined opcodes, so that streams get past their first frame.
    let opcode = prop_oneof![4 => prop::sample::select(vec![0u8, 1, 2, 8, 9, 10]), 1 => 0u8..16];
    let header_fields = (
        opcode,
        prop::bool::weighted(0.8),
        prop_oneof![19 => Just(0u8), 1 => 1u8..8],
        prop::bool::weighted(masked),
    );
    let payload = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..140),
        any::<String>().prop_map(String::into_bytes),
        (close_code(), close_reason()).prop_map(|(code, reason)| {
            let mut body = code.to_be_bytes().to_vec();
            body.extend_from_slice(reason.as_bytes());
            body
        }),
        (any::<u16>(), prop::collection::vec(any::<u8>(), 0..8)).prop_map(|(code, tail)| {
            let mut body = code.to_be_bytes().to_vec();
            body.extend_from_slice(&tail);
            body
        }),
    ];
    // How the length is declared: minimally, in the 16- or 64-bit form whatever its size, or
    // made up.
    let length = prop_oneof![
        6 => Just(LengthForm::Minimal),
        1 => Just(LengthForm::Bits16),
        1 => Just(LengthForm::Bits64),
        1 => any::<u64>().prop_map(LengthForm::MadeUp),
    ];
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..24),
        6 => (header_fields, payload, length, any::<[u8; 4]>()).prop_map(
            |((opcode, fin, rsv, masked), payload, length, key)| {
                let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
                let mask_bit = if masked { 0x80 } else { 0 };
                let len = payload.len();
                match (length, u8::try_from(len), u16::try_from(len)) {
                    (LengthForm::Minimal, Ok(short @ 0..=125), _) => out.push(mask_bit | short),
                    (LengthForm::Minimal | LengthForm::Bits16, _, Ok(medium)) => {
                        out.push(mask_bit | 126);
                        out.extend_from_slice(&medium.to_be_bytes());
                    }
                    (LengthForm::Minimal | LengthForm::Bits16 | LengthForm::Bits64, _, _) => {
                        out.push(mask_bit | 127);
                        out.extend_from_slice(&(len as u64).to_be_bytes());
                    }
                    (LengthForm::MadeUp(made_up), _, _) => {
                        out.push(mask_bit | 127);
                        out.extend_from_slice(&made_up.to_be_bytes());
                    }
                }
                if masked {
                    out.extend_from_slice(&key);
                }
                let start = out.len();
                out.extend_from_slice(&payload);
                if masked {
                    apply_mask(&mut out[start..], key);
                }
                out
            },
        ),
    ]
}

/// Limits small enough for junk to reach them, and sometimes streaming.
fn junk_config() -> impl Strategy<Value = Config> {
    (
        prop::option::weighted(0.3, 0u64..64),
        prop::option::weighted(0.3, 0u64..300),
        prop::option::weighted(0.3, 1u32..4),
        prop::option::weighted(0.3, 0u64..200),
        any::<bool>(),
    )
        .prop_map(|(stream_above, max_message, max_fragments, max_frame, auto_pong)| {
            let mut config = Config::default();
            config.stream_messages_above = stream_above;
            config.max_message_len = max_message.unwrap_or(config.max_message_len);
            config.max_fragments = max_fragments.unwrap_or(config.max_fragments);
            config.max_frame_len = max_frame.unwrap_or(config.max_frame_len);
            config.auto_pong = auto_pong;
            config
        })
}

/// A connection of `role` with `config`, open after a valid handshake, and its output so far.
fn opened(role: Role, config: Config) -> (Connection, Vec<u8>) {
    let handshake = ClientHandshake::new("ws://example.com/chat").expect("valid URI");
    let mut client = Connection::client(handshake, config, Instant::now()).expect("valid request");
    let mut request = Vec::new();
    client.poll_transmit(&mut request);
    let mut server = Connection::server(config, Instant::now());
    server.receive(&request);
    let Some(Ok(Event::Request(upgrade))) = server.poll_event() else {
        panic!("the request was not reported");
    };
    server.accept(upgrade.accept()).expect("accept");
    let mut response = Vec::new();
    server.poll_transmit(&mut response);
    match role {
        Role::Server => (server, response),
        Role::Client => {
            client.receive(&response);
            assert!(matches!(client.poll_event(), Some(Ok(Event::Accepted(_)))));
            (client, request)
        }
    }
}

/// Feeds `input` to an open connection of `role`, reading events the `polling` way, and
/// returns the results and the output.
fn feed_open(
    role: Role,
    config: Config,
    input: &[u8],
    cuts: &[Index],
    eof: bool,
    polling: Polling,
) -> (Vec<Result<Event, ProtocolError>>, Vec<u8>) {
    let (mut conn, mut output) = opened(role, config);
    let mut results = Vec::new();
    for chunk in split_at_points(input, &cut_points(cuts, input.len())) {
        results.extend(receive_and_poll(&mut conn, chunk, polling, |_, _| {}));
        conn.poll_transmit(&mut output);
    }
    if eof {
        conn.receive_eof();
        results.extend(receive_and_poll(&mut conn, &[], polling, |_, _| {}));
        conn.poll_transmit(&mut output);
    }
    (results, output)
}

/// Feeds junk to an open connection of `role` and checks how it fails, and that borrowed
/// events, read from the connection or in place, report exactly what owned ones do.
fn check_junk(
    role: Role,
    config: Config,
    input: &[u8],
    cuts: &[Index],
    eof: bool,
) -> Result<(), TestCaseError> {
    // The handshake and the client's masks are random: compare the frames' content.
    let content = |output: &[u8]| -> Vec<(Opcode, bool, Vec<u8>)> {
        frames_after_head(output, role)
            .into_iter()
            .map(|(header, payload)| (header.opcode, header.fin, payload))
            .collect()
    };
    let (results, output) = feed_open(role, config, input, cuts, eof, Polling::Owned);
    for polling in [Polling::Borrowed, Polling::InPlace] {
        let (other_results, other_output) = feed_open(role, config, input, cuts, eof, polling);
        prop_assert_eq!(&other_results, &results, "{:?} events differ", polling);
        prop_assert_eq!(
            content(&other_output),
            content(&output),
            "output differs when {:?}",
            polling
        );
    }

    let errors: Vec<&ProtocolError> =
        results.iter().filter_map(|result| result.as_ref().err()).collect();
    prop_assert!(errors.len() <= 1, "several errors: {:?}", errors);
    if let Some(at) = results.iter().position(|r| matches!(r, Ok(Event::Closed(_)))) {
        prop_assert_eq!(at, results.len() - 1, "events after Closed: {:?}", results);
    }
    let frames = frames_after_head(&output, role);
    if let Some(close) = frames.iter().position(|(header, _)| header.opcode == Opcode::Close) {
        prop_assert_eq!(close, frames.len() - 1, "frames after the Close: {:?}", frames);
    }
    if let Some(error) = errors.first() {
        let code = error.close_code().expect("an error after the handshake has a close code");
        let at = results.iter().position(Result::is_err).expect("the error");
        for later in &results[at + 1..] {
            let closed = Closed { code, clean: false, cause: CloseCause::ProtocolError };
            prop_assert_eq!(later, &Ok(Event::Closed(closed)));
        }
        let Some((last, payload)) = frames.last() else {
            panic!("no Close frame after {error:?}");
        };
        prop_assert_eq!(last.opcode, Opcode::Close, "last frame after {:?}", error);
        prop_assert_eq!(&payload[..2], &code.as_u16().to_be_bytes()[..], "after {:?}", error);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    /// After a valid handshake, no bytes in any chunking make the server panic; it reports at
    /// most one protocol error, only its end after it, and its output then ends with a Close
    /// carrying the error's code.
    #[test]
    fn invalid_input_never_panics(
        junk in prop::collection::vec(junk_frame(0.95), 0..10),
        cuts in prop::collection::vec(any::<Index>(), 0..8),
        eof in any::<bool>(),
    ) {
        check_junk(Role::Server, Config::default(), &junk.concat(), &cuts, eof)?;
    }

    /// The same with small limits, streaming, and without automatic Pongs, on either side.
    #[test]
    fn invalid_input_never_panics_with_limits(
        (client, junk) in any::<bool>().prop_flat_map(|client| {
            // Mostly masked frames for a server, mostly unmasked ones for a client.
            let masked = if client { 0.05 } else { 0.95 };
            (Just(client), prop::collection::vec(junk_frame(masked), 0..10))
        }),
        config in junk_config(),
        cuts in prop::collection::vec(any::<Index>(), 0..8),
        eof in any::<bool>(),
    ) {
        let role = if client { Role::Client } else { Role::Server };
        check_junk(role, config, &junk.concat(), &cuts, eof)?;
    }
}
