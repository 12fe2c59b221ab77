//! UnixListener, UnixStream and UnixDatagram on every backend: pairs,
//! listeners on a path in a fresh temp dir, edge-triggered readiness, peer
//! close, shutdown, deregister, datagrams by path and unbound.
// Needs Unix sockets (and threads), which wasm32-wasip1 lacks.
#![cfg(all(unix, feature = "net"))]
mod common;
use common::*;

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::time::Instant;

use rouse::net::{UnixDatagram, UnixListener, UnixStream};
use rouse::{Interest, Token};

const LISTENER: Token = Token(0);
const A: Token = Token(1);
const B: Token = Token(2);

fn stream_pair_edge_triggered<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (mut a, mut b) = UnixStream::pair().unwrap();
    poll.registry()
        .register(&mut b, B, Interest::READABLE)
        .unwrap();
    expect_no_event(&mut poll, &mut events, B, SHORT);

    a.write_all(b"abc").unwrap();
    expect_event(&mut poll, &mut events, B, LONG, |e| e.is_readable());
    expect_no_event(&mut poll, &mut events, B, SHORT);
    let mut one = [0u8; 1];
    assert_eq!(b.read(&mut one).unwrap(), 1);
    expect_no_event(&mut poll, &mut events, B, SHORT);
    assert_eq!(drain(&b), b"bc");
    expect_no_event(&mut poll, &mut events, B, SHORT);
    for round in 0..3u8 {
        (&a).write_all(&[round]).unwrap();
        expect_event(&mut poll, &mut events, B, LONG, |e| e.is_readable());
        assert_eq!(drain(&b), [round]);
        expect_no_event(&mut poll, &mut events, B, SHORT);
    }

    // And the other way, through `&UnixStream`.
    poll.registry()
        .register(&mut a, A, Interest::READABLE | Interest::WRITABLE)
        .unwrap();
    expect_event(&mut poll, &mut events, A, LONG, |e| e.is_writable());
    (&b).write_all(b"back").unwrap();
    assert_eq!(read_exactly(&mut poll, &mut events, A, &a, 4), b"back");
}

fn listener_and_connect_on_a_path<S: Backend>() {
    let dir = TempDir::new("uds");
    let path = dir.path().join("listener.sock");
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let mut listener = UnixListener::bind(&path).unwrap();
    assert_eq!(
        listener.local_addr().unwrap().as_pathname(),
        Some(path.as_path())
    );
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .unwrap();
    assert_eq!(
        listener.accept().unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    expect_no_event(&mut poll, &mut events, LISTENER, SHORT);

    let mut client = UnixStream::connect(&path).unwrap();
    poll.registry()
        .register(&mut client, A, Interest::READABLE | Interest::WRITABLE)
        .unwrap();
    let mut second = UnixStream::connect_addr(&listener.local_addr().unwrap()).unwrap();
    poll.registry()
        .register(&mut second, Token(3), Interest::READABLE)
        .unwrap();

    let mut accepted = Vec::new();
    let deadline = Instant::now() + LONG;
    while accepted.len() < 2 {
        assert!(Instant::now() < deadline, "[{}] accept timed out", S::NAME);
        match listener.accept() {
            Ok((stream, addr)) => {
                assert!(addr.is_unnamed());
                accepted.push(stream);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                expect_event(&mut poll, &mut events, LISTENER, LONG, |e| e.is_readable());
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
    assert_eq!(
        listener.accept().unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    expect_event(&mut poll, &mut events, A, LONG, |e| e.is_writable());
    assert!(client.take_error().unwrap().is_none());
    assert_eq!(
        client.peer_addr().unwrap().as_pathname(),
        Some(path.as_path())
    );

    // Which accepted stream is whose is not fixed: find the client's by data.
    client.write_all(b"from client").unwrap();
    second.write_all(b"from second").unwrap();
    let mut server = accepted.remove(0);
    poll.registry()
        .register(&mut server, B, Interest::READABLE)
        .unwrap();
    let got = read_exactly(&mut poll, &mut events, B, &server, 11);
    assert!(got == b"from client" || got == b"from second", "{got:?}");
    server.write_all(b"reply").unwrap();
    let reply = if got == b"from client" {
        read_exactly(&mut poll, &mut events, A, &client, 5)
    } else {
        read_exactly(&mut poll, &mut events, Token(3), &second, 5)
    };
    assert_eq!(reply, b"reply");

    // A new connection brings a new event for the drained listener.
    let _third = UnixStream::connect(&path).unwrap();
    expect_event(&mut poll, &mut events, LISTENER, LONG, |e| e.is_readable());
    assert!(listener.accept().is_ok());
    drop(listener);
    drop(dir);
    assert!(!path.exists());
}

fn connect_to_missing_path_fails<S: Backend>() {
    let dir = TempDir::new("uds-missing");
    let err = UnixStream::connect(dir.path().join("nobody")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let too_long = dir.path().join("x".repeat(200));
    assert_eq!(
        UnixStream::connect(too_long).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
}

fn peer_close_and_shutdown<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, mut b) = UnixStream::pair().unwrap();
    poll.registry()
        .register(&mut b, B, Interest::READABLE)
        .unwrap();
    a.shutdown(Shutdown::Write).unwrap();
    let ev = expect_event(&mut poll, &mut events, B, LONG, |e| e.is_readable());
    #[cfg(target_os = "linux")]
    assert!(ev.is_read_closed(), "[{}] {ev:?}", S::NAME);
    let _ = ev;
    assert_eq!(b.read(&mut [0u8; 4]).unwrap(), 0);
    // `a` can still read what `b` writes.
    (&b).write_all(b"ok").unwrap();
    let mut buf = [0u8; 2];
    let deadline = Instant::now() + LONG;
    loop {
        assert!(Instant::now() < deadline);
        match (&a).read(&mut buf) {
            Ok(2) => break,
            Ok(n) => panic!("short read {n}"),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
            Err(e) => panic!("read: {e}"),
        }
    }
    assert_eq!(&buf, b"ok");

    let (c, mut d) = UnixStream::pair().unwrap();
    poll.registry()
        .register(&mut d, Token(4), Interest::READABLE)
        .unwrap();
    drop(c);
    let ev = expect_event(&mut poll, &mut events, Token(4), LONG, |e| {
        e.is_readable() || e.is_read_closed()
    });
    assert!(ev.is_read_closed(), "[{}] {ev:?}", S::NAME);
    assert_eq!(d.read(&mut [0u8; 4]).unwrap(), 0);
}

fn deregister_stops_events<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, mut b) = UnixStream::pair().unwrap();
    poll.registry()
        .register(&mut b, B, Interest::READABLE)
        .unwrap();
    poll.registry().deregister(&mut b).unwrap();
    (&a).write_all(b"x").unwrap();
    expect_no_event(&mut poll, &mut events, B, SHORT);
    poll.registry()
        .register(&mut b, Token(6), Interest::WRITABLE)
        .unwrap();
    expect_event(&mut poll, &mut events, Token(6), LONG, |e| e.is_writable());
    poll.registry()
        .reregister(&mut b, Token(7), Interest::READABLE)
        .unwrap();
    expect_event(&mut poll, &mut events, Token(7), LONG, |e| e.is_readable());
    assert_eq!(drain(&b), b"x");
}

fn datagram_pair_edge_triggered<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, mut b) = UnixDatagram::pair().unwrap();
    poll.registry()
        .register(&mut b, B, Interest::READABLE)
        .unwrap();
    expect_no_event(&mut poll, &mut events, B, SHORT);
    a.send(b"one").unwrap();
    a.send(b"two").unwrap();
    expect_event(&mut poll, &mut events, B, LONG, |e| e.is_readable());
    expect_no_event(&mut poll, &mut events, B, SHORT);
    let mut buf = [0u8; 16];
    assert_eq!(b.recv(&mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"one");
    assert_eq!(b.recv(&mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"two");
    assert_eq!(
        b.recv(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    expect_no_event(&mut poll, &mut events, B, SHORT);
    a.send(b"three").unwrap();
    expect_event(&mut poll, &mut events, B, LONG, |e| e.is_readable());
    assert_eq!(b.recv(&mut buf).unwrap(), 5);

    a.shutdown(Shutdown::Both).unwrap();
    assert!(a.send(b"late").is_err());
    assert!(a.take_error().unwrap().is_none());
}

fn datagram_paths_and_unbound<S: Backend>() {
    let dir = TempDir::new("uds-dgram");
    let (pa, pb) = (dir.path().join("a.sock"), dir.path().join("b.sock"));
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let a = UnixDatagram::bind(&pa).unwrap();
    let mut b = UnixDatagram::bind(&pb).unwrap();
    assert_eq!(b.local_addr().unwrap().as_pathname(), Some(pb.as_path()));
    poll.registry()
        .register(&mut b, B, Interest::READABLE)
        .unwrap();

    a.send_to(b"hi", &pb).unwrap();
    expect_event(&mut poll, &mut events, B, LONG, |e| e.is_readable());
    let mut buf = [0u8; 16];
    let (n, from) = b.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hi");
    assert_eq!(from.as_pathname(), Some(pa.as_path()));
    assert_eq!(
        b.recv_from(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );

    let u = UnixDatagram::unbound().unwrap();
    u.send_to(b"anon", &pb).unwrap();
    expect_event(&mut poll, &mut events, B, LONG, |e| e.is_readable());
    let (n, from) = b.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"anon");
    assert!(from.is_unnamed());
    // Drained to WouldBlock, so the next datagram brings a new event.
    assert_eq!(
        b.recv_from(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );

    u.connect(&pb).unwrap();
    assert_eq!(u.peer_addr().unwrap().as_pathname(), Some(pb.as_path()));
    u.send(b"conn").unwrap();
    expect_event(&mut poll, &mut events, B, LONG, |e| e.is_readable());
    assert_eq!(b.recv(&mut buf).unwrap(), 4);

    // Conversions keep the socket and its registration-ability.
    poll.registry().deregister(&mut b).unwrap();
    let fd = b.into_raw_fd();
    // SAFETY: `fd` was just released by `into_raw_fd` and is owned by no one.
    let mut b = unsafe { UnixDatagram::from_raw_fd(fd) };
    assert_eq!(b.as_raw_fd(), fd);
    poll.registry()
        .register(&mut b, B, Interest::READABLE)
        .unwrap();
    a.send_to(b"again", &pb).unwrap();
    expect_event(&mut poll, &mut events, B, LONG, |e| e.is_readable());
    assert_eq!(b.recv(&mut buf).unwrap(), 5);
}

#[cfg(target_os = "linux")]
fn abstract_names<S: Backend>() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;

    let name = format!("rouse-test-{}-{}", std::process::id(), S::NAME);
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let mut listener = UnixListener::bind_addr(&addr).unwrap();
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .unwrap();
    let _client = UnixStream::connect_addr(&addr).unwrap();
    expect_event(&mut poll, &mut events, LISTENER, LONG, |e| e.is_readable());
    let (server, _) = listener.accept().unwrap();
    assert_eq!(
        server.local_addr().unwrap().as_abstract_name(),
        Some(name.as_bytes())
    );
}

#[cfg(not(target_os = "linux"))]
fn abstract_names<S: Backend>() {}

backend_tests!(
    stream_pair_edge_triggered,
    listener_and_connect_on_a_path,
    connect_to_missing_path_fails,
    peer_close_and_shutdown,
    deregister_stops_events,
    datagram_pair_edge_triggered,
    datagram_paths_and_unbound,
    abstract_names,
);
