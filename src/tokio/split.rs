//! A WebSocket split into a read half and a write half, for two tasks.
//!
//! The write side runs as a task of its own that owns the stream's writing half and the
//! connection's [`Sender`]: the [`WriteHalf`] hands it messages over a channel, and the
//! [`ReadHalf`] hands it what the connection owes the peer (a Pong, a keepalive Ping, the
//! Close), so Pings are answered whatever the task holding the `WriteHalf` is doing. No lock
//! is shared: the halves talk through channels.
//!
//! A peer that stops reading holds nothing for long: Pongs the write task cannot keep up with
//! are dropped but for the latest few (§5.5.3), and once the reading half ends (at the
//! keepalive deadline if the peer is silent too) or is dropped, the write task gives up on
//! its output at once after a deadline, else after [`Config::close_timeout`](crate::Config).

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use ::tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use ::tokio::sync::{mpsc, watch};
use ::tokio::time::Sleep;

use super::{now, Error, ErrorKind, WebSocket, READ_BUFFER};
use crate::frame::CloseCode;
use crate::{
    CloseCause, CloseFrame, Closed, Command, CommandError, Event, Message, Receiver, Reply, Sender,
    State,
};

/// Messages the write task may hold before `WriteHalf::send` waits.
const CHANNEL_CAPACITY: usize = 64;
/// Replies the write task may hold; Pongs beyond `PONG_ROOM` queued are dropped, so that the
/// rest (a Close, the shutdown) always fit.
const REPLY_CAPACITY: usize = 8;
const PONG_ROOM: usize = 4;

/// What the halves send the write task.
#[derive(Debug)]
enum ToWriter {
    Message(Message),
    Reply(Reply),
    /// The reading half saw the end: write what is left and close the stream's writing side.
    Shutdown,
}

/// What the halves share: whether the sending side is still open.
#[derive(Debug, Default)]
struct Shared {
    /// The write task sent a Close (the caller's, or a reply): messages are refused.
    closed: AtomicBool,
}

/// The reading half of a split [`WebSocket`]: messages in, and the connection's deadlines.
#[derive(Debug)]
pub struct ReadHalf<R> {
    io: R,
    receiver: Receiver,
    to_writer: mpsc::Sender<ToWriter>,
    /// When the write task stops waiting for the peer to take its output: set at the end.
    give_up: watch::Sender<Option<::tokio::time::Instant>>,
    timer: Option<Pin<Box<Sleep>>>,
    timer_at: Option<Instant>,
    read_closed: bool,
    peer_close: Option<CloseFrame>,
    ended: bool,
}

/// The writing half of a split [`WebSocket`]: hands messages to the write task, which writes
/// them (together with what the reading half owes the peer) as they come.
#[derive(Debug, Clone)]
pub struct WriteHalf {
    to_writer: mpsc::Sender<ToWriter>,
    shared: Arc<Shared>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Splits an open WebSocket into halves for two tasks, splitting the stream with
    /// `split_stream` (`tokio::io::split` for any stream; `TcpStream::into_split` shares
    /// nothing between the halves). The write side runs as a task of its own, spawned here
    /// on the current tokio runtime.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use wsmachine::handshake::ClientHandshake;
    /// # let (client_io, server_io) = tokio::io::duplex(4096);
    /// # tokio::spawn(async move {
    /// #     let mut ws = wsmachine::tokio::accept(server_io).await.unwrap();
    /// #     while let Some(Ok(message)) = ws.recv().await { ws.send(message).await.unwrap(); }
    /// # });
    /// let handshake = ClientHandshake::new("ws://example.com/")?;
    /// let ws = wsmachine::tokio::connect_with(client_io, handshake, Default::default()).await?;
    /// let (mut reader, writer) = ws.split_with(tokio::io::split)?;
    /// let sending = tokio::spawn(async move {
    ///     for n in 0..3 {
    ///         writer.send(format!("{n}").into()).await?;
    ///     }
    ///     writer.close(wsmachine::frame::CloseCode::NORMAL, "").await
    /// });
    /// let mut echoed = Vec::new();
    /// while let Some(message) = reader.recv().await {
    ///     echoed.push(message?);
    /// }
    /// sending.await??;
    /// assert_eq!(echoed, ["0", "1", "2"].map(wsmachine::Message::from));
    /// # Ok(()) }
    /// ```
    pub fn split_with<R, W>(
        mut self,
        split_stream: impl FnOnce(S) -> (R, W),
    ) -> Result<(ReadHalf<R>, WriteHalf), Error>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        // What was queued before the split goes out first, from the write task.
        let mut pending = std::mem::take(&mut self.output)[self.written..].to_vec();
        pending.extend_from_slice(self.shared.take().as_deref().unwrap_or_default());
        let (receiver, sender) =
            self.connection.split().map_err(|refused| refused.error().clone())?;
        let (read, write) = split_stream(self.io);
        let (to_writer, messages) = mpsc::channel(CHANNEL_CAPACITY);
        let (replies_to_writer, replies) = mpsc::channel(REPLY_CAPACITY);
        let (give_up, give_up_at) = watch::channel(None);
        let shared = Arc::new(Shared::default());
        shared.closed.store(sender.state() != State::Open, Ordering::Relaxed);
        let channels = WriterChannels { messages, replies, give_up_at };
        ::tokio::spawn(write_task(write, sender, pending, channels, Arc::clone(&shared)));
        let reader = ReadHalf {
            io: read,
            receiver,
            to_writer: replies_to_writer,
            give_up,
            timer: None,
            timer_at: None,
            read_closed: self.read_closed,
            peer_close: self.peer_close.map(|frame| *frame),
            ended: false,
        };
        Ok((reader, WriteHalf { to_writer, shared }))
    }
}

impl WebSocket<::tokio::net::TcpStream> {
    /// [`split_with`](WebSocket::split_with) the TCP stream's own halves, which share nothing.
    pub fn into_split(
        self,
    ) -> Result<(ReadHalf<::tokio::net::tcp::OwnedReadHalf>, WriteHalf), Error> {
        self.split_with(::tokio::net::TcpStream::into_split)
    }
}

impl WriteHalf {
    /// Hands a message to the write task, waiting while it holds many; it is written as soon
    /// as the task runs. Refused once a Close was sent (by this half, or by the connection in
    /// answer to the peer's or to an error).
    pub async fn send(&self, message: Message) -> Result<(), Error> {
        if self.shared.closed.load(Ordering::Relaxed) {
            let state = State::CloseSent;
            return Err(CommandError::NotAllowed { command: Command::SendMessage, state }.into());
        }
        if let Message::Close(_) = message {
            self.shared.closed.store(true, Ordering::Relaxed);
        }
        self.to_writer.send(ToWriter::Message(message)).await.map_err(|_| gone())
    }

    /// Sends a Close with `code` and `reason` (§7.1.2); the reading half reads until the peer's
    /// answer, and the connection ends there.
    pub async fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let frame = CloseFrame { code, reason: reason.into() };
        self.send(Message::Close(Some(frame))).await
    }
}

/// The write task is gone: the stream failed or the connection ended.
fn gone() -> Error {
    Error::from(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the write task has ended"))
}

/// What the write task listens to.
struct WriterChannels {
    messages: mpsc::Receiver<ToWriter>,
    replies: mpsc::Receiver<ToWriter>,
    /// When to stop waiting for the peer to take the output (set by the reading half).
    give_up_at: watch::Receiver<Option<::tokio::time::Instant>>,
}

/// Owns the writing: messages from the `WriteHalf`, replies from the `ReadHalf`, written in
/// batches as they come; ends when both halves are gone, the stream fails, or the peer takes
/// nothing past the give-up time.
async fn write_task<W: AsyncWrite + Unpin>(
    mut io: W,
    mut sender: Sender,
    pending: Vec<u8>,
    channels: WriterChannels,
    shared: Arc<Shared>,
) {
    let WriterChannels { mut messages, mut replies, give_up_at } = channels;
    let mut given_up = std::pin::pin!(given_up(give_up_at));
    let mut output = pending;
    let (mut messages_open, mut replies_open) = (true, true);
    let mut gave_up = false;
    loop {
        if !output.is_empty() || sender.poll_transmit(&mut output) > 0 {
            ::tokio::select! {
                written = io.write_all(&output) => if written.is_err() { break },
                () = &mut given_up => {
                    gave_up = true;
                    break;
                }
            }
            output.clear();
        }
        if !messages_open && !replies_open {
            break;
        }
        // One item, waiting for it; then every item ready at once, for one write.
        let item = ::tokio::select! {
            biased;
            reply = replies.recv(), if replies_open => reply.or_else(|| { replies_open = false; None }),
            message = messages.recv(), if messages_open => message.or_else(|| { messages_open = false; None }),
        };
        let mut items: Vec<ToWriter> = item.into_iter().collect();
        while let Ok(more) = replies.try_recv() {
            items.push(more);
        }
        while let Ok(more) = messages.try_recv() {
            items.push(more);
        }
        let mut shutdown = false;
        for item in items {
            match item {
                ToWriter::Reply(reply) => sender.send_reply(reply),
                ToWriter::Shutdown => shutdown = true,
                // Refused only after a Close, which the WriteHalf saw too, but for a race.
                ToWriter::Message(message) => {
                    let _closing = sender.send(message);
                }
            }
            if sender.state() != State::Open {
                shared.closed.store(true, Ordering::Relaxed);
            }
        }
        if shutdown {
            shared.closed.store(true, Ordering::Relaxed);
            if sender.poll_transmit(&mut output) > 0 {
                ::tokio::select! {
                    _ = io.write_all(&output) => {}
                    () = &mut given_up => gave_up = true,
                }
            }
            break;
        }
    }
    if !gave_up {
        // Given up, the stream is dropped instead: a shutdown may wait on the peer too (TLS).
        let _ = io.shutdown().await;
    }
}

/// Completes at the give-up time, once the reading half has set one; never before.
async fn given_up(mut give_up_at: watch::Receiver<Option<::tokio::time::Instant>>) {
    loop {
        let at = *give_up_at.borrow_and_update();
        if let Some(at) = at {
            ::tokio::time::sleep_until(at).await;
            return;
        }
        if give_up_at.changed().await.is_err() {
            // The reading half is gone without setting one (it sets one when dropped).
            std::future::pending::<()>().await;
        }
    }
}

impl<R> ReadHalf<R> {
    /// Tells the write task when to stop waiting for the peer (at once after a deadline,
    /// else after the close deadline); the first time only.
    fn set_give_up(&self) {
        let at = ::tokio::time::Instant::now() + self.receiver.output_linger();
        self.give_up.send_if_modified(|give_up| give_up.is_none() && give_up.replace(at).is_none());
    }
}

impl<R> Drop for ReadHalf<R> {
    /// Nobody reads any more, so no deadline can end the connection: the write task gets the
    /// linger the end calls for (the close deadline, or none after a deadline) to finish.
    fn drop(&mut self) {
        self.set_give_up();
    }
}

impl<R: AsyncRead + Unpin> ReadHalf<R> {
    /// The next message, Ping or Pong, as [`WebSocket::recv`] reports it; what the connection
    /// owes the peer goes to the write task as it is found. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The peer's Close, once it came.
    #[must_use]
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        self.peer_close.as_ref()
    }

    /// Where the connection is, as the reading half knows it.
    #[must_use]
    pub fn state(&self) -> State {
        self.receiver.state()
    }

    /// [`recv`](ReadHalf::recv) as a poll function.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        loop {
            let next = self.receiver.poll_event();
            self.forward_replies();
            match next {
                Some(Ok(Event::Closed(closed))) => return Poll::Ready(self.end(closed)),
                Some(Ok(event)) => match Message::from_event(event) {
                    Ok(Message::Close(frame)) => self.peer_close = frame,
                    Ok(message) => return Poll::Ready(Some(Ok(message))),
                    Err(_) => {}
                },
                Some(Err(error)) => return Poll::Ready(Some(Err(Error::from_protocol(error)))),
                None if self.ended => return Poll::Ready(None),
                None => ready!(self.poll_input(cx)),
            }
        }
    }

    /// The end: `None` after a clean one, else the error that says how, once. The write task
    /// writes what is left (at once given up after a deadline, else within the close
    /// deadline) and closes the stream's writing side.
    fn end(&mut self, closed: Closed) -> Option<Result<Message, Error>> {
        self.ended = true;
        self.forward_replies();
        self.set_give_up();
        let _ = self.to_writer.try_send(ToWriter::Shutdown);
        match closed.cause {
            _ if closed.clean => None,
            CloseCause::ProtocolError | CloseCause::HandshakeFailed => None,
            _ => Some(Err(Error::from(ErrorKind::Ended(closed)))),
        }
    }

    fn forward_replies(&mut self) {
        while let Some(reply) = self.receiver.poll_reply() {
            if reply.is_pong() && self.to_writer.capacity() <= REPLY_CAPACITY - PONG_ROOM {
                // The writer is behind: a later Pong answers for this one (§5.5.3).
                continue;
            }
            // A write task that is gone has nothing more to write.
            let _ = self.to_writer.try_send(ToWriter::Reply(reply));
        }
    }

    /// Waits for input or the next deadline; `Ready` once something may have brought an
    /// event.
    fn poll_input(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(deadline) = self.receiver.poll_timeout() {
            if self.timer_at != Some(deadline) {
                let at = ::tokio::time::Instant::from_std(deadline);
                match &mut self.timer {
                    Some(sleep) => sleep.as_mut().reset(at),
                    None => self.timer = Some(Box::pin(::tokio::time::sleep_until(at))),
                }
                self.timer_at = Some(deadline);
            }
            if let Some(sleep) = self.timer.as_mut() {
                if sleep.as_mut().poll(cx).is_ready() {
                    self.receiver.handle_timeout(now());
                    self.timer_at = None;
                    return Poll::Ready(());
                }
            }
        }
        if self.read_closed {
            return Poll::Pending;
        }
        READ_BUFFER.with_borrow_mut(|buffer| {
            let mut buf = ReadBuf::new(buffer);
            match ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf)) {
                Ok(()) if buf.filled().is_empty() => {
                    self.read_closed = true;
                    self.receiver.receive_eof();
                }
                Ok(()) => {
                    self.receiver.receive(buf.filled());
                    self.receiver.handle_timeout(now());
                }
                Err(_) => {
                    // A failed stream is the end of the input.
                    self.read_closed = true;
                    self.receiver.receive_eof();
                }
            }
            Poll::Ready(())
        })
    }
}
