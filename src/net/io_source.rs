//! `IoSource`: a socket plus what it needs to be a readiness source.
//!
//! Every net type wraps one. It registers the socket's fd with a backend
//! and keeps the re-arm handle ([`Arm`]) the backend hands back, so that
//! an operation meeting `WouldBlock` re-arms its direction on backends that
//! emulate edge triggering (poll(2)). Backends whose kernel reports edges
//! (epoll) hand out no `Arm`, and then an operation costs one branch more
//! than the bare std call.
//!
//! It must never block, retry, allocate or change a result: the only side
//! effect it adds to an operation is the re-arm after `WouldBlock`.

use std::io;
#[cfg(not(windows))]
use std::os::fd::AsRawFd as AsRawSocketHandle;
#[cfg(windows)]
use std::os::windows::io::AsRawSocket as AsRawSocketHandle;

use crate::event::Source;
use crate::net::RawSocketHandle;
use crate::sys::{Arm, Selector};
use crate::{Interest, Registry, Token};

/// A socket `T` that can be registered, and re-arms itself after
/// `WouldBlock` where the backend needs it.
pub(crate) struct IoSource<T> {
    inner: T,
    arm: Option<Arm>,
}

impl<T> IoSource<T> {
    /// Wraps `inner`, not yet registered.
    pub(crate) fn new(inner: T) -> IoSource<T> {
        IoSource { inner, arm: None }
    }

    /// The socket, for operations that cannot return `WouldBlock`
    /// (addresses, options).
    #[inline]
    pub(crate) fn get(&self) -> &T {
        &self.inner
    }

    /// The socket, giving up the registration's re-arm handle.
    pub(crate) fn into_inner(self) -> T {
        self.inner
    }

    /// Re-arms `interest` after `err` if it is `WouldBlock` and the
    /// backend needs it. Out of line: the successful path of an operation
    /// stays a few instructions around the system call.
    #[cold]
    #[inline(never)]
    fn after_error(&self, err: &io::Error, interest: Interest) {
        if let Some(arm) = &self.arm {
            if err.kind() == io::ErrorKind::WouldBlock {
                arm.rearm(interest);
            }
        }
    }

    /// Runs the operation `f` on the socket; if it fails with `WouldBlock`,
    /// re-arms `interest` (the direction `f` waits for) on backends that
    /// need it. Returns `f`'s result unchanged.
    #[inline]
    pub(crate) fn do_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let result = f(&self.inner);
        if let Err(err) = &result {
            self.after_error(err, interest);
        }
        result
    }
}

/// Reads and writes of the stream sockets (TCP, Unix).
///
/// On Linux and Android they are one `recv(2)` / `send(2)` each, with the
/// flags std uses for sockets (none for `recv`, `MSG_NOSIGNAL` for `send`,
/// so a closed peer is `BrokenPipe`, not `SIGPIPE`) and the error path out
/// of line: the same system calls as std's `Read`/`Write` for its sockets,
/// without the layers between (`ci/bench` counts the difference). Elsewhere
/// they are std's own.
impl<T> IoSource<T>
where
    for<'a> &'a T: io::Read + io::Write,
    T: AsRawSocketHandle,
{
    /// Reads into `buf`: `Ok(0)` at end of stream.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[inline]
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // Lengths past isize::MAX are not valid for recv's ssize_t result.
        let len = buf.len().min(isize::MAX as usize);
        // SAFETY: `buf` is valid for writes of `len` bytes for the length
        // of the call; the fd is the socket this value owns, open while
        // `self` is borrowed.
        let n = unsafe { libc::recv(raw(&self.inner), buf.as_mut_ptr().cast(), len, 0) };
        if n >= 0 {
            Ok(n as usize)
        } else {
            Err(self.os_error(Interest::READABLE))
        }
    }

    /// Writes from `buf`, returning how much was taken.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[inline]
    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        let len = buf.len().min(isize::MAX as usize);
        // SAFETY: `buf` is valid for reads of `len` bytes for the length of
        // the call; the fd is the socket this value owns, open while `self`
        // is borrowed.
        let n = unsafe {
            libc::send(
                raw(&self.inner),
                buf.as_ptr().cast(),
                len,
                libc::MSG_NOSIGNAL,
            )
        };
        if n >= 0 {
            Ok(n as usize)
        } else {
            Err(self.os_error(Interest::WRITABLE))
        }
    }

    /// The error of the system call that just failed (`errno`), after the
    /// re-arm it may call for.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[cold]
    #[inline(never)]
    fn os_error(&self, interest: Interest) -> io::Error {
        let err = io::Error::last_os_error();
        self.after_error(&err, interest);
        err
    }

    /// Reads into `buf`: `Ok(0)` at end of stream.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    #[inline]
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.do_io(Interest::READABLE, |mut s| io::Read::read(&mut s, buf))
    }

    /// Writes from `buf`, returning how much was taken.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    #[inline]
    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.do_io(Interest::WRITABLE, |mut s| io::Write::write(&mut s, buf))
    }
}

impl<S, T> Source<S> for IoSource<T>
where
    S: Selector<Raw = RawSocketHandle>,
    T: AsRawSocketHandle,
{
    fn register(
        &mut self,
        registry: &Registry<S>,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        let fd = raw(&self.inner);
        self.arm = registry.selector().register_armed(fd, token, interests)?;
        Ok(())
    }

    fn reregister(
        &mut self,
        registry: &Registry<S>,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        let fd = raw(&self.inner);
        self.arm = registry.selector().reregister_armed(fd, token, interests)?;
        Ok(())
    }

    fn deregister(&mut self, registry: &Registry<S>) -> io::Result<()> {
        registry.selector().deregister(raw(&self.inner))?;
        self.arm = None;
        Ok(())
    }
}

/// The OS handle of `socket`.
#[cfg(not(windows))]
#[inline]
fn raw(socket: &impl AsRawSocketHandle) -> RawSocketHandle {
    socket.as_raw_fd()
}

/// The OS handle of `socket`.
#[cfg(windows)]
#[inline]
fn raw(socket: &impl AsRawSocketHandle) -> RawSocketHandle {
    socket.as_raw_socket()
}
