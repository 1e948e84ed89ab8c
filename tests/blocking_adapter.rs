//! The blocking adapter over real loopback sockets: a conversation, a rejection, plain HTTP,
//! the deadlines through the socket's read timeout (short ones, so the test is quick), and
//! the Close a protocol error owes.

#![cfg(feature = "blocking")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use wsmachine::blocking::{
    accept, accept_with, connect, Accepted, Answer, Error, ErrorKind, IncomingRef,
};
use wsmachine::frame::CloseCode;
use wsmachine::handshake::Rejection;
use wsmachine::{CloseCause, Config, Message};

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// A listener and the URL to reach it.
fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    (listener, url)
}

/// A raw client that sent the RFC request and read the 101.
fn raw_client(url: &str) -> TcpStream {
    let mut stream =
        TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches('/')).unwrap();
    stream.write_all(REQUEST).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    stream
}

#[test]
fn an_echo_conversation_ends_with_a_clean_close() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let mut ws = accept(listener.accept().unwrap().0).unwrap();
        while let Some(message) = ws.read() {
            ws.send(message.unwrap()).unwrap();
        }
        ws.connection().closed().unwrap()
    });
    let mut ws = connect(&url).unwrap();
    ws.send("hello".into()).unwrap();
    ws.send(Message::from(vec![0u8, 255])).unwrap();
    assert_eq!(ws.read().unwrap().unwrap(), Message::from("hello"));
    assert_eq!(ws.read().unwrap().unwrap(), Message::from(vec![0u8, 255]));
    ws.close(CloseCode::NORMAL, "bye").unwrap();
    let closed = server.join().unwrap();
    assert!(closed.clean && closed.cause == CloseCause::PeerClosed, "{closed:?}");
    assert_eq!(ws.connection().closed().unwrap().cause, CloseCause::LocalClose);
}

#[test]
fn a_rejection_and_a_plain_http_request_are_answered_and_reported() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let decide = |incoming: IncomingRef<'_>| match incoming {
            IncomingRef::WebSocket(_) => Answer::Reject(Rejection::new(403)),
            _ => Answer::Reject(Rejection::new(200).with_body("a page\n")),
        };
        let first = accept_with(listener.accept().unwrap().0, Config::default(), decide).unwrap();
        let second = accept_with(listener.accept().unwrap().0, Config::default(), decide).unwrap();
        (matches!(first, Accepted::Rejected(_)), matches!(second, Accepted::Http(_)))
    });
    let error = connect(&url).map(|_| ()).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::Rejected(rejection) if rejection.status() == 403),
        "{error}"
    );
    let mut page =
        TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches('/')).unwrap();
    page.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let mut response = String::new();
    page.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 ") && response.ends_with("a page\n"), "{response}");
    assert_eq!(server.join().unwrap(), (true, true));
}

/// Accepts one connection whose keepalive Ping goes out after 200 ms of silence and whose
/// Pong deadline is 200 ms.
fn accept_with_quick_keepalive(
    listener: &TcpListener,
) -> wsmachine::blocking::WebSocket<TcpStream> {
    let stream = listener.accept().unwrap().0;
    let mut config = Config::default();
    config.keepalive_interval = Some(Duration::from_millis(200));
    config.keepalive_jitter = None;
    config.pong_timeout = Some(Duration::from_millis(200));
    match accept_with(stream, config, |_| Answer::accept()).unwrap() {
        Accepted::WebSocket(ws) => ws,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_silent_peer_is_pinged_then_failed_through_the_read_timeout() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let mut ws = accept_with_quick_keepalive(&listener);
        let started = Instant::now();
        let end = ws.read().map(|r| r.map_err(|e| e.to_string()));
        (end, started.elapsed(), ws.read().is_none())
    });
    let mut peer = raw_client(&url);
    let mut seen = Vec::new();
    peer.read_to_end(&mut seen).unwrap();
    let (end, elapsed, over) = server.join().unwrap();
    assert_eq!(&seen[..2], [0x89, 0x00], "the keepalive Ping");
    assert_eq!(&seen[2..6], [0x88, 19, 0x03, 0xf3], "the Close with 1011");
    assert!(matches!(end, Some(Err(ref e)) if e.contains("PongTimeout")), "{end:?}");
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    assert!(over);
}

#[test]
fn a_request_sent_a_byte_at_a_time_gains_nothing_against_the_handshake_deadline() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let stream = listener.accept().unwrap().0;
        let mut config = Config::default();
        config.handshake_timeout = Some(Duration::from_millis(300));
        let started = Instant::now();
        let error = accept_with(stream, config, |_| Answer::accept()).map(|_| ()).unwrap_err();
        (error.to_string(), started.elapsed())
    });
    let mut slow =
        TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches('/')).unwrap();
    for byte in REQUEST.iter().take(20) {
        if slow.write_all(&[*byte]).is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let (error, elapsed) = server.join().unwrap();
    assert!(error.contains("HandshakeTimeout"), "{error}");
    assert!(elapsed < Duration::from_millis(800), "absolute, not per byte: {elapsed:?}");
}

#[test]
fn a_protocol_error_sends_its_close_before_the_error_is_returned() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let mut ws = accept(listener.accept().unwrap().0).unwrap();
        let error = ws.read().unwrap().unwrap_err();
        // Stops at the error: the Close it calls for must be on the wire already.
        drop(ws);
        (error.to_string(), true)
    });
    let mut peer = raw_client(&url);
    peer.write_all(&[0x81, 0x00]).unwrap(); // unmasked (§5.1)
    let mut reply = Vec::new();
    peer.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, [0x88, 0x02, 0x03, 0xea]);
    let (error, over) = server.join().unwrap();
    assert!(error.ends_with("(closed with 1002 (protocol error))"), "{error}");
    assert!(over);
}

#[test]
fn a_peer_that_never_reads_is_dropped_through_the_write_timeout() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let mut ws = accept_with_quick_keepalive(&listener);
        // The obvious echo loop; the peer sends and never reads.
        let started = Instant::now();
        let mut echoed = 0usize;
        let end = loop {
            match ws.read() {
                Some(Ok(message)) => match ws.send(message) {
                    Ok(()) => echoed += 1,
                    Err(error) => break Some(error),
                },
                Some(Err(error)) => break Some(error),
                None => break None,
            }
        };
        (end, echoed, started.elapsed())
    });
    let mut peer = raw_client(&url);
    // 64 KiB masked frames (mask 0: the payload is sent as is), until the server stops
    // taking them.
    let mut frame = vec![0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    frame.extend(std::iter::repeat_n(7u8, 64 * 1024));
    peer.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut sent = 0usize;
    while peer.write_all(&frame).is_ok() {
        sent += 1;
        assert!(sent < 100_000, "the server never stopped reading");
    }
    let (end, echoed, elapsed) = server.join().unwrap();
    match end.map(Error::into_kind) {
        Some(ErrorKind::Ended(closed)) => assert_eq!(closed.cause, CloseCause::PongTimeout),
        other => panic!("{other:?}"),
    }
    assert!(echoed < sent, "{echoed} of {sent}");
    // Keepalive 200 ms + Pong 200 ms after the last input, not the peer's whim.
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

/// A stream that takes one byte a millisecond and never has anything to read: a peer that
/// reads a trickle and never answers the keepalive Ping.
struct Trickle;

impl Read for Trickle {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        thread::sleep(Duration::from_millis(1));
        Err(std::io::ErrorKind::WouldBlock.into())
    }
}

impl Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        thread::sleep(Duration::from_millis(1));
        Ok(buf.len().min(1))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_write_the_peer_takes_a_trickle_of_still_ends_at_the_pong_deadline() {
    let mut config = Config::default();
    config.keepalive_interval = Some(Duration::from_millis(50));
    config.pong_timeout = Some(Duration::from_millis(50));
    let connection = wsmachine::Connection::open(
        wsmachine::Role::Server,
        wsmachine::handshake::Negotiated::default(),
        config,
        Instant::now(),
    );
    // No socket timeouts: the deadlines are kept between the short writes.
    let mut ws = wsmachine::blocking::WebSocket::new(Trickle, connection);
    let started = Instant::now();
    // 20,000 bytes at a byte a millisecond would take 20 s.
    let sent = ws.send(Message::Binary(vec![7; 20_000].into()));
    let elapsed = started.elapsed();
    match sent.map_err(Error::into_kind) {
        Err(ErrorKind::Ended(closed)) => assert_eq!(closed.cause, CloseCause::PongTimeout),
        other => panic!("{other:?}"),
    }
    // Keepalive 50 ms + Pong 50 ms + the last 100 ms the output gets after a deadline.
    assert!(
        elapsed >= Duration::from_millis(100) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    assert!(ws.read().is_none(), "the end was reported once");
}

/// A stream holding `input` that hands out at most `per_read` bytes a read and records the
/// size of every buffer it is asked to fill (timing out once if told to); it takes all output.
struct Recording {
    input: std::io::Cursor<Vec<u8>>,
    per_read: usize,
    asked: Vec<usize>,
    /// The read (counted from 0) that times out instead, as a socket read does when nothing
    /// arrives before the next deadline.
    times_out_at: Option<usize>,
}

impl Read for Recording {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.asked.push(buf.len());
        if self.times_out_at == Some(self.asked.len() - 1) {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        let len = buf.len().min(self.per_read);
        self.input.read(&mut buf[..len])
    }
}

impl Write for Recording {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `count` masked binary frames of `len` bytes each, as a client sends them.
fn client_frames(count: usize, len: usize) -> Vec<u8> {
    let key = [1, 2, 3, 4];
    let mut out = Vec::new();
    for n in 0..count {
        if len < 126 {
            out.extend_from_slice(&[0x82, 0x80 | len as u8]);
        } else {
            out.extend_from_slice(&[0x82, 0xfe]);
            out.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
        }
        out.extend_from_slice(&key);
        out.extend((0..len).map(|i| (n as u8) ^ key[i % 4]));
    }
    out
}

/// Reads every message on `stream` (opened server side) and returns them with the sizes read.
fn read_all(stream: Recording) -> (Vec<Message>, Vec<usize>) {
    let connection = wsmachine::Connection::open(
        wsmachine::Role::Server,
        wsmachine::handshake::Negotiated::default(),
        Config::default(),
        Instant::now(),
    );
    let mut ws = wsmachine::blocking::WebSocket::new(stream, connection);
    let mut messages = Vec::new();
    while let Some(Ok(message)) = ws.read() {
        messages.push(message);
    }
    let asked = ws.get_ref().asked.clone();
    (messages, asked)
}

#[test]
fn reads_start_small_double_while_each_fills_the_buffer_and_shrink_when_quiet() {
    // 40 messages of 10,000 bytes, all waiting: the reads grow to 64 KiB and stay there.
    let (messages, asked) = read_all(Recording {
        input: std::io::Cursor::new(client_frames(40, 10_000)),
        per_read: usize::MAX,
        asked: Vec::new(),
        times_out_at: None,
    });
    assert_eq!(messages.len(), 40);
    assert!(messages.iter().enumerate().all(|(n, m)| matches!(m,
        Message::Binary(b) if b.len() == 10_000 && b.iter().all(|&x| x == n as u8))));
    assert_eq!(asked[..6], [4096, 8192, 16_384, 32_768, 65_536, 65_536], "{asked:?}");
    assert!(asked.iter().all(|&len| len <= 65_536));

    // A peer whose bytes come 1,000 at a time: the buffer stays at 4 KiB.
    let (messages, asked) = read_all(Recording {
        input: std::io::Cursor::new(client_frames(40, 100)),
        per_read: 1_000,
        asked: Vec::new(),
        times_out_at: None,
    });
    assert_eq!(messages.len(), 40);
    assert!(asked.iter().all(|&len| len == 4096), "{asked:?}");

    // A read that times out (nothing came before a deadline) gives the grown buffer back:
    // the next read starts at 4 KiB again.
    let (messages, asked) = read_all(Recording {
        input: std::io::Cursor::new(client_frames(40, 10_000)),
        per_read: usize::MAX,
        asked: Vec::new(),
        times_out_at: Some(4),
    });
    assert_eq!(messages.len(), 40);
    assert_eq!(asked[..7], [4096, 8192, 16_384, 32_768, 65_536, 4096, 8192], "{asked:?}");
}
