//! The WASI backend: `poll_oneoff` on wasm32-wasip1 (wasmtime, and any
//! other preview1 host).
//!
//! The host keeps no registrations, so they live in a [`TokenTable`] of `N`
//! entries. Each poll builds one `FD_READ` and/or `FD_WRITE` subscription per
//! armed registration, plus one clock subscription for the timeout, in arrays
//! of fixed capacity kept with the table (nothing is allocated after
//! creation), and translates the host's answers into rouse events: the
//! subscription's `userdata` is the table index, `FD_READWRITE_HANGUP` is
//! read- (or write-) closed, and a subscription that failed (a descriptor
//! closed behind the table's back) is an error event for that source, not a
//! failed poll.
//!
//! `poll_oneoff` is level-triggered. Edge triggering is emulated as the
//! poll(2) backend does it: a direction, once reported, is not subscribed to
//! again until the source is re-armed, by `reregister` or by a net type that
//! met `WouldBlock`.
//!
//! What wasip1 cannot do, this backend says rather than hides: there is no
//! [`Waker`](crate::Waker) (nothing can interrupt a blocked `poll_oneoff`:
//! no threads, no signals), and a poll that could never return (no timeout
//! and nothing to wait for) fails at once instead of hanging.
//!
//! It must never allocate after `new`, block without a reason to return, or
//! drop a reported readiness.

use core::fmt;
use core::time::Duration;

use ::wasi::{
    Event as HostEvent, EventFdReadwrite, Subscription, SubscriptionClock, SubscriptionFdReadwrite,
    SubscriptionU, SubscriptionUU,
};

use super::lock::Lock;
use super::ready::{TableEvent, ERROR, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};
use super::shared::Shared;
use super::{timeout_ms, Selector};
use crate::event::Event;
use crate::table::TokenTable;
use crate::{io, Interest, Token};

// `SourceFd` is the same type as on Unix: wasip1 fds are `c_int`s too.
#[path = "unix/source_fd.rs"]
mod source_fd;
pub use self::source_fd::SourceFd;

/// The table capacity of the default `WasiSelector`.
///
/// Smaller than poll(2)'s: each entry also keeps two subscriptions and two
/// host events (160 bytes), and a wasm stack is 1 MiB by default, which the
/// no-std build (state inline in the `Poll`) must fit in.
pub const DEFAULT_TABLE_CAPACITY: usize = 256;

/// The `poll_oneoff` selector for wasm32-wasip1, with room for `N`
/// registrations.
///
/// With `std` its state is shared (one allocation, made by `new`) so that
/// [`Registry::try_clone`](crate::Registry::try_clone) works and net types
/// can re-arm themselves. Without `std` the state is inline (no allocation
/// at all) and `try_clone` returns `Unsupported`.
///
/// # What wasip1 cannot do
///
/// * No [`Waker`](crate::Waker): `Waker::new` returns `Unsupported`, since
///   nothing can interrupt a blocked `poll_oneoff` (wasip1 has no threads
///   and no signals). Poll with a timeout to come back periodically.
/// * A poll with no timeout and nothing to wait for (no source registered,
///   or every source already reported and not re-armed) returns
///   `InvalidInput` at once: it could never return otherwise.
///
/// A poll with a timeout and nothing registered just sleeps. Timeouts are
/// rounded up to whole milliseconds, as on the other backends.
pub struct WasiSelector<const N: usize = DEFAULT_TABLE_CAPACITY> {
    state: Shared<State<N>>,
}

struct State<const N: usize> {
    inner: Lock<Inner<N>>,
}

/// The subscriptions in the order `poll_oneoff` gets them: the clock (when
/// there is a timeout), then up to two per registration, packed. `repr(C)`
/// of `Subscription`s only, so it is one array of `1 + 2 * N`.
#[repr(C)]
struct Subscriptions<const N: usize> {
    clock: Subscription,
    fds: [[Subscription; 2]; N],
}

/// Where `poll_oneoff` writes one event per subscription at most: an array
/// of `1 + 2 * N`, as [`Subscriptions`].
#[repr(C)]
struct HostEvents<const N: usize> {
    first: HostEvent,
    rest: [[HostEvent; 2]; N],
}

struct Inner<const N: usize> {
    subs: Subscriptions<N>,
    out: HostEvents<N>,
    /// `table.entries()[i]` is a registration; `armed[i]` the directions
    /// (`ARM_READ`, `ARM_WRITE`) still subscribed to for it.
    table: TokenTable<libc::c_int, N>,
    armed: [u8; N],
    /// Scratch for one poll: the readiness found for entry `i`, and the
    /// directions to disarm once it is delivered.
    ready: [u8; N],
    disarm: [u8; N],
    /// Where the next delivery scan starts.
    cursor: usize,
}

const ARM_READ: u8 = 1;
const ARM_WRITE: u8 = 2;

/// The `userdata` of the clock subscription (table indexes are below `N`).
const CLOCK: u64 = u64::MAX;

const EMPTY_SUBSCRIPTION: Subscription = Subscription {
    userdata: 0,
    u: SubscriptionU {
        tag: ::wasi::EVENTTYPE_FD_READ.raw(),
        u: SubscriptionUU {
            fd_read: SubscriptionFdReadwrite { file_descriptor: 0 },
        },
    },
};

const EMPTY_EVENT: HostEvent = HostEvent {
    userdata: 0,
    error: ::wasi::ERRNO_SUCCESS,
    type_: ::wasi::EVENTTYPE_CLOCK,
    fd_readwrite: EventFdReadwrite {
        nbytes: 0,
        flags: 0,
    },
};

fn arm_bits(interests: Interest) -> u8 {
    let mut bits = 0;
    if interests.is_readable() {
        bits |= ARM_READ;
    }
    if interests.is_writable() {
        bits |= ARM_WRITE;
    }
    bits
}

fn fd_subscription(kind: ::wasi::Eventtype, fd: libc::c_int, index: usize) -> Subscription {
    let fd = SubscriptionFdReadwrite {
        // Registered fds are checked non-negative, so this is exact.
        file_descriptor: fd as u32,
    };
    let u = if kind == ::wasi::EVENTTYPE_FD_READ {
        SubscriptionUU { fd_read: fd }
    } else {
        SubscriptionUU { fd_write: fd }
    };
    Subscription {
        userdata: index as u64,
        u: SubscriptionU { tag: kind.raw(), u },
    }
}

fn clock_subscription(timeout: Duration) -> Subscription {
    // Whole milliseconds, rounded up and capped as on the other backends,
    // so `Some(1 ns)` waits 1 ms instead of spinning.
    let ns = timeout_ms(Some(timeout)) as u64 * 1_000_000;
    Subscription {
        userdata: CLOCK,
        u: SubscriptionU {
            tag: ::wasi::EVENTTYPE_CLOCK.raw(),
            u: SubscriptionUU {
                clock: SubscriptionClock {
                    id: ::wasi::CLOCKID_MONOTONIC,
                    timeout: ns,
                    precision: 0,
                    flags: 0,
                },
            },
        },
    }
}

/// Translates one host event for a source registered with `interests`
/// into portable readiness and the directions it disarms.
fn readiness(ev: &HostEvent, interests: Interest) -> (u8, u8) {
    let read = ev.type_ == ::wasi::EVENTTYPE_FD_READ;
    let hangup = ev.fd_readwrite.flags & ::wasi::EVENTRWFLAGS_FD_READWRITE_HANGUP != 0;
    if ev.error != ::wasi::ERRNO_SUCCESS {
        // The subscription failed (a closed fd, an fd the host cannot
        // poll): an error for this source, reported on the directions it
        // asks for so a task waiting on either finds out. Every direction
        // is disarmed, so a dead fd cannot spin the poller.
        let mut bits = ERROR;
        if interests.is_readable() {
            bits |= READABLE;
        }
        if interests.is_writable() {
            bits |= WRITABLE;
        }
        return (bits, ARM_READ | ARM_WRITE);
    }
    match (read, hangup) {
        (true, false) => (READABLE, ARM_READ),
        (true, true) => (READABLE | READ_CLOSED, ARM_READ),
        (false, false) => (WRITABLE, ARM_WRITE),
        (false, true) => (WRITABLE | WRITE_CLOSED, ARM_WRITE),
    }
}

#[cold]
fn host_error(errno: ::wasi::Errno) -> io::Error {
    io::os_error(i32::from(errno.raw()))
}

/// Fails with a clear error unless `fd` names an open descriptor, so that
/// registering a closed fd fails at once.
fn check_fd(fd: libc::c_int) -> io::Result<()> {
    // A negative number is never a descriptor: EBADF, as for a closed one
    // and as on the other backends.
    if fd < 0 {
        return Err(host_error(::wasi::ERRNO_BADF));
    }
    // SAFETY: fd_fdstat_get only reads the descriptor's status into a value
    // it returns; any fd number is allowed (a bad one gives EBADF).
    unsafe { ::wasi::fd_fdstat_get(fd as u32) }
        .map(drop)
        .map_err(host_error)
}

impl<const N: usize> State<N> {
    fn new() -> Self {
        State {
            inner: Lock::new(Inner {
                subs: Subscriptions {
                    clock: EMPTY_SUBSCRIPTION,
                    fds: [[EMPTY_SUBSCRIPTION; 2]; N],
                },
                out: HostEvents {
                    first: EMPTY_EVENT,
                    rest: [[EMPTY_EVENT; 2]; N],
                },
                table: TokenTable::new(),
                armed: [0; N],
                ready: [0; N],
                disarm: [0; N],
                cursor: 0,
            }),
        }
    }

    fn register(
        &self,
        fd: libc::c_int,
        token: Token,
        interests: Interest,
    ) -> io::Result<(u32, usize)> {
        check_fd(fd)?;
        let mut inner = self.inner.lock();
        let entry = inner.table.insert(fd, token, interests)?;
        let i = inner.table.len() - 1;
        inner.armed[i] = arm_bits(interests);
        Ok((entry.gen, i))
    }

    fn reregister(
        &self,
        fd: libc::c_int,
        token: Token,
        interests: Interest,
    ) -> io::Result<(u32, usize)> {
        let mut inner = self.inner.lock();
        let i = inner.table.update(fd, token, interests)?;
        inner.armed[i] = arm_bits(interests);
        Ok((inner.table.entries()[i].gen, i))
    }

    fn deregister(&self, fd: libc::c_int) -> io::Result<()> {
        let mut inner = self.inner.lock();
        let i = inner.table.remove(fd)?;
        // Mirror the table's swap_remove.
        let last = inner.table.len();
        inner.armed[i] = inner.armed[last];
        Ok(())
    }

    fn select(
        &self,
        events: &mut [Event<WasiSelector<N>>],
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        let mut guard = self.inner.lock();
        let inner = &mut *guard;
        let result = inner.wait(timeout);
        let n = match result {
            Ok(()) => inner.deliver(events),
            Err(_) => 0,
        };
        let len = inner.table.len();
        inner.ready[..len].fill(0);
        inner.disarm[..len].fill(0);
        result.map(|()| n)
    }
}

impl<const N: usize> Inner<N> {
    /// Waits in `poll_oneoff` and records what it reports in `ready` and
    /// `disarm`.
    ///
    /// A host may fail the whole call with `EBADF` when one descriptor was
    /// closed behind the table's back (wasmtime's preview1 host does),
    /// instead of failing that subscription. Then the armed descriptors are
    /// checked one by one; those that are gone become error events for
    /// their sources, and the others are polled again without waiting, as
    /// readiness is already there to return.
    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let mut found_bad = false;
        loop {
            let wait = if found_bad {
                Some(Duration::ZERO)
            } else {
                timeout
            };
            match self.poll_once(wait) {
                Ok(()) => return Ok(()),
                Err(PollError::NothingToPoll) if found_bad => return Ok(()),
                Err(PollError::NothingToPoll) => return Err(nothing_to_wait_for(self.table.len())),
                Err(PollError::Host(e)) if e == ::wasi::ERRNO_BADF && !found_bad => {
                    found_bad = self.mark_closed_fds();
                    if !found_bad {
                        return Err(host_error(e));
                    }
                }
                Err(PollError::Host(e)) => return Err(host_error(e)),
            }
        }
    }

    /// One `poll_oneoff` over the armed directions of the sources not
    /// already found closed, plus the clock if there is a timeout.
    fn poll_once(&mut self, timeout: Option<Duration>) -> Result<(), PollError> {
        let entries = self.table.entries();
        // One subscription per armed direction, packed after the clock.
        let fds = self.subs.fds.as_flattened_mut();
        let mut k = 0;
        for (i, entry) in entries.iter().enumerate() {
            let armed = if self.ready[i] & ERROR != 0 {
                0
            } else {
                self.armed[i]
            };
            if armed & ARM_READ != 0 {
                fds[k] = fd_subscription(::wasi::EVENTTYPE_FD_READ, entry.raw, i);
                k += 1;
            }
            if armed & ARM_WRITE != 0 {
                fds[k] = fd_subscription(::wasi::EVENTTYPE_FD_WRITE, entry.raw, i);
                k += 1;
            }
        }
        let (first, count) = match timeout {
            Some(t) => {
                self.subs.clock = clock_subscription(t);
                let all = &self.subs as *const Subscriptions<N>;
                (all.cast::<Subscription>(), k + 1)
            }
            None if k == 0 => return Err(PollError::NothingToPoll),
            None => (self.subs.fds.as_ptr().cast::<Subscription>(), k),
        };
        // SAFETY: `Subscriptions` and `HostEvents` are repr(C) and made of
        // `Subscription`s (resp. `HostEvent`s) only, so each is an array of
        // 1 + 2N. `first` points at the clock (then `count` = 1 + k) or at
        // the first fd subscription (then `count` = k), so `count` in-use
        // subscriptions follow it within the array; the host writes at most
        // `count` <= 1 + 2N events into `out`. The lock keeps both ours.
        let got = unsafe {
            ::wasi::poll_oneoff(
                first,
                (&mut self.out as *mut HostEvents<N>).cast::<HostEvent>(),
                count,
            )
        }
        .map_err(PollError::Host)?;

        // Merge the read and write answers of each source.
        let out = core::iter::once(&self.out.first).chain(self.out.rest.as_flattened());
        for ev in out.take(got) {
            if ev.type_ == ::wasi::EVENTTYPE_CLOCK {
                continue;
            }
            let Some(i) = usize::try_from(ev.userdata)
                .ok()
                .filter(|&i| i < entries.len())
            else {
                continue;
            };
            let (bits, disarm) = readiness(ev, entries[i].interests);
            self.ready[i] |= bits;
            self.disarm[i] |= disarm;
        }
        Ok(())
    }

    /// Marks every armed source whose descriptor is gone as an error event;
    /// returns whether there was one.
    #[cold]
    fn mark_closed_fds(&mut self) -> bool {
        let mut found = false;
        for (i, entry) in self.table.entries().iter().enumerate() {
            if self.armed[i] != 0 && check_fd(entry.raw).is_err() {
                let failed = HostEvent {
                    error: ::wasi::ERRNO_BADF,
                    ..EMPTY_EVENT
                };
                let (bits, disarm) = readiness(&failed, entry.interests);
                self.ready[i] |= bits;
                self.disarm[i] |= disarm;
                found = true;
            }
        }
        found
    }

    /// Writes the recorded readiness into `events`, starting where a full
    /// buffer stopped last time so that a small `Events` cannot starve the
    /// sources at the end, and disarms what it delivers. What does not fit
    /// stays armed, and the level-triggered host reports it again.
    fn deliver(&mut self, events: &mut [Event<WasiSelector<N>>]) -> usize {
        let entries = self.table.entries();
        let len = entries.len();
        let mut i = if self.cursor < len { self.cursor } else { 0 };
        let mut n = 0;
        for _ in 0..len {
            if n == events.len() {
                break;
            }
            if i == len {
                i = 0;
            }
            if self.ready[i] != 0 {
                let token = entries[i].token;
                events[n] = Event::from_raw(WasiEvent::new(token.0, self.ready[i]));
                self.armed[i] &= !self.disarm[i];
                n += 1;
            }
            i += 1;
        }
        if n == events.len() {
            self.cursor = i;
        }
        n
    }
}

/// Why one `poll_oneoff` did not happen or failed.
enum PollError {
    /// No timeout and no subscription: the call could never return.
    NothingToPoll,
    /// The host's error for the whole call.
    Host(::wasi::Errno),
}

#[cold]
fn nothing_to_wait_for(registered: usize) -> io::Error {
    let msg = if registered == 0 {
        "poll without a timeout and with no source registered: nothing could ever wake it \
         (wasip1 has no Waker); pass a timeout to sleep"
    } else {
        "poll without a timeout and every registered source disarmed (reported and not \
         re-armed by reregister or a WouldBlock): nothing could ever wake it \
         (wasip1 has no Waker)"
    };
    io::error(io::ErrorKind::InvalidInput, msg, None)
}

/// One WASI event: the token and its readiness, translated once in
/// `select` (WASI has no priority readiness).
pub type WasiEvent = TableEvent;

/// The WASI half of a [`Waker`](crate::Waker), which cannot exist: wasip1
/// has no way to wake a blocked `poll_oneoff` (no threads, no signals), so
/// [`Waker::new`](crate::Waker::new) returns `Unsupported`. This type has
/// no values.
#[derive(Debug)]
pub enum WasiWaker {}

impl<const N: usize> Selector for WasiSelector<N> {
    type Raw = libc::c_int;
    type Event = WasiEvent;
    type Waker = WasiWaker;

    const CAPACITY: Option<usize> = Some(N);

    fn new() -> io::Result<Self> {
        let state = State::new();
        Ok(WasiSelector {
            state: Shared::new(state),
        })
    }

    fn try_clone(&self) -> io::Result<Self> {
        Ok(WasiSelector {
            state: self.state.try_clone()?,
        })
    }

    fn register(&self, fd: libc::c_int, token: Token, interests: Interest) -> io::Result<()> {
        self.state.register(fd, token, interests).map(drop)
    }

    fn reregister(&self, fd: libc::c_int, token: Token, interests: Interest) -> io::Result<()> {
        self.state.reregister(fd, token, interests).map(drop)
    }

    fn deregister(&self, fd: libc::c_int) -> io::Result<()> {
        self.state.deregister(fd)
    }

    fn select(&self, events: &mut [Event<Self>], timeout: Option<Duration>) -> io::Result<usize> {
        self.state.select(events, timeout)
    }

    fn new_waker(&self, _token: Token) -> io::Result<WasiWaker> {
        Err(io::error(
            io::ErrorKind::Unsupported,
            "Waker is not available on wasip1: nothing can wake a blocked poll_oneoff \
             (no threads, no signals); poll with a timeout instead",
            None,
        ))
    }

    fn wake(waker: &WasiWaker) -> io::Result<()> {
        match *waker {}
    }

    #[cfg(feature = "std")]
    fn register_armed(
        &self,
        fd: libc::c_int,
        token: Token,
        interests: Interest,
    ) -> io::Result<Option<super::Arm>> {
        let (gen, i) = self.state.register(fd, token, interests)?;
        Ok(Some(self.state.arm(fd as u64, gen, i)))
    }

    #[cfg(feature = "std")]
    fn reregister_armed(
        &self,
        fd: libc::c_int,
        token: Token,
        interests: Interest,
    ) -> io::Result<Option<super::Arm>> {
        let (gen, i) = self.state.reregister(fd, token, interests)?;
        Ok(Some(self.state.arm(fd as u64, gen, i)))
    }
}

#[cfg(feature = "std")]
impl<const N: usize> super::Rearm for State<N> {
    fn rearm(&self, raw: u64, gen: u32, hint: usize, interests: Interest) {
        let fd = raw as libc::c_int;
        let mut inner = self.inner.lock();
        if let Some(i) = inner.table.find_exact(hint, fd, gen) {
            let want = arm_bits(inner.table.entries()[i].interests) & arm_bits(interests);
            inner.armed[i] |= want;
        }
    }
}

impl<const N: usize> fmt::Debug for WasiSelector<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasiSelector")
            .field("capacity", &N)
            .finish_non_exhaustive()
    }
}

/// The portable kind of a WASI `errno` value (the mapping std uses for the
/// codes rouse can meet).
#[cfg(not(feature = "std"))]
pub(crate) fn errno_kind(code: i32) -> io::ErrorKind {
    use io::ErrorKind as K;
    let is = |e: ::wasi::Errno| code == i32::from(e.raw());
    if is(::wasi::ERRNO_NOENT) {
        K::NotFound
    } else if is(::wasi::ERRNO_EXIST) {
        K::AlreadyExists
    } else if is(::wasi::ERRNO_PERM) || is(::wasi::ERRNO_ACCES) {
        K::PermissionDenied
    } else if is(::wasi::ERRNO_INTR) {
        K::Interrupted
    } else if is(::wasi::ERRNO_INVAL) {
        K::InvalidInput
    } else if is(::wasi::ERRNO_NOSYS) || is(::wasi::ERRNO_NOTSUP) {
        K::Unsupported
    } else if is(::wasi::ERRNO_NOMEM) || is(::wasi::ERRNO_MFILE) || is(::wasi::ERRNO_NFILE) {
        K::OutOfMemory
    } else if is(::wasi::ERRNO_AGAIN) {
        K::WouldBlock
    } else {
        K::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::RawEvent;

    fn host(kind: ::wasi::Eventtype, error: ::wasi::Errno, flags: u16) -> HostEvent {
        HostEvent {
            type_: kind,
            error,
            fd_readwrite: EventFdReadwrite { nbytes: 0, flags },
            ..EMPTY_EVENT
        }
    }

    #[test]
    fn translation() {
        let r = Interest::READABLE;
        let rw = Interest::READABLE | Interest::WRITABLE;
        let ok = ::wasi::ERRNO_SUCCESS;
        let hup = ::wasi::EVENTRWFLAGS_FD_READWRITE_HANGUP;
        let read = ::wasi::EVENTTYPE_FD_READ;
        let write = ::wasi::EVENTTYPE_FD_WRITE;
        assert_eq!(readiness(&host(read, ok, 0), r), (READABLE, ARM_READ));
        assert_eq!(
            readiness(&host(read, ok, hup), r),
            (READABLE | READ_CLOSED, ARM_READ)
        );
        assert_eq!(readiness(&host(write, ok, 0), rw), (WRITABLE, ARM_WRITE));
        assert_eq!(
            readiness(&host(write, ok, hup), rw),
            (WRITABLE | WRITE_CLOSED, ARM_WRITE)
        );
        // A failed subscription is an error on every direction asked for,
        // and disarms them all.
        let bad = readiness(&host(write, ::wasi::ERRNO_BADF, 0), rw);
        assert_eq!(bad, (ERROR | READABLE | WRITABLE, ARM_READ | ARM_WRITE));
        let ev = WasiEvent::new(7, bad.0);
        assert!(ev.is_error() && ev.is_readable() && ev.is_writable());
        assert_eq!(ev.token(), Token(7));
        assert!(!ev.is_priority());
    }

    #[test]
    fn timeouts_are_whole_milliseconds() {
        let ns = |t| {
            let sub = clock_subscription(t);
            // SAFETY: the subscription was built with its clock variant.
            unsafe { sub.u.u.clock.timeout }
        };
        assert_eq!(ns(Duration::from_nanos(1)), 1_000_000);
        assert_eq!(ns(Duration::ZERO), 0);
        assert_eq!(ns(Duration::MAX), i32::MAX as u64 * 1_000_000);
    }
}
