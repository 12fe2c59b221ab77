//! The few raw socket calls the net types need that std does not offer:
//! creating a socket non-blocking and close-on-exec, a connect that does
//! not wait, a listener with mio's backlog, an accept that hands back a
//! non-blocking socket, and the conversions between std's addresses and
//! C's `sockaddr`s they need.
//!
//! Each function is one or two system calls and nothing else: it must never
//! block, retry, or keep a descriptor it does not hand back as an
//! [`OwnedFd`] (which closes it on every error path).

use std::ffi::OsStr;
use std::format;
use std::io;
use std::mem::{self, size_of};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use super::sockaddr::to_raw;
use crate::sys::unix::cvt;
#[cfg(rouse_sock_flags)]
use crate::sys::unix::syscall;

/// Platforms whose `socket` and `accept4` take `SOCK_NONBLOCK |
/// SOCK_CLOEXEC`, which sets both flags atomically.
macro_rules! cfg_sock_flags {
    ($($item:item)*) => {$(
        #[cfg(any(
            target_os = "linux",
            target_os = "android",
            target_os = "freebsd",
            target_os = "dragonfly",
            target_os = "netbsd",
            target_os = "openbsd",
            target_os = "illumos",
        ))]
        $item
    )*};
}

/// The other Unix platforms: the flags are set after creation.
macro_rules! cfg_no_sock_flags {
    ($($item:item)*) => {$(
        #[cfg(not(any(
            target_os = "linux",
            target_os = "android",
            target_os = "freebsd",
            target_os = "dragonfly",
            target_os = "netbsd",
            target_os = "openbsd",
            target_os = "illumos",
        )))]
        $item
    )*};
}

cfg_sock_flags! {
    /// A new socket, non-blocking and close-on-exec.
    pub(crate) fn new_socket(domain: libc::c_int, ty: libc::c_int) -> io::Result<OwnedFd> {
        let ty = ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        // SAFETY: socket(2) takes three ints and returns a new fd or -1.
        let fd = cvt(unsafe { libc::socket(domain, ty, 0) })?;
        // SAFETY: `fd` was just created and is owned by nothing else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Accepts a connection on the listening socket `fd`: a new
    /// non-blocking, close-on-exec socket and the peer's address.
    pub(crate) fn accept(fd: &impl AsRawFd) -> io::Result<(OwnedFd, SocketAddr)> {
        // SAFETY: sockaddr_storage is plain integers; all zeroes is valid.
        let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
        let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        // SAFETY: `storage` and `len` are valid for writes and `len` is the
        // size of `storage`, as accept4(2) requires.
        let new = syscall::check(unsafe {
            syscall::accept4(
                fd.as_raw_fd(),
                (&mut storage as *mut libc::sockaddr_storage).cast(),
                &mut len,
                flags,
            )
        })?;
        // SAFETY: `new` was just created (an fd fits a c_int) and is owned
        // by nothing else.
        let new = unsafe { OwnedFd::from_raw_fd(new as libc::c_int) };
        Ok((new, to_socket_addr(&storage, len)?))
    }
}

cfg_no_sock_flags! {
    /// A new socket, non-blocking and close-on-exec.
    pub(crate) fn new_socket(domain: libc::c_int, ty: libc::c_int) -> io::Result<OwnedFd> {
        // SAFETY: socket(2) takes three ints and returns a new fd or -1.
        let fd = cvt(unsafe { libc::socket(domain, ty, 0) })?;
        // SAFETY: `fd` was just created and is owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        set_cloexec_nonblocking(&fd)?;
        #[cfg(target_vendor = "apple")]
        set_int_option(&fd, libc::SOL_SOCKET, libc::SO_NOSIGPIPE, 1)?;
        Ok(fd)
    }

    /// Accepts a connection on the listening socket `fd`: a new
    /// non-blocking, close-on-exec socket and the peer's address.
    pub(crate) fn accept(fd: &impl AsRawFd) -> io::Result<(OwnedFd, SocketAddr)> {
        // SAFETY: sockaddr_storage is plain integers; all zeroes is valid.
        let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
        let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: `storage` and `len` are valid for writes and `len` is the
        // size of `storage`, as accept(2) requires.
        let new = cvt(unsafe {
            libc::accept(
                fd.as_raw_fd(),
                (&mut storage as *mut libc::sockaddr_storage).cast(),
                &mut len,
            )
        })?;
        // SAFETY: `new` was just created and is owned by nothing else.
        let new = unsafe { OwnedFd::from_raw_fd(new) };
        set_cloexec_nonblocking(&new)?;
        #[cfg(target_vendor = "apple")]
        set_int_option(&new, libc::SOL_SOCKET, libc::SO_NOSIGPIPE, 1)?;
        Ok((new, to_socket_addr(&storage, len)?))
    }

    fn set_cloexec_nonblocking(fd: &OwnedFd) -> io::Result<()> {
        let fd = fd.as_raw_fd();
        // SAFETY: fcntl on an fd we own, with int arguments.
        unsafe {
            cvt(libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC))?;
            let flags = cvt(libc::fcntl(fd, libc::F_GETFL))?;
            cvt(libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK))?;
        }
        Ok(())
    }
}

/// Sets an `int` socket option.
pub(crate) fn set_int_option(
    fd: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: the option value is a local int whose size is passed along.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// The address family for `addr`.
pub(crate) fn domain(addr: &SocketAddr) -> libc::c_int {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}

/// Reads an IP address that the OS wrote into `storage`.
fn to_socket_addr(
    storage: &libc::sockaddr_storage,
    len: libc::socklen_t,
) -> io::Result<SocketAddr> {
    let len = len as usize;
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the OS wrote a sockaddr_in (the family says so, the
            // length fits), and sockaddr_storage is large and aligned
            // enough for any sockaddr.
            let sin =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Ok(SocketAddrV4::new(ip, u16::from_be(sin.sin_port)).into())
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for a sockaddr_in6.
            let sin6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let port = u16::from_be(sin6.sin6_port);
            Ok(SocketAddrV6::new(ip, port, sin6.sin6_flowinfo, sin6.sin6_scope_id).into())
        }
        family => Err(unexpected_family(family)),
    }
}

/// The error for an address the OS wrote with a family (or length) rouse
/// does not read. Out of line, and without `format!`: `accept` inlines into
/// its caller, and this never happens with the sockets rouse makes.
#[cold]
fn unexpected_family(family: libc::c_int) -> io::Error {
    crate::io::error(
        io::ErrorKind::InvalidInput,
        "accepted a socket of unexpected address family (or length)",
        Some(i64::from(family)),
    )
}

/// Starts connecting `fd` to `addr` without waiting: `Ok` when the
/// connection is made or in progress (`EINPROGRESS`).
pub(crate) fn connect(
    fd: &impl AsRawFd,
    addr: *const libc::sockaddr,
    len: libc::socklen_t,
) -> io::Result<()> {
    // SAFETY: the callers pass a pointer to a live sockaddr of `len` bytes.
    match cvt(unsafe { libc::connect(fd.as_raw_fd(), addr, len) }) {
        Ok(_) => Ok(()),
        Err(err) if err.raw_os_error() == Some(libc::EINPROGRESS) => Ok(()),
        Err(err) => Err(err),
    }
}

/// Starts a non-blocking TCP connection to `addr`.
pub(crate) fn tcp_connect(addr: &SocketAddr) -> io::Result<OwnedFd> {
    let fd = new_socket(domain(addr), libc::SOCK_STREAM)?;
    let (raw, len) = to_raw(addr);
    connect(&fd, raw.as_ptr(), len)?;
    Ok(fd)
}

/// A non-blocking TCP listener on `addr`, with `SO_REUSEADDR` and a
/// backlog of 1024.
pub(crate) fn tcp_listen(addr: &SocketAddr) -> io::Result<OwnedFd> {
    let fd = new_socket(domain(addr), libc::SOCK_STREAM)?;
    set_int_option(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    let (raw, len) = to_raw(addr);
    // SAFETY: `raw` is a live sockaddr of `len` bytes.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), raw.as_ptr(), len) })?;
    // SAFETY: listen(2) takes two ints.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), 1024) })?;
    Ok(fd)
}

/// Builds the `sockaddr_un` for a name given as bytes: a path, or on Linux
/// and Android an abstract name (which starts with a NUL byte).
fn unix_raw(name: &[u8], abstract_name: bool) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain integers; all zeroes is valid.
    let mut sun: libc::sockaddr_un = unsafe { mem::zeroed() };
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let skip = usize::from(abstract_name);
    if !abstract_name && name.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a Unix socket path must not contain a NUL byte",
        ));
    }
    // A path needs room for its terminating NUL; an abstract name for its
    // leading one.
    if name.len() + 1 > sun.sun_path.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "Unix socket name is {} bytes; at most {} fit",
                name.len(),
                sun.sun_path.len() - 1
            ),
        ));
    }
    for (dst, src) in sun.sun_path[skip..].iter_mut().zip(name) {
        *dst = *src as libc::c_char;
    }
    let base = sun_path_offset(&sun);
    // A path's length counts its NUL; an abstract name's counts its leading NUL only.
    let len = base + name.len() + 1;
    Ok((sun, len as libc::socklen_t))
}

/// Where `sun_path` starts in a `sockaddr_un` (after the family, and on
/// the BSDs a length byte): the distance between the two addresses, which
/// needs neither `offset_of!` (Rust 1.77) nor unsafe code.
fn sun_path_offset(sun: &libc::sockaddr_un) -> usize {
    sun.sun_path.as_ptr() as usize - (sun as *const libc::sockaddr_un as usize)
}

/// Starts a non-blocking Unix stream connection to the path `path`.
pub(crate) fn unix_connect_path(path: &OsStr) -> io::Result<OwnedFd> {
    unix_connect(path.as_bytes(), false)
}

/// Starts a non-blocking Unix stream connection to the abstract name `name`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn unix_connect_abstract(name: &[u8]) -> io::Result<OwnedFd> {
    unix_connect(name, true)
}

fn unix_connect(name: &[u8], abstract_name: bool) -> io::Result<OwnedFd> {
    let (sun, len) = unix_raw(name, abstract_name)?;
    let fd = new_socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
    connect(&fd, (&sun as *const libc::sockaddr_un).cast(), len)?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_names_are_checked() {
        assert!(unix_raw(b"a\0b", false).is_err());
        assert!(unix_raw(&[b'x'; 200], false).is_err());
        let (sun, len) = unix_raw(b"/tmp/s", false).unwrap();
        let base = sun_path_offset(&sun);
        assert_eq!(base, size_of::<libc::sockaddr_un>() - sun.sun_path.len());
        assert_eq!(len as usize, base + 7);
        assert_eq!(sun.sun_path[5], b's' as libc::c_char);
        assert_eq!(sun.sun_path[6], 0);
        let (sun, len) = unix_raw(b"name", true).unwrap();
        assert_eq!(len as usize, base + 5);
        assert_eq!(
            (sun.sun_path[0], sun.sun_path[1]),
            (0, b'n' as libc::c_char)
        );
    }
}
