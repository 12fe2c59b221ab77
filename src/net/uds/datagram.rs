//! `UnixDatagram`: a non-blocking Unix datagram socket.
//!
//! Sends and receives go through `IoSource::do_io`, which re-arms the
//! direction that returned `WouldBlock`. It must never block, and never
//! removes the socket file it bound.

use std::io;
use std::net::Shutdown;
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;

use crate::event::IoSource;
use crate::net::{impl_fd, impl_source};
use crate::Interest;

/// A non-blocking Unix datagram socket.
///
/// # Examples
///
/// ```
/// use rouse::net::UnixDatagram;
/// use rouse::{Events, Interest, Poll, Token};
///
/// let mut poll = Poll::new()?;
/// let mut events = Events::with_capacity(16);
/// let (a, mut b) = UnixDatagram::pair()?;
/// poll.registry().register(&mut b, Token(0), Interest::READABLE)?;
///
/// a.send(b"one")?;
/// poll.poll(&mut events, None)?;
/// let mut buf = [0; 8];
/// assert_eq!(b.recv(&mut buf)?, 3);
/// assert_eq!(&buf[..3], b"one");
/// # Ok::<(), rouse::io::Error>(())
/// ```
pub struct UnixDatagram {
    inner: IoSource<net::UnixDatagram>,
}

impl UnixDatagram {
    /// Creates a non-blocking, close-on-exec socket bound to the file
    /// `path`, which must not exist yet.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        let socket = net::UnixDatagram::bind(path)?;
        socket.set_nonblocking(true)?;
        Ok(UnixDatagram::from_std(socket))
    }

    /// Creates a non-blocking, close-on-exec socket bound to `address`
    /// (a path or, on Linux and Android, an abstract name).
    pub fn bind_addr(address: &SocketAddr) -> io::Result<UnixDatagram> {
        let socket = net::UnixDatagram::bind_addr(address)?;
        socket.set_nonblocking(true)?;
        Ok(UnixDatagram::from_std(socket))
    }

    /// Creates a non-blocking, close-on-exec socket bound to no address.
    pub fn unbound() -> io::Result<UnixDatagram> {
        let socket = net::UnixDatagram::unbound()?;
        socket.set_nonblocking(true)?;
        Ok(UnixDatagram::from_std(socket))
    }

    /// A connected pair of non-blocking, close-on-exec sockets.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = net::UnixDatagram::pair()?;
        a.set_nonblocking(true)?;
        b.set_nonblocking(true)?;
        Ok((UnixDatagram::from_std(a), UnixDatagram::from_std(b)))
    }

    /// Wraps a std socket, as it is.
    ///
    /// The caller must have put it in non-blocking mode
    /// (`set_nonblocking(true)`); this function does not, so that it costs
    /// no system call. A blocking socket would block the event loop.
    pub fn from_std(socket: net::UnixDatagram) -> UnixDatagram {
        UnixDatagram {
            inner: IoSource::new(socket),
        }
    }

    /// Connects to the socket at `path`: `send` and `recv` then use it.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.inner.get_ref().connect(path)
    }

    /// The address this socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The address this socket is connected to.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Sends `buf` as one datagram to the socket at `path`.
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        self.inner
            .do_io(Interest::WRITABLE, |s| s.send_to(buf, path))
    }

    /// Receives one datagram into `buf`: its length and sender.
    /// [`WouldBlock`](io::ErrorKind::WouldBlock) when none is queued.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.do_io(Interest::READABLE, |s| s.recv_from(buf))
    }

    /// Sends `buf` as one datagram to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.do_io(Interest::WRITABLE, |s| s.send(buf))
    }

    /// Receives one datagram from the connected peer into `buf`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.do_io(Interest::READABLE, |s| s.recv(buf))
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

impl_source!(UnixDatagram);
impl_fd!(UnixDatagram, net::UnixDatagram);
