//! `Waker`: wakes a blocked `Poll` from another thread (or a signal handler).

use core::fmt;

use crate::sys::{DefaultSelector, Selector};
use crate::{io, Registry, Token};

/// Wakes a [`Poll`](crate::Poll) blocked in `poll`, which then returns an
/// event for the waker's token with `is_readable()` set.
///
/// Wakes coalesce: several `wake` calls before the poll thread runs may give
/// one event, but a wake is never lost: after the last `wake` returns, a
/// poll reports the waker's token at least once more.
///
/// A `Poll` should have at most one `Waker` (the poll(2) backend enforces
/// it with `AlreadyExists`).
///
/// # Examples
///
/// ```
/// use rouse::{Events, Poll, Token, Waker};
/// use std::sync::Arc;
/// use std::thread;
///
/// const WAKE: Token = Token(10);
/// let mut poll = Poll::new()?;
/// let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
///
/// let remote = Arc::clone(&waker);
/// let handle = thread::spawn(move || remote.wake().unwrap());
///
/// let mut events = Events::with_capacity(8);
/// loop {
///     poll.poll(&mut events, None)?;
///     if events.iter().any(|e| e.token() == WAKE) {
///         break;
///     }
/// }
/// handle.join().unwrap();
/// # Ok::<(), rouse::io::Error>(())
/// ```
pub struct Waker<S: Selector = DefaultSelector> {
    inner: S::Waker,
}

impl<S: Selector> Waker<S> {
    /// Creates a waker for the `Poll` behind `registry`, reported with
    /// `token`. `Token::RESERVED` gives `InvalidInput`.
    pub fn new(registry: &Registry<S>, token: Token) -> io::Result<Waker<S>> {
        crate::poll::check_token(token)?;
        registry
            .selector()
            .new_waker(token)
            .map(|inner| Waker { inner })
    }

    /// Wakes the `Poll`.
    #[inline]
    pub fn wake(&self) -> io::Result<()> {
        S::wake(&self.inner)
    }
}

impl<S: Selector> fmt::Debug for Waker<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waker").finish_non_exhaustive()
    }
}
