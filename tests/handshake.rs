//! The opening handshake as conversations: server parsing and validation with every rejection
//! status, the client's request and response checks, and a client and server talking.

use wsmachine::frame::Status;
use wsmachine::handshake::{
    accept_key, Accepted, ClientHandshake, Extension, HeadLimits, Header, Incoming,
    PendingHandshake, Request, RequestError, ResponseError, UpgradeRequest, UriError, WsUri,
};

const RFC_REQUEST: &str = "GET /chat HTTP/1.1\r\n\
    Host: server.example.com\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Origin: http://example.com\r\n\
    Sec-WebSocket-Protocol: chat, superchat\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

fn parse(bytes: &[u8]) -> Result<Status<(Request, usize)>, RequestError> {
    Request::parse(bytes, &HeadLimits::default())
}

fn classify(bytes: &[u8]) -> Result<Incoming, RequestError> {
    match parse(bytes)? {
        Status::Complete((request, _)) => request.classify(),
        Status::Incomplete { .. } => panic!("incomplete request"),
    }
}

fn upgrade(bytes: &[u8]) -> UpgradeRequest {
    match classify(bytes).unwrap() {
        Incoming::WebSocket(upgrade) => upgrade,
        Incoming::Http(request) => panic!("not an upgrade: {request:?}"),
    }
}

/// The RFC example with one header line replaced (or removed, with an empty replacement).
fn rfc_request_with(name: &str, line: &str) -> String {
    let mut out = String::new();
    for header_line in RFC_REQUEST.split_inclusive("\r\n") {
        if header_line.to_ascii_lowercase().starts_with(&format!("{}:", name.to_ascii_lowercase()))
        {
            out.push_str(line);
        } else {
            out.push_str(header_line);
        }
    }
    out
}

#[test]
fn rfc_example_request_is_accepted_with_the_rfc_accept_key() {
    let upgrade = upgrade(RFC_REQUEST.as_bytes());
    assert_eq!(upgrade.request().path(), "/chat");
    assert_eq!(upgrade.request().host(), Some("server.example.com"));
    assert_eq!(upgrade.request().origin(), Some("http://example.com"));
    assert_eq!(upgrade.protocols(), ["chat", "superchat"]);
    let mut response = Vec::new();
    let negotiated = upgrade.accept().protocol("chat").write(&mut response).unwrap();
    assert_eq!(negotiated.protocol(), Some("chat"));
    assert_eq!(
        String::from_utf8(response).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
    );
}

#[test]
fn accept_refuses_what_the_client_did_not_offer() {
    let upgrade = upgrade(RFC_REQUEST.as_bytes());
    let mut out = Vec::new();
    assert!(upgrade.accept().protocol("mqtt").write(&mut out).is_err());
    let deflate = Extension::new("permessage-deflate").unwrap();
    assert!(upgrade.accept().extension(deflate).write(&mut out).is_err());
    assert!(out.is_empty(), "nothing is written on failure");
}

#[test]
fn each_invalid_request_gets_its_status() {
    let cases: Vec<(String, RequestError, u16)> = vec![
        (RFC_REQUEST.replacen("GET", "POST", 1), RequestError::MethodNotGet, 405),
        (RFC_REQUEST.replacen("HTTP/1.1", "HTTP/1.0", 1), RequestError::HttpVersionTooOld, 400),
        (rfc_request_with("Host", ""), RequestError::MissingHost, 400),
        (
            rfc_request_with("Host", "Host: a\r\nHost: b\r\n"),
            RequestError::DuplicateHeader("Host"),
            400,
        ),
        (rfc_request_with("Connection", "Connection: keep-alive\r\n"), RequestError::MissingConnectionUpgrade, 400),
        (rfc_request_with("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8\r\n"), RequestError::UnsupportedVersion, 426),
        (rfc_request_with("Sec-WebSocket-Version", ""), RequestError::UnsupportedVersion, 426),
        (rfc_request_with("Sec-WebSocket-Key", ""), RequestError::InvalidKey, 400),
        (rfc_request_with("Sec-WebSocket-Key", "Sec-WebSocket-Key: c2hvcnQ=\r\n"), RequestError::InvalidKey, 400),
        (
            rfc_request_with("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
            RequestError::DuplicateHeader("Sec-WebSocket-Key"),
            400,
        ),
        (rfc_request_with("Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: chat, \"quoted\"\r\n"), RequestError::InvalidProtocolList, 400),
        (rfc_request_with("Origin", "Content-Length: 10\r\n"), RequestError::UpgradeWithBody, 400),
        (rfc_request_with("Origin", "Content-Length: 0\r\nContent-Length: 5\r\n"), RequestError::UpgradeWithBody, 400),
        (rfc_request_with("Origin", "Content-Length: x\r\n"), RequestError::UpgradeWithBody, 400),
        (rfc_request_with("Origin", "Transfer-Encoding: chunked\r\n"), RequestError::UpgradeWithBody, 400),
    ];
    for (request, expected, status) in cases {
        let error = classify(request.as_bytes()).unwrap_err();
        assert_eq!(error, expected, "{request}");
        assert_eq!(error.status(), status, "{request}");
        let mut out = Vec::new();
        error.rejection().write(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{text}");
        assert!(text.contains("Connection: close\r\n"));
        if status == 426 {
            assert!(text.contains("Sec-WebSocket-Version: 13\r\n"));
        }
        if status == 405 {
            assert!(text.contains("Allow: GET\r\n"));
        }
    }
    let bad_extensions = rfc_request_with("Origin", "Sec-WebSocket-Extensions: ;bad\r\n");
    let error = classify(bad_extensions.as_bytes()).unwrap_err();
    assert!(matches!(error, RequestError::InvalidExtensions(_)), "{error:?}");
    assert_eq!(error.status(), 400);
}

#[test]
fn limits_give_431_and_garbage_400() {
    let mut limits = HeadLimits::default();
    limits.max_head_len = 64;
    let error = Request::parse(RFC_REQUEST.as_bytes(), &limits).unwrap_err();
    assert_eq!(error, RequestError::HeadTooLarge { limit: 64 });
    assert_eq!(error.status(), 431);
    // Without a blank line in sight the limit still applies.
    let error = Request::parse(&[b'a'; 64], &limits).unwrap_err();
    assert_eq!(error.status(), 431);

    let mut few = HeadLimits::default();
    few.max_headers = 3;
    let error = Request::parse(RFC_REQUEST.as_bytes(), &few).unwrap_err();
    assert_eq!(error, RequestError::TooManyHeaders { limit: 3 });
    assert_eq!(error.status(), 431);

    let error = parse(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n").unwrap_err();
    assert_eq!(error, RequestError::Malformed);
    assert_eq!(error.status(), 400);
}

#[test]
fn plain_http_requests_are_handed_back_to_the_caller() {
    let request = "GET /index.html HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\n\r\n";
    let Incoming::Http(request) = classify(request.as_bytes()).unwrap() else {
        panic!("not an upgrade")
    };
    assert_eq!(request.path(), "/index.html");
    assert_eq!(request.header("ACCEPT"), Some(&b"text/html"[..]));
    // An upgrade to another protocol is plain HTTP to us too.
    let h2c = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n";
    assert!(matches!(classify(h2c.as_bytes()).unwrap(), Incoming::Http(_)));
}

#[test]
fn request_fed_one_byte_at_a_time_completes_exactly_at_the_blank_line() {
    let mut bytes = RFC_REQUEST.as_bytes().to_vec();
    bytes.extend_from_slice(&[0x81, 0x80, 1, 2, 3, 4]); // a pipelined first frame
    for end in 0..RFC_REQUEST.len() {
        assert!(matches!(parse(&bytes[..end]).unwrap(), Status::Incomplete { .. }), "at {end}");
    }
    for end in RFC_REQUEST.len()..=bytes.len() {
        let Status::Complete((_, head_len)) = parse(&bytes[..end]).unwrap() else { panic!() };
        assert_eq!(head_len, RFC_REQUEST.len());
        assert_eq!(&bytes[head_len..end], &[0x81, 0x80, 1, 2, 3, 4][..end - head_len]);
    }
}

#[test]
fn header_lists_are_case_insensitive_and_may_repeat() {
    let request = "get /chat HTTP/1.1\r\n".to_string();
    // Methods are case-sensitive: "get" is not GET, and not an upgrade attempt we accept.
    assert!(
        classify((request + &RFC_REQUEST["GET /chat HTTP/1.1\r\n".len()..]).as_bytes()).is_err()
    );

    let request = "GET /chat HTTP/1.1\r\nhost: a\r\nUPGRADE: WebSocket\r\n\
        connection: keep-alive\r\nConnection: upgrade\r\n\
        sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nSEC-WEBSOCKET-VERSION: 13\r\n\
        Sec-WebSocket-Protocol: a\r\nSec-WebSocket-Protocol: b,  c\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
    let upgrade = upgrade(request.as_bytes());
    assert_eq!(upgrade.protocols(), ["a", "b", "c"]);
    assert_eq!(upgrade.extensions().len(), 1);
    assert_eq!(upgrade.extensions()[0].name(), "permessage-deflate");
}

fn accepted_response(pending: &PendingHandshake, extra: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n{extra}\r\n",
        accept_key(pending.key().as_bytes())
    )
}

fn client(protocols: &[&str]) -> (PendingHandshake, String) {
    let mut handshake = ClientHandshake::new("ws://example.com:8080/chat?x=1").unwrap();
    for protocol in protocols {
        handshake = handshake.protocol(protocol);
    }
    let handshake = handshake.extension(Extension::new("permessage-deflate").unwrap());
    let mut out = Vec::new();
    let mut counter = 0u8;
    let pending = handshake
        .write_request(
            &mut |buf: &mut [u8]| {
                for byte in buf {
                    counter = counter.wrapping_add(1);
                    *byte = counter;
                }
            },
            &mut out,
        )
        .unwrap();
    (pending, String::from_utf8(out).unwrap())
}

fn read(pending: &PendingHandshake, response: &str) -> Result<Accepted, ResponseError> {
    match pending.read_response(response.as_bytes())? {
        Status::Complete((accepted, _)) => Ok(accepted),
        Status::Incomplete { .. } => panic!("incomplete response"),
    }
}

#[test]
fn client_request_is_a_valid_server_request() {
    let (pending, request) = client(&["chat", "superchat"]);
    assert!(request.starts_with("GET /chat?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n"));
    assert!(request.contains("Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"));
    let upgrade = upgrade(request.as_bytes());
    assert_eq!(upgrade.key(), pending.key());
    assert_eq!(upgrade.protocols(), ["chat", "superchat"]);

    // The server answers; the client accepts that answer.
    let mut response = Vec::new();
    let server_view = upgrade
        .accept()
        .protocol("superchat")
        .extension(Extension::new("permessage-deflate").unwrap())
        .header(Header::new("Set-Cookie", "a=b").unwrap())
        .write(&mut response)
        .unwrap();
    let Status::Complete((accepted, head_len)) = pending.read_response(&response).unwrap() else {
        panic!()
    };
    assert_eq!(head_len, response.len());
    assert_eq!(accepted.negotiated(), &server_view);
    assert!(accepted.headers().iter().any(|h| h.is("set-cookie") && h.value() == b"a=b"));
}

#[test]
fn client_fails_each_broken_response_with_its_reason() {
    let (pending, _) = client(&["chat"]);
    let good = accepted_response(&pending, "");
    assert!(read(&pending, &good).is_ok());

    let bad_accept =
        good.replace(&accept_key(pending.key().as_bytes()), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(read(&pending, &bad_accept).unwrap_err(), ResponseError::BadAccept);
    let no_upgrade = good.replace("Upgrade: websocket\r\n", "");
    assert_eq!(read(&pending, &no_upgrade).unwrap_err(), ResponseError::MissingUpgrade);
    let no_connection = good.replace("Connection: Upgrade\r\n", "Connection: close\r\n");
    assert_eq!(
        read(&pending, &no_connection).unwrap_err(),
        ResponseError::MissingConnectionUpgrade
    );
    let unoffered = accepted_response(&pending, "Sec-WebSocket-Protocol: mqtt\r\n");
    assert_eq!(read(&pending, &unoffered).unwrap_err(), ResponseError::UnofferedProtocol);
    let two = accepted_response(&pending, "Sec-WebSocket-Protocol: chat, chat\r\n");
    assert_eq!(read(&pending, &two).unwrap_err(), ResponseError::UnofferedProtocol);
    let extension = accepted_response(&pending, "Sec-WebSocket-Extensions: x-webkit-deflate\r\n");
    assert_eq!(
        read(&pending, &extension).unwrap_err(),
        ResponseError::UnofferedExtension("x-webkit-deflate".into())
    );
    assert_eq!(read(&pending, "HTTP/1.1 abc\r\n\r\n").unwrap_err(), ResponseError::Malformed);
}

#[test]
fn client_reports_rejections_with_status_headers_and_body() {
    let (pending, _) = client(&[]);
    let response =
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\nContent-Length: 6\r\n\r\nlog in";
    // The body is part of the rejection: wait for it.
    let cut = response.len() - 3;
    assert_eq!(
        pending.read_response(&response.as_bytes()[..cut]),
        Ok(Status::Incomplete { needed: 3 })
    );
    let ResponseError::Rejected(rejection) = read(&pending, response).unwrap_err() else {
        panic!()
    };
    assert_eq!(rejection.status(), 401);
    assert_eq!(rejection.header("www-authenticate"), Some(&b"Basic"[..]));
    assert_eq!(rejection.body(), b"log in");

    let redirect = "HTTP/1.1 302 Found\r\nLocation: wss://elsewhere/\r\n\r\n";
    let ResponseError::Rejected(rejection) = read(&pending, redirect).unwrap_err() else {
        panic!()
    };
    assert_eq!(rejection.status(), 302);
    assert_eq!(rejection.header("location"), Some(&b"wss://elsewhere/"[..]));
}

#[test]
fn frames_in_the_same_read_as_the_response_are_kept() {
    let (pending, _) = client(&[]);
    let response = accepted_response(&pending, "");
    let mut bytes = response.clone().into_bytes();
    bytes.extend_from_slice(b"\x81\x05Hello\x89\x00");
    for end in 0..response.len() {
        assert!(matches!(pending.read_response(&bytes[..end]), Ok(Status::Incomplete { .. })));
    }
    let Status::Complete((_, head_len)) = pending.read_response(&bytes).unwrap() else { panic!() };
    assert_eq!(&bytes[head_len..], b"\x81\x05Hello\x89\x00");
}

#[test]
fn uris_are_taken_apart_per_section_3() {
    let uri = WsUri::parse("ws://example.com:80/").unwrap();
    assert_eq!(uri.host_header(), "example.com");
    let uri = WsUri::parse("WSS://Example.com:443?q").unwrap();
    assert_eq!(
        (uri.port(), uri.resource(), uri.host_header().as_str()),
        (443, "/?q", "Example.com")
    );
    let uri = WsUri::parse("ws://127.0.0.1:9001/runCase?case=1&agent=x").unwrap();
    assert_eq!(
        (uri.host(), uri.port(), uri.resource()),
        ("127.0.0.1", 9001, "/runCase?case=1&agent=x")
    );
    let uri = WsUri::parse("ws://[2001:db8::1]/").unwrap();
    assert_eq!((uri.host(), uri.host_header().as_str()), ("2001:db8::1", "[2001:db8::1]"));

    let errors = [
        ("http://example.com/", UriError::UnsupportedScheme),
        ("example.com/chat", UriError::NotAbsolute),
        ("ws://example.com/#frag", UriError::Fragment),
        ("ws://user@example.com/", UriError::UserInfo),
        ("ws:///path", UriError::MissingHost),
        ("ws://example.com:0/", UriError::InvalidPort),
        ("ws://example.com:99999/", UriError::InvalidPort),
        ("ws://example.com:+80/", UriError::InvalidPort),
        ("ws://[::1/", UriError::InvalidHost),
        ("ws://exa mple.com/", UriError::InvalidHost),
        ("ws://example.com/a b", UriError::InvalidCharacter),
    ];
    for (uri, error) in errors {
        assert_eq!(WsUri::parse(uri), Err(error), "{uri}");
    }
}

#[test]
fn client_refuses_to_send_invalid_protocols_or_origins() {
    let mut out = Vec::new();
    let mut zeros = |buf: &mut [u8]| buf.fill(0);
    let error = ClientHandshake::new("ws://a/")
        .unwrap()
        .protocol("two words")
        .write_request(&mut zeros, &mut out);
    assert!(error.is_err());
    let error = ClientHandshake::new("ws://a/")
        .unwrap()
        .origin("x\r\nEvil: 1")
        .write_request(&mut zeros, &mut out);
    assert!(error.is_err());
    assert!(out.is_empty());
}

#[test]
fn an_upgrade_with_an_empty_body_is_still_an_upgrade() {
    let request = rfc_request_with("Origin", "Content-Length: 0\r\n");
    assert!(matches!(classify(request.as_bytes()), Ok(Incoming::WebSocket(_))));
}
