//! Property tests for the frame core: round trips, chunking invariance and oracles.

use proptest::prelude::*;
use wsmachine::frame::{
    apply_mask, apply_mask_at, apply_mask_naive, FrameHeader, HeaderRules, Opcode, Rsv, Status,
    Utf8Validator, MAX_HEADER_LEN, MAX_PAYLOAD_LEN,
};
use wsmachine::Role;

fn opcode() -> impl Strategy<Value = Opcode> {
    prop_oneof![
        Just(Opcode::Continuation),
        Just(Opcode::Text),
        Just(Opcode::Binary),
        Just(Opcode::Close),
        Just(Opcode::Ping),
        Just(Opcode::Pong),
    ]
}

/// Lengths from every encoding form, with their boundaries well represented.
fn payload_len() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..=125u64,
        126..=0xFFFFu64,
        0x1_0000..=MAX_PAYLOAD_LEN,
        prop::sample::select(vec![0, 125, 126, 0xFFFF, 0x1_0000, MAX_PAYLOAD_LEN]),
    ]
}

/// Any header a conforming endpoint of either role may send.
fn valid_header() -> impl Strategy<Value = FrameHeader> {
    (opcode(), any::<bool>(), 0..8u8, any::<Option<[u8; 4]>>(), payload_len()).prop_map(
        |(opcode, fin, rsv, mask, len)| FrameHeader {
            fin: fin || opcode.is_control(),
            rsv: Rsv::from_bits_truncate(rsv),
            opcode,
            mask,
            payload_len: if opcode.is_control() { len % 126 } else { len },
        },
    )
}

/// The rules under which `header` is valid when received.
fn rules_accepting(header: &FrameHeader) -> HeaderRules {
    let mut rules =
        HeaderRules::new(if header.mask.is_some() { Role::Server } else { Role::Client });
    rules.allowed_rsv = Rsv::ALL;
    rules.max_payload_len = MAX_PAYLOAD_LEN;
    rules
}

fn encode(header: &FrameHeader) -> Vec<u8> {
    let mut buf = [0u8; MAX_HEADER_LEN];
    let len = header.encode(&mut buf).unwrap();
    buf[..len].to_vec()
}

proptest! {
    #[test]
    fn parse_inverts_encode(header in valid_header()) {
        let bytes = encode(&header);
        prop_assert_eq!(bytes.len(), header.encoded_len());
        let parsed = FrameHeader::parse(&bytes, &rules_accepting(&header)).unwrap();
        prop_assert_eq!(parsed, Status::Complete((header, bytes.len())));
    }

    #[test]
    fn every_prefix_of_a_header_is_incomplete_and_says_how_much_is_missing(header in valid_header()) {
        let bytes = encode(&header);
        let rules = rules_accepting(&header);
        for cut in 0..bytes.len() {
            match FrameHeader::parse(&bytes[..cut], &rules).unwrap() {
                Status::Incomplete { needed } => {
                    prop_assert!(needed >= 1);
                    prop_assert!(cut + needed <= bytes.len(), "needed {} at {}", needed, cut);
                }
                Status::Complete(_) => prop_assert!(false, "complete after {} bytes", cut),
            }
        }
    }

    /// A stream of frames parsed from input delivered in arbitrary pieces yields the same
    /// headers as parsing it whole.
    #[test]
    fn parsing_a_stream_is_independent_of_how_it_is_split(
        headers in prop::collection::vec(valid_header().prop_map(|mut h| {
            h.payload_len %= 300;
            h.mask = Some([1, 2, 3, 4]);
            if h.opcode.is_control() { h.payload_len %= 126 }
            h
        }), 1..20),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let mut rules = HeaderRules::new(Role::Server);
        rules.allowed_rsv = Rsv::ALL;
        let mut stream = Vec::new();
        for header in &headers {
            stream.extend(encode(header));
            stream.extend((0..header.payload_len).map(|i| i as u8));
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        cuts.push(stream.len());
        cuts.sort_unstable();

        // A receiver that buffers what arrived and takes whole frames out of it.
        let mut parsed = Vec::new();
        let mut buffered: Vec<u8> = Vec::new();
        let mut start = 0;
        for cut in cuts {
            buffered.extend(&stream[start..cut]);
            start = cut;
            while let Status::Complete((header, header_len)) =
                FrameHeader::parse(&buffered, &rules).unwrap()
            {
                let frame_len = header_len + header.payload_len as usize;
                if buffered.len() < frame_len {
                    break;
                }
                parsed.push(header);
                buffered.drain(..frame_len);
            }
        }
        prop_assert!(buffered.is_empty());
        prop_assert_eq!(parsed, headers);
    }

    #[test]
    fn mask_equals_naive_at_any_length_alignment_and_offset(
        data in prop::collection::vec(any::<u8>(), 0..600),
        key in any::<[u8; 4]>(),
        start in 0..32usize,
        offset in any::<usize>(),
    ) {
        let start = start.min(data.len());
        let mut fast = data.clone();
        let mut naive = data.clone();
        apply_mask_at(&mut fast[start..], key, offset);
        apply_mask_naive(&mut naive[start..], key, offset);
        prop_assert_eq!(&fast, &naive);
        apply_mask_at(&mut fast[start..], key, offset);
        prop_assert_eq!(fast, data);
    }

    #[test]
    fn masking_in_pieces_equals_masking_whole(
        data in prop::collection::vec(any::<u8>(), 0..600),
        key in any::<[u8; 4]>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut whole = data.clone();
        apply_mask(&mut whole, key);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
        cuts.push(data.len());
        cuts.sort_unstable();
        let mut pieces = data;
        let mut start = 0;
        for cut in cuts {
            apply_mask_at(&mut pieces[start..cut], key, start);
            start = cut;
        }
        prop_assert_eq!(pieces, whole);
    }

    #[test]
    fn incremental_utf8_agrees_with_std_for_every_split(
        text in utf8_like_bytes(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        check_utf8_pieces(&text, &cuts)?;
    }
}

/// Byte strings that are mostly valid UTF-8 with occasional corruption, so that both the
/// valid and every kind of invalid outcome are common.
fn utf8_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => any::<char>().prop_map(|c| c.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 1..4),
        1 => prop::sample::select(vec![
            vec![0xED, 0xA0, 0x80], // surrogate
            vec![0xE0, 0x80, 0x80], // overlong
            vec![0xF4, 0x90, 0x80, 0x80], // above U+10FFFF
            vec![0xF0, 0x9F, 0x98], // truncated 4-byte
            vec![0xC0, 0xAF],
            vec![0x80],
        ]),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// Feeds `text` split at `cuts` and compares every outcome with `core::str::from_utf8`.
fn check_utf8_pieces(text: &[u8], cuts: &[prop::sample::Index]) -> Result<(), TestCaseError> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(text.len() + 1)).collect();
    cuts.push(text.len());
    cuts.sort_unstable();
    // The shortest prefix that std already calls invalid: the moment failure is certain.
    let certain_at = (1..=text.len()).find(
        |&end| matches!(std::str::from_utf8(&text[..end]), Err(e) if e.error_len().is_some()),
    );
    let std_result = std::str::from_utf8(text);

    let mut validator = Utf8Validator::new();
    let mut start = 0;
    for cut in cuts {
        let result = validator.feed(&text[start..cut]);
        match certain_at {
            Some(at) if at <= cut => {
                let error = result.expect_err("must fail once the invalid byte is fed");
                prop_assert_eq!(error.valid_up_to(), std_result.unwrap_err().valid_up_to());
                prop_assert!(!error.is_incomplete());
                return Ok(());
            }
            _ => prop_assert!(result.is_ok(), "failed early at {}: {:?}", cut, result),
        }
        start = cut;
    }
    match std_result {
        Ok(_) => prop_assert!(validator.finish().is_ok()),
        Err(std_error) => {
            let error = validator.finish().expect_err("text ends inside a code point");
            prop_assert!(error.is_incomplete());
            prop_assert_eq!(error.valid_up_to(), std_error.valid_up_to());
        }
    }
    Ok(())
}

#[test]
fn utf8_examples_from_autobahn_6_x() {
    // Valid 4-byte character split one byte at a time.
    let mut validator = Utf8Validator::new();
    for byte in "\u{1F600}".as_bytes() {
        validator.feed(std::slice::from_ref(byte)).unwrap();
    }
    validator.finish().unwrap();

    // κόσμε followed by an invalid byte: fails at the byte, even though frames follow.
    let mut validator = Utf8Validator::new();
    let error =
        validator.feed(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90").unwrap_err();
    assert_eq!(error.valid_up_to(), 11);
    // The first error is sticky.
    assert_eq!(validator.feed(b"ok"), Err(error));
    validator.reset();
    validator.feed(b"ok").unwrap();
}
