//! What one wait costs on wasm32-wasip2, the measurements behind the
//! choice of rouse's wasip2 backend (rouse's src/sys/wasip2.rs):
//!
//!     pollcost MODE K N
//!
//! does N waits that find nothing (timeout 0) with K idle TCP connections
//! registered, or N echo round trips, and prints `mode=.. k=.. n=..
//! ns_per_op=.. allocs_per_op=..`. Modes:
//!
//! * `rouse`: `Poll::poll` on rouse's `Wasip2Selector` (wasi-libc's poll);
//! * `libc`: `libc::poll` on the same `pollfd`s, without rouse;
//! * `native`: `wasi:io/poll.poll` called directly (this file's own
//!   imports, no bindings crate), over K idle pollables plus a zero-length
//!   clock pollable made and dropped per call, as wasi-libc does for a
//!   timeout. The idle pollables are clock pollables an hour away: a
//!   component cannot reach the pollables of std's sockets, which
//!   wasi-libc keeps to itself;
//! * `echo-rouse`: round trips of 64 bytes between two rouse `TcpStream`s
//!   over loopback in this one program, each side waiting in `Poll::poll`;
//! * `echo-libc`: the same with `libc::poll` and std's streams.
//!
//! Allocations are counted by a counting global allocator: Rust's, and the
//! component model's (`cabi_realloc`, which std routes to the global
//! allocator: the host writes the `list<u32>` that `wasi:io/poll.poll`
//! returns into memory it gets that way). ci-free: run by run.sh, and under
//! `wasmtime -W fuel=F` by fuel.py to count guest instructions.

#[cfg(all(target_os = "wasi", target_env = "p2"))]
mod imp {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::io::{ErrorKind, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use rouse::sys::Wasip2Selector;
    use rouse::{Events, Interest, Poll, Token};

    struct Counting;
    static ALLOCS: AtomicUsize = AtomicUsize::new(0);

    // SAFETY: forwards to the system allocator unchanged; only counts.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            // SAFETY: the caller's contract is passed on.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: the caller's contract is passed on.
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            // SAFETY: the caller's contract is passed on.
            unsafe { System.realloc(ptr, layout, size) }
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    #[link(wasm_import_module = "wasi:io/poll@0.2.0")]
    extern "C" {
        #[link_name = "poll"]
        fn wasi_poll(ptr: *const u32, len: usize, ret: *mut [usize; 2]);
        #[link_name = "[resource-drop]pollable"]
        fn drop_pollable(handle: u32);
    }

    #[link(wasm_import_module = "wasi:clocks/monotonic-clock@0.2.0")]
    extern "C" {
        #[link_name = "subscribe-duration"]
        fn subscribe_duration(ns: u64) -> u32;
    }

    /// K idle connections: (client, server), both non-blocking.
    fn connections(k: usize) -> Vec<(TcpStream, TcpStream)> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        (0..k)
            .map(|_| {
                let a = TcpStream::connect(addr).unwrap();
                let (b, _) = listener.accept().unwrap();
                a.set_nonblocking(true).unwrap();
                b.set_nonblocking(true).unwrap();
                (a, b)
            })
            .collect()
    }

    fn report(mode: &str, k: usize, n: usize, start: Instant, allocs: usize) {
        let ns = start.elapsed().as_nanos() as f64 / n.max(1) as f64;
        println!(
            "mode={mode} k={k} n={n} ns_per_op={ns:.0} allocs_per_op={:.2}",
            allocs as f64 / n.max(1) as f64
        );
    }

    fn rouse_polls(k: usize, n: usize) {
        let conns = connections(k);
        let mut poll = Poll::with_selector(<Wasip2Selector>::new_selector());
        let mut events = Events::<Wasip2Selector, 64>::new();
        // The peers stay open: a closed one would be readable (end of file).
        let (clients, _peers): (Vec<_>, Vec<_>) = conns.into_iter().unzip();
        let mut streams: Vec<rouse::net::TcpStream> = clients
            .into_iter()
            .map(rouse::net::TcpStream::from_std)
            .collect();
        for (i, s) in streams.iter_mut().enumerate() {
            poll.registry()
                .register(s, Token(i), Interest::READABLE)
                .unwrap();
        }
        // Settle first: what is ready at once (nothing should be) is
        // reported once, then the measured polls find nothing.
        poll.poll(&mut events, Some(Duration::from_millis(10)))
            .unwrap();
        let settled = events.iter().count();
        let before = ALLOCS.load(Ordering::Relaxed);
        let start = Instant::now();
        let mut found = 0;
        for _ in 0..n {
            poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
            found += events.iter().count();
        }
        eprintln!("rouse: {settled} ready when settling, {found} events in the loop");
        report("rouse", k, n, start, ALLOCS.load(Ordering::Relaxed) - before);
    }

    fn libc_polls(k: usize, n: usize) {
        let conns = connections(k);
        let mut fds: Vec<libc::pollfd> = conns
            .iter()
            .map(|(a, _)| libc::pollfd {
                fd: a.as_raw_fd(),
                events: libc::POLLRDNORM,
                revents: 0,
            })
            .collect();
        let before = ALLOCS.load(Ordering::Relaxed);
        let start = Instant::now();
        let mut found = 0;
        for _ in 0..n {
            // SAFETY: `fds` is live pollfds of open sockets.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
            assert!(r >= 0);
            found += r as usize;
        }
        eprintln!("libc: {found} ready in the loop");
        report("libc", k, n, start, ALLOCS.load(Ordering::Relaxed) - before);
    }

    fn native_polls(k: usize, n: usize) {
        // SAFETY: subscribe-duration takes a duration and returns a new
        // pollable handle owned by us.
        let idle: Vec<u32> = (0..k)
            .map(|_| unsafe { subscribe_duration(3_600_000_000_000) })
            .collect();
        let mut list = idle.clone();
        list.push(0);
        let before = ALLOCS.load(Ordering::Relaxed);
        let start = Instant::now();
        for _ in 0..n {
            // SAFETY: as above; the handle is dropped below.
            let now = unsafe { subscribe_duration(0) };
            list[k] = now;
            let mut ret = [0usize; 2];
            // SAFETY: `list` is k + 1 live pollable handles we own; the host
            // writes the result list's pointer and length into `ret`.
            unsafe { wasi_poll(list.as_ptr(), list.len(), &mut ret) };
            assert!(ret[1] >= 1);
            // SAFETY: the host allocated the result with cabi_realloc
            // (the global allocator), `ret[1]` u32s aligned to 4.
            unsafe {
                std::alloc::dealloc(
                    ret[0] as *mut u8,
                    Layout::from_size_align_unchecked(ret[1] * 4, 4),
                )
            };
            // SAFETY: `now` is ours and no longer used.
            unsafe { drop_pollable(now) };
        }
        report("native", k, n, start, ALLOCS.load(Ordering::Relaxed) - before);
        for h in idle {
            // SAFETY: ours, no longer used.
            unsafe { drop_pollable(h) };
        }
    }

    const MSG: usize = 64;

    fn echo_rouse(n: usize) {
        let (a, b) = connections(1).pop().unwrap();
        let mut client = rouse::net::TcpStream::from_std(a);
        let mut server = rouse::net::TcpStream::from_std(b);
        let mut poll = Poll::with_selector(<Wasip2Selector>::new_selector());
        let mut events = Events::<Wasip2Selector, 8>::new();
        poll.registry()
            .register(&mut client, Token(0), Interest::READABLE)
            .unwrap();
        poll.registry()
            .register(&mut server, Token(1), Interest::READABLE)
            .unwrap();
        let out = [0x5a_u8; MSG];
        let mut buf = [0u8; 4096];
        let before = ALLOCS.load(Ordering::Relaxed);
        let start = Instant::now();
        for _ in 0..n {
            write_all(&mut client, &out);
            echo_side(&mut poll, &mut events, &mut server, &mut buf, true);
            echo_side(&mut poll, &mut events, &mut client, &mut buf, false);
        }
        report("echo-rouse", 1, n, start, ALLOCS.load(Ordering::Relaxed) - before);
    }

    /// Waits for `MSG` bytes on `s` (polling on WouldBlock), writing them
    /// back if `echo`.
    fn echo_side(
        poll: &mut Poll<Wasip2Selector>,
        events: &mut Events<Wasip2Selector, 8>,
        s: &mut rouse::net::TcpStream,
        buf: &mut [u8],
        echo: bool,
    ) {
        let mut got = 0;
        while got < MSG {
            match s.read(&mut buf[..MSG - got]) {
                Ok(0) => panic!("closed"),
                Ok(m) => {
                    if echo {
                        write_all(&mut *s, &buf[..m]);
                    }
                    got += m;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    poll.poll(events, None).unwrap();
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn write_all(mut w: impl Write, mut buf: &[u8]) {
        while !buf.is_empty() {
            match w.write(buf) {
                Ok(m) => buf = &buf[m..],
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn echo_libc(n: usize) {
        let (mut client, mut server) = connections(1).pop().unwrap();
        let out = [0x5a_u8; MSG];
        let mut buf = [0u8; 4096];
        let before = ALLOCS.load(Ordering::Relaxed);
        let start = Instant::now();
        for _ in 0..n {
            write_all(&mut client, &out);
            libc_side(&mut server, &mut buf, true);
            libc_side(&mut client, &mut buf, false);
        }
        report("echo-libc", 1, n, start, ALLOCS.load(Ordering::Relaxed) - before);
    }

    fn libc_side(s: &mut TcpStream, buf: &mut [u8], echo: bool) {
        let mut got = 0;
        while got < MSG {
            match s.read(&mut buf[..MSG - got]) {
                Ok(0) => panic!("closed"),
                Ok(m) => {
                    if echo {
                        write_all(&mut *s, &buf[..m]);
                    }
                    got += m;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    let mut pfd = libc::pollfd {
                        fd: s.as_raw_fd(),
                        events: libc::POLLRDNORM,
                        revents: 0,
                    };
                    // SAFETY: one live pollfd of an open socket.
                    assert!(unsafe { libc::poll(&mut pfd, 1, -1) } >= 0);
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// `Selector::new` under a name that does not need the trait in scope.
    trait NewSelector {
        fn new_selector() -> Self;
    }
    impl NewSelector for Wasip2Selector {
        fn new_selector() -> Self {
            <Self as rouse::sys::Selector>::new().unwrap()
        }
    }

    pub fn main() {
        let args: Vec<String> = std::env::args().collect();
        let arg = |i: usize| args.get(i).and_then(|a| a.parse().ok());
        let (Some(k), Some(n)) = (arg(2), arg(3)) else {
            eprintln!("usage: pollcost rouse|libc|native|echo-rouse|echo-libc K N");
            std::process::exit(2);
        };
        match args[1].as_str() {
            "rouse" => rouse_polls(k, n),
            "libc" => libc_polls(k, n),
            "native" => native_polls(k, n),
            "echo-rouse" => echo_rouse(n),
            "echo-libc" => echo_libc(n),
            other => {
                eprintln!("unknown mode {other}");
                std::process::exit(2);
            }
        }
    }
}

#[cfg(all(target_os = "wasi", target_env = "p2"))]
fn main() {
    imp::main();
}

#[cfg(not(all(target_os = "wasi", target_env = "p2")))]
fn main() {
    eprintln!("build pollcost for wasm32-wasip2 and run it under wasmtime (see run.sh)");
    std::process::exit(2);
}
