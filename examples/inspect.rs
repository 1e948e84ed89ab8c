//! Decodes WebSocket frames given as hex and prints what the frame core sees in them.
//!
//! ```text
//! cargo run --example inspect -- 818537fa213d7f9f4d5158
//! cargo run --example inspect -- --client 810548656c6c6f 8803
//! ```
//!
//! Each argument is the bytes of one or more frames received by a server (masked frames
//! expected) or, after `--client`, by a client. Frames are printed with their header fields,
//! the unmasked payload, and the error and close code of the first violation.

use std::process::ExitCode;

use wsmachine::frame::{
    apply_mask, CloseBody, FrameHeader, HeaderRules, Opcode, Status, Utf8Validator,
};
use wsmachine::Role;

fn main() -> ExitCode {
    let mut role = Role::Server;
    let mut inputs = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--client" => role = Role::Client,
            "--server" => role = Role::Server,
            hex => match decode_hex(hex) {
                Some(bytes) => inputs.push(bytes),
                None => {
                    eprintln!("not hex: {hex}");
                    return ExitCode::from(2);
                }
            },
        }
    }
    if inputs.is_empty() {
        eprintln!("usage: inspect [--client|--server] HEX...   (e.g. 818537fa213d7f9f4d5158)");
        return ExitCode::from(2);
    }
    let rules = HeaderRules::new(role);
    let mut all_valid = true;
    for input in inputs {
        all_valid &= inspect(&input, &rules);
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Prints every frame in `bytes`; false if a frame breaks the protocol.
fn inspect(mut bytes: &[u8], rules: &HeaderRules) -> bool {
    while !bytes.is_empty() {
        let (header, header_len) = match FrameHeader::parse(bytes, rules) {
            Ok(Status::Complete(parsed)) => parsed,
            Ok(Status::Incomplete { needed }) => {
                println!("incomplete header: {needed} more byte(s) needed");
                return true;
            }
            Err(error) => {
                println!("protocol error: {error} -> close with {}", error.close_code());
                return false;
            }
        };
        let available = bytes.len() - header_len;
        let payload_len = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
        let mut payload = bytes[header_len..header_len + payload_len.min(available)].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key);
        }
        println!(
            "{:?} fin={} rsv={:03b} mask={} len={}",
            header.opcode,
            header.fin,
            header.rsv.bits(),
            header.mask.map_or("none".to_owned(), |k| format!("{k:02x?}")),
            header.payload_len,
        );
        if payload.len() < payload_len {
            println!("  payload incomplete: {} of {payload_len} bytes", payload.len());
            return true;
        }
        if !describe_payload(header.opcode, &payload) {
            return false;
        }
        bytes = &bytes[header_len + payload_len..];
    }
    true
}

/// Prints the payload as its opcode reads it; false if it is invalid for that opcode.
fn describe_payload(opcode: Opcode, payload: &[u8]) -> bool {
    match opcode {
        Opcode::Close => match CloseBody::parse(payload) {
            Ok(Some(body)) => println!("  close {} reason {:?}", body.code(), body.reason()),
            Ok(None) => println!("  close without status code"),
            Err(error) => {
                println!("  invalid close: {error} -> close with {}", error.close_code());
                return false;
            }
        },
        Opcode::Text => {
            let mut validator = Utf8Validator::new();
            match validator.feed(payload) {
                Ok(()) => println!("  text {:?}", String::from_utf8_lossy(payload)),
                Err(error) => {
                    println!("  invalid text: {error} -> close with {}", error.close_code());
                    return false;
                }
            }
        }
        _ => println!("  {}", encode_hex(payload)),
    }
    true
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
