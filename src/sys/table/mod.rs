//! The table core: one selector for every backend whose kernel keeps no
//! registrations (poll(2), WASI's `poll_oneoff`, IOCP's AFD polls).
//!
//! [`TableSelector<D, N>`] owns everything those backends share: the
//! registrations (a table of `N`, fixed at compile time), the edge
//! emulation (which conditions are armed, per registration), delivery, the
//! re-arm handles (`Arm`) that sources keep, deregistration of a source
//! dropped while registered, the one-`Waker` rule and the hand-off between
//! a thread that registers and the thread blocked in `poll`. A backend is a
//! [`Driver`]: it opens its OS objects, waits, and translates what the OS
//! reports into readiness conditions. `PollSelector<N>`, `WasiSelector<N>`
//! and `IocpSelector<N>` are this type with their driver.
//!
//! # The rules, on every table backend
//!
//! * **Edges.** A source that re-arms itself (the `net` types, pipes,
//!   `IoSource`) is reported once per condition
//!   (readable, writable, priority, read-closed, write-closed, error) until
//!   an operation on it returns `WouldBlock` or another error (an `accept`
//!   out of descriptors leaves its connections waiting), or reads or
//!   writes less than asked (the source is drained, as programs written
//!   for Linux's epoll assume), or until `reregister`. A condition that
//!   appears after another was reported (a peer's close after data) is a
//!   new event, as on epoll.
//! * **Raw fds.** A registration nothing re-arms (`unix::SourceFd`, and
//!   user sources built on it) is level-triggered here: it is reported at
//!   every poll while it is ready, so a program that reads until
//!   `WouldBlock` needs no `reregister`, exactly as on epoll. The price,
//!   which no level-triggered primitive can avoid without a re-arm signal:
//!   readiness a program leaves in place (data unread, a socket registered
//!   `WRITABLE` with nothing to write) makes every poll return at once.
//!   Use `IoSource` (or the `net` types) for edges, or register only the
//!   interests you are waiting for.
//! * **Re-arming** (how edges are kept). On a [`LAZY`](Driver::LAZY)
//!   driver (poll(2), WASI), whose OS wait is level-triggered and whose
//!   wait set the table rewrites itself, a reported readable or writable
//!   stays watched ("watch-through"), and the source's re-arm only notes,
//!   with one atomic operation on the registration's word in [`Marks`]
//!   and without the table's lock or an interruption, that it drained the
//!   condition. When the OS shows the condition again, it is delivered if
//!   the source drained it since (a new edge); if not, it is not
//!   delivered, stops being watched, and the source's next re-arm takes
//!   the lock and watches it again. So a source left undrained costs at
//!   most one wake-up, and no edge is lost. Priority, error and the closed
//!   conditions are disarmed when reported, and a re-arm that must watch
//!   them again (or that finds its registration moved or gone) takes the
//!   lock. IOCP's AFD polls are one-shot, so there a report disarms and
//!   every re-arm takes the lock.
//! * **Dropped sources.** A source that re-arms itself deregisters itself
//!   when it is dropped. A raw fd closed while registered is forgotten
//!   without an event once the OS reports it closed, or when its number is
//!   registered again for a different file (the new registration replaces
//!   the stale one); until then a reused number may report the new file's
//!   readiness under the old token (deregister raw fds before closing them).
//! * **One `Waker`** per selector: a second is `AlreadyExists`.
//! * **Threads** (with `std`): registering from another thread while `poll`
//!   blocks interrupts the wait, lets the change in and waits again; the
//!   poller blocks on a lock while registrations are waiting, it never
//!   spins.
//!
//! It must never allocate after `new`, never block except in `select` (and
//! while another thread holds the table), and never drop a readiness it
//! was asked to report.
//!
//! [`Driver`] is the interface between the core and rouse's own backends;
//! its data types keep their methods crate-private, so it is not meant to
//! be implemented outside rouse (implement [`Selector`] instead).

mod regs;
pub(crate) mod shared;

use core::fmt;
#[cfg(feature = "std")]
use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;

#[cfg(rouse_poll)]
pub(crate) use self::regs::Entry;
pub use self::regs::Marks;
use self::regs::{already_registered, not_found};
pub(crate) use self::regs::{Registrations, Trigger};
#[cfg(rouse_poll)]
pub(crate) use self::regs::{SLOW_R, SLOW_W};
pub use self::shared::Zeroed;
use self::shared::{Guard, Guarded, Lock, Shared};
use super::ready::TableEvent;
use super::Selector;
use crate::sys::event::Event;
use crate::{io, Interest, Token};

/// An OS handle a table keys registrations by: a Unix or WASI fd, a
/// Windows socket.
pub trait Handle: Copy + Eq + fmt::Debug + Send + Sync + Zeroed + TryInto<i64> + 'static {
    /// As 64 bits, for the untyped handle of a re-arm handle (`Arm`).
    fn to_bits(self) -> u64;
    /// Back from [`to_bits`](Handle::to_bits).
    fn from_bits(bits: u64) -> Self;
}

impl Handle for i32 {
    fn to_bits(self) -> u64 {
        self as u32 as u64
    }
    fn from_bits(bits: u64) -> Self {
        bits as u32 as i32
    }
}

impl Handle for u64 {
    fn to_bits(self) -> u64 {
        self
    }
    fn from_bits(bits: u64) -> Self {
        bits
    }
}

/// What a table backend supplies to the core: opening, waiting and
/// translating. Every method but `open`, `now`, `check` and `wake` is
/// called with the table locked.
pub trait Driver<const N: usize>: Sized + 'static {
    /// The OS handle sources register with.
    type Raw: Handle;
    /// What identifies the file behind a handle, to tell a reused number
    /// from the file registered under it (`()` where the OS cannot tell).
    type Ident: Copy + Eq + Zeroed + Send + 'static;
    /// The OS objects opened once per selector (a notification fd, a
    /// completion port). `Sync` with `std`, where other threads reach it.
    #[cfg(feature = "std")]
    type Os: Send + Sync + 'static;
    /// The OS objects opened once per selector (a notification fd).
    #[cfg(not(feature = "std"))]
    type Os: Send + 'static;
    /// The arrays the OS reads and writes, one element per registration
    /// and in the registrations' order; valid when zeroed.
    type Native: Zeroed + Send + 'static;
    /// The backend's half of a [`Waker`](crate::Waker).
    type Waker: Send + Sync + fmt::Debug;
    /// The backend's name, for `Debug`.
    const NAME: &'static str;
    /// Whether the OS wait is level-triggered and rewritten by the table
    /// itself at every wait (poll(2), WASI), so that a reported condition
    /// can stay watched until its source drains it (the module docs'
    /// "watch-through" re-arm). `false` where a watch is one-shot (IOCP's
    /// AFD polls): a report disarms, and a re-arm takes the table's lock.
    const LAZY: bool;

    /// Opens the selector's OS objects.
    fn open() -> io::Result<Self::Os>;

    /// Fills in what a zeroed table lacks (fixed `pollfd`s, say), once,
    /// before the selector is used.
    fn init(os: &Self::Os, data: &mut Data<Self, N>) {
        let _ = (os, data);
    }

    /// The monotonic clock, for the time left after an interrupted wait.
    fn now() -> Duration;

    /// Checks that `raw` can be registered (it is open), and identifies it.
    fn check(os: &Self::Os, raw: Self::Raw) -> io::Result<Self::Ident>;

    /// Whether registration `i`, for the same number as a new registration
    /// identified as `ident`, is for a file closed since (its number was
    /// reused), so the new one replaces it.
    fn stale(os: &Self::Os, data: &Data<Self, N>, i: usize, ident: Self::Ident) -> bool {
        let _ = os;
        data.idents.get(i) != Some(&ident)
    }

    /// Starts watching the new registration `i` (the last one).
    fn attach(os: &Self::Os, data: &mut Data<Self, N>, i: usize) -> io::Result<()>;

    /// Registration `i`'s armed conditions or interests changed (re-arm,
    /// `reregister`): watch what it is watching now.
    fn watch(os: &Self::Os, data: &mut Data<Self, N>, i: usize);

    /// Registration `i` was re-armed for the conditions `conds` by its
    /// source (an operation met `WouldBlock`); `changed` says whether any of
    /// them was disarmed. By default, watches what it watches now.
    fn rearmed(os: &Self::Os, data: &mut Data<Self, N>, i: usize, conds: u8, changed: bool) {
        let _ = conds;
        if changed {
            Self::watch(os, data, i);
        }
    }

    /// Registration `i` is about to be removed: stop watching it.
    fn detach(os: &Self::Os, data: &mut Data<Self, N>, i: usize);

    /// The registration at `from` (the last) moved to `to`, which was
    /// removed: move its native state along.
    fn moved(data: &mut Data<Self, N>, to: usize, from: usize);

    /// Waits for readiness for at most `timeout` (`None`: no limit) and
    /// writes events into `events` (never empty), using
    /// `Data::deliver` (or `Data::deliver_through` with
    /// [`LAZY`](Driver::LAZY)) for each registration found ready.
    fn wait(
        os: &Self::Os,
        data: &mut Data<Self, N>,
        marks: &Marks<N>,
        events: &mut [Event<TableSelector<Self, N>>],
        timeout: Option<Duration>,
    ) -> io::Result<Waited>;

    /// Makes a `wait` in progress on another thread return soon
    /// ([`Waited::Again`]), so a registration can take the table.
    fn interrupt(os: &Self::Os);

    /// Makes the selector's waker, reported with `token`.
    fn new_waker(os: &Self::Os, data: &mut Data<Self, N>, token: Token) -> io::Result<Self::Waker>;

    /// Wakes the selector that made `waker`.
    fn wake(waker: &Self::Waker) -> io::Result<()>;
}

/// What one [`Driver::wait`] did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Waited {
    /// This many events were written (0: the timeout passed).
    Ready(usize),
    /// Only the core's own business happened (an interruption, a
    /// cancellation came back): wait again for the time left.
    Again,
}

/// The table and the backend's arrays, guarded by the selector's lock.
/// Valid when zeroed (nothing registered).
pub struct Data<D: Driver<N>, const N: usize> {
    /// Who is registered, and what is armed.
    pub(crate) regs: Registrations<D::Raw, N>,
    /// `idents[i]` identifies the file of registration `i`.
    pub(crate) idents: [D::Ident; N],
    /// The backend's arrays, in the registrations' order.
    pub(crate) native: D::Native,
    /// The `Waker`'s token plus one, 0 if there is no `Waker`.
    waker: usize,
    /// Some registration was found closed and waits to be removed.
    dead: u8,
}

// SAFETY: the fields are zero-valid (`Zeroed` bounds) or integers.
unsafe impl<D: Driver<N>, const N: usize> Zeroed for Data<D, N> {}

impl<D: Driver<N>, const N: usize> Data<D, N> {
    /// The event to deliver for registration `i`, whose source shows the
    /// conditions `present`, if any of them is to be reported (see the
    /// module docs); updates what is armed. The driver then watches what
    /// the registration watches now.
    #[cfg_attr(not(rouse_iocp), allow(dead_code))]
    #[inline]
    pub(crate) fn deliver(&mut self, i: usize, present: u8) -> Option<TableEvent> {
        let bits = self.regs.report(i, present);
        if bits == 0 {
            None
        } else {
            Some(TableEvent::new(self.regs.token(i), bits))
        }
    }

    /// [`deliver`](Self::deliver) for a [`LAZY`](Driver::LAZY) driver: a
    /// reported readable or writable stays watched, and is delivered
    /// again only once its source has drained it (see the module docs).
    #[cfg_attr(not(any(rouse_wasi, rouse_wasip2)), allow(dead_code))]
    #[inline]
    pub(crate) fn deliver_through(
        &mut self,
        marks: &Marks<N>,
        i: usize,
        present: u8,
    ) -> Option<TableEvent> {
        let (bits, _) = self.regs.get_mut(i)?.report_through(present, marks, i);
        if bits == 0 {
            None
        } else {
            Some(TableEvent::new(self.regs.token(i), bits))
        }
    }

    /// The `Waker`'s token, if a `Waker` was made (WASI has none).
    #[cfg_attr(not(any(rouse_poll, rouse_iocp)), allow(dead_code))]
    #[inline]
    pub(crate) fn waker_token(&self) -> Option<Token> {
        self.waker.checked_sub(1).map(Token)
    }

    /// Marks registration `i` closed by the OS: it is removed, without an
    /// event, when the wait returns (removing it now would move another
    /// registration under a scan in progress).
    pub(crate) fn closed(&mut self, i: usize) {
        self.regs.mark_dead(i);
        self.dead = 1;
    }

    /// Removes registration `i`.
    fn forget(&mut self, os: &D::Os, marks: &Marks<N>, i: usize) {
        D::detach(os, self, i);
        let from = self.regs.remove(i);
        marks.removed(i, from);
        if from != i {
            if let Some(&ident) = self.idents.get(from) {
                if let Some(slot) = self.idents.get_mut(i) {
                    *slot = ident;
                }
            }
            D::moved(self, i, from);
        }
    }

    /// Removes the registrations marked closed. Cold: a closed fd is rare,
    /// and the scan is over every registration.
    #[cold]
    fn sweep(&mut self, os: &D::Os, marks: &Marks<N>) {
        self.dead = 0;
        // From the end, so the entries still to look at never move.
        let mut i = self.regs.len();
        while i > 0 {
            i -= 1;
            if self.regs.entries().get(i).is_some_and(|e| e.is_dead()) {
                self.forget(os, marks, i);
            }
        }
    }
}

/// The head of a table backend's state: the lock and the OS objects.
pub struct Head<D: Driver<N>, const N: usize> {
    lock: Lock,
    /// Taken by a registration that found the table locked, for as long as
    /// it waits and works; the poller takes it before locking the table
    /// while registrations wait, so it blocks (never spins) until they are
    /// done.
    #[cfg(feature = "std")]
    turn: std::sync::Mutex<()>,
    /// Registrations waiting for the table.
    #[cfg(feature = "std")]
    waiting: AtomicUsize,
    os: D::Os,
}

/// The large part of a table backend's state: the table behind the lock,
/// and the re-arm marks beside it, which re-arm handles reach without it.
/// Valid when zeroed.
#[repr(C)]
pub struct Body<D: Driver<N>, const N: usize> {
    data: Guarded<Data<D, N>>,
    marks: Marks<N>,
}

// SAFETY: both fields are zero-valid.
unsafe impl<D: Driver<N>, const N: usize> Zeroed for Body<D, N> {}

type State<D, const N: usize> = Shared<Head<D, N>, Body<D, N>>;

/// The lock and the table, from either a selector or a re-arm handle.
struct View<'a, D: Driver<N>, const N: usize> {
    head: &'a Head<D, N>,
    body: &'a Body<D, N>,
}

impl<'a, D: Driver<N>, const N: usize> View<'a, D, N> {
    /// Runs `change` on the table, interrupting a wait in progress on
    /// another thread if there is one.
    #[cfg(feature = "std")]
    #[inline]
    fn modify<R>(&self, change: impl FnOnce(&D::Os, &mut Data<D, N>) -> R) -> R {
        if let Some(mut data) = self.head.lock.try_lock(&self.body.data) {
            return change(&self.head.os, &mut data);
        }
        self.modify_waiting(change)
    }

    /// Runs `change` on the table. Without `std` there is one thread, and
    /// no selector call re-enters another, so the table is never locked
    /// here; if it ever were, that is an error, not a wait or a panic (and
    /// no generic slow path is built per caller).
    #[cfg(not(feature = "std"))]
    #[inline]
    fn modify<T>(
        &self,
        change: impl FnOnce(&D::Os, &mut Data<D, N>) -> io::Result<T>,
    ) -> io::Result<T> {
        match self.head.lock.try_lock(&self.body.data) {
            Some(mut data) => change(&self.head.os, &mut data),
            None => Err(shared::in_use()),
        }
    }

    /// [`modify`](Self::modify) when the table is locked (a poll is
    /// waiting in the kernel, or another registration is at work).
    #[cfg(feature = "std")]
    #[cold]
    #[inline(never)]
    fn modify_waiting<R>(&self, change: impl FnOnce(&D::Os, &mut Data<D, N>) -> R) -> R {
        let _turn = self
            .head
            .turn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.head.waiting.fetch_add(1, Ordering::SeqCst);
        D::interrupt(&self.head.os);
        let mut data = self.head.lock.lock(&self.body.data);
        self.head.waiting.fetch_sub(1, Ordering::SeqCst);
        change(&self.head.os, &mut data)
    }

    /// The poller's way in: lets waiting registrations go first.
    #[cfg(feature = "std")]
    #[inline]
    fn enter(&self) -> io::Result<Guard<'a, Data<D, N>>> {
        if self.head.waiting.load(Ordering::SeqCst) != 0 {
            // Blocks until the registrations that are waiting are done.
            drop(
                self.head
                    .turn
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
        }
        Ok(self.head.lock.lock(&self.body.data))
    }

    /// The poller's way in, without `std`: the table is never locked here
    /// (see `modify`); an error if it ever were.
    #[cfg(not(feature = "std"))]
    #[inline]
    fn enter(&self) -> io::Result<Guard<'a, Data<D, N>>> {
        self.head
            .lock
            .try_lock(&self.body.data)
            .ok_or_else(shared::in_use)
    }

    /// Re-arms `(raw, gen)` for `dirs`: without the lock if the driver
    /// is lazy and the registration is still watching them (it only
    /// notes the source drained), else with it.
    #[cfg(feature = "std")]
    #[inline]
    fn rearm(&self, raw: D::Raw, gen: u32, hint: usize, dirs: Interest) {
        if D::LAZY && self.body.marks.drained(hint, gen, dirs) {
            return;
        }
        self.rearm_locked(raw, gen, hint, dirs);
    }

    #[cfg(feature = "std")]
    #[inline(never)]
    fn rearm_locked(&self, raw: D::Raw, gen: u32, hint: usize, dirs: Interest) {
        let marks = &self.body.marks;
        self.modify(|os, data| {
            if let Some(i) = data.regs.find_exact(hint, raw, gen) {
                let (conds, changed) = data.regs.rearm(i, dirs);
                if D::LAZY {
                    marks.set_slow(i, data.regs.get(i).slow());
                }
                D::rearmed(os, data, i, conds, changed);
            }
        });
    }

    #[cfg(feature = "std")]
    fn forget(&self, raw: D::Raw, gen: u32, hint: usize) {
        let marks = &self.body.marks;
        self.modify(|os, data| {
            if let Some(i) = data.regs.find_exact(hint, raw, gen) {
                data.forget(os, marks, i);
            }
        });
    }
}

/// A table-backed selector with room for `N` registrations; see the
/// module docs. `PollSelector<N>`, `WasiSelector<N>` and
/// `IocpSelector<N>` are this type with their [`Driver`].
///
/// With `std` its state is shared (one allocation, made by `new`, the
/// tables built in place so any `N` fits a small stack) so that
/// [`Registry::try_clone`](crate::Registry::try_clone) works, other
/// threads can register while one polls, and sources can re-arm
/// themselves. Without `std` the state is inline (no allocation at all:
/// the `Poll` holds the whole table) and `try_clone` is `Unsupported`.
pub struct TableSelector<D: Driver<N>, const N: usize> {
    state: State<D, N>,
}

impl<D: Driver<N>, const N: usize> TableSelector<D, N> {
    /// The selector around OS objects already opened.
    pub(crate) fn with_os(os: D::Os) -> io::Result<Self> {
        let head = Head {
            lock: Lock::new(),
            #[cfg(feature = "std")]
            turn: std::sync::Mutex::new(()),
            #[cfg(feature = "std")]
            waiting: AtomicUsize::new(0),
            os,
        };
        let selector = TableSelector {
            state: Shared::new(head)?,
        };
        selector.view().modify(|os, data| {
            D::init(os, data);
            io::Result::Ok(())
        })?;
        Ok(selector)
    }

    /// One wait of [`select`](Selector::select), and the sweep of the
    /// registrations it found closed. Out of line with `std`, which
    /// keeps `select`'s usual path small (measured: 14 instructions less
    /// per empty poll on poll(2)); in line without it, for size.
    #[cfg_attr(feature = "std", inline(never))]
    #[cfg_attr(not(feature = "std"), inline)]
    fn wait_once(&self, events: &mut [Event<Self>], wait: Option<Duration>) -> io::Result<Waited> {
        let view = self.view();
        let mut data = view.enter()?;
        let waited = D::wait(&view.head.os, &mut data, &view.body.marks, events, wait);
        if data.dead != 0 {
            data.sweep(&view.head.os, &view.body.marks);
        }
        drop(data);
        waited
    }

    /// [`select`](Selector::select)'s waits after the first (with `std`,
    /// `waited`), or all of them: a wait interrupted for the core's own
    /// business (a registration, a wake fd drained) is followed by
    /// another for the time left. Out of line with `std`, so the usual
    /// poll (one wait) stays small.
    #[cfg_attr(feature = "std", cold, inline(never))]
    #[cfg_attr(not(feature = "std"), inline)]
    fn wait_again(
        &self,
        events: &mut [Event<Self>],
        timeout: Option<Duration>,
        deadline: Option<Duration>,
        mut waited: bool,
    ) -> io::Result<usize> {
        let mut wait = timeout;
        loop {
            if waited {
                match (deadline, timeout) {
                    (_, None) => {}
                    (Some(deadline), _) => {
                        let now = D::now();
                        if now >= deadline {
                            return Ok(0);
                        }
                        wait = Some(left(deadline, now));
                    }
                    // A zero timeout, or one too long to add to the clock
                    // (which then never runs out): poll once more at most for
                    // zero, keep the cap otherwise.
                    (None, Some(t)) if t.is_zero() => return Ok(0),
                    (None, Some(_)) => {}
                }
            }
            waited = true;
            if let Waited::Ready(n) = self.wait_once(events, wait)? {
                return Ok(n);
            }
        }
    }

    fn view(&self) -> View<'_, D, N> {
        View {
            head: self.state.head(),
            body: self.state.body(),
        }
    }

    /// The backend's OS objects.
    #[cfg_attr(not(rouse_iocp), allow(dead_code))]
    pub(crate) fn os(&self) -> &D::Os {
        &self.state.head().os
    }

    /// Registers `raw`; returns its generation and index.
    fn add(
        &self,
        raw: D::Raw,
        token: Token,
        interests: Interest,
        trigger: Trigger,
    ) -> io::Result<(u32, usize)> {
        let ident = D::check(self.os(), raw)?;
        self.add_ident(raw, ident, token, interests, trigger)
    }

    /// Registers `raw`, a handle of a kind the backend serves itself (IOCP's
    /// named pipes), which `Driver::check` does not know: the caller
    /// identifies it as `ident`. Edge-triggered; returns the re-arm handle.
    #[cfg(all(feature = "std", rouse_iocp))]
    pub(crate) fn register_ident(
        &self,
        raw: D::Raw,
        ident: D::Ident,
        token: Token,
        interests: Interest,
    ) -> io::Result<super::Arm> {
        let at = self.add_ident(raw, ident, token, interests, Trigger::Edge)?;
        Ok(self.arm(raw, at))
    }

    /// Registers `raw`, identified as `ident`; returns its generation and
    /// index.
    fn add_ident(
        &self,
        raw: D::Raw,
        ident: D::Ident,
        token: Token,
        interests: Interest,
        trigger: Trigger,
    ) -> io::Result<(u32, usize)> {
        let marks = &self.state.body().marks;
        self.view().modify(|os, data| {
            if let Some(old) = data.regs.find(raw) {
                // The fd registered under this number was closed without a
                // deregister and the number reused: that registration is
                // over; this one takes its place.
                if !D::stale(os, data, old, ident) {
                    return Err(already_registered(raw));
                }
                data.forget(os, marks, old);
            }
            // Not registered: looked up above, or just removed.
            let (gen, i) = data.regs.insert_new(raw, token, interests, trigger)?;
            if let Some(slot) = data.idents.get_mut(i) {
                *slot = ident;
            }
            if let Err(e) = D::attach(os, data, i) {
                // `i` is the last entry: nothing else moves.
                data.regs.remove(i);
                return Err(e);
            }
            let slow = data.regs.entries().get(i).map_or(0, |e| e.slow());
            marks.reset(i, gen, slow);
            Ok((gen, i))
        })
    }

    fn change(&self, raw: D::Raw, token: Token, interests: Interest) -> io::Result<(u32, usize)> {
        let marks = &self.state.body().marks;
        self.view().modify(|os, data| {
            let Some(i) = data.regs.find(raw) else {
                return Err(missing::<D, N>(os, raw));
            };
            let gen = data.regs.update(i, token, interests);
            let slow = data.regs.entries().get(i).map_or(0, |e| e.slow());
            marks.reset(i, gen, slow);
            D::watch(os, data, i);
            Ok((gen, i))
        })
    }

    #[cfg(feature = "std")]
    fn arm(&self, raw: D::Raw, (gen, hint): (u32, usize)) -> super::Arm {
        let target: std::sync::Arc<dyn super::Rearm> = self.state.arc().clone();
        super::Arm::new(target, raw.to_bits(), gen, hint)
    }
}

/// `a + b`, `None` past `Duration::MAX`: `Duration::checked_add`, whose
/// `Duration::new` is not inlined at opt-level "z" and keeps a panic path
/// (with the panic machinery) in small binaries.
fn checked_add(a: Duration, b: Duration) -> Option<Duration> {
    const SEC: u32 = 1_000_000_000;
    let mut nanos = a.subsec_nanos() + b.subsec_nanos();
    let mut secs = a.as_secs().checked_add(b.as_secs())?;
    if nanos >= SEC {
        nanos -= SEC;
        secs = secs.checked_add(1)?;
    }
    // Below a second already; saying so drops `new`'s carry.
    Some(Duration::new(secs, nanos.min(SEC - 1)))
}

/// The time from `now` to `deadline`, which is later: `deadline - now`
/// without a panic path (see [`checked_add`]).
fn left(deadline: Duration, now: Duration) -> Duration {
    const SEC: u32 = 1_000_000_000;
    let (mut secs, mut nanos) = (deadline.as_secs(), deadline.subsec_nanos());
    if nanos < now.subsec_nanos() {
        nanos += SEC;
        secs = secs.saturating_sub(1);
    }
    Duration::new(
        secs.saturating_sub(now.as_secs()),
        (nanos - now.subsec_nanos()).min(SEC - 1),
    )
}

/// The error for `raw`, which is not registered: the OS's, if it is not
/// even open (`EBADF`, as epoll gives), else `NotFound`.
#[cold]
fn missing<D: Driver<N>, const N: usize>(os: &D::Os, raw: D::Raw) -> io::Error {
    match D::check(os, raw) {
        Err(e) => e,
        Ok(_) => not_found(raw),
    }
}

impl<D: Driver<N>, const N: usize> Selector for TableSelector<D, N> {
    type Raw = D::Raw;
    type Event = TableEvent;
    type Waker = D::Waker;

    const CAPACITY: Option<usize> = Some(N);

    fn new() -> io::Result<Self> {
        TableSelector::with_os(D::open()?)
    }

    fn try_clone(&self) -> io::Result<Self> {
        Ok(TableSelector {
            state: self.state.try_clone()?,
        })
    }

    fn register(&self, raw: D::Raw, token: Token, interests: Interest) -> io::Result<()> {
        self.add(raw, token, interests, Trigger::Level).map(drop)
    }

    fn reregister(&self, raw: D::Raw, token: Token, interests: Interest) -> io::Result<()> {
        self.change(raw, token, interests).map(drop)
    }

    fn deregister(&self, raw: D::Raw) -> io::Result<()> {
        let marks = &self.state.body().marks;
        self.view().modify(|os, data| match data.regs.find(raw) {
            Some(i) => {
                data.forget(os, marks, i);
                Ok(())
            }
            None => Err(missing::<D, N>(os, raw)),
        })
    }

    #[inline]
    fn select(&self, events: &mut [Event<Self>], timeout: Option<Duration>) -> io::Result<usize> {
        let deadline = match timeout {
            Some(t) if !t.is_zero() => checked_add(D::now(), t),
            _ => None,
        };
        // With std the first wait is apart from the others (see
        // `wait_once`); without std one loop is smaller.
        #[cfg(feature = "std")]
        if let Waited::Ready(n) = self.wait_once(events, timeout)? {
            return Ok(n);
        }
        self.wait_again(events, timeout, deadline, cfg!(feature = "std"))
    }

    fn new_waker(&self, token: Token) -> io::Result<D::Waker> {
        self.view().modify(|os, data| {
            if data.waker != 0 {
                return Err(io::error(
                    io::ErrorKind::AlreadyExists,
                    "this Poll already has a Waker (one per Poll, as in mio)",
                    None,
                ));
            }
            let waker = D::new_waker(os, data, token)?;
            data.waker = token.0.wrapping_add(1);
            Ok(waker)
        })
    }

    fn wake(waker: &D::Waker) -> io::Result<()> {
        D::wake(waker)
    }

    #[cfg(feature = "std")]
    fn register_armed(
        &self,
        raw: D::Raw,
        token: Token,
        interests: Interest,
    ) -> io::Result<Option<super::Arm>> {
        let at = self.add(raw, token, interests, Trigger::Edge)?;
        Ok(Some(self.arm(raw, at)))
    }

    #[cfg(feature = "std")]
    fn reregister_armed(
        &self,
        raw: D::Raw,
        token: Token,
        interests: Interest,
    ) -> io::Result<Option<super::Arm>> {
        let at = self.change(raw, token, interests)?;
        Ok(Some(self.arm(raw, at)))
    }
}

#[cfg(feature = "std")]
impl<D: Driver<N>, const N: usize> super::Rearm for shared::Pair<Head<D, N>, Body<D, N>>
where
    Head<D, N>: Send + Sync,
    Body<D, N>: Send + Sync,
{
    fn rearm(&self, raw: u64, gen: u32, hint: usize, dirs: Interest) {
        let view = View {
            head: &self.head,
            body: &self.body,
        };
        view.rearm(D::Raw::from_bits(raw), gen, hint, dirs);
    }

    fn forget(&self, raw: u64, gen: u32, hint: usize) {
        let view = View {
            head: &self.head,
            body: &self.body,
        };
        view.forget(D::Raw::from_bits(raw), gen, hint);
    }
}

impl<D: Driver<N>, const N: usize> fmt::Debug for TableSelector<D, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(D::NAME)
            .field("capacity", &N)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::{checked_add, left};
    use core::time::Duration;

    #[test]
    fn clock_arithmetic_matches_duration() {
        let values = [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_nanos(999_999_999),
            Duration::new(1, 0),
            Duration::new(5, 500_000_000),
            Duration::new(7, 999_999_999),
            Duration::new(u64::MAX - 1, 999_999_999),
            Duration::MAX,
        ];
        for a in values {
            for b in values {
                assert_eq!(checked_add(a, b), a.checked_add(b), "{a:?} + {b:?}");
                if a > b {
                    assert_eq!(left(a, b), a - b, "{a:?} - {b:?}");
                }
            }
        }
    }
}
