//! The raw socket calls of `socket.rs`, for wasm32-wasip2.
//!
//! WASI 0.2 has real sockets (`wasi:sockets`), which wasi-libc offers as
//! the BSD calls std uses: bind, listen, accept and connect all work, on
//! the network the host grants (wasmtime: `-S inherit-network=y`).
//! Listening and accepting
//! go through std; only the connect that does not wait needs wasi-libc's
//! `socket` and `connect` directly (std's `connect` waits for the
//! handshake). There are no Unix sockets on WASI.
//!
//! There is no `exec` on WASI, so close-on-exec does not apply.
//!
//! Each function is at most a few wasi-libc calls: it must never block,
//! retry, or keep a descriptor it does not hand back as an [`OwnedFd`].

use std::io;
use std::net::{self, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::sockaddr::to_raw;

/// Accepts a connection as a non-blocking socket, with the peer's address.
pub(crate) fn accept(listener: &net::TcpListener) -> io::Result<(OwnedFd, SocketAddr)> {
    let (stream, addr) = listener.accept()?;
    // A flag in wasi-libc's descriptor: no host call, cannot block.
    stream.set_nonblocking(true)?;
    Ok((stream.into(), addr))
}

/// A non-blocking TCP listener on `addr`. std's `bind` makes it (socket,
/// bind, listen with std's backlog of 128). There is no `SO_REUSEADDR` to
/// set: `wasi:sockets` asks hosts to let a bind ignore the `TIME_WAIT` of
/// an earlier socket on the address, which is what it is for.
pub(crate) fn tcp_listen(addr: &SocketAddr) -> io::Result<OwnedFd> {
    let listener = net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener.into())
}

/// Starts a non-blocking TCP connection to `addr`: `Ok` when it is made or
/// in progress (`EINPROGRESS`); the socket is reported writable when the
/// handshake is over, and `take_error` tells whether it failed.
pub(crate) fn tcp_connect(addr: &SocketAddr) -> io::Result<OwnedFd> {
    let domain = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: socket takes three ints and returns a new fd or -1.
    let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let (raw, len) = to_raw(addr);
    // SAFETY: `raw` is a live sockaddr of `len` bytes.
    let r = unsafe { libc::connect(fd.as_raw_fd(), raw.as_ptr(), len) };
    if r < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(err);
        }
    }
    Ok(fd)
}

/// Lets wasi-libc finish the connect of `fd` if the host has finished it:
/// wasi-libc moves a socket from connecting to connected (or failed) only
/// inside `poll`, so this polls `fd` alone, without waiting. `true` if it
/// is connected (or failed) now, `false` while the handshake goes on.
pub(crate) fn finish_connect(fd: RawFd) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLWRNORM,
        revents: 0,
    };
    // SAFETY: `pfd` is one live pollfd; poll writes only its `revents`.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n > 0)
}

/// Makes sure wasi-libc sees `stream` connected: `Ok` if it is (letting
/// wasi-libc finish a connect the host has finished), `WouldBlock` while
/// the handshake goes on, `NotConnected` after a failed connect. For the
/// calls wasi-libc cannot make on a socket still connecting (it aborts the
/// program on `getsockname` then).
pub(crate) fn settle_connect(stream: &net::TcpStream) -> io::Result<()> {
    // getpeername answers from wasi-libc's state: safe in every state.
    if stream.peer_addr().is_ok() {
        return Ok(());
    }
    if !finish_connect(stream.as_raw_fd())? {
        return Err(io::ErrorKind::WouldBlock.into());
    }
    stream.peer_addr().map(drop)
}

/// `SO_ERROR` of `stream`. wasi-libc answers `EINPROGRESS` for a socket it
/// still sees connecting, even once the host has finished the connect;
/// Linux answers no error while connecting. So after letting wasi-libc
/// finish the connect, an `EINPROGRESS` still there is no error.
pub(crate) fn take_error(stream: &net::TcpStream) -> io::Result<Option<io::Error>> {
    let in_progress = |e: &Option<io::Error>| {
        e.as_ref().and_then(io::Error::raw_os_error) == Some(libc::EINPROGRESS)
    };
    let err = stream.take_error()?;
    if !in_progress(&err) {
        return Ok(err);
    }
    finish_connect(stream.as_raw_fd())?;
    let err = stream.take_error()?;
    Ok(if in_progress(&err) { None } else { err })
}
