//! The reactor's timers (`sleep`, `sleep_until`, `timeout`), its poll
//! timeout from the nearest deadline, and `Notify` on the reactor's own
//! thread: on every backend, WASI included. Accuracy is measured against
//! the monotonic clock with a tolerance; the store's logic against a clock
//! the test moves by hand.
#![cfg(all(feature = "async", feature = "std"))]
mod common;
use common::*;

use std::cell::Cell;
use std::future::{pending, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use rouse::registration::{monotonic, Reactor};

/// How late a timer may fire on a loaded machine. It must never fire early.
const LATE: Duration = Duration::from_millis(1500);

struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Waker, Arc<Counter>) {
    let c = Arc::new(Counter(AtomicUsize::new(0)));
    (Waker::from(c.clone()), c)
}

fn reactor<S: Backend>() -> Reactor<S, 8, 4> {
    Reactor::with_poll(new_poll::<S>()).unwrap()
}

thread_local! {
    static MANUAL: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

/// A clock the test sets: each test thread has its own.
fn manual() -> Duration {
    MANUAL.with(Cell::get)
}

fn set_manual(t: Duration) {
    MANUAL.with(|c| c.set(t));
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn sleep_is_never_early_and_not_much_late<S: Backend>() {
    let reactor = reactor::<S>();
    for wanted in [ms(1), ms(20), ms(60)] {
        let start = monotonic();
        let std_start = Instant::now();
        reactor
            .block_on(async { reactor.sleep(wanted).unwrap().await })
            .unwrap();
        let took = monotonic() - start;
        assert!(
            took >= wanted,
            "[{}] {wanted:?} sleep took {took:?}",
            S::NAME
        );
        assert!(
            took < wanted + LATE,
            "[{}] {wanted:?} sleep took {took:?}",
            S::NAME
        );
        // The reactor's clock is the one std's Instant reads.
        let std_took = std_start.elapsed();
        assert!(
            std_took + ms(5) >= took && took + ms(5) >= std_took,
            "[{}] monotonic {took:?} vs Instant {std_took:?}",
            S::NAME
        );
    }
    assert_eq!(
        reactor.timers(),
        0,
        "[{}] a completed sleep kept its slot",
        S::NAME
    );
}

/// A turn without a timeout still ends at the nearest deadline, and wakes
/// that timer's task.
fn the_nearest_deadline_bounds_the_wait<S: Backend>() {
    let reactor = reactor::<S>();
    let (w, c) = counting();
    let mut cx = Context::from_waker(&w);
    let mut far = reactor.sleep(Duration::from_secs(3600)).unwrap();
    let mut near = reactor.sleep(ms(30)).unwrap();
    assert!(Pin::new(&mut far).poll(&mut cx).is_pending());
    assert!(Pin::new(&mut near).poll(&mut cx).is_pending());
    let start = monotonic();
    // LONG bounds the test if the deadline were ignored.
    let mut woken = 0;
    while woken == 0 && monotonic() - start < LONG {
        woken = reactor.turn(Some(LONG)).unwrap();
    }
    let took = monotonic() - start;
    assert_eq!(woken, 1, "[{}] after {took:?}", S::NAME);
    assert!(
        took >= ms(30) && took < ms(30) + LATE,
        "[{}] {took:?}",
        S::NAME
    );
    assert_eq!(c.0.load(Ordering::SeqCst), 1);
    assert!(Pin::new(&mut near).poll(&mut cx).is_ready());
    assert!(Pin::new(&mut far).poll(&mut cx).is_pending());
    assert!(!far.is_elapsed() && near.is_elapsed());
}

fn timers_fire_by_deadline_on_the_given_clock<S: Backend>() {
    set_manual(ms(1000));
    let reactor: Reactor<S, 8, 4> = Reactor::with_clock(new_poll::<S>(), manual).unwrap();
    assert_eq!(reactor.now(), ms(1000));
    let (w, c) = counting();
    let mut cx = Context::from_waker(&w);
    let mut a = reactor.sleep(ms(30)).unwrap();
    let mut b = reactor.sleep_until(ms(1010)).unwrap();
    let mut past = reactor.sleep_until(ms(5)).unwrap();
    assert_eq!((a.deadline(), b.deadline()), (ms(1030), ms(1010)));
    assert!(Pin::new(&mut past).poll(&mut cx).is_ready());
    assert!(Pin::new(&mut a).poll(&mut cx).is_pending());
    assert!(Pin::new(&mut b).poll(&mut cx).is_pending());
    // The clock has not moved: nothing fires.
    assert_eq!(reactor.turn(Some(Duration::ZERO)).unwrap(), 0);
    set_manual(ms(1010));
    assert_eq!(reactor.turn(Some(Duration::ZERO)).unwrap(), 1);
    assert!(Pin::new(&mut b).poll(&mut cx).is_ready());
    assert!(Pin::new(&mut a).poll(&mut cx).is_pending());
    // Moved later, it waits again; the earlier one has not fired yet.
    b.reset(ms(2000));
    assert!(Pin::new(&mut b).poll(&mut cx).is_pending());
    set_manual(ms(1031));
    assert_eq!(reactor.turn(Some(Duration::ZERO)).unwrap(), 1);
    assert!(Pin::new(&mut a).poll(&mut cx).is_ready());
    assert!(Pin::new(&mut b).poll(&mut cx).is_pending());
    assert_eq!(c.0.load(Ordering::SeqCst), 2);
}

fn a_full_timer_store_is_a_clear_error_and_drops_free_slots<S: Backend>() {
    set_manual(Duration::ZERO);
    let reactor: Reactor<S, 8, 2> = Reactor::with_clock(new_poll::<S>(), manual).unwrap();
    let a = reactor.sleep(ms(10)).unwrap();
    let b = reactor.sleep(ms(20)).unwrap();
    let err = reactor.sleep(ms(30)).unwrap_err();
    assert_eq!(err.kind(), rouse::io::TABLE_FULL, "[{}] {err}", S::NAME);
    assert!(
        err.to_string().contains("timer store full: capacity: 2"),
        "{err}"
    );
    let err = reactor.timeout(ms(30), pending::<()>()).err().unwrap();
    assert_eq!(err.kind(), rouse::io::TABLE_FULL);
    drop(a);
    assert_eq!(reactor.timers(), 1);
    let (w, c) = counting();
    let mut cx = Context::from_waker(&w);
    let mut again = reactor.sleep(ms(30)).unwrap();
    assert!(Pin::new(&mut again).poll(&mut cx).is_pending());
    drop(b);
    // The dropped timer (deadline 20) is gone: at 25 nothing fires.
    set_manual(ms(25));
    assert_eq!(reactor.turn(Some(Duration::ZERO)).unwrap(), 0);
    set_manual(ms(30));
    assert_eq!(reactor.turn(Some(Duration::ZERO)).unwrap(), 1);
    assert_eq!(c.0.load(Ordering::SeqCst), 1);
}

fn timeout_gives_the_output_or_elapsed<S: Backend>() {
    let reactor = reactor::<S>();
    let start = monotonic();
    let out = reactor
        .block_on(reactor.timeout(ms(20), pending::<u8>()).unwrap())
        .unwrap();
    assert!(out.is_err(), "[{}]", S::NAME);
    assert!(monotonic() - start >= ms(20));
    let out = reactor
        .block_on(reactor.timeout(LONG, async { 7u8 }).unwrap())
        .unwrap();
    assert_eq!(out, Ok(7));
    // A sleep inside a longer timeout finishes first.
    let out = reactor
        .block_on(
            reactor
                .timeout(LONG, async {
                    reactor.sleep(ms(5)).unwrap().await;
                    9u8
                })
                .unwrap(),
        )
        .unwrap();
    assert_eq!(out, Ok(9));
    assert_eq!(reactor.timers(), 0);
    let e: std::io::Error = reactor
        .block_on(reactor.timeout(ms(1), pending::<()>()).unwrap())
        .unwrap()
        .unwrap_err()
        .into();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
}

fn shutdown_completes_sleeps<S: Backend>() {
    let reactor = reactor::<S>();
    let (w, c) = counting();
    let mut cx = Context::from_waker(&w);
    let mut s = reactor.sleep(Duration::from_secs(3600)).unwrap();
    assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
    reactor.shutdown();
    assert_eq!(c.0.load(Ordering::SeqCst), 1);
    assert!(Pin::new(&mut s).poll(&mut cx).is_ready());
    assert!(reactor.sleep(ms(1)).is_err());
}

/// A notify before a turn (from a task on the reactor's thread) makes that
/// turn not wait; without one, a turn waits its timeout.
fn a_notify_makes_the_next_turn_not_wait<S: Backend>() {
    let reactor = reactor::<S>();
    reactor.notify().notify().unwrap();
    let start = monotonic();
    reactor.turn(Some(LONG)).unwrap();
    assert!(monotonic() - start < LONG / 2, "[{}] waited", S::NAME);
    // Consumed: the next turn waits again.
    let start = monotonic();
    reactor.turn(Some(ms(20))).unwrap();
    assert!(monotonic() - start >= ms(20));
    // WASI has no Waker, the others do.
    assert_eq!(
        reactor.notify().can_interrupt(),
        !cfg!(target_os = "wasi"),
        "[{}]",
        S::NAME
    );
}

backend_tests!(
    sleep_is_never_early_and_not_much_late,
    the_nearest_deadline_bounds_the_wait,
    timers_fire_by_deadline_on_the_given_clock,
    a_full_timer_store_is_a_clear_error_and_drops_free_slots,
    timeout_gives_the_output_or_elapsed,
    shutdown_completes_sleeps,
    a_notify_makes_the_next_turn_not_wait,
);
