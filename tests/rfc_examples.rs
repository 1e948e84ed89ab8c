//! RFC 6455 §5.7 examples, byte for byte, through the frame core.

use wsmachine::frame::{
    apply_mask, CloseCode, FrameError, FrameHeader, HeaderRules, Opcode, Status,
};
use wsmachine::Role;

/// Parses one whole frame and returns its header and unmasked payload.
fn parse_frame(bytes: &[u8], receiver: Role) -> (FrameHeader, Vec<u8>) {
    let rules = HeaderRules::new(receiver);
    let Status::Complete((header, header_len)) = FrameHeader::parse(bytes, &rules).unwrap() else {
        panic!("incomplete header in {bytes:02x?}");
    };
    let mut payload = bytes[header_len..].to_vec();
    assert_eq!(payload.len() as u64, header.payload_len, "payload length");
    if let Some(key) = header.mask {
        apply_mask(&mut payload, key);
    }
    let mut encoded = [0u8; 14];
    let encoded_len = header.encode(&mut encoded).unwrap();
    assert_eq!(&encoded[..encoded_len], &bytes[..header_len], "re-encoded header");
    (header, payload)
}

#[test]
fn single_frame_unmasked_text() {
    let (header, payload) = parse_frame(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], Role::Client);
    assert_eq!(header, FrameHeader::new(Opcode::Text, 5));
    assert_eq!(payload, b"Hello");
}

#[test]
fn single_frame_masked_text() {
    let bytes = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    let (header, payload) = parse_frame(&bytes, Role::Server);
    assert_eq!(header, FrameHeader::new(Opcode::Text, 5).with_mask([0x37, 0xfa, 0x21, 0x3d]));
    assert_eq!(payload, b"Hello");
}

#[test]
fn fragmented_unmasked_text() {
    let (first, hel) = parse_frame(&[0x01, 0x03, 0x48, 0x65, 0x6c], Role::Client);
    assert_eq!(first, FrameHeader::new(Opcode::Text, 3).with_fin(false));
    let (last, lo) = parse_frame(&[0x80, 0x02, 0x6c, 0x6f], Role::Client);
    assert_eq!(last, FrameHeader::new(Opcode::Continuation, 2));
    assert_eq!([hel, lo].concat(), b"Hello");
}

#[test]
fn unmasked_ping_and_masked_pong() {
    let (ping, body) = parse_frame(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], Role::Client);
    assert_eq!(ping.opcode, Opcode::Ping);
    assert_eq!(body, b"Hello");
    let pong_bytes = [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    let (pong, body) = parse_frame(&pong_bytes, Role::Server);
    assert_eq!(pong.opcode, Opcode::Pong);
    assert_eq!(body, b"Hello");
}

#[test]
fn binary_256_bytes_uses_16_bit_length() {
    let mut bytes = vec![0x82, 0x7E, 0x01, 0x00];
    bytes.extend((0..=255u8).collect::<Vec<_>>());
    let (header, payload) = parse_frame(&bytes, Role::Client);
    assert_eq!(header, FrameHeader::new(Opcode::Binary, 256));
    assert_eq!(payload, (0..=255u8).collect::<Vec<_>>());
}

#[test]
fn binary_64_kib_uses_64_bit_length() {
    let mut bytes = vec![0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];
    bytes.resize(10 + 65536, 0xAB);
    let (header, payload) = parse_frame(&bytes, Role::Client);
    assert_eq!(header, FrameHeader::new(Opcode::Binary, 65536));
    assert_eq!(payload.len(), 65536);
}

/// Each violation of §5.1, §5.2 and §5.5, with the bytes that are enough to see it.
#[test]
fn every_violation_fails_early_with_its_error_and_close_code() {
    let client = HeaderRules::new(Role::Client);
    let server = HeaderRules::new(Role::Server);
    let mut small_limit = HeaderRules::new(Role::Client);
    small_limit.max_payload_len = 1000;
    let cases: &[(&[u8], &HeaderRules, FrameError, u16)] = &[
        (&[0x83], &client, FrameError::ReservedOpcode(0x3), 1002),
        (&[0x87], &client, FrameError::ReservedOpcode(0x7), 1002),
        (&[0x8B], &client, FrameError::ReservedOpcode(0xB), 1002),
        (&[0x8F], &client, FrameError::ReservedOpcode(0xF), 1002),
        (&[0xC1], &client, FrameError::ReservedBitsSet { rsv: wsmachine::frame::Rsv::RSV1 }, 1002),
        (&[0x09], &client, FrameError::FragmentedControlFrame { opcode: Opcode::Ping }, 1002),
        (
            &[0x88, 126, 0, 126],
            &client,
            FrameError::ControlFrameTooLong { opcode: Opcode::Close, len: 126 },
            1002,
        ),
        (&[0x81, 0x05], &server, FrameError::UnmaskedFrame, 1002),
        (&[0x81, 0x85], &client, FrameError::MaskedFrame, 1002),
        (&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0], &client, FrameError::LengthHighBitSet, 1002),
        (
            &[0x82, 126, 0, 125],
            &client,
            FrameError::NonMinimalLength { len: 125, length_bytes: 2 },
            1002,
        ),
        (
            &[0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF],
            &client,
            FrameError::NonMinimalLength { len: 65535, length_bytes: 8 },
            1002,
        ),
        (
            &[0x82, 126, 0x03, 0xE9],
            &small_limit,
            FrameError::FrameTooLarge { len: 1001, max: 1000 },
            1009,
        ),
    ];
    for (bytes, rules, expected, code) in cases {
        let error = FrameHeader::parse(bytes, rules).unwrap_err();
        assert_eq!(&error, expected, "{bytes:02x?}");
        assert_eq!(error.close_code(), CloseCode::from(*code), "{bytes:02x?}");
    }
}

#[test]
fn non_minimal_lengths_pass_when_allowed() {
    let mut lenient = HeaderRules::new(Role::Client);
    lenient.allow_non_minimal_length = true;
    let parsed = FrameHeader::parse(&[0x82, 126, 0, 5], &lenient).unwrap();
    assert_eq!(parsed, Status::Complete((FrameHeader::new(Opcode::Binary, 5), 4)));
    // A control frame in the 16-bit form is fine too when its value is small.
    let parsed = FrameHeader::parse(&[0x89, 126, 0, 5], &lenient).unwrap();
    assert_eq!(parsed, Status::Complete((FrameHeader::new(Opcode::Ping, 5), 4)));
}

#[test]
fn negotiated_rsv_bits_pass() {
    let mut rules = HeaderRules::new(Role::Client);
    rules.allowed_rsv = wsmachine::frame::Rsv::RSV1;
    let parsed = FrameHeader::parse(&[0xC1, 0x02], &rules).unwrap();
    let header = FrameHeader::new(Opcode::Text, 2).with_rsv(wsmachine::frame::Rsv::RSV1);
    assert_eq!(parsed, Status::Complete((header, 2)));
    let error = FrameHeader::parse(&[0xE1], &rules).unwrap_err();
    assert_eq!(error, FrameError::ReservedBitsSet { rsv: wsmachine::frame::Rsv::RSV2 });
}
