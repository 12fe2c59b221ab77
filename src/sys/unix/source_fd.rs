//! `SourceFd`: registers any raw file descriptor.

use crate::event::Source;
use crate::sys::Selector;
use crate::{io, Interest, Registry, Token};

/// Adapter that lets a raw file descriptor be registered.
///
/// `SourceFd` borrows the fd; it does not own or close it. Use it for fds
/// rouse has no type for (pipes, signalfd, timerfd, a board's devices).
///
/// On epoll and kqueue a `SourceFd` is edge-triggered, as in mio. On the
/// table backends (poll(2), WASI, IOCP), which see only levels and cannot
/// know when the fd has been drained, it is level-triggered: reported at
/// every poll while it is ready. A program that reads (or writes) until
/// `WouldBlock` behaves the same on both and needs no
/// [`Registry::reregister`]; readiness left in place (data unread,
/// `WRITABLE` with nothing to write) makes every poll on a table backend
/// return at once. For edges on every backend, operate the fd through
/// `rouse::event::IoSource` (with `std`) instead (rouse's net types are
/// `IoSource`s).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "net")] {
/// use rouse::unix::SourceFd;
/// use rouse::{Interest, Poll, Token};
/// use std::os::fd::AsRawFd;
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// listener.set_nonblocking(true)?;
/// let poll = Poll::new()?;
/// poll.registry()
///     .register(&mut SourceFd(&listener.as_raw_fd()), Token(0), Interest::READABLE)?;
/// # }
/// # Ok::<(), rouse::io::Error>(())
/// ```
#[derive(Debug)]
pub struct SourceFd<'a>(pub &'a libc::c_int);

impl<S: Selector<Raw = libc::c_int>> Source<S> for SourceFd<'_> {
    fn register(
        &mut self,
        registry: &Registry<S>,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        registry.selector().register(*self.0, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry<S>,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        registry.selector().reregister(*self.0, token, interests)
    }

    fn deregister(&mut self, registry: &Registry<S>) -> io::Result<()> {
        registry.selector().deregister(*self.0)
    }
}
