//! A notification fd: something one thread writes to make another's poll(2)
//! return. An eventfd on Linux and Android (one fd, 8-byte counter), a
//! non-blocking pipe elsewhere. Both ends are close-on-exec.

use super::{cvt, Fd};
use crate::io;

#[derive(Debug)]
pub(crate) struct Notify {
    read: Fd,
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    write: Fd,
}

impl Notify {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn new() -> io::Result<Notify> {
        // SAFETY: eventfd takes an initial value and flags; returns a new fd or -1.
        let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        Ok(Notify {
            read: Fd::from_raw(fd),
        })
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) fn new() -> io::Result<Notify> {
        let mut fds = [-1 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
        cvt(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
        let (read, write) = (Fd::from_raw(fds[0]), Fd::from_raw(fds[1]));
        for fd in fds {
            // SAFETY: fcntl on descriptors we own, with int arguments.
            unsafe {
                cvt(libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC))?;
                let fl = cvt(libc::fcntl(fd, libc::F_GETFL))?;
                cvt(libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK))?;
            }
        }
        Ok(Notify { read, write })
    }

    /// The fd to poll for readability.
    pub(crate) fn fd(&self) -> libc::c_int {
        self.read.raw()
    }

    /// A descriptor to signal with from elsewhere (a `Waker`).
    pub(crate) fn writer(&self) -> io::Result<Fd> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        return self.read.try_clone();
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        return self.write.try_clone();
    }

    /// Makes the fd readable.
    // Only the table core's hand-off between threads signals (with std).
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn signal(&self) -> io::Result<()> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        return signal_fd(self.read.raw());
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        return signal_fd(self.write.raw());
    }

    /// Consumes every pending signal, so the fd is no longer readable.
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: reads into a local buffer of the length given.
            let n = unsafe {
                super::syscall::read(self.read.raw(), buf.as_mut_ptr().cast(), buf.len())
            };
            // An eventfd is emptied by one read; a pipe may need more.
            if n <= 0 || cfg!(any(target_os = "linux", target_os = "android")) {
                break;
            }
        }
    }
}

/// Signals a notification descriptor made by [`Notify::writer`].
pub(crate) fn signal_fd(fd: libc::c_int) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return super::eventfd_signal(fd);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let byte = 1u8;
        // SAFETY: writes one byte from a local.
        let n = unsafe { super::syscall::write(fd, (&byte as *const u8).cast(), 1) };
        if n < 0 {
            let err = super::syscall::error(n);
            // A full pipe is already readable: the signal is not lost.
            if err.kind() != io::ErrorKind::WouldBlock {
                return Err(err);
            }
        }
        Ok(())
    }
}
