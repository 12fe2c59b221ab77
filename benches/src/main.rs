//! rouse side by side with mio and polling.
//!
//!     rouse-benches SCENARIO IMPL [--iters N] [--idle N] [--pair-first]
//!
//! SCENARIO: pingpong, empty, waker, tcp, alloc, syscalls. IMPL: rouse-epoll,
//! rouse-poll, mio, polling (and `bare` for `empty`: libc::epoll_wait
//! alone). `mio` and `polling` are whatever backend the build selected:
//! epoll, or poll(2) when built with `--cfg mio_unsupported_force_poll_poll
//! --cfg polling_test_poll_backend` (see ci/bench); the output names it.
//!
//! Each run prints one line of `key=value` pairs: the time of the measured
//! loop per iteration and the heap allocations (counted by the global
//! allocator below) during setup and during the loop. Instruction counts
//! come from running the same command under callgrind with two iteration
//! counts (ci/bench). `syscalls` runs each operation once between two
//! marker calls (`write(-1, "rouse-mark:...")`, which fail with `EBADF`
//! and do nothing else), for `benches/syscalls.py` to count the system
//! calls in between under strace.

mod backend;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Barrier};
use std::time::{Duration, Instant};

use backend::mio_impl::Mio;
use backend::polling_impl::Polling;
use backend::rouse_impl::Rouse;
use backend::Backend;

/// Counts every allocation (and reallocation) of the process.
struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> usize {
    ALLOCS.load(Ordering::SeqCst)
}

/// rouse's poll(2) selector, with a table large enough for every scenario.
type RousePoll = rouse::sys::PollSelector<10_240>;

const PAIR_A: usize = 0;
const PAIR_B: usize = 1;
const WAKE: usize = 2;
const LISTENER: usize = 3;
const CONN: usize = 100;
const IDLE: usize = 1_000;

struct Args {
    scenario: String,
    imp: String,
    iters: u64,
    idle: usize,
    pair_first: bool,
}

/// What one run reports, beyond the scenario's parameters.
#[derive(Default)]
struct Report {
    /// Time of the measured loop, per iteration.
    ns_per_iter: f64,
    /// Allocations by phase, in order.
    allocs: Vec<(&'static str, usize)>,
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("rouse-benches: {msg}");
            eprintln!(
                "usage: rouse-benches pingpong|empty|waker|tcp|alloc|syscalls \
                 rouse-epoll|rouse-poll|mio|polling|bare [--iters N] [--idle N] [--pair-first]"
            );
            std::process::exit(2);
        }
    };
    if let Err(err) = raise_nofile(args.idle as u64 + 256) {
        eprintln!("rouse-benches: cannot raise RLIMIT_NOFILE: {err}");
        std::process::exit(1);
    }
    let result = match args.imp.as_str() {
        "rouse-epoll" => run::<Rouse<rouse::sys::EpollSelector>>(&args),
        "rouse-poll" => run::<Rouse<RousePoll>>(&args),
        "mio" => run::<Mio>(&args),
        "polling" => run::<Polling>(&args),
        "bare" if args.scenario == "empty" => empty_bare(&args),
        other => Err(io::Error::new(
            ErrorKind::InvalidInput,
            format!("unknown implementation {other} for {}", args.scenario),
        )),
    };
    match result {
        Ok(report) => {
            let mut line = format!(
                "scenario={} impl={} backend={} iters={} idle={} pair_first={} ns_per_iter={:.1}",
                args.scenario,
                args.imp,
                backend_name(&args.imp),
                args.iters,
                args.idle,
                args.pair_first,
                report.ns_per_iter,
            );
            for (phase, n) in report.allocs {
                line.push_str(&format!(" allocs_{phase}={n}"));
            }
            println!("{line}");
        }
        Err(err) => {
            eprintln!("rouse-benches: {} {}: {err}", args.scenario, args.imp);
            std::process::exit(1);
        }
    }
}

/// The backend an implementation runs on in this build.
fn backend_name(imp: &str) -> &'static str {
    let forced_mio = cfg!(mio_unsupported_force_poll_poll);
    let forced_polling = cfg!(polling_test_poll_backend);
    match imp {
        "rouse-poll" => "poll",
        "mio" if forced_mio => "poll",
        "polling" if forced_polling => "poll",
        _ => "epoll",
    }
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let scenario = it.next().ok_or("no scenario")?;
    let imp = it.next().ok_or("no implementation")?;
    let mut args = Args {
        scenario,
        imp,
        iters: 1_000,
        idle: 0,
        pair_first: false,
    };
    while let Some(flag) = it.next() {
        let mut value = || -> Result<u64, String> {
            it.next()
                .ok_or(format!("{flag} needs a value"))?
                .parse()
                .map_err(|e| format!("{flag}: {e}"))
        };
        match flag.as_str() {
            "--iters" => args.iters = value()?,
            "--idle" => args.idle = value()? as usize,
            "--pair-first" => args.pair_first = true,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

fn raise_nofile(want: u64) -> io::Result<()> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(io::Error::last_os_error());
        }
        if lim.rlim_cur >= want {
            return Ok(());
        }
        lim.rlim_cur = lim.rlim_max.min(want.max(lim.rlim_cur));
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    if lim.rlim_cur < want {
        return Err(io::Error::other(format!(
            "hard limit {} < {want}",
            lim.rlim_max
        )));
    }
    Ok(())
}

fn run<B: Backend>(args: &Args) -> io::Result<Report> {
    match args.scenario.as_str() {
        "pingpong" => pingpong::<B>(args),
        "empty" => empty::<B>(args),
        "waker" => waker::<B>(args),
        "tcp" => tcp::<B>(args),
        "alloc" => alloc::<B>(args),
        "syscalls" => syscalls::<B>(args),
        other => Err(io::Error::new(
            ErrorKind::InvalidInput,
            format!("unknown scenario {other}"),
        )),
    }
}

/// `n` eventfds that never become readable: the idle sources.
fn idle_fds(n: usize) -> io::Result<Vec<OwnedFd>> {
    (0..n)
        .map(|_| {
            // SAFETY: eventfd takes a value and flags, returns a new fd or -1.
            let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` is a new descriptor that nothing else owns.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        })
        .collect()
}

fn add_idle<B: Backend>(b: &mut B, fds: &[OwnedFd]) -> io::Result<()> {
    for (i, fd) in fds.iter().enumerate() {
        b.add_fd(fd.as_raw_fd(), IDLE + i)?;
    }
    Ok(())
}

fn del_idle<B: Backend>(b: &mut B, fds: &[OwnedFd]) -> io::Result<()> {
    for fd in fds {
        b.del_fd(fd.as_raw_fd())?;
    }
    Ok(())
}

/// Polls until an event for `token` arrives.
#[inline]
fn wait_for<B: Backend>(b: &mut B, token: usize) -> io::Result<()> {
    loop {
        b.poll(None)?;
        let mut seen = false;
        b.for_each_token(|t| seen |= t == token);
        if seen {
            return Ok(());
        }
    }
}

/// Reads `s` until `WouldBlock` (the edge-triggered contract), then lets
/// the backend re-arm; returns the bytes read, or 0 at end of stream.
#[inline]
fn drain<B: Backend, S: Read + AsRawFd>(b: &mut B, s: &mut S, token: usize) -> io::Result<usize> {
    let mut buf = [0u8; 64];
    let mut total = 0;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                b.rearm(s.as_raw_fd(), token)?;
                return Ok(total);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Scenario 1: one byte back and forth over a Unix stream pair, both ends
/// registered with one poll, beside `idle` registered sources that never
/// fire (registered before the pair, or after it with `--pair-first`).
/// One iteration is a round trip: two writes, two polls, four reads (the
/// second read of each side meets `WouldBlock`).
fn pingpong<B: Backend>(args: &Args) -> io::Result<Report> {
    let idle = idle_fds(args.idle)?;
    let a0 = allocs();
    let mut b = B::new()?;
    let (mut x, mut y) = B::unix_pair()?;
    if !args.pair_first {
        add_idle(&mut b, &idle)?;
    }
    b.add_unix(&mut x, PAIR_A)?;
    b.add_unix(&mut y, PAIR_B)?;
    if args.pair_first {
        add_idle(&mut b, &idle)?;
    }
    let a1 = allocs();
    let start = Instant::now();
    for _ in 0..args.iters {
        x.write_all(&[1])?;
        wait_for(&mut b, PAIR_B)?;
        let got = drain(&mut b, &mut y, PAIR_B)?;
        debug_assert_eq!(got, 1);
        y.write_all(&[2])?;
        wait_for(&mut b, PAIR_A)?;
        let got = drain(&mut b, &mut x, PAIR_A)?;
        debug_assert_eq!(got, 1);
    }
    let elapsed = start.elapsed();
    let a2 = allocs();
    b.del_unix(&mut x)?;
    b.del_unix(&mut y)?;
    del_idle(&mut b, &idle)?;
    Ok(report(
        args,
        elapsed,
        &[("setup", a1 - a0), ("loop", a2 - a1)],
    ))
}

/// Scenario 2: `poll` with timeout 0 and `idle` registered sources that
/// never fire. One iteration is one poll.
fn empty<B: Backend>(args: &Args) -> io::Result<Report> {
    let idle = idle_fds(args.idle)?;
    let a0 = allocs();
    let mut b = B::new()?;
    add_idle(&mut b, &idle)?;
    let a1 = allocs();
    let start = Instant::now();
    for _ in 0..args.iters {
        b.poll(Some(Duration::ZERO))?;
        black_box(&mut b);
    }
    let elapsed = start.elapsed();
    let a2 = allocs();
    del_idle(&mut b, &idle)?;
    Ok(report(
        args,
        elapsed,
        &[("setup", a1 - a0), ("loop", a2 - a1)],
    ))
}

/// Scenario 2, the floor: a bare `epoll_wait` with the same sources.
fn empty_bare(args: &Args) -> io::Result<Report> {
    let idle = idle_fds(args.idle)?;
    let a0 = allocs();
    // SAFETY: epoll_create1 takes flags, returns a new fd or -1.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `ep` is a new descriptor that nothing else owns.
    let ep = unsafe { OwnedFd::from_raw_fd(ep) };
    for (i, fd) in idle.iter().enumerate() {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: (IDLE + i) as u64,
        };
        // SAFETY: both fds are open; `ev` is a valid event.
        if unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut ev) }
            < 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    let mut buf = [libc::epoll_event { events: 0, u64: 0 }; backend::EVENTS];
    let a1 = allocs();
    let start = Instant::now();
    for _ in 0..args.iters {
        // SAFETY: `buf` has room for EVENTS events.
        let n = unsafe {
            libc::epoll_wait(
                ep.as_raw_fd(),
                buf.as_mut_ptr(),
                backend::EVENTS as libc::c_int,
                0,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        black_box(&mut buf);
    }
    let elapsed = start.elapsed();
    let a2 = allocs();
    Ok(report(
        args,
        elapsed,
        &[("setup", a1 - a0), ("loop", a2 - a1)],
    ))
}

/// Scenario 3: two threads, each with its own poll and waker, wake each
/// other in turn. One iteration is a round trip: two wakes, two polls that
/// each return the waker's event.
fn waker<B: Backend>(args: &Args) -> io::Result<Report> {
    let iters = args.iters;
    let (to_main, from_peer) = mpsc::sync_channel::<io::Result<B::Waker>>(1);
    let (to_peer, from_main) = mpsc::sync_channel::<B::Waker>(1);
    let a0 = allocs();
    let mut a = B::new()?;
    let wake_a = a.waker(WAKE)?;
    let a1 = allocs();
    std::thread::scope(|scope| -> io::Result<Report> {
        // The peer hands `wake_a` back instead of dropping it: closing a
        // waker's fd could remove its last event before the main thread
        // polls it.
        let peer = scope.spawn(move || -> io::Result<Option<B::Waker>> {
            let mut b = B::new()?;
            let _ = to_main.send(b.waker(WAKE));
            let Ok(wake_a) = from_main.recv() else {
                return Ok(None);
            };
            for i in 0..iters {
                if let Err(e) = wait_for(&mut b, WAKE).and_then(|()| B::wake(&wake_a)) {
                    // The main thread would wait for this wake forever.
                    eprintln!("rouse-benches: waker: peer failed at {i}: {e}");
                    std::process::exit(1);
                }
            }
            Ok(Some(wake_a))
        });
        let peer_waker = from_peer.recv().map_err(io::Error::other);
        let wake_b = match peer_waker {
            Ok(Ok(w)) => w,
            Ok(Err(e)) | Err(e) => return Err(e),
        };
        let _ = to_peer.send(wake_a);
        let a2 = allocs();
        let start = Instant::now();
        for _ in 0..iters {
            B::wake(&wake_b)?;
            wait_for(&mut a, WAKE)?;
        }
        let elapsed = start.elapsed();
        let a3 = allocs();
        let wake_a = peer
            .join()
            .map_err(|_| io::Error::other("peer panicked"))??;
        drop(wake_a);
        Ok(report(
            args,
            elapsed,
            &[("setup", a1 - a0), ("loop", a3 - a2)],
        ))
    })
}

/// Scenario 4: a client thread makes `iters` short connections one after
/// another (connect, send 16 bytes, read the echo, close); the server
/// accepts, registers, echoes and deregisters each through poll. One
/// iteration is one connection, client and server instructions together.
fn tcp<B: Backend>(args: &Args) -> io::Result<Report> {
    const SLOTS: usize = 64;
    const MSG: &[u8; 16] = b"0123456789abcdef";
    let iters = args.iters;
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let a0 = allocs();
    let mut b = B::new()?;
    let mut listener = B::listen(any)?;
    b.add_listener(&mut listener, LISTENER)?;
    let a1 = allocs();
    let addr = B::local_addr(&listener)?;
    let mut conns: Vec<Option<B::Tcp>> = (0..SLOTS).map(|_| None).collect();
    let barrier = Barrier::new(2);
    std::thread::scope(|scope| -> io::Result<Report> {
        let client = scope.spawn(|| -> io::Result<()> {
            barrier.wait();
            let mut buf = [0u8; 16];
            for _ in 0..iters {
                let mut s = std::net::TcpStream::connect(addr)?;
                s.write_all(MSG)?;
                s.read_exact(&mut buf)?;
                if &buf != MSG {
                    return Err(io::Error::other("echo differs"));
                }
            }
            Ok(())
        });
        let a2 = allocs();
        barrier.wait();
        let start = Instant::now();
        let mut closed = 0;
        while closed < iters {
            b.poll(None)?;
            let mut ready = [0usize; SLOTS + 1];
            let mut n = 0;
            b.for_each_token(|t| {
                if n < ready.len() {
                    ready[n] = t;
                    n += 1;
                }
            });
            for &token in &ready[..n] {
                if token == LISTENER {
                    loop {
                        match B::accept(&listener) {
                            Ok(mut s) => {
                                let slot =
                                    conns.iter().position(Option::is_none).ok_or_else(|| {
                                        io::Error::other("more than 64 connections at once")
                                    })?;
                                b.add_tcp(&mut s, CONN + slot)?;
                                conns[slot] = Some(s);
                            }
                            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                                b.rearm(listener.as_raw_fd(), LISTENER)?;
                                break;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                } else if let Some(slot) = token.checked_sub(CONN).filter(|&s| s < SLOTS) {
                    let Some(mut s) = conns[slot].take() else {
                        continue;
                    };
                    let (open, echo) = echo_until_block(&mut b, &mut s, token)?;
                    let _ = echo;
                    if open {
                        conns[slot] = Some(s);
                    } else {
                        b.del_tcp(&mut s)?;
                        closed += 1;
                    }
                }
            }
        }
        let elapsed = start.elapsed();
        let a3 = allocs();
        client
            .join()
            .map_err(|_| io::Error::other("client panicked"))??;
        b.del_listener(&mut listener)?;
        Ok(report(
            args,
            elapsed,
            &[("setup", a1 - a0), ("loop", a3 - a2)],
        ))
    })
}

/// Reads what `s` has and writes it back, until `WouldBlock` (still open)
/// or end of stream / an error (closed). Returns (open, bytes echoed).
fn echo_until_block<B: Backend>(
    b: &mut B,
    s: &mut B::Tcp,
    token: usize,
) -> io::Result<(bool, usize)> {
    let mut buf = [0u8; 64];
    let mut echoed = 0;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok((false, echoed)),
            Ok(n) => {
                s.write_all(&buf[..n])?;
                echoed += n;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                b.rearm(s.as_raw_fd(), token)?;
                return Ok((true, echoed));
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Ok((false, echoed)),
        }
    }
}

/// Scenario 5: allocations by phase: creating the poll (and its events
/// buffer), `idle` registrations (1000 in ci/bench), `iters` polls with
/// timeout 0, and the deregistrations.
fn alloc<B: Backend>(args: &Args) -> io::Result<Report> {
    let idle = idle_fds(args.idle)?;
    let a0 = allocs();
    let mut b = B::new()?;
    let a1 = allocs();
    add_idle(&mut b, &idle)?;
    let a2 = allocs();
    let start = Instant::now();
    for _ in 0..args.iters {
        b.poll(Some(Duration::ZERO))?;
        black_box(&mut b);
    }
    let elapsed = start.elapsed();
    let a3 = allocs();
    del_idle(&mut b, &idle)?;
    let a4 = allocs();
    Ok(report(
        args,
        elapsed,
        &[
            ("setup", a1 - a0),
            ("register", a2 - a1),
            ("poll", a3 - a2),
            ("deregister", a4 - a3),
        ],
    ))
}

/// Marks the start (`begin OP`) or the end (`end`) of an operation in the
/// system call trace: a `write` to fd -1, which fails with `EBADF` and does
/// nothing, carrying the text for the trace to show.
#[inline(never)]
fn mark(text: &str) {
    // SAFETY: writes `text.len()` bytes from a valid buffer to fd -1,
    // which the kernel rejects with EBADF before reading them.
    unsafe { libc::write(-1, text.as_ptr().cast(), text.len()) };
}

/// Runs `f` between two markers: the system calls of operation `op`.
#[inline(never)]
fn counted<T>(op: &str, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    mark(op);
    let out = f();
    mark("rouse-mark:end");
    out
}

/// The tokens the last poll returned.
fn tokens<B: Backend>(b: &B) -> Vec<usize> {
    let mut seen = Vec::new();
    b.for_each_token(|t| seen.push(t));
    seen
}

fn expect(what: &str, ok: bool) -> io::Result<()> {
    if ok {
        Ok(())
    } else {
        Err(io::Error::other(format!("syscalls: {what}")))
    }
}

/// Scenario 6: each operation of the syscall table once, on one thread,
/// between markers (see `mark`); benches/syscalls.py counts what the
/// kernel is asked in between. Setup (the socket pair, the listener, the
/// client's connect) happens outside the markers. `--iters` is ignored.
fn syscalls<B: Backend>(args: &Args) -> io::Result<Report> {
    let start = Instant::now();
    let (mut x, mut y) = B::unix_pair()?;
    let mut listener = B::listen(([127, 0, 0, 1], 0).into())?;
    let addr = B::local_addr(&listener)?;
    let mut b = counted("rouse-mark:begin new", B::new)?;
    let waker = counted("rouse-mark:begin waker", || b.waker(WAKE))?;
    counted("rouse-mark:begin register", || b.add_unix(&mut x, PAIR_A))?;
    counted("rouse-mark:begin reregister", || {
        b.rereg_unix(&mut x, PAIR_B)
    })?;
    counted("rouse-mark:begin poll-empty", || {
        b.poll(Some(Duration::ZERO))
    })?;
    expect("an empty poll returned events", tokens(&b).is_empty())?;
    y.write_all(&[1])?;
    counted("rouse-mark:begin poll-one", || b.poll(None))?;
    expect("the poll missed the readable end", tokens(&b) == [PAIR_B])?;
    let got = drain(&mut b, &mut x, PAIR_B)?;
    expect("read other than one byte", got == 1)?;
    counted("rouse-mark:begin wake", || B::wake(&waker))?;
    counted("rouse-mark:begin poll-wake", || b.poll(None))?;
    expect("the poll missed the wake", tokens(&b) == [WAKE])?;
    b.add_listener(&mut listener, LISTENER)?;
    let client = std::net::TcpStream::connect(addr)?;
    wait_for(&mut b, LISTENER)?;
    let conn = counted("rouse-mark:begin accept-register", || {
        let mut s = B::accept(&listener)?;
        b.add_tcp(&mut s, CONN)?;
        Ok(s)
    })?;
    counted("rouse-mark:begin deregister", || b.del_unix(&mut x))?;
    counted("rouse-mark:begin drop", || b.drop_tcp(conn))?;
    drop(client);
    b.del_listener(&mut listener)?;
    drop(waker);
    Ok(report(args, start.elapsed(), &[]))
}

fn report(args: &Args, elapsed: Duration, allocs: &[(&'static str, usize)]) -> Report {
    Report {
        ns_per_iter: elapsed.as_nanos() as f64 / args.iters.max(1) as f64,
        allocs: allocs.to_vec(),
    }
}
