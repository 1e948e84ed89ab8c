//! The `Sec-WebSocket-Extensions` header (RFC 6455 §9.1, §11.3.2): a client's ordered offer of
//! extensions and a server's choice among them, each a name with parameters.
//!
//! [`parse_extensions`] reads the header, repeated or not, into [`Extension`]s and fails with a
//! typed [`ExtensionHeaderError`] on anything the ABNF of §9.1 does not allow, since a recipient
//! of malformed data MUST _Fail the WebSocket Connection_. [`format_extensions`] writes the
//! header back. What the parameters mean is each extension's business (RFC 7692 for
//! permessage-deflate), so the values are kept as strings.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::tokens::{is_ows, is_token, is_token_char};

/// One parameter of an extension: `name` or `name=value` (§9.1 `extension-param`).
///
/// Both the name and the value are tokens: a value received as a quoted-string is kept
/// unescaped, which §9.1 requires to be a token too, so a parameter always writes back as bare
/// tokens.
///
/// ```
/// use wsmachine::handshake::ExtensionParam;
///
/// let bits = ExtensionParam::new("server_max_window_bits", Some("10"))?;
/// assert_eq!(bits.name(), "server_max_window_bits");
/// assert_eq!(bits.value(), Some("10"));
/// assert_eq!(bits.to_string(), "server_max_window_bits=10");
///
/// // A quoted value is unescaped, as it would be on the wire.
/// let quoted = ExtensionParam::new("client_max_window_bits", Some(r#""1\5""#))?;
/// assert_eq!(quoted.value(), Some("15"));
///
/// assert!(ExtensionParam::new("no spaces", None).is_err());
/// assert!(ExtensionParam::new("bits", Some("1 5")).is_err());
/// # Ok::<(), wsmachine::handshake::ExtensionHeaderError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionParam {
    name: String,
    value: Option<String>,
}

impl ExtensionParam {
    /// A parameter named `name`, with a value if `value` is `Some`.
    ///
    /// The name must be a token. The value must be a token or a quoted-string (starting with
    /// `"`) whose unescaped content is a token (§9.1); it is stored unescaped.
    pub fn new(name: &str, value: Option<&str>) -> Result<Self, ExtensionHeaderError> {
        if !is_token(name.as_bytes()) {
            return Err(ExtensionHeaderError::InvalidName);
        }
        let value = match value {
            None => None,
            Some(value) => Some(value_from_str(value)?),
        };
        Ok(ExtensionParam { name: String::from(name), value })
    }

    /// The parameter's name, as written.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parameter's value, unescaped if it was quoted; `None` for a bare `name`.
    #[must_use]
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
}

impl fmt::Display for ExtensionParam {
    /// Writes `name` or `name=value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(value) = &self.value {
            f.write_str("=")?;
            f.write_str(value)?;
        }
        Ok(())
    }
}

/// One element of the `Sec-WebSocket-Extensions` list: an extension name and its parameters,
/// in order (§9.1 `extension`).
///
/// The name is kept exactly as received and compared by callers as they see fit: extension
/// names are registered tokens (§11.4) and §9.1 says nothing of case, so nothing is folded.
/// Parameters may repeat; whether that is allowed is up to the extension (RFC 7692 §7 makes a
/// permessage-deflate offer with a repeated parameter invalid).
///
/// ```
/// use wsmachine::handshake::Extension;
///
/// let offer = Extension::new("permessage-deflate")?
///     .with_param("client_max_window_bits", None)?
///     .with_param("server_max_window_bits", Some("10"))?;
/// assert_eq!(offer.name(), "permessage-deflate");
/// assert_eq!(offer.params().len(), 2);
/// assert_eq!(offer.param("Server_Max_Window_Bits").and_then(|p| p.value()), Some("10"));
/// assert_eq!(
///     offer.to_string(),
///     "permessage-deflate; client_max_window_bits; server_max_window_bits=10"
/// );
/// # Ok::<(), wsmachine::handshake::ExtensionHeaderError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Extension {
    name: String,
    params: Vec<ExtensionParam>,
}

impl Extension {
    /// An extension built by the crate from names and values it knows to be tokens.
    #[cfg(feature = "deflate")]
    pub(crate) fn trusted(name: &str, params: &[(&str, Option<&str>)]) -> Extension {
        let params = params
            .iter()
            .map(|&(name, value)| ExtensionParam {
                name: name.into(),
                value: value.map(Into::into),
            })
            .collect();
        Extension { name: name.into(), params }
    }

    /// An extension named `name`, which must be a token, without parameters.
    pub fn new(name: &str) -> Result<Self, ExtensionHeaderError> {
        if !is_token(name.as_bytes()) {
            return Err(ExtensionHeaderError::InvalidName);
        }
        Ok(Extension { name: String::from(name), params: Vec::new() })
    }

    /// This extension with one more parameter at the end, checked as [`ExtensionParam::new`]
    /// checks it.
    pub fn with_param(
        mut self,
        name: &str,
        value: Option<&str>,
    ) -> Result<Self, ExtensionHeaderError> {
        self.params.push(ExtensionParam::new(name, value)?);
        Ok(self)
    }

    /// The extension's name, as written.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parameters, in the order written.
    #[must_use]
    pub fn params(&self) -> &[ExtensionParam] {
        &self.params
    }

    /// The first parameter named `name`, compared ASCII case-insensitively as HTTP parameter
    /// names are.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&ExtensionParam> {
        self.params.iter().find(|param| param.name.eq_ignore_ascii_case(name))
    }

    /// How many bytes [`fmt::Display`] writes.
    fn formatted_len(&self) -> usize {
        self.params.iter().fold(self.name.len(), |len, param| {
            len + "; ".len() + param.name.len() + param.value.as_ref().map_or(0, |v| 1 + v.len())
        })
    }
}

impl fmt::Display for Extension {
    /// Writes the element as it goes in the header: `name; p1; p2=v`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for param in &self.params {
            write!(f, "; {param}")?;
        }
        Ok(())
    }
}

/// Why a `Sec-WebSocket-Extensions` header is malformed (§9.1), or why a name or value given to
/// [`Extension`] or [`ExtensionParam`] cannot be written in one.
///
/// Parse errors say where: `line` is which of the header values passed to
/// [`parse_extensions`] (counting from 0) and `offset` the byte within it.
///
/// ```
/// use wsmachine::handshake::{parse_extensions, ExtensionHeaderError};
///
/// let lines: [&[u8]; 2] = [b"foo", b"bar; baz=\"1,2\""];
/// assert_eq!(
///     parse_extensions(lines),
///     Err(ExtensionHeaderError::InvalidQuotedValue { line: 1, offset: 9 })
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtensionHeaderError {
    /// An extension or parameter name is missing: a `;` or `=` where a name should start, or
    /// a `;` with nothing after it (`;foo`, `foo;`, `foo; =1`, `foo;;bar`).
    #[error("missing name at byte {offset} of Sec-WebSocket-Extensions value {line}")]
    MissingName {
        /// Which header value, counting from 0.
        line: usize,
        /// The byte offset where the name should be.
        offset: usize,
    },
    /// A parameter has `=` but no value after it (`foo; bits=`, `foo; bits=; x`).
    #[error("missing parameter value at byte {offset} of Sec-WebSocket-Extensions value {line}")]
    MissingValue {
        /// Which header value, counting from 0.
        line: usize,
        /// The byte offset where the value should be.
        offset: usize,
    },
    /// A byte that cannot appear where it is: a non-token character in a name or value, or
    /// anything but `;`, `,` or whitespace after one (`foo bar`, `foo@`, `a/b`, a line
    /// folding CR or LF).
    #[error(
        "unexpected byte {byte:#04x} at byte {offset} of Sec-WebSocket-Extensions value {line}"
    )]
    UnexpectedCharacter {
        /// Which header value, counting from 0.
        line: usize,
        /// The byte offset of the unexpected byte.
        offset: usize,
        /// The unexpected byte.
        byte: u8,
    },
    /// A quoted-string without its closing quote before the end of the header value.
    #[error(
        "quoted string at byte {offset} of Sec-WebSocket-Extensions value {line} is not closed"
    )]
    UnterminatedQuotedString {
        /// Which header value, counting from 0.
        line: usize,
        /// The byte offset of the opening quote.
        offset: usize,
    },
    /// A quoted parameter value that is not a token once unescaped, which §9.1 requires
    /// (`"1 5"`, `"a,b"`, `""`).
    #[error(
        "quoted value at byte {offset} of Sec-WebSocket-Extensions value {line} is not a token"
    )]
    InvalidQuotedValue {
        /// Which header value, counting from 0.
        line: usize,
        /// The byte offset of the opening quote.
        offset: usize,
    },
    /// A name given to [`Extension::new`], [`ExtensionParam::new`] or
    /// [`Extension::with_param`] is not a token.
    #[error("extension or parameter name is not a token")]
    InvalidName,
    /// A value given to [`ExtensionParam::new`] or [`Extension::with_param`] is neither a
    /// token nor a quoted-string holding one.
    #[error("parameter value is neither a token nor a quoted string holding one")]
    InvalidValue,
}

/// Parses the values of the `Sec-WebSocket-Extensions` header lines, in order, into the
/// extensions they list (§9.1).
///
/// Several header lines are one list, as if joined with commas (§9.1), so an extension never
/// spans two values. Whitespace (space or tab) is allowed around `,`, `;` and `=`; empty list
/// elements are skipped (RFC 7230 §7), so an empty or all-comma header yields no extensions
/// rather than an error. Quoted values are unescaped and must then be tokens. The work is
/// linear in the input, and nothing is allocated but the extensions being built.
///
/// ```
/// use wsmachine::handshake::parse_extensions;
///
/// let lines: [&[u8]; 2] = [
///     b"permessage-deflate; client_max_window_bits=\"15\"",
///     b"permessage-deflate; server_max_window_bits=10, x-custom",
/// ];
/// let offer = parse_extensions(lines)?;
/// assert_eq!(offer.len(), 3);
/// assert_eq!(offer[0].params()[0].value(), Some("15"));
/// assert_eq!(offer[1].param("server_max_window_bits").unwrap().value(), Some("10"));
/// assert_eq!(offer[2].name(), "x-custom");
///
/// assert!(parse_extensions([b"permessage-deflate; =15".as_slice()]).is_err());
/// # Ok::<(), wsmachine::handshake::ExtensionHeaderError>(())
/// ```
pub fn parse_extensions<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<Extension>, ExtensionHeaderError> {
    let mut extensions = Vec::new();
    for (line, value) in values.into_iter().enumerate() {
        let mut cursor = Cursor { input: value, pos: 0, line };
        loop {
            cursor.skip_ows();
            match cursor.peek() {
                None => break,
                Some(b',') => cursor.pos += 1,
                Some(_) => extensions.push(cursor.extension()?),
            }
        }
    }
    Ok(extensions)
}

/// Writes extensions as a `Sec-WebSocket-Extensions` header value: elements joined with `", "`,
/// parameters with `"; "`, values as bare tokens.
///
/// Everything in an [`Extension`] is a token, so no quoting is ever needed, and
/// [`parse_extensions`] reads the result back to the same list.
///
/// ```
/// use wsmachine::handshake::{format_extensions, parse_extensions, Extension};
///
/// let accepted = [
///     Extension::new("permessage-deflate")?.with_param("server_no_context_takeover", None)?,
///     Extension::new("x-trace")?.with_param("id", Some("7"))?,
/// ];
/// let value = format_extensions(&accepted);
/// assert_eq!(value, "permessage-deflate; server_no_context_takeover, x-trace; id=7");
/// assert_eq!(parse_extensions([value.as_bytes()])?, accepted);
/// # Ok::<(), wsmachine::handshake::ExtensionHeaderError>(())
/// ```
#[must_use]
pub fn format_extensions(extensions: &[Extension]) -> String {
    let len = extensions.iter().map(|extension| extension.formatted_len() + ", ".len()).sum();
    let mut out = String::with_capacity(len);
    for (index, extension) in extensions.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        out.push_str(&extension.name);
        for param in &extension.params {
            out.push_str("; ");
            out.push_str(&param.name);
            if let Some(value) = &param.value {
                out.push('=');
                out.push_str(value);
            }
        }
    }
    out
}

/// A value given to [`ExtensionParam::new`]: a token as it is, or a quoted-string unescaped.
fn value_from_str(value: &str) -> Result<String, ExtensionHeaderError> {
    let bytes = value.as_bytes();
    if is_token(bytes) {
        return Ok(String::from(value));
    }
    match bytes.split_first() {
        Some((b'"', rest)) => match scan_quoted(rest) {
            Some(quoted) if quoted.is_token && quoted.inner.len() + 1 == rest.len() => {
                Ok(quoted.unescape())
            }
            _ => Err(ExtensionHeaderError::InvalidValue),
        },
        _ => Err(ExtensionHeaderError::InvalidValue),
    }
}

/// The bytes between the quotes of a quoted-string (RFC 7230 §3.2.6), still escaped.
struct QuotedString<'a> {
    /// The content, without the quotes.
    inner: &'a [u8],
    /// How many bytes the content has once unescaped.
    unescaped_len: usize,
    /// Whether the unescaped content is a token.
    is_token: bool,
}

impl QuotedString<'_> {
    /// The content with every quoted-pair (`\` and one byte) replaced by its byte. Only called
    /// for a token, which is ASCII, so each byte is a `char`.
    fn unescape(&self) -> String {
        let mut out = String::with_capacity(self.unescaped_len);
        let mut escaped = false;
        for &b in self.inner {
            if b == b'\\' && !escaped {
                escaped = true;
            } else {
                escaped = false;
                out.push(char::from(b));
            }
        }
        out
    }
}

/// Scans a quoted-string whose opening quote is just before `rest`: `None` if it is not closed
/// before `rest` ends. A backslash escapes any byte; whether the result is allowed is then a
/// question of it being a token, which excludes every byte `qdtext` does not allow.
fn scan_quoted(rest: &[u8]) -> Option<QuotedString<'_>> {
    let mut unescaped_len = 0;
    let mut is_token = true;
    let mut escaped = false;
    for (index, &b) in rest.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
            continue;
        } else if b == b'"' {
            let inner = rest.get(..index)?;
            return Some(QuotedString { inner, unescaped_len, is_token: is_token && index > 0 });
        }
        unescaped_len += 1;
        is_token &= is_token_char(b);
    }
    None
}

/// A position in one header value, with what the grammar reads from there.
struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_ows(&mut self) {
        while self.peek().is_some_and(is_ows) {
            self.pos += 1;
        }
    }

    /// The longest run of token characters from here, possibly empty.
    fn token(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(is_token_char) {
            self.pos += 1;
        }
        self.input.get(start..self.pos).unwrap_or_default()
    }

    /// The error for the byte here, which cannot appear here; `missing` if it is the end of
    /// the value or a separator, meaning that something was left out before it.
    fn unexpected(&self, missing: ExtensionHeaderError) -> ExtensionHeaderError {
        match self.peek() {
            None | Some(b',' | b';' | b'=') => missing,
            Some(byte) => ExtensionHeaderError::UnexpectedCharacter {
                line: self.line,
                offset: self.pos,
                byte,
            },
        }
    }

    /// A name (of an extension or a parameter): a non-empty token.
    fn name(&mut self) -> Result<String, ExtensionHeaderError> {
        let token = self.token();
        if token.is_empty() {
            return Err(self.unexpected(ExtensionHeaderError::MissingName {
                line: self.line,
                offset: self.pos,
            }));
        }
        Ok(token_to_string(token))
    }

    /// `extension-token *( OWS ";" OWS extension-param ) OWS`, stopping at a `,` or the end.
    fn extension(&mut self) -> Result<Extension, ExtensionHeaderError> {
        let name = self.name()?;
        let mut params = Vec::new();
        loop {
            self.skip_ows();
            match self.peek() {
                None | Some(b',') => return Ok(Extension { name, params }),
                Some(b';') => {
                    self.pos += 1;
                    self.skip_ows();
                    params.push(self.param()?);
                }
                Some(byte) => {
                    return Err(ExtensionHeaderError::UnexpectedCharacter {
                        line: self.line,
                        offset: self.pos,
                        byte,
                    })
                }
            }
        }
    }

    /// `token [ OWS "=" OWS ( token | quoted-string ) ]`.
    fn param(&mut self) -> Result<ExtensionParam, ExtensionHeaderError> {
        let name = self.name()?;
        self.skip_ows();
        if self.peek() != Some(b'=') {
            return Ok(ExtensionParam { name, value: None });
        }
        self.pos += 1;
        self.skip_ows();
        let (line, offset) = (self.line, self.pos);
        let value = if self.peek() == Some(b'"') {
            let rest = self.input.get(offset + 1..).unwrap_or_default();
            let quoted = scan_quoted(rest)
                .ok_or(ExtensionHeaderError::UnterminatedQuotedString { line, offset })?;
            if !quoted.is_token {
                return Err(ExtensionHeaderError::InvalidQuotedValue { line, offset });
            }
            self.pos += quoted.inner.len() + 2;
            quoted.unescape()
        } else {
            let token = self.token();
            if token.is_empty() {
                return Err(self.unexpected(ExtensionHeaderError::MissingValue { line, offset }));
            }
            token_to_string(token)
        };
        Ok(ExtensionParam { name, value: Some(value) })
    }
}

/// A token as a `String`; tokens are ASCII, so each byte is a `char`.
fn token_to_string(token: &[u8]) -> String {
    let mut out = String::with_capacity(token.len());
    out.extend(token.iter().map(|&b| char::from(b)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use ExtensionHeaderError as E;

    fn parse(value: &str) -> Result<Vec<Extension>, ExtensionHeaderError> {
        parse_extensions([value.as_bytes()])
    }

    fn ext(name: &str, params: &[(&str, Option<&str>)]) -> Extension {
        params.iter().fold(Extension::new(name).unwrap(), |extension, (name, value)| {
            extension.with_param(name, *value).unwrap()
        })
    }

    #[test]
    fn rfc_7692_offers_parse() {
        let offers = parse(
            "permessage-deflate; client_max_window_bits, \
             permessage-deflate; server_max_window_bits=10",
        )
        .unwrap();
        assert_eq!(
            offers,
            [
                ext("permessage-deflate", &[("client_max_window_bits", None)]),
                ext("permessage-deflate", &[("server_max_window_bits", Some("10"))]),
            ]
        );

        let offers = parse(
            "permessage-deflate; client_max_window_bits=\"15\"; server_no_context_takeover, \
             permessage-deflate; client_no_context_takeover",
        )
        .unwrap();
        assert_eq!(
            offers,
            [
                ext(
                    "permessage-deflate",
                    &[("client_max_window_bits", Some("15")), ("server_no_context_takeover", None)]
                ),
                ext("permessage-deflate", &[("client_no_context_takeover", None)]),
            ]
        );
    }

    #[test]
    fn rfc_6455_examples_parse() {
        assert_eq!(parse("deflate-stream").unwrap(), [ext("deflate-stream", &[])]);
        assert_eq!(
            parse("mux; max-channels=4; flow-control, deflate-stream").unwrap(),
            [
                ext("mux", &[("max-channels", Some("4")), ("flow-control", None)]),
                ext("deflate-stream", &[]),
            ]
        );
        assert_eq!(parse("private-extension").unwrap(), [ext("private-extension", &[])]);
    }

    #[test]
    fn repeated_header_lines_are_one_list() {
        // §9.1: "foo" and "bar; baz=2" on two lines equal "foo, bar; baz=2" on one.
        let split = parse_extensions([b"foo".as_slice(), b"bar; baz=2"]).unwrap();
        assert_eq!(split, parse("foo, bar; baz=2").unwrap());
        assert_eq!(split, [ext("foo", &[]), ext("bar", &[("baz", Some("2"))])]);
        assert_eq!(parse_extensions([b"".as_slice(), b" , a", b"", b"b"]).unwrap().len(), 2);
    }

    #[test]
    fn empty_elements_and_whitespace_are_skipped() {
        let expected = [ext("a", &[("x", Some("1")), ("y", None)]), ext("b", &[])];
        for value in [
            "a;x=1;y,b",
            "a; x=1; y, b",
            ", a ;x = 1;\ty ,, b ,",
            "\t,,a\t;\tx\t=\t1\t;\ty\t,\t,\tb\t",
            "a; x=\"1\"; y, b",
        ] {
            assert_eq!(parse(value).unwrap(), expected, "{value:?}");
        }
        for value in ["", " ", ",", " , ,\t,"] {
            assert_eq!(parse(value).unwrap(), [], "{value:?}");
        }
        assert_eq!(parse_extensions(core::iter::empty()).unwrap(), []);
    }

    #[test]
    fn quoted_values_are_unescaped() {
        let parsed = parse(r#"e; a="1\5"; b="\a\b\c"; c="x", f; d="-\~""#).unwrap();
        assert_eq!(
            parsed,
            [
                ext("e", &[("a", Some("15")), ("b", Some("abc")), ("c", Some("x"))]),
                ext("f", &[("d", Some("-~"))]),
            ]
        );
    }

    #[test]
    fn comma_and_semicolon_inside_quotes_do_not_split() {
        // They do not end the element; the value is then rejected as a non-token.
        assert_eq!(parse(r#"a; b="1,2", c"#), Err(E::InvalidQuotedValue { line: 0, offset: 5 }));
        assert_eq!(parse(r#"a; b="1;2""#), Err(E::InvalidQuotedValue { line: 0, offset: 5 }));
        // An escaped quote does not close the string.
        assert_eq!(parse(r#"a; b="1\""#), Err(E::UnterminatedQuotedString { line: 0, offset: 5 }));
    }

    #[test]
    fn names_are_kept_as_received() {
        let parsed = parse("PerMessage-Deflate; Client_Max_Window_Bits=Ten").unwrap();
        assert_eq!(parsed[0].name(), "PerMessage-Deflate");
        assert_eq!(parsed[0].params()[0].name(), "Client_Max_Window_Bits");
        assert_eq!(parsed[0].params()[0].value(), Some("Ten"));
        assert!(parsed[0].param("client_max_window_bits").is_some());
        assert!(parsed[0].param("server_max_window_bits").is_none());
    }

    #[test]
    fn param_finds_the_first_of_repeated_names() {
        let parsed = parse("e; a=1; A=2; a").unwrap();
        assert_eq!(parsed[0].params().len(), 3);
        assert_eq!(parsed[0].param("a").unwrap().value(), Some("1"));
    }

    #[test]
    fn missing_names_are_reported() {
        assert_eq!(parse(";foo"), Err(E::MissingName { line: 0, offset: 0 }));
        assert_eq!(parse("foo;"), Err(E::MissingName { line: 0, offset: 4 }));
        assert_eq!(parse("foo; "), Err(E::MissingName { line: 0, offset: 5 }));
        assert_eq!(parse("foo; =1"), Err(E::MissingName { line: 0, offset: 5 }));
        assert_eq!(parse("foo;;bar"), Err(E::MissingName { line: 0, offset: 4 }));
        assert_eq!(parse("foo; , bar"), Err(E::MissingName { line: 0, offset: 5 }));
        assert_eq!(parse("=1"), Err(E::MissingName { line: 0, offset: 0 }));
        assert_eq!(
            parse_extensions([b"ok".as_slice(), b"also-ok", b"  ; x"]),
            Err(E::MissingName { line: 2, offset: 2 })
        );
    }

    #[test]
    fn missing_values_are_reported() {
        assert_eq!(parse("foo; a="), Err(E::MissingValue { line: 0, offset: 7 }));
        assert_eq!(parse("foo; a= "), Err(E::MissingValue { line: 0, offset: 8 }));
        assert_eq!(parse("foo; a=; b"), Err(E::MissingValue { line: 0, offset: 7 }));
        assert_eq!(parse("foo; a = , bar"), Err(E::MissingValue { line: 0, offset: 9 }));
        assert_eq!(parse("foo; a=="), Err(E::MissingValue { line: 0, offset: 7 }));
    }

    #[test]
    fn unexpected_characters_are_reported() {
        let unexpected = |offset, byte| Err(E::UnexpectedCharacter { line: 0, offset, byte });
        assert_eq!(parse("foo bar"), unexpected(4, b'b'));
        assert_eq!(parse("foo@"), unexpected(3, b'@'));
        assert_eq!(parse("foo=1"), unexpected(3, b'='));
        assert_eq!(parse("foo; a=1 2"), unexpected(9, b'2'));
        assert_eq!(parse("foo; a=\"1\"x"), unexpected(10, b'x'));
        assert_eq!(parse("foo; a=\"1\"\"2\""), unexpected(10, b'"'));
        assert_eq!(parse("foo; a b"), unexpected(7, b'b'));
        assert_eq!(parse("foo; a=/"), unexpected(7, b'/'));
        assert_eq!(parse("\"foo\""), unexpected(0, b'"'));
        assert_eq!(parse("foo; \"a\"=1"), unexpected(5, b'"'));
        assert_eq!(parse("foo;\r\n a"), unexpected(4, b'\r'));
        assert_eq!(parse_extensions([b"caf\xc3\xa9".as_slice()]), unexpected(3, 0xc3));
        assert_eq!(parse("a\0"), unexpected(1, 0));
    }

    #[test]
    fn unterminated_quoted_strings_are_reported() {
        let unterminated = |offset| Err(E::UnterminatedQuotedString { line: 0, offset });
        assert_eq!(parse("foo; a=\""), unterminated(7));
        assert_eq!(parse("foo; a=\"15"), unterminated(7));
        assert_eq!(parse("foo; a=\"15\\"), unterminated(7));
        assert_eq!(parse("foo; a=\"15\\\""), unterminated(7));
        // A quoted string does not continue on the next header line.
        assert_eq!(
            parse_extensions([b"foo; a=\"1".as_slice(), b"5\""]),
            Err(E::UnterminatedQuotedString { line: 0, offset: 7 })
        );
    }

    #[test]
    fn quoted_values_that_are_not_tokens_are_reported() {
        let invalid = |offset| Err(E::InvalidQuotedValue { line: 0, offset });
        assert_eq!(parse("foo; a=\"\""), invalid(7));
        assert_eq!(parse("foo; a=\"1 5\""), invalid(7));
        assert_eq!(parse("foo; a=\"1\\ 5\""), invalid(7));
        assert_eq!(parse("foo; a=\"\\\"\""), invalid(7));
        assert_eq!(parse("foo; a= \"caf\u{e9}\""), invalid(8));
        assert_eq!(parse("foo; a=\"x\ty\""), invalid(7));
    }

    #[test]
    fn constructors_validate_names_and_values() {
        assert_eq!(Extension::new(""), Err(E::InvalidName));
        assert_eq!(Extension::new("a b"), Err(E::InvalidName));
        assert_eq!(Extension::new("a,b"), Err(E::InvalidName));
        assert_eq!(ExtensionParam::new("x=1", None), Err(E::InvalidName));
        assert_eq!(ExtensionParam::new("\"x\"", None), Err(E::InvalidName));
        assert_eq!(ExtensionParam::new("x", Some("")), Err(E::InvalidValue));
        assert_eq!(ExtensionParam::new("x", Some("1 5")), Err(E::InvalidValue));
        assert_eq!(ExtensionParam::new("x", Some("\"1 5\"")), Err(E::InvalidValue));
        assert_eq!(ExtensionParam::new("x", Some("\"15")), Err(E::InvalidValue));
        assert_eq!(ExtensionParam::new("x", Some("\"1\"5\"")), Err(E::InvalidValue));
        assert_eq!(ExtensionParam::new("x", Some("\"\"")), Err(E::InvalidValue));
        assert_eq!(
            Extension::new("e").unwrap().with_param("x", Some("a\"b")),
            Err(E::InvalidValue)
        );
        let quoted = ExtensionParam::new("x", Some("\"1\\5\"")).unwrap();
        assert_eq!(quoted, ExtensionParam::new("x", Some("15")).unwrap());
    }

    #[test]
    fn format_writes_bare_tokens() {
        let list = [
            ext("permessage-deflate", &[("client_max_window_bits", Some("15"))]),
            ext("x", &[("a", None), ("b", Some("2"))]),
            ext("y", &[]),
        ];
        let value = format_extensions(&list);
        assert_eq!(value, "permessage-deflate; client_max_window_bits=15, x; a; b=2, y");
        assert_eq!(parse(&value).unwrap(), list);
        assert_eq!(list[1].to_string(), "x; a; b=2");
        assert_eq!(list[1].params()[1].to_string(), "b=2");
        assert_eq!(format_extensions(&[]), "");
    }

    #[test]
    fn formatted_len_is_exact() {
        for extension in [
            ext("y", &[]),
            ext("x", &[("a", None), ("b", Some("2"))]),
            ext("permessage-deflate", &[("client_max_window_bits", Some("15"))]),
        ] {
            assert_eq!(extension.formatted_len(), extension.to_string().len());
        }
    }

    #[test]
    fn errors_display_where() {
        let error = parse_extensions([b"ok".as_slice(), b"a b"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unexpected byte 0x62 at byte 2 of Sec-WebSocket-Extensions value 1"
        );
        let errors = vec![
            E::MissingName { line: 0, offset: 1 },
            E::MissingValue { line: 0, offset: 1 },
            E::UnterminatedQuotedString { line: 0, offset: 1 },
            E::InvalidQuotedValue { line: 0, offset: 1 },
            E::InvalidName,
            E::InvalidValue,
        ];
        for error in errors {
            assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn long_inputs_are_linear() {
        // A long run of separators and a long quoted string: each is scanned once.
        let mut value = String::new();
        for _ in 0..50_000 {
            value.push_str(" ,");
        }
        value.push_str("e; a=\"");
        for _ in 0..50_000 {
            value.push_str("\\a");
        }
        value.push('"');
        let parsed = parse(&value).unwrap();
        assert_eq!(parsed[0].params()[0].value().map(str::len), Some(50_000));
    }
}
