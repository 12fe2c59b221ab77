//! 32-bit and ABI checks, run on every target ci/cross covers (x86-64,
//! i686, armv7, aarch64, riscv64): the kernel's `epoll_event` layout,
//! tokens as wide as `usize` allows, and timeouts beyond what a C `int` of
//! milliseconds holds.
#![cfg(unix)]

mod common;

use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use common::*;
use rouse::{Interest, Token, Waker};

/// The kernel's `struct epoll_event` is `{ u32 events; u64 data; }`, packed
/// on x86-64 only; on i386 `u64` is 4-aligned, so both are 12 bytes with
/// `data` at 4, and every other architecture pads it to 16 with `data` at
/// 8. `epoll_wait` writes that layout into `Events`, so it must match.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn epoll_event_has_the_kernels_layout() {
    use std::mem::size_of;
    let (size, data) = if cfg!(any(target_arch = "x86_64", target_arch = "x86")) {
        (12, 4)
    } else {
        (16, 8)
    };
    assert_eq!(size_of::<libc::epoll_event>(), size);
    let ev = libc::epoll_event { events: 0, u64: 0 };
    // The field's distance from the start (`offset_of!` needs Rust 1.77;
    // `addr_of!` takes the packed field's address without a reference).
    let at = std::ptr::addr_of!(ev.u64) as usize - std::ptr::addr_of!(ev) as usize;
    assert_eq!(at, data);
    #[cfg(feature = "epoll")]
    assert_eq!(
        size_of::<rouse::event::Event<rouse::sys::EpollSelector>>(),
        size
    );
}

/// The largest token a caller may use (`usize::MAX - 1`; `usize::MAX` is
/// reserved) comes back unchanged: on 32-bit targets it is `u32::MAX - 1`
/// inside epoll's 64-bit data field.
fn largest_token_round_trips<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, mut b) = stream_pair();
    let token = Token(usize::MAX - 1);
    poll.registry()
        .register(&mut SourceFd(&a.as_raw_fd()), token, Interest::READABLE)
        .unwrap();
    b.write_all(b"x").unwrap();
    let ev = expect_event(&mut poll, &mut events, token, LONG, |e| e.is_readable());
    assert_eq!(ev.token().0, usize::MAX - 1);
}

/// Timeouts that do not fit in a C `int` of milliseconds (`Duration::MAX`,
/// 2^32 + 5 ms, which a truncation would make 5 ms) wait until woken: they
/// are capped at `i32::MAX` ms, never wrapped to a short or negative wait.
fn long_timeouts_wait_until_woken<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let waker = Waker::new(poll.registry(), Token(5)).unwrap();
    for timeout in [
        Duration::MAX,
        Duration::from_millis((1 << 32) + 5),
        Duration::from_millis(i32::MAX as u64 + 1),
    ] {
        let start = Instant::now();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(30));
                waker.wake().unwrap();
            });
            poll.poll(&mut events, Some(timeout)).unwrap();
        });
        assert!(
            events.iter().any(|e| e.token() == Token(5)),
            "[{}] {timeout:?}: returned after {:?} without the wake",
            S::NAME,
            start.elapsed()
        );
    }
}

backend_tests!(largest_token_round_trips, long_timeouts_wait_until_woken);
