//! Unix pipes as readiness sources: mio 1.x's `mio::unix::pipe`.
//!
//! [`new`] makes a pipe whose two ends are a [`Sender`] and a [`Receiver`],
//! both non-blocking and close-on-exec. Either end can also be made from a
//! child process's piped stdio (`From<ChildStdin>`, `From<ChildStdout>`,
//! `From<ChildStderr>`) or from any fd that is a pipe end (`FromRawFd`,
//! `From<OwnedFd>`); those are used as they are, so make them non-blocking
//! with `set_nonblocking(true)` before registering them.
//!
//! Each end is an [`IoSource`] around the fd, as the `net` types are: an
//! operation that returns [`WouldBlock`](io::ErrorKind::WouldBlock), or a
//! read or write that moves fewer bytes than it was given, re-arms its
//! direction on backends that emulate edges (poll(2)), and an end dropped
//! while registered ends its registration; so a pipe works on every Unix
//! backend without `reregister`.
//!
//! Nothing here blocks, retries or allocates per operation: every result is
//! the OS's. A write to a pipe whose reading end is closed fails with
//! `BrokenPipe` where `SIGPIPE` is ignored (as in every Rust program's
//! `main`); elsewhere the signal is raised, as with any pipe.
//!
//! # Examples
//!
//! ```
//! use rouse::unix::pipe;
//! use rouse::{Events, Interest, Poll, Token};
//! use std::io::{Read, Write};
//!
//! let mut poll = Poll::new()?;
//! let mut events = Events::with_capacity(8);
//! let (mut sender, mut receiver) = pipe::new()?;
//! poll.registry().register(&mut receiver, Token(0), Interest::READABLE)?;
//!
//! sender.write_all(b"ping")?;
//! let mut buf = [0; 4];
//! let mut got = 0;
//! while got < 4 {
//!     match receiver.read(&mut buf[got..]) {
//!         Ok(n) => got += n,
//!         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
//!             poll.poll(&mut events, None)?;
//!         }
//!         Err(e) => return Err(e),
//!     }
//! }
//! assert_eq!(&buf, b"ping");
//!
//! // Closing the sending end is a read-closed event; reads then return 0.
//! drop(sender);
//! poll.poll(&mut events, None)?;
//! assert!(events.iter().any(|e| e.is_read_closed()));
//! assert_eq!(receiver.read(&mut buf)?, 0);
//! # Ok::<(), rouse::io::Error>(())
//! ```

use std::fmt;
use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::process::{ChildStderr, ChildStdin, ChildStdout};

use crate::event::{IoSource, Source};
use crate::sys::unix::cvt;
use crate::sys::Selector;
use crate::{Interest, Registry, Token};

/// Creates a pipe: the [`Sender`] writes into it, the [`Receiver`] reads
/// from it. Both ends are non-blocking and close-on-exec (atomically with
/// `pipe2(2)` where the OS has it; elsewhere `pipe(2)` then `fcntl(2)`,
/// so a `fork` on another thread in between may inherit them).
///
/// Register the receiver for [`Interest::READABLE`] and the sender for
/// [`Interest::WRITABLE`]; closing the other end is reported as
/// `is_read_closed` (receiver) and `is_write_closed` or `is_error`
/// (sender). See the [module](self) docs for an example.
pub fn new() -> io::Result<(Sender, Receiver)> {
    let [read, write] = new_raw()?;
    Ok((
        Sender::from_file(File::from(write)),
        Receiver::from_file(File::from(read)),
    ))
}

/// `pipe2(2)` with `O_NONBLOCK | O_CLOEXEC`: the read end, then the write end.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "illumos",
    target_os = "solaris",
    target_os = "redox",
    target_os = "fuchsia",
    target_os = "hurd",
    target_os = "emscripten",
))]
fn new_raw() -> io::Result<[OwnedFd; 2]> {
    let mut fds: [libc::c_int; 2] = [-1, -1];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 succeeded, so both are new descriptors owned by no one.
    Ok(unsafe { [OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])] })
}

/// `pipe(2)`, then close-on-exec and non-blocking set on each end (the OS
/// has no `pipe2`). Both descriptors are owned before any flag is set, so
/// an error closes them.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "illumos",
    target_os = "solaris",
    target_os = "redox",
    target_os = "fuchsia",
    target_os = "hurd",
    target_os = "emscripten",
)))]
fn new_raw() -> io::Result<[OwnedFd; 2]> {
    let mut fds: [libc::c_int; 2] = [-1, -1];
    // SAFETY: `fds` has room for the two descriptors pipe writes.
    cvt(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
    // SAFETY: pipe succeeded, so both are new descriptors owned by no one.
    let fds = unsafe { [OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])] };
    for fd in &fds {
        // SAFETY: fcntl on a descriptor we own; F_SETFD takes an int.
        cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
        set_nonblocking(fd.as_raw_fd(), true)?;
    }
    Ok(fds)
}

/// Sets or clears `O_NONBLOCK` on `fd`, leaving its other status flags.
fn set_nonblocking(fd: RawFd, nonblocking: bool) -> io::Result<()> {
    // SAFETY: F_GETFL only reads the status flags of a descriptor the
    // caller owns or borrows.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    let wanted = if nonblocking {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if wanted != flags {
        // SAFETY: F_SETFL takes an int of status flags; the fd is as above.
        cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, wanted) })?;
    }
    Ok(())
}

/// The writing end of a pipe.
///
/// Made by [`new`], from a child's stdin (`From<ChildStdin>`) or from an
/// fd. Writes that return [`WouldBlock`](io::ErrorKind::WouldBlock), or
/// take less than they were given, re-arm [`Interest::WRITABLE`] on
/// backends that emulate edges.
pub struct Sender {
    inner: IoSource<File>,
}

impl Sender {
    fn from_file(file: File) -> Sender {
        Sender {
            inner: IoSource::new(file),
        }
    }

    /// Puts this end into non-blocking mode (`true`) or takes it out of it.
    ///
    /// An end made by [`new`] is non-blocking already; one made from a
    /// child's stdin or an fd is as it was handed in. A blocking end would
    /// block the event loop.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        set_nonblocking(self.as_raw_fd(), nonblocking)
    }

    /// Runs `f`, an operation of the caller's own on this end's fd (a system
    /// call rouse has no method for), re-arming [`Interest::WRITABLE`] if it
    /// returns [`WouldBlock`](io::ErrorKind::WouldBlock).
    ///
    /// `f` must not block, and must report `WouldBlock` only when the pipe
    /// returned `EAGAIN`, or readiness may be lost.
    pub fn try_io<F, T>(&self, f: F) -> io::Result<T>
    where
        F: FnOnce() -> io::Result<T>,
    {
        self.inner.do_io(Interest::WRITABLE, |_| f())
    }
}

impl Write for Sender {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    #[inline]
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl Write for &Sender {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.inner).write(buf)
    }

    #[inline]
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&self.inner).write_vectored(bufs)
    }

    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        (&self.inner).flush()
    }
}

/// Takes the child's stdin pipe as it is (blocking, as `std::process`
/// makes it): call [`set_nonblocking(true)`](Sender::set_nonblocking)
/// before registering it.
impl From<ChildStdin> for Sender {
    fn from(stdin: ChildStdin) -> Sender {
        Sender::from(OwnedFd::from(stdin))
    }
}

/// The reading end of a pipe.
///
/// Made by [`new`], from a child's stdout or stderr (`From<ChildStdout>`,
/// `From<ChildStderr>`) or from an fd. Reads that return
/// [`WouldBlock`](io::ErrorKind::WouldBlock), or fewer bytes than asked
/// for, re-arm [`Interest::READABLE`] on backends that emulate edges.
pub struct Receiver {
    inner: IoSource<File>,
}

impl Receiver {
    fn from_file(file: File) -> Receiver {
        Receiver {
            inner: IoSource::new(file),
        }
    }

    /// Puts this end into non-blocking mode (`true`) or takes it out of it.
    ///
    /// An end made by [`new`] is non-blocking already; one made from a
    /// child's stdout or stderr or an fd is as it was handed in. A
    /// blocking end would block the event loop.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        set_nonblocking(self.as_raw_fd(), nonblocking)
    }

    /// Runs `f`, an operation of the caller's own on this end's fd (a system
    /// call rouse has no method for), re-arming [`Interest::READABLE`] if it
    /// returns [`WouldBlock`](io::ErrorKind::WouldBlock).
    ///
    /// `f` must not block, and must report `WouldBlock` only when the pipe
    /// returned `EAGAIN`, or readiness may be lost.
    pub fn try_io<F, T>(&self, f: F) -> io::Result<T>
    where
        F: FnOnce() -> io::Result<T>,
    {
        self.inner.do_io(Interest::READABLE, |_| f())
    }
}

impl Read for Receiver {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    #[inline]
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Read for &Receiver {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.inner).read(buf)
    }

    #[inline]
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&self.inner).read_vectored(bufs)
    }
}

/// Takes the child's stdout pipe as it is (blocking, as `std::process`
/// makes it): call [`set_nonblocking(true)`](Receiver::set_nonblocking)
/// before registering it.
impl From<ChildStdout> for Receiver {
    fn from(stdout: ChildStdout) -> Receiver {
        Receiver::from(OwnedFd::from(stdout))
    }
}

/// Takes the child's stderr pipe as it is (blocking, as `std::process`
/// makes it): call [`set_nonblocking(true)`](Receiver::set_nonblocking)
/// before registering it.
impl From<ChildStderr> for Receiver {
    fn from(stderr: ChildStderr) -> Receiver {
        Receiver::from(OwnedFd::from(stderr))
    }
}

/// `Source` (by delegation to the `IoSource`), the fd conversions and
/// `Debug` of a pipe end `$ty`, whose `inner` is an `IoSource<File>` and
/// which is made from a `File` by `$ty::from_file`.
macro_rules! impl_pipe_end {
    ($ty:ident) => {
        impl<S: Selector<Raw = RawFd>> Source<S> for $ty {
            #[inline]
            fn register(
                &mut self,
                registry: &Registry<S>,
                token: Token,
                interests: Interest,
            ) -> io::Result<()> {
                self.inner.register(registry, token, interests)
            }

            #[inline]
            fn reregister(
                &mut self,
                registry: &Registry<S>,
                token: Token,
                interests: Interest,
            ) -> io::Result<()> {
                self.inner.reregister(registry, token, interests)
            }

            #[inline]
            fn deregister(&mut self, registry: &Registry<S>) -> io::Result<()> {
                self.inner.deregister(registry)
            }
        }

        impl AsRawFd for $ty {
            #[inline]
            fn as_raw_fd(&self) -> RawFd {
                self.inner.get_ref().as_raw_fd()
            }
        }

        impl AsFd for $ty {
            #[inline]
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.inner.get_ref().as_fd()
            }
        }

        impl IntoRawFd for $ty {
            fn into_raw_fd(self) -> RawFd {
                self.inner.into_inner().into_raw_fd()
            }
        }

        /// Takes the pipe end as it is: make it non-blocking before
        /// registering it.
        impl FromRawFd for $ty {
            unsafe fn from_raw_fd(fd: RawFd) -> $ty {
                // SAFETY: the caller guarantees `fd` is an open pipe end that
                // nothing else owns, as this trait requires; `File` takes
                // over that ownership.
                $ty::from_file(unsafe { File::from_raw_fd(fd) })
            }
        }

        /// Takes the pipe end as it is: make it non-blocking before
        /// registering it.
        impl From<OwnedFd> for $ty {
            fn from(fd: OwnedFd) -> $ty {
                $ty::from_file(File::from(fd))
            }
        }

        impl From<$ty> for OwnedFd {
            fn from(end: $ty) -> OwnedFd {
                end.inner.into_inner().into()
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("fd", &self.as_raw_fd())
                    .finish()
            }
        }
    };
}

impl_pipe_end!(Sender);
impl_pipe_end!(Receiver);
