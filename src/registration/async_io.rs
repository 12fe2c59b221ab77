//! [`Async`]: a source and its registration, as futures.

use core::fmt;
use core::future::poll_fn;
use core::task::{Context, Poll as TaskPoll};

use super::readiness::Direction;
use super::{Reactor, Registration, DEFAULT_SLOTS, DEFAULT_TIMERS};
use crate::event::Source;
use crate::sys::{DefaultSelector, Selector};
use crate::{io, Interest};

/// A source that can be read without blocking: the read returns
/// `WouldBlock` when nothing is there. What [`Async`]'s `AsyncRead` and
/// `embedded_io_async::Read` implementations call.
///
/// rouse's `TcpStream` and `UnixStream` implement it; a program's own
/// source (a raw fd, a board's socket) can too.
pub trait TryRead {
    /// Whether the source must be re-armed with
    /// [`Registry::reregister`](crate::Registry::reregister) after it
    /// returns `WouldBlock`, as a raw fd must on backends that emulate
    /// edges (see [`Selector`]). rouse's own types re-arm themselves.
    const REARM: bool = false;

    /// Reads into `buf` without blocking.
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;
}

/// A source that can be written without blocking; see [`TryRead`].
pub trait TryWrite {
    /// As [`TryRead::REARM`].
    const REARM: bool = false;

    /// Writes from `buf` without blocking.
    fn try_write(&self, buf: &[u8]) -> io::Result<usize>;

    /// Flushes buffered data without blocking (sockets have none: the
    /// default does nothing).
    fn try_flush(&self) -> io::Result<()> {
        Ok(())
    }
}

/// A source registered with a [`Reactor`] for reading and writing, with
/// its operations as futures: the async face of a rouse net type (or of
/// any [`Source`]).
///
/// [`read_with`](Async::read_with) and [`write_with`](Async::write_with)
/// run any non-blocking operation until it does not return `WouldBlock`,
/// waiting for readiness in between; the net types' methods (`accept`,
/// `connect`, `read`, `write`, `send_to`, `recv_from`, ...) are built on
/// them. Dropping an `Async` deregisters the source before it is closed.
///
/// With the `futures-io` feature a readable and writable `Async`
/// implements `futures_io::AsyncRead` and `AsyncWrite`; with
/// `embedded-io-async`, that crate's `Read` and `Write`.
///
/// At most one task may wait to read and one to write at a time (see the
/// [module's contract](super#contract-as-tokios-page-states-it)).
pub struct Async<
    'r,
    U: Source<S>,
    S: Selector = DefaultSelector,
    const N: usize = DEFAULT_SLOTS,
    const T: usize = DEFAULT_TIMERS,
> {
    // `None` only inside `into_inner`, after the source is taken out.
    io: Option<U>,
    reg: Registration<'r, S, N, T>,
}

impl<'r, U: Source<S>, S: Selector, const N: usize, const T: usize> Async<'r, U, S, N, T> {
    /// Registers `io` with `reactor` for reading and writing.
    ///
    /// Errors: as [`Registration::new`] (a full reactor names its
    /// capacity); `io` is dropped then.
    pub fn new(reactor: &'r Reactor<S, N, T>, mut io: U) -> io::Result<Self> {
        let reg = Registration::new(reactor, &mut io, Interest::READABLE | Interest::WRITABLE)?;
        Ok(Async { io: Some(io), reg })
    }

    /// The source.
    pub fn get_ref(&self) -> &U {
        match &self.io {
            Some(io) => io,
            // `io` is taken only by `into_inner`, which consumes `self`.
            None => unreachable!("Async used after into_inner"),
        }
    }

    /// The registration.
    pub fn registration(&self) -> &Registration<'r, S, N, T> {
        &self.reg
    }

    /// The reactor.
    pub fn reactor(&self) -> &'r Reactor<S, N, T> {
        self.reg.reactor()
    }

    /// Deregisters the source and gives it back.
    ///
    /// Errors: the deregistration's; the source is dropped then.
    pub fn into_inner(mut self) -> io::Result<U> {
        let mut io = self.io.take();
        match &mut io {
            Some(source) => self.reg.deregister(source).map(|()| {
                // Deregistered: `Drop` below has nothing left to do.
                io.take().unwrap_or_else(|| unreachable!())
            }),
            None => unreachable!("Async used after into_inner"),
        }
    }

    /// Waits until the source is readable (or read-closed, or has an
    /// error).
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.reg.poll_read_ready(cx).map_ok(|_| ())).await
    }

    /// Waits until the source is writable (or write-closed, or has an
    /// error).
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.reg.poll_write_ready(cx).map_ok(|_| ())).await
    }

    /// Runs `op` until it returns something other than `WouldBlock`,
    /// waiting for read readiness before each try that could block.
    ///
    /// `op` must be non-blocking and must itself re-arm the source if the
    /// backend needs that (rouse's net types do); see [`TryRead::REARM`].
    pub async fn read_with<R>(&self, mut op: impl FnMut(&U) -> io::Result<R>) -> io::Result<R> {
        let io = self.get_ref();
        poll_fn(|cx| self.reg.poll_read_io(cx, || op(io))).await
    }

    /// Runs `op` until it returns something other than `WouldBlock`,
    /// waiting for write readiness in between; as
    /// [`read_with`](Async::read_with).
    pub async fn write_with<R>(&self, mut op: impl FnMut(&U) -> io::Result<R>) -> io::Result<R> {
        let io = self.get_ref();
        poll_fn(|cx| self.reg.poll_write_io(cx, || op(io))).await
    }

    /// As [`read_with`](Async::read_with), re-arming the source with
    /// [`Registration::reregister`] after each `WouldBlock`: for a raw fd
    /// (a [`SourceFd`](crate::unix::SourceFd)-based source) on a backend
    /// that emulates edges, which is not reported again until re-armed.
    pub async fn read_with_rearm<R>(
        &mut self,
        mut op: impl FnMut(&U) -> io::Result<R>,
    ) -> io::Result<R> {
        poll_fn(|cx| self.poll_op(cx, Direction::Read, true, &mut op)).await
    }

    /// As [`write_with`](Async::write_with), re-arming the source after
    /// each `WouldBlock` as [`read_with_rearm`](Async::read_with_rearm).
    pub async fn write_with_rearm<R>(
        &mut self,
        mut op: impl FnMut(&U) -> io::Result<R>,
    ) -> io::Result<R> {
        poll_fn(|cx| self.poll_op(cx, Direction::Write, true, &mut op)).await
    }

    /// The poll behind the trait implementations: `op` until it does not
    /// return `WouldBlock`, re-arming after each `WouldBlock` when `rearm`.
    pub(super) fn poll_op<R>(
        &mut self,
        cx: &mut Context<'_>,
        dir: Direction,
        rearm: bool,
        mut op: impl FnMut(&U) -> io::Result<R>,
    ) -> TaskPoll<io::Result<R>> {
        loop {
            let event = match self.reg.poll_ready(cx, dir) {
                TaskPoll::Ready(Ok(event)) => event,
                TaskPoll::Ready(Err(e)) => return TaskPoll::Ready(Err(e)),
                TaskPoll::Pending => return TaskPoll::Pending,
            };
            match op(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.reg.clear_readiness(event);
                    if rearm {
                        if let Some(io) = &mut self.io {
                            if let Err(e) = self.reg.reregister(io) {
                                return TaskPoll::Ready(Err(e));
                            }
                        }
                    }
                }
                result => return TaskPoll::Ready(result),
            }
        }
    }
}

impl<U, S: Selector, const N: usize, const T: usize> Async<'_, U, S, N, T>
where
    U: Source<S> + TryRead,
{
    /// Polls a read into `buf` (what `AsyncRead::poll_read` does).
    pub fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> TaskPoll<io::Result<usize>> {
        self.poll_op(cx, Direction::Read, U::REARM, |io| io.try_read(buf))
    }

    /// Reads into `buf`: the number of bytes read, `0` at end-of-file.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read(cx, buf)).await
    }
}

impl<U, S: Selector, const N: usize, const T: usize> Async<'_, U, S, N, T>
where
    U: Source<S> + TryWrite,
{
    /// Polls a write from `buf` (what `AsyncWrite::poll_write` does).
    pub fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> TaskPoll<io::Result<usize>> {
        self.poll_op(cx, Direction::Write, U::REARM, |io| io.try_write(buf))
    }

    /// Polls a flush (what `AsyncWrite::poll_flush` does).
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> TaskPoll<io::Result<()>> {
        self.poll_op(cx, Direction::Write, U::REARM, |io| io.try_flush())
    }

    /// Writes from `buf`: the number of bytes written.
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write(cx, buf)).await
    }

    /// Writes all of `buf`. Errors: the first write error; `WriteZero` if
    /// a write takes nothing.
    pub async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => return Err(write_zero()),
                n => buf = buf.get(n..).unwrap_or_default(),
            }
        }
        Ok(())
    }
}

#[cold]
fn write_zero() -> io::Error {
    #[cfg(feature = "std")]
    let kind = io::ErrorKind::WriteZero;
    #[cfg(not(feature = "std"))]
    let kind = io::ErrorKind::Other;
    io::error(kind, "write returned 0 with bytes left to write", None)
}

impl<U: Source<S>, S: Selector, const N: usize, const T: usize> Drop for Async<'_, U, S, N, T> {
    fn drop(&mut self) {
        if let Some(io) = &mut self.io {
            // Deregistered before the source is dropped (closed), so the fd
            // number can be reused at once. An error here (a shut-down
            // reactor's registry being gone is not one) has no one to go to.
            let _ = self.reg.deregister(io);
        }
    }
}

impl<U: Source<S> + fmt::Debug, S: Selector, const N: usize, const T: usize> fmt::Debug
    for Async<'_, U, S, N, T>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Async")
            .field("io", &self.io)
            .field("registration", &self.reg)
            .finish()
    }
}
