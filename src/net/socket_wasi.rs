//! The raw socket calls of `socket.rs`, for wasm32-wasip1.
//!
//! wasip1 can accept on a listener the host hands in (wasmtime's
//! `-S tcplisten=ADDR` preopens one as fd 3), read, write and shut down; it
//! cannot create, bind or connect a socket. Those calls return
//! `Unsupported` with a message that says what to do instead.
//!
//! Each function is at most one host call: it must never block, retry, or
//! keep a descriptor it does not hand back as an [`OwnedFd`].

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Accepts a connection as a non-blocking socket. wasip1 cannot tell the
/// peer's address, so the address returned is `0.0.0.0:0`.
pub(crate) fn accept(listener: &impl AsRawFd) -> io::Result<(OwnedFd, SocketAddr)> {
    let fd = listener.as_raw_fd() as u32;
    // SAFETY: sock_accept takes any fd number (a bad one gives EBADF) and
    // only returns a new descriptor on success.
    let new = unsafe { wasi::sock_accept(fd, wasi::FDFLAGS_NONBLOCK) }
        .map_err(|e| io::Error::from_raw_os_error(i32::from(e.raw())))?;
    // SAFETY: `new` was just created by the host and is owned by nothing
    // else; fds fit in a RawFd (wasi-libc's fds are non-negative ints).
    let owned = unsafe { OwnedFd::from_raw_fd(new as std::os::fd::RawFd) };
    Ok((owned, SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))))
}

/// wasip1 cannot bind: always `Unsupported`.
pub(crate) fn tcp_listen(_addr: &SocketAddr) -> io::Result<OwnedFd> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "wasip1 cannot bind a socket: have the host preopen a listener \
         (wasmtime -S tcplisten=ADDR gives fd 3) and use TcpListener::from_std \
         or FromRawFd",
    ))
}

/// wasip1 cannot connect: always `Unsupported`.
pub(crate) fn tcp_connect(_addr: &SocketAddr) -> io::Result<OwnedFd> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "wasip1 cannot open outgoing connections: only sockets the host \
         preopens (and connections accepted on them) are available",
    ))
}
