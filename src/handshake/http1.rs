//! The HTTP/1.1 pieces both sides of the handshake share: finding the end of a message head,
//! owned header fields, and writing a head safely.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::tokens::is_token;

/// Limits on the head of an HTTP message read by the handshake.
///
/// The defaults fit a public server: browsers send well under 8 KiB of headers, and cookies
/// rarely push a request past 16 KiB.
///
/// ```
/// use wsmachine::handshake::HeadLimits;
///
/// let mut limits = HeadLimits::default();
/// limits.max_head_len = 4096;
/// assert_eq!(limits.max_headers, 64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeadLimits {
    /// The most bytes the request or status line plus all header lines may take, blank line
    /// included. A longer head is rejected (431 on the server).
    pub max_head_len: usize,
    /// The most header fields. More are rejected (431 on the server).
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> HeadLimits {
        HeadLimits { max_head_len: 16 * 1024, max_headers: 64 }
    }
}

/// One header field as received: the name as sent, the value as bytes (HTTP allows bytes that
/// are not UTF-8 in values).
///
/// ```
/// use wsmachine::handshake::Header;
///
/// let header = Header::new("Set-Cookie", "id=1; HttpOnly")?;
/// assert_eq!(header.name(), "Set-Cookie");
/// assert_eq!(header.value_str(), Some("id=1; HttpOnly"));
/// assert!(Header::new("Bad Name", "x").is_err());
/// assert!(Header::new("X-Split", "a\r\nInjected: yes").is_err());
/// # Ok::<(), wsmachine::handshake::InvalidHeader>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Header {
    name: String,
    value: Vec<u8>,
}

impl Header {
    /// A header to send: the name must be a token and the value must hold no control character
    /// but tab (RFC 9110 §5.5), so that no value can end the head early or add a header of its
    /// own.
    pub fn new(name: &str, value: impl AsRef<[u8]>) -> Result<Header, InvalidHeader> {
        let value = value.as_ref();
        if !is_token(name.as_bytes()) {
            return Err(InvalidHeader::Name);
        }
        // RFC 9110 §5.5: visible characters, obs-text, space and tab; no other control byte.
        if value.iter().any(|&byte| (byte < 0x20 && byte != b'\t') || byte == 0x7F) {
            return Err(InvalidHeader::Value);
        }
        Ok(Header { name: name.into(), value: value.into() })
    }

    /// A header the crate builds from values it has already checked.
    pub(crate) fn trusted(name: &str, value: &[u8]) -> Header {
        debug_assert!(Header::new(name, value).is_ok(), "untrusted header {name}");
        Header { name: name.into(), value: value.into() }
    }

    /// A header from an `http` header map, which has already checked it.
    #[cfg(feature = "http")]
    pub(crate) fn from_http(name: &str, value: &[u8]) -> Header {
        Header { name: name.into(), value: value.into() }
    }

    /// A header from a message httparse has already checked.
    pub(crate) fn received(header: &httparse::Header<'_>) -> Header {
        Header { name: header.name.into(), value: header.value.into() }
    }

    /// The field name, with the letter case the peer used.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The field value.
    #[must_use]
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// The field value, if it is UTF-8.
    #[must_use]
    pub fn value_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.value).ok()
    }

    /// Whether the field has this name, compared ASCII case-insensitively as HTTP requires.
    #[must_use]
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// A header that cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidHeader {
    /// The name is not an HTTP token.
    #[error("header name is not an HTTP token")]
    Name,
    /// The value contains a control character other than tab (CR, LF, NUL...).
    #[error("header value contains a control character")]
    Value,
}

/// The values of every header named `name`, in order (repeated header lines are one list).
pub(crate) fn values<'h, 'n>(
    headers: &'h [Header],
    name: &'n str,
) -> impl Iterator<Item = &'h [u8]> + use<'h, 'n> {
    headers.iter().filter(move |header| header.is(name)).map(Header::value)
}

/// The one value of `name`: `Ok(None)` when absent, `Err(())` when repeated.
pub(crate) fn single_value<'h>(headers: &'h [Header], name: &str) -> Result<Option<&'h [u8]>, ()> {
    let mut found = values(headers, name);
    let first = found.next();
    match found.next() {
        Some(_) => Err(()),
        None => Ok(first),
    }
}

/// The length of the head at the start of `buf`, blank line included, once it has all arrived.
///
/// Lines may end in CRLF or a bare LF (RFC 9112 §2.2 lets a recipient accept both).
pub(crate) fn head_len(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(offset) = buf[from..].iter().position(|&byte| byte == b'\n') {
        let newline = from + offset;
        match buf.get(newline + 1..) {
            Some([b'\n', ..]) => return Some(newline + 2),
            Some([b'\r', b'\n', ..]) => return Some(newline + 3),
            _ => from = newline + 1,
        }
    }
    None
}

/// The reason phrase for the status codes the handshake uses.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Appends a status line, the headers and the blank line.
pub(crate) fn write_response_head(out: &mut Vec<u8>, status: u16, headers: &[Header]) {
    let _ = fmt::Write::write_fmt(
        &mut ByteWriter(out),
        format_args!("HTTP/1.1 {status} {}\r\n", reason_phrase(status)),
    );
    write_headers(out, headers);
}

/// Appends header lines and the blank line that ends the head.
pub(crate) fn write_headers(out: &mut Vec<u8>, headers: &[Header]) {
    for header in headers {
        out.extend_from_slice(header.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(&header.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// `fmt::Write` into a byte vector.
pub(crate) struct ByteWriter<'a>(pub(crate) &'a mut Vec<u8>);

impl fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.0.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_ends_at_the_first_blank_line() {
        assert_eq!(head_len(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest"), Some(27));
        assert_eq!(head_len(b"GET / HTTP/1.1\nHost: a\n\nrest"), Some(24));
        assert_eq!(head_len(b"GET / HTTP/1.1\r\nHost: a\r\n"), None);
        assert_eq!(head_len(b"GET / HTTP/1.1\r\nHost: a\r\n\r"), None);
        assert_eq!(head_len(b""), None);
    }
}
