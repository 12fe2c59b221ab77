//! Out of descriptors: `accept` failing with `EMFILE`, made real by
//! lowering this process's `RLIMIT_NOFILE` to the descriptors already open.
//!
//! * The tcp_echo example's server (its own code, examples/tcp_echo/)
//!   keeps serving the connections it has, does not retry `accept` while
//!   nothing has been freed (no busy loop: the listener is not reported),
//!   and accepts the waiting connections once its own close frees a
//!   descriptor, on every backend.
//! * rouse itself: after an `accept` that failed with `EMFILE`, a new
//!   connection is reported. On epoll it is a new edge; on the table
//!   backends the failed `accept` re-arms the listener (it used to stay
//!   disarmed until a `WouldBlock`, so no later connection was reported).
//!
//! The descriptor limit is per process, so the tests here take turns.
#![cfg(all(target_os = "linux", feature = "net"))]
mod common;
mod echo;
use common::*;
use echo::{all_echoed, Client, Harness, LISTENER};

use std::io;
use std::sync::Mutex;

use rouse::net::TcpListener;
use rouse::{Interest, Token};

/// The descriptor limit is the process's: one test at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Lowers the soft `RLIMIT_NOFILE` so that only `spare` more descriptors
/// can be opened; restores it on drop.
struct FdLimit {
    old: libc::rlimit,
}

impl FdLimit {
    fn spare(spare: libc::rlim_t) -> FdLimit {
        // The lowest free descriptor: the next one the kernel hands out.
        // SAFETY: F_DUPFD_CLOEXEC duplicates stdin's descriptor (open in a
        // test process) onto the lowest free number, which is closed at once.
        let next = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 0) };
        assert!(next >= 0, "dup: {}", io::Error::last_os_error());
        // SAFETY: `next` was just opened here and is not used elsewhere.
        unsafe { libc::close(next) };
        let mut old = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one rlimit into `old`.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) }, 0);
        let low = libc::rlimit {
            rlim_cur: next as libc::rlim_t + spare,
            rlim_max: old.rlim_max,
        };
        // SAFETY: setrlimit reads one rlimit; lowering the soft limit is
        // always allowed.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &low) }, 0);
        FdLimit { old }
    }
}

impl Drop for FdLimit {
    fn drop(&mut self) {
        // SAFETY: restores the limit read in `spare`.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &self.old) };
    }
}

/// The example's server, out of descriptors with clients waiting: it
/// serves the two it could accept, does not spin, and accepts the rest as
/// its own closes free descriptors. Every client gets its echo.
fn echo_server_accepts_again_after_emfile<S: Backend>() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut h = Harness::<S>::new();
    // Clients connect before the limit (their own sockets need descriptors
    // too); the kernel completes the handshakes, and they wait in the
    // listener's backlog. They send only after the server is saturated.
    let mut clients: Vec<Client> = (0..6)
        .map(|i| Client::connect(h.addr, i, 100_000))
        .collect();

    let limit = FdLimit::spare(2);
    h.run_until(&mut [], "accepting stops at the limit", |h, _| {
        h.server.stats().accept_pauses >= 1
    });
    assert_eq!(h.server.open(), 2, "[{}] accepted up to the limit", S::NAME);
    assert!(!h.server.accepting());

    // Saturated, with nothing freed: the listener must not be reported
    // (the server would retry `accept` at once: a busy loop). It retries
    // once per RETRY_ACCEPT at most.
    let calls = h.server.stats().accept_calls;
    let mut turns = 0u64;
    let mut listener_events = 0u64;
    for _ in 0..10 {
        turns += 1;
        listener_events += h.turn().iter().filter(|&&t| t == LISTENER).count() as u64;
    }
    let retries = h.server.stats().accept_calls - calls;
    assert!(
        retries <= turns && listener_events <= turns,
        "[{}] {retries} accept calls, {listener_events} listener events in {turns} polls",
        S::NAME
    );
    assert_eq!(h.server.open(), 2);

    // Now every client sends; each close frees a descriptor, and the
    // server accepts the next waiting client.
    h.run_until(&mut clients, "every client echoed", |_, c| all_echoed(c));
    drop(limit);
    h.run_until(&mut [], "every connection closed", |h, _| {
        h.server.open() == 0
    });
    let stats = h.server.stats();
    assert_eq!(stats.accepted, 6, "[{}] {stats:?}", S::NAME);
    assert_eq!(stats.closed_on_error, 0, "[{}] {stats:?}", S::NAME);
}

/// rouse: an `accept` that fails with `EMFILE` does not stop the listener
/// from being reported when the next connection arrives (epoll reports
/// the new edge; poll(2) must too).
fn listener_reported_after_accept_failed<S: Backend>() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    poll.registry()
        .register(&mut listener, Token(0), Interest::READABLE)
        .unwrap();

    let _first = std::net::TcpStream::connect(addr).unwrap();
    expect_event(&mut poll, &mut events, Token(0), LONG, |e| e.is_readable());
    {
        let _limit = FdLimit::spare(0);
        let err = listener
            .accept()
            .expect_err("accept with no descriptor left");
        assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
    }
    // The program gives up on `accept` for now (as a server out of
    // descriptors does). A new connection arrives:
    let _second = std::net::TcpStream::connect(addr).unwrap();
    expect_event(&mut poll, &mut events, Token(0), LONG, |e| e.is_readable());
}

backend_tests!(
    echo_server_accepts_again_after_emfile,
    listener_reported_after_accept_failed,
);
