//! The WASI 0.2 backend: the [`Driver`] of [`TableSelector`] that waits in
//! wasi-libc's `poll`, on wasm32-wasip2 (wasmtime, and any other host of
//! WASI 0.2 components).
//!
//! # Why wasi-libc's `poll`, and not `wasi:io/poll` directly
//!
//! WASI 0.2 has one readiness primitive, `wasi:io/poll.poll(list<borrow
//! <pollable>>) -> list<u32>`. A socket's pollables (the listener's, and
//! the input and output streams of a connection) belong to whoever created
//! the socket. std's sockets (`std::net`, which rouse's `net` types wrap,
//! and which `from_std` takes) are wasi-libc descriptors: wasi-libc holds
//! their `wasi:sockets` resources and pollables in its private descriptor
//! table and offers no way to reach them but its `poll`. A selector on
//! `wasi:io/poll` itself could only watch sockets rouse created through
//! `wasi:sockets` on its own, which std, `from_std`, `FromRawFd` and every
//! library built on std's sockets could not use. So this backend is
//! poll(2) through wasi-libc, which maps each `pollfd` onto the socket's
//! cached pollables and calls `wasi:io/poll.poll` once.
//!
//! What that costs, measured (BENCHMARKS.md, "WASI 0.2"): rouse's part of
//! a poll is the same table scan as on poll(2); wasi-libc's adds a lookup
//! per `pollfd` and, for a wait with a timeout, a clock pollable made and
//! dropped per call. Neither side allocates on the Rust heap. The one
//! allocation per wait is the host's: `wasi:io/poll.poll` returns a
//! `list<u32>`, which the component model writes into memory it obtains
//! through the module's `cabi_realloc` (wasi-libc's `malloc`), and
//! wasi-libc frees it before `poll` returns. A direct `wasi:io/poll`
//! selector would pay the same (the result list is the API's), and through
//! the `wasi` crate's bindings two more per call (its `poll` copies the
//! borrowed handles into a fresh allocation and returns a `Vec`).
//!
//! # What the host reports
//!
//! wasi-libc's `poll` reports `POLLRDNORM` and `POLLWRNORM` only: a
//! pollable says "ready" and nothing more. So on wasip2:
//!
//! * a peer's close is `READABLE` (the read then returns 0); there is no
//!   read-closed, write-closed or error bit, since nothing carries them;
//! * a connect that failed is `WRITABLE` (and `READABLE` if asked), and
//!   `take_error` tells the error, as after a failed connect elsewhere;
//! * a descriptor closed behind the table's back makes the whole call fail
//!   with `EBADF` (wasi-libc has no `POLLNVAL`): the registrations are
//!   checked one by one, those whose descriptor is gone end without an
//!   event (as epoll forgets a closed fd), and the wait goes on;
//! * a TCP socket that is neither listening nor connected (made with
//!   `socket()`, or bound only) cannot be polled: the whole call fails with
//!   `Unsupported`, which `poll` returns with a message that says so.
//!
//! What wasip2 cannot do, this backend says rather than hides: there is no
//! [`Waker`](crate::Waker) (wasmtime runs WASI 0.2 components without
//! threads, and no pollable can be made ready from inside the component),
//! and a poll that could never return (no timeout and nothing to wait
//! for) fails at once, as on wasip1, instead of trapping in the host.

use core::time::Duration;

use super::ready::{TableEvent, ERROR, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};
use super::table::{Data, Driver, Marks, TableSelector, Waited, Zeroed};
use super::timeout_ms;
use crate::sys::event::Event;
use crate::{io, Token};

// `SourceFd` is the same type as on Unix: wasi-libc's fds are `c_int`s.
#[path = "unix/source_fd.rs"]
mod source_fd;
pub use self::source_fd::SourceFd;

/// The table capacity of the default `Wasip2Selector`.
pub const DEFAULT_TABLE_CAPACITY: usize = 1024;

/// The selector for wasm32-wasip2, with room for `N` registrations: the
/// table core with a driver that waits in wasi-libc's `poll` (see the
/// module docs for why, and what the host reports).
///
/// With `std` its state is shared (one allocation, made by `new`) so that
/// [`Registry::try_clone`](crate::Registry::try_clone) works and net types
/// can re-arm themselves. Without `std` the state is inline (no allocation
/// at all) and `try_clone` returns `Unsupported`.
///
/// # What wasip2 cannot do
///
/// * No [`Waker`](crate::Waker): `Waker::new` returns `Unsupported`.
///   wasmtime runs WASI 0.2 components without threads, so nothing else
///   runs while `poll` blocks, and WASI 0.2 has no pollable a component
///   can make ready itself. Poll with a timeout to come back periodically.
/// * A poll with no timeout and nothing to wait for (no source registered,
///   or every source already reported and not re-armed) returns
///   `InvalidInput` at once: it could never return otherwise (the host
///   traps on an empty `wasi:io/poll.poll`).
/// * No read-closed, write-closed or error readiness (see the module docs):
///   a peer's close is readable, a failed connect writable.
///
/// A poll with a timeout and nothing registered just sleeps. Timeouts are
/// rounded up to whole milliseconds, as on the other backends.
pub type Wasip2Selector<const N: usize = DEFAULT_TABLE_CAPACITY> = TableSelector<Wasip2Driver, N>;

/// The wasip2 [`Driver`] of the table core (see [`Wasip2Selector`]).
#[derive(Debug)]
pub enum Wasip2Driver {}

/// The wasip2 driver's OS objects: none (wasi-libc keeps the pollables).
#[derive(Debug)]
pub struct Wasip2Os(());

/// The wasip2 driver's array: one `pollfd` per registration, in the
/// registrations' order, handed to `poll` as it is.
#[repr(C)]
pub struct Wasip2Native<const N: usize> {
    fds: [libc::pollfd; N],
}

// SAFETY: `pollfd`s are plain integers.
unsafe impl<const N: usize> Zeroed for Wasip2Native<N> {}

/// What identifies the file behind a descriptor, to tell a reused number
/// from the file registered under it: a hash of its device and inode for
/// files, of its local and peer addresses for sockets (wasi-libc gives
/// sockets no inode), 0 where neither is known. Its low bits say it is
/// known (`KNOWN`), whether it is a listening socket (`LISTENER`) and
/// whether it was a TCP socket still connecting (`CONNECTING`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct FileIdent(u64);

// SAFETY: an integer.
unsafe impl Zeroed for FileIdent {}

/// `FileIdent` bit: the rest is a hash (0 where nothing is known).
const KNOWN: u64 = 1;
/// `FileIdent` bit: a listening socket. wasi-libc's `poll` reports a
/// listener ready for whatever a `pollfd` asks (its one pollable means "a
/// connection is waiting"), so the driver never asks a listener for
/// writable, which epoll would never report for one.
const LISTENER: u64 = 2;
/// `FileIdent` bit: a TCP socket neither connected nor listening when it
/// was registered (a connect in progress). wasi-libc reports a failed
/// connect as ready and nothing more, so the first report for such a
/// registration asks wasi-libc (from its own state) whether it connected:
/// if not, the report carries the error and both closed directions, as
/// epoll's `EPOLLERR | EPOLLHUP` for a refused connect; if so, the
/// addresses now make the identity.
const CONNECTING: u64 = 4;
/// The `FileIdent` bits that are no part of the hash.
const FLAGS: u64 = KNOWN | LISTENER | CONNECTING;
impl FileIdent {
    fn is_listener(self) -> bool {
        self.0 & LISTENER != 0
    }
}

/// Whether `fd` is a listening socket (`SO_ACCEPTCONN`, which wasi-libc
/// answers from its own state).
fn is_listener(fd: libc::c_int) -> bool {
    int_option(fd, libc::SO_ACCEPTCONN).is_some_and(|v| v != 0)
}

/// The error for the current `errno`.
#[cold]
fn last_error() -> io::Error {
    #[cfg(feature = "std")]
    {
        std::io::Error::last_os_error()
    }
    #[cfg(not(feature = "std"))]
    {
        io::os_error(errno())
    }
}

fn errno() -> i32 {
    // SAFETY: wasi-libc's errno location is valid for the program's whole
    // life; reading it has no side effect.
    unsafe { *libc::__errno_location() }
}

/// FNV-1a over `bytes`, continuing from `hash`.
fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// A hash of `fd`'s local address and its peer's, for a socket whose
/// addresses can be asked for: connected, listening, or UDP. `None` for
/// anything else, which includes a TCP socket still connecting: for one of
/// those wasi-libc's `getsockname` aborts the program (it passes the host's
/// `invalid-state` to `abort`), so it is never called on one.
fn socket_ident(fd: libc::c_int, listener: bool) -> Option<u64> {
    let mut hash = FNV_START;
    // getpeername answers from wasi-libc's own state before it asks the
    // host: safe on any socket, and it succeeds only once connected.
    let connected = address(fd, true, &mut hash);
    if !connected && !listener && sock_type(fd) != Some(libc::SOCK_DGRAM) {
        return None;
    }
    address(fd, false, &mut hash).then_some(hash)
}

/// Feeds `fd`'s peer (or local) address to `hash`; `false` if it has none.
fn address(fd: libc::c_int, peer: bool, hash: &mut u64) -> bool {
    // SAFETY: sockaddr_storage is plain integers; all zeroes is valid.
    let mut storage: libc::sockaddr_storage = unsafe { core::mem::zeroed() };
    let mut len = core::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let ptr = (&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr>();
    // SAFETY: `storage` and `len` are valid for writes and `len` is the
    // size of `storage`, as both calls require; they write at most `len`
    // bytes.
    let r = unsafe {
        if peer {
            libc::getpeername(fd, ptr, &mut len)
        } else {
            libc::getsockname(fd, ptr, &mut len)
        }
    };
    if r != 0 {
        return false;
    }
    // SAFETY: `storage` is a live value of integers; viewing it as bytes
    // reads nothing uninitialised (it was zeroed).
    let bytes = unsafe {
        core::slice::from_raw_parts(
            (&storage as *const libc::sockaddr_storage).cast::<u8>(),
            core::mem::size_of::<libc::sockaddr_storage>(),
        )
    };
    let used = (len as usize).min(bytes.len());
    *hash = fnv(fnv(*hash, &[u8::from(peer)]), &bytes[..used]);
    true
}

/// An `int` socket option of `fd` at `SOL_SOCKET`, if it has it.
fn int_option(fd: libc::c_int, name: libc::c_int) -> Option<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = core::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid for writes and `len` is the size
    // of `value`, as getsockopt requires.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (r == 0).then_some(value)
}

/// `fd`'s socket type (`SO_TYPE`), if it is a socket.
fn sock_type(fd: libc::c_int) -> Option<libc::c_int> {
    int_option(fd, libc::SO_TYPE)
}

/// The `events` that watch the conditions `conds` of a file identified as
/// `ident`: readable and writable are all wasi-libc's `poll` reports, and
/// a listener is only ever readable.
#[inline]
fn poll_events(conds: u8, ident: FileIdent) -> libc::c_short {
    let mut events = 0;
    if conds & READABLE != 0 {
        events |= libc::POLLRDNORM;
    }
    if conds & WRITABLE != 0 && !ident.is_listener() {
        events |= libc::POLLWRNORM;
    }
    events
}

/// Makes registration `i`'s `pollfd` watch what it watches: negated, which
/// `poll` skips, when that is nothing `poll` can report.
#[inline]
fn watch_pollfd<const N: usize>(data: &mut Data<Wasip2Driver, N>, i: usize) {
    let e = data.regs.get(i);
    let (raw, conds) = (e.raw, e.watching());
    let events = poll_events(conds, data.idents[i]);
    let pfd = &mut data.native.fds[i];
    pfd.events = events;
    pfd.fd = if events == 0 { !raw } else { raw };
}

/// Translates `revents` into readiness conditions. wasi-libc sets only
/// `POLLRDNORM` and `POLLWRNORM` today; the others are translated as on
/// poll(2) in case a later one sets them.
fn readiness(rev: libc::c_short) -> u8 {
    let mut bits = 0;
    if rev & libc::POLLRDNORM != 0 {
        bits |= READABLE;
    }
    if rev & libc::POLLWRNORM != 0 {
        bits |= WRITABLE;
    }
    if rev & libc::POLLERR != 0 {
        bits |= ERROR | READABLE | WRITABLE | WRITE_CLOSED;
    }
    if rev & libc::POLLHUP != 0 {
        bits |= READABLE | READ_CLOSED | WRITE_CLOSED;
    }
    bits
}

/// Whether `fd` is open: `fstat` fails with `EBADF` only for a descriptor
/// wasi-libc does not have.
fn is_open(fd: libc::c_int) -> bool {
    // SAFETY: `stat` is plain integers; all zeroes is valid.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: fstat writes into `st`, a valid `stat`; any fd number is
    // allowed (a closed one gives EBADF).
    let r = unsafe { libc::fstat(fd, &mut st) };
    r == 0 || errno() != libc::EBADF
}

impl<const N: usize> Driver<N> for Wasip2Driver {
    type Raw = libc::c_int;
    type Ident = FileIdent;
    type Os = Wasip2Os;
    type Native = Wasip2Native<N>;
    type Waker = Wasip2Waker;
    const NAME: &'static str = "Wasip2Selector";
    const LAZY: bool = true;

    fn open() -> io::Result<Wasip2Os> {
        Ok(Wasip2Os(()))
    }

    fn now() -> Duration {
        monotonic_now()
    }

    fn check(_: &Wasip2Os, fd: libc::c_int) -> io::Result<FileIdent> {
        // A negative number is never a descriptor: EBADF, as for a closed
        // one and as on the other backends (poll would skip it).
        if fd < 0 {
            return Err(io::os_error(libc::EBADF));
        }
        // SAFETY: `stat` is plain integers; all zeroes is valid.
        let mut st: libc::stat = unsafe { core::mem::zeroed() };
        // SAFETY: fstat writes into `st`, a valid `stat`; any fd number is
        // allowed (a closed one gives EBADF).
        if unsafe { libc::fstat(fd, &mut st) } != 0 {
            return Err(last_error());
        }
        if st.st_dev != 0 || st.st_ino != 0 {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&st.st_dev.to_le_bytes());
            bytes[8..].copy_from_slice(&st.st_ino.to_le_bytes());
            return Ok(FileIdent(fnv(FNV_START, &bytes) & !FLAGS | KNOWN));
        }
        // Sockets have no inode here: their addresses tell them apart (a
        // live connection's pair of addresses is unique, and so is a
        // listener's or a UDP socket's local address).
        let listening = is_listener(fd);
        let listener = if listening { LISTENER } else { 0 };
        Ok(match socket_ident(fd, listening) {
            Some(hash) => FileIdent(hash & !FLAGS | KNOWN | listener),
            None if sock_type(fd) == Some(libc::SOCK_STREAM) && !listening => FileIdent(CONNECTING),
            None => FileIdent(listener),
        })
    }

    fn stale(_: &Wasip2Os, data: &Data<Self, N>, i: usize, ident: FileIdent) -> bool {
        let old = data.idents[i];
        old != ident && old.0 & KNOWN != 0 && ident.0 & KNOWN != 0
    }

    fn attach(_: &Wasip2Os, data: &mut Data<Self, N>, i: usize) -> io::Result<()> {
        data.native.fds[i].revents = 0;
        watch_pollfd(data, i);
        Ok(())
    }

    fn watch(_: &Wasip2Os, data: &mut Data<Self, N>, i: usize) {
        watch_pollfd(data, i);
    }

    fn detach(_: &Wasip2Os, _: &mut Data<Self, N>, _: usize) {}

    fn moved(data: &mut Data<Self, N>, to: usize, from: usize) {
        data.native.fds[to] = data.native.fds[from];
    }

    fn wait(
        _: &Wasip2Os,
        data: &mut Data<Self, N>,
        marks: &Marks<N>,
        events: &mut [Event<Wasip2Selector<N>>],
        timeout: Option<Duration>,
    ) -> io::Result<Waited> {
        let len = data.regs.len();
        let fds = &mut data.native.fds[..len];
        // The host traps on a `wasi:io/poll.poll` with nothing in it, which
        // is what wasi-libc makes of no timeout and no pollfd to watch.
        if timeout.is_none() && fds.iter().all(|p| p.fd < 0) {
            return Err(nothing_to_wait_for(len));
        }
        // SAFETY: `fds` is `len` live pollfds, exclusively ours for the
        // call (the table lock); poll writes only their `revents`.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), len as libc::nfds_t, timeout_ms(timeout)) };
        if n < 0 {
            return poll_failed(data);
        }
        if n == 0 {
            return Ok(Waited::Ready(0));
        }
        match collect(data, marks, n as usize, events) {
            0 => Ok(Waited::Again),
            out => Ok(Waited::Ready(out)),
        }
    }

    fn interrupt(_: &Wasip2Os) {}

    fn new_waker(_: &Wasip2Os, _: &mut Data<Self, N>, _: Token) -> io::Result<Wasip2Waker> {
        Err(io::error(
            io::ErrorKind::Unsupported,
            "Waker is not available on wasip2: the component has no threads and WASI 0.2 \
             has no pollable it can make ready itself; poll with a timeout instead",
            None,
        ))
    }

    fn wake(waker: &Wasip2Waker) -> io::Result<()> {
        match *waker {}
    }
}

/// What to do after `poll` failed: a descriptor closed behind the table's
/// back fails the whole call with `EBADF`; the registrations whose
/// descriptor is gone end, and the wait goes on. Any other error is the
/// caller's.
#[cold]
#[inline(never)]
fn poll_failed<const N: usize>(data: &mut Data<Wasip2Driver, N>) -> io::Result<Waited> {
    let code = errno();
    if code == libc::EBADF {
        let mut found = false;
        for i in 0..data.regs.len() {
            let e = *data.regs.get(i);
            if !e.is_dead() && !is_open(e.raw) {
                data.closed(i);
                data.native.fds[i].fd = !e.raw;
                found = true;
            }
        }
        if found {
            return Ok(Waited::Again);
        }
    }
    if code == libc::ENOTSUP || code == libc::EOPNOTSUPP {
        return Err(io::error(
            io::ErrorKind::Unsupported,
            "wasi-libc's poll cannot wait on a registered socket that is neither listening \
             nor connected (made with socket(), or only bound); register it once it is",
            None,
        ));
    }
    Err(io::os_error(code))
}

/// Turns the `pollfd`s `poll` marked into events; returns how many.
/// Scans from where a full buffer stopped last time, so a small `Events`
/// cannot starve the sources at the end, and stops once `poll`'s count is
/// reached.
fn collect<const N: usize>(
    data: &mut Data<Wasip2Driver, N>,
    marks: &Marks<N>,
    mut ready: usize,
    events: &mut [Event<Wasip2Selector<N>>],
) -> usize {
    let len = data.regs.len();
    let mut i = if data.regs.cursor < len {
        data.regs.cursor
    } else {
        0
    };
    let mut out = 0;
    for _ in 0..len {
        if ready == 0 || out == events.len() {
            break;
        }
        if i == len {
            i = 0;
        }
        let rev = data.native.fds[i].revents;
        if rev != 0 {
            ready -= 1;
            data.native.fds[i].revents = 0;
            let mut bits = readiness(rev);
            if data.idents[i].0 & CONNECTING != 0 {
                bits = connect_outcome(data, i, bits);
            }
            if let Some(ev) = data.deliver_through(marks, i, bits) {
                events[out] = Event::from_raw(ev);
                out += 1;
            }
            watch_pollfd(data, i);
        }
        i += 1;
    }
    if out == events.len() {
        data.regs.cursor = i;
    }
    out
}

/// The first report for registration `i`, registered while connecting
/// and reported `bits`: wasi-libc has just finished the connect (it does
/// inside `poll`, and then reports the socket ready for whatever the
/// `pollfd` asked), so its state says how it went. Connected: only
/// writable is true (nothing has looked at the input yet, so a readable
/// here would be false, and would use up the edge), and the addresses now
/// make the identity. Failed: the error and both closed directions, as
/// epoll's `EPOLLERR | EPOLLHUP` for a refused connect.
#[cold]
#[inline(never)]
fn connect_outcome<const N: usize>(data: &mut Data<Wasip2Driver, N>, i: usize, bits: u8) -> u8 {
    let fd = data.regs.get(i).raw;
    let mut hash = FNV_START;
    // getpeername answers from wasi-libc's state; once it succeeds the
    // socket is connected and getsockname is safe.
    if address(fd, true, &mut hash) && address(fd, false, &mut hash) {
        data.idents[i] = FileIdent(hash & !FLAGS | KNOWN);
        bits & WRITABLE
    } else {
        data.idents[i] = FileIdent(0);
        bits | ERROR | READ_CLOSED | WRITE_CLOSED
    }
}

/// The monotonic clock, for the time left after an interrupted wait.
fn monotonic_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; the monotonic clock
    // always exists on WASI 0.2 (`wasi:clocks/monotonic-clock`).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cold]
fn nothing_to_wait_for(registered: usize) -> io::Error {
    let msg = if registered == 0 {
        "poll without a timeout and with no source registered: nothing could ever wake it \
         (wasip2 has no Waker); pass a timeout to sleep"
    } else {
        "poll without a timeout and every registered source disarmed (reported and not \
         re-armed by reregister or a WouldBlock): nothing could ever wake it \
         (wasip2 has no Waker)"
    };
    io::error(io::ErrorKind::InvalidInput, msg, None)
}

/// One wasip2 event: the token and its readiness, translated once in
/// `select`.
pub type Wasip2Event = TableEvent;

/// The wasip2 half of a [`Waker`](crate::Waker), which cannot exist (see
/// [`Wasip2Selector`]): [`Waker::new`](crate::Waker::new) returns
/// `Unsupported`. This type has no values.
#[derive(Debug)]
pub enum Wasip2Waker {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::RawEvent;

    #[test]
    fn translation() {
        let ev = |rev| TableEvent::new(1, readiness(rev));
        assert!(ev(libc::POLLRDNORM).is_readable() && !ev(libc::POLLRDNORM).is_writable());
        assert!(ev(libc::POLLWRNORM).is_writable());
        let both = ev(libc::POLLRDNORM | libc::POLLWRNORM);
        assert!(both.is_readable() && both.is_writable() && !both.is_error());
        assert!(ev(libc::POLLHUP).is_read_closed());
        assert!(ev(libc::POLLERR).is_error());
        assert_eq!(readiness(0), 0);
    }

    #[test]
    fn pollfds_ask_for_what_can_be_reported() {
        let file = FileIdent(KNOWN);
        let listener = FileIdent(KNOWN | LISTENER);
        assert_eq!(
            poll_events(READABLE | ERROR | READ_CLOSED, file),
            libc::POLLRDNORM
        );
        assert_eq!(poll_events(WRITABLE, file), libc::POLLWRNORM);
        // Only conditions the host never reports: nothing to ask.
        assert_eq!(poll_events(ERROR | READ_CLOSED | WRITE_CLOSED, file), 0);
        // A listener is never asked for writable.
        assert_eq!(poll_events(READABLE | WRITABLE, listener), libc::POLLRDNORM);
        assert_eq!(poll_events(WRITABLE, listener), 0);
    }

    #[test]
    fn hashes_tell_addresses_apart() {
        assert_ne!(fnv(FNV_START, &[1, 2]), fnv(FNV_START, &[2, 1]));
        assert_eq!(fnv(FNV_START, &[]), FNV_START);
    }
}
