//! The wasip2 backend's own cases, under wasmtime with the host's network
//! (targets/wasm32-wasip2.toml): what WASI 0.2 reports and what it cannot
//! do, each as the clear answer rouse gives for it.
#![cfg(all(rouse_wasip2, feature = "net"))]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener as StdListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use rouse::net::{TcpListener, TcpStream};
use rouse::sys::{Selector, Wasip2Selector};
use rouse::wasi::SourceFd;
use rouse::{Events, Interest, Poll, Token, Waker};

type Small = Wasip2Selector<8>;

const LONG: Duration = Duration::from_secs(5);

fn poll_of<S: Selector>() -> Poll<S> {
    Poll::with_selector(S::new().unwrap())
}

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Polls until an event for `token` satisfying `pred`, for at most `LONG`.
fn wait_for<const N: usize>(
    poll: &mut Poll<Small>,
    events: &mut Events<Small, N>,
    token: Token,
    pred: impl Fn(&rouse::event::Event<Small>) -> bool,
) -> rouse::event::Event<Small> {
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        assert!(!left.is_zero(), "no matching event for {token:?}");
        poll.poll(events, Some(left)).unwrap();
        if let Some(ev) = events.iter().find(|e| e.token() == token && pred(e)) {
            return *ev;
        }
    }
}

/// A connected pair: a rouse stream (connected by rouse) and the accepted
/// std stream, blocking (the peer the test writes to).
fn pair(poll: &mut Poll<Small>) -> (TcpStream, std::net::TcpStream) {
    let listener = StdListener::bind(localhost()).unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let mut events = Events::<Small, 8>::new();
    poll.registry()
        .register(&mut client, Token(99), Interest::WRITABLE)
        .unwrap();
    wait_for(poll, &mut events, Token(99), |e| e.is_writable());
    poll.registry().deregister(&mut client).unwrap();
    (client, server)
}

#[test]
fn waker_is_unsupported_and_says_why() {
    let poll = poll_of::<Small>();
    let err = Waker::new(poll.registry(), Token(1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.to_string().contains("wasip2"), "{err}");
    // The reactor runs without one (its Notify falls back to polling).
    assert!(rouse::Poll::new().is_ok());
}

#[test]
fn a_poll_that_could_never_return_is_invalid_input() {
    let mut poll = poll_of::<Small>();
    let mut events = Events::<Small, 4>::new();
    // Nothing registered and no timeout: an error, not a host trap.
    let err = poll.poll(&mut events, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("no source registered"), "{err}");
    // With a timeout it just sleeps.
    poll.poll(&mut events, Some(Duration::from_millis(5)))
        .unwrap();
    assert!(events.is_empty());

    // A source reported and not re-armed: nothing left to wait for.
    let mut listener = TcpListener::bind(localhost()).unwrap();
    poll.registry()
        .register(&mut listener, Token(1), Interest::READABLE)
        .unwrap();
    let _c = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    wait_for(&mut poll, &mut events, Token(1), |e| e.is_readable());
    let err = poll.poll(&mut events, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("disarmed"), "{err}");
    // Accepting until WouldBlock re-arms it: waiting is allowed again.
    while listener.accept().is_ok() {}
    poll.poll(&mut events, Some(Duration::from_millis(1)))
        .unwrap();
}

#[test]
fn a_peer_close_is_readable_and_reads_end_of_file() {
    let mut poll = poll_of::<Small>();
    let mut events = Events::<Small, 8>::new();
    let (mut client, mut server) = pair(&mut poll);
    poll.registry()
        .register(&mut client, Token(1), Interest::READABLE)
        .unwrap();
    server.write_all(b"last").unwrap();
    wait_for(&mut poll, &mut events, Token(1), |e| e.is_readable());
    let mut buf = [0u8; 16];
    assert_eq!(client.read(&mut buf).unwrap(), 4);
    // Read less than it was given: re-armed, so the close is a new event.
    server.shutdown(Shutdown::Write).unwrap();
    let ev = wait_for(&mut poll, &mut events, Token(1), |e| e.is_readable());
    // WASI 0.2's readiness has no hang-up: readable, and the read says it.
    assert!(!ev.is_read_closed() && !ev.is_error(), "{ev:?}");
    assert_eq!(client.read(&mut buf).unwrap(), 0);
}

#[test]
fn a_refused_connect_is_an_error_event_or_an_error_at_once() {
    let mut poll = poll_of::<Small>();
    let mut events = Events::<Small, 8>::new();
    // A port nobody listens on.
    let addr = StdListener::bind(localhost())
        .unwrap()
        .local_addr()
        .unwrap();
    let mut client = match TcpStream::connect(addr) {
        Ok(client) => client,
        // wasi-libc may learn the refusal within connect itself.
        Err(e) => return assert_eq!(e.kind(), ErrorKind::ConnectionRefused),
    };
    poll.registry()
        .register(
            &mut client,
            Token(1),
            Interest::READABLE | Interest::WRITABLE,
        )
        .unwrap();
    let ev = wait_for(&mut poll, &mut events, Token(1), |e| e.is_writable());
    assert!(
        ev.is_error() && ev.is_write_closed() && ev.is_read_closed(),
        "{ev:?}"
    );
    let err = client.take_error().unwrap().expect("the connect's error");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert_eq!(
        client.peer_addr().unwrap_err().kind(),
        ErrorKind::NotConnected
    );
    assert_eq!(
        client.local_addr().unwrap_err().kind(),
        ErrorKind::NotConnected
    );
}

#[test]
fn a_connect_reports_writable_only() {
    let mut poll = poll_of::<Small>();
    let mut events = Events::<Small, 8>::new();
    let listener = StdListener::bind(localhost()).unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    poll.registry()
        .register(
            &mut client,
            Token(1),
            Interest::READABLE | Interest::WRITABLE,
        )
        .unwrap();
    let ev = wait_for(&mut poll, &mut events, Token(1), |e| e.is_writable());
    // wasi-libc answers the finished connect for whatever the pollfd asked;
    // nothing has been sent, so a readable here would be false.
    assert!(!ev.is_readable() && !ev.is_error(), "{ev:?}");
    assert!(client.take_error().unwrap().is_none());
    let (mut server, peer) = listener.accept().unwrap();
    assert_eq!(client.local_addr().unwrap(), peer);
    // Data then makes it readable.
    server.write_all(b"hi").unwrap();
    wait_for(&mut poll, &mut events, Token(1), |e| e.is_readable());
}

#[test]
fn a_stream_used_before_its_connect_was_reported_works() {
    // mio programs may write as soon as the peer has accepted, without
    // waiting for writable: wasi-libc still sees the socket connecting
    // until a poll looks at it, and rouse lets it finish.
    let listener = StdListener::bind(localhost()).unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let mut sent = false;
    for _ in 0..2000 {
        match client.write(b"early") {
            Ok(n) => {
                assert_eq!(n, 5);
                sent = true;
                break;
            }
            // The host's reactor may not have seen the handshake yet.
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("write before the connect was reported: {e}"),
        }
    }
    assert!(sent);
    let mut buf = [0u8; 5];
    server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"early");
}

#[test]
fn a_listener_is_never_writable() {
    let mut poll = poll_of::<Small>();
    let mut events = Events::<Small, 8>::new();
    let mut listener = TcpListener::bind(localhost()).unwrap();
    let _c = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    poll.registry()
        .register(&mut listener, Token(1), Interest::WRITABLE)
        .unwrap();
    // A connection waits, which wasi-libc reports for whatever is asked.
    poll.poll(&mut events, Some(Duration::from_millis(50)))
        .unwrap();
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn an_unconnected_socket_makes_poll_unsupported_with_a_reason() {
    let mut poll = poll_of::<Small>();
    let mut events = Events::<Small, 4>::new();
    // SAFETY: socket takes three ints and returns a new fd or -1.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0) };
    assert!(fd >= 0);
    // SAFETY: `fd` was just created and is owned by nothing else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    poll.registry()
        .register(
            &mut SourceFd(&owned.as_raw_fd()),
            Token(1),
            Interest::READABLE,
        )
        .unwrap();
    let err = poll
        .poll(&mut events, Some(Duration::from_millis(1)))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(
        err.to_string().contains("neither listening nor connected"),
        "{err}"
    );
    // Deregistered, the Poll works again.
    poll.registry()
        .deregister(&mut SourceFd(&owned.as_raw_fd()))
        .unwrap();
    poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
}

#[test]
fn a_file_registers_and_a_closed_one_is_forgotten() {
    let mut poll = poll_of::<Small>();
    let mut events = Events::<Small, 4>::new();
    let file = std::fs::File::open("Cargo.toml")
        .expect("opening Cargo.toml (is `--dir .` in the runner?)");
    let fd = file.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&fd), Token(1), Interest::READABLE)
        .unwrap();
    // A second registration of the same open file is AlreadyExists.
    let err = poll
        .registry()
        .register(&mut SourceFd(&fd), Token(2), Interest::READABLE)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    drop(file);
    // Closed behind the table's back: the next polls neither fail nor
    // report it, and the registration is gone.
    for _ in 0..3 {
        poll.poll(&mut events, Some(Duration::from_millis(5)))
            .unwrap();
        assert!(events.iter().all(|e| e.token() != Token(1)), "{events:?}");
    }
    let err = poll.registry().deregister(&mut SourceFd(&fd)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err:?}");
}

#[test]
fn default_poll_is_wasip2() {
    let poll = Poll::new().unwrap();
    assert_eq!(
        <rouse::sys::DefaultSelector as Selector>::CAPACITY,
        Some(rouse::sys::wasip2::DEFAULT_TABLE_CAPACITY)
    );
    drop(poll);
}
