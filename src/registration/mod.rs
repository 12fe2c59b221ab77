//! Async readiness: a [`Reactor`] that drives a [`Poll`] and wakes tasks,
//! and the [`Registration`] that ties one source to it (tokio's
//! `Registration`, without `Arc` or a runtime).
//!
//! No allocation and no `std`: the reactor owns a fixed table of `N` slots,
//! one per registration, each holding readiness bits, a tick that changes
//! with every event, and one `core::task::Waker` per direction. A
//! `Registration` borrows its reactor, so the borrow checker guarantees the
//! reactor outlives every registration.
//!
//! The reactor is single-threaded (`!Sync`): tasks, the executor and
//! [`Reactor::turn`] run on one thread. It never calls a waker while it
//! holds a borrow of its own state, so a waker may do anything.
//!
//! # Contract (as tokio's page states it)
//! * A registration has two independent readiness streams, read and write;
//!   at most one task may wait on each at a time (a second task replaces
//!   the first's waker, and the first may hang).
//! * [`Registration::clear_readiness`] clears only what the given
//!   [`ReadyEvent`] saw: if an event arrived after it was taken (the tick
//!   moved on), nothing is cleared and that readiness is not lost.
//! * [`Registration::deregister`] and [`Reactor::shutdown`] wake waiting
//!   tasks, whose next poll gets an error instead of hanging.

use core::cell::{Cell, RefCell};
use core::fmt;
use core::task::{Context, Poll as TaskPoll, Waker};
use core::time::Duration;

use crate::event::{Event, Events, Source};
use crate::sys::{DefaultSelector, Selector};
use crate::{io, Interest, Poll, Token};

const READABLE: u8 = 1;
const WRITABLE: u8 = 2;
const READ_CLOSED: u8 = 4;
const WRITE_CLOSED: u8 = 8;
const ERROR: u8 = 16;

const READ_MASK: u8 = READABLE | READ_CLOSED | ERROR;
const WRITE_MASK: u8 = WRITABLE | WRITE_CLOSED | ERROR;

/// The default number of registrations a [`Reactor`] holds.
pub const DEFAULT_SLOTS: usize = 64;

struct Slot {
    /// The registration using the slot now, if any.
    owner: Cell<Option<u32>>,
    ready: Cell<u8>,
    tick: Cell<u32>,
    reader: Cell<Option<Waker>>,
    writer: Cell<Option<Waker>>,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            owner: Cell::new(None),
            ready: Cell::new(0),
            tick: Cell::new(0),
            reader: Cell::new(None),
            writer: Cell::new(None),
        }
    }

    fn wake_all(&self) {
        if let Some(w) = self.reader.take() {
            w.wake();
        }
        if let Some(w) = self.writer.take() {
            w.wake();
        }
    }
}

/// Drives a [`Poll`] and wakes the tasks whose sources became ready.
///
/// `N` is the number of registrations it can hold (and the size of its
/// event buffer). Create it, create [`Registration`]s that borrow it, and
/// call [`turn`](Reactor::turn) whenever the executor has nothing to run.
///
/// # Examples
///
/// ```
/// use rouse::registration::Reactor;
/// use std::time::Duration;
///
/// let reactor: Reactor = Reactor::new()?;
/// // Nothing registered: the turn times out and wakes no one.
/// assert_eq!(reactor.turn(Some(Duration::from_millis(1)))?, 0);
/// # Ok::<(), rouse::io::Error>(())
/// ```
pub struct Reactor<S: Selector = DefaultSelector, const N: usize = DEFAULT_SLOTS> {
    poll: RefCell<Poll<S>>,
    events: RefCell<Events<S, N>>,
    slots: [Slot; N],
    /// Owner ids: unique per registration, so a stale one is recognised.
    next_owner: Cell<u32>,
    shut: Cell<bool>,
}

impl<const N: usize> Reactor<DefaultSelector, N> {
    /// A reactor on the default backend.
    pub fn new() -> io::Result<Self> {
        Poll::new().map(Reactor::with_poll)
    }
}

impl<S: Selector, const N: usize> Reactor<S, N> {
    /// A reactor driving `poll`.
    pub fn with_poll(poll: Poll<S>) -> Self {
        Reactor {
            poll: RefCell::new(poll),
            events: RefCell::new(Events::new()),
            slots: [const { Slot::new() }; N],
            next_owner: Cell::new(0),
            shut: Cell::new(false),
        }
    }

    /// Polls once and wakes the tasks whose readiness changed; returns how
    /// many wakers it called. `timeout` is as for [`Poll::poll`].
    ///
    /// Errors: the poll's error, or an error after [`shutdown`](Reactor::shutdown)
    /// or when called from inside its own turn (a waker calling `turn`).
    pub fn turn(&self, timeout: Option<Duration>) -> io::Result<usize> {
        if self.shut.get() {
            return Err(shut_down());
        }
        let Ok(mut events) = self.events.try_borrow_mut() else {
            return Err(reentrant());
        };
        {
            let Ok(mut poll) = self.poll.try_borrow_mut() else {
                return Err(reentrant());
            };
            poll.poll(&mut events, timeout)?;
        }
        let mut woken = 0;
        for event in events.iter() {
            woken += self.dispatch(event);
        }
        Ok(woken)
    }

    fn dispatch(&self, event: &Event<S>) -> usize {
        let Some(slot) = self.slots.get(event.token().0) else {
            return 0;
        };
        if slot.owner.get().is_none() {
            return 0;
        }
        let mut bits = 0;
        if event.is_readable() {
            bits |= READABLE;
        }
        if event.is_writable() {
            bits |= WRITABLE;
        }
        if event.is_read_closed() {
            bits |= READ_CLOSED | READABLE;
        }
        if event.is_write_closed() {
            bits |= WRITE_CLOSED | WRITABLE;
        }
        if event.is_error() {
            bits |= ERROR;
        }
        slot.ready.set(slot.ready.get() | bits);
        slot.tick.set(slot.tick.get().wrapping_add(1));
        let mut woken = 0;
        if bits & READ_MASK != 0 {
            if let Some(w) = slot.reader.take() {
                w.wake();
                woken += 1;
            }
        }
        if bits & WRITE_MASK != 0 {
            if let Some(w) = slot.writer.take() {
                w.wake();
                woken += 1;
            }
        }
        woken
    }

    /// Shuts the reactor down: every waiting task is woken and every later
    /// readiness poll, registration and turn fails with an error.
    pub fn shutdown(&self) {
        self.shut.set(true);
        for slot in &self.slots {
            slot.wake_all();
        }
    }

    /// Whether [`shutdown`](Reactor::shutdown) was called.
    pub fn is_shutdown(&self) -> bool {
        self.shut.get()
    }

    /// How many registrations are live.
    pub fn len(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.owner.get().is_some())
            .count()
    }

    /// Whether no registration is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<S: Selector, const N: usize> fmt::Debug for Reactor<S, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("capacity", &N)
            .field("registrations", &self.len())
            .field("shutdown", &self.shut.get())
            .finish()
    }
}

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
enum Direction {
    Read,
    Write,
}

/// One source's association with a [`Reactor`]: two readiness streams.
///
/// Deregister it (with the source) before dropping the source. Dropping a
/// registration frees its slot; if the source is still registered with the
/// OS, the slot's next owner may see spurious readiness, never lost one.
pub struct Registration<'r, S: Selector = DefaultSelector, const N: usize = DEFAULT_SLOTS> {
    reactor: &'r Reactor<S, N>,
    index: usize,
    owner: u32,
}

impl<'r, S: Selector, const N: usize> Registration<'r, S, N> {
    /// Registers `source` with `reactor` for `interest`.
    ///
    /// Errors: a full reactor (naming its capacity), a shut-down reactor,
    /// or the registry's error (the slot is not taken then).
    pub fn new<T>(
        reactor: &'r Reactor<S, N>,
        source: &mut T,
        interest: Interest,
    ) -> io::Result<Self>
    where
        T: Source<S> + ?Sized,
    {
        if reactor.shut.get() {
            return Err(shut_down());
        }
        let Some(index) = reactor.slots.iter().position(|s| s.owner.get().is_none()) else {
            return Err(io::error(
                io::ErrorKind::StorageFull,
                "reactor full: capacity",
                i64::try_from(N).ok(),
            ));
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
        })
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

    fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> TaskPoll<io::Result<ReadyEvent>> {
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
    /// The error bit is cleared too (the operation that met `WouldBlock`
    /// took the error); the closed bits stay: a closed half stays closed.
    pub fn clear_readiness(&self, event: ReadyEvent) {
        if let Ok(slot) = self.slot() {
            if slot.tick.get() == event.tick {
                let clear = event.ready & (READABLE | WRITABLE | ERROR);
                slot.ready.set(slot.ready.get() & !clear);
            }
        }
    }

    fn poll_io<R>(
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
    /// ready.
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

    /// Deregisters `source` and ends this registration: tasks waiting on
    /// either stream are woken and get an error from their next poll. Once
    /// this returns no later turn reports the source.
    pub fn deregister<T>(&self, source: &mut T) -> io::Result<()>
    where
        T: Source<S> + ?Sized,
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
            self.release(slot);
        }
        result
    }

    fn release(&self, slot: &Slot) {
        slot.owner.set(None);
        slot.ready.set(0);
        slot.wake_all();
    }
}

impl<S: Selector, const N: usize> Drop for Registration<'_, S, N> {
    fn drop(&mut self) {
        let slot = &self.reactor.slots[self.index];
        if slot.owner.get() == Some(self.owner) {
            self.release(slot);
        }
    }
}

impl<S: Selector, const N: usize> fmt::Debug for Registration<'_, S, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("token", &Token(self.index))
            .finish()
    }
}

#[cold]
fn shut_down() -> io::Error {
    io::error(io::ErrorKind::Other, "reactor is shut down", None)
}

#[cold]
fn reentrant() -> io::Error {
    io::error(
        io::ErrorKind::Other,
        "reactor used from inside its own turn (a waker called into it)",
        None,
    )
}
