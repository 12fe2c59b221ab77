//! Wakes from other threads: a task woken by another thread while the
//! reactor blocks in `poll` must end that poll (through the backend's
//! `Waker`), with no timer involved. On every backend with threads.
#![cfg(all(any(unix, windows), feature = "async", feature = "std"))]
mod common;
use common::*;

use std::future::poll_fn;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Poll as TaskPoll, Waker};
use std::thread;
use std::time::Instant;

use rouse::registration::Reactor;

/// A one-value channel between threads that an async task can wait on: the
/// receiver stores its waker, the sender sets the value and wakes it.
#[derive(Default)]
struct Oneshot {
    value: Mutex<(Option<u32>, Option<Waker>)>,
}

impl Oneshot {
    fn send(&self, v: u32) {
        let waker = {
            let mut state = self.value.lock().unwrap();
            state.0 = Some(v);
            state.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// `block_on` a future that a thread completes: the thread is told to go
/// (over a std channel) only once the task is waiting, so the wake comes
/// while the reactor blocks (or is about to) in a turn without timeout.
fn a_task_woken_from_another_thread_ends_the_turn<S: Backend>() {
    let (done_tx, done_rx) = mpsc::channel();
    let runner = thread::spawn(move || {
        let reactor: Reactor<S, 4, 1> = Reactor::with_poll(new_poll::<S>()).unwrap();
        let chan = Arc::new(Oneshot::default());
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let remote = Arc::clone(&chan);
        let sender = thread::spawn(move || {
            go_rx.recv().unwrap();
            remote.send(42);
        });
        let mut told = false;
        let got = reactor
            .block_on(poll_fn(|cx| {
                let mut state = chan.value.lock().unwrap();
                if let Some(v) = state.0 {
                    return TaskPoll::Ready(v);
                }
                state.1 = Some(cx.waker().clone());
                if !told {
                    told = true;
                    go_tx.send(()).unwrap();
                }
                TaskPoll::Pending
            }))
            .unwrap();
        sender.join().unwrap();
        done_tx.send(got).unwrap();
    });
    // If the wake did not end the turn, block_on would never return.
    let got = done_rx
        .recv_timeout(LONG)
        .unwrap_or_else(|_| panic!("[{}] the cross-thread wake did not end the turn", S::NAME));
    assert_eq!(got, 42);
    runner.join().unwrap();
}

/// `Notifier::notify` from another thread ends a turn that waits with a
/// long timeout, many times over (each time after the turn has started).
fn a_notifier_ends_a_blocked_turn_each_time<S: Backend>() {
    let reactor: Reactor<S, 4, 1> = Reactor::with_poll(new_poll::<S>()).unwrap();
    assert!(reactor.notify().can_interrupt());
    let notifier = reactor.notifier();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let other = thread::spawn(move || {
        while go_rx.recv().is_ok() {
            notifier.notify().unwrap();
        }
    });
    for round in 0..20 {
        go_tx.send(()).unwrap();
        let start = Instant::now();
        reactor.turn(Some(LONG)).unwrap();
        assert!(
            start.elapsed() < LONG / 2,
            "[{}] round {round}: the notify did not end the turn",
            S::NAME
        );
    }
    drop(go_tx);
    other.join().unwrap();
}

backend_tests!(
    a_task_woken_from_another_thread_ends_the_turn,
    a_notifier_ends_a_blocked_turn_each_time,
);
