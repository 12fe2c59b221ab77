//! `Registration`: one source's two readiness streams on a `Reactor`.

use core::fmt;
use core::task::{Context, Poll as TaskPoll};

use super::{
    reentrant, shut_down, Reactor, Slot, CLOSED, DEFAULT_SLOTS, DEFAULT_TIMERS, ERROR, READABLE,
    READ_CLOSED, READ_MASK, WRITABLE, WRITE_CLOSED, WRITE_MASK,
};
use crate::event::Source;
use crate::sys::{DefaultSelector, Selector};
use crate::{io, Interest, Token};

/// Readiness seen by [`Registration::poll_read_ready`] or
/// [`Registration::poll_write_ready`], to hand back to
/// [`Registration::clear_readiness`] after the operation met `WouldBlock`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ReadyEvent {
    tick: u32,
    ready: u8,
}

impl ReadyEvent {
    /// The source is readable (or its read half closed).
    pub fn is_readable(&self) -> bool {
        self.ready & READABLE != 0
    }
    /// The source is writable (or its write half closed).
    pub fn is_writable(&self) -> bool {
        self.ready & WRITABLE != 0
    }
    /// The read half is closed.
    pub fn is_read_closed(&self) -> bool {
        self.ready & READ_CLOSED != 0
    }
    /// The write half is closed.
    pub fn is_write_closed(&self) -> bool {
        self.ready & WRITE_CLOSED != 0
    }
    /// An error is pending on the source.
    pub fn is_error(&self) -> bool {
        self.ready & ERROR != 0
    }
}

#[derive(Copy, Clone)]
pub(super) enum Direction {
    Read,
    Write,
}

/// One source's association with a [`Reactor`]: two readiness streams.
///
/// Deregister it (with the source) before dropping the source, or use
/// [`Async`](super::Async), which does. Dropping a registration frees its
/// slot; if the source is still registered with the OS, the slot's next
/// owner may see spurious readiness, never lost one.
pub struct Registration<
    'r,
    S: Selector = DefaultSelector,
    const N: usize = DEFAULT_SLOTS,
    const T: usize = DEFAULT_TIMERS,
> {
    reactor: &'r Reactor<S, N, T>,
    index: usize,
    owner: u32,
    interest: Interest,
}

impl<'r, S: Selector, const N: usize, const T: usize> Registration<'r, S, N, T> {
    /// Registers `source` with `reactor` for `interest`.
    ///
    /// Errors: a full reactor (naming its capacity), a shut-down reactor,
    /// or the registry's error (the slot is not taken then).
    pub fn new<U>(
        reactor: &'r Reactor<S, N, T>,
        source: &mut U,
        interest: Interest,
    ) -> io::Result<Self>
    where
        U: Source<S> + ?Sized,
    {
        if reactor.shut.get() {
            return Err(shut_down());
        }
        let Some(index) = reactor.slots.iter().position(|s| s.owner.get().is_none()) else {
            return Err(super::full("reactor full: capacity", N));
        };
        {
            let Ok(poll) = reactor.poll.try_borrow() else {
                return Err(reentrant());
            };
            poll.registry().register(source, Token(index), interest)?;
        }
        let owner = reactor.next_owner.get();
        reactor.next_owner.set(owner.wrapping_add(1));
        let slot = &reactor.slots[index];
        slot.owner.set(Some(owner));
        slot.ready.set(0);
        slot.tick.set(0);
        slot.reader.set(None);
        slot.writer.set(None);
        Ok(Registration {
            reactor,
            index,
            owner,
            interest,
        })
    }

    /// The reactor this registration belongs to.
    pub fn reactor(&self) -> &'r Reactor<S, N, T> {
        self.reactor
    }

    /// The token the source is registered with.
    pub fn token(&self) -> Token {
        Token(self.index)
    }

    fn slot(&self) -> io::Result<&Slot> {
        let slot = &self.reactor.slots[self.index];
        if self.reactor.shut.get() {
            Err(shut_down())
        } else if slot.owner.get() != Some(self.owner) {
            Err(io::error(
                io::ErrorKind::Other,
                "registration was deregistered",
                None,
            ))
        } else {
            Ok(slot)
        }
    }

    pub(super) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
    ) -> TaskPoll<io::Result<ReadyEvent>> {
        let slot = match self.slot() {
            Ok(slot) => slot,
            Err(e) => return TaskPoll::Ready(Err(e)),
        };
        let (mask, waiter) = match dir {
            Direction::Read => (READ_MASK, &slot.reader),
            Direction::Write => (WRITE_MASK, &slot.writer),
        };
        let ready = slot.ready.get() & mask;
        if ready != 0 {
            return TaskPoll::Ready(Ok(ReadyEvent {
                tick: slot.tick.get(),
                ready,
            }));
        }
        // Keep the stored waker if it wakes the same task; else replace it.
        let waker = match waiter.take() {
            Some(w) if w.will_wake(cx.waker()) => w,
            _ => cx.waker().clone(),
        };
        waiter.set(Some(waker));
        TaskPoll::Pending
    }

    /// Polls the read stream: ready (readable, read-closed or error), or
    /// `Pending` with `cx`'s waker stored to be woken on the next read
    /// readiness.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> TaskPoll<io::Result<ReadyEvent>> {
        self.poll_ready(cx, Direction::Read)
    }

    /// Polls the write stream, as [`poll_read_ready`](Self::poll_read_ready).
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> TaskPoll<io::Result<ReadyEvent>> {
        self.poll_ready(cx, Direction::Write)
    }

    /// Clears the readiness `event` reported, unless a newer event has
    /// arrived since (then nothing is cleared, so nothing is lost).
    ///
    /// Readable, writable and error are cleared: an operation that met
    /// `WouldBlock` has taken any pending error (a UDP socket's
    /// `ECONNREFUSED` is returned once), so keeping the bit would make
    /// every later poll ready again and `poll_*_io` retry for ever. The
    /// closed bits stay: a closed half does not reopen.
    pub fn clear_readiness(&self, event: ReadyEvent) {
        if let Ok(slot) = self.slot() {
            if slot.tick.get() == event.tick {
                let clear = event.ready & !CLOSED;
                slot.ready.set(slot.ready.get() & !clear);
            }
        }
    }

    pub(super) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> TaskPoll<io::Result<R>> {
        loop {
            let event = match self.poll_ready(cx, dir) {
                TaskPoll::Ready(Ok(event)) => event,
                TaskPoll::Ready(Err(e)) => return TaskPoll::Ready(Err(e)),
                TaskPoll::Pending => return TaskPoll::Pending,
            };
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_readiness(event),
                result => return TaskPoll::Ready(result),
            }
        }
    }

    /// Runs `op` once the read stream is ready, retrying after clearing
    /// readiness each time it returns `WouldBlock`; `Pending` when it is not
    /// ready. Any other result, error or not, is returned as it is.
    pub fn poll_read_io<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<R>,
    ) -> TaskPoll<io::Result<R>> {
        self.poll_io(cx, Direction::Read, op)
    }

    /// Runs `op` once the write stream is ready, as
    /// [`poll_read_io`](Self::poll_read_io).
    pub fn poll_write_io<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<R>,
    ) -> TaskPoll<io::Result<R>> {
        self.poll_io(cx, Direction::Write, op)
    }

    /// Re-registers `source` with the same token and interest, which
    /// re-arms it: what a raw fd needs after `WouldBlock` on backends that
    /// emulate edges (see [`SourceFd`](crate::unix::SourceFd)).
    pub fn reregister<U>(&self, source: &mut U) -> io::Result<()>
    where
        U: Source<S> + ?Sized,
    {
        self.slot()?;
        match self.reactor.poll.try_borrow() {
            Ok(poll) => poll
                .registry()
                .reregister(source, self.token(), self.interest),
            Err(_) => Err(reentrant()),
        }
    }

    /// Deregisters `source` and ends this registration: tasks waiting on
    /// either stream are woken and get an error from their next poll. Once
    /// this returns no later turn reports the source.
    pub fn deregister<U>(&self, source: &mut U) -> io::Result<()>
    where
        U: Source<S> + ?Sized,
    {
        let slot = &self.reactor.slots[self.index];
        if slot.owner.get() != Some(self.owner) {
            return Err(io::error(
                io::ErrorKind::NotFound,
                "registration was deregistered",
                None,
            ));
        }
        let result = match self.reactor.poll.try_borrow() {
            Ok(poll) => poll.registry().deregister(source),
            Err(_) => Err(reentrant()),
        };
        if result.is_ok() {
            release(slot);
        }
        result
    }
}

fn release(slot: &Slot) {
    slot.owner.set(None);
    slot.ready.set(0);
    slot.wake_all();
}

impl<S: Selector, const N: usize, const T: usize> Drop for Registration<'_, S, N, T> {
    fn drop(&mut self) {
        let slot = &self.reactor.slots[self.index];
        if slot.owner.get() == Some(self.owner) {
            release(slot);
        }
    }
}

impl<S: Selector, const N: usize, const T: usize> fmt::Debug for Registration<'_, S, N, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("token", &Token(self.index))
            .field("interest", &self.interest)
            .finish()
    }
}
