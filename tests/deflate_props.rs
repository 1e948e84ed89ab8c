//! permessage-deflate's codec: any sequence of messages survives compression and decompression
//! with every window size and both context-takeover modes (RFC 7692 §7.1, §7.2).
#![cfg(feature = "deflate")]

use proptest::prelude::*;
use wsmachine::extensions::deflate::{MessageCompressor, MessageDecompressor};

/// Mostly compressible text with some random bytes, so both paths of the compressor run.
fn message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[a-c ]{0,300}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..300),
    ]
}

proptest! {
    #[test]
    fn messages_round_trip_with_every_parameter_combination(
        messages in prop::collection::vec(message(), 1..8),
        window_bits in 8u8..=15,
        no_context_takeover in any::<bool>(),
    ) {
        let mut compressor = MessageCompressor::new(window_bits, no_context_takeover);
        let mut decompressor = MessageDecompressor::new(window_bits, no_context_takeover);
        for message in &messages {
            let mut compressed = Vec::new();
            compressor.compress(message, &mut compressed);
            prop_assert!(!compressed.ends_with(&[0x00, 0x00, 0xff, 0xff]) || message.is_empty());
            let mut inflated = Vec::new();
            // Delivered in two pieces, as fragments would be.
            let (first, second) = compressed.split_at(compressed.len() / 2);
            decompressor.decompress(first, &mut inflated, message.len()).unwrap();
            decompressor.decompress(second, &mut inflated, message.len()).unwrap();
            decompressor.finish_message(&mut inflated, message.len()).unwrap();
            prop_assert_eq!(&inflated, message);
        }
    }
}

/// A client and a server with permessage-deflate negotiated from random preferences, sending
/// random messages both ways, fragmented or not, delivered in random chunks: every message
/// arrives exactly as sent (RFC 7692 §6, §7.1).
mod connection_pair {
    use proptest::prelude::*;
    use std::time::Instant;
    use wsmachine::extensions::deflate::DeflateConfig;
    use wsmachine::handshake::ClientHandshake;
    use wsmachine::{Config, Connection, Event};

    fn config(deflate: DeflateConfig, fragment_size: Option<usize>) -> Config {
        let mut config = Config::default();
        config.deflate = Some(deflate);
        config.fragment_size = fragment_size;
        config
    }

    fn preferences() -> impl Strategy<Value = DeflateConfig> {
        (any::<bool>(), any::<bool>(), 8u8..=15, 8u8..=15).prop_map(|(snct, cnct, sb, cb)| {
            let mut deflate = DeflateConfig::default();
            deflate.server_no_context_takeover = snct;
            deflate.client_no_context_takeover = cnct;
            deflate.server_max_window_bits = sb;
            deflate.client_max_window_bits = cb;
            deflate
        })
    }

    /// Feeds `wire` to `to` in chunks of the given sizes and collects text and binary messages.
    fn deliver(to: &mut Connection, wire: &[u8], chunks: &[usize]) -> Vec<Vec<u8>> {
        let mut received = Vec::new();
        let mut rest = wire;
        let mut sizes = chunks.iter().cycle();
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at((*sizes.next().unwrap()).min(rest.len()));
            rest = tail;
            to.receive(chunk);
            while let Some(event) = to.poll_event() {
                match event.expect("no protocol error") {
                    Event::Text(text) => received.push(text.as_bytes().to_vec()),
                    Event::Binary(data) => received.push(data.to_vec()),
                    _ => {}
                }
            }
        }
        received
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn messages_survive_both_ways(
            client_prefs in preferences(),
            server_prefs in preferences(),
            fragment_size in prop::option::of(1usize..200),
            messages in prop::collection::vec(super::message(), 1..6),
            chunks in prop::collection::vec(1usize..300, 1..8),
        ) {
            let handshake = ClientHandshake::new("ws://a/").unwrap();
            let mut client = Connection::client(handshake, config(client_prefs, fragment_size), Instant::now()).unwrap();
            let mut server = Connection::server(config(server_prefs, fragment_size), Instant::now());
            let mut wire = Vec::new();
            client.poll_transmit(&mut wire);
            server.receive(&wire);
            let Some(Ok(Event::Request(request))) = server.poll_event() else { panic!("no request") };
            server.accept(request.accept()).unwrap();
            wire.clear();
            server.poll_transmit(&mut wire);
            client.receive(&wire);
            prop_assert!(matches!(client.poll_event(), Some(Ok(Event::Accepted(_)))));
            prop_assert_eq!(client.negotiated().extensions().len(), 1);

            for message in &messages {
                client.sender().send_binary(message).unwrap();
            }
            wire.clear();
            client.poll_transmit(&mut wire);
            let at_server = deliver(&mut server, &wire, &chunks);
            prop_assert_eq!(&at_server, &messages);
            for message in &at_server {
                server.sender().send_binary(message).unwrap();
            }
            wire.clear();
            server.poll_transmit(&mut wire);
            prop_assert_eq!(&deliver(&mut client, &wire, &chunks), &messages);
        }
    }
}
