//! Bad input gets a clear error, leaves the registrations as they were, and
//! never panics or hangs: one test per case, on every backend.
mod common;
use common::*;

use rouse::io::ErrorKind;
use std::time::{Duration, Instant};

use rouse::{Events, Poll};

// The cases that need socket pairs: Unix, Windows and wasip2 (whose pairs
// are TCP over loopback, see `common::stream_pair`), not wasip1. Those that
// need threads too: Unix and Windows.
#[cfg(unix)]
use rouse::unix::SourceFd;
#[cfg(any(unix, windows, rouse_wasip2))]
use rouse::{Interest, Token, Waker};
#[cfg(any(unix, windows, rouse_wasip2))]
use std::io::Read;
#[cfg(unix)]
use std::os::fd::AsRawFd;

#[cfg(any(unix, windows, rouse_wasip2))]
fn register_twice_is_already_exists<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, b) = stream_pair();
    let fd = a.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&fd), Token(1), Interest::READABLE)
        .unwrap();
    let err = poll
        .registry()
        .register(&mut SourceFd(&fd), Token(2), Interest::WRITABLE)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "[{}] {err}", S::NAME);
    assert!(
        err.to_string().contains(&fd.to_string()),
        "[{}] names the fd: {err}",
        S::NAME
    );
    // The first registration is intact: token 1, readable only.
    put(&b, b"x");
    let ev = expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_readable());
    assert!(!ev.is_writable());
    expect_no_event(&mut poll, &mut events, Token(2), SHORT);
}

#[cfg(any(unix, windows, rouse_wasip2))]
fn unregistered_source_is_not_found<S: Backend>() {
    let poll = new_poll::<S>();
    let (a, _b) = stream_pair();
    let fd = a.as_raw_fd();
    let err = poll
        .registry()
        .reregister(&mut SourceFd(&fd), Token(1), Interest::READABLE)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "[{}] {err}", S::NAME);
    let err = poll.registry().deregister(&mut SourceFd(&fd)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "[{}] {err}", S::NAME);
    // Deregistering twice: the second one is NotFound too.
    poll.registry()
        .register(&mut SourceFd(&fd), Token(1), Interest::READABLE)
        .unwrap();
    poll.registry().deregister(&mut SourceFd(&fd)).unwrap();
    let err = poll.registry().deregister(&mut SourceFd(&fd)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "[{}] {err}", S::NAME);
}

#[cfg(any(unix, windows, rouse_wasip2))]
fn full_table_names_its_capacity<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    // One more source than poll(2)'s test table holds.
    let pairs: Vec<_> = (0..=POLL_CAPACITY).map(|_| stream_pair()).collect();
    let mut registered = 0;
    for (i, (a, _)) in pairs.iter().enumerate() {
        match poll
            .registry()
            .register(&mut SourceFd(&a.as_raw_fd()), Token(i), Interest::READABLE)
        {
            Ok(()) => registered += 1,
            Err(err) => {
                let cap = S::CAPACITY.expect("only a table backend may be full");
                assert_eq!(i, cap, "[{}] failed before the table was full", S::NAME);
                assert_eq!(err.kind(), rouse::io::TABLE_FULL);
                assert!(
                    err.to_string().contains(&cap.to_string()),
                    "names {cap}: {err}"
                );
            }
        }
    }
    match S::CAPACITY {
        Some(cap) => assert_eq!(registered, cap),
        None => assert_eq!(registered, pairs.len(), "[{}] has no table limit", S::NAME),
    }
    // Every registration that succeeded still works, the first and the last.
    let last = registered - 1;
    put(&pairs[0].1, b"x");
    expect_event(&mut poll, &mut events, Token(0), LONG, |e| e.is_readable());
    put(&pairs[last].1, b"x");
    expect_event(&mut poll, &mut events, Token(last), LONG, |e| {
        e.is_readable()
    });
    // Freeing one slot makes room again.
    poll.registry()
        .deregister(&mut SourceFd(&pairs[0].0.as_raw_fd()))
        .unwrap();
    let extra = &pairs[POLL_CAPACITY].0;
    if registered == POLL_CAPACITY {
        poll.registry()
            .register(
                &mut SourceFd(&extra.as_raw_fd()),
                Token(999),
                Interest::READABLE,
            )
            .unwrap();
    }
}

#[cfg(unix)]
fn closed_or_invalid_fd_is_an_os_error<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    // Never-open and negative fds fail at registration.
    let (a, _b) = stream_pair();
    let closed = lonely_fd(a);
    // SAFETY: we own `closed` and close it once; it is not used after
    // except as a number to register.
    unsafe { libc::close(closed) };
    for fd in [closed, -1, 1 << 28] {
        let err = poll
            .registry()
            .register(&mut SourceFd(&fd), Token(1), Interest::READABLE)
            .expect_err("a closed fd must not register");
        assert!(
            err.raw_os_error() == Some(libc::EBADF) || err.kind() == ErrorKind::InvalidInput,
            "[{}] fd {fd}: {err:?}",
            S::NAME
        );
    }
    // An fd closed while registered: an error event or silence, never a hang.
    let (c, _d) = stream_pair();
    let fd = lonely_fd(c);
    poll.registry()
        .register(&mut SourceFd(&fd), Token(2), Interest::READABLE)
        .unwrap();
    // SAFETY: we own `fd` (taken from `c`) and close it once.
    unsafe { libc::close(fd) };
    let start = Instant::now();
    let seen = collect_events(&mut poll, &mut events, Duration::from_millis(100));
    assert!(start.elapsed() < LONG);
    for ev in seen.iter().filter(|e| e.token() == Token(2)) {
        assert!(ev.is_error(), "[{}] {ev:?}", S::NAME);
    }
    // Reported at most once: the backend stops watching it.
    assert!(seen.iter().filter(|e| e.token() == Token(2)).count() <= 1);
}

/// Moves `fd` to a number of its own near the top of the fd limit and
/// returns it. Tests run in parallel threads and the kernel hands out the
/// lowest free number, so a low number closed here could be given to
/// another test at once: registering it would then succeed, and
/// ThreadSanitizer reports the close in one thread and the use in another as
/// a race. No other test is handed a number this high, and each call gets a
/// different one.
#[cfg(unix)]
fn lonely_fd(fd: impl AsRawFd) -> std::os::fd::RawFd {
    use std::sync::atomic::{AtomicI32, Ordering};
    static NEXT: AtomicI32 = AtomicI32::new(1);
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit to write.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    let top = lim.rlim_cur.min(1 << 16) as i32;
    let want = top - NEXT.fetch_add(1, Ordering::Relaxed);
    assert!(
        want > top / 2,
        "RLIMIT_NOFILE {top} is too low for this test"
    );
    // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor for our open `fd` at
    // the lowest free number >= `want`; the caller owns the new one. `fd`
    // itself is closed when it drops here.
    let high = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, want) };
    assert_eq!(high, want, "fd {want} was already open");
    high
}

/// The wasip2 form of the case above: a closed fd, a negative one and one
/// never open fail at registration with `EBADF`; an fd closed while
/// registered is forgotten silently (wasi-libc fails the whole poll with
/// `EBADF`, and the backend finds and ends that registration), never a
/// hang or an error from `poll`. No other test runs meanwhile (no
/// threads), so a closed number stays free.
#[cfg(rouse_wasip2)]
fn closed_or_invalid_fd_is_an_os_error<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, _b) = stream_pair();
    let closed = a.as_raw_fd();
    drop(a);
    for fd in [closed, -1, 1 << 28] {
        let err = poll
            .registry()
            .register(&mut SourceFd(&fd), Token(1), Interest::READABLE)
            .expect_err("a closed fd must not register");
        assert_eq!(
            err.raw_os_error(),
            Some(libc::EBADF),
            "[{}] fd {fd}: {err:?}",
            S::NAME
        );
        let err = poll.registry().deregister(&mut SourceFd(&fd)).unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(libc::EBADF),
            "[{}] fd {fd}: {err:?}",
            S::NAME
        );
    }
    // Closed while registered, beside a source that stays: silence for it,
    // and the other is still reported.
    let (c, _d) = stream_pair();
    let (e, f) = stream_pair();
    let fd = c.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&fd), Token(2), Interest::READABLE)
        .unwrap();
    poll.registry()
        .register(&mut SourceFd(&e.as_raw_fd()), Token(3), Interest::READABLE)
        .unwrap();
    drop(c);
    let start = Instant::now();
    let seen = collect_events(&mut poll, &mut events, Duration::from_millis(100));
    assert!(start.elapsed() < LONG);
    assert!(
        seen.iter().all(|e| e.token() != Token(2)),
        "[{}] {seen:?}",
        S::NAME
    );
    put(&f, b"x");
    expect_event(&mut poll, &mut events, Token(3), LONG, |e| e.is_readable());
    // It was forgotten: its number is not registered any more.
    let err = poll.registry().deregister(&mut SourceFd(&fd)).unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(libc::EBADF),
        "[{}] {err:?}",
        S::NAME
    );
}

/// The Windows form of the case above: a closed socket, `INVALID_SOCKET`
/// and a value that was never a socket fail at registration with the OS
/// error (`WSAENOTSOCK`, or `ERROR_INVALID_HANDLE` under wine); a socket closed while registered gives an error
/// event or silence, at most once, never a hang.
#[cfg(windows)]
fn closed_or_invalid_fd_is_an_os_error<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, _b) = stream_pair();
    let closed = a.as_raw_fd();
    drop(a);
    for raw in [closed, INVALID_SOCKET, 1 << 28] {
        let result = poll
            .registry()
            .register(&mut SourceFd(&raw), Token(1), Interest::READABLE);
        let err = match result {
            Err(err) => err,
            Ok(()) => {
                // Windows hands a closed socket's value to the next socket
                // at once, and tests run in parallel threads: a value that
                // is a socket again registers, correctly; only one that is
                // still free must fail.
                let reused = raw == closed && socket_is_open(raw);
                assert!(reused, "[{}] socket {raw} registered", S::NAME);
                let _ = poll.registry().deregister(&mut SourceFd(&raw));
                continue;
            }
        };
        // Windows documents WSAENOTSOCK; wine answers a value that looks
        // like a handle but is not open with ERROR_INVALID_HANDLE.
        assert!(
            matches!(err.raw_os_error(), Some(WSAENOTSOCK | ERROR_INVALID_HANDLE))
                || err.kind() == ErrorKind::InvalidInput,
            "[{}] socket {raw}: {err:?}",
            S::NAME
        );
        // Nothing was registered: deregistering it fails, with the same OS
        // error (as epoll's `EBADF` for a closed fd) or `NotFound`.
        let err = poll.registry().deregister(&mut SourceFd(&raw)).unwrap_err();
        assert!(
            matches!(err.raw_os_error(), Some(WSAENOTSOCK | ERROR_INVALID_HANDLE))
                || matches!(err.kind(), ErrorKind::NotFound | ErrorKind::InvalidInput),
            "[{}] socket {raw}: {err:?}",
            S::NAME
        );
    }
    // A socket closed while registered: an error event or silence.
    let (c, _d) = stream_pair();
    let raw = c.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&raw), Token(2), Interest::READABLE)
        .unwrap();
    drop(c);
    let start = Instant::now();
    let seen = collect_events(&mut poll, &mut events, Duration::from_millis(100));
    assert!(start.elapsed() < LONG);
    for ev in seen.iter().filter(|e| e.token() == Token(2)) {
        // As above, a parallel test may own a socket with this value now;
        // its readiness would be a spurious event (allowed).
        assert!(ev.is_error() || socket_is_open(raw), "[{}] {ev:?}", S::NAME);
    }
    assert!(seen.iter().filter(|e| e.token() == Token(2)).count() <= 1);
}

#[cfg(any(unix, windows, rouse_wasip2))]
fn reserved_token_is_invalid_input<S: Backend>() {
    let poll = new_poll::<S>();
    let (a, _b) = stream_pair();
    let fd = a.as_raw_fd();
    let err = poll
        .registry()
        .register(&mut SourceFd(&fd), Token::RESERVED, Interest::READABLE)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    poll.registry()
        .register(&mut SourceFd(&fd), Token(1), Interest::READABLE)
        .unwrap();
    let err = poll
        .registry()
        .reregister(&mut SourceFd(&fd), Token::RESERVED, Interest::READABLE)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = Waker::new(poll.registry(), Token::RESERVED).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    // Nothing changed: the fd is still registered with Token(1).
    assert_eq!(
        poll.registry()
            .register(&mut SourceFd(&fd), Token(1), Interest::READABLE)
            .unwrap_err()
            .kind(),
        ErrorKind::AlreadyExists
    );
}

/// wasip2 has no threads and no `Waker`: the event that ends the wait is
/// the host's, a connect finishing while `poll` blocks with `Duration::MAX`
/// (an overflowing conversion would fail or return at once with nothing).
#[cfg(all(rouse_wasip2, feature = "net"))]
fn duration_max_blocks_without_overflow<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut stream = rouse::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    poll.registry()
        .register(&mut stream, Token(7), Interest::WRITABLE)
        .unwrap();
    poll.poll(&mut events, Some(Duration::MAX)).unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.token() == Token(7) && e.is_writable()),
        "[{}] {events:?}",
        S::NAME
    );
}

#[cfg(any(unix, windows))]
fn duration_max_blocks_without_overflow<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let waker = Waker::new(poll.registry(), Token(7)).unwrap();
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            waker.wake().unwrap();
        });
        poll.poll(&mut events, Some(Duration::MAX)).unwrap();
    });
    // It blocked until the wake instead of returning at once.
    assert!(
        start.elapsed() >= Duration::from_millis(90),
        "[{}]",
        S::NAME
    );
    assert!(events.iter().any(|e| e.token() == Token(7)));
}

fn one_nanosecond_rounds_up_to_a_millisecond<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let start = Instant::now();
    for _ in 0..10 {
        poll.poll(&mut events, Some(Duration::from_nanos(1)))
            .unwrap();
        assert!(events.is_empty());
    }
    // Ten 1 ns polls wait about 10 ms: each rounded up, none spun.
    assert!(
        start.elapsed() >= Duration::from_millis(9),
        "[{}] {:?}",
        S::NAME,
        start.elapsed()
    );
}

fn zero_capacity_events_is_invalid_input<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = Events::<S, 8>::with_limit(0);
    assert_eq!(events.capacity(), 0);
    assert!(events.is_empty());
    let err = poll.poll(&mut events, Some(Duration::ZERO)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(events.iter().next().is_none());
    // The default type behaves the same.
    let events = Events::with_capacity(0);
    assert_eq!(events.capacity(), 0);
}

fn capacity_is_capped_by_storage<S: Backend>() {
    let events = Events::<S, 4>::with_limit(100);
    assert_eq!(events.capacity(), 4);
    let events = Events::with_capacity(1 << 20);
    assert_eq!(events.capacity(), rouse::event::DEFAULT_CAPACITY);
    let events = Events::with_capacity(3);
    assert_eq!(events.capacity(), 3);
}

#[cfg(unix)]
fn interrupted_poll_reports_interrupted<S: Backend>() {
    extern "C" fn on_signal(_: libc::c_int) {}
    // SAFETY: installs a handler that does nothing, without SA_RESTART, so
    // a blocked poll returns EINTR; `action` is fully initialised.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut()),
            0
        );
    }
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() };
    let result = std::thread::scope(|s| {
        s.spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            // SAFETY: `me` is alive: it waits in this scope until we return.
            unsafe { libc::pthread_kill(me, libc::SIGUSR2) };
        });
        poll.poll(&mut events, Some(Duration::from_secs(5)))
    });
    let err = result.expect_err("poll should be interrupted");
    assert_eq!(err.kind(), ErrorKind::Interrupted, "[{}]", S::NAME);
    // The Poll still works afterwards.
    poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
}

#[cfg(any(unix, windows, rouse_wasip2))]
fn poll_clears_events_first<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, b) = stream_pair();
    poll.registry()
        .register(&mut SourceFd(&a.as_raw_fd()), Token(3), Interest::READABLE)
        .unwrap();
    put(&b, b"x");
    expect_event(&mut poll, &mut events, Token(3), LONG, |e| e.is_readable());
    assert!(!events.is_empty());
    let mut buf = [0; 8];
    assert_eq!((&a).read(&mut buf).unwrap(), 1);
    // wasmtime keeps a socket readable until a read meets WouldBlock (a
    // stream's pollable is its cached readiness), so there the read that
    // finds nothing is part of draining.
    #[cfg(rouse_wasip2)]
    assert!(drain(&a).is_empty());
    // Drained, nothing new: the next poll times out with Ok and an empty
    // set.
    poll.poll(&mut events, Some(Duration::from_millis(10)))
        .unwrap();
    assert!(events.is_empty(), "[{}] {events:?}", S::NAME);
}

backend_tests!(
    #[cfg(any(unix, windows, rouse_wasip2))]
    register_twice_is_already_exists,
    #[cfg(any(unix, windows, rouse_wasip2))]
    unregistered_source_is_not_found,
    #[cfg(any(unix, windows, rouse_wasip2))]
    full_table_names_its_capacity,
    #[cfg(any(unix, windows, rouse_wasip2))]
    closed_or_invalid_fd_is_an_os_error,
    #[cfg(any(unix, windows, rouse_wasip2))]
    reserved_token_is_invalid_input,
    #[cfg(any(unix, windows, all(rouse_wasip2, feature = "net")))]
    duration_max_blocks_without_overflow,
    one_nanosecond_rounds_up_to_a_millisecond,
    zero_capacity_events_is_invalid_input,
    capacity_is_capped_by_storage,
    #[cfg(unix)]
    interrupted_poll_reports_interrupted,
    #[cfg(any(unix, windows, rouse_wasip2))]
    poll_clears_events_first,
);

#[allow(dead_code)]
fn _types_compile(_: Poll) {}
