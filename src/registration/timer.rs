//! Timers: a fixed store of `T` deadlines in the reactor, the [`Sleep`]
//! future that holds one, and [`Reactor::timeout`].
//!
//! A timer is a slot with a deadline on the reactor's clock, a `fired` flag
//! and the waker of the task waiting on it. The reactor scans the store
//! (it is small: `T` entries) before each wait, for expired timers and for
//! the nearest deadline, which caps the wait; and again after it. Creating
//! a timer takes a free slot, or fails with `io::TABLE_FULL` (`StorageFull`) naming the
//! capacity; dropping it frees the slot at once.

use core::cell::Cell;
use core::fmt;
use core::future::{poll_fn, Future};
use core::pin::{pin, Pin};
use core::task::{Context, Poll as TaskPoll, Waker};
use core::time::Duration;

use super::{shut_down, Reactor, DEFAULT_SLOTS, DEFAULT_TIMERS};
use crate::io;
use crate::sys::{DefaultSelector, Selector};

struct Timer {
    owner: Cell<Option<u32>>,
    deadline: Cell<Duration>,
    fired: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

pub(super) struct Timers<const T: usize> {
    slots: [Timer; T],
    next_owner: Cell<u32>,
}

impl<const T: usize> Timers<T> {
    pub(super) fn new() -> Self {
        Timers {
            slots: core::array::from_fn(|_| Timer {
                owner: Cell::new(None),
                deadline: Cell::new(Duration::ZERO),
                fired: Cell::new(false),
                waker: Cell::new(None),
            }),
            next_owner: Cell::new(0),
        }
    }

    fn insert(&self, deadline: Duration) -> io::Result<(usize, u32)> {
        let Some(index) = self.slots.iter().position(|t| t.owner.get().is_none()) else {
            return Err(super::full("timer store full: capacity", T));
        };
        let owner = self.next_owner.get();
        self.next_owner.set(owner.wrapping_add(1));
        let timer = &self.slots[index];
        timer.owner.set(Some(owner));
        timer.deadline.set(deadline);
        timer.fired.set(false);
        timer.waker.set(None);
        Ok((index, owner))
    }

    fn get(&self, index: usize, owner: u32) -> Option<&Timer> {
        self.slots
            .get(index)
            .filter(|t| t.owner.get() == Some(owner))
    }

    /// Marks every live timer whose deadline is `now` or earlier as fired
    /// and wakes its task; returns how many wakers it called.
    pub(super) fn fire(&self, now: Duration) -> usize {
        let mut woken = 0;
        for timer in &self.slots {
            if timer.owner.get().is_some() && !timer.fired.get() && timer.deadline.get() <= now {
                timer.fired.set(true);
                if let Some(w) = timer.waker.take() {
                    w.wake();
                    woken += 1;
                }
            }
        }
        woken
    }

    /// The nearest deadline of a live timer that has not fired.
    pub(super) fn next_deadline(&self) -> Option<Duration> {
        self.slots
            .iter()
            .filter(|t| t.owner.get().is_some() && !t.fired.get())
            .map(|t| t.deadline.get())
            .min()
    }

    pub(super) fn wake_all(&self) {
        for timer in &self.slots {
            if let Some(w) = timer.waker.take() {
                w.wake();
            }
        }
    }

    pub(super) fn len(&self) -> usize {
        self.slots
            .iter()
            .filter(|t| t.owner.get().is_some())
            .count()
    }
}

/// A future that completes at a deadline on its reactor's clock; made by
/// [`Reactor::sleep`] and [`Reactor::sleep_until`].
///
/// It holds one of the reactor's `T` timer slots from creation until it is
/// dropped (completed or not), and is woken by the reactor's
/// [`turn`](Reactor::turn), whose wait it shortens to its deadline. It
/// never completes early: it checks the clock itself when polled. After
/// [`Reactor::shutdown`] it completes at once.
pub struct Sleep<
    'r,
    S: Selector = DefaultSelector,
    const N: usize = DEFAULT_SLOTS,
    const T: usize = DEFAULT_TIMERS,
> {
    reactor: &'r Reactor<S, N, T>,
    index: usize,
    owner: u32,
}

impl<S: Selector, const N: usize, const T: usize> Sleep<'_, S, N, T> {
    fn timer(&self) -> Option<&Timer> {
        self.reactor.timers.get(self.index, self.owner)
    }

    /// The deadline, on the reactor's clock.
    pub fn deadline(&self) -> Duration {
        self.timer().map_or(Duration::ZERO, |t| t.deadline.get())
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        if self.reactor.shut.get() {
            return true;
        }
        match self.timer() {
            Some(t) => t.fired.get() || t.deadline.get() <= self.reactor.now(),
            None => true,
        }
    }

    /// Moves the deadline (earlier or later), keeping the slot: the sleep
    /// is pending again until `deadline`.
    pub fn reset(&mut self, deadline: Duration) {
        if let Some(t) = self.timer() {
            t.deadline.set(deadline);
            t.fired.set(false);
        }
    }
}

impl<S: Selector, const N: usize, const T: usize> Future for Sleep<'_, S, N, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> TaskPoll<()> {
        if self.is_elapsed() {
            if let Some(t) = self.timer() {
                t.fired.set(true);
                drop(t.waker.take());
            }
            return TaskPoll::Ready(());
        }
        if let Some(t) = self.timer() {
            let waker = match t.waker.take() {
                Some(w) if w.will_wake(cx.waker()) => w,
                _ => cx.waker().clone(),
            };
            t.waker.set(Some(waker));
        }
        TaskPoll::Pending
    }
}

impl<S: Selector, const N: usize, const T: usize> Drop for Sleep<'_, S, N, T> {
    fn drop(&mut self) {
        if let Some(t) = self.timer() {
            t.owner.set(None);
            t.fired.set(false);
            // The waker is dropped after the slot is free: its drop may
            // run any code, even code that takes a timer.
            drop(t.waker.take());
        }
    }
}

impl<S: Selector, const N: usize, const T: usize> fmt::Debug for Sleep<'_, S, N, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline())
            .field("elapsed", &self.is_elapsed())
            .finish()
    }
}

/// The error of [`Reactor::timeout`]: the deadline came first.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Elapsed {}

#[cfg(feature = "std")]
impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

impl<S: Selector, const N: usize, const T: usize> Reactor<S, N, T> {
    /// A future that completes `duration` from now (see [`Sleep`]).
    ///
    /// Errors: `io::TABLE_FULL` (naming the capacity `T`) when every timer
    /// slot is taken; an error after [`shutdown`](Reactor::shutdown).
    ///
    /// ```
    /// # #[cfg(feature = "std")]
    /// # fn main() -> Result<(), rouse::io::Error> {
    /// use rouse::registration::Reactor;
    /// use std::time::Duration;
    ///
    /// let reactor: Reactor = Reactor::new()?;
    /// let start = reactor.now();
    /// reactor.block_on(async {
    ///     reactor.sleep(Duration::from_millis(20))?.await;
    ///     Ok::<(), rouse::io::Error>(())
    /// })??;
    /// assert!(reactor.now() - start >= Duration::from_millis(20));
    /// # Ok(())
    /// # }
    /// # // `block_on` needs `std`.
    /// # #[cfg(not(feature = "std"))]
    /// # fn main() {}
    /// ```
    pub fn sleep(&self, duration: Duration) -> io::Result<Sleep<'_, S, N, T>> {
        // A deadline past the clock's range never comes.
        let deadline = self.now().checked_add(duration).unwrap_or(Duration::MAX);
        self.sleep_until(deadline)
    }

    /// A future that completes at `deadline` on the reactor's clock (see
    /// [`now`](Reactor::now)); at once if it has passed. Errors as for
    /// [`sleep`](Reactor::sleep).
    pub fn sleep_until(&self, deadline: Duration) -> io::Result<Sleep<'_, S, N, T>> {
        if self.shut.get() {
            return Err(shut_down());
        }
        let (index, owner) = self.timers.insert(deadline)?;
        Ok(Sleep {
            reactor: self,
            index,
            owner,
        })
    }

    /// Runs `future` for at most `duration`: its output, or [`Elapsed`] if
    /// the deadline comes first (the future is dropped then).
    ///
    /// The timer is taken now, so a full store is an error here (as for
    /// [`sleep`](Reactor::sleep)), not later.
    ///
    /// ```
    /// # #[cfg(feature = "std")]
    /// # fn main() -> Result<(), rouse::io::Error> {
    /// use rouse::registration::Reactor;
    /// use std::future::pending;
    /// use std::time::Duration;
    ///
    /// let reactor: Reactor = Reactor::new()?;
    /// let never = pending::<()>();
    /// let result = reactor.block_on(reactor.timeout(Duration::from_millis(5), never)?)?;
    /// assert!(result.is_err());
    /// # Ok(())
    /// # }
    /// # // `block_on` needs `std`.
    /// # #[cfg(not(feature = "std"))]
    /// # fn main() {}
    /// ```
    pub fn timeout<'a, F>(
        &'a self,
        duration: Duration,
        future: F,
    ) -> io::Result<impl Future<Output = Result<F::Output, Elapsed>> + 'a>
    where
        F: Future + 'a,
    {
        let mut sleep = self.sleep(duration)?;
        Ok(async move {
            let mut future = pin!(future);
            poll_fn(move |cx| {
                if let TaskPoll::Ready(v) = future.as_mut().poll(cx) {
                    return TaskPoll::Ready(Ok(v));
                }
                match Pin::new(&mut sleep).poll(cx) {
                    TaskPoll::Ready(()) => TaskPoll::Ready(Err(Elapsed(()))),
                    TaskPoll::Pending => TaskPoll::Pending,
                }
            })
            .await
        })
    }
}
