//! `TableEvent`: the event record of the backends that translate the OS's
//! answer themselves (poll(2), WASI, IOCP, and AutoSelector's poll(2)
//! mode): a token and a byte of portable readiness, computed once in
//! `select`, so every accessor is one bit test.
//!
//! Pure `core`; it must never depend on a backend.

use super::RawEvent;
use crate::Token;

/// Readiness bits of a [`TableEvent`].
pub(crate) const READABLE: u8 = 1;
pub(crate) const WRITABLE: u8 = 2;
pub(crate) const ERROR: u8 = 4;
pub(crate) const READ_CLOSED: u8 = 8;
pub(crate) const WRITE_CLOSED: u8 = 16;
pub(crate) const PRIORITY: u8 = 32;

/// One event of a table backend: the token and its readiness.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct TableEvent {
    token: usize,
    ready: u8,
}

impl TableEvent {
    /// A record for `token` with the readiness bits `ready`.
    #[inline]
    pub(crate) const fn new(token: usize, ready: u8) -> TableEvent {
        TableEvent { token, ready }
    }

    /// The readiness bits (AutoSelector carries them in an `epoll_event`).
    #[cfg_attr(
        not(all(
            feature = "epoll",
            feature = "poll",
            any(target_os = "linux", target_os = "android")
        )),
        allow(dead_code)
    )]
    #[inline]
    pub(crate) const fn bits(&self) -> u8 {
        self.ready
    }
}

impl RawEvent for TableEvent {
    #[inline]
    fn token(&self) -> Token {
        Token(self.token)
    }
    #[inline]
    fn is_readable(&self) -> bool {
        self.ready & READABLE != 0
    }
    #[inline]
    fn is_writable(&self) -> bool {
        self.ready & WRITABLE != 0
    }
    #[inline]
    fn is_error(&self) -> bool {
        self.ready & ERROR != 0
    }
    #[inline]
    fn is_read_closed(&self) -> bool {
        self.ready & READ_CLOSED != 0
    }
    #[inline]
    fn is_write_closed(&self) -> bool {
        self.ready & WRITE_CLOSED != 0
    }
    #[inline]
    fn is_priority(&self) -> bool {
        self.ready & PRIORITY != 0
    }
}
