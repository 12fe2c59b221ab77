//! The syscall half of the kqueue backend: `kqueue`, `kevent`, the waker.
//! Every decision (which changes, what a reply or a record means) is made
//! by `abi`; this file only converts records and calls the OS.

use core::ptr;
#[cfg(not(any(target_os = "netbsd", target_os = "openbsd")))]
use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;

use super::abi::{self, Changes, Failure, Kevent, MAX_CHANGES, NATIVE};
use crate::sys::event::Event;
use crate::sys::one_waker::OneWaker;
use crate::sys::unix::{cvt, Fd};
use crate::sys::{RawEvent, Selector};
use crate::{io, Interest, Token};

/// The kqueue selector: the default on macOS, iOS, FreeBSD, NetBSD,
/// OpenBSD and DragonFly.
///
/// Sources are registered edge-triggered (`EV_CLEAR`), one filter per
/// direction; the kernel keeps the registrations, so there is no table and
/// no capacity limit. `register`, `reregister` and `deregister` are one
/// `kevent` call each, as in mio; `register` and `reregister` carry an
/// existence probe in the same change list.
///
/// A second `register` of a registered fd fails with `AlreadyExists`, and
/// the fd keeps the filters (directions) it had, but its events then carry
/// the second call's token: kqueue has no change that fails because a
/// filter exists, and on FreeBSD and macOS none that looks at a filter
/// without rewriting its `udata` (every change but a delete sets it), so
/// the check rides in the change list that also adds, and a failed second
/// registration costs one more call that removes what it added. (A `net`
/// type or `IoSource` never gets this far: it knows it is registered.)
///
/// A clone ([`Registry::try_clone`](crate::Registry::try_clone)) is a `dup`
/// of the kqueue fd, which every kqueue platform supports: both descriptors
/// name one kqueue and share every registration. What no platform does is
/// carry a kqueue across `fork`: the child must make its own `Poll`.
#[derive(Debug)]
pub struct KqueueSelector {
    kq: Fd,
    waker: OneWaker,
}

/// A `struct kevent` as the kernel writes it into [`Events`](crate::Events).
#[derive(Copy, Clone)]
#[repr(transparent)]
pub struct KqueueEvent(libc::kevent);

// SAFETY: the only pointer in a kevent is `udata`, which rouse fills with a
// token and never dereferences; the record is plain data otherwise.
unsafe impl Send for KqueueEvent {}
// SAFETY: as for `Send`: shared access reads integers only.
unsafe impl Sync for KqueueEvent {}

fn zeroed() -> libc::kevent {
    // SAFETY: on every kqueue platform `struct kevent` holds integers, one
    // raw pointer (`udata`) and, on FreeBSD 12+, an integer array; all-zero
    // is a valid value of each (a null `udata`).
    unsafe { core::mem::zeroed() }
}

// Field types differ per platform (see `abi`), so the casts are the
// conversions: widening into the mirror, narrowing back to what was
// widened. On some platforms some are identities.
#[allow(clippy::unnecessary_cast)]
fn to_native(k: &Kevent) -> libc::kevent {
    let mut n = zeroed();
    n.ident = k.ident as _;
    n.filter = k.filter as _;
    n.flags = k.flags as _;
    n.fflags = k.fflags as _;
    n.data = k.data as _;
    n.udata = k.udata as _;
    n
}

#[allow(clippy::unnecessary_cast)]
#[inline]
fn from_native(n: &libc::kevent) -> Kevent {
    Kevent {
        ident: n.ident as usize,
        filter: n.filter as i32,
        flags: n.flags as u32,
        fflags: n.fflags as u32,
        data: n.data as i64,
        udata: n.udata as usize,
    }
}

// The portable tables must be libc's: checked whenever this file compiles
// (`ci/bsd` type-checks every kqueue target).
#[allow(clippy::unnecessary_cast)]
const _: () = {
    assert!(NATIVE.read == libc::EVFILT_READ as i32);
    assert!(NATIVE.write == libc::EVFILT_WRITE as i32);
    assert!(NATIVE.add == libc::EV_ADD as u32);
    assert!(NATIVE.delete == libc::EV_DELETE as u32);
    assert!(NATIVE.enable == libc::EV_ENABLE as u32);
    assert!(NATIVE.clear == libc::EV_CLEAR as u32);
    assert!(NATIVE.receipt == libc::EV_RECEIPT as u32);
    assert!(NATIVE.error == libc::EV_ERROR as u32);
    assert!(NATIVE.eof == libc::EV_EOF as u32);
    assert!(NATIVE.trigger == libc::NOTE_TRIGGER as u32);
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    assert!(NATIVE.ooband == libc::EV_OOBAND as u32);
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly"
    ))]
    assert!(matches!(NATIVE.user, Some(u) if u == libc::EVFILT_USER as i32));
    #[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
    assert!(NATIVE.user.is_none());
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly"
    ))]
    assert!(matches!(NATIVE.aio, Some(a) if a == libc::EVFILT_AIO as i32));
    #[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
    assert!(NATIVE.aio.is_none());
    #[cfg(target_os = "freebsd")]
    assert!(matches!(NATIVE.lio, Some(l) if l == libc::EVFILT_LIO as i32));
    #[cfg(not(target_os = "freebsd"))]
    assert!(NATIVE.lio.is_none());
    let size = core::mem::size_of::<libc::kevent>();
    let (ptr, a64) = (core::mem::size_of::<usize>(), core::mem::align_of::<i64>());
    // FreeBSD: libc declares the 12+ record unless built for FreeBSD 11.
    assert!(
        size == NATIVE.layout.size(ptr, a64)
            || (cfg!(target_os = "freebsd") && size == abi::FREEBSD11.layout.size(ptr, a64))
    );
};

impl Default for KqueueEvent {
    fn default() -> Self {
        KqueueEvent(zeroed())
    }
}

impl KqueueEvent {
    #[inline]
    fn portable(&self) -> Kevent {
        from_native(&self.0)
    }
}

impl RawEvent for KqueueEvent {
    #[inline]
    fn token(&self) -> Token {
        abi::token(&self.portable())
    }
    #[inline]
    fn is_readable(&self) -> bool {
        abi::is_readable(&NATIVE, &self.portable())
    }
    #[inline]
    fn is_writable(&self) -> bool {
        abi::is_writable(&NATIVE, &self.portable())
    }
    #[inline]
    fn is_error(&self) -> bool {
        abi::is_error(&NATIVE, &self.portable())
    }
    #[inline]
    fn is_read_closed(&self) -> bool {
        abi::is_read_closed(&NATIVE, &self.portable())
    }
    #[inline]
    fn is_write_closed(&self) -> bool {
        abi::is_write_closed(&NATIVE, &self.portable())
    }
    #[inline]
    fn is_priority(&self) -> bool {
        abi::is_priority(&NATIVE, &self.portable())
    }
    #[inline]
    fn is_aio(&self) -> bool {
        abi::is_aio(&NATIVE, &self.portable())
    }
    #[inline]
    fn is_lio(&self) -> bool {
        abi::is_lio(&NATIVE, &self.portable())
    }
}

/// Negative fds cannot name a file; everything else is the kernel's to judge.
fn ident(fd: libc::c_int) -> io::Result<usize> {
    usize::try_from(fd).map_err(|_| {
        io::error(
            io::ErrorKind::InvalidInput,
            "negative fd cannot be registered",
            Some(i64::from(fd)),
        )
    })
}

#[cold]
fn failure(f: Failure, fd: libc::c_int) -> io::Error {
    match f {
        Failure::AlreadyExists => io::error(
            io::ErrorKind::AlreadyExists,
            "fd is already registered",
            Some(i64::from(fd)),
        ),
        Failure::NotFound => io::error(
            io::ErrorKind::NotFound,
            "fd is not registered",
            Some(i64::from(fd)),
        ),
        Failure::Os(errno) => io::os_error(i32::try_from(errno).unwrap_or(libc::EINVAL)),
    }
}

#[cfg(not(any(target_os = "netbsd", target_os = "openbsd")))]
/// A kevent call with no event list: errors come back as `-1`/`errno`.
fn apply(kq: libc::c_int, change: &Kevent) -> io::Result<()> {
    let change = to_native(change);
    // SAFETY: one valid change record, no event list (null, 0), and a null
    // timeout, which with no event list cannot block.
    let ret = unsafe { libc::kevent(kq, &change, 1, ptr::null_mut(), 0, ptr::null()) };
    cvt(ret).map(drop)
}

impl KqueueSelector {
    /// Submits `changes` (each with `EV_RECEIPT`) in one call and returns
    /// one reply per change, in the order of the changes.
    fn submit(&self, changes: &Changes) -> io::Result<([Kevent; MAX_CHANGES], usize)> {
        let changes = changes.as_slice();
        let len = changes.len();
        let mut native = [zeroed(); MAX_CHANGES];
        for (n, c) in native.iter_mut().zip(changes) {
            *n = to_native(c);
        }
        let mut out = [zeroed(); MAX_CHANGES];
        // A zero timeout: with one receipt per change the event list is full
        // before any pending event could be stored, and nothing waits.
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `native` holds `len` valid changes and `out` room for
        // `len` records (len <= MAX_CHANGES); `zero` is a valid timespec.
        // All three outlive the call.
        let n = unsafe {
            libc::kevent(
                self.kq.raw(),
                native.as_ptr(),
                len as _,
                out.as_mut_ptr(),
                len as _,
                &zero,
            )
        };
        let n = cvt(n)? as usize;
        if n != len {
            return Err(io::error(
                io::ErrorKind::Other,
                "kevent returned fewer receipts than changes",
                Some(n as i64),
            ));
        }
        let mut replies = [Kevent::default(); MAX_CHANGES];
        for (r, o) in replies.iter_mut().zip(&out[..n]) {
            *r = from_native(o);
        }
        Ok((replies, n))
    }
}

/// The kqueue fd, for `Registry`'s and `Poll`'s `AsFd`: what an AIO
/// request names in its `sigevent` (see `Interest::AIO`), and readable
/// while any registered source has an event to report.
#[cfg(feature = "std")]
impl std::os::fd::AsFd for KqueueSelector {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        // SAFETY: the kqueue fd is owned by this selector and open for as
        // long as it lives, which the borrow does not outlive.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(self.kq.raw()) }
    }
}

#[cfg(feature = "std")]
impl std::os::fd::AsRawFd for KqueueSelector {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.kq.raw()
    }
}

impl Selector for KqueueSelector {
    type Raw = libc::c_int;
    type Event = KqueueEvent;
    type Waker = KqueueWaker;

    fn new() -> io::Result<Self> {
        // SAFETY: kqueue takes no arguments and returns a new fd or -1.
        let kq = Fd::from_raw(cvt(unsafe { libc::kqueue() })?);
        // SAFETY: fcntl on the fd we own, with an int argument.
        cvt(unsafe { libc::fcntl(kq.raw(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
        Ok(KqueueSelector {
            kq,
            waker: OneWaker::new(),
        })
    }

    fn try_clone(&self) -> io::Result<Self> {
        let kq = self.kq.try_clone()?;
        Ok(KqueueSelector {
            kq,
            waker: self.waker.try_clone(),
        })
    }

    fn register(&self, fd: libc::c_int, token: Token, interests: Interest) -> io::Result<()> {
        let id = ident(fd)?;
        let changes = abi::register(&NATIVE, id, token, interests);
        let (replies, n) = self.submit(&changes)?;
        match abi::registered(&NATIVE, &replies[..n]) {
            Ok(()) => Ok(()),
            Err(Failure::AlreadyExists) => {
                // The adds were applied to the existing registration: put
                // its filters back (best effort; AlreadyExists either way).
                let undo = abi::undo_register(&NATIVE, changes.as_slice(), &replies[..n]);
                if !undo.as_slice().is_empty() {
                    let _ = self.submit(&undo);
                }
                Err(failure(Failure::AlreadyExists, fd))
            }
            Err(f) => Err(failure(f, fd)),
        }
    }

    fn reregister(&self, fd: libc::c_int, token: Token, interests: Interest) -> io::Result<()> {
        let id = ident(fd)?;
        let changes = abi::reregister(&NATIVE, id, token, interests);
        let (replies, n) = self.submit(&changes)?;
        match abi::reregistered(&NATIVE, changes.as_slice(), &replies[..n]) {
            Ok(()) => Ok(()),
            Err(Failure::NotFound) => {
                // The adds registered an fd that was not registered: undo
                // them (best effort; the fd is reported NotFound either way).
                let _ = self.submit(&abi::undo_adds(&NATIVE, changes.as_slice()));
                Err(failure(Failure::NotFound, fd))
            }
            Err(f) => Err(failure(f, fd)),
        }
    }

    fn deregister(&self, fd: libc::c_int) -> io::Result<()> {
        let id = ident(fd)?;
        let (replies, n) = self.submit(&abi::deregister(&NATIVE, id))?;
        abi::deregistered(&NATIVE, &replies[..n]).map_err(|f| failure(f, fd))
    }

    fn select(&self, events: &mut [Event<Self>], timeout: Option<Duration>) -> io::Result<usize> {
        let ts;
        let ts_ptr = match timeout {
            None => ptr::null(),
            Some(t) => {
                let (secs, nanos) = abi::timespec_parts(t);
                // Both fit: secs <= MAX_TIMEOUT_SECS (< 2^31), nanos < 10^9.
                ts = libc::timespec {
                    tv_sec: secs as libc::time_t,
                    tv_nsec: nanos as _,
                };
                &ts as *const libc::timespec
            }
        };
        let max = events.len().min(i32::MAX as usize);
        // SAFETY: `Event<KqueueSelector>` is repr(transparent) over
        // `KqueueEvent`, itself repr(transparent) over `kevent`, so the
        // slice is `max` writable kevent records the kernel may fill; no
        // changes are passed; `ts_ptr` is null or points to `ts`, alive here.
        let n = unsafe {
            libc::kevent(
                self.kq.raw(),
                ptr::null(),
                0,
                events.as_mut_ptr().cast::<libc::kevent>(),
                max as _,
                ts_ptr,
            )
        };
        cvt(n).map(|n| n as usize)
    }

    fn new_waker(&self, token: Token) -> io::Result<KqueueWaker> {
        self.waker.claim()?;
        let made = KqueueWaker::new(self, token);
        if made.is_err() {
            self.waker.release();
        }
        made
    }

    fn wake(waker: &KqueueWaker) -> io::Result<()> {
        waker.wake()
    }
}

#[cfg(not(any(target_os = "netbsd", target_os = "openbsd")))]
/// Idents for user events, one per waker, so several wakers on one kqueue
/// never share a knote.
static NEXT_USER_IDENT: AtomicUsize = AtomicUsize::new(0);

/// The kqueue half of a [`Waker`](crate::Waker).
///
/// On macOS, iOS, FreeBSD and DragonFly a user event (`EVFILT_USER`,
/// triggered with `NOTE_TRIGGER`, `EV_CLEAR` so each trigger is reported
/// once); it holds a `dup` of the kqueue fd and deletes its event on drop.
/// On NetBSD and OpenBSD, where `EVFILT_USER` is missing from releases still
/// in use, a non-blocking pipe whose read end is registered (`EV_CLEAR`, so
/// every write is a new edge); closing it on drop removes it.
#[derive(Debug)]
pub struct KqueueWaker {
    #[cfg(not(any(target_os = "netbsd", target_os = "openbsd")))]
    kq: Fd,
    #[cfg(not(any(target_os = "netbsd", target_os = "openbsd")))]
    ident: usize,
    #[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
    read: Fd,
    #[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
    write: Fd,
}

#[cfg(not(any(target_os = "netbsd", target_os = "openbsd")))]
impl KqueueWaker {
    fn user_filter() -> io::Result<i32> {
        NATIVE.user.ok_or_else(|| {
            io::error(
                io::ErrorKind::Unsupported,
                "EVFILT_USER is not available on this platform",
                None,
            )
        })
    }

    fn new(selector: &KqueueSelector, token: Token) -> io::Result<KqueueWaker> {
        let user = Self::user_filter()?;
        let ident = NEXT_USER_IDENT.fetch_add(1, Ordering::Relaxed);
        let kq = selector.kq.try_clone()?;
        let (replies, n) = selector.submit(&abi::add_user(&NATIVE, user, ident, token))?;
        abi::added(&NATIVE, &replies[..n]).map_err(|f| failure(f, -1))?;
        Ok(KqueueWaker { kq, ident })
    }

    fn wake(&self) -> io::Result<()> {
        let user = Self::user_filter()?;
        apply(self.kq.raw(), &abi::trigger_user(&NATIVE, user, self.ident))
    }
}

#[cfg(not(any(target_os = "netbsd", target_os = "openbsd")))]
impl Drop for KqueueWaker {
    fn drop(&mut self) {
        if let Ok(user) = Self::user_filter() {
            // Nothing to do on failure: the event goes with the kqueue.
            let _ = apply(self.kq.raw(), &abi::delete_user(&NATIVE, user, self.ident));
        }
    }
}

#[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
impl KqueueWaker {
    fn new(selector: &KqueueSelector, token: Token) -> io::Result<KqueueWaker> {
        let mut fds = [-1 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) })?;
        let (read, write) = (Fd::from_raw(fds[0]), Fd::from_raw(fds[1]));
        selector.register(read.raw(), token, Interest::READABLE)?;
        Ok(KqueueWaker { read, write })
    }

    fn wake(&self) -> io::Result<()> {
        let byte = 1u8;
        loop {
            // SAFETY: writes one byte from a local to a pipe we own.
            let n = unsafe { libc::write(self.write.raw(), (&byte as *const u8).cast(), 1) };
            if n == 1 {
                return Ok(());
            }
            let err = crate::sys::unix::last_error();
            match err.kind() {
                // Full: empty it, so the next write is a new edge.
                io::ErrorKind::WouldBlock => self.drain(),
                io::ErrorKind::Interrupted => {}
                _ => return Err(err),
            }
        }
    }

    fn drain(&self) {
        let mut buf = [0u8; 256];
        // SAFETY: reads into a local buffer of the length given.
        while unsafe { libc::read(self.read.raw(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
    }
}
