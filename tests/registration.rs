//! The async readiness layer: independent read/write streams, the
//! clear/arrive race, waker replacement, wake-with-error on deregister and
//! shutdown, a full reactor — on every backend (on Windows over TCP loopback
//! pairs, see `common::net_stream_pair`).
#![cfg(all(any(unix, windows, rouse_wasip2), feature = "async", feature = "net"))]
mod common;
use common::*;

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll as TaskPoll, Wake, Waker};
use std::time::Instant;

use rouse::io::ErrorKind;
use rouse::registration::{Reactor, Registration};
use rouse::Interest;

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

fn woken(c: &Counter) -> usize {
    c.0.load(Ordering::SeqCst)
}

/// Turns the reactor until `done` holds (bounded by LONG).
fn turn_until<S: Backend, const N: usize>(reactor: &Reactor<S, N>, done: impl Fn() -> bool) {
    let deadline = Instant::now() + LONG;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "[{}] condition not reached",
            S::NAME
        );
        reactor.turn(Some(SHORT)).unwrap();
    }
}

fn reactor<S: Backend>() -> Reactor<S, 8> {
    Reactor::with_poll(new_poll::<S>()).unwrap()
}

fn drain(s: &NetStream) {
    let mut buf = [0u8; 256];
    loop {
        match (&*s).read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) => panic!("{e}"),
        }
    }
}

fn read_and_write_streams_are_independent<S: Backend>() {
    let reactor = reactor::<S>();
    let (mut a, b) = net_stream_pair();
    let reg = Registration::new(&reactor, &mut a, Interest::READABLE | Interest::WRITABLE).unwrap();
    let (rw, rc) = counting();
    let (ww, wc) = counting();
    assert!(reg
        .poll_read_ready(&mut Context::from_waker(&rw))
        .is_pending());
    assert!(reg
        .poll_write_ready(&mut Context::from_waker(&ww))
        .is_pending());
    // The socket is writable at once: only the write stream wakes.
    turn_until(&reactor, || woken(&wc) == 1);
    assert_eq!(
        woken(&rc),
        0,
        "[{}] read task woken by writability",
        S::NAME
    );
    assert!(reg
        .poll_write_ready(&mut Context::from_waker(&ww))
        .is_ready());
    assert!(reg
        .poll_read_ready(&mut Context::from_waker(&rw))
        .is_pending());
    // Data arrives: now the read stream wakes.
    put(&b, b"ping");
    turn_until(&reactor, || woken(&rc) == 1);
    match reg.poll_read_ready(&mut Context::from_waker(&rw)) {
        TaskPoll::Ready(Ok(ev)) => assert!(ev.is_readable() && !ev.is_writable()),
        other => panic!("[{}] {other:?}", S::NAME),
    }
    reg.deregister(&mut a).unwrap();
}

fn clear_does_not_lose_an_event_that_arrived_in_between<S: Backend>() {
    let reactor = reactor::<S>();
    let (mut a, b) = net_stream_pair();
    let reg = Registration::new(&reactor, &mut a, Interest::READABLE).unwrap();
    let (w, c) = counting();
    let mut cx = Context::from_waker(&w);
    put(&b, b"one");
    assert!(reg.poll_read_ready(&mut cx).is_pending());
    turn_until(&reactor, || woken(&c) >= 1);
    let TaskPoll::Ready(Ok(first)) = reg.poll_read_ready(&mut cx) else {
        panic!("[{}] not readable", S::NAME)
    };
    // Drain to WouldBlock (re-arming on poll(2)), then more data arrives
    // and is seen by a turn before the task clears its old readiness.
    drain(&a);
    put(&b, b"two");
    let ticks = woken(&c);
    let deadline = Instant::now() + LONG;
    loop {
        reactor.turn(Some(SHORT)).unwrap();
        let TaskPoll::Ready(Ok(now)) = reg.poll_read_ready(&mut cx) else {
            panic!("[{}] readiness lost", S::NAME)
        };
        if now != first {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "[{}] second event not seen",
            S::NAME
        );
    }
    let _ = ticks;
    reg.clear_readiness(first);
    // The newer readiness survives the stale clear.
    assert!(
        reg.poll_read_ready(&mut cx).is_ready(),
        "[{}] lost",
        S::NAME
    );
    // A clear with the current tick does clear.
    let TaskPoll::Ready(Ok(current)) = reg.poll_read_ready(&mut cx) else {
        unreachable!()
    };
    drain(&a);
    reg.clear_readiness(current);
    assert!(reg.poll_read_ready(&mut cx).is_pending());
    reg.deregister(&mut a).unwrap();
}

fn a_new_task_replaces_the_waker<S: Backend>() {
    let reactor = reactor::<S>();
    let (mut a, b) = net_stream_pair();
    let reg = Registration::new(&reactor, &mut a, Interest::READABLE).unwrap();
    let (first, fc) = counting();
    let (second, sc) = counting();
    assert!(reg
        .poll_read_ready(&mut Context::from_waker(&first))
        .is_pending());
    // The task moved: polled again with another waker.
    assert!(reg
        .poll_read_ready(&mut Context::from_waker(&second))
        .is_pending());
    put(&b, b"x");
    turn_until(&reactor, || woken(&sc) == 1);
    assert_eq!(woken(&fc), 0, "[{}] old waker woken", S::NAME);
    reg.deregister(&mut a).unwrap();
}

fn deregister_wakes_waiters_with_an_error<S: Backend>() {
    let reactor = reactor::<S>();
    let (mut a, _b) = net_stream_pair();
    let reg = Registration::new(&reactor, &mut a, Interest::READABLE).unwrap();
    let (rw, rc) = counting();
    let (ww, wc) = counting();
    assert!(reg
        .poll_read_ready(&mut Context::from_waker(&rw))
        .is_pending());
    // Registered for reading only: the write stream waits forever...
    assert!(reg
        .poll_write_ready(&mut Context::from_waker(&ww))
        .is_pending());
    reg.deregister(&mut a).unwrap();
    // ...until deregistration wakes it with an error.
    assert_eq!((woken(&rc), woken(&wc)), (1, 1));
    for r in [
        reg.poll_read_ready(&mut Context::from_waker(&rw)),
        reg.poll_write_ready(&mut Context::from_waker(&ww)),
    ] {
        assert!(matches!(r, TaskPoll::Ready(Err(_))), "[{}] {r:?}", S::NAME);
    }
    assert_eq!(
        reg.deregister(&mut a).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert!(reactor.is_empty());
}

fn shutdown_wakes_waiters_with_an_error<S: Backend>() {
    let reactor = reactor::<S>();
    let (mut a, _b) = net_stream_pair();
    let reg = Registration::new(&reactor, &mut a, Interest::READABLE).unwrap();
    let (w, c) = counting();
    assert!(reg
        .poll_read_ready(&mut Context::from_waker(&w))
        .is_pending());
    reactor.shutdown();
    assert_eq!(woken(&c), 1);
    assert!(matches!(
        reg.poll_read_ready(&mut Context::from_waker(&w)),
        TaskPoll::Ready(Err(_))
    ));
    assert!(reactor.turn(Some(SHORT)).is_err());
    let (mut x, _y) = net_stream_pair();
    assert!(Registration::new(&reactor, &mut x, Interest::READABLE).is_err());
}

fn a_full_reactor_is_a_clear_error<S: Backend>() {
    let reactor: Reactor<S, 2> = Reactor::with_poll(new_poll::<S>()).unwrap();
    let (mut a, _) = net_stream_pair();
    let (mut b, _) = net_stream_pair();
    let (mut c, _) = net_stream_pair();
    let ra = Registration::new(&reactor, &mut a, Interest::READABLE).unwrap();
    let _rb = Registration::new(&reactor, &mut b, Interest::READABLE).unwrap();
    let err = Registration::new(&reactor, &mut c, Interest::READABLE).unwrap_err();
    assert_eq!(err.kind(), rouse::io::TABLE_FULL);
    assert!(err.to_string().contains('2'), "{err}");
    // `c` was not registered: registering it elsewhere is not a duplicate.
    ra.deregister(&mut a).unwrap();
    drop(ra);
    let _rc = Registration::new(&reactor, &mut c, Interest::READABLE).unwrap();
    assert_eq!(reactor.len(), 2);
}

fn poll_read_io_retries_and_clears_on_would_block<S: Backend>() {
    let reactor = reactor::<S>();
    let (mut a, b) = net_stream_pair();
    let reg = Registration::new(&reactor, &mut a, Interest::READABLE).unwrap();
    let (w, c) = counting();
    let mut cx = Context::from_waker(&w);
    let mut buf = [0u8; 16];
    assert!(reg
        .poll_read_io(&mut cx, || (&a).read(&mut buf))
        .is_pending());
    put(&b, b"hello");
    turn_until(&reactor, || woken(&c) == 1);
    match reg.poll_read_io(&mut cx, || (&a).read(&mut buf)) {
        TaskPoll::Ready(Ok(5)) => assert_eq!(&buf[..5], b"hello"),
        other => panic!("[{}] {other:?}", S::NAME),
    }
    // Drained: the next attempt meets WouldBlock, clears and waits.
    assert!(reg
        .poll_read_io(&mut cx, || (&a).read(&mut buf))
        .is_pending());
    put(&b, b"again");
    turn_until(&reactor, || woken(&c) == 2);
    assert!(matches!(
        reg.poll_read_io(&mut cx, || (&a).read(&mut buf)),
        TaskPoll::Ready(Ok(5))
    ));
    reg.deregister(&mut a).unwrap();
}

/// A connected UDP socket whose peer port is closed gets an ICMP
/// port-unreachable: an error event. The first read returns the error
/// (`ECONNREFUSED`); the second must wait, not retry for ever because the
/// error bit stayed set after `WouldBlock`.
#[cfg(unix)]
fn an_error_event_is_cleared_after_would_block<S: Backend>() {
    let reactor = reactor::<S>();
    let closed = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut sock = rouse::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    sock.connect(closed).unwrap();
    let reg = Registration::new(&reactor, &mut sock, Interest::READABLE).unwrap();
    sock.send(b"ping").unwrap();
    let (w, _c) = counting();
    let mut cx = Context::from_waker(&w);
    turn_until(&reactor, || {
        reg.poll_read_ready(&mut Context::from_waker(&w)).is_ready()
    });
    let mut buf = [0u8; 16];
    match reg.poll_read_io(&mut cx, || sock.recv(&mut buf)) {
        TaskPoll::Ready(Err(e)) => assert!(
            matches!(
                e.kind(),
                ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
            ),
            "[{}] {e}",
            S::NAME
        ),
        other => panic!("[{}] first read: {other:?}", S::NAME),
    }
    // The second read meets WouldBlock: it must clear readiness (error bit
    // included) and wait. A closure that is retried 1000 times gives up,
    // so a spin shows as a result instead of a hung test.
    let mut calls = 0;
    let second = reg.poll_read_io(&mut cx, || {
        calls += 1;
        if calls > 1000 {
            return Ok(usize::MAX);
        }
        sock.recv(&mut buf)
    });
    assert!(
        second.is_pending(),
        "[{}] second read: {second:?} after {calls} tries",
        S::NAME
    );
    assert_eq!(calls, 1, "[{}]", S::NAME);
    reg.deregister(&mut sock).unwrap();
}

backend_tests!(
    // Under wine no ICMP error reaches the socket (the test would wait for
    // an event that never comes); WASI has no UDP.
    #[cfg(unix)]
    an_error_event_is_cleared_after_would_block,
    read_and_write_streams_are_independent,
    clear_does_not_lose_an_event_that_arrived_in_between,
    a_new_task_replaces_the_waker,
    deregister_wakes_waiters_with_an_error,
    shutdown_wakes_waiters_with_an_error,
    a_full_reactor_is_a_clear_error,
    poll_read_io_retries_and_clears_on_would_block,
);
