//! The raw socket calls of `socket.rs`, for Windows.
//!
//! std creates, binds and accepts sockets well enough here; what it lacks
//! is a connect that does not wait, so that one is made from `WSASocketW`,
//! `ioctlsocket(FIONBIO)` and `connect` (windows-sys's, through
//! `sys/iocp/ffi.rs`).
//! Listeners are std's: backlog 128 and no `SO_REUSEADDR`, which on Windows
//! would let another socket steal the port.
//!
//! Each function is a few system calls and nothing else: it must never
//! block, retry, or keep a socket it does not hand back (an `OwnedSocket`
//! closes it on every error path).

use std::io;
use std::mem::size_of;
use std::net::{self, SocketAddr};
use std::os::windows::io::{FromRawSocket, OwnedSocket};
use std::ptr;
use std::sync::Once;

use crate::sys::iocp::ffi::*;

/// Accepts a connection as a non-blocking stream.
pub(crate) fn accept(listener: &net::TcpListener) -> io::Result<(OwnedSocket, SocketAddr)> {
    let (stream, addr) = listener.accept()?;
    stream.set_nonblocking(true)?;
    Ok((stream.into(), addr))
}

/// A non-blocking listener bound to `addr`.
pub(crate) fn tcp_listen(addr: &SocketAddr) -> io::Result<OwnedSocket> {
    let listener = net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener.into())
}

fn wsa_error() -> io::Error {
    // SAFETY: reads the thread's last socket error.
    crate::io::os_error(unsafe { WSAGetLastError() })
}

/// Winsock must be started before the first socket call; std starts it
/// only for its own calls. WSAStartup counts, so starting it again is fine.
fn start_winsock() {
    static START: Once = Once::new();
    START.call_once(|| {
        // SAFETY: all-zero is a valid WSADATA (integers and byte arrays,
        // one pointer that may be null).
        let mut data: WSADATA = unsafe { core::mem::zeroed() };
        // SAFETY: `data` is a live WSADATA; version 2.2.
        let _ = unsafe { WSAStartup(0x0202, &mut data) };
    });
}

/// Starts connecting to `addr` and returns at once with the socket.
pub(crate) fn tcp_connect(addr: &SocketAddr) -> io::Result<OwnedSocket> {
    start_winsock();
    let af = match addr {
        SocketAddr::V4(_) => AF_INET as i32,
        SocketAddr::V6(_) => AF_INET6 as i32,
    };
    // SAFETY: plain integer arguments; returns a new socket or
    // INVALID_SOCKET.
    let raw = unsafe {
        WSASocketW(
            af,
            SOCK_STREAM,
            IPPROTO_TCP,
            ptr::null(),
            0,
            WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT,
        )
    };
    if raw == INVALID_SOCKET {
        return Err(wsa_error());
    }
    // SAFETY: `raw` was just created and is owned by nothing else.
    let socket = unsafe { OwnedSocket::from_raw_socket(raw as u64) };
    let mut on: u32 = 1;
    // SAFETY: `on` is a live u32, as FIONBIO expects.
    if unsafe { ioctlsocket(raw, FIONBIO, &mut on) } != 0 {
        return Err(wsa_error());
    }
    let r = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: all-zero is a valid SOCKADDR_IN (integers, unions of
            // integers).
            let mut sa: SOCKADDR_IN = unsafe { core::mem::zeroed() };
            sa.sin_family = AF_INET;
            sa.sin_port = a.port().to_be();
            // In network byte order: the octets as they come.
            sa.sin_addr.S_un.S_addr = u32::from_ne_bytes(a.ip().octets());
            // SAFETY: `sa` is a live SOCKADDR_IN of the size passed.
            unsafe {
                connect(
                    raw,
                    (&sa as *const SOCKADDR_IN).cast(),
                    size_of::<SOCKADDR_IN>() as i32,
                )
            }
        }
        SocketAddr::V6(a) => {
            // SAFETY: all-zero is a valid SOCKADDR_IN6 (integers, unions
            // of integers).
            let mut sa: SOCKADDR_IN6 = unsafe { core::mem::zeroed() };
            sa.sin6_family = AF_INET6;
            sa.sin6_port = a.port().to_be();
            sa.sin6_flowinfo = a.flowinfo();
            sa.sin6_addr.u.Byte = a.ip().octets();
            sa.Anonymous.sin6_scope_id = a.scope_id();
            // SAFETY: `sa` is a live SOCKADDR_IN6 of the size passed.
            unsafe {
                connect(
                    raw,
                    (&sa as *const SOCKADDR_IN6).cast(),
                    size_of::<SOCKADDR_IN6>() as i32,
                )
            }
        }
    };
    if r == SOCKET_ERROR {
        let err = wsa_error();
        if err.raw_os_error() != Some(WSAEWOULDBLOCK) {
            return Err(err);
        }
    }
    Ok(socket)
}
