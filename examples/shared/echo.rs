//! What the echo examples do with each event, shared by all of them.

use wsmachine::handshake::{Header, Rejection};
use wsmachine::{Connection, DefaultRandom, Event, EventRef, ProtocolError, Sender, Timestamp};

/// Echoes a message from where it lies; any other event is returned for [`handle_other`].
/// A send fails only once a Close is under way, when the echo no longer matters.
#[allow(dead_code)] // echo_std echoes owned messages instead
pub(crate) fn echo_message(
    next: Result<(EventRef<'_>, &mut Sender), ProtocolError>,
) -> Option<Event> {
    match next {
        Ok((EventRef::Text(text), sender)) => {
            let _closing = sender.send_text(text);
            None
        }
        Ok((EventRef::Binary(data), sender)) => {
            let _closing = sender.send_binary(data);
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

/// Echoes an owned event (messages go back as they came), or handles it as [`handle_other`].
#[allow(dead_code)] // the event-loop examples echo borrowed messages instead
pub(crate) fn echo_owned<T: Timestamp>(
    connection: &mut Connection<DefaultRandom, T>,
    event: Result<Event, ProtocolError>,
) {
    match event {
        Ok(Event::Text(text)) => {
            let _closing = connection.sender().send_text(text.as_str());
        }
        Ok(Event::Binary(data)) => {
            let _closing = connection.sender().send_binary(&data);
        }
        Ok(other) => handle_other(connection, other),
        Err(error) => eprintln!("peer broke the protocol: {error}"),
    }
}

/// Accepts a WebSocket request, answers any other HTTP request with 426.
pub(crate) fn handle_other<T: Timestamp>(
    connection: &mut Connection<DefaultRandom, T>,
    event: Event,
) {
    let answered = match event {
        // An origin policy would look at request.request().origin() here.
        Event::Request(request) => connection.accept(request.accept()),
        Event::HttpRequest(_) => connection.reject(
            &Rejection::new(426)
                .with_header(Header::new("Sec-WebSocket-Version", "13").expect("valid"))
                .with_body("this is a WebSocket echo server\n"),
        ),
        _ => Ok(()),
    };
    if let Err(error) = answered {
        eprintln!("cannot answer the handshake: {error}");
    }
}
