//! `UnixStream`: a non-blocking Unix stream connection.
//!
//! Reads and writes go through `IoSource` (`impl_stream_io!`), which re-arms the
//! direction that returned `WouldBlock`. It must never block: `connect`
//! does not wait, even when the listener's backlog is full.

use std::io;
use std::net::Shutdown;
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;

use crate::event::IoSource;
use crate::net::{impl_fd, impl_source, impl_stream_io, socket};
use crate::Interest;

/// A non-blocking Unix stream socket.
///
/// # Examples
///
/// ```
/// use rouse::net::UnixStream;
/// use rouse::{Events, Interest, Poll, Token};
/// use std::io::{Read, Write};
///
/// let mut poll = Poll::new()?;
/// let mut events = Events::with_capacity(16);
/// let (mut a, mut b) = UnixStream::pair()?;
/// poll.registry().register(&mut b, Token(0), Interest::READABLE)?;
///
/// a.write_all(b"hi")?;
/// poll.poll(&mut events, None)?;
/// let mut buf = [0; 8];
/// assert_eq!(b.read(&mut buf)?, 2);
/// // Drained: the next read would block, and re-arms `b`.
/// assert_eq!(b.read(&mut buf).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
/// # Ok::<(), rouse::io::Error>(())
/// ```
pub struct UnixStream {
    inner: IoSource<net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`, without waiting: a non-blocking,
    /// close-on-exec stream.
    ///
    /// As with TCP, register it for [`Interest::WRITABLE`] and check
    /// [`take_error`](UnixStream::take_error) when it is writable. Fails
    /// with `WouldBlock` if the listener's backlog is full.
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let fd = socket::unix_connect_path(path.as_ref().as_os_str())?;
        Ok(UnixStream::from_std(net::UnixStream::from(fd)))
    }

    /// Connects to `address` (a path or, on Linux and Android, an abstract
    /// name) as [`connect`](UnixStream::connect) does. An unnamed address
    /// gives `InvalidInput`.
    pub fn connect_addr(address: &SocketAddr) -> io::Result<UnixStream> {
        if let Some(path) = address.as_pathname() {
            return UnixStream::connect(path);
        }
        #[cfg(target_os = "android")]
        use std::os::android::net::SocketAddrExt;
        #[cfg(target_os = "linux")]
        use std::os::linux::net::SocketAddrExt;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(name) = address.as_abstract_name() {
            let fd = socket::unix_connect_abstract(name)?;
            return Ok(UnixStream::from_std(net::UnixStream::from(fd)));
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot connect to an unnamed Unix socket address",
        ))
    }

    /// A connected pair of non-blocking, close-on-exec streams.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = net::UnixStream::pair()?;
        a.set_nonblocking(true)?;
        b.set_nonblocking(true)?;
        Ok((UnixStream::from_std(a), UnixStream::from_std(b)))
    }

    /// Wraps a std stream, as it is.
    ///
    /// The caller must have put it in non-blocking mode
    /// (`set_nonblocking(true)`); this function does not, so that it costs
    /// no system call. A blocking stream would block the event loop.
    pub fn from_std(stream: net::UnixStream) -> UnixStream {
        UnixStream {
            inner: IoSource::new(stream),
        }
    }

    /// The local address (usually unnamed for a connecting socket).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Shuts down the read half, the write half, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }

    /// Takes the pending socket error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get_ref().take_error()
    }

    /// Runs `f`, an operation of the caller's own on this socket's fd (a
    /// system call rouse has no method for), re-arming both directions if
    /// it returns [`WouldBlock`](io::ErrorKind::WouldBlock).
    ///
    /// `f` must not block, and must report `WouldBlock` only when the
    /// socket returned `EAGAIN`, or readiness may be lost.
    pub fn try_io<F, T>(&self, f: F) -> io::Result<T>
    where
        F: FnOnce() -> io::Result<T>,
    {
        self.inner
            .do_io(Interest::READABLE | Interest::WRITABLE, |_| f())
    }
}

impl_stream_io!(UnixStream);
impl_source!(UnixStream);
impl_fd!(UnixStream, net::UnixStream);
