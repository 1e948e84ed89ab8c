//! Lexical helpers for HTTP header values in the opening handshake: tokens and comma-separated
//! lists (RFC 7230 §3.2.6 and §7, which RFC 6455 §4.1, §4.2.1 and §9.1 build on).
//!
//! Everything here borrows from the header values it is given, never allocates and never
//! panics. Quoted strings are not understood here: the token lists of `Upgrade`, `Connection`
//! and `Sec-WebSocket-Protocol` cannot contain them, and the extension parser, which must,
//! splits its own elements.

/// Whether `b` is a `tchar` of RFC 7230 §3.2.6: an ASCII letter or digit, or one of
/// ``!#$%&'*+-.^_`|~``.
pub(crate) const fn is_token_char(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'#'
            | b'$'
            | b'%'
            | b'&'
            | b'\''
            | b'*'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~'
            | b'0'..=b'9'
            | b'A'..=b'Z'
            | b'a'..=b'z'
    )
}

/// Whether `s` is a `token` of RFC 7230 §3.2.6: one or more `tchar`s.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token_char(b))
}

/// Whether `b` is optional whitespace (`OWS`, RFC 7230 §3.2.3): a space or a horizontal tab.
pub(crate) const fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `s` without the optional whitespace at either end.
pub(crate) fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_ows(b)).map_or(start, |last| last + 1);
    s.get(start..end).unwrap_or_default()
}

/// The elements of a comma-separated list (RFC 7230 §7, the `#rule`) spread over the values of
/// several header lines, in order, each trimmed of optional whitespace.
///
/// Empty elements are skipped, as §7 requires of a recipient (`", a,,b ,"` holds `a` and `b`),
/// so a header that repeats or ends with a comma reads the same as a tidy one. Header lines of
/// the same name are one list (RFC 7230 §3.2.2), so an element never spans two values. Commas
/// inside quoted strings are not special here: use this only for lists of tokens.
pub(crate) fn list_elements<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
) -> impl Iterator<Item = &'a [u8]> {
    values
        .into_iter()
        .flat_map(|value| value.split(|&b| b == b','))
        .map(trim_ows)
        .filter(|element| !element.is_empty())
}

/// Whether the comma-separated list in `values` holds `token`, compared ASCII
/// case-insensitively, as for `Connection: keep-alive, Upgrade` (§4.1, §4.2.1: the
/// `Connection` options and the `Upgrade` protocol name are case-insensitive).
pub(crate) fn list_contains_token_ignore_case<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
    token: &str,
) -> bool {
    list_elements(values).any(|element| element.eq_ignore_ascii_case(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn elements<'a>(values: &[&'a [u8]]) -> Vec<&'a [u8]> {
        list_elements(values.iter().copied()).collect()
    }

    #[test]
    fn token_chars_are_exactly_tchar() {
        let specials = b"!#$%&'*+-.^_`|~";
        for b in 0..=u8::MAX {
            let expected = b.is_ascii_alphanumeric() || specials.contains(&b);
            assert_eq!(is_token_char(b), expected, "byte {b:#04x}");
        }
    }

    #[test]
    fn tokens_are_non_empty_runs_of_tchar() {
        assert!(is_token(b"permessage-deflate"));
        assert!(is_token(b"x-webkit-deflate-frame"));
        assert!(is_token(b"a"));
        assert!(is_token(b"!#$%&'*+-.^_`|~09AZaz"));
        assert!(!is_token(b""));
        assert!(!is_token(b"two words"));
        assert!(!is_token(b"a,b"));
        assert!(!is_token(b"a;b"));
        assert!(!is_token(b"a=b"));
        assert!(!is_token(b"\"quoted\""));
        assert!(!is_token(b"caf\xc3\xa9"));
        assert!(!is_token(b"tab\t"));
        for delimiter in b"\"(),/:;<=>?@[\\]{}" {
            assert!(!is_token(&[b'a', *delimiter]), "{}", char::from(*delimiter));
        }
    }

    #[test]
    fn trim_ows_strips_spaces_and_tabs_only() {
        assert_eq!(trim_ows(b"  a b\t"), b"a b");
        assert_eq!(trim_ows(b"\t \t"), b"");
        assert_eq!(trim_ows(b""), b"");
        assert_eq!(trim_ows(b"x"), b"x");
        assert_eq!(trim_ows(b"\r\na\r\n"), b"\r\na\r\n");
    }

    #[test]
    fn list_elements_skip_empty_elements_and_whitespace() {
        assert_eq!(elements(&[b", a,,b ,"]), [b"a".as_slice(), b"b"]);
        assert_eq!(elements(&[b"websocket"]), [b"websocket".as_slice()]);
        assert_eq!(elements(&[b"  \t"]), Vec::<&[u8]>::new());
        assert_eq!(elements(&[b",,,"]), Vec::<&[u8]>::new());
        assert_eq!(elements(&[]), Vec::<&[u8]>::new());
        assert_eq!(elements(&[b"keep-alive,\tUpgrade"]), [b"keep-alive".as_slice(), b"Upgrade"]);
    }

    #[test]
    fn list_elements_span_header_lines_in_order() {
        assert_eq!(
            elements(&[b"chat, superchat", b"", b" ,v2.chat"]),
            [b"chat".as_slice(), b"superchat", b"v2.chat"]
        );
    }

    #[test]
    fn list_elements_keep_inner_whitespace() {
        // Not a token, but it is the element: validating it is the caller's business.
        assert_eq!(elements(&[b"a b, c"]), [b"a b".as_slice(), b"c"]);
    }

    #[test]
    fn contains_token_ignores_case_and_list_position() {
        let connection: [&[u8]; 2] = [b"keep-alive", b" , UPGRADE "];
        assert!(list_contains_token_ignore_case(connection, "Upgrade"));
        assert!(list_contains_token_ignore_case([b"websocket".as_slice()], "websocket"));
        assert!(list_contains_token_ignore_case([b"WebSocket".as_slice()], "websocket"));
        assert!(list_contains_token_ignore_case([b"h2c, websocket".as_slice()], "websocket"));
    }

    #[test]
    fn contains_token_matches_whole_elements_only() {
        assert!(!list_contains_token_ignore_case([b"upgraded".as_slice()], "upgrade"));
        assert!(!list_contains_token_ignore_case([b"websocket/13".as_slice()], "websocket"));
        assert!(!list_contains_token_ignore_case([b"web socket".as_slice()], "websocket"));
        assert!(!list_contains_token_ignore_case([b"".as_slice()], "websocket"));
        assert!(!list_contains_token_ignore_case(core::iter::empty(), "websocket"));
    }
}
