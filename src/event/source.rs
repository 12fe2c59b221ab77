//! `Source`: anything that can be registered with a `Registry`.

use crate::sys::{DefaultSelector, Selector};
use crate::{io, Interest, Registry, Token};

/// An event source that may be registered with a [`Registry`].
///
/// Generic over the selector, with the default backend as the default: a
/// mio-style `impl Source for MySource` (taking `&Registry`) implements
/// `Source<DefaultSelector>`, while rouse's own types implement `Source<S>`
/// for every backend, so one socket type works with epoll and poll(2) in the
/// same program.
///
/// Call [`Registry::register`], not these methods: the registry checks the
/// token first. Implementations delegate to a type that already implements
#[cfg_attr(
    unix,
    doc = "`Source`, such as a net type or [`SourceFd`](crate::unix::SourceFd)."
)]
#[cfg_attr(
    not(unix),
    doc = "`Source`, such as a net type or `SourceFd` (on Unix)."
)]
///
/// # Dropping
///
/// rouse's own sources (the `net` types, pipes, `IoSource`) end their
/// registration when dropped, on every backend, as the kernel does on epoll.
/// A source that delegates to one of them inherits that. A raw fd
/// registered with `SourceFd` and closed while registered is forgotten once
/// the backend sees it closed, or when its number is registered again for
/// another file; deregister it before closing it to be sure its token is
/// never reported again on a table backend (poll(2), WASI, IOCP).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "net")] {
/// use rouse::event::Source;
/// use rouse::net::TcpStream;
/// use rouse::{Interest, Registry, Token};
/// use std::io;
///
/// pub struct MySource {
///     socket: TcpStream,
/// }
///
/// impl Source for MySource {
///     fn register(&mut self, registry: &Registry, token: Token, interests: Interest)
///         -> io::Result<()>
///     {
///         self.socket.register(registry, token, interests)
///     }
///
///     fn reregister(&mut self, registry: &Registry, token: Token, interests: Interest)
///         -> io::Result<()>
///     {
///         self.socket.reregister(registry, token, interests)
///     }
///
///     fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
///         self.socket.deregister(registry)
///     }
/// }
/// # }
/// ```
pub trait Source<S: Selector = DefaultSelector> {
    /// Registers `self` with `registry`; use [`Registry::register`] instead.
    fn register(
        &mut self,
        registry: &Registry<S>,
        token: Token,
        interests: Interest,
    ) -> io::Result<()>;

    /// Re-registers `self`; use [`Registry::reregister`] instead.
    fn reregister(
        &mut self,
        registry: &Registry<S>,
        token: Token,
        interests: Interest,
    ) -> io::Result<()>;

    /// Deregisters `self`; use [`Registry::deregister`] instead.
    fn deregister(&mut self, registry: &Registry<S>) -> io::Result<()>;
}

#[cfg(feature = "std")]
impl<S: Selector, T: Source<S> + ?Sized> Source<S> for std::boxed::Box<T> {
    fn register(
        &mut self,
        registry: &Registry<S>,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        (**self).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry<S>,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        (**self).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry<S>) -> io::Result<()> {
        (**self).deregister(registry)
    }
}
