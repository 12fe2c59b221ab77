//! `Poll` and `Registry`: the user-facing halves of a selector.
//!
//! `Poll` waits; `Registry` registers. Both are thin: every call goes to the
//! backend's [`Selector`] after the checks every backend shares (the
//! reserved token, a zero-capacity `Events`). Nothing here allocates.

use core::fmt;
use core::time::Duration;

use crate::event::{Events, Source};
use crate::sys::{DefaultSelector, Selector};
use crate::{io, Interest, Token};

/// Polls for readiness events on all registered sources.
///
/// This is mio's `Poll`: register sources through [`Poll::registry`], then
/// call [`Poll::poll`] in a loop. Readiness is edge-triggered on every
/// backend: after an event, read or write until `WouldBlock` before waiting
/// again. Spurious events can happen; lost events cannot.
///
/// `Poll<S>` is generic over the backend with [`DefaultSelector`] as the
/// default, so `Poll::new()` picks the target's native backend and
/// `Poll::<PollSelector>::with_selector(..)` another in the same program.
///
/// # Examples
///
/// ```
/// use rouse::{Events, Poll};
/// use std::time::Duration;
///
/// let mut poll = Poll::new()?;
/// let mut events = Events::with_capacity(1024);
///
/// // Nothing is registered, so this times out with no events.
/// poll.poll(&mut events, Some(Duration::from_millis(10)))?;
/// assert!(events.is_empty());
/// # Ok::<(), rouse::io::Error>(())
/// ```
///
/// [`DefaultSelector`]: crate::sys::DefaultSelector
pub struct Poll<S: Selector = DefaultSelector> {
    registry: Registry<S>,
}

/// Registers event sources with a [`Poll`].
///
/// Obtained from [`Poll::registry`] or [`Registry::try_clone`]. It is
/// `Send + Sync` (for the OS backends), so sources can be registered from
/// other threads while the poll thread waits; the change takes effect
/// before that poll returns.
pub struct Registry<S: Selector = DefaultSelector> {
    selector: S,
}

impl Poll {
    /// Creates a `Poll` on the default backend (see [`DefaultSelector`]).
    ///
    /// [`DefaultSelector`]: crate::sys::DefaultSelector
    pub fn new() -> io::Result<Poll> {
        DefaultSelector::new().map(Poll::with_selector)
    }
}

impl<S: Selector> Poll<S> {
    /// Creates a `Poll` on the given backend.
    ///
    /// ```
    /// # #[cfg(all(feature = "poll", unix))] {
    /// use rouse::sys::{PollSelector, Selector};
    /// use rouse::Poll;
    ///
    /// let poll = Poll::with_selector(PollSelector::<64>::new()?);
    /// # drop(poll); }
    /// # Ok::<(), rouse::io::Error>(())
    /// ```
    pub fn with_selector(selector: S) -> Poll<S> {
        Poll {
            registry: Registry { selector },
        }
    }

    /// The registry used to register sources with this `Poll`.
    pub fn registry(&self) -> &Registry<S> {
        &self.registry
    }

    /// Waits for readiness events.
    ///
    /// Clears `events`, then blocks until at least one event is ready or
    /// `timeout` has passed, and fills `events` with at most
    /// `events.capacity()` events; any more are returned by the next call.
    ///
    /// * `None` blocks until an event arrives.
    /// * A timeout is rounded up to the backend's granularity (1 ms for
    ///   epoll and poll(2)): `Some(1 ns)` waits 1 ms, it never spins.
    ///   Timeouts longer than `i32::MAX` ms (about 24.8 days), up to
    ///   `Duration::MAX`, are capped there.
    /// * On timeout it returns `Ok(())` with `events` empty.
    /// * A signal interrupting the wait gives `ErrorKind::Interrupted`; the
    ///   call is not retried.
    /// * `events` with capacity 0 gives `ErrorKind::InvalidInput`.
    #[inline]
    pub fn poll<const N: usize>(
        &mut self,
        events: &mut Events<S, N>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        let buf = events.spare();
        if buf.is_empty() {
            return Err(io::error(
                io::ErrorKind::InvalidInput,
                "Events has capacity 0: nothing could be returned",
                None,
            ));
        }
        let n = self.registry.selector.select(buf, timeout)?;
        events.set_len(n);
        Ok(())
    }
}

impl<S: Selector> Registry<S> {
    /// Registers `source` to be reported with `token` for `interests`.
    ///
    /// Errors: `AlreadyExists` if the source is registered already,
    /// `InvalidInput` for [`Token::RESERVED`], the OS error for a closed or
    /// invalid fd, and on table backends an error naming the capacity when
    /// the table is full. On error nothing is registered.
    ///
    /// ```
    /// # #[cfg(feature = "net")] {
    /// use rouse::net::TcpListener;
    /// use rouse::{Interest, Poll, Token};
    ///
    /// let poll = Poll::new()?;
    /// let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    /// poll.registry().register(&mut listener, Token(0), Interest::READABLE)?;
    /// # }
    /// # Ok::<(), rouse::io::Error>(())
    /// ```
    pub fn register<T>(&self, source: &mut T, token: Token, interests: Interest) -> io::Result<()>
    where
        T: Source<S> + ?Sized,
    {
        check_token(token)?;
        source.register(self, token, interests)
    }

    /// Replaces the token and interests of a registered source, and re-arms
    /// it: readiness present now is reported again.
    ///
    /// Errors: `NotFound` if the source is not registered, `InvalidInput`
    /// for [`Token::RESERVED`].
    pub fn reregister<T>(&self, source: &mut T, token: Token, interests: Interest) -> io::Result<()>
    where
        T: Source<S> + ?Sized,
    {
        check_token(token)?;
        source.reregister(self, token, interests)
    }

    /// Deregisters a source. Once this returns, its token is not reported
    /// by any later poll.
    ///
    /// Errors: `NotFound` if the source is not registered.
    pub fn deregister<T>(&self, source: &mut T) -> io::Result<()>
    where
        T: Source<S> + ?Sized,
    {
        source.deregister(self)
    }

    /// A second registry for the same `Poll`, for another thread.
    ///
    /// Backends that keep registrations in a table share it between clones;
    /// without `std` they cannot (there is nothing to share ownership with)
    /// and return `Unsupported`.
    pub fn try_clone(&self) -> io::Result<Registry<S>> {
        self.selector
            .try_clone()
            .map(|selector| Registry { selector })
    }

    /// The backend, for implementing [`Source`] on new handle types.
    pub fn selector(&self) -> &S {
        &self.selector
    }
}

/// The backend's own fd: the epoll or kqueue fd (the kernel object that
/// holds the registrations), as mio's `Registry` gives it on Unix. On
/// kqueue this is what an AIO request names (see `Interest::AIO`); on both,
/// the fd is readable while some registered source has an event to report,
/// so one `Poll` can be nested in another event loop.
///
/// Implemented for the selectors that have such an fd: `EpollSelector`
/// and `KqueueSelector`, so for the default `Registry` wherever epoll or
/// kqueue is the default. Not for poll(2) (`PollSelector`), whose
/// registrations live in a table in user space: its one fd (an eventfd or
/// a pipe that interrupts a `poll` in progress) says nothing about the
/// registered sources, so lending it would mislead; nor for
/// `AutoSelector`, which may be in its poll(2) mode.
#[cfg(all(unix, feature = "std"))]
impl<S: Selector + std::os::fd::AsFd> std::os::fd::AsFd for Registry<S> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.selector.as_fd()
    }
}

/// The backend's own fd; see [`Registry`]'s `AsFd`.
#[cfg(all(unix, feature = "std"))]
impl<S: Selector + std::os::fd::AsRawFd> std::os::fd::AsRawFd for Registry<S> {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.selector.as_raw_fd()
    }
}

/// The backend's own fd; see [`Registry`]'s `AsFd`.
#[cfg(all(unix, feature = "std"))]
impl<S: Selector + std::os::fd::AsFd> std::os::fd::AsFd for Poll<S> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.registry.selector.as_fd()
    }
}

/// The backend's own fd; see [`Registry`]'s `AsFd`.
#[cfg(all(unix, feature = "std"))]
impl<S: Selector + std::os::fd::AsRawFd> std::os::fd::AsRawFd for Poll<S> {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.registry.selector.as_raw_fd()
    }
}

/// Rejects [`Token::RESERVED`]: the one check every registration path and
/// `Waker::new` share.
pub(crate) fn check_token(token: Token) -> io::Result<()> {
    if token == Token::RESERVED {
        Err(io::reserved_token())
    } else {
        Ok(())
    }
}

impl<S: Selector> fmt::Debug for Poll<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Poll").finish_non_exhaustive()
    }
}

impl<S: Selector> fmt::Debug for Registry<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}
