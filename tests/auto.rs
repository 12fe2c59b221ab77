//! `AutoSelector`'s choice of backend. The generic behaviour tests run on
//! it in both modes (`backend_tests!`: `auto_epoll`, `auto_poll`); this file
//! checks that `new()` picks epoll where the kernel has it and falls back to
//! poll(2) where `epoll_create1` fails with `ENOSYS`, as on a kernel built
//! without epoll. A seccomp filter on one test thread makes that kernel.
#![cfg(all(
    feature = "epoll",
    feature = "poll",
    any(target_os = "linux", target_os = "android")
))]

use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::Duration;

use rouse::sys::{AutoSelector, EpollSelector, Selector};
use rouse::unix::SourceFd;
use rouse::{Events, Interest, Poll, Token};

#[test]
fn new_uses_epoll_where_the_kernel_has_it() {
    let selector = AutoSelector::<8>::new().unwrap();
    assert!(selector.is_epoll(), "{selector:?}");
    assert!(!AutoSelector::<8>::new_poll().unwrap().is_epoll());
}

/// Makes `epoll_create1` fail with `ENOSYS` on the calling thread (and
/// threads it starts); other threads are untouched. Returns the error if
/// the filter cannot be installed.
fn deny_epoll_on_this_thread() -> std::io::Result<()> {
    let nr = libc::SYS_epoll_create1 as u32;
    let mut filter = [
        // A = seccomp_data.nr
        libc::sock_filter {
            code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            jt: 0,
            jf: 0,
            k: 0,
        },
        // if A == nr: next, else skip one
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: nr,
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: prctl with integer arguments; no_new_privs only restricts
    // this thread (required for an unprivileged seccomp filter).
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `prog` points at `filter`, both alive for the call; the
    // kernel copies the program. Without TSYNC it applies to this thread.
    let ret = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const libc::sock_fprog,
            0,
            0,
        )
    };
    if ret != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[test]
fn new_falls_back_to_poll_when_epoll_is_enosys() {
    let outcome = std::thread::spawn(|| -> std::io::Result<()> {
        deny_epoll_on_this_thread()?;
        // The filter works: epoll itself is gone on this thread.
        let err = EpollSelector::new().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSYS), "{err}");

        let selector = AutoSelector::<8>::new().expect("the poll(2) fallback");
        assert!(!selector.is_epoll(), "{selector:?}");

        // And it works: a readable event arrives through the fallback.
        let mut poll = Poll::with_selector(selector);
        let mut events = Events::<AutoSelector<8>, 4>::new();
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        poll.registry()
            .register(&mut SourceFd(&a.as_raw_fd()), Token(3), Interest::READABLE)
            .unwrap();
        b.write_all(b"x").unwrap();
        poll.poll(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        let event = events.iter().next().expect("an event");
        assert_eq!(event.token(), Token(3));
        assert!(event.is_readable() && !event.is_writable());
        Ok(())
    })
    .join()
    .expect("the test thread");
    if let Err(e) = outcome {
        // EINVAL: the kernel (or qemu-user, which refuses filters that
        // would apply to its own syscalls) has no seccomp filters. Say so
        // in the output (ci/cross reports these lines); fail on any other error.
        assert_eq!(
            e.raw_os_error(),
            Some(libc::EINVAL),
            "installing the seccomp filter: {e}"
        );
        println!("SKIPPED: no seccomp filters here ({e}); the ENOSYS fallback was not forced");
    }
}
