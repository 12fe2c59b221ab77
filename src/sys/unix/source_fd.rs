//! `SourceFd`: registers any raw file descriptor.

use crate::event::Source;
use crate::sys::Selector;
use crate::{io, Interest, Registry, Token};

/// Adapter that lets a raw file descriptor be registered.
///
/// `SourceFd` borrows the fd; it does not own or close it. Use it for fds
/// rouse has no type for (pipes, signalfd, timerfd, a board's devices).
///
/// On backends that emulate edge triggering (poll(2)), after an event the
/// fd is not reported again until it is re-armed with
/// [`Registry::reregister`]; rouse's own net types re-arm themselves when an
/// operation returns `WouldBlock`.
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
