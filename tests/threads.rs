//! Threads: Poll, Registry and Waker are Send + Sync; a registration from
//! another thread while `poll` blocks takes effect before that poll
//! returns; a Waker never loses its last wake; one Waker per Poll.
#![cfg(all(any(unix, windows), feature = "std"))]
mod common;
use common::*;

use rouse::io::ErrorKind;
use std::io::Write;
#[cfg(unix)]
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

#[cfg(unix)]
use rouse::unix::SourceFd;
use rouse::{Interest, Poll, Registry, Token, Waker};

fn assert_send_sync<T: Send + Sync>() {}

fn handles_are_send_and_sync<S: Backend + Send + Sync>() {
    assert_send_sync::<Poll<S>>();
    assert_send_sync::<Registry<S>>();
    assert_send_sync::<Waker<S>>();
    let poll = new_poll::<S>();
    let clone = poll.registry().try_clone().unwrap();
    std::thread::spawn(move || drop(clone)).join().unwrap();
}

fn register_from_another_thread_while_polling<S: Backend + Send + Sync>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let registry = poll.registry().try_clone().unwrap();
    let (a, mut b) = stream_pair();
    b.write_all(b"ready before registration").unwrap();
    let fd = a.as_raw_fd();
    let start = Instant::now();
    let helper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        registry
            .register(&mut SourceFd(&fd), Token(4), Interest::READABLE)
            .unwrap();
    });
    // The poll is already blocked (nothing registered) when the other
    // thread registers; it must return with the new source's event.
    poll.poll(&mut events, Some(Duration::from_secs(10)))
        .unwrap();
    helper.join().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.token() == Token(4) && e.is_readable()),
        "[{}] {events:?} after {:?}",
        S::NAME,
        start.elapsed()
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

fn deregister_from_another_thread_while_polling<S: Backend + Send + Sync>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let registry = poll.registry().try_clone().unwrap();
    let (a, b) = stream_pair();
    let fd = a.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&fd), Token(1), Interest::READABLE)
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let helper = std::thread::spawn(move || {
        registry.deregister(&mut SourceFd(&fd)).unwrap();
        tx.send(()).unwrap();
        (&b).write_all(b"x").unwrap();
        b
    });
    rx.recv().unwrap();
    // Deregistered before the data arrived: never reported.
    expect_no_event(&mut poll, &mut events, Token(1), SHORT);
    drop(helper.join().unwrap());
}

fn waker_wakes_a_blocked_poll<S: Backend + Send + Sync>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let waker = Arc::new(Waker::new(poll.registry(), Token(10)).unwrap());
    let remote = Arc::clone(&waker);
    let start = Instant::now();
    let helper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        remote.wake().unwrap();
    });
    let ev = expect_event(&mut poll, &mut events, Token(10), LONG, |e| e.is_readable());
    assert!(!ev.is_writable());
    assert!(start.elapsed() >= Duration::from_millis(40));
    helper.join().unwrap();
    // Consumed: no second event without a second wake.
    expect_no_event(&mut poll, &mut events, Token(10), SHORT);
    // Woken before polling: the next poll returns at once.
    waker.wake().unwrap();
    waker.wake().unwrap();
    expect_event(
        &mut poll,
        &mut events,
        Token(10),
        Duration::from_millis(500),
        |_| true,
    );
}

fn waker_never_loses_the_last_wake<S: Backend + Send + Sync>() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 200;
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let waker = Arc::new(Waker::new(poll.registry(), Token(10)).unwrap());
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let done = Arc::new(AtomicBool::new(false));
    let helpers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (waker, barrier, done) = (waker.clone(), barrier.clone(), done.clone());
            std::thread::spawn(move || loop {
                barrier.wait();
                if done.load(Ordering::SeqCst) {
                    return;
                }
                for _ in 0..10 {
                    waker.wake().unwrap();
                }
                barrier.wait();
            })
        })
        .collect();
    for round in 0..ROUNDS {
        barrier.wait(); // start the wakers
        barrier.wait(); // every wake of this round has returned
                        // So this round must be seen, however the wakes coalesced.
        let deadline = Instant::now() + LONG;
        loop {
            poll.poll(&mut events, Some(deadline - Instant::now().min(deadline)))
                .unwrap();
            if events.iter().any(|e| e.token() == Token(10)) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "[{}] wake lost in round {round}",
                S::NAME
            );
        }
        // Drain anything left from coalescing before the next round.
        poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
    }
    done.store(true, Ordering::SeqCst);
    barrier.wait();
    for h in helpers {
        h.join().unwrap();
    }
}

fn waker_with_registrations_racing<S: Backend + Send + Sync>() {
    // Registrations from one thread and wakes from another while polling:
    // every registered source's pending data and the final wake are seen.
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let registry = poll.registry().try_clone().unwrap();
    let waker = Arc::new(Waker::new(poll.registry(), Token(1000)).unwrap());
    let pairs: Vec<_> = (0..40)
        .map(|_| {
            let (a, b) = stream_pair();
            (&b).write_all(b"x").unwrap();
            (a, b)
        })
        .collect();
    let fds: Vec<_> = pairs.iter().map(|(a, _)| a.as_raw_fd()).collect();
    let w = waker.clone();
    let helper = std::thread::spawn(move || {
        for (i, fd) in fds.iter().enumerate() {
            registry
                .register(&mut SourceFd(fd), Token(i), Interest::READABLE)
                .unwrap();
            if i % 5 == 0 {
                w.wake().unwrap();
            }
        }
        w.wake().unwrap();
    });
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + LONG;
    while seen.len() < 41 && Instant::now() < deadline {
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        seen.extend(events.iter().map(|e| e.token().0));
    }
    helper.join().unwrap();
    // Collect what may still be pending after the helper finished.
    let rest = collect_events(&mut poll, &mut events, SHORT);
    seen.extend(rest.iter().map(|e| e.token().0));
    assert!(seen.contains(&1000), "[{}] final wake seen", S::NAME);
    for i in 0..40 {
        assert!(
            seen.contains(&i),
            "[{}] source {i} reported: {seen:?}",
            S::NAME
        );
    }
}

fn second_waker_is_rejected_by_poll_backend<S: Backend + Send + Sync>() {
    let poll = new_poll::<S>();
    let first = Waker::new(poll.registry(), Token(1)).unwrap();
    match Waker::new(poll.registry(), Token(2)) {
        Ok(_) => assert!(
            S::CAPACITY.is_none(),
            "[{}] table backends allow one Waker",
            S::NAME
        ),
        Err(err) => assert_eq!(err.kind(), ErrorKind::AlreadyExists),
    }
    first.wake().unwrap();
}

backend_tests!(
    handles_are_send_and_sync,
    register_from_another_thread_while_polling,
    deregister_from_another_thread_while_polling,
    waker_wakes_a_blocked_poll,
    waker_never_loses_the_last_wake,
    waker_with_registrations_racing,
    second_waker_is_rejected_by_poll_backend,
);
