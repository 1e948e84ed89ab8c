//! The futures of [`WebSocket::send`], [`WebSocket::send_prepared`] and [`WebSocket::recv`]:
//! written out rather than `async`, so that the compiler can build their values in place on
//! the path every message takes.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite};

use super::{Error, WebSocket};
use crate::{CommandError, Message, PreparedMessage};

/// Receives one message: [`WebSocket::poll_recv`] as a future.
pub(super) struct Receiving<'a, S>(pub(super) &'a mut WebSocket<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> Future for Receiving<'_, S> {
    type Output = Option<Result<Message, Error>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().0.poll_recv(cx)
    }
}

/// Sends one message: queued when the future is made if the output is under the high-water
/// mark (so the message is never held in the future on the common path), else once it is;
/// then written unless received input waits to be read (see the module docs).
pub(super) struct Sending<'a, S> {
    ws: &'a mut WebSocket<S>,
    state: State<'a>,
}

enum State<'a> {
    /// Queued; the write is what is left.
    Queued,
    Done,
    /// Anything off the common path, boxed: the common path's future stays a few words and
    /// has nothing to drop.
    Other(Box<Other<'a>>),
}

enum Other<'a> {
    /// Waiting for room under the high-water mark.
    Waiting(Message),
    WaitingPrepared(&'a PreparedMessage),
    /// The connection refused the command.
    Refused(CommandError),
}

impl<'a, S: AsyncRead + AsyncWrite + Unpin> Sending<'a, S> {
    #[inline]
    pub(super) fn message(ws: &'a mut WebSocket<S>, message: Message) -> Self {
        let state = if ws.pending_output() > ws.high_water {
            State::Other(Box::new(Other::Waiting(message)))
        } else {
            State::queued(ws.connection.sender().send(message))
        };
        Sending { ws, state }
    }

    pub(super) fn prepared(ws: &'a mut WebSocket<S>, message: &'a PreparedMessage) -> Self {
        let state = if ws.pending_output() > ws.high_water {
            State::Other(Box::new(Other::WaitingPrepared(message)))
        } else {
            State::queued(ws.connection.sender().send_prepared(message))
        };
        Sending { ws, state }
    }
}

impl State<'_> {
    #[inline]
    fn queued(command: Result<(), CommandError>) -> Self {
        match command {
            Ok(()) => State::Queued,
            Err(error) => State::Other(Box::new(Other::Refused(error))),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Future for Sending<'_, S> {
    type Output = Result<(), Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Queued => {
                    if this.ws.connection.buffered_input() == 0 {
                        let written = ready!(this.ws.poll_drain(cx, 0));
                        this.state = State::Done;
                        return Poll::Ready(written);
                    }
                    this.state = State::Done;
                    return Poll::Ready(Ok(()));
                }
                State::Done => return Poll::Ready(Ok(())),
                State::Other(other) => {
                    if !matches!(**other, Other::Refused(_)) {
                        if let Err(error) = ready!(this.ws.poll_room(cx)) {
                            this.state = State::Done;
                            return Poll::Ready(Err(error));
                        }
                    }
                    let State::Other(other) = std::mem::replace(&mut this.state, State::Done)
                    else {
                        unreachable!("matched above")
                    };
                    let sender = this.ws.connection.sender();
                    this.state = match *other {
                        Other::Waiting(message) => State::queued(sender.send(message)),
                        Other::WaitingPrepared(message) => {
                            State::queued(sender.send_prepared(message))
                        }
                        Other::Refused(error) => return Poll::Ready(Err(error.into())),
                    };
                }
            }
        }
    }
}
