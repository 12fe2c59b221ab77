//! `rouse::windows::NamedPipe` on the IOCP backend (run under wine by
//! `ci/windows`), and the stream behaviour it shares with every other
//! backend's stream sources.
//!
//! The generic tests take a connected pair of stream ends, both registered
//! readable and writable: on Windows a named pipe server and its client
//! (`NamedPipe` on each end), on Unix a socketpair as `IoSource`s, on every
//! backend. So a pipe is held to what a Unix socket does on epoll, poll(2)
//! and kqueue: echo, a write that meets `WouldBlock` and resumes on a
//! writable event, end of stream, a drop with I/O in flight (the data the
//! dropped end wrote still arrives, and its token is never reported), a
//! second registration that is `AlreadyExists`, and a deregistered end
//! that is silent until registered again. The Windows-only tests cover
//! what only pipes have: `connect`, `disconnect`, and the errors before
//! registration.
#![cfg(any(unix, all(windows, feature = "iocp")))]
#![cfg(feature = "std")]
mod common;
use common::*;

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use rouse::event::Source;
use rouse::{Events, Interest, Poll, Token};

const A: Token = Token(1);
const B: Token = Token(2);
const BOTH: Interest = Interest::READABLE.add(Interest::WRITABLE);

/// A backend whose stream ends the generic tests can pair up.
trait Pairs: Backend {
    /// One end of a connected stream.
    type End: Source<Self> + Read + Write;

    /// A connected pair, registered as `A` and `B` for both directions.
    fn connected(poll: &mut Poll<Self>, events: &mut Events<Self, 64>) -> (Self::End, Self::End);
}

#[cfg(unix)]
impl<S: Backend> Pairs for S {
    type End = rouse::event::IoSource<std::os::unix::net::UnixStream>;

    fn connected(poll: &mut Poll<S>, _: &mut Events<S, 64>) -> (Self::End, Self::End) {
        let (a, b) = stream_pair();
        let (mut a, mut b) = (
            rouse::event::IoSource::new(a),
            rouse::event::IoSource::new(b),
        );
        poll.registry().register(&mut a, A, BOTH).unwrap();
        poll.registry().register(&mut b, B, BOTH).unwrap();
        (a, b)
    }
}

#[cfg(windows)]
mod pipes {
    use std::fs::OpenOptions;
    use std::io::ErrorKind;
    use std::os::windows::fs::OpenOptionsExt;
    use std::os::windows::io::{FromRawHandle, IntoRawHandle};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use rouse::sys::IocpSelector;
    use rouse::windows::NamedPipe;
    use rouse::{Events, Poll};

    use super::*;

    const FILE_FLAG_OVERLAPPED: u32 = 0x4000_0000;

    /// A pipe name no other test (or process) uses.
    pub fn pipe_name() -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        format!(
            r"\\.\pipe\rouse-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A client end of the pipe `name`, opened for overlapped I/O.
    pub fn open_client(name: &str) -> NamedPipe {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(FILE_FLAG_OVERLAPPED)
            .open(name)
            .expect("open the pipe's client end");
        // SAFETY: a pipe handle opened for overlapped I/O, owned by `file`
        // and handed over.
        unsafe { NamedPipe::from_raw_handle(file.into_raw_handle()) }
    }

    /// A registered server whose connect is under way, for `name`.
    pub fn listening<const N: usize>(poll: &Poll<IocpSelector<N>>, name: &str) -> NamedPipe {
        let mut server = NamedPipe::new(name).expect("create the pipe");
        poll.registry().register(&mut server, A, BOTH).unwrap();
        let err = server.connect().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
        server
    }

    impl<const N: usize> Pairs for IocpSelector<N> {
        type End = NamedPipe;

        fn connected(
            poll: &mut Poll<Self>,
            events: &mut Events<Self, 64>,
        ) -> (NamedPipe, NamedPipe) {
            let name = pipe_name();
            let server = listening(poll, &name);
            let mut client = open_client(&name);
            poll.registry().register(&mut client, B, BOTH).unwrap();
            expect_event(poll, events, A, LONG, |e| e.is_writable());
            assert!(server.take_error().unwrap().is_none());
            // Connected: a second connect says so.
            server.connect().expect("connect after the writable event");
            (server, client)
        }
    }
}

/// Byte `i` of the tests' streams.
fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

/// Reads what `end` has until `WouldBlock`, appending to `into`; returns
/// whether the stream ended (a read of 0).
fn drain(end: &mut impl Read, into: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match end.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => into.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Writes the pattern from byte `*sent` on until `WouldBlock` or `until`
/// bytes in all; returns whether it met `WouldBlock`.
fn fill(end: &mut impl Write, sent: &mut usize, until: usize) -> bool {
    while *sent < until {
        let len = (until - *sent).min(16 * 1024);
        let data: Vec<u8> = (*sent..*sent + len).map(pattern).collect();
        match end.write(&data) {
            Ok(0) => panic!("write took nothing"),
            Ok(n) => *sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) => panic!("write: {e}"),
        }
    }
    false
}

/// What one end writes, the other reads, and back.
fn echo<S: Pairs>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (mut a, mut b) = S::connected(&mut poll, &mut events);
    assert_eq!(a.write(b"ping").unwrap(), 4);
    let mut got = Vec::new();
    let deadline = Instant::now() + LONG;
    while got.len() < 4 {
        expect_event(&mut poll, &mut events, B, LONG, |e| e.is_readable());
        assert!(!drain(&mut b, &mut got), "[{}] no end yet", S::NAME);
        assert!(Instant::now() < deadline, "[{}] got only {got:?}", S::NAME);
    }
    assert_eq!(got, b"ping");
    assert_eq!(b.write(b"pong").unwrap(), 4);
    let mut back = Vec::new();
    while back.len() < 4 {
        expect_event(&mut poll, &mut events, A, LONG, |e| e.is_readable());
        drain(&mut a, &mut back);
        assert!(Instant::now() < deadline, "[{}] got only {back:?}", S::NAME);
    }
    assert_eq!(back, b"pong");
}

/// A write that meets `WouldBlock` goes on after a writable event, and
/// every byte arrives in order.
fn write_blocks_and_resumes<S: Pairs>() {
    const TOTAL: usize = 4 << 20;
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (mut a, mut b) = S::connected(&mut poll, &mut events);
    let mut sent = 0;
    assert!(
        fill(&mut a, &mut sent, TOTAL),
        "[{}] {TOTAL} bytes written without WouldBlock",
        S::NAME
    );
    let mut got = Vec::new();
    let mut resumed = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < TOTAL {
        assert!(
            Instant::now() < deadline,
            "[{}] stalled: {sent} sent, {} received",
            S::NAME,
            got.len()
        );
        poll.poll(&mut events, Some(LONG)).unwrap();
        for event in events.iter() {
            if event.token() == B && event.is_readable() {
                assert!(!drain(&mut b, &mut got), "[{}] early end", S::NAME);
            }
            if event.token() == A && event.is_writable() && sent < TOTAL {
                resumed += 1;
                fill(&mut a, &mut sent, TOTAL);
            }
        }
    }
    assert!(resumed > 0, "[{}] never writable again", S::NAME);
    assert_eq!(sent, TOTAL);
    assert!(
        got.iter().enumerate().all(|(i, &byte)| byte == pattern(i)),
        "[{}] the bytes arrived out of order",
        S::NAME
    );
}

/// When one end goes, the other reads to the end of the stream.
fn end_of_stream<S: Pairs>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (mut a, b) = S::connected(&mut poll, &mut events);
    drop(b);
    let mut got = Vec::new();
    let deadline = Instant::now() + LONG;
    loop {
        expect_event(&mut poll, &mut events, A, LONG, |e| e.is_readable());
        if drain(&mut a, &mut got) {
            break;
        }
        assert!(Instant::now() < deadline, "[{}] no end of stream", S::NAME);
    }
    assert!(got.is_empty(), "[{}] read {got:?}", S::NAME);
}

/// An end dropped with I/O in flight (a read waiting, a write the peer has
/// not taken yet) is never reported again, and what it wrote still
/// arrives, then the end of the stream.
fn drop_with_io_in_flight<S: Pairs>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (mut a, mut b) = S::connected(&mut poll, &mut events);
    let mut sent = 0;
    assert!(
        fill(&mut a, &mut sent, 64 << 20),
        "[{}] never WouldBlock",
        S::NAME
    );
    drop(a);
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut ended = false;
    while !ended {
        assert!(
            Instant::now() < deadline,
            "[{}] {sent} sent, {} received, no end",
            S::NAME,
            got.len()
        );
        poll.poll(&mut events, Some(LONG)).unwrap();
        for event in events.iter() {
            assert_ne!(event.token(), A, "[{}] the dropped end: {event:?}", S::NAME);
            if event.token() == B && event.is_readable() {
                ended = drain(&mut b, &mut got);
            }
        }
    }
    assert_eq!(got.len(), sent, "[{}] bytes lost", S::NAME);
    assert!(got.iter().enumerate().all(|(i, &byte)| byte == pattern(i)));
    expect_no_event(&mut poll, &mut events, A, SHORT);
}

/// A registered end registers again nowhere: not with its own `Poll`, not
/// with another. It keeps working.
fn second_register_is_already_exists<S: Pairs>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (mut a, mut b) = S::connected(&mut poll, &mut events);
    let err = poll
        .registry()
        .register(&mut a, Token(9), Interest::READABLE)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "[{}] {err}", S::NAME);
    let other = new_poll::<S>();
    let err = other
        .registry()
        .register(&mut a, Token(9), Interest::READABLE)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "[{}] {err}", S::NAME);
    assert_eq!(a.write(b"still").unwrap(), 5);
    let mut got = Vec::new();
    while got.len() < 5 {
        expect_event(&mut poll, &mut events, B, LONG, |e| e.is_readable());
        drain(&mut b, &mut got);
    }
    assert_eq!(got, b"still");
}

/// A deregistered end is silent, whatever arrives; registered again (with
/// a new token) it reports what waits.
fn deregistered_end_is_silent<S: Pairs>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (mut a, mut b) = S::connected(&mut poll, &mut events);
    // Let the registration's first events pass.
    collect_events(&mut poll, &mut events, SHORT);
    poll.registry().deregister(&mut b).unwrap();
    let err = poll.registry().deregister(&mut b).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "[{}] {err}", S::NAME);
    assert_eq!(a.write(b"later").unwrap(), 5);
    expect_no_event(&mut poll, &mut events, B, Duration::from_millis(200));
    let c = Token(3);
    poll.registry()
        .register(&mut b, c, Interest::READABLE)
        .unwrap();
    expect_event(&mut poll, &mut events, c, LONG, |e| e.is_readable());
    let mut got = Vec::new();
    drain(&mut b, &mut got);
    assert_eq!(got, b"later");
}

backend_tests!(
    echo,
    write_blocks_and_resumes,
    end_of_stream,
    drop_with_io_in_flight,
    second_register_is_already_exists,
    deregistered_end_is_silent,
);

#[cfg(windows)]
mod windows_only {
    use std::io::{ErrorKind, Read, Write};
    use std::os::windows::io::{AsRawHandle, FromRawHandle, IntoRawHandle, OwnedHandle};

    use rouse::sys::IocpSelector;
    use rouse::windows::NamedPipe;
    use rouse::{Interest, Token};

    use super::pipes::{listening, open_client, pipe_name};
    use super::*;

    type Iocp = IocpSelector<{ POLL_CAPACITY }>;

    #[test]
    fn io_before_registration_is_not_found() {
        let mut server = NamedPipe::new(pipe_name()).unwrap();
        for err in [
            server.connect().unwrap_err(),
            server.read(&mut [0; 8]).unwrap_err(),
            server.write(b"x").unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        }
        let poll = new_poll::<Iocp>();
        let err = poll.registry().deregister(&mut server).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        let err = poll
            .registry()
            .reregister(&mut server, A, Interest::READABLE)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    }

    #[test]
    fn a_name_with_nul_is_invalid_input() {
        let err = NamedPipe::new("\\\\.\\pipe\\nul\0inside").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }

    /// A connect waits for a client: `WouldBlock` until one comes, no event
    /// meanwhile, then writable, and connected (`Ok`) after.
    #[test]
    fn connect_waits_for_a_client() {
        let mut poll = new_poll::<Iocp>();
        let mut events = new_events::<Iocp>();
        let name = pipe_name();
        let server = listening(&poll, &name);
        let again = server.connect().unwrap_err();
        assert_eq!(again.kind(), ErrorKind::WouldBlock, "{again}");
        expect_no_event(&mut poll, &mut events, A, Duration::from_millis(200));
        let mut client = open_client(&name);
        poll.registry()
            .register(&mut client, B, Interest::READABLE)
            .unwrap();
        expect_event(&mut poll, &mut events, A, LONG, |e| e.is_writable());
        assert!(server.take_error().unwrap().is_none());
        server.connect().unwrap();
        // The client end is connected from the start.
        let mut buf = [0u8; 4];
        let err = client.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
    }

    /// After `disconnect`, the client's reads end, the server connects the
    /// next client, and nothing the first one wrote reaches the second
    /// connection.
    #[test]
    fn disconnect_then_the_next_client() {
        let mut poll = new_poll::<Iocp>();
        let mut events = new_events::<Iocp>();
        let name = pipe_name();
        let mut server = listening(&poll, &name);
        let mut first = open_client(&name);
        poll.registry().register(&mut first, B, BOTH).unwrap();
        expect_event(&mut poll, &mut events, A, LONG, |e| e.is_writable());
        server.connect().unwrap();
        assert_eq!(first.write(b"old").unwrap(), 3);
        // The server's read takes it in; it is not handed out.
        expect_event(&mut poll, &mut events, A, LONG, |e| e.is_readable());
        server.disconnect().unwrap();
        let deadline = Instant::now() + LONG;
        loop {
            let mut buf = [0u8; 16];
            match first.read(&mut buf) {
                // The end, or the error of a pipe whose server is gone.
                Ok(0) => break,
                Ok(n) => panic!("the first client read {:?}", &buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "no end for the first client");
                    poll.poll(&mut events, Some(SHORT)).unwrap();
                }
                Err(_) => break,
            }
        }
        drop(first);
        let err = server.connect().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
        let mut second = open_client(&name);
        poll.registry()
            .register(&mut second, Token(3), BOTH)
            .unwrap();
        expect_event(&mut poll, &mut events, A, LONG, |e| e.is_writable());
        assert!(server.take_error().unwrap().is_none());
        server.connect().unwrap();
        assert_eq!(second.write(b"new").unwrap(), 3);
        let mut got = Vec::new();
        while got.len() < 3 {
            expect_event(&mut poll, &mut events, A, LONG, |e| e.is_readable());
            drain(&mut server, &mut got);
        }
        assert_eq!(got, b"new");
    }

    /// A pipe tied to one `Poll` cannot move to another, even deregistered
    /// (a handle's completion port is for life); it registers again with
    /// its own.
    #[test]
    fn a_pipe_stays_with_its_poll() {
        let mut poll = new_poll::<Iocp>();
        let mut events = new_events::<Iocp>();
        let (mut a, mut b) = <Iocp as super::Pairs>::connected(&mut poll, &mut events);
        poll.registry().deregister(&mut a).unwrap();
        let other = new_poll::<Iocp>();
        let err = other
            .registry()
            .register(&mut a, A, Interest::READABLE)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
        poll.registry()
            .register(&mut a, Token(5), Interest::READABLE)
            .unwrap();
        assert_eq!(b.write(b"back").unwrap(), 4);
        expect_event(&mut poll, &mut events, Token(5), LONG, |e| e.is_readable());
        let mut got = Vec::new();
        drain(&mut a, &mut got);
        assert_eq!(got, b"back");
    }

    /// Edge-triggered: data read only in part is not reported again until
    /// a read meets `WouldBlock`; then new data is.
    #[test]
    fn readable_is_an_edge() {
        let mut poll = new_poll::<Iocp>();
        let mut events = new_events::<Iocp>();
        let (mut a, mut b) = <Iocp as super::Pairs>::connected(&mut poll, &mut events);
        assert_eq!(b.write(b"0123456789").unwrap(), 10);
        expect_event(&mut poll, &mut events, A, LONG, |e| e.is_readable());
        let mut two = [0u8; 2];
        assert_eq!(a.read(&mut two).unwrap(), 2);
        expect_no_event(&mut poll, &mut events, A, Duration::from_millis(200));
        let mut got = two.to_vec();
        drain(&mut a, &mut got);
        assert_eq!(got, b"0123456789");
        // The first write may still be in flight: then this one waits for
        // the writable event its `WouldBlock` re-armed.
        let deadline = Instant::now() + LONG;
        loop {
            match b.write(b"more") {
                Ok(n) => {
                    assert_eq!(n, 4);
                    break;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    expect_event(&mut poll, &mut events, B, LONG, |e| e.is_writable());
                }
                Err(e) => panic!("write: {e}"),
            }
            assert!(Instant::now() < deadline);
        }
        expect_event(&mut poll, &mut events, A, LONG, |e| e.is_readable());
        let mut got = Vec::new();
        drain(&mut a, &mut got);
        assert_eq!(got, b"more");
    }

    /// `into_raw_handle` gives the handle up: the pipe's registration ends
    /// and the handle is the caller's to close.
    #[test]
    fn into_raw_handle_gives_the_handle_up() {
        let mut poll = new_poll::<Iocp>();
        let mut events = new_events::<Iocp>();
        let (a, mut b) = <Iocp as super::Pairs>::connected(&mut poll, &mut events);
        let raw = a.as_raw_handle();
        assert_eq!(a.into_raw_handle(), raw);
        expect_no_event(&mut poll, &mut events, A, SHORT);
        // SAFETY: the handle was given up to us and is open.
        drop(unsafe { OwnedHandle::from_raw_handle(raw) });
        // The client sees the server go.
        let mut got = Vec::new();
        let deadline = Instant::now() + LONG;
        loop {
            poll.poll(&mut events, Some(SHORT)).unwrap();
            let mut buf = [0u8; 8];
            match b.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
            assert!(Instant::now() < deadline, "no end after the handle closed");
        }
        assert!(got.is_empty());
    }
}
