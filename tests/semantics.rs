//! The readiness contract every backend keeps: edge triggering, re-arming
//! by reregister, deregistration, interest filtering, and events beyond
//! the buffer's capacity arriving on the next poll.
mod common;
use common::*;

use std::time::Duration;

// The cases that need socketpairs: Unix, and Windows over TCP loopback.
#[cfg(unix)]
use rouse::unix::SourceFd;
#[cfg(any(unix, windows, rouse_wasip2))]
use rouse::{Events, Interest, Token};
#[cfg(any(unix, windows))]
use std::io::Read;
#[cfg(unix)]
use std::os::fd::AsRawFd;

#[cfg(all(any(unix, windows, rouse_wasip2), feature = "std"))]
fn edge_triggered_no_repeat_without_new_readiness<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, b) = stream_pair();
    // An `IoSource` (the net types are one) is edge-triggered everywhere;
    // a bare `SourceFd` is level-triggered on the table backends (see
    // tests/conformance.rs).
    let mut source = rouse::event::IoSource::new(a);
    poll.registry()
        .register(&mut source, Token(1), Interest::READABLE)
        .unwrap();
    put(&b, b"hello");
    expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_readable());
    // Not drained, nothing new: no second event.
    expect_no_event(&mut poll, &mut events, Token(1), SHORT);
}

#[cfg(any(unix, windows, rouse_wasip2))]
fn reregister_rearms_present_readiness<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, b) = stream_pair();
    let fd = a.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&fd), Token(1), Interest::READABLE)
        .unwrap();
    put(&b, b"hello");
    expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_readable());
    poll.registry()
        .reregister(&mut SourceFd(&fd), Token(2), Interest::READABLE)
        .unwrap();
    // The data is still there, so the new token reports it.
    expect_event(&mut poll, &mut events, Token(2), LONG, |e| e.is_readable());
}

#[cfg(any(unix, windows, rouse_wasip2))]
fn reregister_replaces_interests<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, b) = stream_pair();
    let fd = a.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&fd), Token(1), Interest::WRITABLE)
        .unwrap();
    expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_writable());
    poll.registry()
        .reregister(&mut SourceFd(&fd), Token(1), Interest::READABLE)
        .unwrap();
    // Writable only is no longer asked for.
    let seen = collect_events(&mut poll, &mut events, SHORT);
    assert!(
        seen.iter().all(|e| !e.is_writable()),
        "[{}] {seen:?}",
        S::NAME
    );
    put(&b, b"x");
    expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_readable());
}

#[cfg(any(unix, windows, rouse_wasip2))]
fn deregistered_token_is_never_reported<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, b) = stream_pair();
    let (c, d) = stream_pair();
    poll.registry()
        .register(&mut SourceFd(&a.as_raw_fd()), Token(1), Interest::READABLE)
        .unwrap();
    poll.registry()
        .register(&mut SourceFd(&c.as_raw_fd()), Token(2), Interest::READABLE)
        .unwrap();
    put(&b, b"x");
    put(&d, b"x");
    // Ready, but deregistered before the poll: never reported.
    poll.registry()
        .deregister(&mut SourceFd(&a.as_raw_fd()))
        .unwrap();
    let seen = collect_events(&mut poll, &mut events, SHORT);
    assert!(
        seen.iter().all(|e| e.token() != Token(1)),
        "[{}] {seen:?}",
        S::NAME
    );
    assert!(seen.iter().any(|e| e.token() == Token(2)));
    // Registering it again works and reports the pending data.
    poll.registry()
        .register(&mut SourceFd(&a.as_raw_fd()), Token(3), Interest::READABLE)
        .unwrap();
    expect_event(&mut poll, &mut events, Token(3), LONG, |e| e.is_readable());
}

#[cfg(any(unix, windows))]
fn peer_close_reports_read_closed<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, b) = stream_pair();
    poll.registry()
        .register(&mut SourceFd(&a.as_raw_fd()), Token(1), Interest::READABLE)
        .unwrap();
    drop(b);
    let ev = expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_readable());
    assert!(ev.is_read_closed(), "[{}] {ev:?}", S::NAME);
    assert_eq!((&a).read(&mut [0; 4]).unwrap(), 0);
    // A hang-up is reported once, not on every poll.
    let seen = collect_events(&mut poll, &mut events, SHORT);
    assert!(seen.iter().filter(|e| e.token() == Token(1)).count() <= 1);
}

#[cfg(any(unix, windows, rouse_wasip2))]
fn more_ready_than_capacity_arrive_next_poll<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = Events::<S, 4>::new();
    let pairs: Vec<_> = (0..10).map(|_| stream_pair()).collect();
    for (i, (a, b)) in pairs.iter().enumerate() {
        poll.registry()
            .register(&mut SourceFd(&a.as_raw_fd()), Token(i), Interest::READABLE)
            .unwrap();
        put(b, b"x");
    }
    // A bare `SourceFd` is level-triggered on the table backends, so the
    // first sources are ready on every poll, which then never waits.
    // wasmtime sends a WASI 0.2 guest's writes in the background, only
    // while the guest waits in the host: the short sleep lets the later
    // sources' bytes arrive there.
    let mut seen = std::collections::BTreeSet::new();
    for round in 0..20 {
        if round > 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        assert!(events.len() <= 4);
        seen.extend(events.iter().map(|e| e.token().0));
        if seen.len() == 10 {
            break;
        }
    }
    assert_eq!(
        seen.len(),
        10,
        "[{}] every source reported: {seen:?}",
        S::NAME
    );
}

#[cfg(any(unix, windows, rouse_wasip2))]
fn readable_and_writable_together<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, b) = stream_pair();
    put(&b, b"x");
    poll.registry()
        .register(
            &mut SourceFd(&a.as_raw_fd()),
            Token(5),
            Interest::READABLE | Interest::WRITABLE,
        )
        .unwrap();
    let seen = collect_events(&mut poll, &mut events, SHORT);
    assert!(seen
        .iter()
        .any(|e| e.token() == Token(5) && e.is_readable()));
    assert!(seen
        .iter()
        .any(|e| e.token() == Token(5) && e.is_writable()));
}

fn timeout_zero_returns_at_once<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let start = std::time::Instant::now();
    for _ in 0..100 {
        poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
        assert!(events.is_empty());
    }
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[cfg(all(feature = "std", unix))]
fn boxed_sources_register<S: Backend>() {
    use rouse::event::Source;
    struct Pipe(std::os::unix::net::UnixStream);
    impl<S: Backend> Source<S> for Pipe {
        fn register(
            &mut self,
            r: &rouse::Registry<S>,
            t: Token,
            i: Interest,
        ) -> rouse::io::Result<()> {
            SourceFd(&self.0.as_raw_fd()).register(r, t, i)
        }
        fn reregister(
            &mut self,
            r: &rouse::Registry<S>,
            t: Token,
            i: Interest,
        ) -> rouse::io::Result<()> {
            SourceFd(&self.0.as_raw_fd()).reregister(r, t, i)
        }
        fn deregister(&mut self, r: &rouse::Registry<S>) -> rouse::io::Result<()> {
            SourceFd(&self.0.as_raw_fd()).deregister(r)
        }
    }
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, b) = stream_pair();
    let mut boxed: Box<dyn Source<S>> = Box::new(Pipe(a));
    poll.registry()
        .register(&mut boxed, Token(9), Interest::READABLE)
        .unwrap();
    put(&b, b"x");
    expect_event(&mut poll, &mut events, Token(9), LONG, |e| e.is_readable());
    poll.registry().deregister(&mut boxed).unwrap();
}

backend_tests!(
    #[cfg(all(any(unix, windows, rouse_wasip2), feature = "std"))]
    edge_triggered_no_repeat_without_new_readiness,
    #[cfg(any(unix, windows, rouse_wasip2))]
    reregister_rearms_present_readiness,
    #[cfg(any(unix, windows, rouse_wasip2))]
    reregister_replaces_interests,
    #[cfg(any(unix, windows, rouse_wasip2))]
    deregistered_token_is_never_reported,
    // Not on wasip2: its readiness has no hang-up (a peer's close is
    // readable, and the read returns 0); tests/wasip2.rs checks that.
    #[cfg(any(unix, windows))]
    peer_close_reports_read_closed,
    #[cfg(any(unix, windows, rouse_wasip2))]
    more_ready_than_capacity_arrive_next_poll,
    #[cfg(any(unix, windows, rouse_wasip2))]
    readable_and_writable_together,
    timeout_zero_returns_at_once,
    #[cfg(any(unix, windows, rouse_wasip2))]
    small_events_do_not_starve_later_sources,
);

#[cfg(all(feature = "std", unix))]
mod boxed {
    use super::*;
    backend_tests!(boxed_sources_register);
}

#[cfg(any(unix, windows, rouse_wasip2))]
fn small_events_do_not_starve_later_sources<S: Backend>() {
    // Sources 0..4 are re-armed and ready again on every poll; a buffer of
    // 4 must still reach sources 4..8.
    let mut poll = new_poll::<S>();
    let mut events = Events::<S, 4>::new();
    let pairs: Vec<_> = (0..8).map(|_| stream_pair()).collect();
    for (i, (a, b)) in pairs.iter().enumerate() {
        poll.registry()
            .register(&mut SourceFd(&a.as_raw_fd()), Token(i), Interest::READABLE)
            .unwrap();
        put(b, b"x");
    }
    // Four polls would do if every byte were readable at once; wasmtime
    // sends a WASI 0.2 guest's writes only while the guest waits in the
    // host (see `more_ready_than_capacity_arrive_next_poll`), so a late
    // source may need a few more, and a sleep. A backend that starves
    // later sources never reaches them, however many polls it gets.
    let mut seen = std::collections::BTreeSet::new();
    for round in 0..50 {
        if seen.len() == 8 {
            break;
        }
        if round >= 4 {
            std::thread::sleep(Duration::from_millis(2));
        }
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        for e in events.iter() {
            seen.insert(e.token().0);
            // Re-arm at once: still readable, so ready again next poll.
            let fd = pairs[e.token().0].0.as_raw_fd();
            poll.registry()
                .reregister(&mut SourceFd(&fd), e.token(), Interest::READABLE)
                .unwrap();
        }
    }
    assert_eq!(seen.len(), 8, "[{}] {seen:?}", S::NAME);
}
