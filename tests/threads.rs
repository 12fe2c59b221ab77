//! Threads: Poll, Registry and Waker are Send + Sync; a registration from
//! another thread while `poll` blocks takes effect before that poll
//! returns; a Waker never loses its last wake; one Waker per Poll.
#![cfg(all(any(unix, windows), feature = "std"))]
mod common;
use common::*;

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

/// Registrations from a thread that the poller outranks, both on one CPU:
/// the hand-off must block, not spin, or the registering thread never runs.
/// Under SCHED_FIFO (a real-time priority above the registering thread's,
/// as on a board), a poller that yields in a loop waits for a thread that
/// the scheduler will never run. Skipped, with a message, where the test
/// may not set real-time priorities.
#[cfg(target_os = "linux")]
fn handoff_on_one_cpu_under_sched_fifo<S: Backend + Send + Sync>() {
    /// Pins the calling thread to CPU `cpu` at SCHED_FIFO `priority`;
    /// false if the system refuses.
    fn pin(cpu: usize, priority: i32) -> bool {
        // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET writes
        // one bit of it.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` is below CPU_SETSIZE (it is 0).
        unsafe { libc::CPU_SET(cpu, &mut set) };
        // SAFETY: the set is a valid cpu_set_t of the size passed; 0 is
        // the calling thread.
        if unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) } != 0 {
            return false;
        }
        let param = libc::sched_param {
            sched_priority: priority,
        };
        // SAFETY: `param` is a valid sched_param; 0 is the calling thread.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) == 0 }
    }

    const STOP: Token = Token(1000);
    let mut poll = new_poll::<S>();
    let registry = poll.registry().try_clone().unwrap();
    let (allowed_tx, allowed_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let poller = std::thread::spawn(move || {
        let ok = pin(0, 20);
        allowed_tx.send(ok).unwrap();
        if !ok {
            return;
        }
        let mut events = new_events::<S>();
        let start = Instant::now();
        'outer: while start.elapsed() < Duration::from_secs(30) {
            poll.poll(&mut events, Some(Duration::from_millis(10)))
                .unwrap();
            for e in events.iter() {
                if e.token() == STOP {
                    break 'outer;
                }
            }
        }
        done_tx.send(start.elapsed()).unwrap();
    });
    if !allowed_rx.recv().unwrap() {
        poller.join().unwrap();
        eprintln!(
            "SKIPPED [{}] handoff_on_one_cpu_under_sched_fifo: no permission for \
             SCHED_FIFO or CPU affinity here",
            S::NAME
        );
        return;
    }
    let registrant = std::thread::spawn(move || {
        assert!(pin(0, 10), "the poller could, the registrant could not");
        // Idle sources: each registration and deregistration has to get
        // the table from the poller, which holds it while it waits. (A
        // source with unread data would be reported at every poll, raw fds
        // being level-triggered on poll(2), and a poller that outranks the
        // registrant would never wait.)
        let pairs: Vec<_> = (0..50).map(|_| stream_pair()).collect();
        for (i, (a, _)) in pairs.iter().enumerate() {
            let fd = a.as_raw_fd();
            registry
                .register(&mut SourceFd(&fd), Token(i), Interest::READABLE)
                .unwrap();
            registry.deregister(&mut SourceFd(&fd)).unwrap();
        }
        let (a, mut b) = stream_pair();
        b.write_all(b"stop").unwrap();
        registry
            .register(&mut SourceFd(&a.as_raw_fd()), STOP, Interest::READABLE)
            .unwrap();
        (a, b)
    });
    // The watchdog runs on the other CPU. A poller spinning at real-time
    // priority would never let the registrant finish.
    let took = done_rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("[{}] the hand-off never ended", S::NAME));
    assert!(
        took < Duration::from_secs(30),
        "[{}] the poller never saw the last registration",
        S::NAME
    );
    poller.join().unwrap();
    drop(registrant.join().unwrap());
}

backend_tests!(
    handles_are_send_and_sync,
    register_from_another_thread_while_polling,
    deregister_from_another_thread_while_polling,
    waker_wakes_a_blocked_poll,
    waker_never_loses_the_last_wake,
    waker_with_registrations_racing,
    #[cfg(target_os = "linux")]
    handoff_on_one_cpu_under_sched_fifo,
);
