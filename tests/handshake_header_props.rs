//! Property tests for the `Sec-WebSocket-Extensions` header (RFC 6455 §9.1): formatting and
//! parsing round trip, every allowed way of writing a list parses to the same extensions, and
//! no input makes the parser panic.

use proptest::prelude::*;
use wsmachine::handshake::{
    format_extensions, parse_extensions, Extension, ExtensionHeaderError, ExtensionParam,
};

/// Every `tchar` of RFC 7230 §3.2.6.
const TCHARS: &[u8] =
    b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Bytes that matter to the grammar, to mutate valid headers with.
const SPECIALS: &[u8] = b" \t,;=\"\\\r\nx5";

fn token() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TCHARS), 1..10)
        .prop_map(|bytes| bytes.into_iter().map(char::from).collect())
}

fn param() -> impl Strategy<Value = ExtensionParam> {
    (token(), prop::option::of(token()))
        .prop_map(|(name, value)| ExtensionParam::new(&name, value.as_deref()).unwrap())
}

fn extension() -> impl Strategy<Value = Extension> {
    (token(), prop::collection::vec(param(), 0..5)).prop_map(|(name, params)| {
        params.iter().fold(Extension::new(&name).unwrap(), |extension, param| {
            extension.with_param(param.name(), param.value()).unwrap()
        })
    })
}

fn extensions() -> impl Strategy<Value = Vec<Extension>> {
    prop::collection::vec(extension(), 0..6)
}

/// Random decisions for [`render_noisy`], drawn in turn; shrinking makes them all 0, the
/// tidiest rendering.
struct Choices {
    bytes: Vec<u8>,
    next: usize,
}

impl Choices {
    fn pick(&mut self, n: u8) -> u8 {
        let byte = self.bytes.get(self.next % self.bytes.len().max(1)).copied().unwrap_or(0);
        self.next += 1;
        byte % n
    }

    fn ows(&mut self) -> &'static str {
        ["", "", " ", "\t", " \t  "][usize::from(self.pick(5))]
    }
}

/// `value` as a quoted-string, with each character escaped or not as `choices` says.
fn quote(value: &str, choices: &mut Choices) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        if choices.pick(3) == 0 {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Up to two empty list elements, with whitespace around them.
fn push_empty_elements(line: &mut String, choices: &mut Choices) {
    for _ in 0..choices.pick(3) {
        line.push_str(choices.ows());
        line.push(',');
    }
    line.push_str(choices.ows());
}

/// The list written as header values the way a sender may: optional whitespace around every
/// separator, empty elements anywhere, values as quoted strings with arbitrary escapes, and
/// new header lines (some of them empty) at element boundaries.
fn render_noisy(list: &[Extension], choices: &mut Choices) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for (index, extension) in list.iter().enumerate() {
        if index > 0 {
            if choices.pick(3) == 0 {
                lines.push(std::mem::take(&mut line));
                for _ in 0..choices.pick(2) {
                    lines.push(String::from([" ", ",", " , ,", ""][usize::from(choices.pick(4))]));
                }
            } else {
                line.push_str(choices.ows());
                line.push(',');
            }
        }
        push_empty_elements(&mut line, choices);
        line.push_str(extension.name());
        for param in extension.params() {
            line.push_str(choices.ows());
            line.push(';');
            line.push_str(choices.ows());
            line.push_str(param.name());
            if let Some(value) = param.value() {
                line.push_str(choices.ows());
                line.push('=');
                line.push_str(choices.ows());
                if choices.pick(2) == 0 {
                    line.push_str(value);
                } else {
                    line.push_str(&quote(value, choices));
                }
            }
        }
        line.push_str(choices.ows());
    }
    push_empty_elements(&mut line, choices);
    lines.push(line);
    lines
}

fn parse_lines(lines: &[String]) -> Result<Vec<Extension>, ExtensionHeaderError> {
    parse_extensions(lines.iter().map(String::as_bytes))
}

/// The header value and byte offset a parse error points at, if it is a parse error.
fn location(error: &ExtensionHeaderError) -> Option<(usize, usize)> {
    match *error {
        ExtensionHeaderError::MissingName { line, offset }
        | ExtensionHeaderError::MissingValue { line, offset }
        | ExtensionHeaderError::UnexpectedCharacter { line, offset, .. }
        | ExtensionHeaderError::UnterminatedQuotedString { line, offset }
        | ExtensionHeaderError::InvalidQuotedValue { line, offset } => Some((line, offset)),
        _ => None,
    }
}

/// Checks that an error from parsing `lines` is a parse error that points inside them.
fn check_error_location(lines: &[&[u8]], error: &ExtensionHeaderError) {
    let (line, offset) = location(error).expect("parsing fails with a located error");
    assert!(line < lines.len(), "{error:?} for {} lines", lines.len());
    assert!(offset <= lines[line].len(), "{error:?} for {:?}", lines[line]);
    if let ExtensionHeaderError::UnexpectedCharacter { byte, .. } = *error {
        assert_eq!(lines[line].get(offset), Some(&byte));
    }
}

proptest! {
    #[test]
    fn format_then_parse_round_trips(list in extensions()) {
        let value = format_extensions(&list);
        prop_assert_eq!(parse_extensions([value.as_bytes()]), Ok(list.clone()));
        let elements: Vec<String> = list.iter().map(ToString::to_string).collect();
        prop_assert_eq!(elements.join(", "), value);
    }

    #[test]
    fn every_allowed_rendering_parses_the_same(
        list in extensions(),
        choices in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let lines = render_noisy(&list, &mut Choices { bytes: choices, next: 0 });
        prop_assert_eq!(parse_lines(&lines), Ok(list), "{:?}", lines);
    }

    #[test]
    fn one_header_line_per_extension_parses_the_same(list in extensions()) {
        let lines: Vec<String> = list.iter().map(ToString::to_string).collect();
        prop_assert_eq!(parse_lines(&lines), Ok(list));
    }

    #[test]
    fn split_at_element_boundaries_parses_the_same(
        list in extensions(),
        cuts in prop::collection::vec(any::<bool>(), 6),
    ) {
        let mut lines = vec![String::new()];
        for (index, extension) in list.iter().enumerate() {
            let line = lines.last_mut().unwrap();
            if index > 0 && cuts[index] {
                lines.push(extension.to_string());
            } else {
                if !line.is_empty() {
                    line.push_str(", ");
                }
                line.push_str(&extension.to_string());
            }
        }
        prop_assert_eq!(parse_lines(&lines), Ok(list));
    }

    #[test]
    fn quoted_constructor_values_equal_bare_ones(
        name in token(),
        value in token(),
        choices in prop::collection::vec(any::<u8>(), 0..32),
    ) {
        let quoted = quote(&value, &mut Choices { bytes: choices, next: 0 });
        prop_assert_eq!(
            ExtensionParam::new(&name, Some(&quoted)),
            ExtensionParam::new(&name, Some(&value))
        );
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(
        lines in prop::collection::vec(any::<Vec<u8>>(), 0..4),
    ) {
        let slices: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        if let Err(error) = parse_extensions(slices.iter().copied()) {
            check_error_location(&slices, &error);
        }
    }

    /// Valid headers with grammar-relevant bytes inserted or overwritten: either the result is
    /// a list that formats and parses back to itself, or the error points inside the input.
    #[test]
    fn mutated_headers_parse_or_fail_cleanly(
        list in extensions(),
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), prop::sample::select(SPECIALS), any::<bool>()),
            1..4,
        ),
    ) {
        let mut bytes = format_extensions(&list).into_bytes();
        for (at, byte, insert) in edits {
            let at = at.index(bytes.len() + 1);
            if insert || at == bytes.len() {
                bytes.insert(at, byte);
            } else {
                bytes[at] = byte;
            }
        }
        match parse_extensions([bytes.as_slice()]) {
            Ok(parsed) => {
                let value = format_extensions(&parsed);
                prop_assert_eq!(parse_extensions([value.as_bytes()]), Ok(parsed));
            }
            Err(error) => check_error_location(&[&bytes], &error),
        }
    }
}
