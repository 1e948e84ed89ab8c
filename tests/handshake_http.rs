//! The `http` feature: the same handshake rules through `http::Request` / `http::Response`.
#![cfg(feature = "http")]

use wsmachine::handshake::{
    accept_key, ClientHandshake, Extension, Header, RequestError, ResponseError, UpgradeRequest,
};

fn upgrade_request(version: http::Version) -> http::Request<()> {
    http::Request::get("/chat?room=1")
        .version(version)
        .header("host", "example.com")
        .header("upgrade", "websocket")
        .header("connection", "keep-alive, Upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-protocol", "chat")
        .header("sec-websocket-extensions", "permessage-deflate; client_max_window_bits")
        .body(())
        .unwrap()
}

#[test]
fn server_rules_apply_to_http_requests() {
    let upgrade = UpgradeRequest::from_http(&upgrade_request(http::Version::HTTP_11))
        .unwrap()
        .expect("an upgrade");
    assert_eq!(upgrade.request().path(), "/chat");
    assert_eq!(upgrade.request().query(), Some("room=1"));
    assert_eq!(upgrade.extensions()[0].name(), "permessage-deflate");
    let (response, negotiated) = upgrade
        .accept()
        .protocol("chat")
        .extension(Extension::new("permessage-deflate").unwrap())
        .header(Header::new("set-cookie", "a=1").unwrap())
        .into_http_response()
        .unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    assert_eq!(response.headers()["sec-websocket-extensions"], "permessage-deflate");
    assert_eq!(response.headers()["set-cookie"], "a=1");
    assert_eq!(negotiated.protocol(), Some("chat"));

    let old = UpgradeRequest::from_http(&upgrade_request(http::Version::HTTP_10)).unwrap_err();
    assert_eq!(old, RequestError::HttpVersionTooOld);
    let rejection = old.rejection().to_http_response();
    assert_eq!(rejection.status(), 400);
    assert_eq!(rejection.headers()["content-type"], "text/plain; charset=utf-8");
    assert!(!rejection.body().is_empty());

    let plain = http::Request::get("/").header("host", "a").body(()).unwrap();
    assert_eq!(UpgradeRequest::from_http(&plain), Ok(None));
}

#[test]
fn client_rules_apply_to_http_responses() {
    let (request, pending) = ClientHandshake::new("wss://example.com:8443/chat")
        .unwrap()
        .protocol("chat")
        .into_http_request(&mut |buf: &mut [u8]| buf.fill(9))
        .unwrap();
    assert_eq!(request.uri(), "wss://example.com:8443/chat");
    assert_eq!(request.headers()["host"], "example.com:8443");
    assert_eq!(request.headers()["sec-websocket-key"], pending.key());

    let forbidden =
        http::Response::builder().status(403).header("x-reason", "no").body(()).unwrap();
    let ResponseError::Rejected(rejection) = pending.check_http_response(&forbidden).unwrap_err()
    else {
        panic!("a rejection")
    };
    assert_eq!(rejection.status(), 403);
    assert_eq!(rejection.header("x-reason"), Some(&b"no"[..]));

    let wrong_key = http::Response::builder()
        .status(101)
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header("sec-websocket-accept", accept_key(b"another key"))
        .body(())
        .unwrap();
    assert_eq!(pending.check_http_response(&wrong_key).unwrap_err(), ResponseError::BadAccept);
}

#[test]
fn header_values_cannot_carry_control_characters() {
    assert!(Header::new("x-a", "tab\tis fine").is_ok());
    for bad in ["\r", "\n", "\0", "\x01", "\x7f"] {
        assert!(Header::new("x-a", format!("a{bad}b")).is_err(), "{bad:?}");
    }
}
