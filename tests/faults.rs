//! rouse under injected system-call faults, on every Linux backend.
//!
//! These tests need the fault injector (ci/inject/inject.c) preloaded, and
//! are ignored otherwise; `ci/faults` builds it and runs them:
//!
//! ```text
//! LD_PRELOAD=inject.so cargo test --test faults -- --ignored --test-threads 1
//! ```
//!
//! What they check:
//! * every injected failure of a call rouse makes on the caller's behalf
//!   comes back as that call's error (the same errno), never swallowed;
//!   the failures rouse handles itself (a full eventfd counter when
//!   waking; a failed drain of poll(2)'s wake fd) cost a retry or a
//!   spurious wake, never a lost one;
//! * a failed `register`, `reregister` or `deregister` changes nothing: the
//!   registrations (token and interests) are what the successful calls
//!   made them, which the test checks after the faults stop by polling
//!   every source and re-registering each;
//! * no wake is lost, no fd is leaked by a failed `Poll::new` or
//!   `Waker::new`, and readiness pending when `poll` fails is reported by
//!   the next one.
#![cfg(all(target_os = "linux", feature = "net"))]
mod common;
use common::*;

use std::io::{self, Read, Write};
use std::net::TcpStream as StdTcpStream;
use std::os::fd::AsRawFd;
use std::os::raw::{c_char, c_int, c_uint, c_ulong};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rouse::net::TcpListener;
use rouse::{Interest, Token, Waker};

// ---- the injector's API (ci/inject/inject.c), found with dlsym ----------

struct Injector {
    thread_rate: unsafe extern "C" fn(f64),
    force: unsafe extern "C" fn(*const c_char, c_int, c_uint) -> c_int,
    thread_injected: unsafe extern "C" fn() -> c_ulong,
    thread_last_errno: unsafe extern "C" fn() -> c_int,
}

fn symbol(name: &[u8]) -> *mut libc::c_void {
    assert_eq!(name.last(), Some(&0), "symbol names end in NUL");
    // SAFETY: `name` is NUL-terminated; dlsym only reads it.
    let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr().cast()) };
    assert!(
        !sym.is_null(),
        "the fault injector is not loaded: run these tests with ci/faults \
         (LD_PRELOAD=ci/inject's inject.so)"
    );
    sym
}

fn injector() -> &'static Injector {
    static INJECTOR: OnceLock<Injector> = OnceLock::new();
    INJECTOR.get_or_init(|| {
        // SAFETY: each symbol is the function of that name in
        // ci/inject/inject.c, with the signature given here.
        unsafe {
            Injector {
                thread_rate: std::mem::transmute::<*mut libc::c_void, unsafe extern "C" fn(f64)>(
                    symbol(b"rouse_fault_thread_rate\0"),
                ),
                force: std::mem::transmute::<
                    *mut libc::c_void,
                    unsafe extern "C" fn(*const c_char, c_int, c_uint) -> c_int,
                >(symbol(b"rouse_fault_force\0")),
                thread_injected: std::mem::transmute::<
                    *mut libc::c_void,
                    unsafe extern "C" fn() -> c_ulong,
                >(symbol(b"rouse_fault_thread_injected\0")),
                thread_last_errno: std::mem::transmute::<
                    *mut libc::c_void,
                    unsafe extern "C" fn() -> c_int,
                >(symbol(b"rouse_fault_thread_last_errno\0")),
            }
        }
    })
}

/// The tests force faults on calls from any thread: one test at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Random faults on the calling thread at `rate` (0 to 1) while `f` runs;
/// returns `f`'s result, how many faults were injected on this thread
/// meanwhile, and the errno of the last.
fn faulted<R>(rate: f64, f: impl FnOnce() -> R) -> (R, u64, i32) {
    let inj = injector();
    // SAFETY: the injector's functions take and return plain values.
    unsafe {
        let before = (inj.thread_injected)();
        (inj.thread_rate)(rate);
        let r = f();
        (inj.thread_rate)(0.0);
        let after = (inj.thread_injected)();
        // c_ulong is u32 on 32-bit targets.
        #[allow(clippy::unnecessary_cast)]
        let n = (after - before) as u64;
        (r, n, (inj.thread_last_errno)())
    }
}

/// Makes the next `count` calls of `call` (by any thread) fail with `err`.
fn force(call: &[u8], err: i32, count: u32) {
    assert_eq!(call.last(), Some(&0));
    // SAFETY: `call` is NUL-terminated and only read.
    let ret = unsafe { (injector().force)(call.as_ptr().cast(), err, count) };
    assert_eq!(ret, 0, "the injector does not know that call or errno");
}

/// Clears every forced fault.
fn unforce() {
    for call in [
        &b"epoll_create1\0"[..],
        b"epoll_ctl\0",
        b"epoll_wait\0",
        b"poll\0",
        b"eventfd\0",
        b"fcntl\0",
        b"recv\0",
        b"accept4\0",
        b"write\0",
    ] {
        force(call, libc::ENOMEM, 0);
    }
}

/// Faults injected on this thread so far.
fn injected_here() -> u64 {
    // SAFETY: takes nothing, returns a count.
    let n = unsafe { (injector().thread_injected)() };
    // c_ulong is u32 on 32-bit targets.
    #[allow(clippy::unnecessary_cast)]
    let n = n as u64;
    n
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A tiny deterministic generator (xorshift), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Asserts that `r` is the injected failure: an OS error with `errno`.
fn assert_injected<T: std::fmt::Debug>(what: &str, r: &io::Result<T>, errno: i32, name: &str) {
    match r {
        Err(e) => assert_eq!(
            e.raw_os_error(),
            Some(errno),
            "[{name}] {what}: the injected errno {errno} came back as {e:?}"
        ),
        Ok(v) => panic!("[{name}] {what}: a fault ({errno}) was injected and swallowed: {v:?}"),
    }
}

// ---- random operations, and the registrations checked afterwards ---------

const SOURCES: usize = 16;
const STEPS: usize = 4000;
const RATE: f64 = 0.2;

fn random_interest(rng: &mut Rng) -> Interest {
    match rng.below(3) {
        0 => Interest::READABLE,
        1 => Interest::WRITABLE,
        _ => Interest::READABLE | Interest::WRITABLE,
    }
}

/// Random register / reregister / deregister / poll calls with faults at
/// `RATE` on each; every failure must be the injected one, and the model
/// (changed by successful calls only) must match what the backend reports
/// once faults stop.
fn failed_calls_change_nothing<S: Backend>() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let name = S::NAME;
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let pairs: Vec<(UnixStream, UnixStream)> = (0..SOURCES).map(|_| stream_pair()).collect();
    let fds: Vec<i32> = pairs.iter().map(|(a, _)| a.as_raw_fd()).collect();
    let mut model: Vec<Option<(Token, Interest)>> = vec![None; SOURCES];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ name.len() as u64);
    let mut serial = 0usize;
    let mut injected_total = 0u64;

    for step in 0..STEPS {
        let i = rng.below(SOURCES as u64) as usize;
        let fd = fds[i];
        serial += 1;
        let token = Token(i * 1_000_000 + serial);
        let what = format!("step {step}");
        match rng.below(6) {
            0 => {
                let interest = random_interest(&mut rng);
                let (r, n, errno) = faulted(RATE, || {
                    poll.registry()
                        .register(&mut SourceFd(&fd), token, interest)
                });
                injected_total += n;
                if n > 0 {
                    assert_injected(&what, &r, errno, name);
                } else if model[i].is_some() {
                    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::AlreadyExists);
                } else {
                    r.unwrap_or_else(|e| panic!("[{name}] {what}: register: {e}"));
                    model[i] = Some((token, interest));
                }
            }
            1 | 2 => {
                let interest = random_interest(&mut rng);
                let (r, n, errno) = faulted(RATE, || {
                    poll.registry()
                        .reregister(&mut SourceFd(&fd), token, interest)
                });
                injected_total += n;
                if n > 0 {
                    assert_injected(&what, &r, errno, name);
                } else if model[i].is_none() {
                    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::NotFound);
                } else {
                    r.unwrap_or_else(|e| panic!("[{name}] {what}: reregister: {e}"));
                    model[i] = Some((token, interest));
                }
            }
            3 => {
                let (r, n, errno) =
                    faulted(RATE, || poll.registry().deregister(&mut SourceFd(&fd)));
                injected_total += n;
                if n > 0 {
                    assert_injected(&what, &r, errno, name);
                } else if model[i].is_none() {
                    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::NotFound);
                } else {
                    r.unwrap_or_else(|e| panic!("[{name}] {what}: deregister: {e}"));
                    model[i] = None;
                }
            }
            4 => {
                // Readiness changes: a byte one way, or a drain.
                if rng.below(2) == 0 {
                    let _ = (&pairs[i].1).write(&[1]);
                } else {
                    let mut buf = [0u8; 64];
                    while (&pairs[i].0).read(&mut buf).is_ok() {}
                }
            }
            _ => {
                let (r, n, errno) = faulted(RATE, || poll.poll(&mut events, Some(Duration::ZERO)));
                injected_total += n;
                if n > 0 {
                    assert_injected(&what, &r, errno, name);
                    continue;
                }
                r.unwrap_or_else(|e| panic!("[{name}] {what}: poll: {e}"));
                for e in events.iter() {
                    check_event(
                        name,
                        &what,
                        &model,
                        e.token(),
                        e.is_readable(),
                        e.is_writable(),
                    );
                }
            }
        }
    }
    assert!(injected_total > 0, "[{name}] no fault was injected");

    // Faults off. Every source readable and writable, so each registered
    // direction that is armed fires; events only as the model says.
    for (_, peer) in &pairs {
        (&*peer).write_all(&[2]).unwrap();
    }
    for e in collect_events(&mut poll, &mut events, SHORT) {
        check_event(
            name,
            "after the faults",
            &model,
            e.token(),
            e.is_readable(),
            e.is_writable(),
        );
    }
    // Re-registering each registered source with what the model says
    // succeeds (re-arming it); an unregistered one is not found.
    for (i, fd) in fds.iter().enumerate() {
        let r = match model[i] {
            Some((token, interest)) => {
                poll.registry()
                    .reregister(&mut SourceFd(fd), token, interest)
            }
            None => poll
                .registry()
                .reregister(&mut SourceFd(fd), Token(i), Interest::READABLE),
        };
        match (model[i], r) {
            (Some(_), Ok(())) => {}
            (None, Err(e)) if e.kind() == io::ErrorKind::NotFound => {}
            (m, r) => panic!("[{name}] source {i}: model {m:?}, reregister gave {r:?}"),
        }
    }
    // Now every registered source reports each direction it asked for,
    // with its token; nothing else is reported.
    let seen = collect_events(&mut poll, &mut events, SHORT);
    for e in &seen {
        check_event(
            name,
            "re-armed",
            &model,
            e.token(),
            e.is_readable(),
            e.is_writable(),
        );
    }
    for (i, m) in model.iter().enumerate() {
        let Some((token, interest)) = *m else {
            continue;
        };
        let of = |f: fn(&rouse::event::Event<S>) -> bool| {
            seen.iter().any(|e| e.token() == token && f(e))
        };
        if interest.is_readable() {
            assert!(
                of(|e| e.is_readable()),
                "[{name}] source {i}: no readable event"
            );
        }
        if interest.is_writable() {
            assert!(
                of(|e| e.is_writable()),
                "[{name}] source {i}: no writable event"
            );
        }
    }
    // And the registrations end cleanly: each registered one deregisters,
    // each other one registers (the table has no ghost of it).
    for (i, fd) in fds.iter().enumerate() {
        if model[i].is_some() {
            poll.registry().deregister(&mut SourceFd(fd)).unwrap();
        } else {
            poll.registry()
                .register(&mut SourceFd(fd), Token(i), Interest::READABLE)
                .unwrap_or_else(|e| panic!("[{name}] source {i} after the faults: {e}"));
            poll.registry().deregister(&mut SourceFd(fd)).unwrap();
        }
    }
    println!(
        "faults {name}: {STEPS} calls, {injected_total} faults injected, registrations consistent"
    );
}

/// An event must be for a registered source, with its current token, and
/// only for directions it is registered for.
fn check_event(
    name: &str,
    when: &str,
    model: &[Option<(Token, Interest)>],
    token: Token,
    readable: bool,
    writable: bool,
) {
    let i = token.0 / 1_000_000;
    let Some(Some((want, interest))) = model.get(i) else {
        panic!("[{name}] {when}: event for {token:?}, whose source is not registered");
    };
    assert_eq!(token, *want, "[{name}] {when}: event with a stale token");
    assert!(
        interest.is_readable() || !readable,
        "[{name}] {when}: readable event for {token:?} registered {interest:?}"
    );
    assert!(
        interest.is_writable() || !writable,
        "[{name}] {when}: writable event for {token:?} registered {interest:?}"
    );
}

// ---- wakes ----------------------------------------------------------------

// `usize`, as the counters below: 32-bit PowerPC and MIPS have no
// 64-bit atomics.
const WAKES: usize = 300;

/// A thread wakes the poller `WAKES` times, each time waiting until the
/// poller has seen it, with faults on both sides: on the eventfd writes
/// (a full counter, which rouse handles by draining and writing again)
/// and on the poller's waits (which come back as errors).
fn no_wake_is_lost<S: Backend>() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let name = S::NAME;
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let waker = Arc::new(Waker::new(poll.registry(), Token(7)).expect("waker"));
    let sent = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(AtomicUsize::new(0));

    let thread = {
        let (waker, sent, seen) = (waker.clone(), sent.clone(), seen.clone());
        std::thread::spawn(move || {
            let mut handled = 0;
            for n in 1..=WAKES {
                sent.store(n, Ordering::SeqCst);
                let (r, k, _) = faulted(0.3, || waker.wake());
                handled += k;
                r.unwrap_or_else(|e| panic!("[{name}] wake {n}: {e} (faults are retried)"));
                let deadline = Instant::now() + LONG;
                while seen.load(Ordering::SeqCst) < n {
                    assert!(Instant::now() < deadline, "[{name}] wake {n} was lost");
                    std::thread::yield_now();
                }
            }
            handled
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut poll_faults = 0;
    let mut drain_faults = 0;
    while seen.load(Ordering::SeqCst) < WAKES {
        assert!(Instant::now() < deadline, "[{name}] wakes stopped");
        let (r, k, errno) = faulted(0.2, || {
            poll.poll(&mut events, Some(Duration::from_millis(100)))
        });
        if k > 0 {
            poll_faults += k;
            // On poll(2) the wake fd is drained by a `read` after poll(2)
            // returned: a failed drain leaves the fd readable, so the wake
            // is reported again (spurious, not lost). Anything else that
            // failed must come back as the error.
            if !(r.is_ok() && errno == libc::EAGAIN) {
                assert_injected("poll", &r, errno, name);
                continue;
            }
            drain_faults += k;
        }
        r.unwrap();
        if events.iter().any(|e| e.token() == Token(7)) {
            seen.store(sent.load(Ordering::SeqCst), Ordering::SeqCst);
        }
    }
    let wake_faults = thread.join().expect("waker thread");
    assert!(
        poll_faults > 0 && wake_faults > 0,
        "[{name}] no fault injected"
    );
    println!(
        "faults {name}: {WAKES} wakes seen; {wake_faults} faults in wake (retried), \
         {poll_faults} in poll ({drain_faults} in draining the wake fd, the rest returned)"
    );
}

// ---- one forced fault at a time --------------------------------------------

/// `Poll::new` (the selector's `new`) failing for lack of descriptors:
/// the error is `EMFILE`, and nothing is left open.
fn failed_new_leaks_nothing<S: Backend>() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let name = S::NAME;
    for call in [&b"epoll_create1\0"[..], b"eventfd\0"] {
        let fds = open_fds();
        let before = injected_here();
        force(call, libc::EMFILE, 1);
        let r = S::new();
        let hit = injected_here() > before;
        unforce();
        if hit {
            assert_injected("new", &r.map(drop), libc::EMFILE, name);
        } else {
            drop(r.expect("new"));
        }
        assert_eq!(open_fds(), fds, "[{name}] fds after a failed new");
    }
}

/// `Waker::new` failing at each of its calls: the error comes back, a
/// `Waker` can be made afterwards (nothing half-made blocks it), and no fd
/// is left open once the `Poll` is gone. (The poll(2) backend keeps the
/// wake fd it made for the next try, in the `Poll`, if the failure came
/// after it: that is not a leak.)
fn failed_waker_leaks_nothing<S: Backend>() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let name = S::NAME;
    for (call, errno) in [
        (&b"eventfd\0"[..], libc::EMFILE),
        (b"fcntl\0", libc::EMFILE),
        (b"epoll_ctl\0", libc::ENOMEM),
    ] {
        let fds = open_fds();
        let mut poll = new_poll::<S>();
        let mut events = new_events::<S>();
        let before = injected_here();
        force(call, errno, 1);
        let r = Waker::new(poll.registry(), Token(1));
        let hit = injected_here() > before;
        unforce();
        if hit {
            assert_injected("Waker::new", &r, errno, name);
            let waker = Waker::new(poll.registry(), Token(1))
                .unwrap_or_else(|e| panic!("[{name}] Waker::new after a failed one: {e}"));
            waker.wake().unwrap();
            expect_event(&mut poll, &mut events, Token(1), LONG, |_| true);
        } else {
            drop(r.expect("Waker::new"));
        }
        drop((poll, events));
        assert_eq!(
            open_fds(),
            fds,
            "[{name}] fds after a failed Waker::new ({call:?})"
        );
    }
}

/// A failed `register` registers nothing; a failed `reregister` leaves
/// the old token and interests.
fn failed_registration_changes_nothing<S: Backend>() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let name = S::NAME;
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, b) = stream_pair();
    let fd = a.as_raw_fd();

    let before = injected_here();
    force(b"epoll_ctl\0", libc::ENOMEM, 1);
    let r = poll
        .registry()
        .register(&mut SourceFd(&fd), Token(1), Interest::READABLE);
    let hit = injected_here() > before;
    unforce();
    if hit {
        assert_injected("register", &r, libc::ENOMEM, name);
        poll.registry()
            .register(&mut SourceFd(&fd), Token(1), Interest::READABLE)
            .unwrap_or_else(|e| panic!("[{name}] register after a failed one: {e}"));
    } else {
        r.unwrap();
    }

    let before = injected_here();
    force(b"epoll_ctl\0", libc::ENOMEM, 1);
    let r = poll
        .registry()
        .reregister(&mut SourceFd(&fd), Token(2), Interest::WRITABLE);
    let hit = injected_here() > before;
    unforce();
    if !hit {
        // Table backends make no system call here: nothing to fail.
        r.unwrap();
        return;
    }
    assert_injected("reregister", &r, libc::ENOMEM, name);
    // Still Token(1), READABLE: a byte is reported as readable, with it.
    (&b).write_all(b"x").unwrap();
    let e = expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_readable());
    assert!(
        !e.is_writable(),
        "[{name}] the failed reregister's interest took effect"
    );
    expect_no_event(&mut poll, &mut events, Token(2), SHORT);
}

/// A failed wait (`EINTR`, and `ENOMEM` where poll(2) can say so) comes
/// back as the error, and the readiness pending then is reported by the
/// next poll.
fn failed_wait_loses_no_event<S: Backend>() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let name = S::NAME;
    // epoll_wait fails with EINTR only; poll(2) also with ENOMEM.
    for (errno, calls) in [
        (libc::EINTR, &[&b"epoll_wait\0"[..], b"poll\0"][..]),
        (libc::ENOMEM, &[&b"poll\0"[..]][..]),
    ] {
        let mut poll = new_poll::<S>();
        let mut events = new_events::<S>();
        let (a, b) = stream_pair();
        poll.registry()
            .register(&mut SourceFd(&a.as_raw_fd()), Token(3), Interest::READABLE)
            .unwrap();
        (&b).write_all(b"x").unwrap();
        let before = injected_here();
        for call in calls {
            force(call, errno, 1);
        }
        let r = poll.poll(&mut events, Some(LONG));
        let hit = injected_here() > before;
        unforce();
        if hit {
            assert_injected("poll", &r, errno, name);
            expect_event(&mut poll, &mut events, Token(3), LONG, |e| e.is_readable());
        } else {
            r.unwrap();
            assert!(
                events.iter().any(|e| e.token() == Token(3)),
                "[{name}] no event"
            );
        }
    }
}

/// The net types: a failed `recv`, `accept` surfaces as its error and the
/// data or connection is there on the next try.
fn failed_io_loses_nothing<S: Backend>() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let name = S::NAME;
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    poll.registry()
        .register(&mut listener, Token(0), Interest::READABLE)
        .unwrap();
    let mut client = StdTcpStream::connect(listener.local_addr().unwrap()).unwrap();
    expect_event(&mut poll, &mut events, Token(0), LONG, |e| e.is_readable());

    force(b"accept4\0", libc::EMFILE, 1);
    let r = listener.accept();
    unforce();
    assert_injected("accept", &r, libc::EMFILE, name);
    let (mut stream, _) = listener.accept().expect("the connection is still there");

    poll.registry()
        .register(&mut stream, Token(1), Interest::READABLE)
        .unwrap();
    client.write_all(b"hello").unwrap();
    expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_readable());
    force(b"recv\0", libc::ENOMEM, 1);
    let mut buf = [0u8; 16];
    let r = stream.read(&mut buf);
    unforce();
    assert_injected("read", &r, libc::ENOMEM, name);
    assert_eq!(
        stream.read(&mut buf).unwrap(),
        5,
        "[{name}] the data is still there"
    );
    assert_eq!(&buf[..5], b"hello");
}

macro_rules! fault_tests {
    ($($name:ident),* $(,)?) => {
        #[cfg(feature = "epoll")]
        mod epoll {
            $(
                #[test]
                #[ignore = "needs the fault injector: run by ci/faults"]
                fn $name() {
                    super::$name::<rouse::sys::EpollSelector>();
                }
            )*
        }
        #[cfg(feature = "poll")]
        mod poll {
            $(
                #[test]
                #[ignore = "needs the fault injector: run by ci/faults"]
                fn $name() {
                    super::$name::<rouse::sys::PollSelector<{ $crate::common::POLL_CAPACITY }>>();
                }
            )*
        }
        #[cfg(all(feature = "epoll", feature = "poll"))]
        mod auto_epoll {
            $(
                #[test]
                #[ignore = "needs the fault injector: run by ci/faults"]
                fn $name() {
                    super::$name::<$crate::common::AutoEpoll>();
                }
            )*
        }
        #[cfg(all(feature = "epoll", feature = "poll"))]
        mod auto_poll {
            $(
                #[test]
                #[ignore = "needs the fault injector: run by ci/faults"]
                fn $name() {
                    super::$name::<$crate::common::AutoPoll>();
                }
            )*
        }
    };
}

fault_tests!(
    failed_calls_change_nothing,
    no_wake_is_lost,
    failed_new_leaks_nothing,
    failed_waker_leaks_nothing,
    failed_registration_changes_nothing,
    failed_wait_loses_no_event,
    failed_io_loses_nothing,
);
