//! The WASI backend's own cases, under wasmtime: real descriptors (files
//! in the directory the runner preopens, `--dir .`; see
//! targets/wasm32-wasip1.toml), edge emulation on a level-triggered host, a
//! full table, unknown sources, polls with nothing to wait for, a
//! descriptor closed behind the table's back, and what wasip1 cannot do.
#![cfg(rouse_wasi)]

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::time::{Duration, Instant};

use rouse::io::ErrorKind;
use rouse::sys::{Selector, WasiSelector};
use rouse::wasi::SourceFd;
use rouse::{Events, Interest, Poll, Token, Waker};

type Small = WasiSelector<4>;

/// A file the runner's working directory always has: a real fd, which the
/// host reports ready at once for reading.
fn file() -> File {
    File::open("Cargo.toml").expect("opening Cargo.toml (is `--dir .` in the runner?)")
}

fn poll_of<S: Selector>() -> Poll<S> {
    Poll::with_selector(S::new().unwrap())
}

fn tokens<S: Selector, const N: usize>(events: &Events<S, N>) -> Vec<usize> {
    let mut t: Vec<usize> = events.iter().map(|e| e.token().0).collect();
    t.sort_unstable();
    t
}

#[cfg(feature = "std")]
#[test]
fn io_sources_are_reported_once_until_rearmed() {
    let mut poll = poll_of::<Small>();
    let mut events = Events::<Small, 8>::new();
    let mut source = rouse::event::IoSource::new(file());
    poll.registry()
        .register(&mut source, Token(1), Interest::READABLE)
        .unwrap();
    poll.poll(&mut events, Some(Duration::from_secs(1)))
        .unwrap();
    let ev = events.iter().next().expect("a readable event");
    assert_eq!(ev.token(), Token(1));
    assert!(ev.is_readable() && !ev.is_writable() && !ev.is_error());
    // Still readable (level), but already reported: nothing until re-armed.
    poll.poll(&mut events, Some(Duration::from_millis(20)))
        .unwrap();
    assert!(events.is_empty(), "{events:?}");
    poll.registry()
        .reregister(&mut source, Token(2), Interest::READABLE)
        .unwrap();
    poll.poll(&mut events, Some(Duration::from_secs(1)))
        .unwrap();
    assert_eq!(tokens(&events), [2]);
}

#[test]
fn raw_fds_are_level_triggered() {
    let mut poll = poll_of::<Small>();
    let mut events = Events::<Small, 8>::new();
    let f = file();
    let fd = f.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&fd), Token(1), Interest::READABLE)
        .unwrap();
    // A file is always readable: a raw fd (which nothing re-arms) is
    // reported at every poll, with no `reregister`.
    for _ in 0..3 {
        poll.poll(&mut events, Some(Duration::from_secs(1)))
            .unwrap();
        assert_eq!(tokens(&events), [1]);
    }
}

#[test]
fn read_and_write_interest_give_one_event() {
    let mut poll = poll_of::<Small>();
    let mut events = Events::<Small, 8>::new();
    // Opened for writing but never written (nor truncated): a descriptor
    // that is both readable and writable.
    let f = File::options()
        .read(true)
        .write(true)
        .open("Cargo.toml")
        .expect("opening Cargo.toml for reading and writing");
    let fd = f.as_raw_fd();
    poll.registry()
        .register(
            &mut SourceFd(&fd),
            Token(3),
            Interest::READABLE | Interest::WRITABLE,
        )
        .unwrap();
    poll.poll(&mut events, Some(Duration::from_secs(1)))
        .unwrap();
    assert_eq!(tokens(&events), [3], "read and write merged: {events:?}");
    let ev = events.iter().next().unwrap();
    assert!(ev.is_readable() && ev.is_writable());
}

#[test]
fn more_registrations_than_the_table_holds() {
    let mut poll = poll_of::<Small>();
    let mut events = Events::<Small, 8>::new();
    let files: Vec<File> = (0..5).map(|_| file()).collect();
    for (i, f) in files.iter().take(4).enumerate() {
        poll.registry()
            .register(&mut SourceFd(&f.as_raw_fd()), Token(i), Interest::READABLE)
            .unwrap();
    }
    let err = poll
        .registry()
        .register(
            &mut SourceFd(&files[4].as_raw_fd()),
            Token(4),
            Interest::READABLE,
        )
        .unwrap_err();
    assert_eq!(err.kind(), rouse::io::TABLE_FULL);
    assert!(err.to_string().contains("capacity: 4"), "{err}");
    // The table is as it was: the four registered sources are reported.
    poll.poll(&mut events, Some(Duration::from_secs(1)))
        .unwrap();
    assert_eq!(tokens(&events), [0, 1, 2, 3]);
    // Room again after a deregister.
    poll.registry()
        .deregister(&mut SourceFd(&files[1].as_raw_fd()))
        .unwrap();
    poll.registry()
        .register(
            &mut SourceFd(&files[4].as_raw_fd()),
            Token(4),
            Interest::READABLE,
        )
        .unwrap();
    // Raw fds are level-triggered: every registered file, still readable.
    poll.poll(&mut events, Some(Duration::from_secs(1)))
        .unwrap();
    assert_eq!(tokens(&events), [0, 2, 3, 4]);
}

#[test]
fn small_events_buffer_reaches_every_source() {
    let mut poll = poll_of::<Small>();
    let mut events = Events::<Small, 1>::new();
    let files: Vec<File> = (0..4).map(|_| file()).collect();
    for (i, f) in files.iter().enumerate() {
        poll.registry()
            .register(&mut SourceFd(&f.as_raw_fd()), Token(i), Interest::READABLE)
            .unwrap();
    }
    let mut seen = Vec::new();
    for _ in 0..4 {
        poll.poll(&mut events, Some(Duration::from_secs(1)))
            .unwrap();
        seen.extend(tokens(&events));
    }
    seen.sort_unstable();
    assert_eq!(seen, [0, 1, 2, 3], "nothing dropped, nothing twice");
}

#[test]
fn deregister_unknown_is_not_found() {
    let poll = poll_of::<Small>();
    let f = file();
    let fd = f.as_raw_fd();
    let err = poll.registry().deregister(&mut SourceFd(&fd)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains(&fd.to_string()), "{err}");
    let err = poll
        .registry()
        .reregister(&mut SourceFd(&fd), Token(0), Interest::READABLE)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    // Twice: the second deregister finds nothing.
    poll.registry()
        .register(&mut SourceFd(&fd), Token(0), Interest::READABLE)
        .unwrap();
    poll.registry().deregister(&mut SourceFd(&fd)).unwrap();
    let err = poll.registry().deregister(&mut SourceFd(&fd)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn register_twice_and_bad_fds_are_errors() {
    let poll = poll_of::<Small>();
    let f = file();
    let fd = f.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&fd), Token(0), Interest::READABLE)
        .unwrap();
    let err = poll
        .registry()
        .register(&mut SourceFd(&fd), Token(1), Interest::READABLE)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    // Never opened, and negative: EBADF, as on every backend.
    for bad in [9_999, -1] {
        let err = poll
            .registry()
            .register(&mut SourceFd(&bad), Token(1), Interest::READABLE)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF), "fd {bad}: {err:?}");
    }
    let err = poll
        .registry()
        .register(&mut SourceFd(&fd), Token::RESERVED, Interest::READABLE)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn nothing_registered_with_a_timeout_sleeps() {
    let mut poll = poll_of::<Small>();
    let mut events = Events::<Small, 8>::new();
    let start = Instant::now();
    poll.poll(&mut events, Some(Duration::from_millis(50)))
        .unwrap();
    assert!(events.is_empty());
    assert!(
        start.elapsed() >= Duration::from_millis(50),
        "{:?}",
        start.elapsed()
    );
    // Zero returns at once.
    let start = Instant::now();
    poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
    assert!(start.elapsed() < Duration::from_millis(500));
}

#[test]
fn nothing_registered_without_a_timeout_is_an_error() {
    let mut poll = poll_of::<Small>();
    let mut events = Events::<Small, 8>::new();
    let err = poll.poll(&mut events, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("nothing could ever wake it"),
        "{err}"
    );
    assert!(err.to_string().contains("no source registered"), "{err}");
}

#[cfg(feature = "std")]
#[test]
fn everything_disarmed_without_a_timeout_is_an_error() {
    let mut poll = poll_of::<Small>();
    let mut events = Events::<Small, 8>::new();
    let mut source = rouse::event::IoSource::new(file());
    poll.registry()
        .register(&mut source, Token(1), Interest::READABLE)
        .unwrap();
    poll.poll(&mut events, None).unwrap();
    assert_eq!(tokens(&events), [1]);
    // Reported and not re-armed: a blocking poll could never return.
    let err = poll.poll(&mut events, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("disarmed"), "{err}");
    assert!(events.is_empty());
}

#[test]
fn a_closed_fd_is_forgotten() {
    let mut poll = poll_of::<Small>();
    let mut events = Events::<Small, 8>::new();
    let good = file();
    let doomed = file().into_raw_fd();
    poll.registry()
        .register(
            &mut SourceFd(&good.as_raw_fd()),
            Token(1),
            Interest::READABLE,
        )
        .unwrap();
    poll.registry()
        .register(&mut SourceFd(&doomed), Token(2), Interest::READABLE)
        .unwrap();
    // Closed behind the table's back.
    // SAFETY: `doomed` came from `into_raw_fd` and nothing else owns it.
    drop(unsafe { File::from_raw_fd(doomed) });
    // Forgotten without an event, as epoll forgets a closed fd; the other
    // source is reported as usual.
    for _ in 0..2 {
        poll.poll(&mut events, Some(Duration::from_secs(1)))
            .unwrap();
        assert_eq!(tokens(&events), [1], "{events:?}");
    }
    // Gone from the table: deregistering it is the OS's EBADF, as epoll
    // answers for a closed fd.
    let err = poll
        .registry()
        .deregister(&mut SourceFd(&doomed))
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err:?}");
}

#[test]
fn waker_is_unsupported() {
    let poll = poll_of::<Small>();
    let err = Waker::new(poll.registry(), Token(9)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.to_string().contains("wasip1"), "{err}");
}

#[cfg(feature = "std")]
#[test]
fn cloned_registry_shares_the_table() {
    let mut poll = poll_of::<Small>();
    let mut events = Events::<Small, 8>::new();
    let clone = poll.registry().try_clone().unwrap();
    let f = file();
    clone
        .register(&mut SourceFd(&f.as_raw_fd()), Token(5), Interest::READABLE)
        .unwrap();
    poll.poll(&mut events, Some(Duration::from_secs(1)))
        .unwrap();
    assert_eq!(tokens(&events), [5]);
}

#[test]
fn default_poll_is_wasi() {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(16);
    poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
    assert!(events.is_empty());
    assert_eq!(
        <rouse::sys::DefaultSelector as Selector>::CAPACITY,
        Some(rouse::sys::wasi::DEFAULT_TABLE_CAPACITY)
    );
}

#[cfg(feature = "net")]
#[test]
fn bind_and_connect_are_unsupported() {
    use rouse::net::{TcpListener, TcpStream};
    let addr = "127.0.0.1:0".parse().unwrap();
    let err = TcpListener::bind(addr).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.to_string().contains("tcplisten"), "{err}");
    let err = TcpStream::connect(addr).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}
