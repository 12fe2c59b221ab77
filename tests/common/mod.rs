//! Shared helpers for the behaviour tests: every test is a generic function
//! over the selector, and `backend_tests!` instantiates it once per backend
//! compiled into this build, so one `cargo test` runs each test on all.
#![allow(dead_code, unused_macros, unused_imports)]

#[cfg(not(windows))]
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use rouse::event::Event;
use rouse::sys::Selector;
use rouse::{Events, Poll, Token};

/// The OS handle the tests' selectors take: a Unix fd, a Windows socket.
#[cfg(not(windows))]
pub type RawHandle = RawFd;
/// The OS handle the tests' selectors take: a Unix fd, a Windows socket.
#[cfg(windows)]
pub type RawHandle = std::os::windows::io::RawSocket;

/// The selectors the tests run on: Unix fds (Windows sockets), usable
/// across threads.
pub trait Backend: Selector<Raw = RawHandle> + 'static {
    /// A short name for messages.
    const NAME: &'static str;
}

#[cfg(all(feature = "epoll", any(target_os = "linux", target_os = "android")))]
impl Backend for rouse::sys::EpollSelector {
    const NAME: &'static str = "epoll";
}

#[cfg(all(
    feature = "kqueue",
    any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    )
))]
impl Backend for rouse::sys::KqueueSelector {
    const NAME: &'static str = "kqueue";
}

#[cfg(all(feature = "poll", unix))]
impl<const N: usize> Backend for rouse::sys::PollSelector<N> {
    const NAME: &'static str = "poll";
}

#[cfg(all(
    feature = "epoll",
    feature = "poll",
    any(target_os = "linux", target_os = "android")
))]
pub use self::auto_mode::{AutoEpoll, AutoPoll};

/// `AutoSelector` in each of its modes, as types of their own so the
/// generic tests can name them and each has its mode's `CAPACITY` (the
/// tests read it to tell table backends from kernel ones; `AutoSelector`'s
/// own is its fallback table's). Every call goes to the `AutoSelector`;
/// events are copied out of its records (no unsafe). The `ENOSYS` fallback
/// of `new()` itself is tested in tests/auto.rs under seccomp.
#[cfg(all(
    feature = "epoll",
    feature = "poll",
    any(target_os = "linux", target_os = "android")
))]
mod auto_mode {
    use std::time::Duration;

    use rouse::event::Event;
    use rouse::sys::auto::{AutoEvent, AutoWaker};
    use rouse::sys::{AutoSelector, Selector};
    use rouse::{io, Interest, Token};

    type Inner = AutoSelector<{ super::POLL_CAPACITY }>;

    /// `AutoSelector<POLL_CAPACITY>` as `new()` makes it on the kernels the
    /// tests run on: epoll.
    pub type AutoEpoll = AutoMode<true>;
    /// `AutoSelector<POLL_CAPACITY>` forced into poll(2) by `new_poll()`.
    pub type AutoPoll = AutoMode<false>;

    /// `AutoSelector<POLL_CAPACITY>` in epoll mode (`EPOLL`) or poll(2) mode.
    #[derive(Debug)]
    pub struct AutoMode<const EPOLL: bool>(Inner);

    impl<const EPOLL: bool> super::Backend for AutoMode<EPOLL> {
        const NAME: &'static str = if EPOLL { "auto-epoll" } else { "auto-poll" };
    }

    impl<const EPOLL: bool> Selector for AutoMode<EPOLL> {
        type Raw = libc::c_int;
        type Event = AutoEvent;
        type Waker = AutoWaker;
        const CAPACITY: Option<usize> = if EPOLL { None } else { Inner::CAPACITY };

        fn new() -> io::Result<Self> {
            let inner = if EPOLL {
                Inner::new()?
            } else {
                Inner::new_poll()?
            };
            assert_eq!(inner.is_epoll(), EPOLL, "{inner:?}");
            Ok(AutoMode(inner))
        }
        fn try_clone(&self) -> io::Result<Self> {
            self.0.try_clone().map(AutoMode)
        }
        fn register(&self, fd: libc::c_int, token: Token, interests: Interest) -> io::Result<()> {
            self.0.register(fd, token, interests)
        }
        fn reregister(&self, fd: libc::c_int, token: Token, interests: Interest) -> io::Result<()> {
            self.0.reregister(fd, token, interests)
        }
        fn deregister(&self, fd: libc::c_int) -> io::Result<()> {
            self.0.deregister(fd)
        }
        fn select(
            &self,
            events: &mut [Event<Self>],
            timeout: Option<Duration>,
        ) -> io::Result<usize> {
            let mut buf = [Event::<Inner>::default(); 128];
            let room = events.len().min(buf.len());
            let n = self.0.select(&mut buf[..room], timeout)?;
            for (dst, src) in events.iter_mut().zip(&buf[..n]) {
                *dst = Event::from_raw(*src.raw());
            }
            Ok(n)
        }
        fn new_waker(&self, token: Token) -> io::Result<AutoWaker> {
            self.0.new_waker(token)
        }
        fn wake(waker: &AutoWaker) -> io::Result<()> {
            Inner::wake(waker)
        }
        #[cfg(feature = "std")]
        fn register_armed(
            &self,
            fd: libc::c_int,
            token: Token,
            interests: Interest,
        ) -> io::Result<Option<rouse::sys::Arm>> {
            self.0.register_armed(fd, token, interests)
        }
        #[cfg(feature = "std")]
        fn reregister_armed(
            &self,
            fd: libc::c_int,
            token: Token,
            interests: Interest,
        ) -> io::Result<Option<rouse::sys::Arm>> {
            self.0.reregister_armed(fd, token, interests)
        }
    }
}

#[cfg(all(feature = "iocp", windows))]
impl<const N: usize> Backend for rouse::sys::IocpSelector<N> {
    const NAME: &'static str = "iocp";
}

#[cfg(rouse_wasi)]
impl<const N: usize> Backend for rouse::sys::WasiSelector<N> {
    const NAME: &'static str = "wasi";
}

#[cfg(rouse_wasip2)]
impl<const N: usize> Backend for rouse::sys::Wasip2Selector<N> {
    const NAME: &'static str = "wasip2";
}

/// `SourceFd` of the target: the Unix one, or WASI's (the same shape).
#[cfg(unix)]
pub use rouse::unix::SourceFd;
#[cfg(any(rouse_wasi, rouse_wasip2))]
pub use rouse::wasi::SourceFd;

/// The table size the poll(2) and WASI instantiations use.
pub const POLL_CAPACITY: usize = 64;

/// Instantiates each named generic test `fn name<S: Backend>()` once per
/// compiled backend: `epoll::name`, `kqueue::name`, `poll::name`,
/// `wasi::name` (wasip1) and `wasip2::name`, and on Linux `auto_epoll::name`
/// and `auto_poll::name` (`AutoSelector` in each of its modes).
///
/// A name may carry attributes, which apply to each instantiation:
/// `#[cfg(unix)] name` leaves a test out on WASI (whose targets have no
/// socketpairs or threads) and Windows (`iocp::name`), `#[cfg(any(unix,
/// windows, rouse_wasip2))] name` only where there are loopback sockets
/// (not wasip1), `#[cfg(feature = "std")] name` out of the no-std build.
#[macro_export]
macro_rules! backend_tests {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {
        #[cfg(all(feature = "epoll", any(target_os = "linux", target_os = "android")))]
        mod epoll {
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    super::$name::<rouse::sys::EpollSelector>();
                }
            )*
        }
        #[cfg(all(feature = "kqueue", any(
            target_os = "macos",
            target_os = "ios",
            target_os = "freebsd",
            target_os = "netbsd",
            target_os = "openbsd",
            target_os = "dragonfly"
        )))]
        mod kqueue {
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    super::$name::<rouse::sys::KqueueSelector>();
                }
            )*
        }
        #[cfg(all(feature = "poll", unix))]
        mod poll {
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    super::$name::<rouse::sys::PollSelector<{ $crate::common::POLL_CAPACITY }>>();
                }
            )*
        }
        #[cfg(all(
            feature = "epoll",
            feature = "poll",
            any(target_os = "linux", target_os = "android")
        ))]
        mod auto_epoll {
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    super::$name::<$crate::common::AutoEpoll>();
                }
            )*
        }
        #[cfg(all(
            feature = "epoll",
            feature = "poll",
            any(target_os = "linux", target_os = "android")
        ))]
        mod auto_poll {
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    super::$name::<$crate::common::AutoPoll>();
                }
            )*
        }
        #[cfg(all(feature = "iocp", windows))]
        mod iocp {
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    super::$name::<rouse::sys::IocpSelector<{ $crate::common::POLL_CAPACITY }>>();
                }
            )*
        }
        #[cfg(rouse_wasi)]
        mod wasi {
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    super::$name::<rouse::sys::WasiSelector<{ $crate::common::POLL_CAPACITY }>>();
                }
            )*
        }
        #[cfg(rouse_wasip2)]
        mod wasip2 {
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    super::$name::<rouse::sys::Wasip2Selector<{ $crate::common::POLL_CAPACITY }>>();
                }
            )*
        }
    };
}

/// A new `Poll` on backend `S`.
pub fn new_poll<S: Backend>() -> Poll<S> {
    Poll::with_selector(S::new().expect("creating the selector"))
}

/// Events for backend `S` with room for 64.
pub fn new_events<S: Backend>() -> Events<S, 64> {
    Events::new()
}

/// Polls until an event for `token` satisfying `pred` arrives, for at
/// most `within`; panics with the events seen if none does.
pub fn expect_event<S: Backend, const N: usize>(
    poll: &mut Poll<S>,
    events: &mut Events<S, N>,
    token: Token,
    within: Duration,
    pred: impl Fn(&Event<S>) -> bool,
) -> Event<S> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        poll.poll(events, Some(left)).expect("poll");
        for event in events.iter() {
            if event.token() == token && pred(event) {
                return *event;
            }
            seen.push(format!("{event:?}"));
        }
        if left.is_zero() {
            panic!(
                "[{}] no matching event for {token:?} within {within:?}; saw {seen:?}",
                S::NAME
            );
        }
    }
}

/// Polls for `within` and returns every event seen (no early return).
pub fn collect_events<S: Backend, const N: usize>(
    poll: &mut Poll<S>,
    events: &mut Events<S, N>,
    within: Duration,
) -> Vec<Event<S>> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        poll.poll(events, Some(left)).expect("poll");
        seen.extend(events.iter().copied());
        if left.is_zero() {
            return seen;
        }
    }
}

/// Asserts that no event for `token` arrives within `within`.
pub fn expect_no_event<S: Backend, const N: usize>(
    poll: &mut Poll<S>,
    events: &mut Events<S, N>,
    token: Token,
    within: Duration,
) {
    let seen = collect_events(poll, events, within);
    assert!(
        seen.iter().all(|e| e.token() != token),
        "[{}] unexpected event for {token:?}: {seen:?}",
        S::NAME
    );
}

/// A connected non-blocking Unix stream pair (std types).
#[cfg(unix)]
pub fn stream_pair() -> (
    std::os::unix::net::UnixStream,
    std::os::unix::net::UnixStream,
) {
    let (a, b) = std::os::unix::net::UnixStream::pair().expect("socketpair");
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// A connected non-blocking stream pair over TCP loopback (std types): the
/// portable stand-in for a socketpair where there is none (Windows,
/// wasip2).
#[cfg(any(unix, windows, rouse_wasip2))]
pub fn loopback_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let a = std::net::TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
    let (b, _) = listener.accept().expect("accept");
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    a.set_nodelay(true).unwrap();
    b.set_nodelay(true).unwrap();
    (a, b)
}

/// The connected stream type of `rouse::net` the portable tests use: a
/// Unix stream on Unix, a TCP stream over loopback on Windows.
#[cfg(all(unix, feature = "net"))]
pub type NetStream = rouse::net::UnixStream;
/// The connected stream type of `rouse::net` the portable tests use: a
/// Unix stream on Unix, a TCP stream over loopback on Windows and wasip2.
#[cfg(all(any(windows, rouse_wasip2), feature = "net"))]
pub type NetStream = rouse::net::TcpStream;

/// A connected non-blocking pair of [`NetStream`]s: `UnixStream::pair` on
/// Unix, [`loopback_pair`] on Windows.
#[cfg(all(unix, feature = "net"))]
pub fn net_stream_pair() -> (NetStream, NetStream) {
    rouse::net::UnixStream::pair().expect("socketpair")
}

/// A connected non-blocking pair of [`NetStream`]s: `UnixStream::pair` on
/// Unix, [`loopback_pair`] on Windows and wasip2.
#[cfg(all(any(windows, rouse_wasip2), feature = "net"))]
pub fn net_stream_pair() -> (NetStream, NetStream) {
    let (a, b) = loopback_pair();
    (
        rouse::net::TcpStream::from_std(a),
        rouse::net::TcpStream::from_std(b),
    )
}

/// wasip2 has no socketpairs: [`loopback_pair`] stands in for
/// `stream_pair`, and `AsRawFd` is std's (WASI fds are `c_int`s too).
#[cfg(rouse_wasip2)]
pub use self::wasip2_compat::stream_pair;
#[cfg(rouse_wasip2)]
pub use std::os::fd::AsRawFd;

#[cfg(rouse_wasip2)]
mod wasip2_compat {
    /// A connected stream pair over TCP loopback: the first non-blocking
    /// (the one the tests register), the second blocking (the peer they
    /// write to). A small write to a socketpair never blocks; wasmtime may
    /// refuse a write with `WouldBlock` while it flushes an earlier one in
    /// the background, so the peer's `write_all` waits instead.
    pub fn stream_pair() -> (std::net::TcpStream, std::net::TcpStream) {
        let (a, b) = super::loopback_pair();
        b.set_nonblocking(false).unwrap();
        (a, b)
    }
}

/// Windows stand-ins for what the Unix tests use: `stream_pair` (over TCP
/// loopback), `SourceFd` (a raw socket as a source) and `AsRawFd`
/// (`as_raw_socket` under the Unix name), so one test body serves both.
#[cfg(windows)]
pub use self::windows_compat::{
    socket_is_open, stream_pair, AsRawFd, SourceFd, ERROR_INVALID_HANDLE, INVALID_SOCKET,
    WSAENOTSOCK,
};

#[cfg(windows)]
mod windows_compat {
    use std::os::windows::io::{AsRawSocket, RawSocket};

    use rouse::event::Source;
    use rouse::sys::Selector;
    use rouse::{Interest, Registry, Token};

    /// A connected non-blocking stream pair over TCP loopback.
    pub fn stream_pair() -> (std::net::TcpStream, std::net::TcpStream) {
        super::loopback_pair()
    }

    /// `INVALID_SOCKET`: the value no socket ever has.
    pub const INVALID_SOCKET: RawSocket = !0;
    /// `WSAENOTSOCK`: "an operation was attempted on something that is not
    /// a socket", the error for a closed or never-open socket value.
    pub const WSAENOTSOCK: i32 = 10038;
    /// `ERROR_INVALID_HANDLE`: what wine gives instead of `WSAENOTSOCK` for
    /// a value that is no open handle.
    pub const ERROR_INVALID_HANDLE: i32 = 6;

    const SOL_SOCKET: i32 = 0xffff;
    const SO_TYPE: i32 = 0x1008;

    #[link(name = "ws2_32")]
    extern "system" {
        fn getsockopt(s: usize, level: i32, optname: i32, optval: *mut u8, optlen: *mut i32)
            -> i32;
    }

    /// Whether `raw` is an open socket now (another test's, perhaps: socket
    /// values are reused at once), like `fcntl(fd, F_GETFD) >= 0` on Unix.
    pub fn socket_is_open(raw: RawSocket) -> bool {
        let mut ty = 0i32;
        let mut len = std::mem::size_of::<i32>() as i32;
        // SAFETY: getsockopt only reads the socket's type into `ty`, a live
        // i32 whose size is `len`; on a value that is no socket it fails
        // with WSAENOTSOCK and writes nothing.
        let r = unsafe {
            getsockopt(
                raw as usize,
                SOL_SOCKET,
                SO_TYPE,
                (&mut ty as *mut i32).cast::<u8>(),
                &mut len,
            )
        };
        r == 0
    }

    /// `as_raw_socket` named as on Unix.
    pub trait AsRawFd {
        /// The raw socket.
        fn as_raw_fd(&self) -> RawSocket;
    }

    impl<T: AsRawSocket> AsRawFd for T {
        fn as_raw_fd(&self) -> RawSocket {
            self.as_raw_socket()
        }
    }

    /// A raw socket as a source, like `rouse::unix::SourceFd`.
    pub struct SourceFd<'a>(pub &'a RawSocket);

    impl<S: Selector<Raw = RawSocket>> Source<S> for SourceFd<'_> {
        fn register(
            &mut self,
            registry: &Registry<S>,
            token: Token,
            interests: Interest,
        ) -> std::io::Result<()> {
            registry.selector().register(*self.0, token, interests)
        }

        fn reregister(
            &mut self,
            registry: &Registry<S>,
            token: Token,
            interests: Interest,
        ) -> std::io::Result<()> {
            registry.selector().reregister(*self.0, token, interests)
        }

        fn deregister(&mut self, registry: &Registry<S>) -> std::io::Result<()> {
            registry.selector().deregister(*self.0)
        }
    }
}

/// Short waits used by the tests.
pub const SHORT: Duration = Duration::from_millis(50);
pub const LONG: Duration = Duration::from_secs(5);

/// A directory under `std::env::temp_dir()` with a name no other test (or
/// test process) uses, removed with everything in it on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// Creates `rouse-<tag>-<pid>-<n>-<nanos>` in the temp directory.
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("rouse-{tag}-{}-{n}-{nanos}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path).expect("creating a temp dir");
        TempDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Reads from `reader` until `n` bytes have arrived, waiting for a readable
/// event for `token` on `poll` whenever a read would block; panics on
/// end-of-file or after `LONG`.
pub fn read_exactly<S: Backend, const N: usize, R: std::io::Read>(
    poll: &mut Poll<S>,
    events: &mut Events<S, N>,
    token: Token,
    mut reader: R,
    n: usize,
) -> Vec<u8> {
    let deadline = Instant::now() + LONG;
    let mut out = vec![0u8; n];
    let mut got = 0;
    while got < n {
        assert!(
            Instant::now() < deadline,
            "[{}] read timed out after {got} of {n} bytes",
            S::NAME
        );
        match reader.read(&mut out[got..]) {
            Ok(0) => panic!("[{}] end-of-file after {got} of {n} bytes", S::NAME),
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                expect_event(poll, events, token, LONG, |e| e.is_readable());
            }
            Err(e) => panic!("[{}] read: {e}", S::NAME),
        }
    }
    out
}

/// Writes all of `buf` to the non-blocking stream `writer`, retrying a
/// `WouldBlock` (at most 2000 times, a millisecond apart). A small write
/// to a socket on Unix or Windows never blocks; on wasip2 wasmtime may
/// refuse one until its own reactor has seen the socket writable (just
/// after a connect, or while it flushes an earlier write).
pub fn put<W: std::io::Write>(mut writer: W, mut buf: &[u8]) {
    let mut tries = 0;
    while !buf.is_empty() {
        match writer.write(buf) {
            Ok(0) => panic!("write returned 0"),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && tries < 2000 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("write: {e}"),
        }
    }
}

/// Reads from `reader` until it returns `WouldBlock`, returning what was
/// read; panics on end-of-file or another error, or after 1024 reads.
pub fn drain<R: std::io::Read>(mut reader: R) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    for _ in 0..1024 {
        match reader.read(&mut buf) {
            Ok(0) => panic!("end-of-file while draining"),
            Ok(k) => out.extend_from_slice(&buf[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return out,
            Err(e) => panic!("read while draining: {e}"),
        }
    }
    panic!("never reached WouldBlock while draining");
}
