//! `IoSource`: a socket plus what it needs to be a readiness source.
//!
//! Every net type wraps one. It registers the socket's fd with a backend
//! and keeps the re-arm handle ([`Arm`]) the backend hands back, so that
//! an operation meeting `WouldBlock` re-arms its direction on backends that
//! emulate edge triggering (poll(2)). Backends whose kernel reports edges
//! (epoll) hand out no `Arm`, and then an operation costs one branch more
//! than the bare std call.
//!
//! It must never block, retry, allocate or change a result: the only side
//! effect it adds to an operation is the re-arm after `WouldBlock`.

use std::io;
#[cfg(not(windows))]
use std::os::fd::AsRawFd as AsRawSocketHandle;
#[cfg(windows)]
use std::os::windows::io::AsRawSocket as AsRawSocketHandle;

use crate::event::Source;
use crate::net::RawSocketHandle;
use crate::sys::{Arm, Selector};
use crate::{Interest, Registry, Token};

/// A socket `T` that can be registered, and re-arms itself after
/// `WouldBlock` where the backend needs it.
pub(crate) struct IoSource<T> {
    inner: T,
    arm: Option<Arm>,
}

impl<T> IoSource<T> {
    /// Wraps `inner`, not yet registered.
    pub(crate) fn new(inner: T) -> IoSource<T> {
        IoSource { inner, arm: None }
    }

    /// The socket, for operations that cannot return `WouldBlock`
    /// (addresses, options).
    #[inline]
    pub(crate) fn get(&self) -> &T {
        &self.inner
    }

    /// The socket, giving up the registration's re-arm handle.
    pub(crate) fn into_inner(self) -> T {
        self.inner
    }

    /// Runs the operation `f` on the socket; if it fails with `WouldBlock`,
    /// re-arms `interest` (the direction `f` waits for) on backends that
    /// need it. Returns `f`'s result unchanged.
    #[inline]
    pub(crate) fn do_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let result = f(&self.inner);
        if let (Err(err), Some(arm)) = (&result, &self.arm) {
            if err.kind() == io::ErrorKind::WouldBlock {
                arm.rearm(interest);
            }
        }
        result
    }
}

impl<S, T> Source<S> for IoSource<T>
where
    S: Selector<Raw = RawSocketHandle>,
    T: AsRawSocketHandle,
{
    fn register(
        &mut self,
        registry: &Registry<S>,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        let fd = raw(&self.inner);
        self.arm = registry.selector().register_armed(fd, token, interests)?;
        Ok(())
    }

    fn reregister(
        &mut self,
        registry: &Registry<S>,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        let fd = raw(&self.inner);
        self.arm = registry.selector().reregister_armed(fd, token, interests)?;
        Ok(())
    }

    fn deregister(&mut self, registry: &Registry<S>) -> io::Result<()> {
        registry.selector().deregister(raw(&self.inner))?;
        self.arm = None;
        Ok(())
    }
}

/// The OS handle of `socket`.
#[cfg(not(windows))]
#[inline]
fn raw(socket: &impl AsRawSocketHandle) -> RawSocketHandle {
    socket.as_raw_fd()
}

/// The OS handle of `socket`.
#[cfg(windows)]
#[inline]
fn raw(socket: &impl AsRawSocketHandle) -> RawSocketHandle {
    socket.as_raw_socket()
}
