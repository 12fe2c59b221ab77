//! The net types as futures: `Async<TcpListener>`, `Async<TcpStream>`,
//! `Async<UdpSocket>` and, on Unix, `Async<UnixListener>` and
//! `Async<UnixStream>`.
//!
//! Each operation is the net type's own non-blocking call (which re-arms
//! the socket when it meets `WouldBlock`) in [`Async::read_with`] or
//! [`Async::write_with`].

use std::io::{Read, Write};
use std::net::SocketAddr;

use super::{Async, Reactor, TryRead, TryWrite};
use crate::io;
#[cfg(any(unix, windows, rouse_wasip2))]
use crate::net::UdpSocket;
use crate::net::{TcpListener, TcpStream};
#[cfg(unix)]
use crate::net::{UnixListener, UnixStream};
use crate::sys::Selector;

impl TryRead for TcpStream {
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl TryWrite for TcpStream {
    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
}

#[cfg(unix)]
impl TryRead for UnixStream {
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

#[cfg(unix)]
impl TryWrite for UnixStream {
    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
}

impl<'r, S, const N: usize, const T: usize> Async<'r, TcpListener, S, N, T>
where
    S: Selector,
    TcpListener: crate::event::Source<S>,
    TcpStream: crate::event::Source<S>,
{
    /// Binds a listener to `addr` (see [`TcpListener::bind`]) and
    /// registers it.
    pub fn bind(reactor: &'r Reactor<S, N, T>, addr: SocketAddr) -> io::Result<Self> {
        Async::new(reactor, TcpListener::bind(addr)?)
    }

    /// Accepts a connection, registered with the same reactor.
    ///
    /// An error other than `WouldBlock` (`EMFILE`: out of descriptors) is
    /// returned as it is, and the listener stays ready: calling `accept`
    /// again at once retries at once. A loop that accepts should wait a
    /// little after such an error (a [`Reactor::sleep`]), or it never
    /// yields to the tasks whose connections would free descriptors.
    pub async fn accept(&self) -> io::Result<(Async<'r, TcpStream, S, N, T>, SocketAddr)> {
        let (stream, addr) = self.read_with(|l| l.accept()).await?;
        Ok((Async::new(self.reactor(), stream)?, addr))
    }
}

impl<'r, S, const N: usize, const T: usize> Async<'r, TcpStream, S, N, T>
where
    S: Selector,
    TcpStream: crate::event::Source<S>,
{
    /// Connects to `addr`: starts the connection (see
    /// [`TcpStream::connect`]), waits until it is writable, and returns it
    /// once connected. Errors: the connect's (`ConnectionRefused`, ...).
    pub async fn connect(reactor: &'r Reactor<S, N, T>, addr: SocketAddr) -> io::Result<Self> {
        let stream = Async::new(reactor, TcpStream::connect(addr)?)?;
        stream.writable().await?;
        if let Some(e) = stream.get_ref().take_error()? {
            return Err(e);
        }
        // Writable without an error can still be a failed connect on some
        // systems: `peer_addr` tells for sure.
        stream.get_ref().peer_addr()?;
        Ok(stream)
    }
}

#[cfg(any(unix, windows, rouse_wasip2))]
impl<'r, S, const N: usize, const T: usize> Async<'r, UdpSocket, S, N, T>
where
    S: Selector,
    UdpSocket: crate::event::Source<S>,
{
    /// Binds a UDP socket to `addr` (see [`UdpSocket::bind`]) and
    /// registers it.
    pub fn bind(reactor: &'r Reactor<S, N, T>, addr: SocketAddr) -> io::Result<Self> {
        Async::new(reactor, UdpSocket::bind(addr)?)
    }

    /// Sends `buf` to `target`: the number of bytes sent.
    pub async fn send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.write_with(|s| s.send_to(buf, target)).await
    }

    /// Receives a datagram into `buf`: its length and sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.read_with(|s| s.recv_from(buf)).await
    }

    /// Sends `buf` to the connected peer (see [`UdpSocket::connect`]).
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.write_with(|s| s.send(buf)).await
    }

    /// Receives a datagram from the connected peer into `buf`. A pending
    /// error (`ConnectionRefused` after an ICMP port-unreachable) is
    /// returned once; the next call waits for the next datagram.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(|s| s.recv(buf)).await
    }
}

#[cfg(unix)]
impl<'r, S, const N: usize, const T: usize> Async<'r, UnixListener, S, N, T>
where
    S: Selector,
    UnixListener: crate::event::Source<S>,
    UnixStream: crate::event::Source<S>,
{
    /// Binds a listener to the socket file `path` and registers it.
    pub fn bind<P: AsRef<std::path::Path>>(
        reactor: &'r Reactor<S, N, T>,
        path: P,
    ) -> io::Result<Self> {
        Async::new(reactor, UnixListener::bind(path)?)
    }

    /// Accepts a connection, registered with the same reactor; errors as
    /// for `Async<TcpListener>::accept`.
    pub async fn accept(
        &self,
    ) -> io::Result<(
        Async<'r, UnixStream, S, N, T>,
        std::os::unix::net::SocketAddr,
    )> {
        let (stream, addr) = self.read_with(|l| l.accept()).await?;
        Ok((Async::new(self.reactor(), stream)?, addr))
    }
}

#[cfg(unix)]
impl<'r, S, const N: usize, const T: usize> Async<'r, UnixStream, S, N, T>
where
    S: Selector,
    UnixStream: crate::event::Source<S>,
{
    /// Connects to the socket file `path` and waits until connected.
    pub async fn connect<P: AsRef<std::path::Path>>(
        reactor: &'r Reactor<S, N, T>,
        path: P,
    ) -> io::Result<Self> {
        let stream = Async::new(reactor, UnixStream::connect(path)?)?;
        stream.writable().await?;
        if let Some(e) = stream.get_ref().take_error()? {
            return Err(e);
        }
        Ok(stream)
    }

    /// A connected pair, both registered with `reactor`.
    pub fn pair(reactor: &'r Reactor<S, N, T>) -> io::Result<(Self, Self)> {
        let (a, b) = UnixStream::pair()?;
        Ok((Async::new(reactor, a)?, Async::new(reactor, b)?))
    }
}
