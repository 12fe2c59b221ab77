//! A TCP echo server with no `std`, no `alloc` and no allocator, on an
//! executor made for embedded use: `embassy-executor` through its raw API,
//! with rouse's [`Reactor`] on poll(2) as the reactor.
//!
//! ```text
//! cd examples/embassy_echo && cargo run -- 127.0.0.1:9000
//! ```
//!
//! Prints `listening on ADDR`, then echoes up to [`MAX_CONNS`] connections
//! at once until each closes.
//!
//! The wiring, all of it here:
//! * The executor's pender (the function it calls when a task is woken or
//!   spawned) calls the reactor's [`Notify`]: a blocked turn returns, and
//!   a turn about to start does not wait.
//! * `main` alternates `executor.poll()` (runs the woken tasks) with
//!   `reactor.turn(None)` (waits for readiness or the nearest timer and
//!   wakes the tasks that can go on).
//! * Sockets are libc fds in [`Fd`], which implements rouse's `Source`,
//!   `TryRead` and `TryWrite`; `Async<Fd>` gives `embedded_io_async::Read`
//!   and `Write`. A raw fd on poll(2) must be re-armed after `EAGAIN`:
//!   `Fd::REARM` tells `Async` to (rouse's own net types re-arm
//!   themselves).
//! * The reactor and the executor live in `StaticCell`s: tasks are
//!   `'static`, so what they borrow must be too.
#![no_std]
#![no_main]

// `cargo test` would build this with unwinding, which needs std.
#[cfg(panic = "unwind")]
extern crate std;

use core::mem;
use core::time::Duration;

use embassy_executor::{raw, Spawner};
use embedded_io_async::{Read, Write};
use rouse::event::Source;
use rouse::registration::{Async, Notify, Reactor, TryRead, TryWrite};
use rouse::sys::{PollSelector, Selector};
use rouse::unix::SourceFd;
use rouse::{io, Interest, Poll, Registry, Token};
use static_cell::StaticCell;

/// Connections served at once (the size of the connection task pool).
const MAX_CONNS: usize = 32;
/// Registrations: the listener and the connections.
const SLOTS: usize = MAX_CONNS + 1;
/// Timers: the accept loop's back-off.
const TIMERS: usize = 2;
/// How long the accept loop waits after an error other than `EAGAIN`.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

type Backend = PollSelector<SLOTS>;
type EchoReactor = Reactor<Backend, SLOTS, TIMERS>;
type Socket = Async<'static, Fd, Backend, SLOTS, TIMERS>;

static REACTOR: StaticCell<EchoReactor> = StaticCell::new();
static EXECUTOR: StaticCell<raw::Executor> = StaticCell::new();

// Without std nothing links the C library for us.
#[link(name = "c")]
extern "C" {}

#[cfg(not(panic = "unwind"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: abort takes no arguments and never returns.
    unsafe { libc::abort() }
}

/// The precompiled `core` refers to this symbol, which only `std` defines
/// (rust-lang/rust#56152); with `panic = "abort"` it is never called.
#[cfg(not(panic = "unwind"))]
#[no_mangle]
extern "C" fn rust_eh_personality() {
    // SAFETY: abort takes no arguments and never returns.
    unsafe { libc::abort() }
}

/// The executor calls this when it has work: a task was spawned or woken.
/// `context` is the reactor's `Notify` (see `main`).
#[export_name = "__pender"]
fn pender(context: *mut ()) {
    // SAFETY: `main` passes a pointer to the `Notify` of the reactor in
    // `REACTOR`, a `&'static` that is never dropped; `Notify` is `Sync`.
    let notify = unsafe { &*(context as *const Notify<Backend>) };
    // A failed wake still leaves the notify recorded for the next turn.
    let _ = notify.notify();
}

/// An owned socket fd: closed on drop.
struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the fd is open and owned by this `Fd` alone.
        unsafe { libc::close(self.0) };
    }
}

impl<S: Selector<Raw = libc::c_int>> Source<S> for Fd {
    fn register(&mut self, r: &Registry<S>, t: Token, i: Interest) -> io::Result<()> {
        SourceFd(&self.0).register(r, t, i)
    }
    fn reregister(&mut self, r: &Registry<S>, t: Token, i: Interest) -> io::Result<()> {
        SourceFd(&self.0).reregister(r, t, i)
    }
    fn deregister(&mut self, r: &Registry<S>) -> io::Result<()> {
        SourceFd(&self.0).deregister(r)
    }
}

impl TryRead for Fd {
    const REARM: bool = true;
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is writable memory of `buf.len()` bytes.
        let n = unsafe { libc::read(self.0, buf.as_mut_ptr().cast(), buf.len()) };
        usize::try_from(n).map_err(|_| last_error())
    }
}

impl TryWrite for Fd {
    const REARM: bool = true;
    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: `buf` is initialized memory of `buf.len()` bytes.
        let n = unsafe { libc::write(self.0, buf.as_ptr().cast(), buf.len()) };
        usize::try_from(n).map_err(|_| last_error())
    }
}

#[no_mangle]
pub extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    let addr = match arg(argc, argv, 1) {
        None => Addr::DEFAULT,
        Some(text) => match Addr::parse(text) {
            Some(addr) => addr,
            None => {
                Line::new()
                    .str("usage: embassy_echo [a.b.c.d:port]\n")
                    .write_to(2);
                return 2;
            }
        },
    };
    match serve(addr) {
        Ok(()) => 0,
        Err(e) => {
            Line::new()
                .str("embassy_echo: ")
                .error(&e)
                .str("\n")
                .write_to(2);
            1
        }
    }
}

fn serve(addr: Addr) -> io::Result<()> {
    // A peer that closes while we write would otherwise kill the process
    // with SIGPIPE.
    // SAFETY: installs the "ignore" disposition; no handler code runs.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };

    let listener = listen(addr)?;
    Line::new()
        .str("listening on ")
        .addr(local_addr(&listener)?)
        .str("\n")
        .write_to(1);

    let reactor: &'static EchoReactor =
        REACTOR.init(Reactor::with_poll(Poll::with_selector(Backend::new()?))?);
    let notify: *const Notify<Backend> = reactor.notify();
    let executor: &'static raw::Executor = EXECUTOR.init(raw::Executor::new(notify as *mut ()));
    let spawner = executor.spawner();
    let listener = Async::new(reactor, listener)?;
    match accept_loop(spawner, listener) {
        Ok(token) => spawner.spawn(token),
        Err(_) => unreachable!("the accept task's pool has room for it"),
    }
    loop {
        // SAFETY: `poll` runs only here, never from inside itself: the
        // pender only notifies the reactor.
        unsafe { executor.poll() };
        match reactor.turn(None) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[embassy_executor::task]
async fn accept_loop(spawner: Spawner, mut listener: Socket) {
    let reactor = listener.reactor();
    loop {
        match listener.read_with_rearm(accept).await {
            Ok(fd) => match Async::new(reactor, fd) {
                Ok(conn) => match echo(conn) {
                    Ok(token) => spawner.spawn(token),
                    // The pool is full: the connection is dropped (closed).
                    Err(_) => Line::new()
                        .str("too many connections; closing one\n")
                        .write_to(2),
                },
                Err(e) => Line::new()
                    .str("register: ")
                    .error(&e)
                    .str("\n")
                    .write_to(2),
            },
            Err(e) => {
                // EMFILE and the like: the listener stays ready, so wait
                // rather than fail again at once without yielding.
                Line::new()
                    .str("accept failed: ")
                    .error(&e)
                    .str("\n")
                    .write_to(2);
                match reactor.sleep(ACCEPT_BACKOFF) {
                    Ok(sleep) => sleep.await,
                    Err(_) => return,
                }
            }
        }
    }
}

#[embassy_executor::task(pool_size = MAX_CONNS)]
async fn echo(mut conn: Socket) {
    let mut buf = [0u8; 4096];
    loop {
        match Read::read(&mut conn, &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if Write::write_all(&mut conn, &buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    // Dropping `conn` deregisters the fd, then closes it.
}

/// Accepts a connection as a nonblocking, close-on-exec socket.
fn accept(listener: &Fd) -> io::Result<Fd> {
    // SAFETY: `listener` is an open listening socket; null address
    // pointers are allowed when the peer address is not wanted.
    let fd = unsafe {
        libc::accept4(
            listener.0,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        Err(last_error())
    } else {
        Ok(Fd(fd))
    }
}

/// A nonblocking TCP socket listening on `addr`.
fn listen(addr: Addr) -> io::Result<Fd> {
    let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: plain socket creation.
    let fd = Fd(cvt(unsafe { libc::socket(libc::AF_INET, ty, 0) })?);
    let one: libc::c_int = 1;
    // SAFETY: `one` is a c_int as SO_REUSEADDR expects, passed with its size.
    cvt(unsafe {
        libc::setsockopt(
            fd.0,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    let sin = addr.to_sockaddr();
    // SAFETY: `sin` is a sockaddr_in, passed with its size.
    cvt(unsafe {
        libc::bind(
            fd.0,
            (&sin as *const libc::sockaddr_in).cast(),
            mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    })?;
    // SAFETY: `fd` is a bound stream socket.
    cvt(unsafe { libc::listen(fd.0, 1024) })?;
    Ok(fd)
}

/// The address `fd` is bound to (the real port when 0 was asked for).
fn local_addr(fd: &Fd) -> io::Result<Addr> {
    // SAFETY: sockaddr_in is plain old data; all zeroes is a valid value.
    let mut sin: libc::sockaddr_in = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `sin` and `len` are valid for writes and `len` is its size.
    cvt(unsafe { libc::getsockname(fd.0, (&mut sin as *mut libc::sockaddr_in).cast(), &mut len) })?;
    Ok(Addr {
        ip: u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
        port: u16::from_be(sin.sin_port),
    })
}

/// An IPv4 socket address, parsed and printed without `std`.
#[derive(Copy, Clone)]
struct Addr {
    ip: [u8; 4],
    port: u16,
}

impl Addr {
    const DEFAULT: Addr = Addr {
        ip: [127, 0, 0, 1],
        port: 9000,
    };

    /// Parses `a.b.c.d:port`.
    fn parse(text: &[u8]) -> Option<Addr> {
        let colon = text.iter().rposition(|&b| b == b':')?;
        let (host, port) = (&text[..colon], &text[colon + 1..]);
        let mut ip = [0u8; 4];
        let mut parts = host.split(|&b| b == b'.');
        for byte in &mut ip {
            *byte = u8::try_from(decimal(parts.next()?)?).ok()?;
        }
        if parts.next().is_some() {
            return None;
        }
        Some(Addr {
            ip,
            port: u16::try_from(decimal(port)?).ok()?,
        })
    }

    fn to_sockaddr(self) -> libc::sockaddr_in {
        // SAFETY: sockaddr_in is plain old data; all zeroes is a valid value.
        let mut sin: libc::sockaddr_in = unsafe { mem::zeroed() };
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_port = self.port.to_be();
        sin.sin_addr.s_addr = u32::from_be_bytes(self.ip).to_be();
        sin
    }
}

/// A decimal number of 1 to 5 digits.
fn decimal(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    digits.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// Command-line argument `i`, as bytes without the NUL.
fn arg(argc: libc::c_int, argv: *const *const libc::c_char, i: usize) -> Option<&'static [u8]> {
    if i >= usize::try_from(argc).ok()? {
        return None;
    }
    // SAFETY: the C runtime passes `argc` valid pointers in `argv`, each to
    // a NUL-terminated string that lives as long as the program.
    unsafe { Some(core::ffi::CStr::from_ptr(*argv.add(i)).to_bytes()) }
}

/// A line of output in a fixed buffer (too long: cut short).
struct Line {
    buf: [u8; 128],
    len: usize,
}

impl Line {
    fn new() -> Line {
        Line {
            buf: [0; 128],
            len: 0,
        }
    }

    fn str(&mut self, s: &str) -> &mut Line {
        let free = &mut self.buf[self.len..];
        let n = s.len().min(free.len());
        free[..n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        self
    }

    fn num(&mut self, mut n: u32) -> &mut Line {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.str(core::str::from_utf8(&digits[i..]).unwrap_or("?"))
    }

    fn addr(&mut self, addr: Addr) -> &mut Line {
        for (i, byte) in addr.ip.into_iter().enumerate() {
            if i > 0 {
                self.str(".");
            }
            self.num(u32::from(byte));
        }
        self.str(":").num(u32::from(addr.port))
    }

    fn error(&mut self, e: &io::Error) -> &mut Line {
        use core::fmt::Write as _;
        let _ = write!(self, "{e}");
        self
    }

    /// Writes the line to `fd` in one `write`, so it arrives whole.
    fn write_to(&self, fd: libc::c_int) {
        // SAFETY: `buf[..len]` is initialized memory of `len` bytes.
        unsafe { libc::write(fd, self.buf.as_ptr().cast(), self.len) };
    }
}

impl core::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.str(s);
        Ok(())
    }
}

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(last_error())
    } else {
        Ok(ret)
    }
}

fn last_error() -> io::Error {
    // SAFETY: the calling thread's errno slot is valid for its whole life.
    io::Error::from_raw_os_error(unsafe { *libc::__errno_location() })
}
