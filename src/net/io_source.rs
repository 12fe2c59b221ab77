//! The stream sockets' reads and writes, through the socket's
//! [`IoSource`] so that they re-arm as every `IoSource` operation does.
//!
//! On Linux and Android they are one `recv(2)` / `send(2)` each, with the
//! flags std uses for sockets (none for `recv`, `MSG_NOSIGNAL` for `send`,
//! so a closed peer is `BrokenPipe`, not `SIGPIPE`) and the error path out
//! of line: the same system calls as std's `Read`/`Write` for its sockets,
//! without the layers between (`ci/bench` counts the difference).
//! Elsewhere they are std's own.

use std::io;
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::os::fd::AsRawFd;

use crate::event::IoSource;
#[cfg(any(target_os = "linux", target_os = "android"))]
use crate::sys::unix::syscall;
use crate::Interest;

#[cfg(not(any(target_os = "linux", target_os = "android")))]
impl<T> IoSource<T>
where
    for<'a> &'a T: io::Read + io::Write,
{
    /// Reads into `buf`: `Ok(0)` at end of stream.
    #[inline]
    pub(crate) fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.do_transfer(Interest::READABLE, buf.len(), |mut io| {
            io::Read::read(&mut io, buf)
        })
    }

    /// Writes from `buf`, returning how much was taken.
    #[inline]
    pub(crate) fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.do_transfer(Interest::WRITABLE, buf.len(), |mut io| {
            io::Write::write(&mut io, buf)
        })
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl<T: AsRawFd> IoSource<T> {
    /// Reads into `buf`: `Ok(0)` at end of stream.
    #[inline]
    pub(crate) fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // Lengths past isize::MAX are not valid for recv's ssize_t result.
        let len = buf.len().min(isize::MAX as usize);
        // SAFETY: `buf` is valid for writes of `len` bytes for the length
        // of the call; the fd is the socket this value owns, open while
        // `self` is borrowed.
        let n =
            unsafe { syscall::recv(self.get_ref().as_raw_fd(), buf.as_mut_ptr().cast(), len, 0) };
        if n >= 0 {
            self.after_io(n as usize, len, Interest::READABLE);
            Ok(n as usize)
        } else {
            Err(self.os_error(n, Interest::READABLE))
        }
    }

    /// Writes from `buf`, returning how much was taken.
    #[inline]
    pub(crate) fn send(&self, buf: &[u8]) -> io::Result<usize> {
        let len = buf.len().min(isize::MAX as usize);
        // SAFETY: `buf` is valid for reads of `len` bytes for the length of
        // the call; the fd is the socket this value owns, open while `self`
        // is borrowed.
        let n = unsafe {
            syscall::send(
                self.get_ref().as_raw_fd(),
                buf.as_ptr().cast(),
                len,
                libc::MSG_NOSIGNAL,
            )
        };
        if n >= 0 {
            self.after_io(n as usize, len, Interest::WRITABLE);
            Ok(n as usize)
        } else {
            Err(self.os_error(n, Interest::WRITABLE))
        }
    }

    /// The error of the system call that just failed with `ret` (`-errno`),
    /// after the re-arm it may call for.
    #[cold]
    #[inline(never)]
    fn os_error(&self, ret: isize, interest: Interest) -> io::Error {
        let err = syscall::error(ret);
        self.after_error(&err, interest);
        err
    }
}
