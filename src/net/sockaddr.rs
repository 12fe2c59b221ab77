//! IP socket addresses as the C calls take them, for the targets whose
//! sockets are libc's (Unix, and wasm32-wasip2 through wasi-libc).

use std::mem::{self, size_of};
use std::net::SocketAddr;

/// An IP address as C's `sockaddr_in` or `sockaddr_in6`.
#[repr(C)]
pub(crate) union RawSocketAddr {
    v4: libc::sockaddr_in,
    v6: libc::sockaddr_in6,
}

impl RawSocketAddr {
    pub(crate) fn as_ptr(&self) -> *const libc::sockaddr {
        (self as *const RawSocketAddr).cast()
    }
}

/// Converts `addr` for the C calls, with its length.
///
/// BSD-derived systems also have a length field (`sin_len`); it is left
/// zero, since their kernels set it from the length argument.
pub(crate) fn to_raw(addr: &SocketAddr) -> (RawSocketAddr, libc::socklen_t) {
    match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_in is plain integers; all zeroes is valid.
            let mut sin: libc::sockaddr_in = unsafe { mem::zeroed() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            // Both are in network byte order: the octets' order in memory.
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            let len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            (RawSocketAddr { v4: sin }, len)
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_in6 is plain integers; all zeroes is valid.
            let mut sin6: libc::sockaddr_in6 = unsafe { mem::zeroed() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            let len = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            (RawSocketAddr { v6: sin6 }, len)
        }
    }
}
