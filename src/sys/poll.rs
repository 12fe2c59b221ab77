//! The poll(2) backend (every Unix; the fallback where epoll is missing):
//! the [`Driver`] of [`TableSelector`] that waits in poll(2).
//!
//! The table core keeps the registrations; beside them this driver keeps a
//! dense `pollfd` array that is handed to poll(2) as it is: registering
//! writes one `pollfd`, polling scans only until poll(2)'s ready count is
//! reached, and nothing is ever allocated after creation.
//!
//! Each `pollfd` asks for what its registration watches (see the table
//! core's rules): `POLLIN` for readable, `POLLRDHUP` for read-closed (Linux
//! and Android), `POLLOUT` for writable, `POLLPRI` for priority. Errors and
//! hang-ups (`POLLERR`, `POLLHUP`) are reported by poll(2) whatever is
//! asked, so once a hang-up is reported (or an error, to an edge
//! registration) the fd is negated (`!fd`, which poll(2) skips) until the
//! source is re-armed or reregistered; otherwise a hung-up fd would spin
//! the poller. A readable or writable reported to an edge registration
//! stays asked for until the OS shows it again without the source having
//! drained it (the table core's watch-through re-arm), so the usual
//! re-arm rewrites no `pollfd` and takes no lock. `POLLNVAL` (an fd closed behind the table's back) ends the
//! registration without an event, as epoll forgets a closed fd.
//!
//! Threads: the table is locked while poll(2) runs. A registration from
//! another thread that finds the lock taken signals the notification fd,
//! which makes the poller leave poll(2), let the registration in and wait
//! again with the time left (the table core's hand-off).

use core::time::Duration;

use super::ready::{TableEvent, ERROR, PRIORITY, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};
use super::table::shared::Zeroed;
use super::table::{Data, Driver, Entry, Marks, TableSelector, Trigger, Waited, SLOW_R, SLOW_W};
use super::unix::notify::{signal_fd, Notify};
use super::unix::{cvt, Fd};
use crate::sys::event::Event;
use crate::{io, Interest, Token};

/// The table capacity of the default `PollSelector`.
pub const DEFAULT_TABLE_CAPACITY: usize = 1024;

/// The poll(2) selector, with room for `N` registrations: the table core
/// with the poll(2) driver.
///
/// With `std` its state is shared (one allocation, made by `new`, with the
/// table built in place) so that
/// [`Registry::try_clone`](crate::Registry::try_clone) works and other
/// threads can register while one polls. Without `std` the state is inline
/// (no allocation at all) and `try_clone` returns `Unsupported`. Memory:
/// see [`PollNative`] and the README's sizes.
///
/// At most one [`Waker`](crate::Waker) per selector.
pub type PollSelector<const N: usize = DEFAULT_TABLE_CAPACITY> = TableSelector<PollDriver, N>;

/// The poll(2) [`Driver`] of the table core (see [`PollSelector`]).
#[derive(Debug)]
pub enum PollDriver {}

/// The poll(2) driver's OS objects: the notification fd that interrupts a
/// poll in progress (with `std` only: without it no other thread can reach
/// the table, so nothing ever interrupts a poll), and the Waker's fd once a
/// `Waker` is made.
#[derive(Debug)]
pub struct PollOs {
    #[cfg(feature = "std")]
    notify: Notify,
    #[cfg(feature = "std")]
    wake: std::sync::OnceLock<Notify>,
    #[cfg(not(feature = "std"))]
    wake: core::cell::OnceCell<Notify>,
}

/// The `pollfd`s in the order poll(2) gets them: two fixed ones, then one
/// per registration. `repr(C)` of `pollfd`s only, so it is one array.
#[repr(C)]
pub struct PollNative<const N: usize> {
    notify: libc::pollfd,
    wake: libc::pollfd,
    user: [libc::pollfd; N],
}

// SAFETY: `pollfd`s are plain integers.
unsafe impl<const N: usize> Zeroed for PollNative<N> {}

const FIXED_FDS: usize = 2;

/// What identifies an open file: its device and inode numbers.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

// SAFETY: integers.
unsafe impl Zeroed for FileId {}

const UNUSED: libc::pollfd = libc::pollfd {
    fd: -1,
    events: 0,
    revents: 0,
};

#[cfg(any(target_os = "linux", target_os = "android"))]
const RDHUP: libc::c_short = libc::POLLRDHUP;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const RDHUP: libc::c_short = 0;

/// The `events` that watch the conditions `conds` of a registration for
/// `interests`, from [`EVENTS`].
#[inline]
fn poll_events(conds: u8, interests: Interest) -> libc::c_short {
    EVENTS[usize::from(interests.is_readable())][usize::from(conds & 63)]
}

/// [`events_of`] for every condition set (6 bits), without and with
/// reading interest: one load instead of a branch per condition, on the
/// poller's path and every re-arm's.
const EVENTS: [[libc::c_short; 64]; 2] = {
    let mut table = [[0; 64]; 2];
    let mut conds = 0;
    while conds < 64 {
        table[0][conds] = events_of(conds as u8, false);
        table[1][conds] = events_of(conds as u8, true);
        conds += 1;
    }
    table
};

/// The `events` that watch the conditions `conds` of a registration that
/// reads or not. A read side closed alone is asked for only by a
/// registration that reads (epoll asks for `EPOLLRDHUP` only then); a
/// hang-up of both comes whatever is asked.
const fn events_of(conds: u8, reads: bool) -> libc::c_short {
    let mut events = 0;
    if conds & READABLE != 0 {
        events |= libc::POLLIN;
    }
    if conds & READ_CLOSED != 0 && reads {
        events |= RDHUP;
    }
    if conds & WRITABLE != 0 {
        events |= libc::POLLOUT;
    }
    if conds & PRIORITY != 0 {
        events |= libc::POLLPRI;
    }
    events
}

/// Makes `pfd` watch what registration `e` watches: negated (skipped by
/// poll(2)) when there is nothing to watch.
#[inline]
fn watch_pollfd(pfd: &mut libc::pollfd, e: &Entry<libc::c_int>) {
    let conds = e.watching();
    pfd.events = poll_events(conds, e.interests());
    pfd.fd = if conds == 0 { !e.raw } else { e.raw };
}

impl<const N: usize> Driver<N> for PollDriver {
    type Raw = libc::c_int;
    type Ident = FileId;
    type Os = PollOs;
    type Native = PollNative<N>;
    type Waker = PollWaker;
    const NAME: &'static str = "PollSelector";
    const LAZY: bool = true;

    fn open() -> io::Result<PollOs> {
        Ok(PollOs {
            #[cfg(feature = "std")]
            notify: Notify::new()?,
            wake: Default::default(),
        })
    }

    fn init(os: &PollOs, data: &mut Data<Self, N>) {
        // Without std the notification `pollfd` stays unused (a negative
        // fd, which poll(2) skips and never marks).
        #[cfg(feature = "std")]
        {
            data.native.notify = libc::pollfd {
                fd: os.notify.fd(),
                events: libc::POLLIN,
                revents: 0,
            };
        }
        #[cfg(not(feature = "std"))]
        {
            let _ = os;
            data.native.notify = UNUSED;
        }
        data.native.wake = UNUSED;
    }

    fn now() -> Duration {
        super::unix::monotonic_now()
    }

    fn check(_: &PollOs, fd: libc::c_int) -> io::Result<FileId> {
        // A negative number is never a descriptor: the same EBADF as a
        // closed one, and as epoll and kqueue give (poll(2) would skip it).
        if fd < 0 {
            return Err(io::os_error(libc::EBADF));
        }
        // SAFETY: `stat` is plain integers; all zeroes is valid.
        let mut st: libc::stat = unsafe { core::mem::zeroed() };
        // SAFETY: fstat writes into `st`, a valid `stat`; any fd number is
        // allowed (a closed one gives EBADF).
        cvt(unsafe { libc::fstat(fd, &mut st) })?;
        // The field types differ per platform; both fit 64 bits.
        #[allow(clippy::unnecessary_cast)]
        Ok(FileId {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
        })
    }

    fn attach(_: &PollOs, data: &mut Data<Self, N>, i: usize) -> io::Result<()> {
        // `i < len <= N`: checked, not indexed, so no panic path is built.
        if let (Some(pfd), Some(e)) = (data.native.user.get_mut(i), data.regs.entries().get(i)) {
            *pfd = UNUSED;
            watch_pollfd(pfd, e);
        }
        Ok(())
    }

    fn watch(_: &PollOs, data: &mut Data<Self, N>, i: usize) {
        if let (Some(pfd), Some(e)) = (data.native.user.get_mut(i), data.regs.entries().get(i)) {
            watch_pollfd(pfd, e);
        }
    }

    fn detach(_: &PollOs, _: &mut Data<Self, N>, _: usize) {}

    fn moved(data: &mut Data<Self, N>, to: usize, from: usize) {
        if let Some(&pfd) = data.native.user.get(from) {
            if let Some(slot) = data.native.user.get_mut(to) {
                *slot = pfd;
            }
        }
    }

    #[inline]
    fn wait(
        os: &PollOs,
        data: &mut Data<Self, N>,
        marks: &Marks<N>,
        events: &mut [Event<PollSelector<N>>],
        timeout: Option<Duration>,
    ) -> io::Result<Waited> {
        let nfds = FIXED_FDS + data.regs.len();
        // SAFETY: `PollNative` is repr(C) and made of `pollfd`s only, so it
        // is an array of FIXED_FDS + N pollfds, of which `nfds` are in use;
        // the pointer comes from the whole struct, which the table lock
        // keeps exclusively ours for the call.
        let n = unsafe {
            super::unix::syscall::poll(
                (&mut data.native as *mut PollNative<N>).cast::<libc::pollfd>(),
                nfds as libc::nfds_t,
                timeout,
            )
        };
        if n <= 0 {
            // Nothing ready: the timeout passed (or an error, EINTR too).
            return if n == 0 {
                Ok(Waited::Ready(0))
            } else {
                Err(super::unix::syscall::error(n))
            };
        }

        let (mut out, mut ready) = (0, n as usize);
        if data.native.notify.revents | data.native.wake.revents != 0 {
            (out, ready) = fixed(os, data, ready, events);
        }
        if ready > 0 {
            out = collect(data, marks, ready, events, out);
        }
        match out {
            0 => Ok(Waited::Again),
            out => Ok(Waited::Ready(out)),
        }
    }

    fn interrupt(os: &PollOs) {
        // If signalling fails the poller still lets go when its poll ends.
        #[cfg(feature = "std")]
        let _ = os.notify.signal();
        // Without std nothing interrupts a poll (see `PollOs`).
        #[cfg(not(feature = "std"))]
        let _ = os;
    }

    fn new_waker(os: &PollOs, data: &mut Data<Self, N>, _: Token) -> io::Result<PollWaker> {
        // The table is locked, so no other thread is here: set once.
        if os.wake.get().is_none() {
            let _ = os.wake.set(Notify::new()?);
        }
        let Some(wake) = os.wake.get() else {
            return Err(io::error(
                io::ErrorKind::Other,
                "the Waker's fd could not be kept",
                None,
            ));
        };
        let fd = wake.writer()?;
        data.native.wake = libc::pollfd {
            fd: wake.fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        Ok(PollWaker { fd })
    }

    fn wake(waker: &PollWaker) -> io::Result<()> {
        signal_fd(waker.fd.raw())
    }
}

/// Handles the fixed `pollfd`s of the `ready` poll(2) marked (the
/// notification fd, the `Waker`'s): writes the `Waker`'s event into
/// `events`; returns how many events were written and how many marked
/// `pollfd`s are left for [`collect`].
#[inline]
fn fixed<const N: usize>(
    os: &PollOs,
    data: &mut Data<PollDriver, N>,
    mut ready: usize,
    events: &mut [Event<PollSelector<N>>],
) -> (usize, usize) {
    let mut out = 0;
    #[cfg(feature = "std")]
    if data.native.notify.revents != 0 {
        ready -= 1;
        os.notify.drain();
    }
    if ready > 0 && data.native.wake.revents != 0 {
        ready -= 1;
        if let Some(wake) = os.wake.get() {
            wake.drain();
        }
        if let (Some(token), Some(slot)) = (data.waker_token(), events.get_mut(out)) {
            *slot = Event::from_raw(TableEvent::new(token.0, READABLE));
            out += 1;
        }
    }
    (out, ready)
}

/// Turns the `ready` marked registration `pollfd`s into events, after the
/// `out` already in `events`; returns how many there are now. Out of line, so that a poll that finds nothing (the common
/// case of a busy loop with timeout 0) or only the `Waker` stays short.
#[inline(never)]
fn collect<const N: usize>(
    data: &mut Data<PollDriver, N>,
    marks: &Marks<N>,
    mut ready: usize,
    events: &mut [Event<PollSelector<N>>],
    mut out: usize,
) -> usize {
    // Scan from where a full buffer stopped last time (so a small `Events`
    // cannot starve the sources at the end), and stop as soon as poll(2)'s
    // count is reached.
    let len = data.regs.len();
    let start = if data.regs.cursor < len {
        data.regs.cursor
    } else {
        0
    };
    let (mut i, mut end, mut wrapped) = (start, len, start == 0);
    while ready > 0 && out < events.len() {
        // `len <= N`: `get` builds no panic path.
        let user = data.native.user.get(..len).unwrap_or_default();
        let Some(j) = next_ready(user, i, end) else {
            if wrapped {
                break;
            }
            (i, end, wrapped) = (0, start, true);
            continue;
        };
        ready -= 1;
        i = j + 1;
        // `j < len`, which `get` checks without building a panic path.
        let (Some(pfd), Some(e)) = (data.native.user.get_mut(j), data.regs.get_mut(j)) else {
            break;
        };
        let rev = pfd.revents;
        if rev & libc::POLLNVAL != 0 {
            // Closed behind the table's back: forgotten, as epoll forgets a
            // closed fd; skipped until then.
            pfd.fd = !pfd.fd;
            data.closed(j);
            continue;
        }
        let (bits, changed) = e.report_through(readiness_of(rev, e.interest_bits()), marks, j);
        if bits != 0 {
            if let Some(slot) = events.get_mut(out) {
                *slot = Event::from_raw(TableEvent::new(e.token, bits));
                out += 1;
            }
        }
        if !changed && rev & (libc::POLLERR | libc::POLLHUP) == 0 {
            // The `pollfd` already asks for what is watched (a condition
            // watched through, or a level one, reported again).
            continue;
        }
        // Watch what is watched now. poll(2) reports an error or hang-up
        // whatever `events` asks: a hang-up is final, so the fd is skipped
        // from now on (until `reregister`); an edge registration that has
        // seen an error skips it until re-armed (its re-arms then take the
        // lock, which un-skips it), while a level one hears it at every
        // poll until the error is taken.
        let stop = if e.trigger() == Trigger::Edge {
            libc::POLLERR | libc::POLLHUP
        } else {
            libc::POLLHUP
        };
        let watching = e.watching();
        let reads = usize::from(e.interest_bits() & 1);
        pfd.events = EVENTS[reads][usize::from(watching & 63)];
        pfd.fd = if watching == 0 || rev & stop != 0 {
            if watching != 0 {
                marks.add_slow(j, SLOW_R | SLOW_W);
            }
            !e.raw
        } else {
            e.raw
        };
    }
    if out == events.len() {
        data.regs.cursor = i;
    }
    out
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
    // `from <= to <= fds.len()`: `get` builds no panic path.
    let mut chunks = fds.get(from..to).unwrap_or_default().chunks_exact(BLOCK);
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

/// The `revents` bits poll(2) reports that rouse reads, in the order of
/// [`compact`]'s index.
const REVENTS: [libc::c_short; 7] = [
    libc::POLLIN,
    libc::POLLPRI,
    libc::POLLOUT,
    libc::POLLERR,
    libc::POLLHUP,
    libc::POLLNVAL,
    RDHUP,
];

/// `rev` as a 7-bit index: one bit per entry of [`REVENTS`].
#[inline]
const fn compact(rev: libc::c_short) -> usize {
    let mut index = 0;
    let mut k = 0;
    while k < REVENTS.len() {
        if REVENTS[k] != 0 && rev & REVENTS[k] != 0 {
            index |= 1 << k;
        }
        k += 1;
    }
    index
}

/// [`readiness`] for every compact `revents` (7 bits) and every
/// readable/writable interest (2 bits): what the poller reads per ready
/// fd, one load.
const READINESS: [[u8; 128]; 4] = {
    let mut table = [[0; 128]; 4];
    let mut rw = 0;
    while rw < 4 {
        let mut index = 0;
        while index < 128 {
            let mut rev: libc::c_short = 0;
            let mut k = 0;
            while k < REVENTS.len() {
                if index & (1 << k) != 0 {
                    rev |= REVENTS[k];
                }
                k += 1;
            }
            table[rw][index] = readiness_bits(rev, rw & 1 != 0, rw & 2 != 0);
            index += 1;
        }
        rw += 1;
    }
    table
};

/// The readiness conditions of `rev` for a registration whose `Interest`
/// bits are `interests` (readable 1, writable 2), from [`READINESS`].
#[inline]
fn readiness_of(rev: libc::c_short, interests: u8) -> u8 {
    // `compact` is 7 bits; the mask says so where the loop is not unrolled
    // (opt-level "z"), so no bounds check is built.
    READINESS[usize::from(interests & 3)][compact(rev) & 127]
}

/// Translates poll(2)'s `revents` into readiness conditions. An error or
/// hang-up also marks the directions the source asked for as ready, so a
/// task waiting on either finds out by trying its operation.
fn readiness(rev: libc::c_short, interests: Interest) -> u8 {
    readiness_bits(rev, interests.is_readable(), interests.is_writable())
}

/// [`readiness`] for a registration that reads and/or writes.
// `RDHUP` is 0 off Linux and Android, where the masks with it are no-ops.
#[allow(clippy::bad_bit_mask)]
const fn readiness_bits(rev: libc::c_short, reads: bool, writes: bool) -> u8 {
    let err = rev & (libc::POLLERR | libc::POLLNVAL) != 0;
    let hup = rev & libc::POLLHUP != 0;
    let nval = rev & libc::POLLNVAL != 0;
    let mut bits = 0;
    if rev & (libc::POLLIN | libc::POLLPRI | RDHUP) != 0 || ((err || hup) && reads) {
        bits |= READABLE;
    }
    if rev & libc::POLLOUT != 0 || ((err || hup) && writes) {
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

    /// The table the poller reads is the translation, for every `revents`
    /// combination and interest.
    #[test]
    fn the_readiness_table_is_the_translation() {
        let all = [
            Interest::READABLE,
            Interest::WRITABLE,
            Interest::READABLE | Interest::WRITABLE,
        ];
        for mask in 0u32..1 << REVENTS.len() {
            let rev = REVENTS
                .iter()
                .enumerate()
                .filter(|(k, _)| mask & (1 << k) != 0)
                .fold(0, |acc, (_, b)| acc | *b);
            for i in all {
                assert_eq!(
                    readiness_of(rev, i.bits()),
                    readiness(rev, i),
                    "{rev:#x} {i:?}"
                );
            }
        }
    }

    #[test]
    fn pollfds_ask_for_what_is_watched() {
        let rw = Interest::READABLE | Interest::WRITABLE;
        let ev = |conds, interests| poll_events(conds, interests);
        assert_eq!(
            ev(READABLE | WRITABLE | READ_CLOSED | ERROR, rw),
            libc::POLLIN | libc::POLLOUT | RDHUP
        );
        // Readable reported: the close can still be seen.
        assert_eq!(ev(READ_CLOSED | WRITABLE, rw), libc::POLLOUT | RDHUP);
        // Not a reader: a read side closed alone is not asked for.
        assert_eq!(
            ev(READ_CLOSED | WRITABLE, Interest::WRITABLE),
            libc::POLLOUT
        );
        // Errors only: poll(2) reports them with events 0.
        assert_eq!(ev(ERROR, rw), 0);
        assert_eq!(ev(0, rw), 0);
    }
}
