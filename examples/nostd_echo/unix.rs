//! The Unix body of the `nostd_echo` example (see `examples/nostd_echo.rs`):
//! everything here runs with neither std nor alloc.

// `cargo test` builds examples with `panic = "unwind"` (it ignores the
// profile's "abort"), which needs std's unwinder: only then, or with the
// `std` feature, is std linked. `cargo build` links neither std nor alloc.
#[cfg(any(feature = "std", panic = "unwind"))]
extern crate std;

use core::mem;
use core::time::Duration;

use rouse::sys::{PollSelector, Selector};
use rouse::unix::SourceFd;
use rouse::{io, Events, Interest, Poll, Registry, Token};

/// Connections served at once; more are accepted and closed at once.
const MAX_CONNS: usize = 64;
/// Bytes read from a connection before they are all written back.
const BUF_SIZE: usize = 4096;
/// The listener's token; connection `i` uses `Token(i)`.
const LISTENER: Token = Token(MAX_CONNS);

/// poll(2) with a table entry for the listener and each connection.
type Backend = PollSelector<{ MAX_CONNS + 1 }>;

// Without std nothing links the C library for us (std does when it is
// linked; linking it twice is harmless).
#[link(name = "c")]
extern "C" {}

#[cfg(not(any(feature = "std", panic = "unwind")))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: abort takes no arguments and never returns.
    unsafe { libc::abort() }
}

/// The precompiled `core` is built with unwinding and refers to this
/// symbol, which only `std` defines (rust-lang/rust#56152). With
/// `panic = "abort"` nothing unwinds, so it is never called; if it ever
/// were, it aborts.
#[cfg(not(any(feature = "std", panic = "unwind")))]
#[no_mangle]
extern "C" fn rust_eh_personality() {
    // SAFETY: abort takes no arguments and never returns.
    unsafe { libc::abort() }
}

/// One client connection: its fd and the bytes read from it that are not
/// yet written back (`buf[start..end]`).
struct Conn {
    fd: libc::c_int,
    buf: [u8; BUF_SIZE],
    start: usize,
    end: usize,
}

/// What `drive` leaves a connection in.
enum State {
    Open,
    Closed,
}

#[no_mangle]
pub extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    let addr = match arg(argc, argv, 1) {
        None => Addr::DEFAULT,
        Some(text) => match Addr::parse(text) {
            Some(addr) => addr,
            None => {
                Line::new()
                    .str("usage: nostd_echo [a.b.c.d:port]\n")
                    .write_to(2);
                return 2;
            }
        },
    };
    match serve(addr) {
        Ok(()) => 0,
        Err(e) => {
            report("nostd_echo", &e);
            1
        }
    }
}

fn serve(addr: Addr) -> io::Result<()> {
    // A peer that closes while we write would otherwise kill the process
    // with SIGPIPE (std ignores it for its programs; this is not one).
    // SAFETY: installs the "ignore" disposition; no handler code runs.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };

    let listener = listen(addr)?;
    let addr = local_addr(listener)?;
    Line::new()
        .str("listening on ")
        .addr(addr)
        .str("\n")
        .write_to(1);

    let mut poll = Poll::with_selector(Backend::new()?);
    let mut events = Events::<Backend, 64>::new();
    poll.registry()
        .register(&mut SourceFd(&listener), LISTENER, Interest::READABLE)?;

    // `None` marks a free slot; slot `i` is the connection of `Token(i)`.
    const FREE: Option<Conn> = None;
    let mut conns: [Option<Conn>; MAX_CONNS] = [FREE; MAX_CONNS];
    // Whether `accept` failed and the listener is deregistered for now.
    let mut paused = false;

    loop {
        let timeout = if paused { Some(RETRY_ACCEPT) } else { None };
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // poll(2) could not allocate its table this time: the kernel
            // may have memory again in a moment.
            Err(e) if e.kind() == io::ErrorKind::OutOfMemory => {
                report("poll (retrying in 10 ms)", &e);
                // SAFETY: poll(2) with no fds only sleeps for the timeout.
                unsafe { libc::poll(core::ptr::null_mut(), 0, 10) };
                continue;
            }
            Err(e) => return Err(e),
        }
        // After a failed `accept`, try again once this poll has waited for
        // another event (a connection closing frees a descriptor) or for
        // RETRY_ACCEPT: never twice in a row without waiting.
        if paused {
            match poll
                .registry()
                .register(&mut SourceFd(&listener), LISTENER, Interest::READABLE)
            {
                Ok(()) => paused = false,
                Err(e) => report("registering the listener again (retrying later)", &e),
            }
        }
        for event in events.iter() {
            let token = event.token();
            if token == LISTENER {
                if !paused && !accept_all(poll.registry(), listener, &mut conns) {
                    // The listener stays readable while `accept` fails:
                    // no poll may report it until then.
                    let _ = poll.registry().deregister(&mut SourceFd(&listener));
                    paused = true;
                }
                continue;
            }
            let Some(slot) = conns.get_mut(token.0) else {
                continue;
            };
            let Some(conn) = slot else {
                continue; // closed earlier in this batch of events
            };
            if let State::Closed = drive(poll.registry(), token, conn) {
                // Deregister before closing: the fd number may be reused.
                let _ = poll.registry().deregister(&mut SourceFd(&conn.fd));
                close(conn.fd);
                *slot = None;
            }
        }
    }
}

/// How long the listener stays deregistered after `accept` failed, unless
/// another event comes first.
const RETRY_ACCEPT: Duration = Duration::from_millis(100);

/// Accepts every pending connection (until `EAGAIN`) into a free slot;
/// returns `false` if `accept` failed otherwise.
///
/// When `accept` fails with anything but `EAGAIN`, `EINTR` or
/// `ECONNABORTED` (out of descriptors, `EMFILE`; or memory), trying again
/// at once would fail again while the listener stays readable: a loop that
/// retried at every poll would spin. So the caller deregisters the
/// listener and registers it again only after a later poll has waited.
fn accept_all(
    registry: &Registry<Backend>,
    listener: libc::c_int,
    conns: &mut [Option<Conn>; MAX_CONNS],
) -> bool {
    loop {
        let fd = accept(listener);
        if fd < 0 {
            match errno() {
                libc::EINTR | libc::ECONNABORTED => continue,
                e if e == libc::EAGAIN || e == libc::EWOULDBLOCK => return true,
                e => {
                    report("accept (retrying later)", &os_error(e));
                    return false;
                }
            }
        }
        let Some(i) = conns.iter().position(Option::is_none) else {
            Line::new()
                .str("closed new connection: ")
                .num(MAX_CONNS as u32)
                .str(" connections already\n")
                .write_to(2);
            close(fd);
            continue;
        };
        // Registering watches READABLE at once, so bytes the client has
        // sent already are reported by the next poll.
        if let Err(e) = registry.register(&mut SourceFd(&fd), Token(i), Interest::READABLE) {
            report("closed new connection: register", &e);
            close(fd);
            continue;
        }
        conns[i] = Some(Conn {
            fd,
            buf: [0; BUF_SIZE],
            start: 0,
            end: 0,
        });
    }
}

/// Echoes until the connection would block, then watches it for what it
/// waits on: `WRITABLE` while unsent bytes are left (reading stops until
/// they are written), `READABLE` otherwise. A connection whose read, write
/// or re-registration fails is closed, and named on standard error.
fn drive(registry: &Registry<Backend>, token: Token, conn: &mut Conn) -> State {
    loop {
        // Write back what is buffered.
        while conn.start < conn.end {
            // `start < end <= BUF_SIZE` here; `get` keeps a panic path
            // (and its location data) out of the binary.
            let Some(unsent) = conn.buf.get(conn.start..conn.end) else {
                return State::Closed;
            };
            // SAFETY: `unsent` is initialized memory of `unsent.len()` bytes.
            let n = unsafe { libc::write(conn.fd, unsent.as_ptr().cast(), unsent.len()) };
            if n >= 0 {
                conn.start += n as usize;
                continue;
            }
            match errno() {
                libc::EINTR => {}
                e if e == libc::EAGAIN || e == libc::EWOULDBLOCK => {
                    return wait_for(registry, token, conn, Interest::WRITABLE);
                }
                e => return closed(token, &os_error(e)),
            }
        }
        conn.start = 0;
        conn.end = 0;

        // Nothing is buffered: read the next chunk.
        // SAFETY: `buf` is writable memory of `BUF_SIZE` bytes.
        let n = unsafe { libc::read(conn.fd, conn.buf.as_mut_ptr().cast(), BUF_SIZE) };
        if n > 0 {
            conn.end = n as usize;
            continue;
        }
        if n == 0 {
            return State::Closed; // the client closed, and has all its bytes
        }
        match errno() {
            libc::EINTR => {}
            e if e == libc::EAGAIN || e == libc::EWOULDBLOCK => {
                return wait_for(registry, token, conn, Interest::READABLE);
            }
            e => return closed(token, &os_error(e)),
        }
    }
}

/// Watches the connection for `interest` from now on.
fn wait_for(registry: &Registry<Backend>, token: Token, conn: &Conn, interest: Interest) -> State {
    match registry.reregister(&mut SourceFd(&conn.fd), token, interest) {
        Ok(()) => State::Open,
        Err(e) => closed(token, &e),
    }
}

/// Says that connection `token` is closed because of `e`.
fn closed(token: Token, e: &io::Error) -> State {
    Line::new()
        .str("closed connection ")
        .num(token.0 as u32)
        .str(": ")
        .error(e)
        .str("\n")
        .write_to(2);
    State::Closed
}

/// Accepts a connection as a nonblocking, close-on-exec socket: its fd, or
/// -1 with `errno` set.
#[cfg(not(target_vendor = "apple"))]
fn accept(listener: libc::c_int) -> libc::c_int {
    // SAFETY: `listener` is an open listening socket; null address
    // pointers are allowed when the peer address is not wanted.
    unsafe {
        libc::accept4(
            listener,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    }
}

/// Accepts a connection as a nonblocking, close-on-exec socket: its fd, or
/// -1 with `errno` set. (Apple's systems have no `accept4`.)
#[cfg(target_vendor = "apple")]
fn accept(listener: libc::c_int) -> libc::c_int {
    // SAFETY: as for accept4 above, without the flags.
    let fd = unsafe { libc::accept(listener, core::ptr::null_mut(), core::ptr::null_mut()) };
    if fd >= 0 && set_nonblocking_cloexec(fd).is_err() {
        close(fd); // a successful close leaves errno as fcntl set it
        return -1;
    }
    fd
}

/// Makes `fd` nonblocking and close-on-exec.
#[cfg(target_vendor = "apple")]
fn set_nonblocking_cloexec(fd: libc::c_int) -> io::Result<()> {
    // SAFETY: F_GETFL only reads the flags of the open fd `fd`.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: F_SETFL takes an int of status flags; it changes only `fd`.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    // SAFETY: F_SETFD takes an int of fd flags; it changes only `fd`.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) })?;
    Ok(())
}

/// A nonblocking TCP socket listening on `addr`.
fn listen(addr: Addr) -> io::Result<libc::c_int> {
    let fd = new_socket()?;
    match bind_and_listen(fd, addr) {
        Ok(()) => Ok(fd),
        Err(e) => {
            close(fd);
            Err(e)
        }
    }
}

/// A new TCP socket, nonblocking and close-on-exec (both set atomically).
#[cfg(not(target_vendor = "apple"))]
fn new_socket() -> io::Result<libc::c_int> {
    let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: plain socket creation.
    cvt(unsafe { libc::socket(libc::AF_INET, ty, 0) })
}

/// A new TCP socket, nonblocking and close-on-exec. (Apple's `socket`
/// takes no flags: they are set after.)
#[cfg(target_vendor = "apple")]
fn new_socket() -> io::Result<libc::c_int> {
    // SAFETY: plain socket creation.
    let fd = cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) })?;
    if let Err(e) = set_nonblocking_cloexec(fd) {
        close(fd);
        return Err(e);
    }
    Ok(fd)
}

fn bind_and_listen(fd: libc::c_int, addr: Addr) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: `one` is a c_int as SO_REUSEADDR expects, passed with its size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
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
            fd,
            (&sin as *const libc::sockaddr_in).cast(),
            mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    })?;
    // SAFETY: `fd` is a bound stream socket.
    cvt(unsafe { libc::listen(fd, 1024) })?;
    Ok(())
}

/// The address `fd` is bound to (the real port when 0 was asked for).
fn local_addr(fd: libc::c_int) -> io::Result<Addr> {
    // SAFETY: sockaddr_in is plain old data; all zeroes is a valid value.
    let mut sin: libc::sockaddr_in = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `sin` and `len` are valid for writes and `len` is its size.
    let ret =
        unsafe { libc::getsockname(fd, (&mut sin as *mut libc::sockaddr_in).cast(), &mut len) };
    if ret < 0 {
        return Err(last_error());
    }
    Ok(Addr {
        ip: u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
        port: u16::from_be(sin.sin_port),
    })
}

fn close(fd: libc::c_int) {
    // SAFETY: `fd` is open and owned by the caller, who does not use it again.
    unsafe { libc::close(fd) };
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

    /// Parses `a.b.c.d:port`: five decimal fields of 1 to 5 digits, in one
    /// pass over the bytes (smaller than splitting them).
    fn parse(text: &[u8]) -> Option<Addr> {
        let mut fields = [0u32; 5];
        let (mut i, mut digits) = (0, 0);
        for &b in text {
            match b {
                b'0'..=b'9' if digits < 5 => {
                    let field = fields.get_mut(i)?;
                    *field = *field * 10 + u32::from(b - b'0');
                    digits += 1;
                }
                b'.' if i < 3 && digits > 0 => (i, digits) = (i + 1, 0),
                b':' if i == 3 && digits > 0 => (i, digits) = (i + 1, 0),
                _ => return None,
            }
        }
        if i != 4 || digits == 0 {
            return None;
        }
        let [a, b, c, d, port] = fields;
        let byte = |n: u32| u8::try_from(n).ok();
        Some(Addr {
            ip: [byte(a)?, byte(b)?, byte(c)?, byte(d)?],
            port: u16::try_from(port).ok()?,
        })
    }

    fn to_sockaddr(self) -> libc::sockaddr_in {
        // SAFETY: sockaddr_in is plain old data; all zeroes is a valid value
        // (it zeroes the padding, and on the BSDs `sin_len`, which the
        // kernel takes from the length argument).
        let mut sin: libc::sockaddr_in = unsafe { mem::zeroed() };
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_port = self.port.to_be();
        sin.sin_addr.s_addr = u32::from_be_bytes(self.ip).to_be();
        sin
    }
}

/// Prints `what: ERROR` to standard error.
fn report(what: &str, e: &io::Error) {
    Line::new()
        .str(what)
        .str(": ")
        .error(e)
        .str("\n")
        .write_to(2);
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

/// A line of output built in a fixed buffer (too long: cut short), with
/// no `core::fmt`: formatting numbers and errors through `core::fmt` would
/// be most of this program's code.
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

    /// Appends `s`, or as much of it as fits.
    fn str(&mut self, s: &str) -> &mut Line {
        self.bytes(s.as_bytes())
    }

    // One copy of this, not one per call site. No indexing that could
    // panic: a panic site costs its code, a location and its relocation.
    #[inline(never)]
    fn bytes(&mut self, bytes: &[u8]) -> &mut Line {
        let free = self.buf.get_mut(self.len..).unwrap_or_default();
        let n = bytes.len().min(free.len());
        for (slot, &byte) in free.iter_mut().zip(bytes) {
            *slot = byte;
        }
        self.len += n;
        self
    }

    /// Appends `n` in decimal.
    fn num(&mut self, mut n: u32) -> &mut Line {
        let mut digits = [0u8; 10];
        let mut start = digits.len();
        for slot in digits.iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
            start -= 1;
            if n == 0 {
                break;
            }
        }
        self.bytes(digits.get(start..).unwrap_or_default())
    }

    /// Appends `a.b.c.d:port`.
    fn addr(&mut self, addr: Addr) -> &mut Line {
        for (i, byte) in addr.ip.into_iter().enumerate() {
            if i > 0 {
                self.str(".");
            }
            self.num(u32::from(byte));
        }
        self.str(":").num(u32::from(addr.port))
    }

    /// Appends `os error N` for an OS error (the `errno`), or what
    /// rouse's own error means (this program can meet few of them).
    fn error(&mut self, e: &io::Error) -> &mut Line {
        match e.raw_os_error() {
            Some(code) => self.str("os error ").num(code as u32),
            None => self.str(match e.kind() {
                io::ErrorKind::NotFound => "not registered",
                io::ErrorKind::AlreadyExists => "already registered",
                _ => "no room in the table, or a bad argument",
            }),
        }
    }

    /// Writes the line to `fd` in one `write`, so it arrives whole.
    fn write_to(&self, fd: libc::c_int) {
        // SAFETY: `buf[..len]` is initialized memory of `len` bytes.
        unsafe { libc::write(fd, self.buf.as_ptr().cast(), self.len) };
    }
}

fn os_error(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

fn last_error() -> io::Error {
    os_error(errno())
}

/// Turns a `-1` return into the `errno` error.
fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(last_error())
    } else {
        Ok(ret)
    }
}

/// The calling thread's `errno`.
fn errno() -> i32 {
    // SAFETY: always callable; returns the calling thread's errno slot,
    // valid for the thread's whole life.
    unsafe { *errno_location() }
}

#[cfg(any(target_os = "android", target_os = "netbsd", target_os = "openbsd"))]
use libc::__errno as errno_location;
#[cfg(any(target_os = "linux", target_os = "dragonfly"))]
use libc::__errno_location as errno_location;
#[cfg(not(any(
    target_os = "linux",
    target_os = "dragonfly",
    target_os = "android",
    target_os = "netbsd",
    target_os = "openbsd"
)))]
use libc::__error as errno_location;
