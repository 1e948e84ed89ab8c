//! Property tests for the opening handshake (RFC 6455 §4.1, §4.2.1) as a whole: the server reads
//! every allowed way of writing an upgrade request the same, whatever the header order, letter
//! case, whitespace and list layout; reads the same request however the bytes are chunked; gives
//! each broken request its documented error and status; accepts what the client writes, and the
//! client accepts what the server answers; and no input makes either side panic.

use proptest::prelude::*;
use proptest::sample::{select, Index};
use sha1::{Digest, Sha1};
use wsmachine::frame::Status;
use wsmachine::handshake::{
    accept_key, ClientHandshake, Extension, HeadLimits, Header, Incoming, PendingHandshake,
    Request, RequestError, ResponseError, UpgradeRequest,
};

/// Every `tchar` of RFC 7230 §3.2.6.
const TCHARS: &[u8] =
    b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Path characters (`pchar` of RFC 3986, `%` aside) for non-empty path segments.
const PCHARS: &[u8] = b"abcxyzABZ0189-._~!$&'()*+,;=:@";

/// The standard base64 alphabet (RFC 4648 §4).
const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Visible bytes that are not in the standard base64 alphabet (the URL-safe `-` and `_`
/// included).
const NOT_BASE64: &[u8] = b"!#$%&'*-.:;<>?@[]^_`{|}~\"()";

/// The GUID of RFC 6455 §1.3.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// ---------------------------------------------------------------------------------------------
// Oracles written for these tests, independent of the crate's own helpers.

/// Standard base64 with padding, the encoding §4.1 asks for the key.
fn base64(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let triple =
            chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for sextet in 0..4 {
            if sextet <= chunk.len() {
                let index = (triple >> (18 - 6 * sextet)) & 63;
                out.push(char::from(BASE64[index as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `Sec-WebSocket-Accept` as §4.2.2 item 5.4 defines it: base64 of SHA-1 of key and GUID.
fn expected_accept(key: &str) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(GUID.as_bytes());
    base64(&sha1.finalize())
}

// ---------------------------------------------------------------------------------------------
// Random rendering decisions.

/// A stream of rendering decisions. Once its bytes run out every decision is 0, which is always
/// the tidiest choice, so an empty stream renders the canonical form and shrinking the bytes
/// tidies a failing request.
#[derive(Debug)]
struct Dice {
    bytes: Vec<u8>,
    used: usize,
}

impl Dice {
    fn new(bytes: Vec<u8>) -> Dice {
        Dice { bytes, used: 0 }
    }

    /// The canonical rendering.
    fn tidy() -> Dice {
        Dice::new(Vec::new())
    }

    /// A number below `sides`.
    fn roll(&mut self, sides: usize) -> usize {
        let byte = self.bytes.get(self.used).copied().unwrap_or(0);
        self.used += 1;
        usize::from(byte) % sides
    }

    fn flip(&mut self) -> bool {
        self.roll(2) == 1
    }

    /// Optional whitespace (RFC 7230 §3.2.3).
    fn ows(&mut self) -> &'static str {
        ["", " ", "\t", " \t  "][self.roll(4)]
    }

    /// A line ending: CRLF, or now and then the bare LF the crate documents it accepts.
    fn eol(&mut self) -> &'static str {
        if self.roll(6) == 5 {
            "\n"
        } else {
            "\r\n"
        }
    }

    /// `text` with its ASCII letters as they are, all lower, all upper or each flipped at random.
    fn recase(&mut self, text: &str) -> String {
        match self.roll(4) {
            0 => text.to_string(),
            1 => text.to_ascii_lowercase(),
            2 => text.to_ascii_uppercase(),
            _ => text
                .chars()
                .map(|c| if self.flip() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
                .collect(),
        }
    }

    /// Reorders `items`; a tidy stream leaves them in place.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for last in (1..items.len()).rev() {
            let other = last - self.roll(last + 1);
            items.swap(last, other);
        }
    }
}

fn dice() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..1024)
}

// ---------------------------------------------------------------------------------------------
// Requests as parts, rendered in any allowed way.

/// What a request says, before it is written out. Repeatable fields are lists so that
/// mutations can remove or duplicate them.
#[derive(Debug, Clone)]
struct Parts {
    method: String,
    minor_version: u8,
    path: String,
    query: Option<String>,
    host: Vec<String>,
    /// Elements of `Upgrade`.
    upgrade: Vec<String>,
    /// Elements of `Connection`.
    connection: Vec<String>,
    key: Vec<String>,
    version: Vec<String>,
    origin: Option<String>,
    /// Elements of `Sec-WebSocket-Protocol`.
    protocols: Vec<String>,
    extensions: Vec<Extension>,
    cookie: Option<String>,
    /// Other headers, with names unique and starting with `X-`.
    extra: Vec<(String, String)>,
}

/// The `Sec-WebSocket-Protocol` (or other list) lines: elements in order, split over several
/// lines at random, with empty elements and whitespace around every comma.
fn list_lines(name: &str, elements: &[String], dice: &mut Dice) -> Vec<String> {
    fn empties(value: &mut String, dice: &mut Dice) {
        for _ in 0..dice.roll(3) {
            value.push_str(dice.ows());
            value.push(',');
        }
        value.push_str(dice.ows());
    }
    let mut values = vec![String::new()];
    for (index, element) in elements.iter().enumerate() {
        if index > 0 {
            if dice.roll(3) == 2 {
                values.push(String::new());
            } else {
                let value = values.last_mut().expect("never empty");
                value.push_str(dice.ows());
                value.push(',');
            }
        }
        let value = values.last_mut().expect("never empty");
        empties(value, dice);
        value.push_str(element);
    }
    empties(values.last_mut().expect("never empty"), dice);
    if dice.roll(4) == 3 {
        // A line holding nothing but empty elements.
        let mut empty = String::new();
        empties(&mut empty, dice);
        let at = dice.roll(values.len() + 1);
        values.insert(at, empty);
    }
    values
        .into_iter()
        .map(|value| format!("{}:{}{value}", dice.recase(name), [" ", ""][dice.roll(2)]))
        .collect()
}

/// One extension element with optional whitespace around `;` and `=`, and values quoted or
/// not.
fn render_extension(extension: &Extension, dice: &mut Dice) -> String {
    let mut out = extension.name().to_string();
    for param in extension.params() {
        out.push_str(dice.ows());
        out.push(';');
        out.push_str(dice.ows());
        out.push_str(param.name());
        if let Some(value) = param.value() {
            out.push_str(dice.ows());
            out.push('=');
            out.push_str(dice.ows());
            if dice.flip() {
                out.push_str(&format!("\"{value}\""));
            } else {
                out.push_str(value);
            }
        }
    }
    out
}

/// The request as bytes. Header lines come in a random order (lines of one list keep their
/// relative order, which carries meaning), names in random letter case, values with optional
/// whitespace, list headers split over lines with empty elements. A tidy `dice` gives the
/// canonical form.
fn render(parts: &Parts, dice: &mut Dice) -> Vec<u8> {
    fn single(name: &str, value: &str, dice: &mut Dice) -> Vec<String> {
        vec![format!(
            "{}:{}{value}{}",
            dice.recase(name),
            [" ", "", "\t"][dice.roll(3)],
            dice.ows()
        )]
    }
    let mut groups: Vec<Vec<String>> = Vec::new();
    for host in &parts.host {
        groups.push(single("Host", host, dice));
    }
    if !parts.upgrade.is_empty() {
        let upgrade: Vec<String> = parts.upgrade.iter().map(|u| dice.recase(u)).collect();
        groups.push(list_lines("Upgrade", &upgrade, dice));
    }
    if !parts.connection.is_empty() {
        let connection: Vec<String> = parts.connection.iter().map(|c| dice.recase(c)).collect();
        groups.push(list_lines("Connection", &connection, dice));
    }
    for key in &parts.key {
        groups.push(single("Sec-WebSocket-Key", key, dice));
    }
    for version in &parts.version {
        groups.push(single("Sec-WebSocket-Version", version, dice));
    }
    if let Some(origin) = &parts.origin {
        groups.push(single("Origin", origin, dice));
    }
    if !parts.protocols.is_empty() {
        groups.push(list_lines("Sec-WebSocket-Protocol", &parts.protocols, dice));
    }
    if !parts.extensions.is_empty() {
        let elements: Vec<String> =
            parts.extensions.iter().map(|e| render_extension(e, dice)).collect();
        groups.push(list_lines("Sec-WebSocket-Extensions", &elements, dice));
    }
    if let Some(cookie) = &parts.cookie {
        groups.push(single("Cookie", cookie, dice));
    }
    for (name, value) in &parts.extra {
        groups.push(single(name, value, dice));
    }
    // Shuffle the group of each line, then hand each group's lines out in their order.
    let mut order: Vec<usize> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, lines)| std::iter::repeat_n(g, lines.len()))
        .collect();
    dice.shuffle(&mut order);

    let mut target = String::new();
    if dice.roll(4) == 3 {
        // The absolute form, which §4.2.1 item 1 allows.
        let authority = parts.host.first().map_or("example.com", String::as_str);
        target.push_str(&format!("http://{authority}"));
    }
    target.push_str(&parts.path);
    if let Some(query) = &parts.query {
        target.push('?');
        target.push_str(query);
    }
    let mut out = format!("{} {target} HTTP/1.{}{}", parts.method, parts.minor_version, dice.eol());
    let mut next = vec![0; groups.len()];
    for group in order {
        out.push_str(&groups[group][next[group]]);
        next[group] += 1;
        out.push_str(dice.eol());
    }
    out.push_str(dice.eol());
    out.into_bytes()
}

fn token() -> impl Strategy<Value = String> {
    prop::collection::vec(select(TCHARS), 1..8)
        .prop_map(|b| b.into_iter().map(char::from).collect())
}

fn extension() -> impl Strategy<Value = Extension> {
    (token(), prop::collection::vec((token(), prop::option::of(token())), 0..3)).prop_map(
        |(name, params)| {
            params.iter().fold(Extension::new(&name).unwrap(), |extension, (name, value)| {
                extension.with_param(name, value.as_deref()).unwrap()
            })
        },
    )
}

/// An origin-form path of non-empty segments: `/`, `/a`, `/a:b/@c`... Paths with empty
/// segments, such as `/b://`, are `origin_form_paths_are_read_whole`'s business.
fn path() -> impl Strategy<Value = String> {
    let segment = prop::collection::vec(select(PCHARS), 1..6)
        .prop_map(|b| b.into_iter().map(char::from).collect::<String>());
    prop::collection::vec(segment, 0..4).prop_map(|segments| format!("/{}", segments.join("/")))
}

/// A query, which may itself hold `/`, `?` and a whole URI.
fn query() -> impl Strategy<Value = String> {
    const PIECES: &[&str] =
        &["a", "b=1", "&", "=", "x", "://", "/", "?", ":", "%20", "next=http://h/p"];
    prop::collection::vec(select(PIECES), 0..5).prop_map(|pieces| pieces.concat())
}

/// A host name, with a port or not.
fn host_name() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?(\\.[a-z]{2,4}){0,2}"
}

fn host() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        host_name(),
        "(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}",
        Just("[::1]".to_string()),
    ];
    (name, prop::option::of(1..=u16::MAX)).prop_map(|(name, port)| match port {
        Some(port) => format!("{name}:{port}"),
        None => name,
    })
}

fn origin() -> impl Strategy<Value = String> {
    prop_oneof![Just("null".to_string()), "https?://[a-z]{1,10}\\.example(:[0-9]{2,5})?"]
}

fn cookie() -> impl Strategy<Value = String> {
    "[a-z]{1,5}=[a-zA-Z0-9]{0,8}(; [a-z]{1,5}=[a-zA-Z0-9]{0,8}){0,3}"
}

fn extra_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[A-Za-z0-9-]{1,10}", "[!-~]([ !-~]{0,20}[!-~])?"), 0..4).prop_map(
        |headers| {
            let named = headers.into_iter().enumerate();
            named.map(|(i, (name, value))| (format!("X-{i}-{name}"), value)).collect()
        },
    )
}

/// A valid upgrade request, with everything optional drawn at random.
fn valid_parts() -> impl Strategy<Value = Parts> {
    (
        (path(), prop::option::of(query()), host(), any::<[u8; 16]>(), any::<bool>()),
        (
            prop::option::of(origin()),
            prop::collection::vec(token(), 0..5),
            prop::collection::vec(extension(), 0..4),
            prop::option::of(cookie()),
            extra_headers(),
        ),
    )
        .prop_map(
            |(
                (path, query, host, key, keep_alive),
                (origin, protocols, extensions, cookie, extra),
            )| {
                let mut connection = vec!["Upgrade".to_string()];
                if keep_alive {
                    connection.insert(0, "keep-alive".to_string());
                }
                Parts {
                    method: "GET".into(),
                    minor_version: 1,
                    path,
                    query,
                    host: vec![host],
                    upgrade: vec!["websocket".into()],
                    connection,
                    key: vec![base64(&key)],
                    version: vec!["13".into()],
                    origin,
                    protocols,
                    extensions,
                    cookie,
                    extra,
                }
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Reading.

/// Parses a request that must be complete.
fn parse_complete(bytes: &[u8]) -> (Request, usize) {
    match Request::parse(bytes, &HeadLimits::default()) {
        Ok(Status::Complete(parsed)) => parsed,
        other => panic!("{other:?} for {:?}", String::from_utf8_lossy(bytes)),
    }
}

/// Parses and classifies a request that must be a valid upgrade.
fn upgrade_of(bytes: &[u8]) -> UpgradeRequest {
    match parse_complete(bytes).0.classify() {
        Ok(Incoming::WebSocket(upgrade)) => upgrade,
        other => panic!("{other:?} for {:?}", String::from_utf8_lossy(bytes)),
    }
}

/// The 101 response, selecting `protocol`, as text.
fn response_text(upgrade: &UpgradeRequest, protocol: Option<&str>) -> String {
    let mut out = Vec::new();
    let accept = upgrade.accept();
    let accept = match protocol {
        Some(protocol) => accept.protocol(protocol),
        None => accept,
    };
    let negotiated = accept.write(&mut out).expect("the protocol was offered");
    assert_eq!(negotiated.protocol(), protocol);
    String::from_utf8(out).expect("a response head is ASCII")
}

// ---------------------------------------------------------------------------------------------
// Mutations of a valid request.

#[derive(Debug, Clone)]
enum Mutation {
    RemoveHost,
    ExtraHost(String),
    RemoveUpgrade,
    ConnectionWithoutUpgrade(Vec<String>),
    RemoveVersion,
    Version(String),
    ExtraVersion,
    RemoveKey,
    /// A key that is base64 of some other number of bytes.
    KeyOfLength(Vec<u8>),
    /// One character of the key replaced with one that breaks it.
    KeyCharacter {
        at: usize,
        byte: u8,
    },
    KeyWithoutPadding,
    ExtraKey([u8; 16]),
    Method(String),
    Http10,
    NonTokenProtocol {
        at: Index,
        protocol: String,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let not_upgrade =
        select(&["keep-alive", "close", "upgraded", "up-grade", "Upgrade/1", "TE"][..]);
    let delimiters = select(&b"\"()/:;<=>?@[\\]{} "[..]);
    prop_oneof![
        Just(Mutation::RemoveHost),
        host().prop_map(Mutation::ExtraHost),
        Just(Mutation::RemoveUpgrade),
        prop::collection::vec(not_upgrade.prop_map(String::from), 0..3)
            .prop_map(Mutation::ConnectionWithoutUpgrade),
        Just(Mutation::RemoveVersion),
        prop_oneof![
            Just(String::new()),
            (0u32..100).prop_filter("not 13", |v| *v != 13).prop_map(|v| v.to_string()),
            any::<u32>().prop_filter("not 13", |v| *v != 13).prop_map(|v| v.to_string()),
        ]
        .prop_map(Mutation::Version),
        Just(Mutation::ExtraVersion),
        Just(Mutation::RemoveKey),
        prop::collection::vec(any::<u8>(), 0..40)
            .prop_filter("not 16 bytes", |b| b.len() != 16)
            .prop_map(Mutation::KeyOfLength),
        (0..22usize, select([NOT_BASE64, b"="].concat()))
            .prop_map(|(at, byte)| Mutation::KeyCharacter { at, byte }),
        (22..24usize, select([NOT_BASE64, b"AQg0+/"].concat()))
            .prop_map(|(at, byte)| Mutation::KeyCharacter { at, byte }),
        Just(Mutation::KeyWithoutPadding),
        any::<[u8; 16]>().prop_map(Mutation::ExtraKey),
        token().prop_filter("not GET", |m| m != "GET").prop_map(Mutation::Method),
        Just(Mutation::Http10),
        (any::<Index>(), token(), delimiters, token()).prop_map(|(at, a, d, b)| {
            Mutation::NonTokenProtocol { at, protocol: format!("{a}{}{b}", char::from(d)) }
        }),
    ]
}

/// Applies `mutation`, returning the error and status the request must now get, or `None` if
/// it is now a plain HTTP request.
fn apply(parts: &mut Parts, mutation: &Mutation) -> Option<(RequestError, u16)> {
    let invalid_key = Some((RequestError::InvalidKey, 400));
    match mutation {
        Mutation::RemoveHost => {
            parts.host.clear();
            Some((RequestError::MissingHost, 400))
        }
        Mutation::ExtraHost(host) => {
            parts.host.push(host.clone());
            Some((RequestError::DuplicateHeader("Host"), 400))
        }
        Mutation::RemoveUpgrade => {
            parts.upgrade.clear();
            None
        }
        Mutation::ConnectionWithoutUpgrade(tokens) => {
            parts.connection.clone_from(tokens);
            Some((RequestError::MissingConnectionUpgrade, 400))
        }
        Mutation::RemoveVersion => {
            parts.version.clear();
            Some((RequestError::UnsupportedVersion, 426))
        }
        Mutation::Version(version) => {
            parts.version = vec![version.clone()];
            Some((RequestError::UnsupportedVersion, 426))
        }
        Mutation::ExtraVersion => {
            parts.version.push("13".into());
            Some((RequestError::UnsupportedVersion, 426))
        }
        Mutation::RemoveKey => {
            parts.key.clear();
            invalid_key
        }
        Mutation::KeyOfLength(bytes) => {
            parts.key = vec![base64(bytes)];
            invalid_key
        }
        Mutation::KeyCharacter { at, byte } => {
            let mut key = parts.key[0].clone().into_bytes();
            key[*at] = *byte;
            parts.key = vec![String::from_utf8(key).unwrap()];
            invalid_key
        }
        Mutation::KeyWithoutPadding => {
            parts.key[0] = parts.key[0].trim_end_matches('=').to_string();
            invalid_key
        }
        Mutation::ExtraKey(bytes) => {
            parts.key.push(base64(bytes));
            Some((RequestError::DuplicateHeader("Sec-WebSocket-Key"), 400))
        }
        Mutation::Method(method) => {
            parts.method.clone_from(method);
            Some((RequestError::MethodNotGet, 405))
        }
        Mutation::Http10 => {
            parts.minor_version = 0;
            Some((RequestError::HttpVersionTooOld, 400))
        }
        Mutation::NonTokenProtocol { at, protocol } => {
            let at = at.index(parts.protocols.len() + 1);
            parts.protocols.insert(at, protocol.clone());
            Some((RequestError::InvalidProtocolList, 400))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The client.

/// A client handshake for `uri`, offering `protocols` and `extensions`, and its request, written
/// with the key drawn from a random source that hands out the bytes of `nonce`.
fn client_request(
    uri: &str,
    protocols: &[String],
    extensions: &[Extension],
    nonce: [u8; 16],
) -> (PendingHandshake, Vec<u8>) {
    let mut handshake = ClientHandshake::new(uri).expect("a valid URI");
    for protocol in protocols {
        handshake = handshake.protocol(protocol);
    }
    for extension in extensions {
        handshake = handshake.extension(extension.clone());
    }
    let mut random = |buf: &mut [u8]| {
        for (byte, source) in buf.iter_mut().zip(nonce.iter().cycle()) {
            *byte = *source;
        }
    };
    let mut out = Vec::new();
    let pending = handshake.write_request(&mut random, &mut out).expect("tokens only");
    (pending, out)
}

/// Replaces (kind 0), removes (kind 1) or inserts (otherwise) one byte per edit.
fn apply_edits(bytes: &mut Vec<u8>, edits: &[(Index, u8, u8)]) {
    for &(at, kind, byte) in edits {
        let at = at.index(bytes.len() + 1);
        match kind {
            0 if at < bytes.len() => bytes[at] = byte,
            1 if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.insert(at, byte),
        }
    }
}

/// Arbitrary bytes, or a valid message with a few bytes replaced, inserted or removed, which
/// gets much further into the parsers.
fn damaged(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec((any::<Index>(), 0..3u8, any::<u8>()), 1..6);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..600),
        edits.prop_map(move |edits| {
            let mut bytes = valid.clone();
            apply_edits(&mut bytes, &edits);
            bytes
        }),
    ]
}

/// The bytes of a valid request to damage.
const SAMPLE_REQUEST: &str = "GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\n\
    Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
    Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\
    Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Property 1: order, letter case, whitespace and list layout do not change what the server
    /// reads, and the answer carries the accept key for the key sent.
    #[test]
    fn header_order_case_and_whitespace_do_not_matter(parts in valid_parts(), noise in dice()) {
        let canonical_bytes = render(&parts, &mut Dice::tidy());
        let canonical = upgrade_of(&canonical_bytes);
        let bytes = render(&parts, &mut Dice::new(noise));
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let (request, head_len) = parse_complete(&bytes);
        prop_assert_eq!(head_len, bytes.len(), "{}", text);
        let upgrade = match request.classify() {
            Ok(Incoming::WebSocket(upgrade)) => upgrade,
            other => panic!("{other:?} for {text:?}"),
        };

        prop_assert_eq!(upgrade.key(), canonical.key(), "{}", text);
        prop_assert_eq!(upgrade.key(), &parts.key[0]);
        prop_assert_eq!(upgrade.protocols(), canonical.protocols(), "{}", text);
        prop_assert_eq!(upgrade.protocols(), &parts.protocols[..]);
        prop_assert_eq!(upgrade.extensions(), canonical.extensions(), "{}", text);
        prop_assert_eq!(upgrade.extensions(), &parts.extensions[..]);

        let request = upgrade.request();
        prop_assert_eq!(request.path(), &parts.path, "{}", text);
        prop_assert_eq!(request.query(), parts.query.as_deref(), "{}", text);
        prop_assert_eq!(request.host(), Some(parts.host[0].as_str()), "{}", text);
        prop_assert_eq!(request.origin(), parts.origin.as_deref(), "{}", text);
        prop_assert_eq!(request.header("cookie"), parts.cookie.as_deref().map(str::as_bytes));
        for (name, value) in &parts.extra {
            prop_assert_eq!(request.header(name), Some(value.as_bytes()), "{}", text);
        }

        let accept = expected_accept(&parts.key[0]);
        prop_assert_eq!(&accept_key(parts.key[0].as_bytes()), &accept);
        let response = response_text(&upgrade, parts.protocols.first().map(String::as_str));
        prop_assert!(response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{}", response);
        let accept_line = format!("\r\nSec-WebSocket-Accept: {accept}\r\n");
        prop_assert!(response.contains(&accept_line), "{}", response);
        prop_assert_eq!(response, response_text(&canonical, parts.protocols.first().map(String::as_str)));
    }

    /// Property 2: however the bytes arrive, the request is incomplete until its blank line
    /// and then the same, and whatever follows the head is left to the caller.
    #[test]
    fn chunking_does_not_change_the_request(
        parts in valid_parts(),
        noise in dice(),
        trailing in prop::collection::vec(any::<u8>(), 0..48),
    ) {
        let head = render(&parts, &mut Dice::new(noise));
        let mut bytes = head.clone();
        bytes.extend_from_slice(&trailing);
        let (whole, whole_len) = parse_complete(&head);
        prop_assert_eq!(whole_len, head.len());
        for end in 0..head.len() {
            match Request::parse(&bytes[..end], &HeadLimits::default()) {
                Ok(Status::Incomplete { needed }) => prop_assert!(needed >= 1),
                other => panic!("{other:?} at {end} of {:?}", String::from_utf8_lossy(&head)),
            }
        }
        for end in head.len()..=bytes.len() {
            let (request, head_len) = parse_complete(&bytes[..end]);
            prop_assert_eq!(head_len, head.len());
            prop_assert_eq!(&request, &whole);
            prop_assert_eq!(&bytes[head_len..end], &trailing[..end - head.len()]);
        }
    }

    /// Property 3: one broken rule gives its documented error and status, and a ready
    /// rejection that says so; never a panic, never an accepted upgrade.
    #[test]
    fn each_mutation_gets_its_error_and_status(
        mut parts in valid_parts(),
        mutation in mutation(),
        noise in dice(),
    ) {
        let expected = apply(&mut parts, &mutation);
        let bytes = render(&parts, &mut Dice::new(noise));
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let (request, _) = parse_complete(&bytes);
        match (request.classify(), expected) {
            (Ok(Incoming::Http(_)), None) => {}
            (Err(error), Some((expected, status))) => {
                prop_assert_eq!(&error, &expected, "{}", text);
                prop_assert_eq!(error.status(), status);
                let rejection = error.rejection();
                prop_assert_eq!(rejection.status(), status);
                let mut out = Vec::new();
                rejection.write(&mut out);
                let out = String::from_utf8(out).unwrap();
                prop_assert!(out.starts_with(&format!("HTTP/1.1 {status} ")), "{}", out);
                prop_assert!(out.contains("\r\nConnection: close\r\n"), "{}", out);
                if status == 426 {
                    prop_assert!(out.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{}", out);
                }
                if status == 405 {
                    prop_assert!(out.contains("\r\nAllow: GET\r\n"), "{}", out);
                }
                // A client reads the rejection back, and only once its whole body is in.
                let (pending, _) = client_request("ws://example.com/", &[], &[], [0; 16]);
                let bytes = out.as_bytes();
                for end in 0..bytes.len() {
                    let partial = pending.read_response(&bytes[..end]);
                    prop_assert!(matches!(partial, Ok(Status::Incomplete { .. })), "at {}", end);
                }
                match pending.read_response(bytes) {
                    Err(ResponseError::Rejected(response)) => {
                        prop_assert_eq!(response.status(), status);
                        prop_assert_eq!(response.body(), rejection.body());
                        prop_assert_eq!(response.header("connection"), Some(&b"close"[..]));
                    }
                    other => panic!("{other:?} for {out:?}"),
                }
            }
            (got, expected) => panic!("{got:?}, expected {expected:?}, for {text:?}"),
        }
    }

    /// Property 4: what the client writes, the server accepts as sent; what the server answers
    /// with any offered protocol and offered extensions, the client accepts, and only once the
    /// whole head has arrived.
    #[test]
    fn client_and_server_agree(
        (name, port) in (host_name(), prop::option::of(1..=u16::MAX)),
        (path, query) in (path(), prop::option::of(query())),
        protocols in prop::collection::vec(token(), 0..6),
        extensions in prop::collection::vec(extension(), 0..3),
        nonce in any::<[u8; 16]>(),
        choice in any::<Index>(),
        accepted_mask in any::<[bool; 3]>(),
        trailing in prop::collection::vec(any::<u8>(), 0..24),
    ) {
        let authority = match port {
            Some(port) => format!("{name}:{port}"),
            None => name.clone(),
        };
        let host_header = match port {
            Some(port) if port != 80 => authority.clone(),
            _ => name.clone(),
        };
        let resource = match &query {
            Some(query) => format!("{path}?{query}"),
            None => path.clone(),
        };
        let uri = format!("ws://{authority}{resource}");
        let (pending, request) = client_request(&uri, &protocols, &extensions, nonce);
        prop_assert_eq!(pending.key(), base64(&nonce));

        let upgrade = upgrade_of(&request);
        prop_assert_eq!(upgrade.key(), pending.key());
        prop_assert_eq!(upgrade.protocols(), &protocols[..]);
        prop_assert_eq!(upgrade.extensions(), &extensions[..]);
        prop_assert_eq!(upgrade.request().target(), &resource);
        prop_assert_eq!(upgrade.request().path(), &path);
        prop_assert_eq!(upgrade.request().query(), query.as_deref());
        prop_assert_eq!(upgrade.request().host(), Some(host_header.as_str()));

        let protocol = (!protocols.is_empty()).then(|| protocols[choice.index(protocols.len())].clone());
        let chosen: Vec<Extension> = extensions
            .iter()
            .zip(accepted_mask)
            .filter(|(_, accepted)| *accepted)
            .map(|(extension, _)| extension.clone())
            .collect();
        let mut accept = upgrade.accept();
        if let Some(protocol) = &protocol {
            accept = accept.protocol(protocol);
        }
        for extension in &chosen {
            accept = accept.extension(extension.clone());
        }
        let mut response = Vec::new();
        let server_view = accept.write(&mut response).expect("only offered choices");
        let head = response.len();
        response.extend_from_slice(&trailing);

        for end in 0..head {
            match pending.read_response(&response[..end]) {
                Ok(Status::Incomplete { needed }) => prop_assert!(needed >= 1),
                other => panic!("{other:?} at {end}"),
            }
        }
        for end in head..=response.len() {
            match pending.read_response(&response[..end]) {
                Ok(Status::Complete((accepted, head_len))) => {
                    prop_assert_eq!(head_len, head);
                    prop_assert_eq!(accepted.negotiated(), &server_view);
                    prop_assert_eq!(accepted.negotiated().protocol(), protocol.as_deref());
                    prop_assert_eq!(accepted.negotiated().extensions(), &chosen[..]);
                }
                other => panic!("{other:?} at {end}"),
            }
        }
    }

    /// Property 5a: no bytes make the server side panic, and every failure has a status the
    /// server can answer with.
    #[test]
    fn any_bytes_never_panic_the_server(
        bytes in damaged(SAMPLE_REQUEST.as_bytes().to_vec()),
        max_head_len in prop_oneof![Just(16 * 1024), 0..700usize],
        max_headers in prop_oneof![Just(64), 0..12usize],
    ) {
        let mut limits = HeadLimits::default();
        limits.max_head_len = max_head_len;
        limits.max_headers = max_headers;
        match Request::parse(&bytes, &limits) {
            Ok(Status::Incomplete { needed }) => prop_assert!(needed >= 1),
            Ok(Status::Complete((request, head_len))) => {
                prop_assert!(head_len <= bytes.len() && head_len <= max_head_len);
                match request.classify() {
                    Ok(Incoming::WebSocket(upgrade)) => {
                        let mut out = Vec::new();
                        let protocol = upgrade.protocols().first().cloned();
                        let mut accept = upgrade.accept();
                        if let Some(protocol) = &protocol {
                            accept = accept.protocol(protocol);
                        }
                        prop_assert!(accept.write(&mut out).is_ok());
                    }
                    Ok(Incoming::Http(_)) => {}
                    Err(error) => prop_assert!([400, 405, 426].contains(&error.status())),
                }
            }
            Err(error) => prop_assert!([400, 431].contains(&error.status()), "{:?}", error),
        }
    }

    /// Property 5b: no bytes make the client side panic.
    #[test]
    fn any_bytes_never_panic_the_client(
        nonce in any::<[u8; 16]>(),
        edits in prop::collection::vec((any::<Index>(), 0..3u8, any::<u8>()), 0..6),
        random in prop::collection::vec(any::<u8>(), 0..600),
        use_random in any::<bool>(),
    ) {
        let protocols = ["chat".to_string(), "superchat".to_string()];
        let extensions = [Extension::new("permessage-deflate").unwrap()];
        let (pending, _) = client_request("ws://example.com/chat", &protocols, &extensions, nonce);
        let bytes = if use_random {
            random
        } else {
            let mut bytes = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: chat\r\n\
                 Sec-WebSocket-Extensions: permessage-deflate\r\nContent-Length: 3\r\n\r\nabc",
                expected_accept(pending.key()),
            )
            .into_bytes();
            apply_edits(&mut bytes, &edits);
            bytes
        };
        match pending.read_response(&bytes) {
            Ok(Status::Incomplete { needed }) => prop_assert!(needed >= 1),
            Ok(Status::Complete((_, head_len))) => prop_assert!(head_len <= bytes.len()),
            Err(ResponseError::Rejected(rejection)) => prop_assert_ne!(rejection.status(), 101),
            Err(_) => {}
        }
    }
}

/// The header the crate sends for a client-supplied value is the one the server reads back.
#[test]
fn client_headers_reach_the_server() {
    let mut out = Vec::new();
    let pending = ClientHandshake::new("ws://example.com/")
        .unwrap()
        .origin("https://app.example")
        .header(Header::new("Cookie", "a=1; b=2").unwrap())
        .write_request(&mut |buf: &mut [u8]| buf.fill(9), &mut out)
        .unwrap();
    let upgrade = upgrade_of(&out);
    assert_eq!(upgrade.key(), pending.key());
    assert_eq!(upgrade.request().origin(), Some("https://app.example"));
    assert_eq!(upgrade.request().header("cookie"), Some(&b"a=1; b=2"[..]));
}

proptest! {
    /// Origin-form targets are paths, whatever their segments hold: an empty segment after one
    /// that ends in `:` (as in `/proxy/http://host/x`) does not make them absolute URIs.
    #[test]
    fn origin_form_paths_are_read_whole(
        segments in prop::collection::vec(select(&["", "a", "b:", "http:", "x.y", "@"][..]), 0..6),
        query in prop::option::of(query()),
    ) {
        let path = format!("/{}", segments.join("/"));
        let target = match &query {
            Some(query) => format!("{path}?{query}"),
            None => path.clone(),
        };
        let bytes = format!("GET {target} HTTP/1.1\r\nHost: example.com\r\n\r\n");
        let (request, _) = parse_complete(bytes.as_bytes());
        prop_assert_eq!(request.target(), &target);
        prop_assert_eq!(request.path(), &path);
        prop_assert_eq!(request.query(), query.as_deref());
    }
}
