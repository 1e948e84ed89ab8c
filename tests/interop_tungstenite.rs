//! Interoperability with tungstenite over real loopback TCP: our server with a tungstenite
//! client, and our client with a tungstenite server, exchanging text, binary (up to 100 KB),
//! pings both ways and a clean close. Every socket has read and write timeouts, so a stuck
//! exchange fails instead of hanging.

#![cfg(feature = "std")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;
use std::time::Instant;

use tungstenite::protocol::frame::coding::CloseCode as TungsteniteCloseCode;
use tungstenite::protocol::CloseFrame as TungsteniteCloseFrame;
use tungstenite::Message;
use wsmachine::frame::CloseCode;
use wsmachine::handshake::ClientHandshake;
use wsmachine::{CloseCause, CloseFrame, Closed, Config, Connection, Event, State};

/// How long any read or write may block.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Text with characters of every UTF-8 length.
const TEXT: &str = "héllo wörld — ✓ 🦀";

/// A 100 KB message with a pattern that shows misplaced bytes.
fn big_message() -> Vec<u8> {
    (0..100_000u32).map(|i| (i % 251) as u8).collect()
}

fn with_timeouts(stream: TcpStream) -> TcpStream {
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("read timeout");
    stream.set_write_timeout(Some(IO_TIMEOUT)).expect("write timeout");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local address");
    (listener, addr)
}

/// A blocking loop around a [`Connection`]: write what it has to send, read when it needs more.
struct Driver {
    stream: TcpStream,
    conn: Connection,
    out: Vec<u8>,
    eof: bool,
}

impl Driver {
    fn new(stream: TcpStream, conn: Connection) -> Driver {
        Driver { stream: with_timeouts(stream), conn, out: Vec::new(), eof: false }
    }

    /// Writes all pending output.
    fn flush(&mut self) {
        self.out.clear();
        self.conn.poll_transmit(&mut self.out);
        self.stream.write_all(&self.out).expect("write");
    }

    /// Reads once; returns whether the transport ended.
    fn read_some(&mut self) -> bool {
        let mut buf = [0u8; 16 * 1024];
        let n = self.stream.read(&mut buf).expect("read (timed out?)");
        if n == 0 {
            self.eof = true;
            self.conn.receive_eof();
        } else {
            self.conn.receive(&buf[..n]);
        }
        self.eof
    }

    /// The next event, writing pending output (replies included) before every read.
    fn next_event(&mut self) -> Event {
        loop {
            if let Some(event) = self.conn.poll_event() {
                self.flush();
                return event.expect("no protocol error from tungstenite");
            }
            self.flush();
            assert!(!self.eof, "the transport ended without a further event");
            self.read_some();
        }
    }
}

/// Our server echoes text and binary messages, answers "ping me" with a Ping before the echo,
/// and returns every event it saw up to the end.
fn run_our_server(listener: &TcpListener) -> Vec<Event> {
    let (stream, _) = listener.accept().expect("accept");
    let mut driver = Driver::new(stream, Connection::server(Config::default(), Instant::now()));
    let Event::Request(request) = driver.next_event() else {
        panic!("expected the opening handshake");
    };
    driver.conn.accept(request.accept()).expect("accept");
    let mut events = Vec::new();
    loop {
        let event = driver.next_event();
        match &event {
            Event::Text(text) => {
                if text.as_str() == "ping me" {
                    driver.conn.sender().send_ping(b"server ping").expect("ping");
                }
                driver.conn.sender().send_text(text.as_str()).expect("echo text");
            }
            Event::Binary(data) => driver.conn.sender().send_binary(data).expect("echo binary"),
            _ => {}
        }
        let closed = matches!(event, Event::Closed(_));
        events.push(event);
        if closed {
            break;
        }
    }
    driver.flush();
    assert!(driver.conn.should_close_transport(), "the server closes TCP after the handshake");
    events
    // Dropping the driver closes the TCP connection, as the server should (§7.1.1).
}

#[test]
fn our_server_with_tungstenite_client() {
    let (listener, addr) = listen();
    let server = thread::spawn(move || run_our_server(&listener));

    let stream = with_timeouts(TcpStream::connect(addr).expect("connect"));
    let (mut ws, response) =
        tungstenite::client(format!("ws://{addr}/chat"), stream).expect("tungstenite handshake");
    assert_eq!(response.status(), 101);
    let big = big_message();

    ws.send(Message::text(TEXT)).expect("send text");
    assert_eq!(ws.read().expect("read"), Message::text(TEXT));
    ws.send(Message::binary(big.clone())).expect("send 100 KB");
    assert_eq!(ws.read().expect("read"), Message::binary(big.clone()));
    ws.send(Message::binary(Vec::new())).expect("send empty binary");
    assert_eq!(ws.read().expect("read"), Message::binary(Vec::new()));
    ws.send(Message::Ping(b"are you there".to_vec().into())).expect("send ping");
    assert_eq!(ws.read().expect("read"), Message::Pong(b"are you there".to_vec().into()));
    ws.send(Message::text("ping me")).expect("send");
    assert_eq!(ws.read().expect("read"), Message::Ping(b"server ping".to_vec().into()));
    // Reading flushes tungstenite's automatic Pong.
    assert_eq!(ws.read().expect("read"), Message::text("ping me"));

    let bye = TungsteniteCloseFrame { code: TungsteniteCloseCode::Normal, reason: "bye".into() };
    ws.close(Some(bye)).expect("close");
    let Message::Close(Some(reply)) = ws.read().expect("the Close reply") else {
        panic!("expected the server's Close reply");
    };
    assert_eq!(reply.code, TungsteniteCloseCode::Normal);
    // The server then closes TCP.
    assert!(matches!(ws.read(), Err(tungstenite::Error::ConnectionClosed)));

    let events = server.join().expect("server thread");
    let normal = CloseCode::NORMAL;
    let expected = [
        Event::Text(TEXT.into()),
        Event::Binary(big.into()),
        Event::Binary(Vec::new().into()),
        Event::Ping(b"are you there".to_vec().into()),
        Event::Text("ping me".into()),
        Event::Pong(b"server ping".to_vec().into()),
        Event::Close(CloseFrame { code: normal, reason: "bye".into() }),
        Event::Closed(Closed { code: normal, clean: true, cause: CloseCause::PeerClosed }),
    ];
    assert_eq!(events, expected);
}

/// A tungstenite server that echoes text and binary messages, answers "ping me" with a Ping
/// before the echo, and returns every message it read until the connection closed.
fn run_tungstenite_server(listener: &TcpListener) -> Vec<Message> {
    let (stream, _) = listener.accept().expect("accept");
    let mut ws = tungstenite::accept(with_timeouts(stream)).expect("tungstenite handshake");
    let mut received = Vec::new();
    loop {
        match ws.read() {
            Ok(message) => {
                match &message {
                    Message::Text(text) if text.as_str() == "ping me" => {
                        ws.send(Message::Ping(b"server ping".to_vec().into())).expect("ping");
                        ws.send(message.clone()).expect("echo");
                    }
                    Message::Text(_) | Message::Binary(_) => {
                        ws.send(message.clone()).expect("echo");
                    }
                    _ => {}
                }
                received.push(message);
            }
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(error) => panic!("tungstenite server: {error}"),
        }
    }
    received
    // Dropping the socket closes TCP.
}

#[test]
fn our_client_with_tungstenite_server() {
    let (listener, addr) = listen();
    let server = thread::spawn(move || run_tungstenite_server(&listener));

    let stream = TcpStream::connect(addr).expect("connect");
    let handshake = ClientHandshake::new(&format!("ws://{addr}/chat")).expect("valid URI");
    let conn = Connection::client(handshake, Config::default(), Instant::now()).expect("request");
    let mut driver = Driver::new(stream, conn);
    assert!(matches!(driver.next_event(), Event::Accepted(_)));
    let big = big_message();

    driver.conn.sender().send_text(TEXT).expect("send text");
    assert_eq!(driver.next_event(), Event::Text(TEXT.into()));
    driver.conn.sender().send_binary(&big).expect("send 100 KB");
    let Event::Binary(echo) = driver.next_event() else { panic!("expected the binary echo") };
    assert!(echo == big, "the 100 KB echo differs");
    driver.conn.sender().send_binary(&[]).expect("send empty binary");
    assert_eq!(driver.next_event(), Event::Binary(Vec::new().into()));
    driver.conn.sender().send_ping(b"are you there").expect("send ping");
    assert_eq!(driver.next_event(), Event::Pong(b"are you there".to_vec().into()));
    driver.conn.sender().send_text("ping me").expect("send");
    assert_eq!(driver.next_event(), Event::Ping(b"server ping".to_vec().into()));
    assert_eq!(driver.next_event(), Event::Text("ping me".into()));

    driver.conn.sender().close(CloseCode::NORMAL, "bye").expect("close");
    let Event::Close(reply) = driver.next_event() else { panic!("expected the Close reply") };
    assert_eq!(reply.code, CloseCode::NORMAL);
    let closed = Closed { code: CloseCode::NORMAL, clean: true, cause: CloseCause::LocalClose };
    assert_eq!(driver.next_event(), Event::Closed(closed));
    // A client leaves closing TCP to the server (§7.1.1), which tungstenite does.
    assert_eq!(driver.conn.state(), State::Closed);
    assert!(!driver.conn.should_close_transport());
    while !driver.read_some() {}
    assert!(driver.conn.poll_event().is_none(), "the end is reported once");
    assert!(driver.conn.should_close_transport());

    let received = server.join().expect("server thread");
    let expected = [
        Message::text(TEXT),
        Message::binary(big),
        Message::binary(Vec::new()),
        Message::Ping(b"are you there".to_vec().into()),
        Message::text("ping me"),
        Message::Pong(b"server ping".to_vec().into()),
        Message::Close(Some(TungsteniteCloseFrame {
            code: TungsteniteCloseCode::Normal,
            reason: "bye".into(),
        })),
    ];
    assert_eq!(received, expected);
}
