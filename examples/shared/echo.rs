//! What the echo examples (`echo_mio`, `echo_tokio`) do with each event, shared by both.

use wsmachine::handshake::{Header, Rejection};
use wsmachine::{Connection, Event, EventRef, ProtocolError, Responder};

/// Echoes a message from where it lies; any other event is returned for [`handle_other`].
/// A send fails only once a Close is under way, when the echo no longer matters.
pub(crate) fn echo_message(
    next: Result<(EventRef<'_>, Responder<'_>), ProtocolError>,
) -> Option<Event> {
    match next {
        Ok((EventRef::Text(text), mut responder)) => {
            let _closing = responder.send_text(text);
            None
        }
        Ok((EventRef::Binary(data), mut responder)) => {
            let _closing = responder.send_binary(data);
            None
        }
        Ok((EventRef::Other(event), _)) => Some(event),
        Ok(_) => None,
        Err(error) => {
            eprintln!("peer broke the protocol: {error}");
            None
        }
    }
}

/// Accepts a WebSocket request, answers any other HTTP request with 426.
pub(crate) fn handle_other(connection: &mut Connection, event: Event) {
    match event {
        Event::Request(request) => {
            // An origin policy would look at request.request().origin() here.
            connection.accept(request.accept()).expect("nothing unoffered is selected");
        }
        Event::HttpRequest(_) => connection.reject(
            &Rejection::new(426)
                .with_header(Header::new("Sec-WebSocket-Version", "13").expect("valid"))
                .with_body("this is a WebSocket echo server\n"),
        ),
        _ => {}
    }
}
