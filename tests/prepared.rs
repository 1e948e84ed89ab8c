//! Broadcast with `PreparedMessage`: each connection that receives it decodes the original,
//! whatever it negotiated, in order with what else it was sent; connections that encode alike
//! share one copy of the frames; the shared compressor carries nothing from one connection's
//! messages into another's; and the commands a state forbids stay errors.

#![cfg(feature = "std")]

mod common;

use common::{output, pair};
use proptest::prelude::*;
use std::time::Instant;
#[cfg(feature = "deflate")]
use wsmachine::extensions::deflate::{DeflateConfig, DeflatePreset};
use wsmachine::handshake::Negotiated;
use wsmachine::{
    CommandError, Config, Connection, Event, Message, PreparedMessage, ProtocolError, Role,
};

/// How a server connection in a test is set up: compression preset (none: no
/// permessage-deflate) and fragment size.
#[derive(Debug, Clone, Copy)]
struct Setup {
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    preset: Option<usize>,
    fragment_size: Option<usize>,
}

fn setup() -> impl Strategy<Value = Setup> {
    let presets: usize = if cfg!(feature = "deflate") { 6 } else { 1 };
    (0..presets, prop::option::of(prop_oneof![Just(7usize), Just(300), Just(4096)]))
        .prop_map(|(preset, fragment_size)| Setup { preset: preset.checked_sub(1), fragment_size })
}

fn configs(setup: Setup) -> (Config, Config) {
    #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
    let mut server = Config::default();
    server.fragment_size = setup.fragment_size;
    #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
    let mut client = Config::default();
    #[cfg(feature = "deflate")]
    if let Some(index) = setup.preset {
        let mut deflate = DeflateConfig::preset(DeflatePreset::ALL[index]);
        deflate.compression_threshold = 0;
        server.deflate = Some(deflate);
        client.deflate = Some(DeflateConfig::default());
    }
    (client, server)
}

/// What the server is told to send, in order.
#[derive(Debug, Clone)]
enum Step {
    /// The prepared message of this index.
    Prepared(usize),
    /// A text of this connection's own (its index and these bytes, hex-encoded).
    Own(Vec<u8>),
    Ping,
}

fn step(messages: usize) -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..messages).prop_map(Step::Prepared),
        3 => prop::collection::vec(any::<u8>(), 0..600).prop_map(Step::Own),
        1 => Just(Step::Ping),
    ]
}

fn own_text(connection: usize, bytes: &[u8]) -> String {
    let mut text = format!("connection {connection}: ");
    for byte in bytes {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// A message from one of a few kinds of broadcast content: repetitive JSON, random bytes
/// (incompressible), or empty.
fn prepared_content() -> impl Strategy<Value = (bool, Vec<u8>)> {
    prop_oneof![
        (0usize..200).prop_map(|n| (
            true,
            format!(r#"{{"room":"lobby","ticks":[{}]}}"#, "1.25,".repeat(n)).into_bytes()
        )),
        prop::collection::vec(any::<u8>(), 0..3000).prop_map(|bytes| (false, bytes)),
        Just((true, Vec::new())),
    ]
}

/// Everything waiting on `server`, taken as a socket writer would with
/// `poll_transmit_shared`.
fn written(server: &mut Connection) -> Vec<u8> {
    let mut wire = Vec::new();
    let mut own = Vec::new();
    loop {
        let shared = server.poll_transmit_shared(&mut own);
        wire.append(&mut own);
        match shared {
            Some(frames) => wire.extend_from_slice(&frames),
            None => return wire,
        }
    }
}

fn expected(step: &Step, connection: usize, contents: &[(bool, Vec<u8>)]) -> Message {
    match step {
        Step::Prepared(index) => match &contents[*index] {
            (true, text) => Message::from(String::from_utf8(text.clone()).unwrap()),
            (false, bytes) => Message::Binary(bytes.clone().into()),
        },
        Step::Own(bytes) => Message::from(own_text(connection, bytes)),
        Step::Ping => Message::Ping(b"p".to_vec().into()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Each connection, whatever its compression and fragment size, receives every prepared
    /// message as it was made, in order with its own messages and Pings, byte for byte; the
    /// shared compressor carries no connection's bytes into another's.
    #[test]
    fn every_connection_decodes_the_original_in_order(
        setups in prop::collection::vec(setup(), 1..6),
        contents in prop::collection::vec(prepared_content(), 1..4),
        steps in prop::collection::vec(step(3), 1..12),
        chunk in 1usize..4000,
        by_copy: bool,
    ) {
        let prepared: Vec<PreparedMessage> = contents
            .iter()
            .map(|(text, bytes)| match text {
                true => PreparedMessage::text(String::from_utf8(bytes.clone()).unwrap()),
                false => PreparedMessage::binary(bytes.clone()),
            })
            .collect();
        let mut pairs: Vec<(Connection, Connection)> = setups
            .iter()
            .map(|&setup| {
                let (client, server) = configs(setup);
                pair(client, server)
            })
            .collect();
        // Round-robin, so that one thread's shared compressor serves the connections in turn.
        for step in &steps {
            for (index, (_, server)) in pairs.iter_mut().enumerate() {
                let sender = server.sender();
                match step {
                    Step::Prepared(m) => sender.send_prepared(&prepared[m % prepared.len()]),
                    Step::Own(bytes) => sender.send_text(&own_text(index, bytes)),
                    Step::Ping => sender.send_ping(b"p"),
                }
                .unwrap();
            }
        }
        for (index, (client, server)) in pairs.iter_mut().enumerate() {
            let wire = if by_copy { output(server) } else { written(server) };
            let mut received = Vec::new();
            for piece in wire.chunks(chunk) {
                client.receive(piece);
                while let Some(event) = client.poll_event() {
                    let event: Result<Event, ProtocolError> = event;
                    received.push(Message::from_event(event.unwrap()).unwrap());
                }
            }
            let steps: Vec<Step> = steps
                .iter()
                .map(|step| match step {
                    Step::Prepared(m) => Step::Prepared(m % prepared.len()),
                    other => other.clone(),
                })
                .collect();
            // Pings go ahead of data not yet taken (§5.4), so compare data and Pings apart.
            let (pings, data): (Vec<_>, Vec<_>) =
                received.into_iter().partition(|m| matches!(m, Message::Ping(_)));
            let want: Vec<Message> = steps
                .iter()
                .filter(|s| !matches!(s, Step::Ping))
                .map(|s| expected(s, index, &contents))
                .collect();
            prop_assert_eq!(data, want, "connection {} ({:?})", index, setups[index]);
            prop_assert_eq!(pings.len(), steps.iter().filter(|s| matches!(s, Step::Ping)).count());
        }
    }
}

fn open_server(config: Config) -> Connection {
    Connection::open(Role::Server, Negotiated::default(), config, Instant::now())
}

#[test]
fn connections_that_encode_alike_queue_the_same_bytes_and_others_get_their_own() {
    let prepared = PreparedMessage::text("x".repeat(1000));
    let mut plain = [open_server(Config::default()), open_server(Config::default())];
    for server in &mut plain {
        server.sender().send_prepared(&prepared).unwrap();
    }
    let mut fragmented = Config::default();
    fragmented.fragment_size = Some(400);
    let mut cut = open_server(fragmented);
    cut.sender().send_prepared(&prepared).unwrap();
    assert_eq!(prepared.encodings(), 2, "one per fragment size");

    let mut own = Vec::new();
    let [first, second] = plain.each_mut().map(|server| server.poll_transmit_shared(&mut own));
    assert!(own.is_empty(), "nothing of their own was queued");
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.as_ptr(), second.as_ptr(), "one copy of the frame, shared");
    assert_eq!(&first[..4], [0x81, 126, 0x03, 0xe8]);
    let cut_frames = cut.poll_transmit_shared(&mut own).unwrap();
    assert_eq!(cut_frames.len(), 3 * 4 + 1000, "three frames of at most 400 bytes");
    assert_eq!(&cut_frames[..2], [0x01, 126], "the first, not final");
}

#[test]
fn a_client_masks_a_prepared_message_with_keys_of_its_own() {
    let prepared = PreparedMessage::binary(vec![7u8; 64]);
    let mut client =
        Connection::open(Role::Client, Negotiated::default(), Config::default(), Instant::now());
    client.sender().send_prepared(&prepared).unwrap();
    assert_eq!(prepared.encodings(), 0, "nothing shared: every client frame has its own key");
    let mut own = Vec::new();
    assert_eq!(client.poll_transmit_shared(&mut own), None);
    assert_eq!(own[1], 0x80 | 64, "masked");
    let mut server = open_server(Config::default());
    server.receive(&own);
    assert_eq!(server.poll_event().unwrap().unwrap(), Event::Binary(vec![7u8; 64].into()));
}

#[test]
fn shared_frames_count_as_buffered_output_and_stop_sends_at_the_limit() {
    let mut config = Config::default();
    config.max_buffered_output = 2_000;
    let mut server = open_server(config);
    let prepared = PreparedMessage::binary(vec![1u8; 1_500]);
    server.sender().send_text("before").unwrap();
    server.sender().send_prepared(&prepared).unwrap();
    assert_eq!(server.buffered_output(), 8 + 1_504);
    server.sender().send_prepared(&prepared).unwrap();
    assert_eq!(server.sender().send_prepared(&prepared), Err(CommandError::OutputFull));
    assert_eq!(server.sender().send_text("after"), Err(CommandError::OutputFull));
    let mut own = Vec::new();
    let first = server.poll_transmit_shared(&mut own).expect("a shared frame");
    assert_eq!(own, b"\x81\x06before", "the text before it, in the caller's buffer");
    assert_eq!(first.len(), 1_504);
    assert_eq!(server.buffered_output(), 1_504);
    assert_eq!(output(&mut server).len(), 1_504);
    assert_eq!(server.buffered_output(), 0);
    server.sender().send_prepared(&prepared).unwrap();
}

#[test]
fn buffers_released_between_a_shared_frame_and_the_next_take_lose_nothing() {
    let mut server = open_server(Config::default());
    server.sender().send_text("a").unwrap();
    server.sender().send_prepared(&PreparedMessage::text("b")).unwrap();
    let mut own = Vec::new();
    let shared = server.poll_transmit_shared(&mut own).expect("a shared frame");
    assert_eq!((&own[..], &shared[..]), (&b"\x81\x01a"[..], &b"\x81\x01b"[..]));
    assert_eq!(server.buffered_output(), 0);
    server.release_buffers();
    server.sender().send_text("c").unwrap();
    assert_eq!(server.buffered_output(), 3);
    assert_eq!(output(&mut server), b"\x81\x01c");
}

#[test]
fn a_ping_goes_ahead_of_shared_frames_not_yet_taken_and_a_close_behind_them() {
    let mut server = open_server(Config::default());
    let prepared = PreparedMessage::text("news");
    server.sender().send_prepared(&prepared).unwrap();
    server.sender().send_ping(b"!").unwrap();
    server.sender().close(wsmachine::frame::CloseCode::NORMAL, "").unwrap();
    assert_eq!(
        server.sender().send_prepared(&prepared),
        Err(CommandError::NotAllowed {
            command: wsmachine::Command::SendMessage,
            state: server.state(),
        })
    );
    assert_eq!(output(&mut server), b"\x89\x01!\x81\x04news\x88\x02\x03\xe8");
}

#[test]
fn frames_queued_behind_a_shared_frame_that_waited_alone_keep_their_order() {
    // The first shared frame of an idle connection is held apart from the queue; what comes
    // after it, own or shared, must still follow it.
    let mut server = open_server(Config::default());
    server.sender().send_prepared(&PreparedMessage::text("1")).unwrap();
    server.sender().send_text("2").unwrap();
    server.sender().send_prepared(&PreparedMessage::text("3")).unwrap();
    server.sender().send_prepared(&PreparedMessage::text("4")).unwrap();
    server.sender().send_text("5").unwrap();
    assert_eq!(server.buffered_output(), 5 * 3);
    let mut own = Vec::new();
    let first = server.poll_transmit_shared(&mut own).expect("the first shared frame");
    assert_eq!((&own[..], &first[..]), (&b""[..], &b"\x81\x011"[..]));
    assert_eq!(server.buffered_output(), 4 * 3);
    assert_eq!(written(&mut server), b"\x81\x012\x81\x013\x81\x014\x81\x015");
    // Idle again: the next broadcast waits alone once more, and a Pong owed meanwhile goes first.
    server.sender().send_prepared(&PreparedMessage::text("6")).unwrap();
    server.sender().send_pong(b"p").unwrap();
    assert_eq!(written(&mut server), b"\x8a\x01p\x81\x016");
    assert_eq!(server.buffered_output(), 0);
}

#[test]
fn a_pong_deferred_at_the_output_limit_goes_out_ahead_of_shared_frames() {
    let mut config = Config::default();
    config.max_buffered_output = 100;
    let mut server = open_server(config);
    server.sender().send_prepared(&PreparedMessage::binary(vec![0u8; 120])).unwrap();
    let mut client = Connection::open(Role::Client, Negotiated::default(), config, Instant::now());
    client.sender().send_ping(b"late").unwrap();
    server.receive(&output(&mut client));
    assert!(matches!(server.poll_event(), Some(Ok(Event::Ping(_)))));
    assert_eq!(server.buffered_output(), 122, "over the limit: the Pong waits");
    let wire = written(&mut server);
    assert_eq!(&wire[..6], b"\x8a\x04late", "then the Pong is written first");
    assert_eq!(wire.len(), 6 + 122);
}

#[test]
fn a_prepared_message_waits_for_a_streamed_message_to_end() {
    let mut server = open_server(Config::default());
    server.sender().begin_message(wsmachine::MessageKind::Binary, b"ab", false).unwrap();
    let prepared = PreparedMessage::text("news");
    assert_eq!(server.sender().send_prepared(&prepared), Err(CommandError::StreamInProgress));
    server.sender().send_piece(b"c", true).unwrap();
    server.sender().send_prepared(&prepared).unwrap();
    assert_eq!(output(&mut server), b"\x02\x02ab\x80\x01c\x81\x04news");
}

#[cfg(feature = "deflate")]
#[test]
fn compressed_once_for_every_connection_without_context_and_per_connection_with_it() {
    let message = r#"{"type":"message","from":"ada","text":"hello, everyone"}"#.repeat(8);
    let prepared = PreparedMessage::text(message.clone());
    let mut shared = Vec::new();
    for preset in [DeflatePreset::Shared, DeflatePreset::Shared, DeflatePreset::Default] {
        let (mut client_config, mut server_config) = (Config::default(), Config::default());
        server_config.deflate = Some(DeflateConfig::preset(preset));
        client_config.deflate = Some(DeflateConfig::default());
        let (mut client, mut server) = pair(client_config, server_config);
        server.sender().send_prepared(&prepared).unwrap();
        let mut own = Vec::new();
        let frames = server.poll_transmit_shared(&mut own);
        match preset {
            DeflatePreset::Shared => {
                let frames = frames.expect("shared");
                assert!(own.is_empty());
                assert!(frames.len() < message.len() / 4, "compressed: {} bytes", frames.len());
                client.receive(&frames);
                shared.push(frames);
            }
            _ => {
                assert_eq!(frames, None, "compressed by the connection, which keeps context");
                assert_eq!(own[0], 0xc1, "compressed");
                client.receive(&own);
            }
        }
        assert_eq!(client.poll_event().unwrap().unwrap(), Event::Text(message.as_str().into()));
    }
    assert_eq!(shared[0].as_ptr(), shared[1].as_ptr());
    assert_eq!(prepared.encodings(), 1);
}

#[cfg(feature = "std")]
#[test]
fn threads_share_one_prepared_message() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PreparedMessage>();
    let prepared = std::sync::Arc::new(PreparedMessage::text("tick"));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let prepared = prepared.clone();
            std::thread::spawn(move || {
                let mut server = open_server(Config::default());
                server.sender().send_prepared(&prepared).unwrap();
                output(&mut server)
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), b"\x81\x04tick");
    }
    assert_eq!(prepared.encodings(), 1);
}

#[test]
fn a_servers_long_owned_message_is_written_from_its_own_buffer() {
    let mut server = open_server(Config::default());
    let payload = bytes::Bytes::from(vec![5u8; 20_000]);
    server.sender().send_text("first").unwrap();
    server.sender().send(Message::Binary(payload.clone().into())).unwrap();
    server.sender().send_text("last").unwrap();
    assert_eq!(server.buffered_output(), 7 + 4 + 20_000 + 6);
    let mut own = Vec::new();
    let shared = server.poll_transmit_shared(&mut own).expect("the payload, not copied");
    assert_eq!(own, b"\x81\x05first\x82\x7e\x4e\x20", "the text, then the header alone");
    assert_eq!(shared.as_ptr(), payload.as_ptr(), "the caller's buffer itself");
    assert_eq!(server.poll_transmit_shared(&mut own), None);
    assert_eq!(&own[own.len() - 6..], b"\x81\x04last");
    // What the client reads is the message as sent.
    let mut client =
        Connection::open(Role::Client, Negotiated::default(), Config::default(), Instant::now());
    let mut wire = b"\x81\x05first\x82\x7e\x4e\x20".to_vec();
    wire.extend_from_slice(&shared);
    wire.extend_from_slice(b"\x81\x04last");
    client.receive(&wire);
    assert_eq!(client.poll_event().unwrap().unwrap(), Event::Text("first".into()));
    assert_eq!(client.poll_event().unwrap().unwrap(), Event::Binary(payload.into()));

    // Short messages, and a client's (masked with its own key), are copied as before.
    let mut short = open_server(Config::default());
    short.sender().send(Message::Binary(vec![1u8; 100].into())).unwrap();
    assert_eq!(short.poll_transmit_shared(&mut Vec::new()), None);
    let mut masking =
        Connection::open(Role::Client, Negotiated::default(), Config::default(), Instant::now());
    masking.sender().send(Message::Binary(vec![1u8; 20_000].into())).unwrap();
    assert_eq!(masking.poll_transmit_shared(&mut Vec::new()), None);
}
