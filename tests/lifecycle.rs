//! The lifecycle: commands checked against the state, a failure seen on every read path at
//! once, and the deadlines the connection keeps on the caller's clock. The first five tests
//! are the cases that found the need for one lifecycle value (issue 14), kept as regressions.

#![cfg(feature = "std")]

mod common;

use std::time::Duration;

use common::{events, output, Polling};
use wsmachine::frame::{apply_mask, CloseCode, FrameHeader, Opcode};
use wsmachine::handshake::{accept_key, ClientHandshake, Negotiated, Rejection};
use wsmachine::{
    CloseCause, Command, CommandError, Config, Connection, Event, ProtocolError, Role, State,
};

/// The clock of these tests: a `Duration` since the test began.
type Clock = Duration;

const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

fn secs(seconds: u64) -> Clock {
    Duration::from_secs(seconds)
}

fn frame(opcode: Opcode, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut header = FrameHeader::new(opcode, payload.len() as u64);
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

/// A server created at 0 s that accepted the request; its 101 is drained.
fn open_server(config: Config) -> Connection<wsmachine::DefaultRandom, Clock> {
    let mut server = Connection::server(config, Clock::ZERO);
    server.receive(REQUEST);
    let Some(Ok(Event::Request(request))) = server.poll_event() else { panic!("no request") };
    server.accept(request.accept()).unwrap();
    assert!(output(&mut server).starts_with(b"HTTP/1.1 101 "));
    server
}

/// The default config with exact keepalive intervals (no jitter), so that a test can name
/// the second each Ping is due.
fn exact_keepalive() -> Config {
    let mut config = Config::default();
    config.keepalive_jitter = None;
    config
}

/// A client created at 0 s whose request is drained, with keys of zeros.
fn pending_client(config: Config) -> Connection<fn(&mut [u8]), Clock> {
    let handshake = ClientHandshake::new("ws://a/").unwrap();
    let zeros: fn(&mut [u8]) = |buf| buf.fill(0);
    let mut client = Connection::client_with(handshake, config, zeros, Clock::ZERO).unwrap();
    output(&mut client);
    client
}

fn response_101() -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(b"AAAAAAAAAAAAAAAAAAAAAA==")
    )
}

/// The close code of the last frame in `out`, which must be a Close a server wrote.
fn last_close_code(out: &[u8]) -> Option<u16> {
    let mut rest = out;
    let mut code = None;
    while !rest.is_empty() {
        let header_len = 2;
        let len = usize::from(rest[1] & 0x7f);
        assert!(len < 126, "short frames only here");
        if rest[0] & 0x0f == 0x8 {
            code = (len >= 2).then(|| u16::from_be_bytes([rest[2], rest[3]]));
        }
        rest = &rest[header_len + len..];
    }
    code
}

// ----- the regressions -----

/// Case 1: invalid UTF-8 in a short frame read through `poll_event_ref`, then `split`: the
/// receiving half must not deliver the frame after the failure.
#[test]
fn a_failure_found_while_lending_is_seen_by_the_split_halves() {
    let mut server = open_server(Config::default());
    let mut input = vec![0x81, 0x82, 0, 0, 0, 0, 0xff, 0xfe]; // text, invalid UTF-8
    input.extend([0x82, 0x82, 0, 0, 0, 0, 0x01, 0x02]); // binary [1, 2]
    server.receive(&input);
    let Some(Err(ProtocolError::Utf8(_))) = server.poll_event_ref().map(|r| r.map(|_| ())) else {
        panic!("the UTF-8 error first")
    };
    assert_eq!(server.state(), State::Failed, "failed the moment it was found");
    let close = output(&mut server);
    assert_eq!(close, [0x88, 0x02, 0x03, 0xef], "the Close with 1007 is queued at once");
    let (mut receiver, mut sender) = server.split().unwrap();
    let Some(Ok(Event::Closed(closed))) = receiver.poll_event() else {
        panic!("the end, and no frame after the failure")
    };
    assert_eq!(
        (closed.code, closed.cause),
        (CloseCode::INVALID_PAYLOAD, CloseCause::ProtocolError)
    );
    assert!(receiver.poll_event().is_none());
    assert!(matches!(sender.send_binary(b"x"), Err(CommandError::NotAllowed { .. })));
}

/// The same input on every read path: the error, then the end, nothing else.
#[test]
fn a_failure_ends_every_read_path_alike() {
    for polling in Polling::ALL {
        let mut server = open_server(Config::default());
        let mut input = vec![0x81, 0x82, 0, 0, 0, 0, 0xff, 0xfe];
        input.extend([0x82, 0x82, 0, 0, 0, 0, 0x01, 0x02]);
        let events = common::receive_and_poll(&mut server, &input, polling, |_, _| {});
        assert_eq!(events.len(), 2, "{polling:?}: {events:?}");
        assert!(matches!(events[0], Err(ProtocolError::Utf8(_))), "{polling:?}");
        assert!(matches!(&events[1], Ok(Event::Closed(c)) if c.code == CloseCode::INVALID_PAYLOAD));
    }
}

/// Case 2: a second `accept` is refused, and only one 101 is queued.
#[test]
fn accept_twice_is_refused_and_queues_one_response() {
    let mut server = Connection::server(Config::default(), Clock::ZERO);
    server.receive(REQUEST);
    let Some(Ok(Event::Request(request))) = server.poll_event() else { panic!() };
    server.accept(request.accept()).unwrap();
    assert_eq!(
        server.accept(request.accept()),
        Err(CommandError::NotAllowed { command: Command::Accept, state: State::Open })
    );
    assert_eq!(
        server.reject(&Rejection::new(403)),
        Err(CommandError::NotAllowed { command: Command::Reject, state: State::Open })
    );
    let out = String::from_utf8(output(&mut server)).unwrap();
    assert_eq!(out.matches("HTTP/1.1 101").count(), 1, "{out}");
    assert_eq!(
        CommandError::NotAllowed { command: Command::Accept, state: State::Open }.to_string(),
        "cannot accept the handshake while the connection is open"
    );
}

/// Case 3: `accept` on a client is refused and the client stays closed to messages until
/// the server's 101 arrives.
#[test]
fn accept_on_a_client_is_refused_and_it_stays_unopened() {
    let mut server = Connection::server(Config::default(), Clock::ZERO);
    server.receive(REQUEST);
    let Some(Ok(Event::Request(request))) = server.poll_event() else { panic!() };
    let mut client = pending_client(Config::default());
    assert_eq!(
        client.accept(request.accept()),
        Err(CommandError::NotAllowed { command: Command::Accept, state: State::AwaitingResponse })
    );
    assert!(!client.is_open());
    assert_eq!(client.state(), State::AwaitingResponse);
    assert!(output(&mut client).is_empty(), "nothing queued");
    client.receive(response_101().as_bytes());
    assert!(matches!(client.poll_event(), Some(Ok(Event::Accepted(_)))));
    assert!(client.is_open());
}

/// Case 4: `split` before the handshake completes is refused and hands the connection back
/// unharmed, which then completes the handshake and splits.
#[test]
fn split_before_the_handshake_is_refused_and_the_connection_comes_back() {
    let client = pending_client(Config::default());
    let refused = client.split().unwrap_err();
    assert_eq!(
        refused.error(),
        &CommandError::NotAllowed { command: Command::Split, state: State::AwaitingResponse }
    );
    let mut client = refused.into_connection();
    let mut input = response_101().into_bytes();
    input.extend(frame(Opcode::Text, b"hi", None));
    client.receive(&input);
    assert!(matches!(client.poll_event(), Some(Ok(Event::Accepted(_)))));
    let (mut receiver, _sender) = client.split().unwrap();
    assert!(matches!(receiver.poll_event(), Some(Ok(Event::Text(t))) if t.as_str() == "hi"));

    let server = Connection::server(Config::default(), Clock::ZERO);
    let refused = server.split().unwrap_err();
    assert_eq!(
        refused.error().to_string(),
        "cannot split the connection while the connection is awaiting the handshake request"
    );
}

/// Every command that sends is refused before the handshake, naming the state.
#[test]
fn sending_before_the_handshake_is_refused_for_every_command() {
    let mut server = Connection::server(Config::default(), Clock::ZERO);
    let state = State::AwaitingRequest;
    let sender = server.sender();
    let not_allowed = |command| Err(CommandError::NotAllowed { command, state });
    assert_eq!(sender.send_text("x"), not_allowed(Command::SendMessage));
    assert_eq!(sender.send_binary(b"x"), not_allowed(Command::SendMessage));
    assert_eq!(
        sender.begin_message(wsmachine::MessageKind::Binary, b"x", false),
        not_allowed(Command::SendMessage)
    );
    assert_eq!(sender.send_piece(b"x", true), not_allowed(Command::SendMessage));
    assert_eq!(sender.send_ping(b"x"), not_allowed(Command::SendPing));
    assert_eq!(sender.send_pong(b"x"), not_allowed(Command::SendPong));
    assert_eq!(sender.close(CloseCode::NORMAL, ""), not_allowed(Command::Close));
    assert_eq!(server.poll_transmit(&mut Vec::new()), 0);
}

// ----- deadlines -----

#[test]
fn the_handshake_deadline_is_absolute_so_a_slow_request_gains_nothing() {
    let mut server = Connection::server(Config::default(), Clock::ZERO);
    assert_eq!(server.poll_timeout(), Some(secs(10)));
    // One byte a second, each dated exactly: the deadline does not move.
    for (second, byte) in REQUEST.iter().take(9).enumerate() {
        server.receive(&[*byte]);
        server.handle_timeout(secs(second as u64 + 1));
        assert!(server.poll_event().is_none());
        assert_eq!(server.poll_timeout(), Some(secs(10)));
    }
    server.handle_timeout(secs(10));
    let Some(Ok(Event::Closed(closed))) = server.poll_event() else { panic!() };
    assert_eq!((closed.cause, closed.clean), (CloseCause::HandshakeTimeout, false));
    assert!(server.should_close_transport());
    assert!(output(&mut server).is_empty(), "no response to a request that never came");
    assert_eq!(server.poll_timeout(), None);
    assert!(server.poll_event().is_none(), "the end is reported once");
}

#[test]
fn the_handshake_deadline_covers_a_decision_not_made_and_a_client_waiting() {
    let mut server = Connection::server(Config::default(), Clock::ZERO);
    server.receive(REQUEST);
    let Some(Ok(Event::Request(request))) = server.poll_event() else { panic!() };
    server.handle_timeout(secs(10));
    let Some(Ok(Event::Closed(closed))) = server.poll_event() else { panic!() };
    assert_eq!(closed.cause, CloseCause::HandshakeTimeout);
    assert_eq!(
        server.accept(request.accept()),
        Err(CommandError::NotAllowed { command: Command::Accept, state: State::Failed }),
        "too late to decide"
    );

    let mut client = pending_client(Config::default());
    client.handle_timeout(secs(9));
    assert!(client.poll_event().is_none());
    client.handle_timeout(secs(10));
    let Some(Ok(Event::Closed(closed))) = client.poll_event() else { panic!() };
    assert_eq!(closed.cause, CloseCause::HandshakeTimeout);
    assert!(client.should_close_transport());
}

#[test]
fn a_silent_peer_gets_a_keepalive_ping_and_fails_with_1011_when_it_stays_silent() {
    let mut server = open_server(exact_keepalive()); // keepalive 20 s, Pong deadline 20 s
                                                     // Just opened: the open phase's deadlines are armed at the next `now`.
    assert_eq!(server.poll_timeout(), Some(Clock::ZERO), "due at once: arm from now");
    server.handle_timeout(secs(0));
    assert_eq!(server.poll_timeout(), Some(secs(20)));
    server.handle_timeout(secs(20));
    assert_eq!(output(&mut server), [0x89, 0x00], "a keepalive Ping");
    assert_eq!(server.poll_timeout(), Some(secs(40)), "its Pong deadline");
    server.handle_timeout(secs(40));
    let close = output(&mut server);
    assert_eq!(close[..4], [0x88, 19, 0x03, 0xf3], "a Close with 1011");
    assert_eq!(&close[4..], b"keepalive timeout");
    let Some(Ok(Event::Closed(closed))) = server.poll_event() else { panic!() };
    assert_eq!(
        (closed.code, closed.clean, closed.cause),
        (CloseCode::INTERNAL_ERROR, false, CloseCause::PongTimeout)
    );
    assert!(server.should_close_transport(), "the peer is gone: no reply is awaited");
}

#[test]
fn connections_opened_together_spread_their_keepalive_pings_over_the_jitter() {
    // Default: 20 s, shortened by a random part of 2 s drawn once per connection.
    let due: Vec<Clock> = (0..200)
        .map(|_| {
            let mut server = open_server(Config::default());
            server.handle_timeout(secs(0));
            server.poll_timeout().unwrap()
        })
        .collect();
    let (earliest, latest) = (due.iter().min().unwrap(), due.iter().max().unwrap());
    assert!(*earliest >= secs(18) && *latest <= secs(20), "{earliest:?}..{latest:?}");
    assert!(*latest - *earliest > Duration::from_millis(1500), "{earliest:?}..{latest:?}");
    let distinct: std::collections::BTreeSet<&Clock> = due.iter().collect();
    assert!(distinct.len() > 150, "{} distinct of 200", distinct.len());

    // The Pong deadline follows the connection's own Ping.
    let mut server = open_server(Config::default());
    server.handle_timeout(secs(0));
    let ping_at = server.poll_timeout().unwrap();
    server.handle_timeout(ping_at);
    assert_eq!(output(&mut server), [0x89, 0x00]);
    assert_eq!(server.poll_timeout(), Some(ping_at + Duration::from_secs(20)));

    // The jitter takes at most half of a short interval; with a source of zeros, nothing.
    let mut config = Config::default();
    config.keepalive_interval = Some(Duration::from_secs(1));
    for _ in 0..50 {
        let mut server = open_server(config);
        server.handle_timeout(secs(0));
        let at = server.poll_timeout().unwrap();
        assert!(at >= Clock::from_millis(500) && at <= secs(1), "{at:?}");
    }
    let zeros = |buf: &mut [u8]| buf.fill(0);
    let mut server = Connection::open_with(
        Role::Server,
        Negotiated::default(),
        Config::default(),
        zeros,
        Clock::ZERO,
    );
    server.handle_timeout(secs(0));
    assert_eq!(server.poll_timeout(), Some(secs(20)));
}

#[test]
fn only_a_pong_answers_the_keepalive_ping_and_the_next_is_due_an_interval_after_it() {
    let mut server = open_server(exact_keepalive());
    server.handle_timeout(secs(0));
    server.handle_timeout(secs(20));
    assert_eq!(output(&mut server), [0x89, 0x00]);
    // A message at 25 s is no answer: the peer may have sent it before the Ping reached it,
    // or be a peer that sends and never reads.
    server.receive(&frame(Opcode::Text, b"still here", Some([1, 2, 3, 4])));
    server.handle_timeout(secs(25));
    assert!(matches!(server.poll_event(), Some(Ok(Event::Text(_)))));
    assert_eq!(server.poll_timeout(), Some(secs(40)), "the Pong deadline stays");
    // The Pong at 30 s is; the next Ping is measured from it, and later input moves nothing.
    server.receive(&frame(Opcode::Pong, b"", Some([1, 2, 3, 4])));
    server.handle_timeout(secs(30));
    assert!(matches!(server.poll_event(), Some(Ok(Event::Pong(_)))));
    server.receive(&frame(Opcode::Text, b"more", Some([1, 2, 3, 4])));
    server.handle_timeout(secs(45));
    assert!(matches!(server.poll_event(), Some(Ok(Event::Text(_)))));
    assert_eq!(server.poll_timeout(), Some(secs(50)), "the next Ping, 20 s after the Pong");
    server.handle_timeout(secs(49));
    assert!(output(&mut server).is_empty());
    server.handle_timeout(secs(50));
    assert_eq!(output(&mut server), [0x89, 0x00]);
    assert!(server.is_open());
}

#[test]
fn a_peer_that_keeps_sending_but_never_answers_the_ping_fails_at_the_pong_deadline() {
    // A Ping flood from a peer that reads nothing (or a trickle) keeps input coming: the
    // keepalive Ping still goes out on time, and only a Pong would answer it.
    let mut server = open_server(exact_keepalive());
    server.handle_timeout(secs(0));
    for at in [5, 10, 15] {
        server.receive(&frame(Opcode::Ping, b"", Some([1, 2, 3, 4])));
        server.handle_timeout(secs(at));
        assert!(matches!(server.poll_event(), Some(Ok(Event::Ping(_)))));
        assert_eq!(output(&mut server), [0x8a, 0x00], "the Pong it is owed");
    }
    server.handle_timeout(secs(20));
    assert_eq!(output(&mut server), [0x89, 0x00], "the keepalive Ping, input or not");
    for at in [25, 30, 35] {
        server.receive(&frame(Opcode::Binary, b"data", Some([1, 2, 3, 4])));
        server.handle_timeout(secs(at));
        assert!(matches!(server.poll_event(), Some(Ok(Event::Binary(_)))));
    }
    server.handle_timeout(secs(40));
    let close = output(&mut server);
    assert_eq!(&close[..4], [0x88, 19, 0x03, 0xf3], "1011 at the Pong deadline");
    assert_eq!(server.closed().unwrap().cause, wsmachine::CloseCause::PongTimeout);
}

#[test]
fn input_is_dated_by_the_next_now_so_a_late_caller_sees_deadlines_late_never_early() {
    let mut config = Config::default();
    config.keepalive_interval = None;
    config.idle_timeout = Some(Duration::from_secs(20));
    let mut server = open_server(config);
    server.handle_timeout(secs(0));
    server.receive(&frame(Opcode::Text, b"", Some([0; 4]))); // at about 5 s
    server.handle_timeout(secs(20)); // the caller only comes back when the idle close is due
    assert!(output(&mut server).is_empty(), "input arrived: no Close");
    assert!(server.is_open());
    assert_eq!(server.poll_timeout(), Some(secs(40)), "measured from 20 s, not 5 s");
}

#[test]
fn an_idle_connection_is_closed_with_1001_and_the_close_deadline_follows() {
    let mut config = Config::default();
    config.keepalive_interval = None;
    config.idle_timeout = Some(secs(60));
    config.close_timeout = Some(secs(5));
    let mut server = open_server(config);
    server.handle_timeout(secs(0));
    assert_eq!(server.poll_timeout(), Some(secs(60)));
    server.handle_timeout(secs(60));
    let out = output(&mut server);
    assert_eq!(&out[..4], [0x88, 14, 0x03, 0xe9], "a Close with 1001");
    assert_eq!(&out[4..], b"idle timeout");
    assert_eq!(server.state(), State::CloseSent);
    assert_eq!(server.poll_timeout(), Some(secs(65)), "the peer has 5 s to answer");
    server.handle_timeout(secs(65));
    let Some(Ok(Event::Closed(closed))) = server.poll_event() else { panic!() };
    assert_eq!(
        (closed.code, closed.clean, closed.cause),
        (CloseCode::ABNORMAL_CLOSURE, false, CloseCause::CloseTimeout)
    );
    assert!(server.should_close_transport());
}

#[test]
fn an_idle_close_answered_in_time_ends_cleanly_and_says_why() {
    let mut config = Config::default();
    config.idle_timeout = Some(secs(30));
    let mut server = open_server(config);
    server.handle_timeout(secs(0));
    server.handle_timeout(secs(20)); // keepalive first: a Ping
    output(&mut server);
    server.handle_timeout(secs(30)); // idle before the Pong deadline
    assert_eq!(last_close_code(&output(&mut server)), Some(1001));
    server.receive(&frame(Opcode::Close, &1001u16.to_be_bytes(), Some([9; 4])));
    let events = events(&mut server);
    assert!(matches!(&events[1], Ok(Event::Closed(c))
        if c.clean && c.cause == CloseCause::IdleTimeout && c.code == CloseCode::GOING_AWAY));
}

#[test]
fn the_close_deadline_starts_when_the_close_is_sent() {
    let mut server = open_server(Config::default()); // close deadline 10 s
    server.handle_timeout(secs(0));
    server.handle_timeout(secs(100)); // keepalive Ping at 100 s
    server.receive(&frame(Opcode::Pong, b"", Some([0; 4])));
    server.handle_timeout(secs(101));
    events(&mut server);
    server.sender().close(CloseCode::NORMAL, "bye").unwrap();
    // Due at once, to be armed from the caller's now rather than from the last input.
    assert!(server.poll_timeout().unwrap() <= secs(101));
    server.handle_timeout(secs(150));
    assert_eq!(server.poll_timeout(), Some(secs(160)));
    server.handle_timeout(secs(159));
    assert_eq!(server.state(), State::CloseSent);
    server.handle_timeout(secs(160));
    assert!(
        matches!(server.poll_event(), Some(Ok(Event::Closed(c))) if c.cause == CloseCause::CloseTimeout)
    );
}

#[test]
fn a_client_closes_the_transport_itself_when_the_server_does_not() {
    let mut client = pending_client(Config::default()); // transport close deadline 2 s
    let mut input = response_101().into_bytes();
    input.extend(frame(Opcode::Close, &1000u16.to_be_bytes(), None));
    client.receive(&input);
    client.handle_timeout(secs(1));
    let events = events(&mut client);
    assert!(matches!(&events[2], Ok(Event::Closed(c)) if c.clean));
    assert!(!client.should_close_transport(), "the server closes first (§7.1.1)");
    client.handle_timeout(secs(1)); // arms the wait for the server's close
    assert_eq!(client.poll_timeout(), Some(secs(3)));
    client.handle_timeout(secs(3));
    assert!(client.should_close_transport());
    assert!(client.poll_event().is_none(), "no event: the end was reported");
    assert_eq!(client.poll_timeout(), None);
}

#[test]
fn every_deadline_can_be_switched_off() {
    let mut config = Config::default();
    config.handshake_timeout = None;
    config.keepalive_interval = None;
    config.close_timeout = None;
    config.transport_close_timeout = None;
    let mut server = Connection::server(config, Clock::ZERO);
    assert_eq!(server.poll_timeout(), None);
    server.receive(REQUEST);
    let Some(Ok(Event::Request(request))) = server.poll_event() else { panic!() };
    server.accept(request.accept()).unwrap();
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(secs(1_000_000));
    assert!(server.is_open());
    server.sender().close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(secs(2_000_000));
    assert_eq!(server.state(), State::CloseSent);
}

#[test]
fn the_receiving_half_keeps_the_deadlines_and_owes_the_keepalive_ping() {
    let open =
        Connection::open(Role::Server, Negotiated::default(), exact_keepalive(), Clock::ZERO);
    let (mut receiver, mut sender) = open.split().unwrap();
    receiver.handle_timeout(secs(0));
    assert_eq!(receiver.poll_timeout(), Some(secs(20)));
    receiver.handle_timeout(secs(20));
    sender.send_reply(receiver.poll_reply().expect("a keepalive Ping"));
    let mut out = Vec::new();
    sender.poll_transmit(&mut out);
    assert_eq!(out, [0x89, 0x00]);
    receiver.handle_timeout(secs(40));
    sender.send_reply(receiver.poll_reply().expect("the Close with 1011"));
    out.clear();
    sender.poll_transmit(&mut out);
    assert_eq!(last_close_code(&out), Some(1011));
    assert!(
        matches!(receiver.poll_event(), Some(Ok(Event::Closed(c))) if c.cause == CloseCause::PongTimeout)
    );
    assert!(sender.send_text("late").is_err());
}

// ----- the client example -----

/// Case 5: `examples/client.rs`, given a Close 4001 or a masked frame by the server, exits
/// naming the cause, and the server still receives the Close it is owed. The example runs on
/// the blocking adapter (feature `blocking`).
#[cfg(feature = "blocking")]
#[path = "../examples/client.rs"]
#[allow(dead_code)]
mod client_example;

#[cfg(feature = "blocking")]
#[test]
fn the_client_example_writes_the_close_it_owes_before_it_exits() {
    use std::io::{Read, Write};
    // What the server sends after its 101, and the close code it must get back.
    let cases: [(Vec<u8>, u16); 2] = [
        (frame(Opcode::Close, &[&4001u16.to_be_bytes()[..], b"go away"].concat(), None), 4001),
        (frame(Opcode::Text, b"masked", Some([1, 2, 3, 4])), 1002),
    ];
    for (server_sends, expected) in cases {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let read = stream.read(&mut buf).unwrap();
                request.extend_from_slice(&buf[..read]);
            }
            let parsed =
                wsmachine::handshake::Request::parse(&request, &Default::default()).unwrap();
            let wsmachine::frame::Status::Complete((request, _)) = parsed else { panic!() };
            let key = request.header("sec-websocket-key").unwrap().to_owned();
            let mut response = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                accept_key(&key)
            )
            .into_bytes();
            response.extend(server_sends);
            stream.write_all(&response).unwrap();
            let mut received = Vec::new();
            loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(read) => received.extend_from_slice(&buf[..read]),
                }
            }
            received
        });
        let options = client_example::Options::for_test(&url);
        let outcome = client_example::run(options);
        let received = server.join().unwrap();
        let error = outcome.unwrap_err();
        assert!(
            error.contains(&expected.to_string()) || error.contains("protocol error"),
            "{error}"
        );
        // The client's frames are masked: find its Close and unmask it.
        let close = masked_close_code(&received);
        assert_eq!(close, Some(expected), "the server got the Close it is owed: {received:02x?}");
    }
}

/// The code of the first Close in `bytes`, masked frames from a client.
#[cfg(feature = "blocking")]
fn masked_close_code(bytes: &[u8]) -> Option<u16> {
    let mut rest = bytes;
    while rest.len() >= 6 {
        let len = usize::from(rest[1] & 0x7f);
        let key = [rest[2], rest[3], rest[4], rest[5]];
        let mut payload = rest.get(6..6 + len)?.to_vec();
        apply_mask(&mut payload, key);
        if rest[0] & 0x0f == 0x8 {
            return (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
        }
        rest = &rest[6 + len..];
    }
    None
}
