//! [`Event`]: one readiness record as a selector writes it, and what users
//! read from it.
//!
//! It lives at the backend boundary (a selector's `select` writes a slice
//! of them) and is re-exported as `rouse::event::Event`, so `sys` needs
//! nothing from the layers above it.

use core::fmt;

use super::{DefaultSelector, RawEvent, Selector};
use crate::Token;

/// A readiness event: a token and what its source is ready for.
///
/// `Event` is `repr(transparent)` over the backend's own record (on epoll,
/// the kernel's `epoll_event`), so the kernel writes events in place and
/// reading one copies nothing.
///
/// Readiness other than readable and writable is a hint (see
/// [`Poll`](crate::Poll)): a portable program handles end-of-file and
/// errors when it reads or writes, whatever the event said.
#[repr(transparent)]
pub struct Event<S: Selector = DefaultSelector> {
    raw: S::Event,
}

impl<S: Selector> Event<S> {
    /// Wraps a backend record; for implementors of [`Selector`].
    pub fn from_raw(raw: S::Event) -> Event<S> {
        Event { raw }
    }

    /// The backend record; for implementors of [`Selector`].
    pub fn raw(&self) -> &S::Event {
        &self.raw
    }

    /// The token the source was registered with.
    #[inline]
    pub fn token(&self) -> Token {
        self.raw.token()
    }

    /// The source is readable (or a listener has connections to accept).
    #[inline]
    pub fn is_readable(&self) -> bool {
        self.raw.is_readable()
    }

    /// The source is writable (or a connect has finished).
    #[inline]
    pub fn is_writable(&self) -> bool {
        self.raw.is_writable()
    }

    /// The source has an error pending.
    #[inline]
    pub fn is_error(&self) -> bool {
        self.raw.is_error()
    }

    /// The read half is closed (the peer shut down or hung up).
    #[inline]
    pub fn is_read_closed(&self) -> bool {
        self.raw.is_read_closed()
    }

    /// The write half is closed.
    #[inline]
    pub fn is_write_closed(&self) -> bool {
        self.raw.is_write_closed()
    }

    /// Priority (out-of-band) data is readable.
    #[inline]
    pub fn is_priority(&self) -> bool {
        self.raw.is_priority()
    }

    /// An AIO request completed: kqueue's `EVFILT_AIO` on FreeBSD,
    /// DragonFly, macOS and iOS (see [`Interest::AIO`]); always `false`
    /// elsewhere, as with mio.
    ///
    /// [`Interest::AIO`]: crate::Interest
    #[inline]
    pub fn is_aio(&self) -> bool {
        self.raw.is_aio()
    }

    /// A list of AIO requests completed: kqueue's `EVFILT_LIO` on FreeBSD
    /// (see [`Interest::LIO`]); always `false` elsewhere, as with mio.
    ///
    /// [`Interest::LIO`]: crate::Interest
    #[inline]
    pub fn is_lio(&self) -> bool {
        self.raw.is_lio()
    }
}

impl<S: Selector> Clone for Event<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: Selector> Copy for Event<S> {}

impl<S: Selector> Default for Event<S> {
    fn default() -> Self {
        Event {
            raw: S::Event::default(),
        }
    }
}

impl<S: Selector> fmt::Debug for Event<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("token", &self.token())
            .field("readable", &self.is_readable())
            .field("writable", &self.is_writable())
            .field("error", &self.is_error())
            .field("read_closed", &self.is_read_closed())
            .field("write_closed", &self.is_write_closed())
            .field("priority", &self.is_priority())
            .field("aio", &self.is_aio())
            .field("lio", &self.is_lio())
            .finish()
    }
}
