//! The epoll backend (Linux, Android).
//!
//! Every registration is edge-triggered (`EPOLLET`) and the kernel keeps
//! them, so this file holds no table: `register` is one `epoll_ctl`, `select`
//! is one `epoll_wait` writing straight into the caller's `Events`, and the
//! waker is an eventfd. It must never allocate and never loop on its own.

use core::time::Duration;

use super::one_waker::OneWaker;
use super::unix::{cvt, Fd};
use super::{timeout_ms, RawEvent, Selector};
use crate::sys::event::Event;
use crate::{io, Interest, Token};

/// The epoll selector: the default on Linux and Android.
///
/// A clone (`Registry::try_clone`) is a `dup` of the epoll fd, so clones
/// share every registration and can be used from any thread. One
/// [`Waker`](crate::Waker) per selector and its clones: a second is
/// `AlreadyExists` (see `one_waker.rs` for the no-std limit).
#[derive(Debug)]
pub struct EpollSelector {
    ep: Fd,
    waker: OneWaker,
}

/// An `epoll_event` as the kernel writes it (packed on x86-64).
#[derive(Copy, Clone)]
#[repr(transparent)]
pub struct EpollEvent(libc::epoll_event);

impl Default for EpollEvent {
    fn default() -> Self {
        EpollEvent(libc::epoll_event { events: 0, u64: 0 })
    }
}

impl EpollEvent {
    #[inline]
    fn bits(&self) -> i32 {
        self.0.events as i32
    }

    /// Builds a record, for tests of event translation.
    pub fn new(events: u32, token: Token) -> EpollEvent {
        EpollEvent(libc::epoll_event {
            events,
            u64: token.0 as u64,
        })
    }
}

impl RawEvent for EpollEvent {
    #[inline]
    fn token(&self) -> Token {
        // Copy the field out: the struct may be packed.
        let data = self.0.u64;
        Token(data as usize)
    }

    #[inline]
    fn is_readable(&self) -> bool {
        self.bits() & (libc::EPOLLIN | libc::EPOLLPRI) != 0
    }

    #[inline]
    fn is_writable(&self) -> bool {
        self.bits() & libc::EPOLLOUT != 0
    }

    #[inline]
    fn is_error(&self) -> bool {
        self.bits() & libc::EPOLLERR != 0
    }

    #[inline]
    fn is_read_closed(&self) -> bool {
        // HUP closes both halves; RDHUP (with IN) is the peer's shutdown.
        let bits = self.bits();
        bits & libc::EPOLLHUP != 0 || (bits & libc::EPOLLIN != 0 && bits & libc::EPOLLRDHUP != 0)
    }

    #[inline]
    fn is_write_closed(&self) -> bool {
        // HUP, or an error on a writable socket (a broken pipe), or an
        // error alone (epoll reports ERR without OUT for a reset socket).
        let bits = self.bits();
        bits & libc::EPOLLHUP != 0
            || (bits & libc::EPOLLOUT != 0 && bits & libc::EPOLLERR != 0)
            || bits == libc::EPOLLERR
    }

    #[inline]
    fn is_priority(&self) -> bool {
        self.bits() & libc::EPOLLPRI != 0
    }
}

fn flags(interests: Interest) -> u32 {
    let mut flags = libc::EPOLLET;
    if interests.is_readable() {
        flags |= libc::EPOLLIN | libc::EPOLLRDHUP;
    }
    if interests.is_writable() {
        flags |= libc::EPOLLOUT;
    }
    if interests.is_priority() {
        flags |= libc::EPOLLPRI;
    }
    flags as u32
}

impl EpollSelector {
    fn ctl(&self, op: libc::c_int, fd: libc::c_int, event: Option<EpollEvent>) -> io::Result<()> {
        let mut event = event.unwrap_or_default();
        // SAFETY: `self.ep` is our epoll fd; `event` is a valid epoll_event
        // that outlives the call (the kernel copies it, and ignores it for DEL).
        let ret = unsafe { libc::epoll_ctl(self.ep.raw(), op, fd, &mut event.0) };
        cvt(ret).map(drop).map_err(|e| describe(e, fd))
    }
}

/// Rewrites the two errors users meet most into ones that name the fd.
#[cold]
fn describe(err: io::Error, fd: libc::c_int) -> io::Error {
    match err.raw_os_error() {
        Some(libc::EEXIST) => io::error(
            io::ErrorKind::AlreadyExists,
            "fd is already registered",
            Some(i64::from(fd)),
        ),
        Some(libc::ENOENT) => io::error(
            io::ErrorKind::NotFound,
            "fd is not registered",
            Some(i64::from(fd)),
        ),
        _ => err,
    }
}

impl EpollSelector {
    /// An eventfd registered edge-triggered with `token`.
    fn make_waker(&self, token: Token) -> io::Result<EpollWaker> {
        // SAFETY: eventfd takes an initial value and flags; returns a new fd or -1.
        let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        let fd = Fd::from_raw(fd);
        let event = EpollEvent::new((libc::EPOLLIN | libc::EPOLLET) as u32, token);
        self.ctl(libc::EPOLL_CTL_ADD, fd.raw(), Some(event))?;
        Ok(EpollWaker { fd })
    }
}

/// The epoll fd, for `Registry`'s and `Poll`'s `AsFd`: readable while
/// any registered source has an event to report.
#[cfg(feature = "std")]
impl std::os::fd::AsFd for EpollSelector {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        // SAFETY: the epoll fd is owned by this selector and open for as
        // long as it lives, which the borrow does not outlive.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(self.ep.raw()) }
    }
}

#[cfg(feature = "std")]
impl std::os::fd::AsRawFd for EpollSelector {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.ep.raw()
    }
}

impl Selector for EpollSelector {
    type Raw = libc::c_int;
    type Event = EpollEvent;
    type Waker = EpollWaker;

    fn new() -> io::Result<Self> {
        // SAFETY: epoll_create1 takes only flags and returns a new fd or -1.
        let ep = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        Ok(EpollSelector {
            ep: Fd::from_raw(ep),
            waker: OneWaker::new(),
        })
    }

    fn try_clone(&self) -> io::Result<Self> {
        let ep = self.ep.try_clone()?;
        Ok(EpollSelector {
            ep,
            waker: self.waker.try_clone(),
        })
    }

    fn register(&self, fd: libc::c_int, token: Token, interests: Interest) -> io::Result<()> {
        let event = EpollEvent::new(flags(interests), token);
        self.ctl(libc::EPOLL_CTL_ADD, fd, Some(event))
    }

    fn reregister(&self, fd: libc::c_int, token: Token, interests: Interest) -> io::Result<()> {
        let event = EpollEvent::new(flags(interests), token);
        self.ctl(libc::EPOLL_CTL_MOD, fd, Some(event))
    }

    fn deregister(&self, fd: libc::c_int) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, None)
    }

    #[inline]
    fn select(&self, events: &mut [Event<Self>], timeout: Option<Duration>) -> io::Result<usize> {
        let max = events.len().min(i32::MAX as usize) as libc::c_int;
        // SAFETY: `Event<EpollSelector>` is repr(transparent) over
        // `EpollEvent`, itself repr(transparent) over `epoll_event`, so the
        // slice is `max` writable epoll_events that the kernel may fill.
        let n = unsafe {
            super::unix::syscall::epoll_wait(
                self.ep.raw(),
                events.as_mut_ptr().cast::<libc::epoll_event>(),
                max,
                timeout_ms(timeout),
            )
        };
        super::unix::syscall::check(n)
    }

    fn new_waker(&self, token: Token) -> io::Result<EpollWaker> {
        self.waker.claim()?;
        let made = self.make_waker(token);
        if made.is_err() {
            self.waker.release();
        }
        made
    }

    #[inline]
    fn wake(waker: &EpollWaker) -> io::Result<()> {
        super::unix::eventfd_signal(waker.fd.raw())
    }
}

/// The epoll half of a [`Waker`](crate::Waker): an eventfd registered
/// edge-triggered, so every `wake` is a new edge. Closing it (on drop)
/// removes it from the epoll set.
#[derive(Debug)]
pub struct EpollWaker {
    fd: Fd,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(bits: i32) -> EpollEvent {
        EpollEvent::new(bits as u32, Token(7))
    }

    #[test]
    fn translation() {
        assert_eq!(ev(libc::EPOLLIN).token(), Token(7));
        assert!(ev(libc::EPOLLIN).is_readable());
        assert!(ev(libc::EPOLLPRI).is_readable() && ev(libc::EPOLLPRI).is_priority());
        assert!(ev(libc::EPOLLOUT).is_writable());
        assert!(!ev(libc::EPOLLOUT).is_readable());
        assert!(ev(libc::EPOLLERR).is_error() && ev(libc::EPOLLERR).is_write_closed());
        assert!(ev(libc::EPOLLHUP).is_read_closed() && ev(libc::EPOLLHUP).is_write_closed());
        assert!(ev(libc::EPOLLIN | libc::EPOLLRDHUP).is_read_closed());
        assert!(!ev(libc::EPOLLRDHUP).is_read_closed());
        assert!(ev(libc::EPOLLOUT | libc::EPOLLERR).is_write_closed());
        assert!(!ev(libc::EPOLLIN | libc::EPOLLOUT).is_write_closed());
        assert_eq!(
            EpollEvent::new(0, Token(usize::MAX - 1)).token(),
            Token(usize::MAX - 1)
        );
    }

    #[test]
    fn interest_flags() {
        let f = flags(Interest::READABLE) as i32;
        assert!(f & libc::EPOLLET != 0 && f & libc::EPOLLIN != 0 && f & libc::EPOLLOUT == 0);
        let f = flags(Interest::WRITABLE | Interest::PRIORITY) as i32;
        assert!(f & libc::EPOLLOUT != 0 && f & libc::EPOLLPRI != 0 && f & libc::EPOLLIN == 0);
    }
}
