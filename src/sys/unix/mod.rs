//! What the Unix backends share: `SourceFd`, syscall error handling, the
//! notification fd (eventfd where it exists, a pipe elsewhere).

mod source_fd;
pub(crate) mod syscall;
pub use self::source_fd::SourceFd;

#[cfg(feature = "poll")]
pub(crate) mod notify;

use crate::io;

/// Turns a `-1` syscall return into the thread's `errno` error.
#[inline]
pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(last_error())
    } else {
        Ok(ret)
    }
}

/// The error for the current `errno`.
#[cold]
pub(crate) fn last_error() -> io::Error {
    // With std, std's own constructor: reading the code back out of it and
    // building a second error would be the same error, in more code.
    #[cfg(feature = "std")]
    {
        std::io::Error::last_os_error()
    }
    #[cfg(not(feature = "std"))]
    {
        io::os_error(errno())
    }
}

/// The error with OS error code `code` (an `errno` value).
#[inline]
pub(crate) fn os_error(code: i32) -> io::Error {
    #[cfg(feature = "std")]
    {
        std::io::Error::from_raw_os_error(code)
    }
    #[cfg(not(feature = "std"))]
    {
        io::os_error(code)
    }
}

/// The calling thread's `errno`: for `last_error` without std, and where
/// `syscall` calls libc's functions.
#[cfg(any(not(feature = "std"), not(rouse_raw_syscalls)))]
fn errno() -> i32 {
    // SAFETY: the errno location is valid for the calling thread for its
    // whole life; reading it has no side effect.
    unsafe { *errno_location() }
}

#[cfg(any(not(feature = "std"), not(rouse_raw_syscalls)))]
unsafe fn errno_location() -> *mut libc::c_int {
    cfg_if::cfg_if! {
        if #[cfg(any(target_os = "linux", target_os = "redox", target_os = "dragonfly", target_os = "fuchsia"))] {
            // SAFETY: always callable; returns the thread's errno slot.
            unsafe { libc::__errno_location() }
        } else if #[cfg(any(target_os = "android", target_os = "netbsd", target_os = "openbsd"))] {
            // SAFETY: always callable; returns the thread's errno slot.
            unsafe { libc::__errno() }
        } else if #[cfg(any(target_os = "solaris", target_os = "illumos"))] {
            // SAFETY: always callable; returns the thread's errno slot.
            unsafe { libc::___errno() }
        } else {
            // SAFETY: always callable; returns the thread's errno slot.
            unsafe { libc::__error() }
        }
    }
}

/// A file descriptor rouse owns and closes on drop (without needing std's
/// `OwnedFd`, so the no-std build has it too).
#[derive(Debug)]
pub(crate) struct Fd(libc::c_int);

impl Fd {
    /// Takes ownership of `fd`, which must be open and owned by no one else.
    pub(crate) fn from_raw(fd: libc::c_int) -> Fd {
        Fd(fd)
    }

    pub(crate) fn raw(&self) -> libc::c_int {
        self.0
    }

    /// A new descriptor for the same open file, close-on-exec.
    pub(crate) fn try_clone(&self) -> io::Result<Fd> {
        // SAFETY: fcntl on an fd we own; F_DUPFD_CLOEXEC takes an int argument.
        let fd = cvt(unsafe { libc::fcntl(self.0, libc::F_DUPFD_CLOEXEC, 0) })?;
        Ok(Fd(fd))
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor and nothing uses it after drop. The
        // result is ignored: the descriptor is released even on EINTR.
        unsafe { libc::close(self.0) };
    }
}

/// Adds one to an eventfd's counter, making it readable. If the counter is
/// at its maximum (only after ~2^64 unread signals) it is read to zero and
/// written again, so the signal is never dropped.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
pub(crate) fn eventfd_signal(fd: libc::c_int) -> io::Result<()> {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a local u64, as eventfd requires.
    let n = unsafe { syscall::write(fd, (&one as *const u64).cast(), 8) };
    if n == 8 {
        return Ok(());
    }
    eventfd_signal_retry(fd, n)
}

/// The rest of [`eventfd_signal`] after a write that did not take:
/// out of line, so a wake is a few instructions around one `write`.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[cold]
#[inline(never)]
fn eventfd_signal_retry(fd: libc::c_int, mut n: isize) -> io::Result<()> {
    let one: u64 = 1;
    loop {
        let err = syscall::error(n.min(-1));
        match err.kind() {
            io::ErrorKind::WouldBlock => {
                let mut sink: u64 = 0;
                // SAFETY: reads 8 bytes into a local u64.
                unsafe { syscall::read(fd, (&mut sink as *mut u64).cast(), 8) };
            }
            io::ErrorKind::Interrupted => {}
            _ => return Err(err),
        }
        // SAFETY: writes 8 bytes from a local u64, as eventfd requires.
        n = unsafe { syscall::write(fd, (&one as *const u64).cast(), 8) };
        if n == 8 {
            return Ok(());
        }
    }
}

/// The monotonic clock, for deadlines inside a backend's wait loop.
#[cfg(feature = "poll")]
pub(crate) fn monotonic_now() -> core::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    // `tv_nsec` is below a second; saying so lets `Duration::new` drop its
    // carry (and its panic path).
    core::time::Duration::new(ts.tv_sec as u64, (ts.tv_nsec as u32).min(999_999_999))
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;

    /// A signal is never dropped, even with the counter at its maximum
    /// (the write fails with EAGAIN; the retry path reads and writes again).
    #[test]
    fn eventfd_signal_survives_a_full_counter() {
        // SAFETY: eventfd takes an initial value and flags; returns an fd or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        assert!(fd >= 0);
        let fd = Fd::from_raw(fd);
        let max: u64 = u64::MAX - 1;
        // SAFETY: writes 8 bytes from a local u64 to our eventfd.
        let n = unsafe { libc::write(fd.raw(), (&max as *const u64).cast(), 8) };
        assert_eq!(n, 8);
        eventfd_signal(fd.raw()).unwrap();
        let mut value: u64 = 0;
        // SAFETY: reads 8 bytes into a local u64 from our eventfd.
        let n = unsafe { libc::read(fd.raw(), (&mut value as *mut u64).cast(), 8) };
        assert_eq!(n, 8);
        assert_eq!(value, 1, "the signal after the reset is there");
        eventfd_signal(fd.raw()).unwrap();
        // SAFETY: as above.
        let n = unsafe { libc::read(fd.raw(), (&mut value as *mut u64).cast(), 8) };
        assert_eq!((n, value), (8, 1));
    }
}
