//! The property checks behind every fuzz target, shared with the stable corpus replay.
//!
//! Each check takes the raw fuzz input, runs one part of the frame core on it and panics when a
//! property fails: the fuzz targets in `fuzz/fuzz_targets/` call them under libFuzzer, and
//! `tests/fuzz_corpus.rs` runs every committed corpus file through them with `cargo test`, so
//! both run exactly the same assertions. Only `wsmachine`, `core` and `std` are used here.
//!
//! Input layouts (so that seeds can be written by hand):
//!
//! - [`frame_header`]: one byte choosing the [`HeaderRules`] (see [`rules_from_byte`]), then the
//!   bytes to parse.
//! - [`mask`]: a 4-byte key, one byte of payload offset, one byte of buffer alignment, then the
//!   payload.
//! - [`utf8_incremental`]: one byte whose low 3 bits give the number of split points, that many
//!   split-position bytes, then the text.
//! - [`close_body`]: the Close payload itself.
//! - [`server_connection`] / [`client_connection`]: a script of reads (the bytes the peer
//!   sends after a valid opening handshake: masked frames for the server), commands and time
//!   steps; see [`drive_connection`].
//! - [`handshake_request`]: the bytes a client sends to a server.
//! - [`handshake_response`]: the bytes a server sends back to a client that offered
//!   subprotocol `chat` and `permessage-deflate` with the key `AAAAAAAAAAAAAAAAAAAAAA==`.
//! - [`inflate`]: a window choice, an input piece size and an output room, then a raw DEFLATE
//!   stream.

// Every fuzz target includes this whole file but calls only its own check.
#![allow(dead_code)]

use wsmachine::frame::{
    apply_mask, apply_mask_at, apply_mask_naive, CloseBody, CloseBodyError, FrameError,
    FrameHeader, HeaderRules, Opcode, Rsv, Status, Utf8Validator, DEFAULT_MAX_PAYLOAD_LEN,
    MAX_HEADER_LEN, MAX_PAYLOAD_LEN,
};
use wsmachine::handshake::{
    accept_key, is_valid_key, ClientHandshake, Extension, HeadLimits, Incoming, PendingHandshake,
    Request, ResponseError,
};
use wsmachine::Role;

/// The payload limits [`rules_from_byte`] picks from: the default, the edges of the 7-bit,
/// 16-bit and 64-bit length forms, and no limit at all.
const MAX_PAYLOAD_CHOICES: [u64; 8] =
    [DEFAULT_MAX_PAYLOAD_LEN, 0, 125, 126, 0xFFFF, 0x1_0000, MAX_PAYLOAD_LEN, u64::MAX];

/// The [`HeaderRules`] a frame-header input's first byte selects.
///
/// Bit 0: the receiver is a server (else a client); bits 1–3: the allowed RSV bits (RSV1 is
/// bit 3); bit 4: non-minimal lengths allowed; bits 5–7: an index into
/// [`MAX_PAYLOAD_CHOICES`].
pub(crate) fn rules_from_byte(byte: u8) -> HeaderRules {
    let role = if byte & 1 != 0 { Role::Server } else { Role::Client };
    let mut rules = HeaderRules::new(role);
    rules.allowed_rsv = Rsv::from_bits_truncate(byte >> 1);
    rules.allow_non_minimal_length = byte & 0x10 != 0;
    rules.max_payload_len = MAX_PAYLOAD_CHOICES[usize::from(byte >> 5)];
    rules
}

/// The payload length the header bytes declare, if the length field is all there.
fn declared_len(bytes: &[u8]) -> Option<u64> {
    let code = bytes.get(1)? & 0x7F;
    match code {
        126 => {
            let field: [u8; 2] = bytes.get(2..4)?.try_into().ok()?;
            Some(u64::from(u16::from_be_bytes(field)))
        }
        127 => {
            let field: [u8; 8] = bytes.get(2..10)?.try_into().ok()?;
            Some(u64::from_be_bytes(field))
        }
        short => Some(u64::from(short)),
    }
}

/// Whether the header bytes carry their length in a longer form than the value needs.
fn length_is_non_minimal(bytes: &[u8]) -> bool {
    match (bytes.get(1).map(|second| second & 0x7F), declared_len(bytes)) {
        (Some(126), Some(len)) => len < 126,
        (Some(127), Some(len)) => len < 0x1_0000,
        _ => false,
    }
}

/// Frame header decoding (§5.2): parses the input after the rules byte and checks that a
/// complete header re-encodes to the same bytes, that every error is justified by the bytes and
/// reported as soon as they show it, and that incomplete input asks for a sensible amount more.
pub(crate) fn frame_header(data: &[u8]) {
    let (rules, bytes) = match data.split_first() {
        Some((&first, rest)) => (rules_from_byte(first), rest),
        None => (HeaderRules::new(Role::Server), data),
    };
    let outcome = FrameHeader::parse(bytes, &rules);
    match outcome {
        Ok(Status::Complete((header, len))) => check_complete_header(bytes, &rules, header, len),
        Ok(Status::Incomplete { needed }) => {
            assert!(needed >= 1, "Incomplete must ask for at least one byte");
            assert!(bytes.len() < MAX_HEADER_LEN, "{} bytes hold a whole header", bytes.len());
            assert!(
                bytes.len() + needed <= MAX_HEADER_LEN,
                "{} bytes plus needed {needed} exceed the longest header",
                bytes.len()
            );
        }
        Err(error) => check_header_error(bytes, &rules, error),
    }
}

fn check_complete_header(bytes: &[u8], rules: &HeaderRules, header: FrameHeader, len: usize) {
    assert!(len <= bytes.len(), "header length {len} > input length {}", bytes.len());
    assert!(matches!(len, 2 | 4 | 6 | 8 | 10 | 14), "impossible header length {len}");

    // The header obeys the rules it was parsed under.
    assert_eq!(header.mask.is_some(), rules.role.expects_masked_frames(), "mask vs role");
    assert!(rules.allowed_rsv.contains(header.rsv), "RSV {:?} not allowed", header.rsv);
    if header.opcode.is_control() {
        assert!(header.fin, "fragmented control frame accepted");
        assert!(header.payload_len <= 125, "control frame of {} accepted", header.payload_len);
    }
    assert!(header.payload_len <= rules.max_payload_len, "over the payload limit");
    assert!(header.payload_len <= MAX_PAYLOAD_LEN, "64-bit length with the top bit set");
    assert_eq!(Some(header.payload_len), declared_len(bytes), "payload length");

    // Encoding gives back the input bytes, except for a tolerated non-minimal length.
    let mut encoded = [0u8; MAX_HEADER_LEN];
    let encoded_len = header.encode(&mut encoded).expect("a parsed header encodes");
    assert_eq!(encoded_len, header.encoded_len());
    let encoded = &encoded[..encoded_len];
    if length_is_non_minimal(bytes) {
        assert!(rules.allow_non_minimal_length, "non-minimal length accepted");
        assert!(encoded_len < len, "the minimal encoding is shorter");
        assert_eq!(
            FrameHeader::parse(encoded, rules),
            Ok(Status::Complete((header, encoded_len))),
            "the minimal re-encoding parses to the same header"
        );
    } else {
        assert_eq!(encoded, &bytes[..len], "encode(parse(bytes)) != bytes");
    }

    // Bytes after the header do not matter.
    assert_eq!(FrameHeader::parse(&bytes[..len], rules), Ok(Status::Complete((header, len))));

    // Every strict prefix is incomplete, and asks for no more than the header still lacks.
    for k in 0..len {
        match FrameHeader::parse(&bytes[..k], rules) {
            Ok(Status::Incomplete { needed }) => {
                assert!(needed >= 1, "prefix of {k} bytes: needed 0");
                assert!(k + needed <= len, "prefix of {k} bytes: needed {needed} > {}", len - k);
            }
            other => panic!("prefix of {k} of {len} header bytes gave {other:?}"),
        }
    }
}

fn check_header_error(bytes: &[u8], rules: &HeaderRules, error: FrameError) {
    // Errors are reported as soon as the bytes show them: the shortest failing prefix already
    // fails the same way, and every shorter prefix is merely incomplete.
    let mut first_failure = None;
    for k in 0..=bytes.len().min(MAX_HEADER_LEN) {
        match FrameHeader::parse(&bytes[..k], rules) {
            Ok(Status::Incomplete { needed }) => assert!(needed >= 1, "prefix {k}: needed 0"),
            Ok(Status::Complete(done)) => {
                panic!("prefix of {k} bytes is complete ({done:?}) but the input fails")
            }
            Err(prefix_error) => {
                first_failure = Some((k, prefix_error));
                break;
            }
        }
    }
    let (shortest, prefix_error) = first_failure.expect("an error shows within 14 bytes");
    assert_eq!(prefix_error, error, "the first {shortest} bytes fail differently");

    // The error is justified by the bytes, and names the right close code (§7.4.1).
    let first = bytes[0];
    let opcode_bits = first & 0x0F;
    let code = error.close_code().as_u16();
    match error {
        FrameError::FrameTooLarge { len, max } => {
            assert_eq!(code, 1009);
            assert_eq!(max, rules.max_payload_len);
            assert!(len > max);
            assert_eq!(Some(len), declared_len(bytes));
        }
        _ => assert_eq!(code, 1002, "{error:?} closes with {code}"),
    }
    match error {
        FrameError::ReservedOpcode(bits) => {
            assert_eq!(bits, opcode_bits);
            assert!(Opcode::from_u8(bits).is_none(), "opcode {bits:#x} is not reserved");
        }
        FrameError::ReservedBitsSet { rsv } => {
            assert!(!rsv.is_empty());
            assert_eq!(rsv, Rsv::from_bits_truncate(first >> 4).difference(rules.allowed_rsv));
        }
        FrameError::FragmentedControlFrame { opcode } => {
            assert_eq!(opcode.as_u8(), opcode_bits);
            assert!(opcode.is_control() && first & 0x80 == 0);
        }
        FrameError::ControlFrameTooLong { opcode, len } => {
            assert_eq!(opcode.as_u8(), opcode_bits);
            assert!(opcode.is_control() && len > 125);
            assert_eq!(Some(len), declared_len(bytes));
        }
        FrameError::UnmaskedFrame => {
            assert_eq!(rules.role, Role::Server);
            assert_eq!(bytes[1] & 0x80, 0);
        }
        FrameError::MaskedFrame => {
            assert_eq!(rules.role, Role::Client);
            assert_ne!(bytes[1] & 0x80, 0);
        }
        FrameError::LengthHighBitSet => {
            assert_eq!(bytes[1] & 0x7F, 127);
            assert!(declared_len(bytes).is_some_and(|len| len > MAX_PAYLOAD_LEN));
        }
        FrameError::NonMinimalLength { len, length_bytes } => {
            assert!(!rules.allow_non_minimal_length, "non-minimal lengths are allowed");
            assert!(length_is_non_minimal(bytes));
            assert_eq!(Some(len), declared_len(bytes));
            let expected_bytes = if bytes[1] & 0x7F == 126 { 2 } else { 8 };
            assert_eq!(length_bytes, expected_bytes);
        }
        _ => {}
    }
}

/// Payload masking (§5.3): the fast [`apply_mask_at`] against the byte-at-a-time oracle at any
/// buffer alignment and payload offset, masking twice is the identity, and masking in pieces
/// with running offsets equals masking whole.
pub(crate) fn mask(data: &[u8]) {
    let Some((&[k0, k1, k2, k3, offset_byte, align_byte], payload)) = data.split_first_chunk()
    else {
        return;
    };
    let key = [k0, k1, k2, k3];
    // High offsets too, where `offset + i` wraps around in the oracle.
    let offset = if offset_byte & 0x80 != 0 {
        usize::MAX - usize::from(offset_byte & 0x7F)
    } else {
        usize::from(offset_byte)
    };
    let align = usize::from(align_byte % 16);
    let len = payload.len();

    // The payload sits `align` bytes into a buffer, with guard bytes on both sides.
    let mut original = vec![0xA5u8; align + len + 16];
    original[align..align + len].copy_from_slice(payload);
    let range = align..align + len;

    let mut fast = original.clone();
    apply_mask_at(&mut fast[range.clone()], key, offset);
    let mut naive = original.clone();
    apply_mask_naive(&mut naive[range.clone()], key, offset);
    assert_eq!(fast, naive, "apply_mask_at != oracle (align {align}, offset {offset})");

    let mut twice = fast.clone();
    apply_mask_at(&mut twice[range.clone()], key, offset);
    assert_eq!(twice, original, "masking twice is not the identity");

    if offset % 4 == 0 {
        let mut whole = original.clone();
        apply_mask(&mut whole[range.clone()], key);
        assert_eq!(whole, fast, "apply_mask != apply_mask_at at a multiple of 4");
    }

    // Three pieces at split points taken from the data, each masked at its running offset.
    let seed = usize::from(k0 ^ k2) | (usize::from(k1 ^ k3) << 8);
    let first_split = seed % (len + 1);
    let second_split = first_split + (seed >> 3) % (len - first_split + 1);
    let mut pieces = original.clone();
    let (head, tail) = pieces[range].split_at_mut(first_split);
    let (middle, last) = tail.split_at_mut(second_split - first_split);
    apply_mask_at(head, key, offset);
    apply_mask_at(middle, key, offset.wrapping_add(first_split));
    apply_mask_at(last, key, offset.wrapping_add(second_split));
    assert_eq!(pieces, fast, "masking split at {first_split} and {second_split} differs");
}

/// Incremental UTF-8 validation (§8.1): feeding the text in pieces agrees with
/// [`core::str::from_utf8`] on the whole text, including `valid_up_to`, and an invalid sequence
/// fails in exactly the feed call that brings the byte making the text certainly invalid.
pub(crate) fn utf8_incremental(data: &[u8]) {
    let Some((&count_byte, rest)) = data.split_first() else {
        return;
    };
    let count = usize::from(count_byte & 7).min(rest.len());
    let (split_bytes, text) = rest.split_at(count);
    let mut splits: Vec<usize> =
        split_bytes.iter().map(|&byte| usize::from(byte) % (text.len() + 1)).collect();
    splits.sort_unstable();
    let mut bounds = Vec::with_capacity(splits.len() + 2);
    bounds.push(0);
    bounds.extend(splits);
    bounds.push(text.len());

    let expected = core::str::from_utf8(text);
    // The end of the shortest prefix that is certainly invalid; only bytes after the valid
    // part can end it, and a code point is at most 4 bytes long.
    let fail_at = expected.err().and_then(|error| {
        error.error_len()?;
        let start = error.valid_up_to() + 1;
        let end = (error.valid_up_to() + 4).min(text.len());
        let shortest = (start..=end).find(|&k| {
            core::str::from_utf8(&text[..k]).is_err_and(|prefix| prefix.error_len().is_some())
        });
        Some(shortest.expect("an invalid sequence shows within 4 bytes"))
    });

    let mut validator = Utf8Validator::new();
    let mut failure = None;
    for window in bounds.windows(2) {
        let (start, end) = (window[0], window[1]);
        let result = validator.feed(&text[start..end]);
        match (failure, fail_at) {
            // Already failed: the error sticks.
            (Some(error), _) => assert_eq!(result, Err(error), "the first error is final"),
            // This piece brings the byte that makes the text invalid.
            (None, Some(at)) if start < at && at <= end => {
                let error = result.expect_err("the piece that makes the text invalid must fail");
                assert!(!error.is_incomplete(), "an invalid sequence is not incomplete");
                failure = Some(error);
            }
            (None, _) => {
                if let Err(error) = result {
                    panic!(
                        "piece {start}..{end} failed early with {error:?} (invalid at {fail_at:?})"
                    )
                }
            }
        }
    }
    if failure.is_none() {
        let ends_mid_code_point = expected.is_err_and(|error| error.error_len().is_none());
        assert_eq!(validator.is_mid_code_point(), ends_mid_code_point, "is_mid_code_point");
    }
    let finished = validator.finish();

    match expected {
        Ok(_) => assert_eq!(finished, Ok(()), "valid text rejected"),
        Err(error) => {
            let reported = finished.expect_err("invalid text accepted");
            assert_eq!(reported.valid_up_to(), error.valid_up_to(), "valid_up_to differs");
            assert_eq!(reported.is_incomplete(), error.error_len().is_none());
            assert_eq!(reported.close_code().as_u16(), 1007);
            if let Some(error) = failure {
                assert_eq!(reported, error, "finish reports a different error");
            }
        }
    }

    // A reset validator given the whole text at once agrees.
    validator.reset();
    let whole = validator.feed(text).and_then(|()| validator.finish());
    assert_eq!(whole, finished, "whole text and pieces disagree");
}

/// Whether a close code may appear in a Close frame (§7.4.1, §7.4.2 and the IANA registry),
/// written out here independently of [`wsmachine::frame::CloseCode::is_allowed_on_wire`].
fn close_code_allowed(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Close payload parsing (§5.5.1): accepted exactly when empty or a wire-allowed code and a
/// UTF-8 reason within 125 bytes, re-encodes to the same bytes, and every error is justified
/// and names its close code (1007 for a bad reason, 1002 otherwise).
pub(crate) fn close_body(data: &[u8]) {
    let code = match data {
        [hi, lo, ..] => Some(u16::from_be_bytes([*hi, *lo])),
        _ => None,
    };
    if let Some(code) = code {
        assert_eq!(
            wsmachine::frame::CloseCode::from(code).is_allowed_on_wire(),
            close_code_allowed(code),
            "is_allowed_on_wire({code})"
        );
    }
    let reason = data.get(2..).map(core::str::from_utf8);
    let valid = data.is_empty()
        || (data.len() <= 125
            && code.is_some_and(close_code_allowed)
            && reason.is_some_and(|reason| reason.is_ok()));

    match CloseBody::parse(data) {
        Ok(None) => assert!(data.is_empty(), "a non-empty payload parsed to no body"),
        Ok(Some(body)) => {
            assert!(valid, "invalid close payload accepted");
            assert_eq!(Some(body.code().as_u16()), code);
            assert_eq!(body.reason().as_bytes(), &data[2..]);
            assert_eq!(body.encoded_len(), data.len());
            let mut encoded = [0u8; 125];
            let len = body.encode(&mut encoded).expect("a parsed body fits 125 bytes");
            assert_eq!(&encoded[..len], data, "encode(parse(payload)) != payload");
            assert_eq!(CloseBody::new(body.code(), body.reason()), Ok(body));
        }
        Err(error) => {
            assert!(!valid, "valid close payload rejected with {error:?}");
            let expected_code = match error {
                CloseBodyError::ReasonNotUtf8 { .. } => 1007,
                _ => 1002,
            };
            assert_eq!(error.close_code().as_u16(), expected_code, "{error:?}");
            match error {
                CloseBodyError::Truncated => assert_eq!(data.len(), 1),
                CloseBodyError::TooLong { len } => {
                    assert_eq!(len, data.len());
                    assert!(len > 125);
                }
                CloseBodyError::CodeNotAllowed(reported) => {
                    assert_eq!(Some(reported.as_u16()), code);
                    assert!(!close_code_allowed(reported.as_u16()));
                }
                CloseBodyError::ReasonNotUtf8 { valid_up_to } => {
                    let std_error = reason.and_then(Result::err).expect("the reason is invalid");
                    assert_eq!(valid_up_to, std_error.valid_up_to());
                }
                _ => {}
            }
        }
    }
}

/// The limits the handshake checks run with: small, so that the limits themselves are reached.
fn handshake_limits() -> HeadLimits {
    let mut limits = HeadLimits::default();
    limits.max_head_len = 2048;
    limits.max_headers = 16;
    limits
}

/// Server handshake (§4.2): reading a request never panics; a complete head is complete at
/// exactly one length whatever comes after it; an accepted upgrade yields a 101 response whose
/// `Sec-WebSocket-Accept` verifies and which no header value can split; every failure has an
/// HTTP status from the handshake's set and a rejection that says it.
pub(crate) fn handshake_request(data: &[u8]) {
    let limits = handshake_limits();
    let (request, head_len) = match Request::parse(data, &limits) {
        Ok(Status::Complete(parsed)) => parsed,
        Ok(Status::Incomplete { needed }) => {
            assert!(needed >= 1);
            assert!(data.len() < limits.max_head_len, "incomplete past the head limit");
            return;
        }
        Err(error) => {
            assert!(matches!(error.status(), 400 | 405 | 426 | 431), "{error:?}");
            let mut out = Vec::new();
            error.rejection().write(&mut out);
            assert!(out.starts_with(format!("HTTP/1.1 {} ", error.status()).as_bytes()));
            return;
        }
    };
    assert!(head_len <= data.len() && head_len <= limits.max_head_len);
    // The same head, with or without what follows, and incomplete before its end.
    assert_eq!(
        Request::parse(&data[..head_len], &limits),
        Ok(Status::Complete((request.clone(), head_len)))
    );
    for cut in [0, head_len / 2, head_len - 1] {
        assert!(
            matches!(Request::parse(&data[..cut], &limits), Ok(Status::Incomplete { .. })),
            "a prefix of {cut} bytes of a {head_len}-byte head is not incomplete"
        );
    }
    match request.classify() {
        Ok(Incoming::WebSocket(upgrade)) => {
            assert!(is_valid_key(upgrade.key().as_bytes()));
            let mut response = Vec::new();
            let mut accept = upgrade.accept();
            if let Some(protocol) = upgrade.protocols().first() {
                accept = accept.protocol(protocol);
            }
            let echoed = upgrade.extensions().first();
            if let Some(extension) = echoed {
                accept = accept.extension(extension.clone());
            }
            let negotiated = match accept.write(&mut response) {
                Ok(negotiated) => negotiated,
                // An offer echoed back is not always a valid permessage-deflate response (a
                // bare client_max_window_bits, say); with the deflate feature it is refused. Extension
                // names compare case-insensitively (§9.1 tokens).
                Err(error)
                    if echoed
                        .is_some_and(|e| e.name().eq_ignore_ascii_case("permessage-deflate")) =>
                {
                    assert!(error.to_string().starts_with("permessage-deflate"), "{error}");
                    assert!(response.is_empty(), "a refused response was written");
                    return;
                }
                Err(error) => panic!("offered choices are refused: {error}"),
            };
            assert_eq!(negotiated.protocol(), upgrade.protocols().first().map(String::as_str));
            let expected =
                format!("\r\nSec-WebSocket-Accept: {}\r\n", accept_key(upgrade.key().as_bytes()));
            assert!(contains(&response, expected.as_bytes()), "accept key missing or wrong");
            let blank_lines = response.windows(4).filter(|w| w == b"\r\n\r\n").count();
            assert_eq!(blank_lines, 1, "the response head was split");
            assert!(response.ends_with(b"\r\n\r\n"));
        }
        Ok(Incoming::Http(_)) => {}
        Err(error) => assert!(matches!(error.status(), 400 | 405 | 426 | 431), "{error:?}"),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// The client the response checks answer: offered `chat` and `permessage-deflate`, key of 16
/// zero bytes.
fn fuzz_client() -> PendingHandshake {
    let mut request = Vec::new();
    ClientHandshake::new("ws://example.com/chat")
        .expect("a valid URI")
        .protocol("chat")
        .extension(Extension::new("permessage-deflate").expect("a token"))
        .write_request(&mut |buf: &mut [u8]| buf.fill(0), &mut request)
        .expect("a valid request")
}

/// Client handshake (§4.1): reading a response never panics; an accepted response verified
/// the accept key and selected only what was offered, and is incomplete before its head ends;
/// a rejection carries a status other than 101 and a bounded body.
pub(crate) fn handshake_response(data: &[u8]) {
    let pending = fuzz_client();
    match pending.read_response(data) {
        Ok(Status::Complete((accepted, head_len))) => {
            assert!(head_len <= data.len());
            let accept = accept_key(pending.key().as_bytes());
            assert!(accepted
                .headers()
                .iter()
                .any(|h| h.is("sec-websocket-accept") && h.value() == accept.as_bytes()));
            let negotiated = accepted.negotiated();
            assert!(matches!(negotiated.protocol(), None | Some("chat")));
            assert!(negotiated.extensions().iter().all(|e| e.name() == "permessage-deflate"));
            for cut in [0, head_len / 2, head_len - 1] {
                assert!(matches!(
                    pending.read_response(&data[..cut]),
                    Ok(Status::Incomplete { .. })
                ));
            }
        }
        Ok(Status::Incomplete { needed }) => assert!(needed >= 1),
        Err(ResponseError::Rejected(rejection)) => {
            assert_ne!(rejection.status(), 101);
            assert!(rejection.body().len() <= 64 * 1024);
        }
        Err(_) => {}
    }
}

/// The limits the connection checks run with: small, so that they are reached.
fn connection_config() -> wsmachine::Config {
    let mut config = wsmachine::Config::default();
    config.max_frame_len = 1024;
    config.max_message_len = 4096;
    config.max_fragments = 16;
    config.max_buffered_output = 1 << 20;
    config
}

/// A valid request for a server connection.
const FUZZ_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// The time a scripted connection is on: milliseconds since it was created.
type Clock = core::time::Duration;

/// What a script did to a connection, and what it saw.
#[derive(Default)]
struct Driven {
    events: Vec<Result<wsmachine::Event, wsmachine::ProtocolError>>,
    output: Vec<u8>,
    /// The code of the Close this end must have sent (`Some(None)`: an empty one), fixed by
    /// whatever first took the connection out of the open state; `None` when nothing did
    /// that called for one.
    close_owed: Option<Option<u16>>,
}

/// Drives `connection` through `prefix` (its handshake, in one read) and then `script`, a
/// program of one-byte operations, most followed by their operand:
///
/// - `0x00..=0x7f`: receive the next `op + 1` bytes of the script;
/// - `0x80`/`0x81`: send a text/binary message of the next byte's length; `0x82`/`0x83`: a
///   Ping/Pong; `0x84`: close with the code the next byte picks; `0x85`: begin a streamed
///   message; `0x86`: send its next piece (`last` from the next byte's bit 0);
///   `0x87`: `release_buffers`; `0x88`: lend an output buffer; `0x89..=0x8f`: take the output;
/// - `0x90..=0xbf`: `handle_timeout`, `(op - 0x90)` seconds later;
/// - `0xc0`: the end of input (EOF); `0xc1..=0xff`: `handle_timeout`, `op & 0x3f` ms later.
///
/// Every text and binary message is echoed. After each operation: at most one error, the end
/// right after it and nothing after the end; each command's `Ok`/`Err` agrees with the state
/// it found (an `Err` of the state names it); a deadline never stays passed; the input held
/// stays within the limits.
fn drive_connection<R: wsmachine::RandomSource>(
    connection: &mut wsmachine::Connection<R, Clock>,
    config: &wsmachine::Config,
    prefix: &[u8],
    mut script: &[u8],
) -> Driven {
    use wsmachine::{CloseCause, CommandError, Event, MessageKind, State};
    let limit = config.max_message_len as usize + config.max_frame_len as usize;
    let mut driven = Driven::default();
    let mut now = Clock::ZERO;
    let mut eof = false;
    connection.receive(prefix);
    let mut first = true;
    while first || !script.is_empty() {
        let before = connection.state();
        let mut closed_by = None;
        if first {
            first = false;
        } else {
            let (&op, rest) = script.split_first().expect("not empty");
            script = rest;
            let mut operand = || {
                let (&byte, rest) = script.split_first().unwrap_or((&0, &[]));
                script = rest;
                byte
            };
            let result: Option<Result<(), CommandError>> = match op {
                0x00..=0x7f => {
                    let (chunk, rest) = script.split_at(usize::from(op + 1).min(script.len()));
                    script = rest;
                    if !eof {
                        connection.receive(chunk);
                    }
                    None
                }
                0x80 | 0x81 => {
                    let len = usize::from(operand());
                    let payload: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                    Some(if op == 0x80 {
                        connection.sender().send_text(std::str::from_utf8(&payload).unwrap())
                    } else {
                        connection.sender().send_binary(&payload)
                    })
                }
                0x82 => Some(connection.sender().send_ping(b"fuzz")),
                0x83 => Some(connection.sender().send_pong(b"fuzz")),
                0x84 => {
                    let code = [1000u16, 1001, 1003, 1008, 3000, 4999, 1005, 999]
                        [usize::from(operand() % 8)];
                    let result =
                        connection.sender().close(wsmachine::frame::CloseCode::from(code), "x");
                    if result.is_ok() {
                        closed_by = Some(Some(code));
                    }
                    Some(result)
                }
                0x85 => Some(connection.sender().begin_message(MessageKind::Binary, b"ab", false)),
                0x86 => Some(connection.sender().send_piece(b"cd", operand() & 1 == 1)),
                0x87 => {
                    connection.release_buffers();
                    None
                }
                0x88 => {
                    connection.lend_output_buffer(Vec::with_capacity(1024));
                    None
                }
                0x89..=0x8f => {
                    connection.poll_transmit(&mut driven.output);
                    None
                }
                0x90..=0xbf => {
                    now += Clock::from_secs(u64::from(op - 0x90));
                    pass_time(connection, now);
                    None
                }
                0xc0 => {
                    eof = true;
                    connection.receive_eof();
                    None
                }
                _ => {
                    now += Clock::from_millis(u64::from(op & 0x3f));
                    pass_time(connection, now);
                    None
                }
            };
            match result {
                Some(Ok(())) => assert_eq!(before, State::Open, "a command succeeded in {before}"),
                Some(Err(CommandError::NotAllowed { state, .. })) => {
                    assert_eq!(state, before, "the error names the state");
                    assert_ne!(before, State::Open, "refused while open");
                }
                Some(Err(_)) | None => {}
            }
        }
        while let Some(event) = connection.poll_event() {
            let over = matches!(driven.events.last(), Some(Ok(Event::Closed(_))));
            assert!(!over, "an event after the end: {event:?}");
            if let Some(Err(_)) = driven.events.last() {
                assert!(matches!(event, Ok(Event::Closed(_))), "{event:?} after an error");
            }
            match &event {
                Ok(Event::Request(request)) => {
                    connection.accept(request.accept()).expect("offered");
                }
                Ok(Event::Text(text)) => {
                    let _closing = connection.sender().send_text(text.as_str());
                }
                Ok(Event::Binary(data)) => {
                    let _closing = connection.sender().send_binary(data);
                }
                Ok(Event::Close(close)) if closed_by.is_none() && before == State::Open => {
                    let code = close.code.as_u16();
                    closed_by = Some((code != 1005).then_some(code));
                }
                Err(error) if closed_by.is_none() && before == State::Open => {
                    closed_by = Some(error.close_code().map(|code| code.as_u16()));
                }
                Ok(Event::Closed(closed)) => {
                    assert!(!connection.is_open());
                    if closed_by.is_none() && before == State::Open {
                        closed_by = match closed.cause {
                            CloseCause::PongTimeout => Some(Some(1011)),
                            _ => None,
                        };
                    }
                }
                _ => {}
            }
            driven.events.push(event);
            assert!(driven.events.len() <= 2 * (prefix.len() + 64 * 1024) + 8);
        }
        if before == State::Open && connection.state() == State::CloseSent && closed_by.is_none() {
            closed_by = Some(Some(1001)); // the idle deadline
        }
        if driven.close_owed.is_none() && before == State::Open {
            driven.close_owed = closed_by;
        }
        if connection.should_close_transport() {
            assert!(connection.closed().is_some(), "the transport closes only at the end");
        }
        assert!(
            connection.buffered_input() <= limit + 14 + 128,
            "{} bytes buffered past the limits",
            connection.buffered_input()
        );
    }
    pass_time(connection, now);
    connection.poll_transmit(&mut driven.output);
    driven
}

/// Gives `connection` the time: no deadline is left passed.
fn pass_time<R: wsmachine::RandomSource>(
    connection: &mut wsmachine::Connection<R, Clock>,
    now: Clock,
) {
    connection.handle_timeout(now);
    if let Some(deadline) = connection.poll_timeout() {
        assert!(deadline > now, "a deadline left passed: {deadline:?} at {now:?}");
    }
}

/// A script that receives `data` in reads of sizes chosen by `sizes`, doing nothing else.
fn reads_of(data: &[u8], sizes: u8) -> Vec<u8> {
    let mut script = Vec::with_capacity(data.len() + data.len() / 8 + 1);
    let mut step = 0u32;
    for chunk in data.chunks(97) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let size = (1 + (usize::from(sizes.rotate_left(step)) * 7 + step as usize) % 97)
                .min(rest.len());
            step += 1;
            script.push(u8::try_from(size - 1).expect("at most 97"));
            script.extend_from_slice(&rest[..size]);
            rest = &rest[size..];
        }
    }
    script.push(0xc0);
    script
}

/// Checks what a connection wrote after its handshake: whole, well-formed frames, masked
/// exactly when `masked`, with no RSV bit outside `allowed_rsv`, at most one Close and nothing
/// but control frames after it, and the Close `driven` says was owed (the error's code when a
/// protocol error ended an open connection). Returns the data frames, unmasked.
fn check_connection_output(
    driven: &Driven,
    frames: &[u8],
    masked: bool,
    allowed_rsv: Rsv,
) -> Vec<(FrameHeader, Vec<u8>)> {
    let errors: Vec<_> = driven.events.iter().filter_map(|event| event.as_ref().err()).collect();
    assert!(errors.len() <= 1, "{} errors reported: {errors:?}", errors.len());
    let mut rules = HeaderRules::new(if masked { Role::Server } else { Role::Client });
    rules.max_payload_len = MAX_PAYLOAD_LEN;
    rules.allowed_rsv = allowed_rsv;
    let mut data_frames = Vec::new();
    let mut rest = frames;
    let mut close = None;
    while !rest.is_empty() {
        let Ok(Status::Complete((header, header_len))) = FrameHeader::parse(rest, &rules) else {
            panic!("output is not whole frames: {:02x?}", &rest[..rest.len().min(16)]);
        };
        let end = header_len + header.payload_len as usize;
        assert!(end <= rest.len(), "a frame is cut off");
        let mut payload = rest[header_len..end].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key);
        }
        if header.opcode == Opcode::Close {
            assert!(close.is_none(), "two Close frames sent");
            let body = CloseBody::parse(&payload).expect("a valid close payload");
            close = Some(body.map(|body| body.code().as_u16()));
        } else if header.opcode.is_data() {
            assert!(close.is_none(), "a data frame after our Close");
            data_frames.push((header, payload));
        }
        rest = &rest[end..];
    }
    if let Some(owed) = driven.close_owed {
        assert_eq!(close, Some(owed), "the Close owed: {:?}", driven.events);
    }
    data_frames
}

/// A server connection (§4.2, §5–§8) fed a valid request and then a script of reads, commands
/// and time steps ([`drive_connection`]): never panics, reports at most one error and ends
/// once, keeps its buffers within the limits, refuses exactly the commands its state does not
/// allow, writes only whole unmasked frames, and sends the Close it owes.
pub(crate) fn server_connection(data: &[u8]) {
    let mut server = wsmachine::Connection::server(connection_config(), Clock::ZERO);
    let driven = drive_connection(&mut server, &connection_config(), FUZZ_REQUEST, data);
    assert!(matches!(driven.events.first(), Some(Ok(wsmachine::Event::Request(_)))));
    let output = &driven.output;
    let head_end = output.windows(4).position(|w| w == b"\r\n\r\n").expect("a 101 response") + 4;
    assert!(output.starts_with(b"HTTP/1.1 101 "));
    check_connection_output(&driven, &output[head_end..], false, Rsv::NONE);
}

/// A client connection (§4.1, §5–§8) given a valid 101 and then a script: the same properties
/// as [`server_connection`], with masked output.
pub(crate) fn client_connection(data: &[u8]) {
    let handshake = ClientHandshake::new("ws://a/").expect("a valid URI");
    let zeros = |buf: &mut [u8]| buf.fill(0);
    let mut client =
        wsmachine::Connection::client_with(handshake, connection_config(), zeros, Clock::ZERO)
            .expect("valid");
    let mut request = Vec::new();
    client.poll_transmit(&mut request);
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(b"AAAAAAAAAAAAAAAAAAAAAA==")
    );
    let driven = drive_connection(&mut client, &connection_config(), response.as_bytes(), data);
    let first = driven.events.first();
    assert!(matches!(first, Some(Ok(wsmachine::Event::Accepted(_)))), "{:?}", driven.events);
    check_connection_output(&driven, &driven.output, true, Rsv::NONE);
}

/// A server connection with permessage-deflate (RFC 7692) negotiated with parameters the input
/// chooses, fed a script of compressed, uncompressed, corrupted and raw messages: besides the
/// properties of [`server_connection`], every message sent before the first raw or corrupted
/// one arrives exactly as compressed, and the server's echo (compressed, RSV1 on its frames)
/// inflates back to exactly what the server received.
///
/// Layout: a read-size byte, a parameter byte (bit 0 `server_no_context_takeover`, bit 1
/// `client_no_context_takeover`, bits 2–4 and 5–7 the server's and client's window bits minus
/// 8), then operations of `[op, len, len bytes]`: `op & 3` is 0 for raw bytes, 1 for a
/// compressed message, 2 for an uncompressed one, 3 for a compressed one with a bit flipped;
/// `op & 4` asks for binary; `op >> 4` picks the fragment size.
#[cfg(feature = "deflate")]
pub(crate) fn deflate_connection(data: &[u8]) {
    use wsmachine::extensions::deflate::{DeflateConfig, MessageCompressor, MessageDecompressor};
    use wsmachine::handshake::parse_extensions;
    use wsmachine::{Event, MessageKind};

    let Some((&[sizes, choice], mut script)) = data.split_first_chunk::<2>() else { return };
    let mut deflate = DeflateConfig::default();
    deflate.server_no_context_takeover = choice & 1 != 0;
    deflate.client_no_context_takeover = choice & 2 != 0;
    deflate.server_max_window_bits = 8 + ((choice >> 2) & 7);
    deflate.client_max_window_bits = 8 + (choice >> 5);
    let offer = "permessage-deflate; client_max_window_bits";
    let offers = parse_extensions([offer.as_bytes()]).expect("a valid offer");
    let (_, params) = deflate.accept(&offers).expect("the offer is accepted");
    let mut config = connection_config();
    config.deflate = Some(deflate);

    let mut input = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: {offer}\r\n\r\n"
    )
    .into_bytes();
    let mut compressor =
        MessageCompressor::new(params.client_max_window_bits, params.client_no_context_takeover);
    let mut expected: Vec<(MessageKind, Vec<u8>)> = Vec::new();
    // After raw or corrupted bytes nothing more is predicted.
    let mut wild = false;
    while let Some((&op, rest)) = script.split_first() {
        let len = usize::from(rest.first().copied().unwrap_or(0));
        let rest = rest.get(1..).unwrap_or(&[]);
        let (payload, tail) = rest.split_at(len.min(rest.len()));
        script = tail;
        let is_text = op & 4 == 0 && std::str::from_utf8(payload).is_ok();
        let (kind, opcode) = if is_text {
            (MessageKind::Text, Opcode::Text)
        } else {
            (MessageKind::Binary, Opcode::Binary)
        };
        // At least 17 bytes per fragment keeps a message within 16 fragments.
        let fragment = 17 + usize::from(op >> 4) * 16;
        match op & 3 {
            0 => {
                input.extend_from_slice(payload);
                wild = true;
            }
            2 => push_message(&mut input, opcode, payload, fragment, Rsv::NONE),
            corrupt => {
                let mut compressed = Vec::new();
                compressor.compress(payload, &mut compressed);
                if corrupt == 3 {
                    let at = len % compressed.len();
                    compressed[at] ^= 1 << (op >> 5);
                    wild = true;
                }
                push_message(&mut input, opcode, &compressed, fragment, Rsv::RSV1);
            }
        }
        if !wild {
            expected.push((kind, payload.to_vec()));
        }
    }

    let mut server = wsmachine::Connection::server(config, Clock::ZERO);
    let driven = drive_connection(&mut server, &config, &[], &reads_of(&input, sizes));
    let (events, output) = (&driven.events, &driven.output);
    assert!(matches!(events.first(), Some(Ok(Event::Request(_)))));
    let head_end = output.windows(4).position(|w| w == b"\r\n\r\n").expect("a 101 response") + 4;
    let head = String::from_utf8_lossy(&output[..head_end]);
    assert!(head.contains("\r\nSec-WebSocket-Extensions: permessage-deflate"), "{head}");
    let frames = check_connection_output(&driven, &output[head_end..], false, Rsv::RSV1);

    let received: Vec<(MessageKind, Vec<u8>)> = events
        .iter()
        .filter_map(|event| match event {
            Ok(Event::Text(text)) => Some((MessageKind::Text, text.as_bytes().to_vec())),
            Ok(Event::Binary(data)) => Some((MessageKind::Binary, data.to_vec())),
            _ => None,
        })
        .collect();
    assert!(
        received.len() >= expected.len(),
        "{} of {} messages arrived",
        received.len(),
        expected.len()
    );
    assert!(received[..expected.len()] == expected[..], "a message arrived changed");

    let mut decompressor =
        MessageDecompressor::new(params.server_max_window_bits, params.server_no_context_takeover);
    let echoed: Vec<(MessageKind, Vec<u8>)> = frames
        .iter()
        .map(|(header, payload)| {
            assert!(header.fin && header.rsv == Rsv::RSV1, "echo not one compressed frame");
            let mut inflated = Vec::new();
            decompressor.decompress(payload, &mut inflated, 1 << 20).expect("valid DEFLATE");
            decompressor.finish_message(&mut inflated, 1 << 20).expect("valid DEFLATE");
            let kind =
                if header.opcode == Opcode::Text { MessageKind::Text } else { MessageKind::Binary };
            (kind, inflated)
        })
        .collect();
    assert!(echoed == received, "the echo does not inflate to what was received");
}

/// Appends a message as masked frames of at most `fragment` payload bytes, `rsv` on the first.
#[cfg(feature = "deflate")]
fn push_message(out: &mut Vec<u8>, opcode: Opcode, payload: &[u8], fragment: usize, rsv: Rsv) {
    let pieces: Vec<&[u8]> =
        if payload.is_empty() { vec![payload] } else { payload.chunks(fragment).collect() };
    for (index, piece) in pieces.iter().enumerate() {
        let (opcode, rsv) =
            if index == 0 { (opcode, rsv) } else { (Opcode::Continuation, Rsv::NONE) };
        let header = FrameHeader::new(opcode, piece.len() as u64)
            .with_fin(index + 1 == pieces.len())
            .with_rsv(rsv)
            .with_mask([1, 2, 3, 4]);
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head).expect("room for a header");
        out.extend_from_slice(&head[..head_len]);
        let start = out.len();
        out.extend_from_slice(piece);
        apply_mask(&mut out[start..], [1, 2, 3, 4]);
    }
}

/// Inflates a raw DEFLATE stream with our own inflater (windows of 9 to 12 bits) and with
/// zlib-rs (the 15-bit window, through the same `MessageDecompressor`), each in its own input
/// pieces and output room: what zlib-rs refuses ours refuses, and where both accept they
/// produce the same bytes. Ours may refuse more: a match reaching past the negotiated window
/// (RFC 7692 §7.1.2), which zlib-rs lets through.
///
/// Layout: one byte whose low 2 bits pick the window (9 + n), one byte of input piece size,
/// one byte of output room (times 16), then the stream.
#[cfg(feature = "deflate")]
pub(crate) fn inflate(data: &[u8]) {
    use wsmachine::extensions::deflate::MessageDecompressor;

    let Some((&[choice, piece, room], stream)) = data.split_first_chunk::<3>() else { return };
    let window_bits = 9 + (choice & 3);
    let piece = usize::from(piece).max(1);
    let room = usize::from(room).max(1) * 16;
    let reference = inflate_all(&mut MessageDecompressor::new(15, false), stream, 4096, 4096);
    let ours = inflate_all(&mut MessageDecompressor::new(window_bits, false), stream, piece, room);
    match (reference, ours) {
        (Err(()), Ok(ours)) => panic!("ours accepted {} bytes where zlib-rs refused", ours.len()),
        (Ok(reference), Ok(ours)) => assert!(reference == ours, "different bytes"),
        _ => {}
    }
}

/// Everything `decompressor` makes of `stream` fed in `piece`-byte pieces into `room` bytes at
/// a time; an error for invalid data, or past 1 MiB of output.
#[cfg(feature = "deflate")]
fn inflate_all(
    decompressor: &mut wsmachine::extensions::deflate::MessageDecompressor,
    stream: &[u8],
    piece: usize,
    room: usize,
) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    let mut buffer = vec![0u8; room];
    for mut chunk in stream.chunks(piece) {
        loop {
            let step = decompressor.inflate(chunk, &mut buffer).map_err(|_| ())?;
            out.extend_from_slice(&buffer[..step.produced]);
            chunk = &chunk[step.consumed..];
            if out.len() > 1 << 20
                || (step.produced == 0 && step.consumed == 0 && !chunk.is_empty())
            {
                return Err(());
            }
            if step.produced < room && chunk.is_empty() {
                break;
            }
        }
    }
    Ok(out)
}
