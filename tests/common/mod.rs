//! Helpers shared by the conversation tests: drain a connection's events and output.

use wsmachine::{Connection, Event, EventRef, ProtocolError, RandomSource};

/// Every event the connection has to report now.
#[allow(dead_code)] // not every test crate uses every helper
pub(crate) fn events<R: RandomSource>(
    connection: &mut Connection<R>,
) -> Vec<Result<Event, ProtocolError>> {
    std::iter::from_fn(|| connection.poll_event()).collect()
}

/// Every byte the connection has to send now.
#[allow(dead_code)]
pub(crate) fn output<R: RandomSource>(connection: &mut Connection<R>) -> Vec<u8> {
    let mut out = Vec::new();
    connection.poll_transmit(&mut out);
    out
}

/// The next event through [`Connection::poll_event_ref`], made owned to compare with what
/// [`Connection::poll_event`] reports.
#[allow(dead_code)]
pub(crate) fn poll_borrowed<R: RandomSource>(
    connection: &mut Connection<R>,
) -> Option<Result<Event, ProtocolError>> {
    connection.poll_event_ref().map(|result| {
        result.map(|(event, _)| match event {
            EventRef::Text(text) => Event::Text(text.into()),
            EventRef::Binary(data) => Event::Binary(data.to_vec().into()),
            EventRef::Other(event) => event,
            other => panic!("unknown event {other:?}"),
        })
    })
}
