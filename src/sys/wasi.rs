//! The WASI backend: the [`Driver`] of [`TableSelector`] that waits in
//! `poll_oneoff`, on wasm32-wasip1 (wasmtime, and any other preview1 host).
//!
//! The table core keeps the registrations. Each poll builds one `FD_READ`
//! and/or `FD_WRITE` subscription per registration that watches that
//! direction, plus one clock subscription for the timeout, in arrays of
//! fixed capacity kept with the table (nothing is allocated after
//! creation), and translates the host's answers into readiness conditions:
//! the subscription's `userdata` is the table index, `FD_READWRITE_HANGUP`
//! is read- (or write-) closed, and a subscription that failed is an error
//! for that source, or, for a descriptor closed behind the table's back
//! (`EBADF`), the end of its registration, without an event, as epoll
//! forgets a closed fd.
//!
//! `poll_oneoff` cannot subscribe to a hang-up alone: a closed direction is
//! seen with its direction's subscription. So a peer's close after readable
//! was reported is seen once the source is re-armed (a read that met
//! `WouldBlock`, or read less than it was given), not before.
//!
//! What wasip1 cannot do, this backend says rather than hides: there is no
//! [`Waker`](crate::Waker) (nothing can interrupt a blocked `poll_oneoff`:
//! no threads, no signals), and a poll that could never return (no timeout
//! and nothing to wait for) fails at once instead of hanging.

use core::time::Duration;

use ::wasi::{
    Event as HostEvent, Subscription, SubscriptionClock, SubscriptionFdReadwrite, SubscriptionU,
    SubscriptionUU,
};

use super::ready::{TableEvent, ERROR, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};
use super::table::{Data, Driver, Marks, TableSelector, Waited, Zeroed};
use super::timeout_ms;
use crate::sys::event::Event;
use crate::{io, Interest, Token};

// `SourceFd` is the same type as on Unix: wasip1 fds are `c_int`s too.
#[path = "unix/source_fd.rs"]
mod source_fd;
pub use self::source_fd::SourceFd;

/// The table capacity of the default `WasiSelector`.
///
/// Smaller than poll(2)'s: each entry also keeps two subscriptions and two
/// host events (about 200 bytes in all), and a wasm stack is 1 MiB by
/// default, which the no-std build (state inline in the `Poll`) must fit
/// in.
pub const DEFAULT_TABLE_CAPACITY: usize = 256;

/// The `poll_oneoff` selector for wasm32-wasip1, with room for `N`
/// registrations: the table core with the WASI driver.
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
pub type WasiSelector<const N: usize = DEFAULT_TABLE_CAPACITY> = TableSelector<WasiDriver, N>;

/// The WASI [`Driver`] of the table core (see [`WasiSelector`]).
#[derive(Debug)]
pub enum WasiDriver {}

/// The WASI driver's OS objects: none (the host keeps no state for it).
#[derive(Debug)]
pub struct WasiOs(());

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

/// The WASI driver's arrays: the subscriptions, the host's answers, and
/// the readiness found per registration during one poll.
#[repr(C)]
pub struct WasiNative<const N: usize> {
    subs: Subscriptions<N>,
    out: HostEvents<N>,
    ready: [u8; N],
}

// SAFETY: `Subscription` and `HostEvent` are `repr(C)` records of integers,
// integer newtypes and a union of such (a zero tag is the clock variant,
// itself integers), so all-zero is a valid value of each; `ready` is bytes.
unsafe impl<const N: usize> Zeroed for WasiNative<N> {}

/// What identifies a file on the host: its device and inode numbers, or
/// zeros where the host does not say (sockets often have no rights to ask).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct HostFileId {
    dev: u64,
    ino: u64,
}

// SAFETY: integers.
unsafe impl Zeroed for HostFileId {}

const UNKNOWN: HostFileId = HostFileId { dev: 0, ino: 0 };

/// The `userdata` of the clock subscription (table indexes are below `N`).
const CLOCK: u64 = u64::MAX;

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

/// What one host event says about a source registered with `interests`:
/// readiness conditions, or `None` if its descriptor is closed.
fn readiness(ev: &HostEvent, interests: Interest) -> Option<u8> {
    let read = ev.type_ == ::wasi::EVENTTYPE_FD_READ;
    let hangup = ev.fd_readwrite.flags & ::wasi::EVENTRWFLAGS_FD_READWRITE_HANGUP != 0;
    if ev.error == ::wasi::ERRNO_BADF {
        return None;
    }
    if ev.error != ::wasi::ERRNO_SUCCESS {
        // The subscription failed (an fd the host cannot poll): an error
        // for this source, reported on the directions it asks for so a task
        // waiting on either finds out.
        let mut bits = ERROR;
        if interests.is_readable() {
            bits |= READABLE;
        }
        if interests.is_writable() {
            bits |= WRITABLE;
        }
        return Some(bits);
    }
    Some(match (read, hangup) {
        (true, false) => READABLE,
        (true, true) => READABLE | READ_CLOSED,
        (false, false) => WRITABLE,
        (false, true) => WRITABLE | WRITE_CLOSED,
    })
}

#[cold]
fn host_error(errno: ::wasi::Errno) -> io::Error {
    io::os_error(i32::from(errno.raw()))
}

/// Whether `fd` is open (`EBADF` if not).
fn check_open(fd: libc::c_int) -> io::Result<()> {
    // SAFETY: fd_fdstat_get only reads the descriptor's status into a value
    // it returns; any fd number is allowed (a bad one gives EBADF).
    unsafe { ::wasi::fd_fdstat_get(fd as u32) }
        .map(drop)
        .map_err(host_error)
}

impl<const N: usize> Driver<N> for WasiDriver {
    type Raw = libc::c_int;
    type Ident = HostFileId;
    type Os = WasiOs;
    type Native = WasiNative<N>;
    type Waker = WasiWaker;
    const NAME: &'static str = "WasiSelector";
    const LAZY: bool = true;

    fn open() -> io::Result<WasiOs> {
        Ok(WasiOs(()))
    }

    fn now() -> Duration {
        // SAFETY: clock_time_get returns the time or an error; it writes
        // nothing of ours.
        let ns = unsafe { ::wasi::clock_time_get(::wasi::CLOCKID_MONOTONIC, 1) }.unwrap_or(0);
        Duration::from_nanos(ns)
    }

    fn check(_: &WasiOs, fd: libc::c_int) -> io::Result<HostFileId> {
        // A negative number is never a descriptor: EBADF, as for a closed
        // one and as on the other backends.
        if fd < 0 {
            return Err(host_error(::wasi::ERRNO_BADF));
        }
        // SAFETY: fd_filestat_get only reads the descriptor's attributes
        // into a value it returns; any fd number is allowed.
        match unsafe { ::wasi::fd_filestat_get(fd as u32) } {
            Ok(st) => Ok(HostFileId {
                dev: st.dev,
                ino: st.ino,
            }),
            Err(e) if e == ::wasi::ERRNO_BADF => Err(host_error(e)),
            // No right to ask (sockets): open, identity unknown.
            Err(_) => check_open(fd).map(|()| UNKNOWN),
        }
    }

    fn stale(_: &WasiOs, data: &Data<Self, N>, i: usize, ident: HostFileId) -> bool {
        let old = data.idents[i];
        old != ident && old != UNKNOWN && ident != UNKNOWN
    }

    fn attach(_: &WasiOs, _: &mut Data<Self, N>, _: usize) -> io::Result<()> {
        Ok(())
    }

    fn watch(_: &WasiOs, _: &mut Data<Self, N>, _: usize) {}

    fn detach(_: &WasiOs, _: &mut Data<Self, N>, _: usize) {}

    fn moved(_: &mut Data<Self, N>, _: usize, _: usize) {}

    fn wait(
        _: &WasiOs,
        data: &mut Data<Self, N>,
        marks: &Marks<N>,
        events: &mut [Event<WasiSelector<N>>],
        timeout: Option<Duration>,
    ) -> io::Result<Waited> {
        let mut found_bad = false;
        loop {
            let wait = if found_bad {
                Some(Duration::ZERO)
            } else {
                timeout
            };
            match poll_once(data, wait) {
                Ok(()) => break,
                Err(PollError::NothingToPoll) if found_bad => break,
                Err(PollError::NothingToPoll) => return Err(nothing_to_wait_for(data.regs.len())),
                // A host may fail the whole call with EBADF when one
                // descriptor was closed behind the table's back (wasmtime's
                // preview1 host does), instead of failing that
                // subscription. Then the descriptors are checked one by
                // one; those that are gone end their registrations, and the
                // others are polled again without waiting, as readiness is
                // already there to return.
                Err(PollError::Host(e)) if e == ::wasi::ERRNO_BADF && !found_bad => {
                    found_bad = mark_closed_fds(data);
                    if !found_bad {
                        return Err(host_error(e));
                    }
                }
                Err(PollError::Host(e)) => return Err(host_error(e)),
            }
        }
        // Nothing delivered: the timeout passed, or only the table's own
        // business happened (a closed fd, a condition watched through and
        // not drained, now no longer watched): the core waits again for
        // the time left, if any.
        match deliver(data, marks, events) {
            0 => Ok(Waited::Again),
            n => Ok(Waited::Ready(n)),
        }
    }

    fn interrupt(_: &WasiOs) {}

    fn new_waker(_: &WasiOs, _: &mut Data<Self, N>, _: Token) -> io::Result<WasiWaker> {
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
}

/// Why one `poll_oneoff` did not happen or failed.
enum PollError {
    /// No timeout and no subscription: the call could never return.
    NothingToPoll,
    /// The host's error for the whole call.
    Host(::wasi::Errno),
}

/// One `poll_oneoff` over the watched directions, plus the clock if there
/// is a timeout; records what it reports in `ready`.
fn poll_once<const N: usize>(
    data: &mut Data<WasiDriver, N>,
    timeout: Option<Duration>,
) -> Result<(), PollError> {
    let native = &mut data.native;
    let entries = data.regs.entries();
    // One subscription per watched direction, packed after the clock. A
    // closed direction is only seen with its direction's subscription
    // (`poll_oneoff` has no hang-up alone), so it does not subscribe.
    let mut k = 0;
    for (i, e) in entries.iter().enumerate() {
        native.ready[i] = 0;
        let watching = e.watching();
        if watching & READABLE != 0 {
            native.subs.fds[k / 2][k % 2] = fd_subscription(::wasi::EVENTTYPE_FD_READ, e.raw, i);
            k += 1;
        }
        if watching & WRITABLE != 0 {
            native.subs.fds[k / 2][k % 2] = fd_subscription(::wasi::EVENTTYPE_FD_WRITE, e.raw, i);
            k += 1;
        }
    }
    let (first, count) = match timeout {
        Some(t) => {
            native.subs.clock = clock_subscription(t);
            let all = &native.subs as *const Subscriptions<N>;
            (all.cast::<Subscription>(), k + 1)
        }
        None if k == 0 => return Err(PollError::NothingToPoll),
        None => (native.subs.fds.as_ptr().cast::<Subscription>(), k),
    };
    // SAFETY: `Subscriptions` and `HostEvents` are repr(C) and made of
    // `Subscription`s (resp. `HostEvent`s) only, so each is an array of
    // 1 + 2N. `first` points at the clock (then `count` = 1 + k) or at the
    // first fd subscription (then `count` = k), so `count` in-use
    // subscriptions follow it within the array; the host writes at most
    // `count` <= 1 + 2N events into `out`. The table lock keeps both ours.
    let got = unsafe {
        ::wasi::poll_oneoff(
            first,
            (&mut native.out as *mut HostEvents<N>).cast::<HostEvent>(),
            count,
        )
    }
    .map_err(PollError::Host)?;

    // Merge the read and write answers of each source.
    for j in 0..got.min(1 + 2 * N) {
        let ev = if j == 0 {
            native.out.first
        } else {
            native.out.rest[(j - 1) / 2][(j - 1) % 2]
        };
        if ev.type_ == ::wasi::EVENTTYPE_CLOCK {
            continue;
        }
        let Some(i) = usize::try_from(ev.userdata)
            .ok()
            .filter(|&i| i < entries.len())
        else {
            continue;
        };
        native.ready[i] |= readiness(&ev, entries[i].interests()).unwrap_or(GONE);
    }
    let len = entries.len();
    for i in 0..len {
        if data.native.ready[i] & GONE != 0 {
            data.closed(i);
        }
    }
    Ok(())
}

/// `WasiNative::ready` of a source whose descriptor was found closed (no
/// readiness condition uses the top bit).
const GONE: u8 = 0x80;

/// Ends the registration of every source whose descriptor is gone; returns
/// whether there was one.
#[cold]
fn mark_closed_fds<const N: usize>(data: &mut Data<WasiDriver, N>) -> bool {
    let mut found = false;
    for i in 0..data.regs.len() {
        let e = data.regs.get(i);
        if !e.is_dead() && check_open(e.raw).is_err() {
            data.closed(i);
            found = true;
        }
    }
    found
}

/// Writes the readiness found into `events`, starting where a full buffer
/// stopped last time so that a small `Events` cannot starve the sources at
/// the end. What does not fit stays armed, and the level-triggered host
/// reports it again.
fn deliver<const N: usize>(
    data: &mut Data<WasiDriver, N>,
    marks: &Marks<N>,
    events: &mut [Event<WasiSelector<N>>],
) -> usize {
    let len = data.regs.len();
    let mut i = if data.regs.cursor < len {
        data.regs.cursor
    } else {
        0
    };
    let mut n = 0;
    for _ in 0..len {
        if n == events.len() {
            break;
        }
        if i == len {
            i = 0;
        }
        let ready = data.native.ready[i] & !GONE;
        if ready != 0 && !data.regs.get(i).is_dead() {
            if let Some(ev) = data.deliver_through(marks, i, ready) {
                events[n] = Event::from_raw(ev);
                n += 1;
            }
        }
        i += 1;
    }
    if n == events.len() {
        data.regs.cursor = i;
    }
    n
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::RawEvent;
    use ::wasi::EventFdReadwrite;

    const EMPTY_EVENT: HostEvent = HostEvent {
        userdata: 0,
        error: ::wasi::ERRNO_SUCCESS,
        type_: ::wasi::EVENTTYPE_CLOCK,
        fd_readwrite: EventFdReadwrite {
            nbytes: 0,
            flags: 0,
        },
    };

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
        assert_eq!(readiness(&host(read, ok, 0), r), Some(READABLE));
        assert_eq!(
            readiness(&host(read, ok, hup), r),
            Some(READABLE | READ_CLOSED)
        );
        assert_eq!(readiness(&host(write, ok, 0), rw), Some(WRITABLE));
        assert_eq!(
            readiness(&host(write, ok, hup), rw),
            Some(WRITABLE | WRITE_CLOSED)
        );
        // A failed subscription is an error on every direction asked for;
        // a closed descriptor ends the registration.
        let bad = readiness(&host(write, ::wasi::ERRNO_NOTSUP, 0), rw).unwrap();
        assert_eq!(bad, ERROR | READABLE | WRITABLE);
        assert_eq!(readiness(&host(read, ::wasi::ERRNO_BADF, 0), rw), None);
        let ev = WasiEvent::new(7, bad);
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
