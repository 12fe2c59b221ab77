//! With `std`, setting up, registering 1000 sources, 10,000 polls and
//! deregistering allocate nothing on epoll; on poll(2) `new` makes exactly
//! one allocation (the table shared with cloned registries) and nothing
//! after. A counting global allocator, counting only on the test's thread,
//! proves it.
// Needs Unix sockets (and threads), which wasm32-wasip1 lacks.
#![cfg(unix)]
mod common;
use common::*;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::time::Duration;

use rouse::unix::SourceFd;
use rouse::{Events, Interest, Poll, Token};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: defers to the system allocator; the counters are thread-locals
// with const initialisers, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

fn note() {
    let _ = COUNTING.try_with(|c| {
        if c.get() {
            COUNT.with(|n| n.set(n.get() + 1));
        }
    });
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Allocations made by `f` on this thread.
fn count<R>(f: impl FnOnce() -> R) -> (R, usize) {
    COUNT.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, COUNT.with(|n| n.get()))
}

// One test at a time: fds are plentiful but the tests are heavy.
static SERIAL: Mutex<()> = Mutex::new(());

const SOURCES: usize = 1000;

fn steady_state_allocates_nothing<S: Backend>(expected_setup: usize) {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 500 socket pairs: 1000 fds to register, made before counting.
    let pairs: Vec<_> = (0..SOURCES / 2).map(|_| stream_pair()).collect();
    let fds: Vec<i32> = pairs
        .iter()
        .flat_map(|(a, b)| [a.as_raw_fd(), b.as_raw_fd()])
        .collect();
    (&pairs[0].1).write_all(b"x").unwrap();

    let ((mut poll, mut events), setup) =
        count(|| (Poll::with_selector(S::new().unwrap()), Events::<S>::new()));
    assert_eq!(
        setup,
        expected_setup,
        "[{}] allocations in Poll::new + Events",
        S::NAME
    );

    let ((), registering) = count(|| {
        for (i, fd) in fds.iter().enumerate() {
            poll.registry()
                .register(
                    &mut SourceFd(fd),
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .unwrap();
        }
    });
    assert_eq!(
        registering,
        0,
        "[{}] allocations registering {SOURCES}",
        S::NAME
    );

    let (seen, polling) = count(|| {
        let mut seen = 0;
        for _ in 0..10_000 {
            poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
            seen += events.iter().count();
        }
        seen
    });
    assert_eq!(polling, 0, "[{}] allocations in 10,000 polls", S::NAME);
    assert!(
        seen >= SOURCES,
        "[{}] the polls reported the sources: {seen}",
        S::NAME
    );

    let ((), deregistering) = count(|| {
        for fd in &fds {
            poll.registry().deregister(&mut SourceFd(fd)).unwrap();
        }
    });
    assert_eq!(deregistering, 0, "[{}] allocations deregistering", S::NAME);
}

#[cfg(all(feature = "epoll", target_os = "linux"))]
#[test]
fn epoll_allocates_nothing() {
    steady_state_allocates_nothing::<rouse::sys::EpollSelector>(0);
}

#[cfg(all(
    feature = "kqueue",
    any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    )
))]
#[test]
fn kqueue_allocates_nothing() {
    steady_state_allocates_nothing::<rouse::sys::KqueueSelector>(0);
}

#[cfg(feature = "poll")]
#[test]
fn poll_allocates_only_its_shared_table() {
    // With std the table is shared: one allocation, built in place
    // (`Arc::new_uninit`, Rust 1.82; older compilers move a zeroed Box into
    // the Arc, one more brief allocation: `rouse_new_uninit` is rouse's
    // build.rs cfg for it). Without std it is inline: none.
    let setup = match (cfg!(feature = "std"), cfg!(rouse_new_uninit)) {
        (false, _) => 0,
        (true, true) => 1,
        (true, false) => 2,
    };
    steady_state_allocates_nothing::<rouse::sys::PollSelector<1024>>(setup);
}

#[test]
fn default_events_allocate_nothing() {
    let (events, n) = count(|| Events::with_capacity(1024));
    assert_eq!(n, 0);
    assert_eq!(events.capacity(), 1024);
}
