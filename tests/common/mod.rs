//! Helpers shared by the conversation tests: drain a connection's events and output.

use wsmachine::{Connection, Event, EventRef, ProtocolError, RandomSource, Timestamp};

/// Every event the connection has to report now.
#[allow(dead_code)] // not every test crate uses every helper
pub(crate) fn events<R: RandomSource, T: Timestamp>(
    connection: &mut Connection<R, T>,
) -> Vec<Result<Event, ProtocolError>> {
    std::iter::from_fn(|| connection.poll_event()).collect()
}

/// A client and a server with the given configurations, handshake done and drained.
#[allow(dead_code)]
pub(crate) fn pair(
    client_config: wsmachine::Config,
    server_config: wsmachine::Config,
) -> (Connection, Connection) {
    let handshake = wsmachine::handshake::ClientHandshake::new("ws://a/chat").unwrap();
    let now = std::time::Instant::now();
    let mut client = Connection::client(handshake, client_config, now).unwrap();
    let mut server = Connection::server(server_config, now);
    server.receive(&output(&mut client));
    let Some(Ok(Event::Request(request))) = server.poll_event() else { panic!("no request") };
    server.accept(request.accept()).unwrap();
    client.receive(&output(&mut server));
    assert!(matches!(client.poll_event(), Some(Ok(Event::Accepted(_)))));
    (client, server)
}

/// Every byte the connection has to send now.
#[allow(dead_code)]
pub(crate) fn output<R: RandomSource, T: Timestamp>(connection: &mut Connection<R, T>) -> Vec<u8> {
    let mut out = Vec::new();
    connection.poll_transmit(&mut out);
    out
}

/// The next event through [`Connection::poll_event_ref`], made owned to compare with what
/// [`Connection::poll_event`] reports.
#[allow(dead_code)]
pub(crate) fn poll_borrowed<R: RandomSource, T: Timestamp>(
    connection: &mut Connection<R, T>,
) -> Option<Result<Event, ProtocolError>> {
    connection.poll_event_ref().map(|result| result.map(|(event, _)| owned(event)))
}

/// How a test reads a connection's events.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Polling {
    /// `receive`, then `poll_event`.
    Owned,
    /// `receive`, then `poll_event_ref`.
    Borrowed,
    /// `receive_in_place`, then its `poll_event_ref`.
    InPlace,
}

#[allow(dead_code)]
impl Polling {
    pub(crate) const ALL: [Polling; 3] = [Polling::Owned, Polling::Borrowed, Polling::InPlace];
}

/// Receives `chunk` and returns every event it brings, read the `polling` way and made owned;
/// `on_event` sees each one with the connection first (to accept a request, say).
#[allow(dead_code)]
pub(crate) fn receive_and_poll<R: RandomSource, T: Timestamp>(
    connection: &mut Connection<R, T>,
    chunk: &[u8],
    polling: Polling,
    mut on_event: impl FnMut(&mut Connection<R, T>, &Result<Event, ProtocolError>),
) -> Vec<Result<Event, ProtocolError>> {
    let mut events = Vec::new();
    match polling {
        Polling::Owned | Polling::Borrowed => {
            connection.receive(chunk);
            loop {
                let next = if polling == Polling::Owned {
                    connection.poll_event()
                } else {
                    poll_borrowed(connection)
                };
                let Some(event) = next else { break };
                on_event(connection, &event);
                events.push(event);
            }
        }
        Polling::InPlace => {
            let mut bytes = chunk.to_vec();
            let mut input = connection.receive_in_place(&mut bytes);
            while let Some(next) = input.poll_event_ref() {
                let event = next.map(|(event, _)| owned(event));
                on_event(input.connection(), &event);
                events.push(event);
            }
        }
    }
    events
}

/// A borrowed event made owned.
fn owned(event: EventRef<'_>) -> Event {
    match event {
        EventRef::Text(text) => Event::Text(text.into()),
        EventRef::Binary(data) => Event::Binary(data.to_vec().into()),
        EventRef::Other(event) => event,
        other => panic!("unknown event {other:?}"),
    }
}
