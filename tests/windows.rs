//! Windows-only behaviour of the IOCP backend: a socket closed while
//! registered, the error when AFD cannot be opened, deregistration with a
//! poll in flight, and what wine's AFD reports for a listener.
#![cfg(all(windows, feature = "iocp", feature = "net"))]
mod common;
use common::*;

use std::io::{ErrorKind, Read, Write};
use std::os::windows::io::AsRawSocket;
use std::time::Duration;

use rouse::net::{TcpListener, TcpStream};
use rouse::sys::{IocpSelector, Selector};
use rouse::{Interest, Token};

type Iocp = IocpSelector<{ POLL_CAPACITY }>;

#[test]
fn missing_afd_is_a_clear_error() {
    let err = Iocp::with_device("\\Device\\NoSuchAfdDevice").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("\\Device\\Afd"), "{msg}");
    assert!(msg.contains("AFD"), "{msg}");
    assert!(Iocp::new().is_ok());
}

#[test]
fn socket_closed_while_registered_frees_its_slot() {
    let mut poll = new_poll::<IocpSelector<2>>();
    let mut events = new_events::<IocpSelector<2>>();
    let (a, _b) = loopback_pair();
    let raw = a.as_raw_socket();
    poll.registry()
        .selector()
        .register(raw, Token(1), Interest::READABLE)
        .unwrap();
    drop(a);
    // The close completes the poll in flight with AFD_POLL_LOCAL_CLOSE:
    // no event, and the slot is free again.
    expect_no_event(&mut poll, &mut events, Token(1), SHORT);
    let pairs: Vec<_> = (0..2).map(|_| loopback_pair()).collect();
    for (i, (c, _)) in pairs.iter().enumerate() {
        poll.registry()
            .selector()
            .register(c.as_raw_socket(), Token(10 + i), Interest::READABLE)
            .unwrap_or_else(|e| panic!("slot {i} not freed: {e}"));
    }
}

#[test]
fn deregister_with_poll_in_flight_never_reports() {
    let mut poll = new_poll::<Iocp>();
    let mut events = new_events::<Iocp>();
    let (mut a, mut b) = loopback_pair();
    let raw = a.as_raw_socket();
    let selector = poll.registry().selector();
    selector
        .register(raw, Token(1), Interest::READABLE)
        .unwrap();
    selector.deregister(raw).unwrap();
    b.write_all(b"x").unwrap();
    expect_no_event(&mut poll, &mut events, Token(1), SHORT);
    // Registering again works, and reports the waiting byte.
    let selector = poll.registry().selector();
    selector
        .register(raw, Token(2), Interest::READABLE)
        .unwrap();
    expect_event(&mut poll, &mut events, Token(2), LONG, |e| e.is_readable());
    let mut buf = [0u8; 4];
    assert_eq!(a.read(&mut buf).unwrap(), 1);
    poll.registry().selector().deregister(raw).unwrap();
    assert_eq!(
        poll.registry()
            .selector()
            .deregister(raw)
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn full_table_is_an_error() {
    let poll = new_poll::<IocpSelector<1>>();
    let (a, _b) = loopback_pair();
    let (c, _d) = loopback_pair();
    let s = poll.registry().selector();
    s.register(a.as_raw_socket(), Token(1), Interest::READABLE)
        .unwrap();
    let err = s
        .register(c.as_raw_socket(), Token(2), Interest::READABLE)
        .unwrap_err();
    assert_eq!(err.kind(), rouse::io::TABLE_FULL, "{err}");
    assert_eq!(
        s.register(a.as_raw_socket(), Token(3), Interest::READABLE)
            .unwrap_err()
            .kind(),
        ErrorKind::AlreadyExists
    );
}

#[test]
fn idle_listener_reports_nothing() {
    let mut poll = new_poll::<Iocp>();
    let mut events = new_events::<Iocp>();
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    poll.registry()
        .register(&mut listener, Token(0), Interest::READABLE)
        .unwrap();
    expect_no_event(&mut poll, &mut events, Token(0), Duration::from_millis(200));
    let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    expect_event(&mut poll, &mut events, Token(0), LONG, |e| e.is_readable());
    assert!(listener.accept().is_ok());
}

#[test]
fn listener_after_would_block() {
    let mut poll = new_poll::<Iocp>();
    let mut events = new_events::<Iocp>();
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    poll.registry()
        .register(&mut listener, Token(0), Interest::READABLE)
        .unwrap();
    let mut spurious = 0;
    for _ in 0..5 {
        assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
        let seen = collect_events(&mut poll, &mut events, Duration::from_millis(100));
        spurious += seen.len();
    }
    eprintln!("spurious listener events after WouldBlock: {spurious} of 5");
}

#[test]
fn reused_socket_value_registers_after_close_without_deregister() {
    let poll = new_poll::<Iocp>();
    let s = poll.registry().selector();
    let mut reused = 0;
    for round in 0..20 {
        let (a, _b) = loopback_pair();
        let raw = a.as_raw_socket();
        s.register(raw, Token(round), Interest::READABLE).unwrap();
        drop(a);
        // Give the close a moment to complete the poll in flight.
        std::thread::sleep(Duration::from_millis(20));
        let (c, _d) = loopback_pair();
        if c.as_raw_socket() == raw {
            reused += 1;
            s.register(raw, Token(100 + round), Interest::READABLE)
                .unwrap_or_else(|e| panic!("reused socket value {raw}: {e}"));
            s.deregister(raw).unwrap();
        }
    }
    eprintln!("socket values reused at once: {reused} of 20");
}

#[test]
fn a_value_that_is_no_socket_is_an_os_error() {
    let poll = new_poll::<Iocp>();
    let err = poll
        .registry()
        .selector()
        .register(0x7ff0, Token(1), Interest::READABLE)
        .unwrap_err();
    // WSAENOTSOCK from SIO_BASE_HANDLE; nothing was registered.
    assert!(err.raw_os_error().is_some(), "{err}");
    assert_eq!(
        poll.registry()
            .selector()
            .deregister(0x7ff0)
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn dropping_a_poll_with_polls_in_flight_takes_them_back() {
    let pairs: Vec<_> = (0..8).map(|_| loopback_pair()).collect();
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let poll = new_poll::<Iocp>();
        for (i, (a, _)) in pairs.iter().enumerate() {
            poll.registry()
                .selector()
                .register(a.as_raw_socket(), Token(i), Interest::READABLE)
                .unwrap();
        }
        // Drop cancels the 8 polls and waits for the kernel to return
        // their blocks before freeing them.
        drop(poll);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    // The sockets still work with a new poll.
    let mut poll = new_poll::<Iocp>();
    let mut events = new_events::<Iocp>();
    let (a, b) = &pairs[0];
    poll.registry()
        .selector()
        .register(a.as_raw_socket(), Token(1), Interest::READABLE)
        .unwrap();
    (&*b).write_all(b"z").unwrap();
    expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_readable());
}

#[test]
fn a_slot_freed_by_deregister_is_reusable_before_the_next_poll() {
    let mut poll = new_poll::<IocpSelector<2>>();
    let mut events = new_events::<IocpSelector<2>>();
    let pairs: Vec<_> = (0..4).map(|_| loopback_pair()).collect();
    let raw = |k: usize| pairs[k].0.as_raw_socket();
    let s = poll.registry().selector();
    s.register(raw(0), Token(0), Interest::READABLE).unwrap();
    s.register(raw(1), Token(1), Interest::READABLE).unwrap();
    // Both slots free at once; both polls stay with the kernel until a
    // poll dequeues their cancellations, so the new registrations wait for
    // their blocks.
    s.deregister(raw(0)).unwrap();
    s.deregister(raw(1)).unwrap();
    s.register(raw(2), Token(2), Interest::READABLE).unwrap();
    s.register(raw(3), Token(3), Interest::READABLE).unwrap();
    assert_eq!(
        s.register(raw(1), Token(9), Interest::READABLE)
            .unwrap_err()
            .kind(),
        rouse::io::TABLE_FULL
    );
    // A waiting registration can be deregistered, and its slot reused (by
    // the socket deregistered above, under a new token).
    s.deregister(raw(3)).unwrap();
    s.register(raw(0), Token(4), Interest::READABLE).unwrap();
    (&pairs[2].1).write_all(b"a").unwrap();
    (&pairs[0].1).write_all(b"b").unwrap();
    (&pairs[1].1).write_all(b"c").unwrap();
    (&pairs[3].1).write_all(b"d").unwrap();
    let seen = collect_events(&mut poll, &mut events, Duration::from_millis(300));
    let tokens: Vec<_> = seen.iter().map(|e| e.token()).collect();
    assert!(tokens.contains(&Token(2)), "{seen:?}");
    assert!(tokens.contains(&Token(4)), "{seen:?}");
    // Ended registrations are never reported.
    assert!(
        tokens.iter().all(|t| *t == Token(2) || *t == Token(4)),
        "{seen:?}"
    );
}

#[test]
fn a_waiting_registration_gets_its_poll_while_another_thread_polls() {
    let mut poll = new_poll::<IocpSelector<1>>();
    let mut events = new_events::<IocpSelector<1>>();
    let (a, _b) = loopback_pair();
    let (c, d) = loopback_pair();
    let registry = poll.registry().try_clone().unwrap();
    registry
        .selector()
        .register(a.as_raw_socket(), Token(1), Interest::READABLE)
        .unwrap();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(50));
            // The table's one block is held by the cancelled poll until the
            // polling thread dequeues it: `c` waits for it.
            registry.selector().deregister(a.as_raw_socket()).unwrap();
            registry
                .selector()
                .register(c.as_raw_socket(), Token(2), Interest::READABLE)
                .unwrap();
            (&d).write_all(b"x").unwrap();
        });
        expect_event(&mut poll, &mut events, Token(2), LONG, |e| e.is_readable());
    });
}

/// A connected UDP socket whose peer port is closed: the ICMP "port
/// unreachable" that comes back is not the end of its reads (wine's AFD
/// reports it as a failed connect while `recv` still says `WouldBlock`;
/// tokio, for which read-closed is final, retried such a read forever
/// without yielding), and it is reported once, not after every
/// `WouldBlock`.
#[test]
fn udp_to_a_closed_port_is_not_read_closed() {
    use rouse::net::UdpSocket;

    let mut poll = new_poll::<Iocp>();
    let mut events = new_events::<Iocp>();
    let mut sender = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let gone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = gone.local_addr().unwrap();
    drop(gone);
    // In tokio's order: registered, connected, writable reported, sent
    // (wine reports the ICMP error to the poll in flight then).
    poll.registry()
        .register(
            &mut sender,
            Token(1),
            Interest::READABLE | Interest::WRITABLE,
        )
        .unwrap();
    sender.connect(addr).unwrap();
    expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_writable());
    assert_eq!(sender.send(b"anyone?").unwrap(), 7);
    let mut reported = 0;
    for _ in 0..20 {
        poll.poll(&mut events, Some(Duration::from_millis(20)))
            .unwrap();
        for event in events.iter() {
            assert!(!event.is_read_closed(), "{event:?}");
            reported += 1;
            let mut buf = [0u8; 16];
            // Until WouldBlock (re-armed) or the error Windows gives.
            while sender.recv(&mut buf).is_ok() {}
        }
    }
    // The error once at most: not one per WouldBlock.
    assert!(reported <= 2, "{reported} events");
}
