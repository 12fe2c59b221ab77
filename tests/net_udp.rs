//! UdpSocket on every backend: send_to/recv_from, connect/send/recv,
//! peeking, edge-triggered readiness, deregister, IPv6, options.
// Needs Unix sockets (and threads), which wasm32-wasip1 lacks.
#![cfg(all(any(unix, windows), feature = "net"))]
mod common;
use common::*;

use std::io;
use std::net::SocketAddr;
#[cfg(unix)]
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
    expect_no_event(&mut poll, &mut events, B, SHORT);

    assert_eq!(a.send_to(b"first", b_addr).unwrap(), 5);
    assert_eq!(a.send_to(b"second", b_addr).unwrap(), 6);
    expect_event(&mut poll, &mut events, B, LONG, |e| e.is_readable());
    // Datagrams keep their boundaries and order.
    let mut buf = [0u8; 64];
    let (n, from) = b.peek_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"first"[..], a_addr));
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
    a.send_to(b"third", b_addr).unwrap();
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
    stranger.send_to(b"noise", b.local_addr().unwrap()).unwrap();
    assert_eq!(a.send(b"ping").unwrap(), 4);
    expect_event(&mut poll, &mut events, B, LONG, |e| e.is_readable());
    let mut buf = [0u8; 64];
    assert_eq!(b.peek(&mut buf).unwrap(), 4);
    assert_eq!(b.recv(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"ping");
    assert_eq!(
        b.recv(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );

    b.send(b"pong").unwrap();
    expect_event(&mut poll, &mut events, A, LONG, |e| e.is_readable());
    assert_eq!(a.recv(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"pong");
    assert!(a.take_error().unwrap().is_none());
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
    a.send_to(b"x", b_addr).unwrap();
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
    a.send_to(b"v6", b.local_addr().unwrap()).unwrap();
    let (data, from) = recv_one(&mut poll, &mut events, B, &b);
    assert_eq!(data, b"v6");
    assert_eq!(from, a.local_addr().unwrap());
    assert!(from.is_ipv6());
}

fn options_and_conversions<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let a = bind("127.0.0.1:0");
    a.set_broadcast(true).unwrap();
    assert!(a.broadcast().unwrap());
    a.set_broadcast(false).unwrap();
    assert!(!a.broadcast().unwrap());
    a.set_ttl(17).unwrap();
    assert_eq!(a.ttl().unwrap(), 17);
    a.set_multicast_ttl_v4(3).unwrap();
    assert_eq!(a.multicast_ttl_v4().unwrap(), 3);
    assert!(format!("{a:?}").contains("UdpSocket"));

    let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    std_socket.set_nonblocking(true).unwrap();
    let owned: OwnedFd = UdpSocket::from_std(std_socket).into();
    let mut b = UdpSocket::from(owned);
    poll.registry()
        .register(&mut b, B, Interest::READABLE)
        .unwrap();
    a.send_to(b"conv", b.local_addr().unwrap()).unwrap();
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
