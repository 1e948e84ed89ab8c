//! permessage-deflate inside `Connection` (RFC 7692): negotiation in the handshake, RSV1 on a
//! message's first frame only, the RFC's examples on the wire, bombs stopped while inflating,
//! and the close codes that follow each violation.
#![cfg(feature = "deflate")]

mod common;

use common::{events, output, pair};
use std::time::Instant;
use wsmachine::extensions::deflate::{DeflateConfig, MessageCompressor};
use wsmachine::frame::{apply_mask, CloseCode, FrameHeader, Opcode, Rsv};
use wsmachine::handshake::ClientHandshake;
use wsmachine::handshake::ResponseError;
use wsmachine::{Config, Connection, Event, MessageKind, Piece, ProtocolError};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn request(extensions: &str) -> Vec<u8> {
    format!(
        "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: {extensions}\r\n\r\n"
    )
    .into_bytes()
}

fn deflate_config(deflate: DeflateConfig) -> Config {
    let mut config = Config::default();
    config.deflate = Some(deflate);
    config
}

/// A frame as a client sends it (masked), with the given RSV bits.
fn client_frame(opcode: Opcode, payload: &[u8], fin: bool, rsv: Rsv) -> Vec<u8> {
    let header =
        FrameHeader::new(opcode, payload.len() as u64).with_fin(fin).with_rsv(rsv).with_mask(KEY);
    let mut out = vec![0u8; header.encoded_len()];
    header.encode(&mut out).unwrap();
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], KEY);
    out
}

/// A server that accepted a request offering `extensions`; returns it and its response head.
fn open_server(config: Config, extensions: &str) -> (Connection, String) {
    let mut server = Connection::server(config, Instant::now());
    server.receive(&request(extensions));
    let Some(Ok(Event::Request(request))) = server.poll_event() else { panic!("no request") };
    server.accept(request.accept()).unwrap();
    let response = String::from_utf8(output(&mut server)).unwrap();
    (server, response)
}

fn single_text(events: &[Result<Event, ProtocolError>]) -> &str {
    match events {
        [Ok(Event::Text(text))] => text.as_str(),
        other => panic!("expected one text message, got {other:?}"),
    }
}

#[test]
fn a_server_accepts_a_browser_offer_and_sends_the_rfc_examples() {
    // The RFC's bytes are zlib's at its default level; the default here is level 1.
    let mut deflate = DeflateConfig::default();
    deflate.compression_level = Some(6);
    let (mut server, response) =
        open_server(deflate_config(deflate), "permessage-deflate; client_max_window_bits");
    assert!(
        response.contains("\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"),
        "{response}"
    );
    assert_eq!(server.negotiated().extensions()[0].name(), "permessage-deflate");

    // RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello" twice, the second through the shared window.
    server.sender().send_text("Hello").unwrap();
    server.sender().send_text("Hello").unwrap();
    assert_eq!(
        output(&mut server),
        [
            0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11,
            0x00, 0x00
        ]
    );
}

#[test]
fn a_server_without_deflate_configured_declines_the_offer() {
    let (mut server, response) =
        open_server(Config::default(), "permessage-deflate; client_max_window_bits");
    assert!(!response.contains("Sec-WebSocket-Extensions"), "{response}");
    server.sender().send_text("Hello").unwrap();
    assert_eq!(output(&mut server), b"\x81\x05Hello");
    // A compressed frame is then a protocol error: RSV1 was not negotiated (§5.2).
    server.receive(&client_frame(
        Opcode::Text,
        &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
        true,
        Rsv::RSV1,
    ));
    let received = events(&mut server);
    assert!(
        matches!(received[0], Err(ref e) if e.close_code() == Some(CloseCode::PROTOCOL_ERROR)),
        "{received:?}"
    );
}

#[test]
fn a_server_inflates_the_rfc_examples_including_a_fragmented_one() {
    let (mut server, _) =
        open_server(deflate_config(DeflateConfig::default()), "permessage-deflate");
    let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    server.receive(&client_frame(Opcode::Text, &hello, true, Rsv::RSV1));
    assert_eq!(single_text(&events(&mut server)), "Hello");
    // §7.2.3.2: the second "Hello" refers back into the window of the first.
    server.receive(&client_frame(Opcode::Text, &[0xf2, 0x00, 0x11, 0x00, 0x00], true, Rsv::RSV1));
    assert_eq!(single_text(&events(&mut server)), "Hello");
    // §7.2.3.1's fragmented form: RSV1 on the first frame only, split mid-stream. The window
    // carries over, so send it through a fresh server.
    let (mut fresh, _) =
        open_server(deflate_config(DeflateConfig::default()), "permessage-deflate");
    fresh.receive(&client_frame(Opcode::Text, &[0xf2, 0x48, 0xcd], false, Rsv::RSV1));
    assert!(events(&mut fresh).is_empty());
    fresh.receive(&client_frame(Opcode::Continuation, &[0xc9, 0xc9, 0x07, 0x00], true, Rsv::NONE));
    assert_eq!(single_text(&events(&mut fresh)), "Hello");
    // §7.2.3.3 (no compression, a stored block) and §7.2.3.4 (BFINAL set) are valid too.
    let stored = [0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00];
    let (mut fresh, _) =
        open_server(deflate_config(DeflateConfig::default()), "permessage-deflate");
    fresh.receive(&client_frame(Opcode::Binary, &stored, true, Rsv::RSV1));
    fresh.receive(&client_frame(
        Opcode::Text,
        &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
        true,
        Rsv::RSV1,
    ));
    // After a final block the next message starts a new DEFLATE stream.
    fresh.receive(&client_frame(Opcode::Text, &hello, true, Rsv::RSV1));
    let received = events(&mut fresh);
    assert!(
        matches!(&received[0], Ok(Event::Binary(data)) if &data[..] == b"Hello"),
        "{received:?}"
    );
    assert_eq!(single_text(&received[1..2]), "Hello");
    assert_eq!(single_text(&received[2..]), "Hello");
}

#[test]
fn rsv1_is_allowed_only_on_a_message_first_frame() {
    let compressed = [0xf2, 0x48, 0xcd];
    for (frames, what) in [
        (
            [
                client_frame(Opcode::Text, &compressed, false, Rsv::RSV1),
                client_frame(Opcode::Continuation, &[0xc9, 0xc9, 0x07, 0x00], true, Rsv::RSV1),
            ]
            .concat(),
            "a continuation",
        ),
        (client_frame(Opcode::Ping, b"", true, Rsv::RSV1), "a ping"),
        (client_frame(Opcode::Close, &1000u16.to_be_bytes(), true, Rsv::RSV1), "a close"),
    ] {
        let (mut server, _) =
            open_server(deflate_config(DeflateConfig::default()), "permessage-deflate");
        server.receive(&frames);
        let received = events(&mut server);
        assert!(
            matches!(
                received.iter().find(|e| e.is_err()),
                Some(Err(ProtocolError::MisplacedCompressionBit))
            ),
            "{what}: {received:?}"
        );
        // The Close that fails the connection carries 1002 (§7.4.1).
        assert!(output(&mut server).ends_with(&[0x88, 0x02, 0x03, 0xea]), "{what}");
    }
}

#[test]
fn corrupt_compressed_data_fails_with_1007() {
    let (mut server, _) =
        open_server(deflate_config(DeflateConfig::default()), "permessage-deflate");
    server.receive(&client_frame(Opcode::Binary, &[0xff, 0xff, 0xff, 0xff], true, Rsv::RSV1));
    let received = events(&mut server);
    assert!(matches!(received[0], Err(ProtocolError::InvalidCompressedData)), "{received:?}");
    assert!(output(&mut server).ends_with(&[0x88, 0x02, 0x03, 0xef]));
}

#[test]
fn invalid_utf8_inside_compressed_text_fails_with_1007() {
    let (mut server, _) =
        open_server(deflate_config(DeflateConfig::default()), "permessage-deflate");
    let mut compressed = Vec::new();
    MessageCompressor::new(15, false).compress(b"ok \xff\xfe", &mut compressed);
    server.receive(&client_frame(Opcode::Text, &compressed, true, Rsv::RSV1));
    let received = events(&mut server);
    assert!(matches!(received[0], Err(ProtocolError::Utf8(_))), "{received:?}");
    assert!(output(&mut server).ends_with(&[0x88, 0x02, 0x03, 0xef]));
}

#[test]
fn a_decompression_bomb_stops_at_the_message_limit_with_1009() {
    let mut config = deflate_config(DeflateConfig::default());
    config.max_message_len = 1 << 20;
    let (mut server, _) = open_server(config, "permessage-deflate");
    // 16 MiB of zeros compress to about 16 KiB: far under every wire limit.
    let mut bomb = Vec::new();
    MessageCompressor::new(15, false).compress(&vec![0u8; 16 << 20], &mut bomb);
    assert!(bomb.len() < 32 << 10, "{}", bomb.len());
    server.receive(&client_frame(Opcode::Binary, &bomb, true, Rsv::RSV1));
    let received = events(&mut server);
    assert_eq!(received[0], Err(ProtocolError::MessageTooBig { max: 1 << 20 }));
    assert!(output(&mut server).ends_with(&[0x88, 0x02, 0x03, 0xf1]));
    // Fragmented, the limit counts the inflated bytes of every fragment together.
    let mut config = deflate_config(DeflateConfig::default());
    config.max_message_len = 1 << 20;
    let (mut server, _) = open_server(config, "permessage-deflate");
    let mut compressor = MessageCompressor::new(15, false);
    let mut first = Vec::new();
    compressor.compress_piece(&vec![b'a'; 700 << 10], false, &mut first);
    let mut second = Vec::new();
    compressor.compress_piece(&vec![b'b'; 700 << 10], true, &mut second);
    server.receive(&client_frame(Opcode::Text, &first, false, Rsv::RSV1));
    server.receive(&client_frame(Opcode::Continuation, &second, true, Rsv::NONE));
    assert_eq!(events(&mut server)[0], Err(ProtocolError::MessageTooBig { max: 1 << 20 }));
}

/// Every preset's codecs (ours for the fast level and small windows, zlib-rs's otherwise) stop
/// a bomb at the message limit with 1009.
#[test]
fn a_decompression_bomb_stops_at_the_limit_with_every_preset() {
    use wsmachine::extensions::deflate::DeflatePreset;
    for preset in DeflatePreset::ALL {
        let mut server_config = deflate_config(DeflateConfig::preset(preset));
        server_config.max_message_len = 1 << 20;
        let client_config = deflate_config(DeflateConfig::preset(preset));
        let (mut client, mut server) = pair(client_config, server_config);
        client.sender().send_binary(&vec![0u8; 16 << 20]).unwrap();
        let bomb = output(&mut client);
        assert!(bomb.len() < 256 << 10, "{}: {} bytes", preset.name(), bomb.len());
        server.receive(&bomb);
        let received = events(&mut server);
        assert_eq!(
            received[0],
            Err(ProtocolError::MessageTooBig { max: 1 << 20 }),
            "{}",
            preset.name()
        );
        assert!(output(&mut server).ends_with(&[0x88, 0x02, 0x03, 0xf1]), "{}", preset.name());
    }
}

#[test]
fn client_and_server_compress_both_ways_with_rsv1_on_the_first_frame_only() {
    let mut client_config = deflate_config(DeflateConfig::default());
    client_config.fragment_size = Some(100);
    let (mut client, mut server) = pair(client_config, deflate_config(DeflateConfig::default()));
    assert_eq!(client.negotiated().extensions().len(), 1);

    let text = "all work and no play makes jack a dull boy. ".repeat(300);
    let random: Vec<u8> =
        (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    client.sender().send_text(&text).unwrap();
    client.sender().send_binary(&random).unwrap();
    let wire = output(&mut client);
    // Fragmented at 100 bytes: the first frame has FIN clear and RSV1 set; the next is a
    // continuation with every RSV bit clear.
    assert_eq!(wire[0], 0x41);
    let second_frame = 2 + 4 + 100;
    assert_eq!(wire[second_frame] & 0x7f, 0x00);
    assert!(wire.len() < text.len() / 4 + random.len() + 500, "{} bytes on the wire", wire.len());
    server.receive(&wire);
    let received = events(&mut server);
    assert_eq!(single_text(&received[..1]), text);
    assert!(matches!(&received[1], Ok(Event::Binary(data)) if data[..] == random[..]));

    server.sender().send_text(&text).unwrap();
    let wire = output(&mut server);
    assert_eq!(wire[0], 0xc1);
    client.receive(&wire);
    assert_eq!(single_text(&events(&mut client)), text);
}

#[test]
fn a_message_can_be_sent_uncompressed_by_choice_or_by_threshold() {
    let mut deflate = DeflateConfig::default();
    deflate.compression_threshold = 16;
    let config = deflate_config(deflate);
    let (mut client, mut server) = pair(config, config);
    server.sender().send_text("short").unwrap(); // under the threshold
    server.sender().send_message(MessageKind::Binary, &[7; 64], false).unwrap(); // by choice
    server.sender().send_message(MessageKind::Text, b"tiny", true).unwrap(); // forced
    let wire = output(&mut server);
    assert_eq!(&wire[..7], b"\x81\x05short");
    assert_eq!(&wire[7..9], [0x82, 64]);
    assert_eq!(wire[9 + 64], 0xc1);
    client.receive(&wire);
    let received = events(&mut client);
    assert_eq!(single_text(&received[..1]), "short");
    assert!(matches!(&received[1], Ok(Event::Binary(data)) if data[..] == [7; 64]));
    assert_eq!(single_text(&received[2..]), "tiny");
    assert_eq!(
        server.sender().send_message(MessageKind::Text, b"\xff", true),
        Err(wsmachine::CommandError::InvalidText)
    );
}

#[test]
fn no_context_takeover_makes_every_message_stand_alone() {
    let mut deflate = DeflateConfig::default();
    deflate.server_no_context_takeover = true;
    deflate.server_max_window_bits = 9;
    let server_config = deflate_config(deflate);
    let (mut client, mut server) = pair(deflate_config(DeflateConfig::default()), server_config);
    let negotiated = client.negotiated().extensions()[0].to_string();
    assert_eq!(
        negotiated,
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=9"
    );
    server.sender().send_text("Hello").unwrap();
    let first = output(&mut server);
    server.sender().send_text("Hello").unwrap();
    let second = output(&mut server);
    assert_eq!(first, second, "the second message must not refer to the first");
    client.receive(&[first, second].concat());
    let received = events(&mut client);
    assert_eq!(received.len(), 2);
    assert!(received.iter().all(|e| matches!(e, Ok(Event::Text(t)) if t.as_str() == "Hello")));
}

#[test]
fn streamed_messages_are_compressed_and_large_ones_inflate_in_pieces() {
    let mut receiving = deflate_config(DeflateConfig::default());
    receiving.stream_messages_above = Some(1000);
    let (mut client, mut server) = pair(deflate_config(DeflateConfig::default()), receiving);
    let chunk: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    client.sender().begin_message(MessageKind::Binary, &chunk, false).unwrap();
    for _ in 0..4 {
        client.sender().send_piece(&chunk, false).unwrap();
    }
    client.sender().send_piece(b"", true).unwrap();
    let wire = output(&mut client);
    assert_eq!(wire[0], 0x42, "RSV1 on the first frame of a streamed message");
    assert!(wire.len() < chunk.len(), "{} bytes on the wire", wire.len());
    server.receive(&wire);
    let pieces: Vec<Piece> = events(&mut server)
        .into_iter()
        .map(|event| match event {
            Ok(Event::Piece(piece)) => piece,
            other => panic!("expected a piece, got {other:?}"),
        })
        .collect();
    assert!(pieces.len() > 3, "{} pieces", pieces.len());
    assert!(pieces[0].first && pieces.iter().skip(1).all(|p| !p.first));
    assert!(pieces.last().unwrap().last && pieces.iter().rev().skip(1).all(|p| !p.last));
    assert!(pieces.iter().all(|p| p.data.len() <= 64 << 10), "pieces are bounded");
    let joined: Vec<u8> = pieces.iter().flat_map(|p| p.data.iter().copied()).collect();
    assert_eq!(joined, chunk.repeat(5));

    // A small compressed message under the threshold is still delivered whole.
    client.sender().send_text("small").unwrap();
    server.receive(&output(&mut client));
    assert_eq!(single_text(&events(&mut server)), "small");
}

#[test]
fn a_client_fails_the_handshake_on_an_invalid_deflate_response() {
    for (response_extension, expected) in [
        ("permessage-deflate; server_max_window_bits=16", "window bits"),
        ("permessage-deflate; client_max_window_bits", "window bits"),
        ("permessage-deflate, permessage-deflate", "more than once"),
        ("permessage-deflate; foo", "unknown"),
    ] {
        let handshake = ClientHandshake::new("ws://a/chat").unwrap();
        let mut client =
            Connection::client(handshake, deflate_config(DeflateConfig::default()), Instant::now())
                .unwrap();
        let request = String::from_utf8(output(&mut client)).unwrap();
        assert!(request.contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        ));
        let key_line = request.lines().find(|l| l.starts_with("Sec-WebSocket-Key: ")).unwrap();
        let key = &key_line["Sec-WebSocket-Key: ".len()..];
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: {response_extension}\r\n\r\n",
            wsmachine::handshake::accept_key(key.as_bytes())
        );
        client.receive(response.as_bytes());
        match client.poll_event() {
            Some(Err(ProtocolError::Response(error))) => match *error {
                ResponseError::Deflate(error) => {
                    assert!(error.to_string().contains(expected), "{response_extension}: {error}")
                }
                other => panic!("{response_extension}: {other:?}"),
            },
            other => panic!("{response_extension}: {other:?}"),
        }
        assert!(client.should_close_transport());
    }
}

#[test]
fn release_buffers_frees_a_context_free_compressor_and_messages_still_flow() {
    let mut deflate = DeflateConfig::default();
    deflate.server_no_context_takeover = true;
    deflate.client_no_context_takeover = true;
    let config = deflate_config(deflate);
    let (mut client, mut server) = pair(config, config);
    for round in 0..3 {
        let message = format!("message {round} ").repeat(50);
        client.sender().send_text(&message).unwrap();
        server.receive(&output(&mut client));
        assert_eq!(single_text(&events(&mut server)), message);
        server.sender().send_text(&message).unwrap();
        client.receive(&output(&mut server));
        assert_eq!(single_text(&events(&mut client)), message);
        client.release_buffers();
        server.release_buffers();
    }
}
