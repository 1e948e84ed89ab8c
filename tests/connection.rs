//! Conversations with one `Connection`: exact bytes in, exact events and bytes out, for every
//! rule of RFC 6455 §5.4 (fragmentation), §5.5 (control frames), §7 (closing) and §8.1 (UTF-8).

#![cfg(feature = "std")]

mod common;

use common::{events, output, receive_and_poll, Polling};
use std::time::Instant;
use wsmachine::frame::{apply_mask, CloseCode, FrameHeader, Opcode};
use wsmachine::handshake::{accept_key, ClientHandshake, Rejection};
use wsmachine::{
    CloseCause, Closed, Command, CommandError, Config, Connection, Event, MessageKind, Piece,
    ProtocolError, State,
};

const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A frame as a client sends it: masked with `KEY`.
fn client_frame(opcode: Opcode, payload: &[u8], fin: bool) -> Vec<u8> {
    frame(opcode, payload, fin, Some(KEY))
}

/// A frame as a server sends it: unmasked.
fn server_frame(opcode: Opcode, payload: &[u8], fin: bool) -> Vec<u8> {
    frame(opcode, payload, fin, None)
}

fn frame(opcode: Opcode, payload: &[u8], fin: bool, mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut header = FrameHeader::new(opcode, payload.len() as u64).with_fin(fin);
    header.mask = mask;
    let mut out = vec![0u8; header.encoded_len()];
    header.encode(&mut out).unwrap();
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key);
    }
    out
}

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    [&code.to_be_bytes()[..], reason.as_bytes()].concat()
}

/// A server that has accepted the RFC request; its 101 is drained.
fn open_server(config: Config) -> Connection {
    let mut server = Connection::server(config, Instant::now());
    server.receive(REQUEST);
    let Some(Ok(Event::Request(request))) = server.poll_event() else { panic!("no request") };
    server.accept(request.accept()).unwrap();
    let response = output(&mut server);
    assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    server
}

fn text(event: &Result<Event, ProtocolError>) -> &str {
    match event {
        Ok(Event::Text(text)) => text.as_str(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[test]
fn a_masked_text_message_is_reported_and_echoed_unmasked() {
    let mut server = open_server(Config::default());
    server.receive(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    let events = events(&mut server);
    assert_eq!(events.len(), 1);
    assert_eq!(text(&events[0]), "Hello");
    server.sender().send_text("Hello").unwrap();
    assert_eq!(output(&mut server), [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
}

#[test]
fn fragments_are_assembled_and_control_frames_may_come_between_them() {
    let mut server = open_server(Config::default());
    let mut input = client_frame(Opcode::Text, "κό".as_bytes(), false);
    input.extend(client_frame(Opcode::Ping, b"p", true));
    input.extend(client_frame(Opcode::Continuation, "σμ".as_bytes(), false));
    input.extend(client_frame(Opcode::Continuation, "ε".as_bytes(), true));
    server.receive(&input);
    let events = events(&mut server);
    assert_eq!(events.len(), 2);
    assert!(matches!(&events[0], Ok(Event::Ping(payload)) if payload == &b"p"[..]));
    assert_eq!(text(&events[1]), "κόσμε");
    // The Ping was answered automatically, with its payload (§5.5.3).
    assert_eq!(output(&mut server), server_frame(Opcode::Pong, b"p", true));
}

#[test]
fn binary_messages_keep_their_bytes_and_can_be_empty() {
    let mut server = open_server(Config::default());
    let payload: Vec<u8> = (0..=255u8).collect();
    server.receive(&client_frame(Opcode::Binary, &payload, true));
    server.receive(&client_frame(Opcode::Binary, b"", true));
    let events = events(&mut server);
    assert!(matches!(&events[0], Ok(Event::Binary(data)) if data[..] == payload[..]));
    assert!(matches!(&events[1], Ok(Event::Binary(data)) if data.is_empty()));
}

/// Asserts `input` fails the server with `expected`, a Close with its code is the last output,
/// later input is ignored, and the end follows; whichever way the events are read.
fn assert_fails(config: Config, input: &[u8], expected: ProtocolError) {
    for polling in Polling::ALL {
        assert_fails_polling(config, input, expected.clone(), polling);
    }
}

fn assert_fails_polling(config: Config, input: &[u8], expected: ProtocolError, polling: Polling) {
    let mut server = open_server(config);
    let mut events = receive_and_poll(&mut server, input, polling, |_, _| {});
    let code = expected.close_code().unwrap();
    let closed = Closed { code, clean: false, cause: CloseCause::ProtocolError };
    assert_eq!(events.pop(), Some(Ok(Event::Closed(closed))));
    assert_eq!(events.pop(), Some(Err(expected)));
    assert!(events.iter().all(Result::is_ok));
    let out = output(&mut server);
    let close = server_frame(Opcode::Close, &code.as_u16().to_be_bytes(), true);
    assert!(out.ends_with(&close), "{out:02x?} does not end with {close:02x?}");
    assert!(server.should_close_transport());
    assert_eq!(server.state(), State::Failed);
    assert_eq!(server.poll_timeout(), None, "no deadline once over");
    server.receive(&client_frame(Opcode::Text, b"ignored", true));
    assert_eq!(server.poll_event(), None);
    assert!(server.poll_event_ref().is_none());
    assert_eq!(server.buffered_input(), 0, "input kept after the failure");
    assert_eq!(
        server.sender().send_text("late"),
        Err(CommandError::NotAllowed { command: Command::SendMessage, state: State::Failed })
    );
}

#[test]
fn fragmentation_rules_of_section_5_4() {
    assert_fails(
        Config::default(),
        &client_frame(Opcode::Continuation, b"x", true),
        ProtocolError::UnexpectedContinuation,
    );
    let mut input = client_frame(Opcode::Text, b"a", false);
    input.extend(client_frame(Opcode::Binary, b"b", true));
    assert_fails(Config::default(), &input, ProtocolError::ExpectedContinuation);
}

#[test]
fn control_frame_rules_of_section_5_5() {
    use wsmachine::frame::FrameError;
    assert_fails(
        Config::default(),
        &client_frame(Opcode::Ping, b"", false),
        FrameError::FragmentedControlFrame { opcode: Opcode::Ping }.into(),
    );
    assert_fails(
        Config::default(),
        &client_frame(Opcode::Ping, &[0; 126], true),
        FrameError::ControlFrameTooLong { opcode: Opcode::Ping, len: 126 }.into(),
    );
    assert_fails(
        Config::default(),
        &[0x83, 0x80, 0, 0, 0, 0],
        FrameError::ReservedOpcode(3).into(),
    );
    assert_fails(
        Config::default(),
        &[0xC1, 0x80, 0, 0, 0, 0],
        FrameError::ReservedBitsSet { rsv: wsmachine::frame::Rsv::RSV1 }.into(),
    );
    // A client must mask (§5.1).
    assert_fails(
        Config::default(),
        &server_frame(Opcode::Text, b"x", true),
        FrameError::UnmaskedFrame.into(),
    );
}

#[test]
fn invalid_utf8_fails_as_soon_as_it_is_certain_even_mid_message() {
    // The first fragment ends in a byte that can never start valid UTF-8 after "a": 0xC0.
    let mut server = open_server(Config::default());
    server.receive(&client_frame(Opcode::Text, b"a\xC0", false));
    let events = events(&mut server);
    assert!(matches!(&events[0], Err(ProtocolError::Utf8(_))), "{events:?}");
    assert!(output(&mut server).ends_with(&server_frame(Opcode::Close, &[0x03, 0xEF], true)));

    // A code point cut between fragments is fine.
    let mut server = open_server(Config::default());
    let euro = "€".as_bytes();
    server.receive(&client_frame(Opcode::Text, &euro[..1], false));
    server.receive(&client_frame(Opcode::Continuation, &euro[1..], true));
    assert_eq!(text(&events_one(&mut server)), "€");

    // A message that ends inside a code point fails with 1007.
    let mut input = client_frame(Opcode::Text, &euro[..2], true);
    input.truncate(input.len());
    let utf8_error = {
        let mut validator = wsmachine::frame::Utf8Validator::new();
        validator.feed(&euro[..2]).unwrap();
        validator.finish().unwrap_err()
    };
    assert_fails(Config::default(), &input, ProtocolError::Utf8(utf8_error));

    // A whole short message with a surrogate in the middle (the fast path's case), followed
    // by a valid message that must not be reported.
    let mut input = client_frame(Opcode::Text, b"ok \xED\xA0\x80 more", true);
    input.extend_from_slice(&client_frame(Opcode::Text, b"after", true));
    let utf8_error = wsmachine::frame::Utf8Validator::new().feed(b"ok \xED\xA0").unwrap_err();
    assert_eq!(utf8_error.valid_up_to(), 3);
    assert_fails(Config::default(), &input, ProtocolError::Utf8(utf8_error));
}

fn events_one(server: &mut Connection) -> Result<Event, ProtocolError> {
    let mut all = events(server);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

#[test]
fn limits_fail_before_the_payload_arrives() {
    let mut config = Config::default();
    config.max_message_len = 100;
    // The header alone of a 101-byte frame is enough.
    let frame = client_frame(Opcode::Binary, &[0; 101], true);
    assert_fails(config, &frame[..8], ProtocolError::MessageTooBig { max: 100 });
    // Fragments count toward the message.
    let mut input = client_frame(Opcode::Binary, &[0; 60], false);
    input.extend(&client_frame(Opcode::Continuation, &[0; 41], true)[..8]);
    assert_fails(config, &input, ProtocolError::MessageTooBig { max: 100 });

    let mut config = Config::default();
    config.max_frame_len = 10;
    assert_fails(
        config,
        &client_frame(Opcode::Binary, &[0; 11], true)[..2],
        wsmachine::frame::FrameError::FrameTooLarge { len: 11, max: 10 }.into(),
    );

    let mut config = Config::default();
    config.max_fragments = 3;
    let mut input = client_frame(Opcode::Binary, b"", false);
    for _ in 0..3 {
        input.extend(client_frame(Opcode::Continuation, b"", false));
    }
    assert_fails(config, &input, ProtocolError::TooManyFragments { max: 3 });
}

#[test]
fn the_peers_close_is_reported_echoed_once_and_ends_the_connection() {
    let mut server = open_server(Config::default());
    server.receive(&client_frame(Opcode::Close, &close_payload(1001, "bye"), true));
    server.receive(&client_frame(Opcode::Text, b"after close", true));
    let events = events(&mut server);
    assert_eq!(events.len(), 2, "{events:?}");
    let Ok(Event::Close(close)) = &events[0] else { panic!("{events:?}") };
    assert_eq!((close.code, close.reason.as_str()), (CloseCode::GOING_AWAY, "bye"));
    let closed = Closed { code: CloseCode::GOING_AWAY, clean: true, cause: CloseCause::PeerClosed };
    assert_eq!(events[1], Ok(Event::Closed(closed)));
    // The reply echoes the status code (§5.5.1), and the server closes the transport (§7.1.1).
    assert_eq!(output(&mut server), server_frame(Opcode::Close, &1001u16.to_be_bytes(), true));
    assert!(server.should_close_transport());
    assert_eq!(server.state(), State::Closed);
    assert_eq!(
        server.sender().send_text("late"),
        Err(CommandError::NotAllowed { command: Command::SendMessage, state: State::Closed })
    );
    assert_eq!(server.poll_event(), None);
}

#[test]
fn a_close_without_status_is_reported_as_1005_and_answered_empty() {
    let mut server = open_server(Config::default());
    server.receive(&client_frame(Opcode::Close, b"", true));
    let events = events(&mut server);
    let Ok(Event::Close(close)) = &events[0] else { panic!("{events:?}") };
    assert_eq!(close.code, CloseCode::NO_STATUS_RECEIVED);
    assert_eq!(output(&mut server), server_frame(Opcode::Close, b"", true));
}

#[test]
fn invalid_close_payloads_fail_with_their_codes() {
    use wsmachine::frame::CloseBodyError;
    assert_fails(
        Config::default(),
        &client_frame(Opcode::Close, &[0x03], true),
        CloseBodyError::Truncated.into(),
    );
    assert_fails(
        Config::default(),
        &client_frame(Opcode::Close, &close_payload(1005, ""), true),
        CloseBodyError::CodeNotAllowed(CloseCode::NO_STATUS_RECEIVED).into(),
    );
    assert_fails(
        Config::default(),
        &client_frame(Opcode::Close, &[0x03, 0xE8, 0xFF], true),
        CloseBodyError::ReasonNotUtf8 { valid_up_to: 0 }.into(),
    );
}

#[test]
fn closing_first_waits_for_the_reply_and_sends_no_second_close() {
    let mut server = open_server(Config::default());
    server.sender().close(CloseCode::NORMAL, "done").unwrap();
    assert_eq!(
        output(&mut server),
        server_frame(Opcode::Close, &close_payload(1000, "done"), true)
    );
    assert_eq!(server.state(), State::CloseSent);
    assert!(!server.should_close_transport());
    assert_eq!(
        server.sender().send_binary(b"x"),
        Err(CommandError::NotAllowed { command: Command::SendMessage, state: State::CloseSent })
    );

    // Messages still arrive until the peer's Close (§7.1.2).
    server.receive(&client_frame(Opcode::Text, b"last", true));
    server.receive(&client_frame(Opcode::Close, &close_payload(1000, ""), true));
    let events = events(&mut server);
    assert_eq!(text(&events[0]), "last");
    assert!(matches!(&events[1], Ok(Event::Close(close)) if close.code == CloseCode::NORMAL));
    let closed = Closed { code: CloseCode::NORMAL, clean: true, cause: CloseCause::LocalClose };
    assert_eq!(events[2], Ok(Event::Closed(closed)));
    assert!(output(&mut server).is_empty(), "no second Close");
    assert!(server.should_close_transport());
}

#[test]
fn eof_before_the_closing_handshake_is_abnormal_closure() {
    let mut server = open_server(Config::default());
    server.receive(&client_frame(Opcode::Text, b"hi", true));
    server.receive(&client_frame(Opcode::Text, b"cut", true)[..4]);
    server.receive_eof();
    let events = events(&mut server);
    assert_eq!(text(&events[0]), "hi");
    assert_eq!(
        events[1],
        Ok(Event::Closed(Closed {
            code: CloseCode::ABNORMAL_CLOSURE,
            clean: false,
            cause: CloseCause::TransportEnded
        }))
    );
    assert_eq!(events.len(), 2);
    assert!(server.should_close_transport());
}

#[test]
fn control_frames_jump_ahead_of_queued_data() {
    let mut server = open_server(Config::default());
    server.sender().send_binary(&[7; 1000]).unwrap();
    server.sender().send_ping(b"rtt").unwrap();
    let out = output(&mut server);
    let ping = server_frame(Opcode::Ping, b"rtt", true);
    assert!(out.starts_with(&ping));
    assert_eq!(&out[ping.len()..], &server_frame(Opcode::Binary, &[7; 1000], true)[..]);
}

#[test]
fn outgoing_messages_are_fragmented_at_the_configured_size() {
    let mut config = Config::default();
    config.fragment_size = Some(4);
    let mut server = open_server(config);
    server.sender().send_text("abcdefghij").unwrap();
    let expected = [
        server_frame(Opcode::Text, b"abcd", false),
        server_frame(Opcode::Continuation, b"efgh", false),
        server_frame(Opcode::Continuation, b"ij", true),
    ]
    .concat();
    assert_eq!(output(&mut server), expected);
}

#[test]
fn streamed_sends_allow_control_frames_between_pieces() {
    let mut server = open_server(Config::default());
    server.sender().begin_message(MessageKind::Binary, b"one", false).unwrap();
    assert_eq!(server.sender().send_text("no"), Err(CommandError::StreamInProgress));
    server.sender().send_ping(b"").unwrap();
    server.sender().send_piece(b"two", true).unwrap();
    assert_eq!(server.sender().send_piece(b"three", true), Err(CommandError::NoStream));
    let out = output(&mut server);
    let expected = [
        server_frame(Opcode::Ping, b"", true),
        server_frame(Opcode::Binary, b"one", false),
        server_frame(Opcode::Continuation, b"two", true),
    ]
    .concat();
    assert_eq!(out, expected);
}

#[test]
fn output_beyond_the_limit_is_refused_until_drained() {
    let mut config = Config::default();
    config.max_buffered_output = 100;
    let mut server = open_server(config);
    server.sender().send_binary(&[0; 60]).unwrap();
    server.sender().send_binary(&[0; 60]).unwrap();
    assert_eq!(server.sender().send_binary(&[0; 60]), Err(CommandError::OutputFull));
    assert_eq!(server.buffered_output(), 124);
    output(&mut server);
    server.sender().send_binary(&[0; 60]).unwrap();
}

#[test]
fn a_message_larger_than_the_output_limit_is_taken_whole_below_the_limit() {
    let mut config = Config::default();
    config.max_buffered_output = 100;
    let mut server = open_server(config);
    let large = vec![7; 1000];
    server.sender().send_binary(&large).unwrap();
    assert_eq!(server.sender().send_binary(b"more"), Err(CommandError::OutputFull));
    assert_eq!(output(&mut server), server_frame(Opcode::Binary, &large, true));
    server.sender().send_binary(b"more").unwrap();
}

#[test]
fn large_messages_stream_as_pieces_in_constant_memory() {
    let mut config = Config::default();
    config.stream_messages_above = Some(16);
    let mut server = open_server(config);
    let payload: Vec<u8> = (0..100u8).collect();
    let frame = client_frame(Opcode::Binary, &payload, true);
    let mut pieces = Vec::new();
    for chunk in frame.chunks(30) {
        server.receive(chunk);
        for event in events(&mut server) {
            let Ok(Event::Piece(piece)) = event else { panic!("{event:?}") };
            pieces.push(piece);
        }
        assert!(server.buffered_input() <= 30, "buffered {}", server.buffered_input());
    }
    assert!(pieces.len() > 1);
    assert!(pieces[0].first && pieces.iter().skip(1).all(|p| !p.first));
    assert!(pieces.last().unwrap().last);
    let data: Vec<u8> = pieces.iter().flat_map(|p: &Piece| p.data.to_vec()).collect();
    assert_eq!(data, payload);
}

#[test]
fn the_request_and_pipelined_frames_in_one_read_are_all_kept() {
    let mut server = Connection::server(Config::default(), Instant::now());
    let mut input = REQUEST.to_vec();
    input.extend(client_frame(Opcode::Text, b"early", true));
    server.receive(&input);
    let Some(Ok(Event::Request(request))) = server.poll_event() else { panic!() };
    assert_eq!(server.state(), State::AwaitingDecision);
    assert_eq!(server.poll_event(), None, "nothing before the decision");
    server.accept(request.accept()).unwrap();
    assert_eq!(text(&server.poll_event().unwrap()), "early");
}

#[test]
fn invalid_requests_get_their_rejection_and_the_transport_closes() {
    let mut server = Connection::server(Config::default(), Instant::now());
    let old_version = String::from_utf8_lossy(REQUEST).replace("Version: 13", "Version: 8");
    server.receive(old_version.as_bytes());
    let event = server.poll_event().unwrap();
    assert!(matches!(event, Err(ProtocolError::Request(ref e)) if e.status() == 426), "{event:?}");
    assert!(output(&mut server).starts_with(b"HTTP/1.1 426 Upgrade Required\r\n"));
    assert!(server.should_close_transport());

    let mut server = Connection::server(Config::default(), Instant::now());
    server.receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let Some(Ok(Event::HttpRequest(request))) = server.poll_event() else { panic!() };
    assert_eq!(request.path(), "/");
    server.reject(&Rejection::new(200).with_body("<h1>hi</h1>")).unwrap();
    assert!(output(&mut server).ends_with(b"Content-Length: 11\r\n\r\n<h1>hi</h1>"));
    assert!(server.should_close_transport());
    // Whatever the client keeps sending is dropped, not kept: nothing will read it.
    for _ in 0..64 {
        server.receive(&[b'x'; 16 * 1024]);
    }
    assert_eq!(server.buffered_input(), 0);
    let Some(Ok(Event::Closed(closed))) = server.poll_event() else { panic!() };
    assert_eq!((closed.cause, closed.clean), (CloseCause::HandshakeFailed, false));
    assert_eq!(server.poll_event(), None);
}

#[test]
fn a_client_masks_every_frame_with_a_fresh_key_and_rejects_masked_frames() {
    let mut counter = 0u8;
    let random = move |buf: &mut [u8]| {
        for byte in buf {
            counter = counter.wrapping_add(1);
            *byte = counter;
        }
    };
    let handshake = ClientHandshake::new("ws://a/chat").unwrap();
    let mut client =
        Connection::client_with(handshake, Config::default(), random, Instant::now()).unwrap();
    let request = output(&mut client);
    let key = "AQIDBAUGBwgJCgsMDQ4PEA==";
    assert!(String::from_utf8_lossy(&request).contains(key));
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key.as_bytes())
    );
    let mut input = response.into_bytes();
    input.extend(server_frame(Opcode::Text, b"hi", true));
    client.receive(&input);
    assert!(matches!(client.poll_event(), Some(Ok(Event::Accepted(_)))));
    assert_eq!(text(&client.poll_event().unwrap()), "hi");

    client.sender().send_text("ab").unwrap();
    client.sender().send_text("ab").unwrap();
    let out = output(&mut client);
    // Keys continue after the 16 handshake bytes and the 2 of the keepalive jitter: 19..=22,
    // then 23..=26.
    assert_eq!(
        out,
        [client_frame_with(b"ab", [19, 20, 21, 22]), client_frame_with(b"ab", [23, 24, 25, 26])]
            .concat()
    );

    client.receive(&client_frame(Opcode::Text, b"masked", true));
    let event = client.poll_event().unwrap();
    assert_eq!(event, Err(wsmachine::frame::FrameError::MaskedFrame.into()));
}

fn client_frame_with(payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    frame(Opcode::Text, payload, true, Some(key))
}

#[test]
fn a_client_waits_for_the_server_to_close_the_transport() {
    let handshake = ClientHandshake::new("ws://a/").unwrap();
    let mut client = Connection::client_with(
        handshake,
        Config::default(),
        |buf: &mut [u8]| buf.fill(0),
        Instant::now(),
    )
    .unwrap();
    output(&mut client);
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(b"AAAAAAAAAAAAAAAAAAAAAA==")
    );
    client.receive(response.as_bytes());
    assert!(matches!(client.poll_event(), Some(Ok(Event::Accepted(_)))));
    client.receive(&server_frame(Opcode::Close, &close_payload(1000, ""), true));
    let events = events(&mut client);
    assert!(matches!(&events[0], Ok(Event::Close(_))));
    // The client replied; the server closes TCP first (§7.1.1).
    assert!(!output(&mut client).is_empty());
    assert_eq!(client.state(), State::Closed);
    assert!(!client.should_close_transport());
    client.receive_eof();
    assert!(client.should_close_transport());
}

#[test]
fn a_rejected_client_handshake_reports_the_status() {
    let handshake = ClientHandshake::new("ws://a/").unwrap();
    let mut client = Connection::client_with(
        handshake,
        Config::default(),
        |buf: &mut [u8]| buf.fill(0),
        Instant::now(),
    )
    .unwrap();
    client.receive(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    let Some(Err(ProtocolError::Response(error))) = client.poll_event() else { panic!() };
    let wsmachine::handshake::ResponseError::Rejected(rejection) = *error else { panic!() };
    assert_eq!(rejection.status(), 403);
    assert!(client.should_close_transport());
}

#[test]
fn the_handshake_response_precedes_every_frame() {
    // Found by the server_connection fuzz target: a Pong owed to a Ping pipelined behind the
    // request jumped ahead of the 101, since control frames jump ahead of queued output.
    let mut server = Connection::server(Config::default(), Instant::now());
    let mut input = REQUEST.to_vec();
    input.extend(client_frame(Opcode::Ping, b"early", true));
    server.receive(&input);
    let Some(Ok(Event::Request(request))) = server.poll_event() else { panic!() };
    server.accept(request.accept()).unwrap();
    assert!(matches!(server.poll_event(), Some(Ok(Event::Ping(_)))));
    let out = output(&mut server);
    assert!(out.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"), "{out:02x?}");
    assert!(out.ends_with(&server_frame(Opcode::Pong, b"early", true)));
}

#[test]
fn a_close_never_overtakes_messages_sent_before_it() {
    // Found by the server_connection fuzz target: an echo queued before the Close reply was
    // written after it, since control frames jumped ahead of queued data.
    let mut server = open_server(Config::default());
    server.receive(&client_frame(Opcode::Text, b"echo me", true));
    let Some(Ok(Event::Text(message))) = server.poll_event() else { panic!() };
    server.sender().send_text(message.as_str()).unwrap();
    server.sender().send_ping(b"p").unwrap();
    server.receive(&client_frame(Opcode::Close, &close_payload(1000, ""), true));
    events(&mut server);
    let expected = [
        server_frame(Opcode::Ping, b"p", true),
        server_frame(Opcode::Text, b"echo me", true),
        server_frame(Opcode::Close, &close_payload(1000, ""), true),
    ]
    .concat();
    assert_eq!(output(&mut server), expected);
}

#[test]
fn split_halves_work_on_separate_threads_joined_by_replies() {
    let server = open_server(Config::default());
    let (mut receiver, mut sender) = server.split().unwrap();
    let (replies, from_receiver) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut input = client_frame(Opcode::Ping, b"are you there", true);
        input.extend(client_frame(Opcode::Text, b"hi", true));
        input.extend(client_frame(Opcode::Close, &close_payload(1000, ""), true));
        receiver.receive(&input);
        let mut seen = Vec::new();
        while let Some(event) = receiver.poll_event() {
            seen.push(event.unwrap());
            while let Some(reply) = receiver.poll_reply() {
                replies.send(reply).unwrap();
            }
        }
        seen
    });
    let seen = reader.join().unwrap();
    assert!(matches!(&seen[0], Event::Ping(_)));
    assert!(matches!(&seen[1], Event::Text(text) if text.as_str() == "hi"));
    assert!(matches!(&seen[2], Event::Close(close) if close.code == CloseCode::NORMAL));
    for reply in from_receiver.try_iter() {
        sender.send_reply(reply);
    }
    let mut out = Vec::new();
    sender.poll_transmit(&mut out);
    let expected = [
        server_frame(Opcode::Pong, b"are you there", true),
        server_frame(Opcode::Close, &1000u16.to_be_bytes(), true),
    ]
    .concat();
    assert_eq!(out, expected);
    assert_eq!(sender.state(), State::CloseSent);
}

#[test]
fn a_ping_flood_cannot_grow_the_output_past_its_limit() {
    let mut config = Config::default();
    config.max_buffered_output = 100;
    let mut server = open_server(config);
    for i in 0..1000u32 {
        server.receive(&client_frame(Opcode::Ping, &i.to_be_bytes(), true));
        assert!(matches!(server.poll_event(), Some(Ok(Event::Ping(_)))));
        assert!(server.buffered_output() <= 100 + 6, "{} bytes buffered", server.buffered_output());
    }
    // Once drained, the latest Ping is answered (§5.5.3).
    let out = output(&mut server);
    assert!(out.ends_with(&server_frame(Opcode::Pong, &999u32.to_be_bytes(), true)));
}

#[test]
fn invalid_utf8_fails_before_its_frame_is_complete() {
    // Autobahn 6.4.3/6.4.4: one text frame arriving in chunks, the middle chunk invalid.
    let mut server = open_server(Config::default());
    let frame = client_frame(Opcode::Text, b"valid \xF4\x90\x80\x80 and more text", true);
    server.receive(&frame[..8]);
    assert_eq!(server.poll_event(), None);
    server.receive(&frame[8..14]); // the header, "valid " and the invalid 0xF4 0x90
    let event = server.poll_event();
    assert!(matches!(event, Some(Err(ProtocolError::Utf8(_)))), "{event:?}");
    assert!(output(&mut server).ends_with(&server_frame(Opcode::Close, &[0x03, 0xEF], true)));
}

#[test]
fn an_owned_message_goes_out_as_its_borrowed_twin_does_whatever_its_length_and_form() {
    use wsmachine::{Message, Payload};
    // `Sender::send` frames a short whole message in one step; `send_text`/`send_binary`
    // take the general path. Inline and shared payloads, around the 7-bit length and the
    // inline capacity, with and without fragmentation.
    for fragment_size in [None, Some(1), Some(20), Some(125)] {
        let config = || {
            let mut config = Config::default();
            config.fragment_size = fragment_size;
            config
        };
        for len in 0..=140usize {
            let bytes: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let text = String::from_utf8(bytes.clone()).unwrap();
            let owned = [
                (Message::from(text.as_str()), true),
                (Message::Binary(Payload::copy_from_slice(&bytes)), false),
                (Message::Binary(Payload::from(bytes::Bytes::from(bytes.clone()))), false),
            ];
            for (message, is_text) in owned {
                let mut fast = open_server(config());
                fast.sender().send(message).unwrap();
                let mut plain = open_server(config());
                if is_text {
                    plain.sender().send_text(&text).unwrap();
                } else {
                    plain.sender().send_binary(&bytes).unwrap();
                }
                assert_eq!(output(&mut fast), output(&mut plain), "{len} {fragment_size:?}");
            }
        }
    }
}

#[test]
fn an_owned_message_is_refused_as_its_borrowed_twin_is() {
    use wsmachine::Message;
    let mut server = open_server(Config::default());
    server.sender().begin_message(MessageKind::Binary, b"part", false).unwrap();
    assert_eq!(
        server.sender().send(Message::from(&b"short"[..])),
        Err(CommandError::StreamInProgress)
    );
    let mut server = open_server(Config::default());
    server.sender().close(CloseCode::NORMAL, "").unwrap();
    let refused = server.sender().send(Message::from("short"));
    assert!(matches!(refused, Err(CommandError::NotAllowed { .. })), "{refused:?}");
}

#[test]
fn short_frames_read_between_other_frames_and_reads_leave_every_byte_where_it_belongs() {
    // The short-frame paths leave the frames they take in the buffer until the general path
    // or the next receive drops them: interleave them with a Ping, a frame too long for them,
    // a fragmented message and a frame split across receives, owned and borrowed.
    let long = vec![b'x'; 300];
    let mut wire = Vec::new();
    for payload in [&b"one"[..], b"two", b"three"] {
        wire.extend(client_frame(Opcode::Text, payload, true));
    }
    wire.extend(client_frame(Opcode::Ping, b"p", true));
    wire.extend(client_frame(Opcode::Binary, b"four", true));
    wire.extend(client_frame(Opcode::Binary, &long, true));
    wire.extend(client_frame(Opcode::Text, b"fi", false));
    wire.extend(client_frame(Opcode::Continuation, b"ve", true));
    wire.extend(client_frame(Opcode::Text, b"six", true));
    let split = client_frame(Opcode::Binary, b"seven", true);
    wire.extend(&split[..3]);
    let expected: Vec<Event> = vec![
        Event::Text("one".into()),
        Event::Text("two".into()),
        Event::Text("three".into()),
        Event::Ping(bytes::Bytes::from_static(b"p")),
        Event::Binary((&b"four"[..]).into()),
        Event::Binary(long.clone().into()),
        Event::Text("five".into()),
        Event::Text("six".into()),
        Event::Binary((&b"seven"[..]).into()),
    ];
    for borrowed in [false, true] {
        let mut server = open_server(Config::default());
        let mut seen = Vec::new();
        for chunk in [&wire[..], &split[3..]] {
            server.receive(chunk);
            loop {
                let next =
                    if borrowed { common::poll_borrowed(&mut server) } else { server.poll_event() };
                let Some(event) = next else { break };
                seen.push(event.unwrap());
            }
        }
        assert_eq!(seen, expected, "borrowed: {borrowed}");
        assert_eq!(server.buffered_input(), 0);
    }
}
