//! `UdpSocket`: a non-blocking UDP socket.
//!
//! Sends and receives go through `IoSource::do_io`, which re-arms the
//! direction that returned `WouldBlock`. It must never block.

use std::io;
use std::net::{self, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::event::IoSource;
use crate::net::{impl_fd, impl_source};
use crate::Interest;

/// A non-blocking UDP socket.
///
/// Register it for [`Interest::READABLE`] and, on an event, receive until
/// [`WouldBlock`](io::ErrorKind::WouldBlock).
///
/// # Examples
///
/// ```
/// use rouse::net::UdpSocket;
/// use rouse::{Events, Interest, Poll, Token};
///
/// let sender = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
/// let mut receiver = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
///
/// let mut poll = Poll::new()?;
/// let mut events = Events::with_capacity(16);
/// poll.registry().register(&mut receiver, Token(0), Interest::READABLE)?;
///
/// sender.send_to(b"hello", receiver.local_addr()?)?;
///
/// let mut buf = [0; 16];
/// let (n, from) = loop {
///     match receiver.recv_from(&mut buf) {
///         Ok(got) => break got,
///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
///             poll.poll(&mut events, None)?;
///         }
///         Err(e) => return Err(e),
///     }
/// };
/// assert_eq!(&buf[..n], b"hello");
/// assert_eq!(from, sender.local_addr()?);
/// # Ok::<(), rouse::io::Error>(())
/// ```
pub struct UdpSocket {
    inner: IoSource<net::UdpSocket>,
}

impl UdpSocket {
    /// Creates a non-blocking, close-on-exec UDP socket bound to `addr`.
    ///
    /// Port 0 asks the OS for a free port; [`local_addr`] tells which.
    ///
    /// [`local_addr`]: UdpSocket::local_addr
    pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
        let socket = net::UdpSocket::bind(addr)?;
        socket.set_nonblocking(true)?;
        Ok(UdpSocket::from_std(socket))
    }

    /// Wraps a std socket, as it is.
    ///
    /// The caller must have put it in non-blocking mode
    /// (`set_nonblocking(true)`); this function does not, so that it costs
    /// no system call. A blocking socket would block the event loop.
    pub fn from_std(socket: net::UdpSocket) -> UdpSocket {
        UdpSocket {
            inner: IoSource::new(socket),
        }
    }

    /// The address this socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The address this socket is connected to; `NotConnected` if none.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Sends `buf` as one datagram to `target`; returns the bytes sent.
    pub fn send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.inner
            .do_io(Interest::WRITABLE, |s| s.send_to(buf, target))
    }

    /// Receives one datagram into `buf`: its length (truncated to `buf`)
    /// and sender. [`WouldBlock`](io::ErrorKind::WouldBlock) when none is
    /// queued.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.do_io(Interest::READABLE, |s| s.recv_from(buf))
    }

    /// Like [`recv_from`](UdpSocket::recv_from), leaving the datagram queued.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.do_io(Interest::READABLE, |s| s.peek_from(buf))
    }

    /// Sends `buf` as one datagram to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.do_io(Interest::WRITABLE, |s| s.send(buf))
    }

    /// Receives one datagram from the connected peer into `buf`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.do_io(Interest::READABLE, |s| s.recv(buf))
    }

    /// Like [`recv`](UdpSocket::recv), leaving the datagram queued.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.do_io(Interest::READABLE, |s| s.peek(buf))
    }

    /// Connects to `addr`: `send` and `recv` then use it, and datagrams
    /// from other addresses are dropped. Does not block (UDP has no
    /// handshake).
    pub fn connect(&self, addr: SocketAddr) -> io::Result<()> {
        self.inner.get_ref().connect(addr)
    }

    /// Sets `SO_BROADCAST`: whether datagrams may go to a broadcast address.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.inner.get_ref().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.inner.get_ref().broadcast()
    }

    /// Sets `IP_MULTICAST_LOOP`: whether this host's own IPv4 multicast
    /// datagrams are looped back to it.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.inner.get_ref().set_multicast_loop_v4(on)
    }

    /// Whether `IP_MULTICAST_LOOP` is set.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.inner.get_ref().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_TTL`, the time-to-live of IPv4 multicast datagrams.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_multicast_ttl_v4(ttl)
    }

    /// The `IP_MULTICAST_TTL`.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.inner.get_ref().multicast_ttl_v4()
    }

    /// Sets `IPV6_MULTICAST_LOOP`.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.inner.get_ref().set_multicast_loop_v6(on)
    }

    /// Whether `IPV6_MULTICAST_LOOP` is set.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.inner.get_ref().multicast_loop_v6()
    }

    /// Joins the IPv4 multicast group `group` on the interface `interface`
    /// (`0.0.0.0` lets the OS choose).
    pub fn join_multicast_v4(&self, group: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.get_ref().join_multicast_v4(group, interface)
    }

    /// Joins the IPv6 multicast group `group` on interface index `interface`
    /// (0 lets the OS choose).
    pub fn join_multicast_v6(&self, group: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.get_ref().join_multicast_v6(group, interface)
    }

    /// Leaves an IPv4 multicast group; see
    /// [`join_multicast_v4`](UdpSocket::join_multicast_v4).
    pub fn leave_multicast_v4(&self, group: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.get_ref().leave_multicast_v4(group, interface)
    }

    /// Leaves an IPv6 multicast group; see
    /// [`join_multicast_v6`](UdpSocket::join_multicast_v6).
    pub fn leave_multicast_v6(&self, group: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.get_ref().leave_multicast_v6(group, interface)
    }

    /// Sets the IP time-to-live (`IP_TTL`) of datagrams sent.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live (`IP_TTL`); see [`set_ttl`](UdpSocket::set_ttl).
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get_ref().ttl()
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

impl_source!(UdpSocket);
impl_fd!(UdpSocket, net::UdpSocket);
