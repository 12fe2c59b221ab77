//! The system calls on rouse's hot paths (a selector's wait, a wake, the
//! stream sockets' reads, writes and accepts), in one place.
//!
//! On glibc each of these is a thread-cancellation point. In a process with
//! more than one thread, glibc's wrapper brackets the system call with two
//! calls that switch the thread's cancellation state, which cost more than
//! the rest of a `Poll::poll` (about 45 instructions per call, counted with
//! callgrind). rouse's calls are never meant to be cancelled:
//! `pthread_cancel` unwinding through Rust frames is undefined behaviour
//! anyway. So where `build.rs` sets `rouse_raw_syscalls` (glibc on 64-bit
//! x86, ARM and RISC-V Linux), rouse makes them itself with the
//! architecture's system call instruction (module `raw`): the same system calls
//! without the bookkeeping, the call into libc or the trip through `errno`.
//! The calls used there exist with the same arguments on those three
//! architectures on every kernel Rust supports. Everywhere else, and under
//! Miri and the sanitizers (which model libc's functions, not the
//! instruction), they are the libc functions, whose cancellation support
//! costs little (musl) or nothing (bionic, the BSDs, macOS), or where the
//! kernel's calls differ by architecture and kernel version.
//!
//! What a user can notice: on those targets a library preloaded to replace
//! libc's `epoll_wait`, `poll`, `recv`, `send`, `accept4`, `read` or
//! `write` (`LD_PRELOAD` interposition, as kernel-bypass network stacks
//! do) does not see rouse's calls. Building with the environment variable
//! `ROUSE_LIBC_CALLS=1` makes rouse call the libc functions there too.
//! `strace` shows `epoll_pwait`, `ppoll`, `recvfrom` and `sendto` for
//! them, with a null signal mask and address.
//!
//! Each function has its libc namesake's contract and returns what the
//! kernel does: the result, or the error as a negative `errno` value
//! ([`check`] makes that an `io::Result`).

#![allow(dead_code)] // Which of them a build uses depends on its features.

use core::time::Duration;

use libc::{c_int, c_void, size_t};

#[cfg(rouse_raw_syscalls)]
use self::raw::{syscall3, syscall4, syscall5, syscall6};
use crate::io;

/// A system call's result as an `io::Result`: a negative value is the
/// error `-ret`.
#[inline]
pub(crate) fn check(ret: isize) -> io::Result<usize> {
    if ret >= 0 {
        Ok(ret as usize)
    } else {
        Err(error(ret))
    }
}

/// The error of a failed call's result `ret` (`-errno`): with `std` a few
/// instructions (std packs the code into the error), so it is inline.
#[inline]
pub(crate) fn error(ret: isize) -> io::Error {
    super::os_error(-ret as i32)
}

/// A libc call's result in the kernel's convention: `-errno` for `-1`.
#[cfg(not(rouse_raw_syscalls))]
#[inline]
fn kernel_style(ret: isize) -> isize {
    if ret == -1 {
        -(super::errno() as isize)
    } else {
        ret
    }
}

/// `epoll_wait(2)` (raw: `epoll_pwait` with no signal mask, which is
/// `epoll_wait`; the mask's size is then not looked at).
///
/// # Safety
/// `events` must be valid for writes of `max` `epoll_event`s.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
pub(crate) unsafe fn epoll_wait(
    epfd: c_int,
    events: *mut libc::epoll_event,
    max: c_int,
    timeout: c_int,
) -> isize {
    // SAFETY: the caller vouches for `events`; the raw call's other
    // arguments are widened to a register's width as the kernel reads them.
    #[cfg(rouse_raw_syscalls)]
    unsafe {
        syscall5(
            libc::SYS_epoll_pwait as usize,
            epfd as usize,
            events as usize,
            max as usize,
            timeout as isize as usize,
            0,
        )
    }
    #[cfg(not(rouse_raw_syscalls))]
    // SAFETY: the caller vouches for the pointers, as above.
    kernel_style(unsafe { libc::epoll_wait(epfd, events, max, timeout) } as isize)
}

/// `poll(2)`: `None` waits with no timeout, anything else is rounded up to
/// a millisecond (see [`timeout_ms`](crate::sys::timeout_ms)), so a 1 ns
/// timeout waits instead of spinning, as on every backend. (Raw: `ppoll`
/// with no signal mask, given the rounded timeout as a timespec.)
///
/// # Safety
/// `fds` must be valid for reads and writes of `nfds` `pollfd`s.
#[inline]
pub(crate) unsafe fn poll(
    fds: *mut libc::pollfd,
    nfds: libc::nfds_t,
    timeout: Option<Duration>,
) -> isize {
    #[cfg(rouse_raw_syscalls)]
    {
        // The kernel's timespec on these 64-bit targets: two 64-bit words,
        // seconds capped where they would turn negative (the kernel caps
        // what it adds to the clock).
        let mut ts = timeout.map(|t| {
            let secs = t.as_secs().min(i64::MAX as u64 - 1) as i64;
            match t.subsec_nanos().div_ceil(1_000_000) {
                1000 => [secs + 1, 0],
                ms => [secs, i64::from(ms) * 1_000_000],
            }
        });
        let tsp = match &mut ts {
            None => 0,
            Some(ts) => ts as *mut [i64; 2] as usize,
        };
        // SAFETY: `ts` outlives the call (the kernel may write the time
        // left into it); the caller vouches for `fds`.
        unsafe {
            syscall5(
                libc::SYS_ppoll as usize,
                fds as usize,
                nfds as usize,
                tsp,
                0,
                8,
            )
        }
    }
    #[cfg(not(rouse_raw_syscalls))]
    {
        let ms = crate::sys::timeout_ms(timeout);
        // SAFETY: the caller vouches for `fds`.
        kernel_style(unsafe { libc::poll(fds, nfds, ms) } as isize)
    }
}

/// `recv(2)` (raw: `recvfrom` with no address).
///
/// # Safety
/// `buf` must be valid for writes of `len` bytes.
#[inline]
pub(crate) unsafe fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> isize {
    // SAFETY: the caller vouches for `buf`.
    #[cfg(rouse_raw_syscalls)]
    unsafe {
        syscall6(
            libc::SYS_recvfrom as usize,
            fd as usize,
            buf as usize,
            len,
            flags as usize,
            0,
            0,
        )
    }
    #[cfg(not(rouse_raw_syscalls))]
    // SAFETY: the caller vouches for the pointers, as above.
    kernel_style(unsafe { libc::recv(fd, buf, len, flags) } as isize)
}

/// `send(2)` (raw: `sendto` with no address).
///
/// # Safety
/// `buf` must be valid for reads of `len` bytes.
#[inline]
pub(crate) unsafe fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> isize {
    // SAFETY: the caller vouches for `buf`.
    #[cfg(rouse_raw_syscalls)]
    unsafe {
        syscall6(
            libc::SYS_sendto as usize,
            fd as usize,
            buf as usize,
            len,
            flags as usize,
            0,
            0,
        )
    }
    #[cfg(not(rouse_raw_syscalls))]
    // SAFETY: the caller vouches for the pointers, as above.
    kernel_style(unsafe { libc::send(fd, buf, len, flags) } as isize)
}

/// `accept4(2)`.
///
/// # Safety
/// `addr` and `len` must be valid for writes, `*len` the size of `addr`.
#[cfg(rouse_sock_flags)]
#[inline]
pub(crate) unsafe fn accept4(
    fd: c_int,
    addr: *mut libc::sockaddr,
    len: *mut libc::socklen_t,
    flags: c_int,
) -> isize {
    // SAFETY: the caller vouches for the pointers.
    #[cfg(rouse_raw_syscalls)]
    unsafe {
        syscall4(
            libc::SYS_accept4 as usize,
            fd as usize,
            addr as usize,
            len as usize,
            flags as usize,
        )
    }
    #[cfg(not(rouse_raw_syscalls))]
    // SAFETY: the caller vouches for the pointers, as above.
    kernel_style(unsafe { libc::accept4(fd, addr, len, flags) } as isize)
}

/// `read(2)`.
///
/// # Safety
/// `buf` must be valid for writes of `len` bytes.
#[inline]
pub(crate) unsafe fn read(fd: c_int, buf: *mut c_void, len: size_t) -> isize {
    // SAFETY: the caller vouches for `buf`.
    #[cfg(rouse_raw_syscalls)]
    unsafe {
        syscall3(libc::SYS_read as usize, fd as usize, buf as usize, len)
    }
    #[cfg(not(rouse_raw_syscalls))]
    // SAFETY: the caller vouches for the pointers, as above.
    kernel_style(unsafe { libc::read(fd, buf, len) } as isize)
}

/// `write(2)`.
///
/// # Safety
/// `buf` must be valid for reads of `len` bytes.
#[inline]
pub(crate) unsafe fn write(fd: c_int, buf: *const c_void, len: size_t) -> isize {
    // SAFETY: the caller vouches for `buf`.
    #[cfg(rouse_raw_syscalls)]
    unsafe {
        syscall3(libc::SYS_write as usize, fd as usize, buf as usize, len)
    }
    #[cfg(not(rouse_raw_syscalls))]
    // SAFETY: the caller vouches for the pointers, as above.
    kernel_style(unsafe { libc::write(fd, buf, len) } as isize)
}

/// The system call instruction, per architecture: number and arguments in
/// the registers the kernel's ABI names, the result (or `-errno`) back.
/// No option says "no memory": the kernel reads and writes the buffers.
#[cfg(rouse_raw_syscalls)]
mod raw {
    use core::arch::asm;

    macro_rules! syscalls {
        ($($name:ident($($arg:ident),*);)*) => {$(
            /// Makes system call `nr` with these arguments.
            ///
            /// # Safety
            /// The arguments must be what that system call requires.
            #[inline(always)]
            pub(super) unsafe fn $name(nr: usize, $($arg: usize),*) -> isize {
                let ret: isize;
                // SAFETY: the caller vouches for the call and its
                // arguments; the asm clobbers only what the kernel's ABI
                // says a system call does.
                unsafe { syscall_asm!(nr, ret, $($arg),*) };
                ret
            }
        )*};
    }

    #[cfg(target_arch = "x86_64")]
    macro_rules! syscall_asm {
        ($nr:ident, $ret:ident, $a0:ident, $a1:ident, $a2:ident $(, $a3:ident $(, $a4:ident $(, $a5:ident)?)?)?) => {
            asm!(
                "syscall",
                inlateout("rax") $nr as isize => $ret,
                in("rdi") $a0,
                in("rsi") $a1,
                in("rdx") $a2,
                $(in("r10") $a3, $(in("r8") $a4, $(in("r9") $a5,)?)?)?
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack, preserves_flags),
            )
        };
    }

    #[cfg(target_arch = "aarch64")]
    macro_rules! syscall_asm {
        ($nr:ident, $ret:ident, $a0:ident, $a1:ident, $a2:ident $(, $a3:ident $(, $a4:ident $(, $a5:ident)?)?)?) => {
            asm!(
                "svc 0",
                in("x8") $nr,
                inlateout("x0") $a0 => $ret,
                in("x1") $a1,
                in("x2") $a2,
                $(in("x3") $a3, $(in("x4") $a4, $(in("x5") $a5,)?)?)?
                options(nostack, preserves_flags),
            )
        };
    }

    #[cfg(target_arch = "riscv64")]
    macro_rules! syscall_asm {
        ($nr:ident, $ret:ident, $a0:ident, $a1:ident, $a2:ident $(, $a3:ident $(, $a4:ident $(, $a5:ident)?)?)?) => {
            asm!(
                "ecall",
                in("a7") $nr,
                inlateout("a0") $a0 => $ret,
                in("a1") $a1,
                in("a2") $a2,
                $(in("a3") $a3, $(in("a4") $a4, $(in("a5") $a5,)?)?)?
                options(nostack, preserves_flags),
            )
        };
    }

    syscalls! {
        syscall3(a0, a1, a2);
        syscall4(a0, a1, a2, a3);
        syscall5(a0, a1, a2, a3, a4);
        syscall6(a0, a1, a2, a3, a4, a5);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each call gives its libc namesake's results, and its errors as
    /// `-errno`. (Not under Miri: it runs the libc path there, and its
    /// shims lack `POLLPRI` and bad-fd errors.)
    #[test]
    #[cfg_attr(miri, ignore)]
    fn same_results_as_libc() {
        let mut fds = [0 as c_int; 2];
        // SAFETY: socketpair writes two fds into `fds`.
        let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) };
        assert_eq!(r, 0);
        let (a, b) = (
            super::super::Fd::from_raw(fds[0]),
            super::super::Fd::from_raw(fds[1]),
        );
        let mut buf = [0u8; 8];
        // Nothing to read yet: EAGAIN, as recv(2) says.
        // SAFETY: `buf` is 8 writable bytes.
        let n = unsafe { recv(a.raw(), buf.as_mut_ptr().cast(), 8, libc::MSG_DONTWAIT) };
        assert_eq!(n, -(libc::EAGAIN as isize));
        assert_eq!(
            check(n).unwrap_err().kind(),
            crate::io::ErrorKind::WouldBlock
        );
        let mut pfd = libc::pollfd {
            fd: a.raw(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd.
        assert_eq!(unsafe { poll(&mut pfd, 1, Some(Duration::ZERO)) }, 0);
        // SAFETY: 3 readable bytes.
        assert_eq!(unsafe { send(b.raw(), b"abc".as_ptr().cast(), 3, 0) }, 3);
        // SAFETY: one pollfd; a finite timeout that readiness cuts short.
        assert_eq!(
            unsafe { poll(&mut pfd, 1, Some(Duration::from_secs(5))) },
            1
        );
        assert_eq!(pfd.revents & libc::POLLIN, libc::POLLIN);
        // SAFETY: `buf` is 8 writable bytes.
        assert_eq!(unsafe { read(a.raw(), buf.as_mut_ptr().cast(), 8) }, 3);
        assert_eq!(&buf[..3], b"abc");
        // SAFETY: 2 readable bytes.
        assert_eq!(unsafe { write(b.raw(), b"de".as_ptr().cast(), 2) }, 2);
        // SAFETY: `buf` is 8 writable bytes.
        assert_eq!(unsafe { recv(a.raw(), buf.as_mut_ptr().cast(), 8, 0) }, 2);
        // A bad fd: EBADF.
        // SAFETY: 1 readable byte; the fd number is never open.
        let n = unsafe { write(-1, b"x".as_ptr().cast(), 1) };
        assert_eq!(n, -(libc::EBADF as isize));
        assert_eq!(check(n).unwrap_err().raw_os_error(), Some(libc::EBADF));
        // A poll that times out reports nothing, an absurd timeout is
        // taken (nothing else is watched, so the ready fd ends it), and no
        // timeout at all waits for readiness.
        pfd.events = libc::POLLPRI;
        // SAFETY: one pollfd.
        assert_eq!(
            unsafe { poll(&mut pfd, 1, Some(Duration::from_micros(1))) },
            0
        );
        pfd.events = libc::POLLOUT;
        // SAFETY: one pollfd.
        assert_eq!(unsafe { poll(&mut pfd, 1, Some(Duration::MAX)) }, 1);
        // SAFETY: one pollfd.
        assert_eq!(unsafe { poll(&mut pfd, 1, None) }, 1);
    }

    /// epoll_wait's results and errors, where it exists.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    #[cfg_attr(miri, ignore)]
    fn epoll_wait_results() {
        // SAFETY: epoll_create1 returns a new fd or -1.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(ep >= 0);
        let ep = super::super::Fd::from_raw(ep);
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
        // SAFETY: 4 writable events.
        assert_eq!(
            unsafe { epoll_wait(ep.raw(), events.as_mut_ptr(), 4, 0) },
            0
        );
        // SAFETY: as above; the fd is not an epoll fd.
        let n = unsafe { epoll_wait(-1, events.as_mut_ptr(), 4, 0) };
        assert_eq!(n, -(libc::EBADF as isize));
    }
}
