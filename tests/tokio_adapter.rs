//! The tokio adapter in conversations over `tokio::io::duplex`, most with tokio's clock paused
//! so that the deadlines pass in an instant: keepalive, the Pong deadline, idle, the close
//! deadline, a peer that resets mid-frame or half-closes, a cancelled `recv`, a reader that
//! stops reading, and when queued bytes reach the socket.

#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use wsmachine::frame::{apply_mask, CloseCode, FrameHeader, Opcode};
use wsmachine::handshake::{ClientHandshake, Rejection};
use wsmachine::tokio::{
    accept, accept_with, connect_with, Accepted, Answer, Error, ErrorKind, IncomingRef, WebSocket,
};
use wsmachine::{CloseCause, Config, Message, PreparedMessage};

const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// A masked frame as a client sends it.
fn client_frame(opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let key = [1, 2, 3, 4];
    let header = FrameHeader::new(opcode, payload.len() as u64).with_mask(key);
    let mut out = vec![0u8; header.encoded_len()];
    header.encode(&mut out).unwrap();
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], key);
    out
}

/// A raw peer that has sent the RFC request and read the 101: the test writes its frames.
async fn raw_client(mut io: DuplexStream) -> DuplexStream {
    io.write_all(REQUEST).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        io.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "), "{}", String::from_utf8_lossy(&head));
    io
}

/// Reads whatever the server wrote within a moment.
async fn read_some(io: &mut DuplexStream) -> Vec<u8> {
    let mut buf = vec![0u8; 64 * 1024];
    match tokio::time::timeout(Duration::from_millis(10), io.read(&mut buf)).await {
        Ok(Ok(n)) => buf[..n].to_vec(),
        _ => Vec::new(),
    }
}

/// A client and a server over a duplex pipe, both opened.
async fn pair(
    server_config: Config,
    client_config: Config,
) -> (WebSocket<DuplexStream>, WebSocket<DuplexStream>) {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        match accept_with(server_io, server_config, |_| Answer::accept()).await.unwrap() {
            Accepted::WebSocket(ws) => ws,
            other => panic!("{other:?}"),
        }
    });
    let handshake = ClientHandshake::new("ws://a/chat").unwrap();
    let client = connect_with(client_io, handshake, client_config).await.unwrap();
    (client, server.await.unwrap())
}

#[tokio::test]
async fn messages_flow_both_ways_and_a_close_ends_both_streams() {
    let (mut client, mut server) = pair(Config::default(), Config::default()).await;
    client.send("hello".into()).await.unwrap();
    client.send(Message::from(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(server.recv().await.unwrap().unwrap(), Message::from("hello"));
    assert_eq!(server.recv().await.unwrap().unwrap(), Message::from(vec![1u8, 2, 3]));
    server.send("back".into()).await.unwrap();
    assert_eq!(client.recv().await.unwrap().unwrap(), Message::from("back"));
    let closing = tokio::spawn(async move {
        client.close(CloseCode::NORMAL, "done").await.unwrap();
        client
    });
    assert!(server.recv().await.is_none(), "the peer's Close ends the stream");
    assert_eq!(server.close_frame().map(|frame| frame.code), Some(CloseCode::NORMAL));
    let closed = server.closed().unwrap();
    assert!(closed.clean && closed.cause == CloseCause::PeerClosed);
    let client = closing.await.unwrap();
    assert_eq!(client.closed().unwrap().cause, CloseCause::LocalClose);
}

#[tokio::test(start_paused = true)]
async fn a_silent_peer_is_pinged_and_failed_with_1011_when_it_stays_silent() {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let mut ws = accept(server_io).await.unwrap();
        let started = tokio::time::Instant::now();
        let end = ws.recv().await;
        (end.map(|r| r.map_err(|e| e.to_string())), started.elapsed(), ws.closed())
    });
    let mut peer = raw_client(client_io).await;
    // The peer reads but never answers: a Ping at 18 to 20 s, the Close with 1011 20 s later.
    let mut seen = Vec::new();
    loop {
        let mut buf = [0u8; 256];
        match peer.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    let (end, elapsed, closed) = server.await.unwrap();
    assert_eq!(&seen[..2], [0x89, 0x00], "a keepalive Ping");
    assert_eq!(&seen[2..6], [0x88, 19, 0x03, 0xf3], "then the Close with 1011");
    assert!(matches!(end, Some(Err(ref e)) if e.contains("PongTimeout")), "{end:?}");
    // Keepalive 20 s, less this connection's part of the 2 s jitter, + Pong deadline 20 s
    // (tokio's timers round up to the millisecond).
    assert!(
        elapsed >= Duration::from_secs(38) && elapsed < Duration::from_millis(40_010),
        "{elapsed:?}"
    );
    assert_eq!(closed.unwrap().cause, CloseCause::PongTimeout);
}

#[tokio::test(start_paused = true)]
async fn an_idle_connection_is_closed_with_1001_and_a_live_peer_answers() {
    let mut config = Config::default();
    config.keepalive_interval = None;
    config.idle_timeout = Some(Duration::from_secs(30));
    let mut quiet_client = Config::default();
    quiet_client.keepalive_interval = None; // its Pings would count as something received
    let (mut client, mut server) = pair(config, quiet_client).await;
    let started = tokio::time::Instant::now();
    let server_task = tokio::spawn(async move { (server.recv().await.is_none(), server) });
    // The client's recv answers the Close by itself.
    assert!(client.recv().await.is_none());
    assert_eq!(client.close_frame().map(|frame| frame.code), Some(CloseCode::GOING_AWAY));
    let (ended, server) = server_task.await.unwrap();
    assert!(ended);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(30) && elapsed < Duration::from_millis(30_010),
        "{elapsed:?}"
    );
    let closed = server.closed().unwrap();
    assert!(closed.clean && closed.cause == CloseCause::IdleTimeout, "{closed:?}");
}

#[tokio::test(start_paused = true)]
async fn close_gives_up_on_a_peer_that_never_answers_at_the_close_deadline() {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let mut ws = accept(server_io).await.unwrap();
        let started = tokio::time::Instant::now();
        let result = ws.close(CloseCode::GOING_AWAY, "restart").await;
        (result.map_err(|e| e.to_string()), started.elapsed())
    });
    let mut peer = raw_client(client_io).await;
    let (result, elapsed) = server.await.unwrap();
    assert!(result.unwrap_err().contains("CloseTimeout"));
    // The default close deadline (tokio's timers round up to the millisecond).
    assert!(
        elapsed >= Duration::from_secs(10) && elapsed < Duration::from_millis(10_010),
        "{elapsed:?}"
    );
    let close = read_some(&mut peer).await;
    assert_eq!(&close[..4], [0x88, 9, 0x03, 0xe9], "the Close went out");
}

#[tokio::test]
async fn a_peer_that_resets_mid_frame_ends_the_stream_with_an_error() {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let mut ws = accept(server_io).await.unwrap();
        let first = ws.recv().await.map(|r| r.map_err(|e| e.to_string()));
        let second = ws.recv().await.map(|r| r.map_err(|e| e.to_string()));
        let third = ws.recv().await.map(|r| r.map_err(|e| e.to_string()));
        (first, second, third)
    });
    let mut peer = raw_client(client_io).await;
    peer.write_all(&client_frame(Opcode::Text, b"whole")).await.unwrap();
    peer.write_all(&client_frame(Opcode::Text, b"cut short")[..5]).await.unwrap();
    drop(peer);
    let (first, second, third) = server.await.unwrap();
    assert_eq!(first, Some(Ok(Message::from("whole"))));
    assert!(matches!(second, Some(Err(ref e)) if e.contains("TransportEnded")), "{second:?}");
    assert_eq!(third, None);
}

#[tokio::test]
async fn a_half_closed_peer_still_gets_its_messages_read() {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let mut ws = accept(server_io).await.unwrap();
        let message = ws.recv().await.unwrap().unwrap();
        let end = ws.recv().await.map(|r| r.map_err(|e| e.to_string()));
        (message, end)
    });
    let mut peer = raw_client(client_io).await;
    peer.write_all(&client_frame(Opcode::Text, b"last words")).await.unwrap();
    peer.shutdown().await.unwrap(); // EOF for the server; the peer could still read
    let (message, end) = server.await.unwrap();
    assert_eq!(message, Message::from("last words"));
    assert!(matches!(end, Some(Err(ref e)) if e.contains("TransportEnded")), "{end:?}");
}

#[tokio::test]
async fn a_cancelled_recv_loses_no_message() {
    let (mut client, mut server) = pair(Config::default(), Config::default()).await;
    let sender = tokio::spawn(async move {
        for i in 0..200u32 {
            client.send(Message::from(i.to_string())).await.unwrap();
            if i % 7 == 0 {
                tokio::task::yield_now().await;
            }
        }
        client.close(CloseCode::NORMAL, "").await.unwrap();
    });
    let mut received = Vec::new();
    let mut cancelled = 0;
    loop {
        tokio::select! {
            biased;
            () = tokio::task::yield_now() => cancelled += 1,
            next = server.recv() => match next {
                Some(message) => received.push(message.unwrap()),
                None => break,
            },
        }
    }
    sender.await.unwrap();
    assert!(cancelled > 0, "some recv calls were cancelled");
    let expected: Vec<Message> = (0..200u32).map(|i| Message::from(i.to_string())).collect();
    assert_eq!(received, expected);
}

/// How many of `attempts` 8 KiB messages `op` takes before it waits (50 ms), to a peer that
/// reads nothing over a 16 KiB pipe, with a 32 KiB high-water mark.
async fn taken_before_waiting(feed: bool) -> usize {
    let (client_io, server_io) = tokio::io::duplex(16 * 1024);
    let server = tokio::spawn(async move {
        let mut ws = accept(server_io).await.unwrap();
        ws.set_high_water(32 * 1024);
        let payload = vec![7u8; 8 * 1024];
        let mut taken = 0;
        loop {
            let message = Message::from(&payload[..]);
            let done = if feed {
                tokio::time::timeout(Duration::from_millis(50), ws.feed(message)).await.is_ok()
            } else {
                tokio::time::timeout(Duration::from_millis(50), ws.send(message)).await.is_ok()
            };
            if !done {
                return taken;
            }
            taken += 1;
            assert!(taken < 100, "never waited");
        }
    });
    let peer = raw_client(client_io).await;
    let taken = server.await.unwrap();
    drop(peer);
    taken
}

#[tokio::test]
async fn send_and_feed_wait_for_a_reader_that_stops_reading_and_memory_stays_bounded() {
    // send writes before it returns: it waits as soon as the pipe is full.
    let sent = taken_before_waiting(false).await;
    assert_eq!(sent, 1, "the second message does not fit the 16 KiB pipe");
    // feed only queues: it waits once more than the high-water mark is queued.
    let fed = taken_before_waiting(true).await;
    assert!((5..=7).contains(&fed), "{fed} messages of 8 KiB: 16 KiB of pipe, 32 KiB queued");
}

#[tokio::test]
async fn a_dropped_send_queued_its_message_only_if_there_was_room_when_it_was_called() {
    let (mut client, mut server) = pair(Config::default(), Config::default()).await;
    // Room: the message is queued by the call itself, and a later flush writes it.
    drop(server.send("queued by the call".into()));
    // No room (a high-water mark of 0 and bytes waiting): dropped while it waits, the message
    // was never queued.
    server.set_high_water(0);
    server.feed("fed".into()).await.unwrap();
    drop(server.send("never queued".into()));
    server.set_high_water(64 * 1024);
    server.flush().await.unwrap();
    let reader = tokio::spawn(async move {
        let mut received = Vec::new();
        while let Some(message) = client.recv().await {
            received.push(message.unwrap());
        }
        received
    });
    server.close(CloseCode::NORMAL, "").await.unwrap();
    let received = reader.await.unwrap();
    assert_eq!(received, [Message::from("queued by the call"), Message::from("fed")]);
}

#[tokio::test]
async fn a_sent_message_reaches_the_socket_before_the_task_waits_on_something_else() {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let (tell, told) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let mut ws = accept(server_io).await.unwrap();
        ws.send("before waiting".into()).await.unwrap();
        // Waits on something else entirely; the message must be on the wire already.
        told.await.unwrap();
        ws
    });
    let mut peer = raw_client(client_io).await;
    let bytes = read_some(&mut peer).await;
    assert_eq!(bytes, [&[0x81, 14][..], b"before waiting"].concat());
    tell.send(()).unwrap();
    drop(server.await.unwrap());
}

#[tokio::test]
async fn an_echo_loop_writes_a_batch_of_answers_once() {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let mut ws = accept(server_io).await.unwrap();
        // The peer goes away without a Close at the end: an error, then the end.
        while let Some(Ok(message)) = ws.recv().await {
            ws.send(message).await.unwrap();
        }
    });
    let mut peer = raw_client(client_io).await;
    let mut batch = Vec::new();
    for i in 0..50u8 {
        batch.extend(client_frame(Opcode::Binary, &[i]));
    }
    peer.write_all(&batch).await.unwrap();
    let mut echoed = Vec::new();
    while echoed.len() < 50 * 3 {
        let mut buf = [0u8; 4096];
        let n = peer.read(&mut buf).await.unwrap();
        echoed.extend_from_slice(&buf[..n]);
    }
    let expected: Vec<u8> = (0..50u8).flat_map(|i| [0x82, 1, i]).collect();
    assert_eq!(echoed, expected);
    drop(peer);
    server.await.unwrap();
}

#[tokio::test]
async fn a_rejected_handshake_reports_its_status_and_plain_http_is_reported() {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let decide = |incoming: IncomingRef<'_>| match incoming {
            IncomingRef::WebSocket(_) => Answer::Reject(Rejection::new(403).with_body("no\n")),
            _ => Answer::accept(),
        };
        matches!(accept_with(server_io, Config::default(), decide).await, Ok(Accepted::Rejected(_)))
    });
    let handshake = ClientHandshake::new("ws://a/").unwrap();
    let error = connect_with(client_io, handshake, Config::default()).await.unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::Rejected(rejection) if rejection.status() == 403 && rejection.body() == b"no\n")
    );
    assert_eq!(error.to_string(), "handshake rejected with status 403");
    assert!(server.await.unwrap());

    let (mut client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move { accept(server_io).await.map(|_| ()).unwrap_err() });
    client_io.write_all(b"GET /page HTTP/1.1\r\nHost: a\r\n\r\n").await.unwrap();
    let mut response = String::new();
    client_io.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 426 "), "{response}");
    assert_eq!(server.await.unwrap().to_string(), "not a WebSocket upgrade: GET /page");
}

#[tokio::test]
async fn a_protocol_error_is_reported_with_its_close_code_after_the_close_is_written() {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let mut ws = accept(server_io).await.unwrap();
        let error = ws.recv().await.unwrap().unwrap_err();
        // Stops at the error: the Close it calls for must be on the wire already.
        drop(ws);
        (error.to_string(), true)
    });
    let mut peer = raw_client(client_io).await;
    peer.write_all(&[0x81, 0x00]).await.unwrap(); // unmasked: §5.1
    let mut reply = Vec::new();
    peer.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply, [0x88, 0x02, 0x03, 0xea], "the Close with 1002, then the server's EOF");
    let (error, ended) = server.await.unwrap();
    assert!(
        error.starts_with("protocol error: ")
            && error.ends_with("(closed with 1002 (protocol error))"),
        "{error}"
    );
    assert!(ended);
}

#[tokio::test]
async fn the_stream_and_sink_impls_drive_the_same_connection() {
    use futures_util::{SinkExt, StreamExt};
    let (mut client, mut server) = pair(Config::default(), Config::default()).await;
    let echo = tokio::spawn(async move {
        while let Some(message) = server.next().await {
            server.send(message.unwrap()).await.unwrap();
        }
    });
    for text in ["one", "two", "three"] {
        client.feed(text.into()).await.unwrap();
    }
    client.flush().await.unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(StreamExt::next(&mut client).await.unwrap().unwrap());
    }
    assert_eq!(got, ["one", "two", "three"].map(Message::from));
    SinkExt::close(&mut client).await.unwrap();
    echo.await.unwrap();
}

#[tokio::test]
async fn split_halves_work_from_two_tasks_and_pings_are_answered_while_the_writer_waits() {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let ws = accept(server_io).await.unwrap();
        let (mut reader, writer) = ws.split_with(tokio::io::split).unwrap();
        // The writer's task waits on something else entirely.
        let writing = tokio::spawn(async move {
            released.await.unwrap();
            writer.send("from the writer".into()).await.unwrap();
            writer.close(CloseCode::NORMAL, "done").await.unwrap();
            writer.send("too late".into()).await.unwrap_err().to_string()
        });
        let mut received = Vec::new();
        while let Some(message) = reader.recv().await {
            received.push(message.unwrap());
        }
        let refused = writing.await.unwrap();
        (received, refused)
    });
    let mut peer = raw_client(client_io).await;
    peer.write_all(&client_frame(Opcode::Ping, b"anyone?")).await.unwrap();
    let pong = read_some(&mut peer).await;
    assert_eq!(pong, [&[0x8a, 7][..], b"anyone?"].concat(), "answered by the read half itself");
    peer.write_all(&client_frame(Opcode::Text, b"to the reader")).await.unwrap();
    release.send(()).unwrap();
    let mut rest = Vec::new();
    while !rest.windows(2).any(|w| w == [0x88, 6]) {
        rest.extend(read_some(&mut peer).await);
    }
    assert!(rest.starts_with(&[&[0x81, 15][..], b"from the writer"].concat()), "{rest:?}");
    peer.write_all(&client_frame(Opcode::Close, &1000u16.to_be_bytes())).await.unwrap();
    let (received, refused) = server.await.unwrap();
    let ping = Message::Ping(b"anyone?".to_vec().into());
    assert_eq!(received, [ping, Message::from("to the reader")]);
    assert!(refused.starts_with("cannot send a message"), "{refused}");
}

#[tokio::test]
async fn a_huge_message_streams_in_pieces_both_ways() {
    let mut streaming = Config::default();
    streaming.stream_messages_above = Some(1024);
    let (mut client, mut server) = pair(streaming, Config::default()).await;
    // The client sends 32 KiB in pieces of 4 KiB (both ends run in this one task, so it all
    // fits the pipe); the server, streaming above 1 KiB, gets it in pieces and sends them
    // straight back as pieces.
    let chunk = vec![b'z'; 4096];
    for n in 0..8 {
        let piece = wsmachine::Piece {
            kind: wsmachine::MessageKind::Binary,
            data: chunk.clone().into(),
            first: n == 0,
            last: n == 7,
        };
        client.feed(Message::Piece(piece)).await.unwrap();
    }
    client.flush().await.unwrap();
    let mut echoed = 0;
    loop {
        let Message::Piece(piece) = server.recv().await.unwrap().unwrap() else { panic!() };
        echoed += piece.data.len();
        let last = piece.last;
        server.send(Message::Piece(piece)).await.unwrap();
        if last {
            break;
        }
    }
    assert_eq!(echoed, 8 * 4096);
    let Message::Binary(whole) = client.recv().await.unwrap().unwrap() else { panic!() };
    assert_eq!(whole.len(), 8 * 4096, "the client assembles what came back");
    let server_end = tokio::spawn(async move { while server.recv().await.is_some() {} });
    client.close(CloseCode::NORMAL, "").await.unwrap();
    server_end.await.unwrap();
}

/// A peer that sends 4 MiB of 1 KiB messages and reads nothing (the handle keeps it open).
fn flood_without_reading(client_io: DuplexStream) -> tokio::task::JoinHandle<DuplexStream> {
    tokio::spawn(async move {
        let mut peer = raw_client(client_io).await;
        let frame = client_frame(Opcode::Binary, &[5u8; 1024]);
        for _ in 0..4096 {
            if peer.write_all(&frame).await.is_err() {
                break;
            }
        }
        peer
    })
}

fn assert_ended_by_pong_timeout(outcome: Result<(), Error>) {
    match outcome.map_err(Error::into_kind) {
        Err(ErrorKind::Ended(closed)) => assert_eq!(closed.cause, CloseCause::PongTimeout),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_reads_is_dropped_at_the_keepalive_deadline() {
    // The obvious echo loop, against a peer that sends 4 MiB and reads nothing over a 64 KiB
    // pipe: the server stops reading once its output backs up, so nothing more arrives, the
    // keepalive Ping goes unanswered, and the send that waits ends with PongTimeout at 38 to
    // 40 s (the keepalive interval less this connection's jitter, and the Pong deadline).
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let mut ws = accept(server_io).await.unwrap();
        let started = tokio::time::Instant::now();
        let mut echoed = 0usize;
        let outcome = loop {
            match ws.recv().await {
                Some(Ok(message)) => match ws.send(message).await {
                    Ok(()) => echoed += 1,
                    Err(error) => break Err(error),
                },
                Some(Err(error)) => break Err(error),
                None => break Ok(()),
            }
        };
        (outcome, started.elapsed(), echoed)
    });
    let writer = flood_without_reading(client_io);
    let (outcome, elapsed, echoed) = server.await.unwrap();
    assert_ended_by_pong_timeout(outcome);
    assert!(echoed < 4096, "{echoed} echoed: the server stopped reading");
    assert!(elapsed >= Duration::from_secs(38) && elapsed < Duration::from_secs(41), "{elapsed:?}");
    writer.abort();
}

#[tokio::test(start_paused = true)]
async fn for_each_ref_stops_reading_from_a_peer_that_never_reads_and_ends_at_the_deadline() {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let mut ws = accept(server_io).await.unwrap();
        let started = tokio::time::Instant::now();
        let outcome = ws
            .for_each_ref(|event, sender| match event {
                wsmachine::EventRef::Binary(data) => sender.send_binary(data),
                _ => Ok(()),
            })
            .await;
        (outcome, started.elapsed(), ws.connection().buffered_input())
    });
    let writer = flood_without_reading(client_io);
    let (outcome, elapsed, buffered_input) = server.await.unwrap();
    assert_ended_by_pong_timeout(outcome);
    assert!(elapsed < Duration::from_secs(41), "{elapsed:?}");
    assert!(buffered_input < 64 * 1024, "{buffered_input}");
    writer.abort();
}

#[tokio::test(start_paused = true)]
async fn split_halves_give_up_on_a_peer_that_never_reads() {
    // A writer task floods a peer that neither reads nor sends: the reading half fails the
    // connection at the keepalive deadline, the write task gives up its output at once, and
    // the writer's next send fails instead of waiting forever.
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let ws = accept(server_io).await.unwrap();
        let (mut reader, writer) = ws.split_with(tokio::io::split).unwrap();
        let flood = tokio::spawn(async move {
            let payload = vec![1u8; 16 * 1024];
            let mut sent = 0usize;
            while writer.send(Message::from(&payload[..])).await.is_ok() {
                sent += 1;
                assert!(sent < 10_000, "the writer never stopped");
            }
            sent
        });
        let started = tokio::time::Instant::now();
        let end = reader.recv().await;
        let ended_after = started.elapsed();
        let sent = tokio::time::timeout(Duration::from_secs(1), flood).await;
        (end.map(|r| r.map_err(|e| e.to_string())), ended_after, sent.map(Result::unwrap))
    });
    let peer = raw_client(client_io).await; // never reads, never sends
    let (end, ended_after, sent) = server.await.unwrap();
    assert!(matches!(end, Some(Err(ref e)) if e.contains("PongTimeout")), "{end:?}");
    assert!(ended_after < Duration::from_secs(41), "{ended_after:?}");
    let sent = sent.expect("the writer's send failed within a second of the end");
    assert!(sent < 10_000, "{sent}");
    drop(peer);
}

/// A task's future is as large as its largest state: the handshake (its arguments, buffers,
/// the request, the connection being built) lives on the heap from the call on, so that a
/// task that goes on to hold the open WebSocket is not sized by it (the idle memory in
/// docs/benchmarks.md).
#[test]
fn the_handshake_futures_are_a_pointer_to_the_heap() {
    let (a, b) = tokio::io::duplex(64);
    let pointer = std::mem::size_of::<usize>();
    let accepting = accept_with(a, Config::default(), |_| Answer::accept());
    assert_eq!(std::mem::size_of_val(&accepting), pointer);
    let handshake = ClientHandshake::new("ws://a/").unwrap();
    let connecting = connect_with(b, handshake, Config::default());
    assert_eq!(std::mem::size_of_val(&connecting), pointer);
    let (c, _d) = tokio::io::duplex(64);
    assert_eq!(std::mem::size_of_val(&accept(c)), pointer);
}

/// A stream that takes at most `limit` bytes per write, vectored or not, and counts the
/// vectored writes that took bytes from two slices.
struct Trickle {
    io: DuplexStream,
    limit: usize,
    across_slices: Arc<std::sync::atomic::AtomicUsize>,
}

impl tokio::io::AsyncRead for Trickle {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Trickle {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let limit = self.limit.min(buf.len());
        std::pin::Pin::new(&mut self.io).poll_write(cx, &buf[..limit])
    }
    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        slices: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let mut joined = Vec::new();
        for slice in slices {
            joined.extend_from_slice(slice);
        }
        joined.truncate(self.limit);
        let first = slices.first().map_or(0, |slice| slice.len());
        let wrote = std::task::ready!(std::pin::Pin::new(&mut self.io).poll_write(cx, &joined))?;
        if first > 0 && wrote > first {
            self.across_slices.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        std::task::Poll::Ready(Ok(wrote))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn prepared_messages_are_written_after_queued_output_in_vectored_writes_of_any_size() {
    let prepared: Vec<Arc<PreparedMessage>> = [300usize, 5, 70_000]
        .into_iter()
        .map(|len| Arc::new(PreparedMessage::text("p".repeat(len))))
        .collect();
    for limit in [1, 5, 131, 100_000] {
        let (client_io, server_io) = tokio::io::duplex(1 << 20);
        let across_slices = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let trickle = Trickle { io: server_io, limit, across_slices: Arc::clone(&across_slices) };
        let sending = {
            let prepared = prepared.clone();
            tokio::spawn(async move {
                let Accepted::WebSocket(mut server) =
                    accept_with(trickle, Config::default(), |_| Answer::accept()).await.unwrap()
                else {
                    panic!("accepted")
                };
                for (round, message) in prepared.iter().cycle().take(9).enumerate() {
                    server.feed(Message::from(format!("own {round}"))).await.unwrap();
                    server.send_prepared(message).await.unwrap();
                }
                server.close(CloseCode::NORMAL, "").await.unwrap();
            })
        };
        let handshake = ClientHandshake::new("ws://a/chat").unwrap();
        let mut client = connect_with(client_io, handshake, Config::default()).await.unwrap();
        let mut received = Vec::new();
        while let Some(message) = client.recv().await {
            received.push(message.unwrap());
        }
        sending.await.unwrap();
        let want: Vec<Message> = (0..9)
            .flat_map(|round| {
                [
                    Message::from(format!("own {round}")),
                    Message::from(
                        String::from_utf8(prepared[round % 3].payload().to_vec()).unwrap(),
                    ),
                ]
            })
            .collect();
        assert_eq!(received, want, "limit {limit}");
        assert!(
            across_slices.load(std::sync::atomic::Ordering::Relaxed) > 0 || limit < 8,
            "own bytes and a shared frame went in one write (limit {limit})"
        );
    }
}
