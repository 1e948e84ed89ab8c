//! Helpers shared by the conversation tests: drain a connection's events and output.

use wsmachine::{Connection, Event, ProtocolError, RandomSource};

/// Every event the connection has to report now.
pub(crate) fn events<R: RandomSource>(
    connection: &mut Connection<R>,
) -> Vec<Result<Event, ProtocolError>> {
    std::iter::from_fn(|| connection.poll_event()).collect()
}

/// Every byte the connection has to send now.
pub(crate) fn output<R: RandomSource>(connection: &mut Connection<R>) -> Vec<u8> {
    let mut out = Vec::new();
    connection.poll_transmit(&mut out);
    out
}
