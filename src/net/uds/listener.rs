//! `UnixListener`: a non-blocking Unix stream listening socket.
//!
//! It accepts connections as non-blocking streams and re-arms itself when
//! `accept` returns `WouldBlock`. It must never block, and never removes
//! the socket file it bound (that is the caller's, as with std).

use std::io;
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;

use crate::event::IoSource;
use crate::net::{impl_fd, impl_source, UnixStream};
use crate::Interest;

/// A Unix stream socket server, listening for connections.
///
/// # Examples
///
/// ```
/// use rouse::net::{UnixListener, UnixStream};
/// use rouse::{Events, Interest, Poll, Token};
///
/// let dir = std::env::temp_dir().join(format!("rouse-doc-ul-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("socket");
/// # let _ = std::fs::remove_file(&path);
///
/// let mut poll = Poll::new()?;
/// let mut events = Events::with_capacity(16);
/// let mut listener = UnixListener::bind(&path)?;
/// poll.registry().register(&mut listener, Token(0), Interest::READABLE)?;
///
/// let _client = UnixStream::connect(&path)?;
/// let (stream, _addr) = loop {
///     match listener.accept() {
///         Ok(pair) => break pair,
///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
///             poll.poll(&mut events, None)?;
///         }
///         Err(e) => return Err(e),
///     }
/// };
/// assert!(stream.peer_addr()?.is_unnamed());
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), rouse::io::Error>(())
/// ```
pub struct UnixListener {
    inner: IoSource<net::UnixListener>,
}

impl UnixListener {
    /// Creates a non-blocking, close-on-exec listener bound to the file
    /// `path`, which must not exist yet.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let listener = net::UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        Ok(UnixListener::from_std(listener))
    }

    /// Creates a non-blocking, close-on-exec listener bound to `address`
    /// (a path or, on Linux and Android, an abstract name).
    pub fn bind_addr(address: &SocketAddr) -> io::Result<UnixListener> {
        let listener = net::UnixListener::bind_addr(address)?;
        listener.set_nonblocking(true)?;
        Ok(UnixListener::from_std(listener))
    }

    /// Wraps a std listener, as it is.
    ///
    /// The caller must have put it in non-blocking mode
    /// (`set_nonblocking(true)`); this function does not, so that it costs
    /// no system call. A blocking listener would block the event loop.
    pub fn from_std(listener: net::UnixListener) -> UnixListener {
        UnixListener {
            inner: IoSource::new(listener),
        }
    }

    /// Accepts a waiting connection: a non-blocking, close-on-exec stream
    /// and the peer's address (usually unnamed).
    ///
    /// Returns [`WouldBlock`](io::ErrorKind::WouldBlock) when no connection
    /// is waiting; the listener is then re-armed.
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self.inner.do_io(Interest::READABLE, |l| l.accept())?;
        stream.set_nonblocking(true)?;
        Ok((UnixStream::from_std(stream), addr))
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Takes the pending socket error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get_ref().take_error()
    }
}

impl_source!(UnixListener);
impl_fd!(UnixListener, net::UnixListener);
