//! The poll(2) backend (every Unix; the fallback where epoll is missing).
//!
//! The kernel keeps no registrations, so they live in a `TokenTable` of
//! `N` entries beside a dense `pollfd` array that is handed to poll(2) as
//! it is: registering writes one `pollfd`, polling scans only until poll(2)'s
//! ready count is reached, and nothing is ever allocated after creation.
//!
//! Edge triggering is emulated: once a direction is reported, its bit is
//! cleared from the `pollfd` (and the fd negated, so poll(2) ignores it, once
//! no bit is left) until the source is re-armed, by `reregister` or by a net
//! type that met `WouldBlock`.
//!
//! Threads: the table is locked while poll(2) runs. A registration from
//! another thread that finds the lock taken signals the notification fd,
//! which makes the poller leave poll(2), let the registration in and wait
//! again with the time left; so the change takes effect before that poll
//! returns, and the poller's own thread never pays for a signal.

use core::fmt;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;

use super::lock::{relax, Lock};
use super::ready::{TableEvent, ERROR, PRIORITY, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};
use super::shared::Shared;
use super::unix::notify::{signal_fd, Notify};
use super::unix::{check_fd, last_error, monotonic_now, Fd};
use super::{timeout_ms, Selector};
use crate::event::Event;
use crate::table::TokenTable;
use crate::{io, Interest, Token};

/// The table capacity of the default `PollSelector`.
pub const DEFAULT_TABLE_CAPACITY: usize = 1024;

/// The poll(2) selector, with room for `N` registrations.
///
/// With `std` its state is shared (one allocation, made by `new`) so that
/// [`Registry::try_clone`](crate::Registry::try_clone) works and other
/// threads can register while one polls. Without `std` the state is inline
/// (no allocation at all) and `try_clone` returns `Unsupported`.
///
/// At most one [`Waker`](crate::Waker) per selector.
pub struct PollSelector<const N: usize = DEFAULT_TABLE_CAPACITY> {
    state: Shared<State<N>>,
}

struct State<const N: usize> {
    inner: Lock<Inner<N>>,
    /// Registrations waiting for the poller to leave poll(2).
    waiting: AtomicUsize,
    /// Interrupts a poll(2) in progress.
    notify: Notify,
}

/// The `pollfd`s in the order poll(2) gets them: two fixed ones, then one
/// per registration. `repr(C)` of `pollfd`s only, so it is one array.
#[repr(C)]
struct Fds<const N: usize> {
    notify: libc::pollfd,
    wake: libc::pollfd,
    user: [libc::pollfd; N],
}

const FIXED_FDS: usize = 2;

struct Inner<const N: usize> {
    fds: Fds<N>,
    /// `table.entries()[i]` describes `fds.user[i]`.
    table: TokenTable<libc::c_int, N>,
    waker: Option<(Notify, Token)>,
    /// Where the next scan of `fds.user` starts.
    cursor: usize,
}

const UNUSED: libc::pollfd = libc::pollfd {
    fd: -1,
    events: 0,
    revents: 0,
};

#[cfg(any(target_os = "linux", target_os = "android"))]
const RDHUP: libc::c_short = libc::POLLRDHUP;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const RDHUP: libc::c_short = 0;

fn poll_bits(interests: Interest) -> libc::c_short {
    let mut bits = 0;
    if interests.is_readable() {
        bits |= libc::POLLIN | RDHUP;
    }
    if interests.is_writable() {
        bits |= libc::POLLOUT;
    }
    if interests.is_priority() {
        bits |= libc::POLLPRI;
    }
    bits
}

impl<const N: usize> State<N> {
    fn new() -> io::Result<Self> {
        let notify = Notify::new()?;
        let fds = Fds {
            notify: libc::pollfd {
                fd: notify.fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            wake: UNUSED,
            user: [UNUSED; N],
        };
        Ok(State {
            inner: Lock::new(Inner {
                fds,
                table: TokenTable::new(),
                waker: None,
                cursor: 0,
            }),
            waiting: AtomicUsize::new(0),
            notify,
        })
    }

    /// Runs `change` on the table, interrupting a poll(2) in progress on
    /// another thread if there is one.
    fn modify<R>(&self, change: impl FnOnce(&mut Inner<N>) -> io::Result<R>) -> io::Result<R> {
        if let Some(mut inner) = self.inner.try_lock() {
            return change(&mut inner);
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        // If signalling fails the poller still lets go when its poll ends.
        let _ = self.notify.signal();
        let mut inner = self.inner.lock();
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        change(&mut inner)
    }

    fn register(
        &self,
        fd: libc::c_int,
        token: Token,
        interests: Interest,
    ) -> io::Result<(u32, usize)> {
        check_fd(fd)?;
        self.modify(|inner| {
            let entry = inner.table.insert(fd, token, interests)?;
            let i = inner.table.len() - 1;
            inner.fds.user[i] = libc::pollfd {
                fd,
                events: poll_bits(interests),
                revents: 0,
            };
            Ok((entry.gen, i))
        })
    }

    fn reregister(
        &self,
        fd: libc::c_int,
        token: Token,
        interests: Interest,
    ) -> io::Result<(u32, usize)> {
        self.modify(|inner| {
            let i = inner.table.update(fd, token, interests)?;
            inner.fds.user[i] = libc::pollfd {
                fd,
                events: poll_bits(interests),
                revents: 0,
            };
            Ok((inner.table.entries()[i].gen, i))
        })
    }

    fn deregister(&self, fd: libc::c_int) -> io::Result<()> {
        self.modify(|inner| {
            let i = inner.table.remove(fd)?;
            // Mirror the table's swap_remove.
            inner.fds.user[i] = inner.fds.user[inner.table.len()];
            Ok(())
        })
    }

    fn select(
        &self,
        events: &mut [Event<PollSelector<N>>],
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        let deadline = match timeout {
            Some(t) if !t.is_zero() => Some(monotonic_now().saturating_add(t)),
            _ => None,
        };
        let mut wait = timeout;
        loop {
            // Let waiting registrations in before taking the lock again.
            while self.waiting.load(Ordering::SeqCst) != 0 {
                relax();
            }
            let mut guard = self.inner.lock();
            let inner = &mut *guard;
            let nfds = FIXED_FDS + inner.table.len();
            // SAFETY: `Fds` is repr(C) and made of `pollfd`s only, so it is
            // an array of FIXED_FDS + N pollfds, of which `nfds` are in use;
            // the pointer comes from the whole struct, which the lock keeps
            // exclusively ours for the call.
            let n = unsafe {
                libc::poll(
                    (&mut inner.fds as *mut Fds<N>).cast::<libc::pollfd>(),
                    nfds as libc::nfds_t,
                    timeout_ms(wait),
                )
            };
            if n <= 0 {
                // Nothing ready: the timeout passed (or an error).
                return if n == 0 { Ok(0) } else { Err(last_error()) };
            }
            let out = self.collect(&mut guard, n as usize, events);
            drop(guard);
            if out > 0 {
                return Ok(out);
            }
            // Only the notification fd fired: wait again for the time left.
            match (deadline, timeout) {
                (_, None) => {}
                (Some(deadline), _) => {
                    let now = monotonic_now();
                    if now >= deadline {
                        return Ok(0);
                    }
                    wait = Some(deadline - now);
                }
                (None, Some(_)) => return Ok(0),
            }
        }
    }

    /// Turns the `ready` marked `pollfd`s into events; returns how many.
    /// Out of line, so that a poll that finds nothing (the common case of a
    /// busy loop with timeout 0) stays short.
    #[inline(never)]
    fn collect(
        &self,
        inner: &mut Inner<N>,
        mut ready: usize,
        events: &mut [Event<PollSelector<N>>],
    ) -> usize {
        let mut out = 0;
        if inner.fds.notify.revents != 0 {
            ready -= 1;
            self.notify.drain();
        }
        if ready > 0 && inner.fds.wake.revents != 0 {
            ready -= 1;
            if let Some((wake, token)) = &inner.waker {
                wake.drain();
                events[out] = Event::from_raw(PollEvent::new(token.0, READABLE));
                out += 1;
            }
        }
        if ready == 0 {
            return out;
        }
        let entries = inner.table.entries();
        let user = &mut inner.fds.user[..entries.len()];
        // Scan from where a full buffer stopped last time (so a small
        // `Events` cannot starve the sources at the end), and stop as
        // soon as poll(2)'s count is reached.
        let len = user.len();
        let start = if inner.cursor < len { inner.cursor } else { 0 };
        let (mut i, mut end, mut wrapped) = (start, len, start == 0);
        while ready > 0 && out < events.len() {
            let Some(j) = next_ready(user, i, end) else {
                if wrapped {
                    break;
                }
                (i, end, wrapped) = (0, start, true);
                continue;
            };
            ready -= 1;
            let pfd = &mut user[j];
            let entry = &entries[j];
            let bits = readiness(pfd.revents, entry.interests);
            disarm(pfd, entry.raw);
            events[out] = Event::from_raw(PollEvent::new(entry.token.0, bits));
            out += 1;
            i = j + 1;
        }
        if out == events.len() {
            inner.cursor = i;
        }
        out
    }

    fn new_waker(&self, token: Token) -> io::Result<PollWaker> {
        self.modify(|inner| {
            if inner.waker.is_some() {
                return Err(io::error(
                    io::ErrorKind::AlreadyExists,
                    "this Poll already has a Waker (the poll(2) backend supports one)",
                    None,
                ));
            }
            let wake = Notify::new()?;
            let fd = wake.writer()?;
            inner.fds.wake = libc::pollfd {
                fd: wake.fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            inner.waker = Some((wake, token));
            Ok(PollWaker { fd })
        })
    }
}

/// The index of the first `pollfd` in `fds[from..to]` that poll(2) marked,
/// if any.
///
/// Idle sources are the common case, so the scan tests a block of `BLOCK`
/// `pollfd`s with one branch: it ORs the blocks' `pollfd`s as 64-bit words
/// (see [`word`]), which the compiler turns into wide vector ORs, and only
/// a block with a mark is searched one by one, out of line (so the loop
/// keeps nothing from its loads and stays vectorised). About one
/// instruction per idle source on x86_64, a third of a per-field test.
#[inline]
fn next_ready(fds: &[libc::pollfd], from: usize, to: usize) -> Option<usize> {
    let mut base = from;
    let mut chunks = fds[from..to].chunks_exact(BLOCK);
    for chunk in &mut chunks {
        // `chunks_exact` gives BLOCK-long chunks, so this never returns;
        // the array type lets the compiler unroll the OR.
        let block: &[libc::pollfd; BLOCK] = chunk.try_into().ok()?;
        if block.iter().fold(0, |acc, p| acc | word(p)) >> 48 != 0 {
            return first_marked(chunk).map(|k| base + k);
        }
        base += BLOCK;
    }
    // Fewer than BLOCK left (all of a small table): a plain search, inline.
    let rest = chunks.remainder();
    rest.iter().position(|p| p.revents != 0).map(|k| base + k)
}

/// `pollfd`s tested per branch by [`next_ready`].
const BLOCK: usize = 32;

/// The index of the first marked `pollfd` in `fds`, if any.
#[inline(never)]
fn first_marked(fds: &[libc::pollfd]) -> Option<usize> {
    fds.iter().position(|p| p.revents != 0)
}

/// `pfd` as one 64-bit value with `revents` in the top 16 bits. On
/// little-endian targets that is its memory layout, so the compiler reads
/// it with one load; elsewhere it is assembled, and still correct.
#[inline(always)]
fn word(pfd: &libc::pollfd) -> u64 {
    (pfd.fd as u32 as u64)
        | ((pfd.events as u16 as u64) << 32)
        | ((pfd.revents as u16 as u64) << 48)
}

/// Stops watching what `pfd` has just reported. An error, hang-up or
/// invalid fd ends every direction; if nothing is left the fd is negated
/// (`!fd`), which poll(2) skips, so a hung-up fd cannot spin the poller.
fn disarm(pfd: &mut libc::pollfd, fd: libc::c_int) {
    let rev = pfd.revents;
    if rev & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
        pfd.events = 0;
    } else {
        let mut clear = 0;
        if rev & (libc::POLLIN | RDHUP) != 0 {
            clear |= libc::POLLIN | RDHUP;
        }
        if rev & libc::POLLPRI != 0 {
            clear |= libc::POLLPRI;
        }
        if rev & libc::POLLOUT != 0 {
            clear |= libc::POLLOUT;
        }
        pfd.events &= !clear;
    }
    if pfd.events == 0 {
        pfd.fd = !fd;
    }
}

/// Translates poll(2)'s `revents` into portable readiness. An error or
/// hang-up also marks the directions the source asked for as ready, so a
/// task waiting on either finds out by trying its operation.
// `RDHUP` is 0 off Linux and Android, where the masks with it are no-ops.
#[allow(clippy::bad_bit_mask)]
fn readiness(rev: libc::c_short, interests: Interest) -> u8 {
    let err = rev & (libc::POLLERR | libc::POLLNVAL) != 0;
    let hup = rev & libc::POLLHUP != 0;
    let nval = rev & libc::POLLNVAL != 0;
    let mut bits = 0;
    if rev & (libc::POLLIN | libc::POLLPRI | RDHUP) != 0
        || ((err || hup) && interests.is_readable())
    {
        bits |= READABLE;
    }
    if rev & libc::POLLOUT != 0 || ((err || hup) && interests.is_writable()) {
        bits |= WRITABLE;
    }
    if err {
        bits |= ERROR;
    }
    if hup || nval || rev & RDHUP != 0 {
        bits |= READ_CLOSED;
    }
    if hup || err {
        bits |= WRITE_CLOSED;
    }
    if rev & libc::POLLPRI != 0 {
        bits |= PRIORITY;
    }
    bits
}

/// One poll(2) event: the token and its readiness, translated once in
/// `select`.
pub type PollEvent = TableEvent;

impl TableEvent {
    /// The record poll(2)'s `revents` would give for a source registered
    /// with `interests`; for tests of event translation.
    pub fn from_revents(token: Token, revents: libc::c_short, interests: Interest) -> Self {
        TableEvent::new(token.0, readiness(revents, interests))
    }
}

impl<const N: usize> Selector for PollSelector<N> {
    type Raw = libc::c_int;
    type Event = PollEvent;
    type Waker = PollWaker;

    const CAPACITY: Option<usize> = Some(N);

    fn new() -> io::Result<Self> {
        let state = State::new()?;
        Ok(PollSelector {
            state: Shared::new(state),
        })
    }

    fn try_clone(&self) -> io::Result<Self> {
        Ok(PollSelector {
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

    fn new_waker(&self, token: Token) -> io::Result<PollWaker> {
        self.state.new_waker(token)
    }

    fn wake(waker: &PollWaker) -> io::Result<()> {
        signal_fd(waker.fd.raw())
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
        let _ = self.modify(|inner| {
            if let Some(i) = inner.table.find_exact(hint, fd, gen) {
                let want = poll_bits(inner.table.entries()[i].interests) & poll_bits(interests);
                let pfd = &mut inner.fds.user[i];
                pfd.events |= want;
                if pfd.events != 0 {
                    pfd.fd = fd;
                }
            }
            Ok(())
        });
    }
}

impl<const N: usize> fmt::Debug for PollSelector<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollSelector")
            .field("capacity", &N)
            .finish_non_exhaustive()
    }
}

/// The poll(2) half of a [`Waker`](crate::Waker): a second descriptor for
/// the selector's wake fd, which the poller drains when it reports it.
#[derive(Debug)]
pub struct PollWaker {
    fd: Fd,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::RawEvent;

    fn ev(rev: libc::c_short, interests: Interest) -> PollEvent {
        PollEvent::from_revents(Token(3), rev, interests)
    }

    #[test]
    fn translation() {
        let r = Interest::READABLE;
        let w = Interest::WRITABLE;
        assert!(ev(libc::POLLIN, r).is_readable());
        assert!(!ev(libc::POLLIN, r).is_writable());
        assert!(ev(libc::POLLOUT, w).is_writable());
        let hup = ev(libc::POLLHUP, r | w);
        assert!(
            hup.is_readable() && hup.is_writable() && hup.is_read_closed() && hup.is_write_closed()
        );
        assert!(!hup.is_error());
        let nval = ev(libc::POLLNVAL, r);
        assert!(nval.is_error() && nval.is_readable() && !nval.is_writable());
        let err = ev(libc::POLLERR, w);
        assert!(err.is_error() && err.is_write_closed() && err.is_writable());
        assert!(ev(libc::POLLPRI, r).is_priority());
        assert_eq!(ev(0, r), PollEvent::new(3, 0));
    }

    #[test]
    fn next_ready_finds_the_first_mark_in_range() {
        // Lengths around the block size, marks at every position, ranges
        // that start and end inside blocks: the same answer as a plain
        // search, whatever the other fields hold.
        for len in [0, 1, 7, 31, 32, 33, 64, 65, 100] {
            let idle = libc::pollfd {
                fd: -7,
                events: -1,
                revents: 0,
            };
            let mut all = [idle; 100];
            let fds = &mut all[..len];
            for mark in 0..len {
                fds[mark].revents = libc::POLLIN;
                for (from, to) in [
                    (0, len),
                    (mark.min(3), len),
                    (0, mark + 1),
                    (mark, mark + 1),
                ] {
                    let want = (from..to).find(|&i| fds[i].revents != 0);
                    assert_eq!(
                        next_ready(fds, from, to),
                        want,
                        "len {len} mark {mark} {from}..{to}"
                    );
                }
                if mark + 1 < len {
                    assert_eq!(next_ready(fds, mark + 1, len), None);
                }
                fds[mark].revents = 0;
            }
            assert_eq!(next_ready(fds, 0, len), None);
        }
        // A sign bit in revents (POLLNVAL and the like are small, but any
        // bit counts).
        let mut fds = [UNUSED; 40];
        fds[35].revents = i16::MIN;
        assert_eq!(next_ready(&fds, 0, 40), Some(35));
    }

    #[test]
    fn disarm_clears_reported_directions_and_negates_when_empty() {
        let both = poll_bits(Interest::READABLE | Interest::WRITABLE);
        let mut pfd = libc::pollfd {
            fd: 5,
            events: both,
            revents: libc::POLLIN,
        };
        disarm(&mut pfd, 5);
        assert_eq!(pfd.events, libc::POLLOUT);
        assert_eq!(pfd.fd, 5);
        pfd.revents = libc::POLLOUT;
        disarm(&mut pfd, 5);
        assert_eq!(pfd.events, 0);
        assert!(pfd.fd < 0 && !pfd.fd == 5);
        let mut pfd = libc::pollfd {
            fd: 0,
            events: both,
            revents: libc::POLLHUP,
        };
        disarm(&mut pfd, 0);
        assert_eq!((pfd.fd, pfd.events), (-1, 0));
    }
}
