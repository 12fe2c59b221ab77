//! Soak: an echo server (the loop of examples/tcp_echo.rs, generic over the
//! backend) against 256 concurrent clients sending 1 MiB each, round after
//! round for a bounded time, on each host backend: epoll, poll(2), and
//! `AutoSelector` in both modes. Afterwards every byte came back in order,
//! the process has as many open fds as before, and the server's token table
//! is empty (every slot can be registered again).
//!
//! Ignored by default (it moves gigabytes); `ci/soak [SECONDS]` runs it in
//! release mode:
//!
//! ```text
//! ROUSE_SOAK_SECS=30 cargo test --release --test soak -- --ignored --nocapture
//! ```
//!
//! `ROUSE_SOAK_SECS` is the time per backend (default 10); a round that has
//! started always finishes, and each backend runs at least one. The
//! backends run one at a time (the fd counts are per process).
#![cfg(all(
    target_os = "linux",
    feature = "net",
    feature = "epoll",
    feature = "poll"
))]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rouse::net::{TcpListener, TcpStream};
use rouse::sys::{AutoSelector, EpollSelector, PollSelector, Selector};
use rouse::unix::SourceFd;
use rouse::{Events, Interest, Poll, Registry, Token, Waker};

const CLIENTS: usize = 256;
const BYTES: usize = 1 << 20;
/// The table size of the poll(2) backends: room for every connection.
const CAPACITY: usize = 512;

/// The backends run one after another: the fd count is per process.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

// --- the server: examples/tcp_echo.rs's loop, generic over the backend ---

// The example's connection code itself, not a copy.
#[path = "../examples/tcp_echo/conn.rs"]
mod conn;
use conn::{Conn, Status};

const LISTENER: Token = Token(usize::MAX - 1);
/// Woken by the test when every client is done.
const STOP: Token = Token(usize::MAX - 2);

/// Serves until woken; returns how many connections it served. Every
/// connection must be closed by then (each client has its echo back).
fn serve<S: Selector<Raw = RawFd>>(
    poll: &mut Poll<S>,
    listener: &mut TcpListener,
) -> io::Result<usize> {
    let mut events = Events::<S, 256>::new();
    poll.registry()
        .register(listener, LISTENER, Interest::READABLE)?;
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut served = 0;
    loop {
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            if event.token() == STOP {
                poll.registry().deregister(listener)?;
                let open = conns.iter().filter(|c| c.is_some()).count();
                if open != 0 {
                    return Err(io::Error::other(format!("{open} connections open at stop")));
                }
                return Ok(served);
            }
            if event.token() == LISTENER {
                served += accept_all(listener, poll.registry(), &mut conns)?;
                continue;
            }
            let token = event.token();
            let Some(slot) = conns.get_mut(token.0) else {
                return Err(io::Error::other(format!("event for unknown {token:?}")));
            };
            let Some(conn) = slot else {
                continue;
            };
            match conn.echo(poll.registry(), token)? {
                Status::Open => {}
                Status::Closed => close(poll.registry(), slot)?,
            }
        }
    }
}

fn accept_all<S: Selector<Raw = RawFd>>(
    listener: &TcpListener,
    registry: &Registry<S>,
    conns: &mut Vec<Option<Conn>>,
) -> io::Result<usize> {
    let mut accepted = 0;
    loop {
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(accepted),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let i = match conns.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                conns.push(None);
                conns.len() - 1
            }
        };
        registry.register(&mut stream, Token(i), Interest::READABLE)?;
        conns[i] = Some(Conn::new(stream));
        accepted += 1;
    }
}

fn close<S: Selector<Raw = RawFd>>(
    registry: &Registry<S>,
    slot: &mut Option<Conn>,
) -> io::Result<()> {
    match slot.take() {
        Some(mut conn) => registry.deregister(&mut conn.stream),
        None => Ok(()),
    }
}

// --- the clients: one thread, epoll, every byte checked ---

/// Byte `at` of client `id`'s stream in round `round`: a hash, so a byte
/// that is lost, repeated, reordered or crosses streams does not match.
fn byte(round: u64, id: usize, at: usize) -> u8 {
    let x = (at as u64 ^ (id as u64) << 40 ^ round << 52).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x >> 56) as u8
}

struct Client {
    stream: Option<TcpStream>,
    sent: usize,
    received: usize,
}

/// One round: CLIENTS connections each send BYTES and read them back,
/// checking each byte; returns the bytes echoed.
fn clients(addr: SocketAddr, round: u64) -> usize {
    let mut poll = Poll::new().expect("client poll");
    let mut events = Events::with_capacity(256);
    let mut all: Vec<Client> = (0..CLIENTS)
        .map(|i| {
            let mut stream = TcpStream::connect(addr).expect("connect");
            poll.registry()
                .register(
                    &mut stream,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .expect("register client");
            Client {
                stream: Some(stream),
                sent: 0,
                received: 0,
            }
        })
        .collect();
    let mut done = 0;
    let mut out = vec![0u8; 64 * 1024];
    let mut inbuf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(300);
    while done < CLIENTS {
        assert!(Instant::now() < deadline, "round {round}: clients stuck");
        poll.poll(&mut events, Some(Duration::from_secs(10)))
            .expect("client poll");
        for ev in events.iter() {
            let id = ev.token().0;
            let c = &mut all[id];
            let Some(stream) = &mut c.stream else {
                continue;
            };
            // Send until the socket is full or all is sent.
            while c.sent < BYTES {
                let n = (BYTES - c.sent).min(out.len());
                for (k, b) in out[..n].iter_mut().enumerate() {
                    *b = byte(round, id, c.sent + k);
                }
                match stream.write(&out[..n]) {
                    Ok(k) => {
                        c.sent += k;
                        if c.sent == BYTES {
                            stream.shutdown(Shutdown::Write).expect("shutdown");
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("client {id} write: {e}"),
                }
            }
            // Read and check until it would block, or end-of-file.
            loop {
                match stream.read(&mut inbuf) {
                    Ok(0) => {
                        assert_eq!(c.received, BYTES, "client {id}: early end-of-file");
                        poll.registry().deregister(stream).expect("deregister");
                        c.stream = None;
                        done += 1;
                        break;
                    }
                    Ok(k) => {
                        for (j, b) in inbuf[..k].iter().enumerate() {
                            let at = c.received + j;
                            assert!(at < BYTES, "client {id}: more bytes than sent");
                            assert_eq!(*b, byte(round, id, at), "client {id}: byte {at}");
                        }
                        c.received += k;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("client {id} read: {e}"),
                }
            }
        }
    }
    CLIENTS * BYTES
}

// --- the test ---

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

fn soak_secs() -> u64 {
    std::env::var("ROUSE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

fn soak<S: Selector<Raw = RawFd> + Send + 'static>(name: &str, make: fn() -> io::Result<S>) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let fds_before = open_fds();
    let start = Instant::now();
    let mut poll = Poll::with_selector(make().expect("selector"));
    let waker = Waker::new(poll.registry(), STOP).expect("waker");
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let addr = listener.local_addr().unwrap();

    let (poll, mut listener, served, rounds, echoed) = std::thread::scope(|s| {
        let server = s.spawn(move || {
            let served = serve(&mut poll, &mut listener);
            (poll, listener, served)
        });
        let mut rounds = 0u64;
        let mut echoed = 0usize;
        while rounds == 0 || start.elapsed() < Duration::from_secs(soak_secs()) {
            echoed += clients(addr, rounds);
            rounds += 1;
        }
        waker.wake().expect("wake");
        let (poll, listener, served) = server.join().expect("server thread");
        let served = served.unwrap_or_else(|e| panic!("[{name}] server: {e}"));
        (poll, listener, served, rounds, echoed)
    });
    assert_eq!(served, rounds as usize * CLIENTS, "[{name}] connections");

    // The table is empty: every slot takes a new registration (a leftover
    // entry would make one fail, full or already registered).
    if let Some(cap) = S::CAPACITY {
        let pairs: Vec<_> = (0..cap)
            .map(|_| {
                std::os::unix::net::UnixStream::pair()
                    .expect("socketpair")
                    .0
            })
            .collect();
        for (i, a) in pairs.iter().enumerate() {
            poll.registry()
                .register(&mut SourceFd(&a.as_raw_fd()), Token(i), Interest::READABLE)
                .unwrap_or_else(|e| panic!("[{name}] slot {i} of {cap} after the soak: {e}"));
        }
        for a in &pairs {
            poll.registry()
                .deregister(&mut SourceFd(&a.as_raw_fd()))
                .expect("deregister");
        }
    }
    // And the listener can be registered again: it was deregistered.
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .unwrap_or_else(|e| panic!("[{name}] listener after the soak: {e}"));
    drop((poll, listener, waker));

    let fds_after = open_fds();
    let secs = start.elapsed().as_secs_f64();
    let table = match S::CAPACITY {
        Some(cap) => format!("table empty ({cap} of {cap} slots free)"),
        None => "no table (the kernel keeps registrations)".to_string(),
    };
    println!(
        "soak {name}: {rounds} rounds, {served} connections, {} MiB echoed in order in {secs:.1}s \
         ({:.0} MiB/s); fds {fds_before} before, {fds_after} after; {table}",
        echoed >> 20,
        (echoed >> 20) as f64 / secs
    );
    assert_eq!(fds_before, fds_after, "[{name}] fds leaked");
}

#[test]
#[ignore = "long: run by ci/soak"]
fn soak_epoll() {
    soak("epoll", EpollSelector::new);
}

#[test]
#[ignore = "long: run by ci/soak"]
fn soak_poll() {
    soak("poll", PollSelector::<CAPACITY>::new);
}

#[test]
#[ignore = "long: run by ci/soak"]
fn soak_auto_epoll() {
    soak("auto-epoll", AutoSelector::<CAPACITY>::new);
}

#[test]
#[ignore = "long: run by ci/soak"]
fn soak_auto_poll() {
    soak("auto-poll", AutoSelector::<CAPACITY>::new_poll);
}
