//! `TcpStream`: a non-blocking TCP connection.
//!
//! Reads and writes go through `IoSource` (`impl_stream_io!`), which re-arms the
//! direction that returned `WouldBlock`. It must never block: `connect`
//! returns while the handshake is still in progress.

use std::io;
use std::net::{self, Shutdown, SocketAddr};

use crate::event::IoSource;
use crate::net::{impl_fd, impl_source, impl_stream_io, socket};
use crate::Interest;

/// A non-blocking TCP stream between a local and a remote socket.
///
/// Read and write it (it implements [`Read`](std::io::Read) and [`Write`](std::io::Write), as does
/// `&TcpStream`) until an operation returns
/// [`WouldBlock`](io::ErrorKind::WouldBlock), then wait for the next event.
///
/// # Examples
///
/// ```
/// use rouse::net::{TcpListener, TcpStream};
/// use rouse::{Events, Interest, Poll, Token};
///
/// let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
///
/// let mut poll = Poll::new()?;
/// let mut events = Events::with_capacity(16);
/// let mut stream = TcpStream::connect(listener.local_addr()?)?;
/// poll.registry().register(&mut stream, Token(0), Interest::WRITABLE)?;
///
/// // Writable means connected (or failed: `take_error` says which).
/// loop {
///     poll.poll(&mut events, None)?;
///     if events.iter().any(|e| e.token() == Token(0) && e.is_writable()) {
///         break;
///     }
/// }
/// assert!(stream.take_error()?.is_none());
/// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
/// # Ok::<(), rouse::io::Error>(())
/// ```
pub struct TcpStream {
    inner: IoSource<net::TcpStream>,
}

impl TcpStream {
    /// Starts connecting to `addr` and returns at once, with a
    /// non-blocking, close-on-exec stream.
    ///
    /// The connection is not made yet. Register the stream for
    /// [`Interest::WRITABLE`]; when it is reported writable, the connect has
    /// finished: check [`take_error`](TcpStream::take_error) (or
    /// [`peer_addr`](TcpStream::peer_addr), which fails with `NotConnected`
    /// if it did not succeed), as with mio.
    pub fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let fd = socket::tcp_connect(&addr)?;
        Ok(TcpStream::from_std(net::TcpStream::from(fd)))
    }

    /// Wraps a std stream, as it is.
    ///
    /// The caller must have put it in non-blocking mode
    /// (`set_nonblocking(true)`); this function does not, so that it costs
    /// no system call. A blocking stream would block the event loop.
    pub fn from_std(stream: net::TcpStream) -> TcpStream {
        TcpStream {
            inner: IoSource::new(stream),
        }
    }

    /// The remote address; fails with `NotConnected` while connecting or
    /// after a failed connect.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let stream = self.inner.get_ref();
        crate::net::connected(stream, || stream.peer_addr())
    }

    /// The local address.
    ///
    /// On wasip2 it is known once the stream is connected (reported
    /// writable, or the host has finished the handshake): before that it
    /// is `WouldBlock` (`NotConnected` after a failed connect), since
    /// wasi-libc aborts the program when it asks the host about a socket
    /// still connecting.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let stream = self.inner.get_ref();
        #[cfg(rouse_wasip2)]
        socket::settle_connect(stream)?;
        stream.local_addr()
    }

    /// Shuts down the read half, the write half, or both.
    ///
    /// After `Shutdown::Write` the peer reads end-of-file (and is told
    /// read-closed where the backend reports it).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let stream = self.inner.get_ref();
        crate::net::connected(stream, || stream.shutdown(how))
    }

    /// Sets `TCP_NODELAY`: `true` sends small writes at once instead of
    /// coalescing them (Nagle's algorithm off).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set; see [`set_nodelay`](TcpStream::set_nodelay).
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.get_ref().nodelay()
    }

    /// Sets the IP time-to-live (`IP_TTL`) of packets sent.
    ///
    /// On wasip2, as [`local_addr`](TcpStream::local_addr), once connected.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let stream = self.inner.get_ref();
        #[cfg(rouse_wasip2)]
        socket::settle_connect(stream)?;
        stream.set_ttl(ttl)
    }

    /// The IP time-to-live (`IP_TTL`); see [`set_ttl`](TcpStream::set_ttl).
    pub fn ttl(&self) -> io::Result<u32> {
        let stream = self.inner.get_ref();
        #[cfg(rouse_wasip2)]
        socket::settle_connect(stream)?;
        stream.ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`), clearing it; after a
    /// connect, `Some` means it failed.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        let stream = self.inner.get_ref();
        #[cfg(rouse_wasip2)]
        return socket::take_error(stream);
        #[cfg(not(rouse_wasip2))]
        stream.take_error()
    }

    /// Reads into `buf` without removing the data from the socket's queue.
    ///
    /// Returns [`WouldBlock`](io::ErrorKind::WouldBlock) (and re-arms) when
    /// nothing is queued.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        crate::net::connected(self.inner.get_ref(), || {
            self.inner.do_io(Interest::READABLE, |s| s.peek(buf))
        })
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

impl_stream_io!(TcpStream);
impl_source!(TcpStream);
impl_fd!(TcpStream, net::TcpStream);
