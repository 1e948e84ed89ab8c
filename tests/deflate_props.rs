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
