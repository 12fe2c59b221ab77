//! `Events`: the fixed-capacity buffer `Poll::poll` fills.
//!
//! The storage is inline (`N` records, chosen at compile time), so creating
//! one never allocates; the backend writes into it directly.

use core::fmt;
use core::slice;

use super::Event;
use crate::sys::{DefaultSelector, Selector};

/// The number of records in the default [`Events`] type, and so the largest
/// capacity [`Events::with_capacity`] gives.
pub const DEFAULT_CAPACITY: usize = 1024;

/// A fixed-capacity collection of readiness events.
///
/// `N` is the storage, inline and chosen at compile time; the *capacity*
/// (how many events one poll may return) is `N` or less. mio code's
/// `Events::with_capacity(n)` compiles unchanged and gives
/// `min(n, DEFAULT_CAPACITY)`.
///
/// A capacity of 0 is allowed when constructing, but polling with it fails
/// with `InvalidInput`: such a poll could never report anything.
///
/// # Examples
///
/// ```
/// use rouse::Events;
///
/// let events = Events::with_capacity(128);
/// assert_eq!(events.capacity(), 128);
/// assert!(events.is_empty());
/// ```
///
/// Picking the storage size and the backend explicitly:
///
/// ```
/// # #[cfg(all(feature = "poll", unix))] {
/// use rouse::{sys::PollSelector, Events};
///
/// let events = Events::<PollSelector<64>, 16>::new();
/// assert_eq!(events.capacity(), 16);
/// # }
/// ```
pub struct Events<S: Selector = DefaultSelector, const N: usize = DEFAULT_CAPACITY> {
    len: usize,
    capacity: usize,
    buf: [Event<S>; N],
}

impl Events {
    /// Events for the default backend with room for `min(capacity,
    /// DEFAULT_CAPACITY)` events per poll. Never allocates.
    pub fn with_capacity(capacity: usize) -> Events {
        Events::with_limit(capacity)
    }
}

impl<S: Selector, const N: usize> Events<S, N> {
    /// Events with capacity `N`.
    pub fn new() -> Self {
        Self::with_limit(N)
    }

    /// Events with capacity `min(capacity, N)`: the generic form of
    /// [`Events::with_capacity`].
    pub fn with_limit(capacity: usize) -> Self {
        Events {
            len: 0,
            capacity: capacity.min(N),
            buf: [Event::default(); N],
        }
    }

    /// The most events one poll can return.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether the last poll returned no events.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many events the last poll returned.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Iterates over the events of the last poll.
    pub fn iter(&self) -> Iter<'_, S> {
        // `len <= capacity <= N` always; `get` keeps a panic path (and its
        // message) out of every program that iterates.
        Iter {
            inner: self.buf.get(..self.len).unwrap_or_default().iter(),
        }
    }

    /// Removes all events (`poll` does this itself first).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The writable part of the buffer, for the selector.
    #[inline]
    pub(crate) fn spare(&mut self) -> &mut [Event<S>] {
        self.len = 0;
        // `capacity <= N` always; `get_mut` keeps a panic path out.
        self.buf.get_mut(..self.capacity).unwrap_or_default()
    }

    /// Records how many events the selector wrote.
    #[inline]
    pub(crate) fn set_len(&mut self, len: usize) {
        debug_assert!(len <= self.capacity);
        self.len = len.min(self.capacity);
    }
}

impl<S: Selector, const N: usize> Default for Events<S, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Selector, const N: usize> fmt::Debug for Events<S, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a, S: Selector, const N: usize> IntoIterator for &'a Events<S, N> {
    type Item = &'a Event<S>;
    type IntoIter = Iter<'a, S>;

    fn into_iter(self) -> Iter<'a, S> {
        self.iter()
    }
}

/// Iterator over the events of one poll, from [`Events::iter`].
#[derive(Clone)]
pub struct Iter<'a, S: Selector = DefaultSelector> {
    inner: slice::Iter<'a, Event<S>>,
}

impl<'a, S: Selector> Iterator for Iter<'a, S> {
    type Item = &'a Event<S>;

    #[inline]
    fn next(&mut self) -> Option<&'a Event<S>> {
        self.inner.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<S: Selector> ExactSizeIterator for Iter<'_, S> {}

impl<S: Selector> core::iter::FusedIterator for Iter<'_, S> {}

impl<S: Selector> fmt::Debug for Iter<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("remaining", &self.inner.len())
            .finish()
    }
}

#[cfg(all(test, feature = "poll", unix))]
mod tests {
    use super::*;
    use crate::sys::poll::PollEvent;
    use crate::sys::PollSelector;
    use crate::{Interest, Token};
    use std::format;

    type S = PollSelector<4>;

    fn fill(events: &mut Events<S, 4>, tokens: &[usize]) {
        let buf = events.spare();
        let n = tokens.len().min(buf.len());
        for (slot, &t) in buf.iter_mut().zip(tokens) {
            *slot = Event::from_raw(PollEvent::from_revents(
                Token(t),
                libc::POLLIN,
                Interest::READABLE,
            ));
        }
        events.set_len(n);
    }

    #[test]
    fn iterates_what_the_selector_wrote() {
        let mut events = Events::<S, 4>::new();
        assert_eq!(events.capacity(), 4);
        fill(&mut events, &[3, 1, 2]);
        assert_eq!(events.len(), 3);
        let tokens: std::vec::Vec<_> = events.iter().map(|e| e.token().0).collect();
        assert_eq!(tokens, [3, 1, 2]);
        assert_eq!(events.iter().len(), 3);
        assert!((&events).into_iter().all(|e| e.is_readable()));
        assert!(format!("{events:?}").contains("Token(3)"));
        events.clear();
        assert!(events.is_empty() && events.iter().next().is_none());
    }

    #[test]
    fn limit_caps_what_a_poll_may_write() {
        let mut events = Events::<S, 4>::with_limit(2);
        assert_eq!(events.spare().len(), 2);
        fill(&mut events, &[7, 8, 9]);
        assert_eq!(events.len(), 2);
        let mut none = Events::<S, 4>::with_limit(0);
        assert!(none.spare().is_empty());
        // A new poll starts from empty.
        fill(&mut events, &[]);
        assert!(events.is_empty());
    }
}
