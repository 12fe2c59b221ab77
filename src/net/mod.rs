//! Networking primitives: non-blocking sockets that are readiness sources.
//!
//! The types match mio 1.x's `mio::net`: [`TcpListener`], [`TcpStream`],
#![cfg_attr(
    unix,
    doc = "[`UdpSocket`] and, on Unix, [`UnixListener`], [`UnixStream`] and [`UnixDatagram`]."
)]
#![cfg_attr(
    all(not(unix), not(rouse_wasi)),
    doc = "[`UdpSocket`] and, on Unix, `UnixListener`, `UnixStream` and `UnixDatagram`."
)]
#![cfg_attr(
    rouse_wasi,
    doc = "`UdpSocket` (not on wasm32-wasip1) and, on Unix, `UnixListener`, `UnixStream` and `UnixDatagram`."
)]
//! Each is a thin wrapper over the std socket of the same
//! name that implements [`Source`](crate::event::Source) for every backend,
//! so one socket type works with epoll and poll(2) in the same program.
//!
//! Sockets these types create are non-blocking and close-on-exec. Sockets
//! handed in with `from_std` (or `FromRawFd`, `From<OwnedFd>`) are used as
//! they are: the caller must have made them non-blocking.
//!
//! As with mio, readiness is edge-triggered: after an event, read (or
//! write, or accept) until the operation returns
//! [`WouldBlock`](std::io::ErrorKind::WouldBlock) before waiting again.
//! Meeting `WouldBlock` through these types is also what re-arms a source
//! on backends that emulate edges (poll(2)); a socket used through its raw
//! fd instead must be re-armed with
//! [`Registry::reregister`](crate::Registry::reregister).
//!
//! This module must never block, allocate per operation, or retry an
//! operation on the caller's behalf: every result is the OS's.
//!
//! On wasm32-wasip2 (WASI 0.2, whose `wasi:sockets` are real sockets)
//! `TcpListener`, `TcpStream` and `UdpSocket` all work: bind,
//! accept, a connect that does not wait (reported `WRITABLE` when the
//! handshake is over), `from_std`, with the host's network granted
//! (`wasmtime run -S inherit-network=y`). WASI has no Unix sockets, so
//! those types are absent there.
//!
//! On wasm32-wasip1 only [`TcpListener`] and [`TcpStream`] exist, made from
//! sockets the host preopens (`wasmtime run -S tcplisten=ADDR` hands a
//! listener in as fd 3: `TcpListener::from_std`, or `FromRawFd`) and the
//! connections accepted on them: accept, read, write and shutdown work;
//! `bind` and `connect` return `Unsupported`, and so do what the host
//! cannot tell (addresses, socket options). wasip1 has no UDP or Unix
//! sockets, so those types are absent there.
//!
//! ```
//! use rouse::net::{TcpListener, TcpStream};
//! use rouse::{Events, Interest, Poll, Token};
//! use std::io::{Read, Write};
//!
//! let mut poll = Poll::new()?;
//! let mut events = Events::with_capacity(16);
//! let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
//! poll.registry().register(&mut listener, Token(0), Interest::READABLE)?;
//!
//! let mut client = TcpStream::connect(listener.local_addr()?)?;
//! poll.registry().register(&mut client, Token(1), Interest::WRITABLE)?;
//!
//! // The client is connected once it is writable.
//! let mut connected = false;
//! while !connected {
//!     poll.poll(&mut events, None)?;
//!     connected = events.iter().any(|e| e.token() == Token(1) && e.is_writable());
//! }
//!
//! // Accept, waiting for an event only when nothing is waiting: the
//! // listener's event may have come with the client's above.
//! let (mut server, _peer) = loop {
//!     match listener.accept() {
//!         Ok(pair) => break pair,
//!         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
//!             poll.poll(&mut events, None)?;
//!         }
//!         Err(e) => return Err(e),
//!     }
//! };
//! poll.registry().register(&mut server, Token(2), Interest::READABLE)?;
//!
//! client.write_all(b"ping")?;
//!
//! let mut buf = [0; 4];
//! let mut got = 0;
//! while got < 4 {
//!     match server.read(&mut buf[got..]) {
//!         Ok(n) => got += n,
//!         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
//!             poll.poll(&mut events, None)?;
//!         }
//!         Err(e) => return Err(e),
//!     }
//! }
//! assert_eq!(&buf, b"ping");
//! # Ok::<(), rouse::io::Error>(())
//! ```

mod io_source;
#[cfg(any(unix, rouse_wasip2))]
mod sockaddr;
#[cfg(unix)]
mod socket;
#[cfg(rouse_wasi)]
#[path = "socket_wasi.rs"]
mod socket;
#[cfg(rouse_wasip2)]
#[path = "socket_wasip2.rs"]
mod socket;
#[cfg(windows)]
#[path = "socket_windows.rs"]
mod socket;
mod tcp;
#[cfg(any(unix, windows, rouse_wasip2))]
mod udp;
#[cfg(unix)]
mod uds;

pub use self::tcp::{TcpListener, TcpStream};
#[cfg(any(unix, windows, rouse_wasip2))]
pub use self::udp::UdpSocket;
#[cfg(unix)]
pub use self::uds::{UnixDatagram, UnixListener, UnixStream};

/// The OS handle of a socket: a file descriptor, or a `SOCKET` on Windows.
pub(crate) use crate::event::io_source::RawHandle as RawSocketHandle;

/// Runs `op`, an operation on the stream socket `socket`: on most targets,
/// just that.
#[cfg(not(rouse_wasip2))]
#[inline(always)]
pub(crate) fn connected<T, R>(
    socket: &T,
    op: impl FnOnce() -> std::io::Result<R>,
) -> std::io::Result<R> {
    let _ = socket;
    op()
}

/// Runs `op`, an operation on the stream socket `socket`.
///
/// On wasip2 a socket whose connect (one that did not wait) the host has
/// finished is still connecting to wasi-libc until a `poll` looks at it,
/// and its operations fail with `ENOTCONN` until then (on Linux they just
/// work once the handshake is over, and mio programs rely on it). So on
/// `ENOTCONN` wasi-libc is let finish the connect, by a `poll` of that
/// socket alone that does not wait, and `op` runs once more; while the
/// handshake is still going on, the answer is `WouldBlock` (the socket's
/// registration is still armed: any poll that reported it would have
/// finished the connect).
#[cfg(rouse_wasip2)]
#[inline(always)]
pub(crate) fn connected<T: std::os::fd::AsRawFd, R>(
    socket: &T,
    mut op: impl FnMut() -> std::io::Result<R>,
) -> std::io::Result<R> {
    match op() {
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
            if socket::finish_connect(socket.as_raw_fd())? {
                op()
            } else {
                Err(std::io::ErrorKind::WouldBlock.into())
            }
        }
        result => result,
    }
}

/// `Read` and `Write` for a stream type `$ty` and for `&$ty`, through its
/// `IoSource` (`inner`), which re-arms after `WouldBlock` and after a read
/// or write that moved less than it was given (and through [`connected`],
/// for wasip2's connects).
macro_rules! impl_stream_io {
    ($ty:ty) => {
        impl std::io::Read for $ty {
            #[inline]
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                $crate::net::connected(self.inner.get_ref(), || self.inner.recv(buf))
            }

            #[inline]
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                $crate::net::connected(self.inner.get_ref(), || {
                    std::io::Read::read_vectored(&mut &self.inner, bufs)
                })
            }
        }

        impl std::io::Read for &$ty {
            #[inline]
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                $crate::net::connected(self.inner.get_ref(), || self.inner.recv(buf))
            }

            #[inline]
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                $crate::net::connected(self.inner.get_ref(), || {
                    std::io::Read::read_vectored(&mut &self.inner, bufs)
                })
            }
        }

        impl std::io::Write for $ty {
            #[inline]
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                $crate::net::connected(self.inner.get_ref(), || self.inner.send(buf))
            }

            #[inline]
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                $crate::net::connected(self.inner.get_ref(), || {
                    std::io::Write::write_vectored(&mut &self.inner, bufs)
                })
            }

            #[inline]
            fn flush(&mut self) -> std::io::Result<()> {
                std::io::Write::flush(&mut &self.inner)
            }
        }

        impl std::io::Write for &$ty {
            #[inline]
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                $crate::net::connected(self.inner.get_ref(), || self.inner.send(buf))
            }

            #[inline]
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                $crate::net::connected(self.inner.get_ref(), || {
                    std::io::Write::write_vectored(&mut &self.inner, bufs)
                })
            }

            #[inline]
            fn flush(&mut self) -> std::io::Result<()> {
                std::io::Write::flush(&mut &self.inner)
            }
        }
    };
}

/// Implements `Source<S>` for every `S: Selector<Raw = RawFd>` (`RawSocket`
/// on Windows) on a net type
/// whose `inner` field is an `IoSource`, by delegation.
macro_rules! impl_source {
    ($ty:ty) => {
        impl<S> $crate::event::Source<S> for $ty
        where
            S: $crate::sys::Selector<Raw = $crate::net::RawSocketHandle>,
        {
            #[inline]
            fn register(
                &mut self,
                registry: &$crate::Registry<S>,
                token: $crate::Token,
                interests: $crate::Interest,
            ) -> std::io::Result<()> {
                self.inner.register(registry, token, interests)
            }

            #[inline]
            fn reregister(
                &mut self,
                registry: &$crate::Registry<S>,
                token: $crate::Token,
                interests: $crate::Interest,
            ) -> std::io::Result<()> {
                self.inner.reregister(registry, token, interests)
            }

            #[inline]
            fn deregister(&mut self, registry: &$crate::Registry<S>) -> std::io::Result<()> {
                self.inner.deregister(registry)
            }
        }
    };
}

/// Implements the fd conversions and `Debug` for a net type `$ty` wrapping
/// an `IoSource<$std>` in its `inner` field.
#[cfg(not(windows))]
macro_rules! impl_fd {
    ($ty:ident, $std:ty) => {
        impl std::os::fd::AsRawFd for $ty {
            #[inline]
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(self.inner.get_ref())
            }
        }

        impl std::os::fd::AsFd for $ty {
            #[inline]
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(self.inner.get_ref())
            }
        }

        impl std::os::fd::IntoRawFd for $ty {
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                std::os::fd::IntoRawFd::into_raw_fd(self.inner.into_inner())
            }
        }

        /// Takes the socket as it is: it must already be non-blocking.
        impl std::os::fd::FromRawFd for $ty {
            unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> $ty {
                // SAFETY: the caller guarantees `fd` is an open socket of
                // the right kind that nothing else owns, as this trait
                // requires; the std type takes over that ownership.
                $ty::from_std(unsafe { <$std as std::os::fd::FromRawFd>::from_raw_fd(fd) })
            }
        }

        /// Takes the socket as it is: it must already be non-blocking.
        impl From<std::os::fd::OwnedFd> for $ty {
            fn from(fd: std::os::fd::OwnedFd) -> $ty {
                $ty::from_std(<$std>::from(fd))
            }
        }

        impl From<$ty> for std::os::fd::OwnedFd {
            fn from(socket: $ty) -> std::os::fd::OwnedFd {
                socket.inner.into_inner().into()
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(self.inner.get_ref(), f)
            }
        }
    };
}

/// Implements the socket conversions and `Debug` for a net type `$ty`
/// wrapping an `IoSource<$std>` in its `inner` field (Windows).
#[cfg(windows)]
macro_rules! impl_fd {
    ($ty:ident, $std:ty) => {
        impl std::os::windows::io::AsRawSocket for $ty {
            #[inline]
            fn as_raw_socket(&self) -> std::os::windows::io::RawSocket {
                std::os::windows::io::AsRawSocket::as_raw_socket(self.inner.get_ref())
            }
        }

        impl std::os::windows::io::AsSocket for $ty {
            #[inline]
            fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
                std::os::windows::io::AsSocket::as_socket(self.inner.get_ref())
            }
        }

        impl std::os::windows::io::IntoRawSocket for $ty {
            fn into_raw_socket(self) -> std::os::windows::io::RawSocket {
                std::os::windows::io::IntoRawSocket::into_raw_socket(self.inner.into_inner())
            }
        }

        /// Takes the socket as it is: it must already be non-blocking.
        impl std::os::windows::io::FromRawSocket for $ty {
            unsafe fn from_raw_socket(socket: std::os::windows::io::RawSocket) -> $ty {
                // SAFETY: the caller guarantees `socket` is an open socket
                // of the right kind that nothing else owns, as this trait
                // requires; the std type takes over that ownership.
                $ty::from_std(unsafe {
                    <$std as std::os::windows::io::FromRawSocket>::from_raw_socket(socket)
                })
            }
        }

        /// Takes the socket as it is: it must already be non-blocking.
        impl From<std::os::windows::io::OwnedSocket> for $ty {
            fn from(socket: std::os::windows::io::OwnedSocket) -> $ty {
                $ty::from_std(<$std>::from(socket))
            }
        }

        impl From<$ty> for std::os::windows::io::OwnedSocket {
            fn from(socket: $ty) -> std::os::windows::io::OwnedSocket {
                socket.inner.into_inner().into()
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(self.inner.get_ref(), f)
            }
        }
    };
}

pub(crate) use {impl_fd, impl_source, impl_stream_io};
