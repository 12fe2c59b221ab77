//! mio's behaviour on every backend: what programs written for mio (and
//! runtimes built on it) do, run the same on epoll, poll(2), AutoSelector,
//! WASI, IOCP (and kqueue).
//!
//! One test per behaviour the table backends (poll(2), WASI, IOCP) once got
//! wrong, written once and run on each backend by `backend_tests!`:
//! sources dropped while registered, closed directions after a direction
//! was reported, one source with two `Poll`s, one `Waker` per `Poll`, raw
//! fds without `reregister`, the register/poll hand-off between threads,
//! tables too large for the stack, and the `Interest` API.
#![cfg(feature = "std")]
mod common;
use common::*;

#[cfg(any(unix, windows, rouse_wasip2))]
use std::io::Read;
#[cfg(any(unix, rouse_wasip2))]
use std::os::fd::AsRawFd;

#[cfg(any(unix, windows, rouse_wasip2))]
use rouse::event::IoSource;
#[cfg(any(unix, windows, rouse_wasip2))]
use rouse::io::ErrorKind;
use rouse::Interest;
#[cfg(any(unix, windows, rouse_wasip2))]
use rouse::Token;

/// A source dropped while registered, without `deregister` (mio's usual
/// style), is gone: its fd number, handed to the next socket at once, can
/// be registered, and the new socket's readiness is reported under its own
/// token only, never under the dropped one's.
#[cfg(all(any(unix, windows, rouse_wasip2), feature = "net"))]
fn dropped_source_frees_its_fd_number<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let keep = net_stream_pair();
    for round in 0..4 {
        let (mut a, _b) = net_stream_pair();
        let old = a.as_raw_fd();
        let dead = Token(100 + round);
        poll.registry()
            .register(&mut a, dead, Interest::READABLE | Interest::WRITABLE)
            .unwrap();
        expect_event(&mut poll, &mut events, dead, LONG, |e| e.is_writable());
        drop(a);
        // The lowest free number: usually the one just closed.
        let (mut c, d) = net_stream_pair();
        let reused = c.as_raw_fd() == old;
        let live = Token(200 + round);
        poll.registry()
            .register(&mut c, live, Interest::READABLE)
            .unwrap_or_else(|e| panic!("[{}] fd reused: {reused}: {e}", S::NAME));
        put(&d, b"x");
        expect_event(&mut poll, &mut events, live, LONG, |e| e.is_readable());
        let seen = collect_events(&mut poll, &mut events, SHORT);
        assert!(
            seen.iter().all(|e| e.token() != dead),
            "[{}] an event for a dropped source: {seen:?}",
            S::NAME
        );
        assert_eq!(c.read(&mut [0; 4]).unwrap(), 1);
    }
    drop(keep);
}

/// A listener dropped while registered produces no event afterwards.
#[cfg(all(any(unix, windows, rouse_wasip2), feature = "net"))]
fn dropped_listener_reports_nothing<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let mut listener = rouse::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    poll.registry()
        .register(&mut listener, Token(1), Interest::READABLE)
        .unwrap();
    drop(listener);
    expect_no_event(&mut poll, &mut events, Token(1), SHORT);
}

/// A raw fd closed while registered is forgotten silently (as epoll
/// forgets a closed fd), and its number, once reused by a new socket, can
/// be registered.
#[cfg(any(unix, windows, rouse_wasip2))]
fn closed_raw_fd_is_forgotten<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, _b) = stream_pair();
    let old = a.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&old), Token(1), Interest::READABLE)
        .unwrap();
    drop(a);
    let seen = collect_events(&mut poll, &mut events, SHORT);
    assert!(
        seen.iter().all(|e| e.token() != Token(1)),
        "[{}] {seen:?}",
        S::NAME
    );
    let (c, d) = stream_pair();
    let fd = c.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&fd), Token(2), Interest::READABLE)
        .unwrap_or_else(|e| panic!("[{}] reused: {}: {e}", S::NAME, fd == old));
    put(&d, b"x");
    expect_event(&mut poll, &mut events, Token(2), LONG, |e| e.is_readable());
    poll.registry().deregister(&mut SourceFd(&fd)).unwrap();
}

/// A raw fd closed while registered and its number reused before any poll
/// noticed: registering the new socket replaces the stale registration.
#[cfg(any(unix, windows, rouse_wasip2))]
fn reused_raw_fd_number_replaces_the_stale_registration<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    for round in 0..4 {
        let (a, _b) = stream_pair();
        let old = a.as_raw_fd();
        poll.registry()
            .register(&mut SourceFd(&old), Token(10 + round), Interest::READABLE)
            .unwrap();
        drop(a);
        let (c, d) = stream_pair();
        let fd = c.as_raw_fd();
        poll.registry()
            .register(&mut SourceFd(&fd), Token(20 + round), Interest::READABLE)
            .unwrap_or_else(|e| panic!("[{}] reused: {}: {e}", S::NAME, fd == old));
        put(&d, b"x");
        expect_event(&mut poll, &mut events, Token(20 + round), LONG, |e| {
            e.is_readable()
        });
        poll.registry().deregister(&mut SourceFd(&fd)).unwrap();
    }
}

/// After a direction was reported (and not re-armed by `WouldBlock`), a
/// closed direction is still a new event: `shutdown(Read)` gives
/// read-closed, `shutdown(Both)` read- and write-closed, as epoll reports.
#[cfg(all(unix, feature = "net"))]
fn closed_directions_after_readiness_are_reported<S: Backend>() {
    use std::net::Shutdown;
    for (how, read_closed, write_closed) in
        [(Shutdown::Read, true, false), (Shutdown::Both, true, true)]
    {
        let mut poll = new_poll::<S>();
        let mut events = new_events::<S>();
        let (mut a, b) = rouse::net::UnixStream::pair().unwrap();
        poll.registry()
            .register(&mut a, Token(1), Interest::READABLE | Interest::WRITABLE)
            .unwrap();
        expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_writable());
        put(&b, b"x");
        expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_readable());
        a.shutdown(how).unwrap();
        expect_event(&mut poll, &mut events, Token(1), LONG, |e| {
            e.is_read_closed() == read_closed && (!write_closed || e.is_write_closed())
        });

        // The same for a datagram socket.
        let (mut a, b) = rouse::net::UnixDatagram::pair().unwrap();
        poll.registry()
            .register(&mut a, Token(2), Interest::READABLE | Interest::WRITABLE)
            .unwrap();
        expect_event(&mut poll, &mut events, Token(2), LONG, |e| e.is_writable());
        b.send(b"x").unwrap();
        expect_event(&mut poll, &mut events, Token(2), LONG, |e| e.is_readable());
        a.shutdown(how).unwrap();
        expect_event(&mut poll, &mut events, Token(2), LONG, |e| {
            e.is_read_closed() == read_closed && (!write_closed || e.is_write_closed())
        });
    }
}

/// A peer's close after a partial read (readable reported, not drained):
/// read-closed is still reported, so a program waiting for it (tokio's
/// `try_read` tests) does not hang.
#[cfg(all(any(unix, windows), feature = "net"))]
fn peer_close_after_partial_read_is_reported<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (mut a, b) = net_stream_pair();
    poll.registry()
        .register(&mut a, Token(1), Interest::READABLE)
        .unwrap();
    put(&b, b"hello");
    expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_readable());
    let mut two = [0; 2];
    a.read_exact(&mut two).unwrap();
    drop(b);
    expect_event(&mut poll, &mut events, Token(1), LONG, |e| {
        e.is_read_closed()
    });
}

/// A `net` source registered with one `Poll` cannot be registered with
/// another (its re-arm handle would be lost): `AlreadyExists`, and the
/// first registration keeps working. After `deregister`, it can.
#[cfg(all(any(unix, windows, rouse_wasip2), feature = "net"))]
fn one_source_two_polls_is_already_exists<S: Backend>() {
    let mut first = new_poll::<S>();
    let second = new_poll::<S>();
    let mut events = new_events::<S>();
    let mut listener = rouse::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    first
        .registry()
        .register(&mut listener, Token(1), Interest::READABLE)
        .unwrap();
    let err = second
        .registry()
        .register(&mut listener, Token(2), Interest::READABLE)
        .expect_err("a second Poll must not take the listener");
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "[{}] {err}", S::NAME);
    assert!(err.to_string().contains("Poll"), "{err}");
    for _ in 0..2 {
        let _client = std::net::TcpStream::connect(addr).unwrap();
        expect_event(&mut first, &mut events, Token(1), LONG, |e| e.is_readable());
        loop {
            match listener.accept() {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
    }
    first.registry().deregister(&mut listener).unwrap();
    second
        .registry()
        .register(&mut listener, Token(2), Interest::READABLE)
        .unwrap();

    let mut udp = rouse::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    first
        .registry()
        .register(&mut udp, Token(3), Interest::READABLE)
        .unwrap();
    let err = second
        .registry()
        .register(&mut udp, Token(3), Interest::READABLE)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "[{}] {err}", S::NAME);
}

/// `reregister` replaces the interests at once: a listener registered
/// readable with a connection pending, then reregistered writable before
/// any poll, is not reported (IOCP used to report the readiness its first
/// AFD poll had already found).
#[cfg(all(any(unix, windows, rouse_wasip2), feature = "net"))]
fn reregister_before_a_poll_replaces_the_interests<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let mut listener = rouse::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    // The connection is in the accept queue before the registration.
    std::thread::sleep(SHORT);
    poll.registry()
        .register(&mut listener, Token(1), Interest::READABLE)
        .unwrap();
    poll.registry()
        .reregister(&mut listener, Token(1), Interest::WRITABLE)
        .unwrap();
    expect_no_event(&mut poll, &mut events, Token(1), SHORT);
    // Back to readable: the pending connection is reported.
    poll.registry()
        .reregister(&mut listener, Token(2), Interest::READABLE)
        .unwrap();
    expect_event(&mut poll, &mut events, Token(2), LONG, |e| e.is_readable());
}

/// One `Waker` per `Poll`, on every backend that has wakers: a second is
/// `AlreadyExists`, from a cloned registry too.
#[cfg(any(unix, windows))]
fn second_waker_is_already_exists<S: Backend>() {
    let poll = new_poll::<S>();
    let _first = rouse::Waker::new(poll.registry(), Token(1)).unwrap();
    let err = rouse::Waker::new(poll.registry(), Token(2)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "[{}] {err}", S::NAME);
    let clone = poll.registry().try_clone().unwrap();
    let err = rouse::Waker::new(&clone, Token(3)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "[{}] {err}", S::NAME);
    // A clone made before the first waker sees it too.
    let poll = new_poll::<S>();
    let early = poll.registry().try_clone().unwrap();
    let _first = rouse::Waker::new(poll.registry(), Token(1)).unwrap();
    let err = rouse::Waker::new(&early, Token(2)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "[{}] {err}", S::NAME);
}

/// A raw fd read until `WouldBlock` is reported again when new data
/// arrives, with no `reregister`, on every backend (tokio's `AsyncFd`
/// never calls it).
#[cfg(any(unix, windows, rouse_wasip2))]
fn raw_fd_needs_no_reregister<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, b) = stream_pair();
    poll.registry()
        .register(&mut SourceFd(&a.as_raw_fd()), Token(1), Interest::READABLE)
        .unwrap();
    for round in 0..3u8 {
        put(&b, &[round; 3]);
        expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_readable());
        assert_eq!(drain(&a), [round; 3]);
    }
}

/// An `IoSource` (a raw fd the program operates through rouse) is
/// edge-triggered on every backend with no `reregister`: reported again
/// after a `WouldBlock` and new data, and not reported again while the
/// program leaves data unread (no busy loop).
#[cfg(any(unix, windows, rouse_wasip2))]
fn io_source_is_edge_triggered_without_reregister<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, b) = stream_pair();
    let mut source = IoSource::new(a);
    poll.registry()
        .register(
            &mut source,
            Token(1),
            Interest::READABLE | Interest::WRITABLE,
        )
        .unwrap();
    expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_writable());
    for round in 0..3u8 {
        put(&b, &[round; 3]);
        expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_readable());
        // Unread, and writable all along: nothing more to report.
        expect_no_event(&mut poll, &mut events, Token(1), SHORT);
        assert_eq!(drain(&source), [round; 3]);
    }
    // A read that takes less than it was given re-arms too (the source
    // is drained), as tokio assumes on Linux.
    put(&b, b"abc");
    expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_readable());
    assert_eq!((&source).read(&mut [0; 16]).unwrap(), 3);
    put(&b, b"def");
    expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_readable());
}

/// The `Interest` API mio-based helpers use compiles and answers on every
/// target: AIO and LIO are never set where the platform lacks them.
fn interest_api_is_complete<S: Backend>() {
    let rw = Interest::READABLE | Interest::WRITABLE;
    assert!(!rw.is_aio() && !rw.is_lio() && !rw.is_priority());
    assert_eq!(rw.remove(Interest::WRITABLE), Some(Interest::READABLE));
    let _ = S::NAME;
}

backend_tests!(
    #[cfg(all(any(unix, windows, rouse_wasip2), feature = "net"))]
    dropped_source_frees_its_fd_number,
    #[cfg(all(any(unix, windows, rouse_wasip2), feature = "net"))]
    dropped_listener_reports_nothing,
    #[cfg(any(unix, windows, rouse_wasip2))]
    closed_raw_fd_is_forgotten,
    #[cfg(any(unix, windows, rouse_wasip2))]
    reused_raw_fd_number_replaces_the_stale_registration,
    #[cfg(all(unix, feature = "net"))]
    closed_directions_after_readiness_are_reported,
    // Not on WASI: wasi-libc's poll (wasip2) and poll_oneoff (wasip1) see
    // a close only through the read direction's readiness, so after
    // readable was reported it shows once the source is re-armed (a read
    // that met WouldBlock); tests/wasip2.rs checks that.
    #[cfg(all(any(unix, windows), feature = "net"))]
    // Wine's AFD reports a peer's FIN only once the data before it is read
    // (its own AFD tests mark the Windows behaviour, AFD_POLL_HUP with data
    // pending, `todo_wine`), so under wine the close cannot be seen here.
    #[cfg_attr(
        windows,
        ignore = "wine's AFD does not report a FIN while data is unread"
    )]
    peer_close_after_partial_read_is_reported,
    #[cfg(all(any(unix, windows, rouse_wasip2), feature = "net"))]
    one_source_two_polls_is_already_exists,
    #[cfg(all(any(unix, windows, rouse_wasip2), feature = "net"))]
    reregister_before_a_poll_replaces_the_interests,
    // wasip2 (and wasip1) have no Waker: tests/wasip2.rs checks that
    // Waker::new says so.
    #[cfg(any(unix, windows))]
    second_waker_is_already_exists,
    #[cfg(any(unix, windows, rouse_wasip2))]
    raw_fd_needs_no_reregister,
    #[cfg(any(unix, windows, rouse_wasip2))]
    io_source_is_edge_triggered_without_reregister,
    interest_api_is_complete,
);

/// Tables far larger than a thread's stack are built in place: a
/// million-entry poll(2) selector (about 44 MB) on a 64 KiB thread stack.
#[cfg(all(feature = "poll", unix))]
#[test]
fn a_large_table_fits_a_small_stack() {
    use rouse::sys::{PollSelector, Selector};
    std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| {
            let poll = rouse::Poll::with_selector(PollSelector::<1_000_000>::new().unwrap());
            let (a, _b) = stream_pair();
            poll.registry()
                .register(&mut SourceFd(&a.as_raw_fd()), Token(0), Interest::READABLE)
                .unwrap();
        })
        .unwrap()
        .join()
        .unwrap();
}

/// The same on WASI, which has no threads: a table of 20,000 entries
/// (about 4 MB) on the 1 MiB main stack.
#[cfg(rouse_wasi)]
#[test]
fn a_large_table_fits_a_small_stack() {
    use rouse::sys::{Selector, WasiSelector};
    let poll = rouse::Poll::with_selector(WasiSelector::<20_000>::new().unwrap());
    let mut events = rouse::Events::<WasiSelector<20_000>, 4>::new();
    let mut poll = poll;
    poll.poll(&mut events, Some(std::time::Duration::ZERO))
        .unwrap();
}

/// The same on wasip2, which has no threads: a table of 200,000 entries
/// (about 8 MB) on the 1 MiB main stack.
#[cfg(rouse_wasip2)]
#[test]
fn a_large_table_fits_a_small_stack() {
    use rouse::sys::{Selector, Wasip2Selector};
    type Big = Wasip2Selector<200_000>;
    let mut poll = rouse::Poll::with_selector(Big::new().unwrap());
    let mut events = rouse::Events::<Big, 4>::new();
    let (a, _b) = stream_pair();
    poll.registry()
        .register(&mut SourceFd(&a.as_raw_fd()), Token(0), Interest::READABLE)
        .unwrap();
    poll.poll(&mut events, Some(std::time::Duration::ZERO))
        .unwrap();
}

/// The same on Windows: a table of 100,000 entries on a 64 KiB stack.
#[cfg(all(feature = "iocp", windows))]
#[test]
fn a_large_table_fits_a_small_stack() {
    use rouse::sys::{IocpSelector, Selector};
    std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| {
            let poll = rouse::Poll::with_selector(IocpSelector::<100_000>::new().unwrap());
            let (a, _b) = stream_pair();
            poll.registry()
                .register(&mut SourceFd(&a.as_raw_fd()), Token(0), Interest::READABLE)
                .unwrap();
        })
        .unwrap()
        .join()
        .unwrap();
}
