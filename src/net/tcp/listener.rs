//! `TcpListener`: a non-blocking TCP listening socket.
//!
//! It accepts connections as non-blocking streams and re-arms itself when
//! `accept` returns `WouldBlock`. It must never block: `accept` with no
//! connection waiting returns `WouldBlock`.

use std::io;
use std::net::{self, SocketAddr};

use crate::event::IoSource;
use crate::net::{impl_fd, impl_source, socket, TcpStream};
use crate::Interest;

/// A TCP socket server, listening for connections.
///
/// Register it for [`Interest::READABLE`]; on a readable event call
/// [`accept`](TcpListener::accept) until it returns
/// [`WouldBlock`](io::ErrorKind::WouldBlock).
///
/// # Examples
///
/// ```
/// use rouse::net::TcpListener;
/// use rouse::{Events, Interest, Poll, Token};
/// use std::time::Duration;
///
/// let mut poll = Poll::new()?;
/// let mut events = Events::with_capacity(16);
/// let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
/// poll.registry().register(&mut listener, Token(0), Interest::READABLE)?;
///
/// // No one has connected: nothing to accept, and no event.
/// poll.poll(&mut events, Some(Duration::from_millis(10)))?;
/// assert!(events.is_empty());
/// assert_eq!(listener.accept().unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
/// # Ok::<(), rouse::io::Error>(())
/// ```
pub struct TcpListener {
    inner: IoSource<net::TcpListener>,
}

impl TcpListener {
    /// Creates a listener bound to `addr`: non-blocking, close-on-exec,
    /// with `SO_REUSEADDR` set (as mio does on Unix) and a backlog of 1024.
    ///
    /// Port 0 asks the OS for a free port; [`local_addr`] tells which.
    ///
    /// [`local_addr`]: TcpListener::local_addr
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        let fd = socket::tcp_listen(&addr)?;
        Ok(TcpListener::from_std(net::TcpListener::from(fd)))
    }

    /// Wraps a std listener, as it is.
    ///
    /// The caller must have put it in non-blocking mode
    /// (`set_nonblocking(true)`); this function does not, so that it costs
    /// no system call. A blocking listener would block the event loop.
    pub fn from_std(listener: net::TcpListener) -> TcpListener {
        TcpListener {
            inner: IoSource::new(listener),
        }
    }

    /// Accepts a waiting connection: a non-blocking, close-on-exec stream
    /// and the peer's address.
    ///
    /// Returns [`WouldBlock`](io::ErrorKind::WouldBlock) when no connection
    /// is waiting; the listener is then re-armed, and a new connection
    /// brings a new readable event.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, addr) = self.inner.do_io(Interest::READABLE, socket::accept)?;
        Ok((TcpStream::from_std(net::TcpStream::from(fd)), addr))
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Sets the IP time-to-live (`IP_TTL`) of sockets from this listener.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live (`IP_TTL`); see [`set_ttl`](TcpListener::set_ttl).
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get_ref().ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get_ref().take_error()
    }
}

impl_source!(TcpListener);
impl_fd!(TcpListener, net::TcpListener);
