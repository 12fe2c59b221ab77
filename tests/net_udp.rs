//! UdpSocket on every backend: send_to/recv_from, connect/send/recv,
//! peeking, edge-triggered readiness, deregister, IPv6, options.
// Needs Unix sockets (and threads), which wasm32-wasip1 lacks.
#![cfg(all(any(unix, windows, rouse_wasip2), feature = "net"))]
mod common;
use common::*;

use std::io;
use std::net::SocketAddr;
#[cfg(any(unix, rouse_wasip2))]
use std::os::fd::OwnedFd;
#[cfg(windows)]
use std::os::windows::io::OwnedSocket as OwnedFd;

use rouse::net::UdpSocket;
use rouse::{Interest, Token};

const A: Token = Token(1);
const B: Token = Token(2);

fn bind(addr: &str) -> UdpSocket {
    UdpSocket::bind(addr.parse().unwrap()).unwrap()
}

/// Runs `send` until it does not return `WouldBlock`, at most 2000 times
/// a millisecond apart, and returns how much it sent. Linux takes a small
/// datagram at once; wasmtime (wasip2) may refuse it until its own reactor
/// has seen the socket writable.
fn sent(mut send: impl FnMut() -> io::Result<usize>) -> usize {
    for _ in 0..2000 {
        match send() {
            Ok(n) => return n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(e) => panic!("send: {e}"),
        }
    }
    panic!("a send kept returning WouldBlock");
}

/// Receives one datagram with `recv_from`, waiting for a readable event
/// for `token` when none is queued.
fn recv_one<S: Backend, const N: usize>(
    poll: &mut rouse::Poll<S>,
    events: &mut rouse::Events<S, N>,
    token: Token,
    socket: &UdpSocket,
) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 1500];
    for _ in 0..100 {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => return (buf[..n].to_vec(), from),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                expect_event(poll, events, token, LONG, |e| e.is_readable());
            }
            Err(e) => panic!("recv_from: {e}"),
        }
    }
    panic!("[{}] no datagram", S::NAME);
}

fn send_to_recv_from_edge_triggered<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let a = bind("127.0.0.1:0");
    let mut b = bind("127.0.0.1:0");
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    poll.registry()
        .register(&mut b, B, Interest::READABLE)
        .unwrap();
    // wasi-libc makes a UDP socket's streams (what it polls) at its first
    // receive or send, and says a socket without them is ready: there the
    // receive that finds nothing comes first, and events are exact after.
    #[cfg(rouse_wasip2)]
    assert_eq!(
        b.recv_from(&mut [0u8; 8]).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    expect_no_event(&mut poll, &mut events, B, SHORT);

    assert_eq!(sent(|| a.send_to(b"first", b_addr)), 5);
    assert_eq!(sent(|| a.send_to(b"second", b_addr)), 6);
    expect_event(&mut poll, &mut events, B, LONG, |e| e.is_readable());
    // Datagrams keep their boundaries and order.
    let mut buf = [0u8; 64];
    match b.peek_from(&mut buf) {
        Ok((n, from)) => assert_eq!((&buf[..n], from), (&b"first"[..], a_addr)),
        // wasi-libc has no MSG_PEEK: a clear error, and nothing consumed.
        Err(e) if cfg!(rouse_wasip2) => assert_eq!(e.kind(), io::ErrorKind::Unsupported),
        Err(e) => panic!("[{}] peek_from: {e}", S::NAME),
    }
    assert_eq!(
        recv_one(&mut poll, &mut events, B, &b),
        (b"first".to_vec(), a_addr)
    );
    assert_eq!(
        recv_one(&mut poll, &mut events, B, &b),
        (b"second".to_vec(), a_addr)
    );
    assert_eq!(
        b.recv_from(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    // Drained: no event until the next datagram, then one.
    expect_no_event(&mut poll, &mut events, B, SHORT);
    sent(|| a.send_to(b"third", b_addr));
    expect_event(&mut poll, &mut events, B, LONG, |e| e.is_readable());
    assert_eq!(
        recv_one(&mut poll, &mut events, B, &b),
        (b"third".to_vec(), a_addr)
    );
}

fn connect_send_recv<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let mut a = bind("127.0.0.1:0");
    let mut b = bind("127.0.0.1:0");
    let stranger = bind("127.0.0.1:0");
    assert_eq!(
        a.peer_addr().unwrap_err().kind(),
        io::ErrorKind::NotConnected
    );
    a.connect(b.local_addr().unwrap()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    poll.registry()
        .register(&mut a, A, Interest::READABLE | Interest::WRITABLE)
        .unwrap();
    poll.registry()
        .register(&mut b, B, Interest::READABLE)
        .unwrap();
    expect_event(&mut poll, &mut events, A, LONG, |e| e.is_writable());

    // A connected socket drops datagrams from anyone else.
    sent(|| stranger.send_to(b"noise", b.local_addr().unwrap()));
    assert_eq!(sent(|| a.send(b"ping")), 4);
    expect_event(&mut poll, &mut events, B, LONG, |e| e.is_readable());
    let mut buf = [0u8; 64];
    match b.peek(&mut buf) {
        Ok(n) => assert_eq!(n, 4),
        // wasi-libc has no MSG_PEEK (see above).
        Err(e) if cfg!(rouse_wasip2) => assert_eq!(e.kind(), io::ErrorKind::Unsupported),
        Err(e) => panic!("[{}] peek: {e}", S::NAME),
    }
    assert_eq!(b.recv(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"ping");
    assert_eq!(
        b.recv(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );

    sent(|| b.send(b"pong"));
    expect_event(&mut poll, &mut events, A, LONG, |e| e.is_readable());
    assert_eq!(a.recv(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"pong");
    // wasi-libc keeps no SO_ERROR for UDP sockets: an error (ENOPROTOOPT).
    if cfg!(rouse_wasip2) {
        assert!(a.take_error().is_err());
    } else {
        assert!(a.take_error().unwrap().is_none());
    }
}

fn writable_once_registered<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let mut a = bind("127.0.0.1:0");
    poll.registry()
        .register(&mut a, A, Interest::WRITABLE)
        .unwrap();
    let ev = expect_event(&mut poll, &mut events, A, LONG, |e| e.is_writable());
    assert!(!ev.is_readable());
    expect_no_event(&mut poll, &mut events, A, SHORT);
}

fn deregister_and_reregister<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let a = bind("127.0.0.1:0");
    let mut b = bind("127.0.0.1:0");
    let b_addr = b.local_addr().unwrap();
    poll.registry()
        .register(&mut b, B, Interest::READABLE)
        .unwrap();
    poll.registry().deregister(&mut b).unwrap();
    sent(|| a.send_to(b"x", b_addr));
    expect_no_event(&mut poll, &mut events, B, SHORT);

    poll.registry()
        .register(&mut b, B, Interest::WRITABLE)
        .unwrap();
    expect_event(&mut poll, &mut events, B, LONG, |e| e.is_writable());
    poll.registry()
        .reregister(&mut b, Token(5), Interest::READABLE)
        .unwrap();
    expect_event(&mut poll, &mut events, Token(5), LONG, |e| e.is_readable());
    assert_eq!(recv_one(&mut poll, &mut events, Token(5), &b).0, b"x");
}

fn ipv6_send_to_recv_from<S: Backend>() {
    let a = match UdpSocket::bind("[::1]:0".parse().unwrap()) {
        Ok(a) => a,
        Err(e) => {
            println!("skipping: cannot bind [::1] ({e})");
            return;
        }
    };
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let mut b = bind("[::1]:0");
    poll.registry()
        .register(&mut b, B, Interest::READABLE)
        .unwrap();
    sent(|| a.send_to(b"v6", b.local_addr().unwrap()));
    let (data, from) = recv_one(&mut poll, &mut events, B, &b);
    assert_eq!(data, b"v6");
    assert_eq!(from, a.local_addr().unwrap());
    assert!(from.is_ipv6());
}

fn options_and_conversions<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let a = bind("127.0.0.1:0");
    // WASI 0.2 has no broadcast or multicast: wasi-libc refuses the options
    // with an error (ENOPROTOOPT), which is passed on.
    if cfg!(rouse_wasip2) {
        assert!(a.set_broadcast(true).is_err());
        assert!(a.set_multicast_ttl_v4(3).is_err());
    } else {
        a.set_broadcast(true).unwrap();
        assert!(a.broadcast().unwrap());
        a.set_broadcast(false).unwrap();
        assert!(!a.broadcast().unwrap());
        a.set_multicast_ttl_v4(3).unwrap();
        assert_eq!(a.multicast_ttl_v4().unwrap(), 3);
    }
    a.set_ttl(17).unwrap();
    assert_eq!(a.ttl().unwrap(), 17);
    assert!(format!("{a:?}").contains("UdpSocket"));

    let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    std_socket.set_nonblocking(true).unwrap();
    let owned: OwnedFd = UdpSocket::from_std(std_socket).into();
    let mut b = UdpSocket::from(owned);
    poll.registry()
        .register(&mut b, B, Interest::READABLE)
        .unwrap();
    sent(|| a.send_to(b"conv", b.local_addr().unwrap()));
    assert_eq!(recv_one(&mut poll, &mut events, B, &b).0, b"conv");
}

backend_tests!(
    send_to_recv_from_edge_triggered,
    connect_send_recv,
    writable_once_registered,
    deregister_and_reregister,
    ipv6_send_to_recv_from,
    options_and_conversions,
);
