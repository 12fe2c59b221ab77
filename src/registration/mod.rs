//! Async I/O on rouse: a [`Reactor`] that drives a [`Poll`], wakes tasks
//! and keeps timers; the [`Registration`] that ties one source to it
//! (tokio's `Registration`, without `Arc` or a runtime); [`Async`], the net
//! types as futures; and [`Sleep`] and [`Reactor::timeout`].
//!
//! No allocation and no `std`: the reactor owns a fixed table of `N` slots,
//! one per registration, each holding readiness bits, a tick that changes
//! with every event, and one `core::task::Waker` per direction; and a fixed
//! store of `T` timers. A `Registration` (or `Sleep`) borrows its reactor,
//! so the borrow checker guarantees the reactor outlives it.
//!
//! The reactor runs on one thread (`!Sync`): tasks, the executor and
//! [`Reactor::turn`] share it. It never calls a waker while it holds a
//! borrow of its own state, so a waker may do anything. Other threads (and
//! an executor's pender) reach it through its [`Notify`], which makes a
//! blocked turn return; with `std`, [`Reactor::block_on`] runs any
//! executor's future with rouse as its reactor.
//!
//! # Plugging it into an executor
//!
//! The executor runs tasks while it has any, and calls [`Reactor::turn`]
//! when it has none: the turn waits for I/O or the nearest timer, and wakes
//! the tasks that can go on. With `std`, `reactor.block_on(executor.run(..))`
//! does exactly that for executors that wake the future driving them (such
//! as `async-executor`'s `LocalExecutor::run`); an embedded executor with a
//! pender (`embassy-executor`'s raw API) calls [`Notify::notify`] from it,
//! then alternates its `poll` with `turn` (see the README).
//!
//! # Contract (as tokio's page states it)
//! * A registration has two independent readiness streams, read and write;
//!   at most one task may wait on each at a time (a second task replaces
//!   the first's waker, and the first may hang).
//! * [`Registration::clear_readiness`] clears only what the given
//!   [`ReadyEvent`] saw: if an event arrived after it was taken (the tick
//!   moved on), nothing is cleared and that readiness is not lost. It
//!   clears the error bit too (the error was taken by the operation that
//!   met it); only the closed bits stay, since a closed half stays closed.
//! * [`Registration::deregister`] and [`Reactor::shutdown`] wake waiting
//!   tasks, whose next poll gets an error instead of hanging.
//!
//! # Clocks
//!
//! Timers read a [`Clock`]: a plain `fn() -> Duration` giving time since a
//! fixed point, never going backwards. [`monotonic`] is the target's own
//! (`clock_gettime(CLOCK_MONOTONIC)` on Unix, with or without `std`;
//! `clock_time_get(CLOCKID_MONOTONIC)` on WASI; `Instant` on Windows); a
//! board without an OS passes its timer's to [`Reactor::with_clock`].

use core::cell::{Cell, RefCell};
use core::fmt;
use core::task::Waker;
use core::time::Duration;

use crate::event::{Event, Events};
use crate::sys::{DefaultSelector, Selector};
use crate::{io, Poll, Token};

mod async_io;
mod compat;
#[cfg(feature = "net")]
mod net;
mod notify;
mod readiness;
mod timer;

pub use self::async_io::{Async, TryRead, TryWrite};
#[cfg(feature = "std")]
pub use self::notify::Notifier;
pub use self::notify::Notify;
pub use self::readiness::{ReadyEvent, Registration};
pub use self::timer::{Elapsed, Sleep};

const READABLE: u8 = 1;
const WRITABLE: u8 = 2;
const READ_CLOSED: u8 = 4;
const WRITE_CLOSED: u8 = 8;
const ERROR: u8 = 16;

const READ_MASK: u8 = READABLE | READ_CLOSED | ERROR;
const WRITE_MASK: u8 = WRITABLE | WRITE_CLOSED | ERROR;
/// What [`Registration::clear_readiness`] never clears.
const CLOSED: u8 = READ_CLOSED | WRITE_CLOSED;

/// The default number of registrations a [`Reactor`] holds.
pub const DEFAULT_SLOTS: usize = 64;
/// The default number of timers a [`Reactor`] holds.
pub const DEFAULT_TIMERS: usize = 16;

/// A monotonic clock: time since some fixed point, never going backwards.
pub type Clock = fn() -> Duration;

/// The target's monotonic clock (see the [module docs](self#clocks)).
#[cfg(any(unix, target_os = "wasi", all(windows, feature = "std")))]
pub fn monotonic() -> Duration {
    crate::sys::clock::monotonic()
}

struct Slot {
    /// The registration using the slot now, if any.
    owner: Cell<Option<u32>>,
    ready: Cell<u8>,
    tick: Cell<u32>,
    reader: Cell<Option<Waker>>,
    writer: Cell<Option<Waker>>,
}

impl Slot {
    fn new() -> Slot {
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

/// Drives a [`Poll`], wakes the tasks whose sources became ready, and
/// keeps their timers.
///
/// `N` is the number of registrations it can hold (and the size of its
/// event buffer), `T` the number of live timers ([`Sleep`]s and
/// timeouts). Create it, create [`Registration`]s (or [`Async`] sockets)
/// and timers that borrow it, and call [`turn`](Reactor::turn) whenever
/// the executor has nothing to run; or, with `std`, hand the executor's
/// future to [`block_on`](Reactor::block_on).
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
pub struct Reactor<
    S: Selector = DefaultSelector,
    const N: usize = DEFAULT_SLOTS,
    const T: usize = DEFAULT_TIMERS,
> {
    poll: RefCell<Poll<S>>,
    events: RefCell<Events<S, N>>,
    slots: [Slot; N],
    /// Owner ids: unique per registration, so a stale one is recognised.
    next_owner: Cell<u32>,
    shut: Cell<bool>,
    timers: timer::Timers<T>,
    clock: Clock,
    notify: notify::Handle<S>,
}

#[cfg(any(unix, target_os = "wasi", all(windows, feature = "std")))]
impl<const N: usize, const T: usize> Reactor<DefaultSelector, N, T> {
    /// A reactor on the default backend, with the target's [`monotonic`]
    /// clock.
    ///
    /// Errors: the backend's, creating the `Poll` or its
    /// [`Waker`](crate::Waker) (a backend without one, WASI, is no error).
    pub fn new() -> io::Result<Self> {
        Reactor::with_poll(Poll::new()?)
    }
}

impl<S: Selector, const N: usize, const T: usize> Reactor<S, N, T> {
    /// A reactor driving `poll`, with the target's [`monotonic`] clock.
    ///
    /// It creates the poll's [`Waker`](crate::Waker) (reported with
    /// `Token(N)`, which no registration uses), so that [`Notify::notify`]
    /// can interrupt a blocked turn. Errors: the waker's (a backend that
    /// has none, WASI, is no error: see [`Notify`]).
    #[cfg(any(unix, target_os = "wasi", all(windows, feature = "std")))]
    pub fn with_poll(poll: Poll<S>) -> io::Result<Self> {
        Reactor::with_clock(poll, monotonic)
    }

    /// A reactor driving `poll`, reading time from `clock`; as
    /// [`with_poll`](Reactor::with_poll) otherwise.
    pub fn with_clock(poll: Poll<S>, clock: Clock) -> io::Result<Self> {
        let notify = notify::Notify::new(poll.registry(), Token(N))?;
        Ok(Reactor {
            poll: RefCell::new(poll),
            events: RefCell::new(Events::new()),
            slots: core::array::from_fn(|_| Slot::new()),
            next_owner: Cell::new(0),
            shut: Cell::new(false),
            timers: timer::Timers::new(),
            clock,
            notify: notify::Handle::new(notify),
        })
    }

    /// Now, on the reactor's clock: what [`sleep_until`](Reactor::sleep_until)
    /// deadlines are measured in.
    pub fn now(&self) -> Duration {
        (self.clock)()
    }

    /// The handle that wakes this reactor's blocked [`turn`](Reactor::turn)
    /// (`Sync`: usable from other threads, signal handlers and pender
    /// functions while the reactor lives).
    pub fn notify(&self) -> &Notify<S> {
        self.notify.get()
    }

    /// Polls once, wakes the tasks whose readiness changed and the timers
    /// that expired; returns how many wakers it called.
    ///
    /// The wait ends at `timeout` (as for [`Poll::poll`]; `None` waits for
    /// ever), at the nearest timer's deadline if that is sooner, or when
    /// [`Notify::notify`] is called; it does not wait at all when a notify
    /// came since the last turn or a timer has expired already.
    ///
    /// Errors: the poll's error (`Interrupted` for a signal: turn again),
    /// or an error after [`shutdown`](Reactor::shutdown) or when called
    /// from inside its own turn (a waker calling `turn`).
    pub fn turn(&self, timeout: Option<Duration>) -> io::Result<usize> {
        if self.shut.get() {
            return Err(shut_down());
        }
        let Ok(mut events) = self.events.try_borrow_mut() else {
            return Err(reentrant());
        };
        let now = self.now();
        let mut woken = self.timers.fire(now);
        let notify = self.notify();
        let notified = notify.start_wait();
        let timeout = if woken > 0 || notified {
            Some(Duration::ZERO)
        } else {
            match self.timers.next_deadline() {
                Some(deadline) => {
                    let left = deadline.saturating_sub(now);
                    Some(timeout.map_or(left, |t| t.min(left)))
                }
                None => timeout,
            }
        };
        let result = match self.poll.try_borrow_mut() {
            Ok(mut poll) => poll.poll(&mut events, timeout),
            Err(_) => Err(reentrant()),
        };
        notify.end_wait();
        result?;
        for event in events.iter() {
            woken += self.dispatch(event);
        }
        drop(events);
        woken += self.timers.fire(self.now());
        Ok(woken)
    }

    fn dispatch(&self, event: &Event<S>) -> usize {
        // The waker's token (N) and anything else outside the table.
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

    /// Shuts the reactor down: every waiting task and timer is woken, every
    /// later readiness poll, registration, timer and turn fails with an
    /// error (a [`Sleep`] completes at once).
    pub fn shutdown(&self) {
        self.shut.set(true);
        for slot in &self.slots {
            slot.wake_all();
        }
        self.timers.wake_all();
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

    /// How many timers are live (created and not dropped).
    pub fn timers(&self) -> usize {
        self.timers.len()
    }
}

impl<S: Selector, const N: usize, const T: usize> fmt::Debug for Reactor<S, N, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("capacity", &N)
            .field("registrations", &self.len())
            .field("timer_capacity", &T)
            .field("timers", &self.timers.len())
            .field("shutdown", &self.shut.get())
            .finish()
    }
}

/// A full fixed-capacity store: `msg` names it, `capacity` follows.
#[cold]
fn full(msg: &'static str, capacity: usize) -> io::Error {
    io::error(io::TABLE_FULL, msg, i64::try_from(capacity).ok())
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
