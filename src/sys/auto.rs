//! epoll, falling back to poll(2) at run time (Linux, Android).
//!
//! A board's kernel may be built without epoll (`CONFIG_EPOLL=n`), and a
//! binary built once for a family of boards cannot know at compile time.
//! [`AutoSelector`] tries `epoll_create1` and, only if the kernel answers
//! `ENOSYS`, uses poll(2) with an `N`-entry table instead; any other error
//! (out of descriptors, say) is returned as it is.
//!
//! The event record is the kernel's `epoll_event`, so in epoll mode the
//! kernel writes events straight into [`Events`](crate::Events) as it does
//! for [`EpollSelector`]. In poll(2) mode the same record carries poll(2)'s
//! translated readiness, marked by a bit epoll never reports. This file
//! holds no backend logic of its own: it must only dispatch and convert.

use core::fmt;
use core::time::Duration;

use super::epoll::{EpollEvent, EpollSelector, EpollWaker};
use super::poll::{PollEvent, PollSelector, PollWaker, DEFAULT_TABLE_CAPACITY};
use super::{RawEvent, Selector};
use crate::sys::event::Event;
use crate::{io, Interest, Token};

/// epoll, or poll(2) with room for `N` registrations where the kernel has
/// no epoll; chosen once, when the selector is created.
///
/// # Cost
///
/// * epoll mode: the same syscalls as [`EpollSelector`] and the same
///   record (the kernel fills `Events` in place); one `match` on the mode
///   per call, and one extra bit test per readiness accessor on
///   [`Event`].
/// * poll(2) mode: the same syscalls as [`PollSelector<N>`], plus the copy
///   of each event into an `epoll_event`-sized record, through a buffer of
///   [`POLL_BATCH`] events on the stack. A poll that fills that buffer asks
///   poll(2) again without waiting for the rest, so one extra poll(2) call
///   per `POLL_BATCH` ready sources.
/// * Memory: the poll(2) table's size is part of the type, so it is paid
///   in both modes (inline without `std`; one allocation with `std`, made
///   only if poll(2) is used).
///
/// Readiness is the same as each backend reports it (the tests check every
/// translated bit), and edge triggering holds in both modes.
///
/// # Examples
///
/// ```
/// use rouse::sys::{AutoSelector, Selector};
/// use rouse::{Events, Poll};
///
/// let mut poll = Poll::with_selector(AutoSelector::<64>::new()?);
/// let mut events = Events::<AutoSelector<64>, 16>::new();
/// poll.poll(&mut events, Some(std::time::Duration::ZERO))?;
/// println!("epoll: {}", poll.registry().selector().is_epoll());
/// # Ok::<(), rouse::io::Error>(())
/// ```
pub struct AutoSelector<const N: usize = DEFAULT_TABLE_CAPACITY> {
    inner: Inner<N>,
}

enum Inner<const N: usize> {
    Epoll(EpollSelector),
    Poll(PollSelector<N>),
}

/// How many events a poll(2)-mode `select` translates per poll(2) call.
pub const POLL_BATCH: usize = 32;

/// Set in `epoll_event.events` when the record holds poll(2) readiness.
/// It is `EPOLLET`, an input flag that `epoll_wait` never reports.
const FROM_POLL: u32 = 1 << 31;

/// The event record of an [`AutoSelector`]: the kernel's `epoll_event`,
/// holding either what epoll reported or poll(2)'s readiness.
#[derive(Copy, Clone)]
#[repr(transparent)]
pub struct AutoEvent(libc::epoll_event);

impl AutoEvent {
    #[inline]
    fn events(&self) -> u32 {
        // Copy the field out: the struct may be packed.
        self.0.events
    }

    #[inline]
    fn data(&self) -> u64 {
        self.0.u64
    }

    /// As epoll reported it.
    #[inline]
    fn as_epoll(&self) -> EpollEvent {
        EpollEvent::new(self.events(), Token(self.data() as usize))
    }

    /// The record for an epoll event; for tests of event translation.
    pub fn from_epoll(events: u32, token: Token) -> AutoEvent {
        AutoEvent(libc::epoll_event {
            events: events & !FROM_POLL,
            u64: token.0 as u64,
        })
    }

    /// The record for a poll(2) event: every readiness bit is kept, in the
    /// low byte of a `FROM_POLL` record.
    pub fn from_poll(event: &PollEvent) -> AutoEvent {
        AutoEvent(libc::epoll_event {
            events: FROM_POLL | u32::from(event.bits()),
            u64: event.token().0 as u64,
        })
    }

    /// Whether the record came from poll(2) (fallback mode).
    #[inline]
    fn polled(&self) -> bool {
        self.events() & FROM_POLL != 0
    }

    /// As poll(2) reported it (fallback mode).
    #[inline]
    fn as_polled(&self) -> PollEvent {
        // The low byte holds the readiness bits: the cast keeps exactly them.
        PollEvent::new(self.data() as usize, self.events() as u8)
    }

    /// Reads one readiness kind from whichever backend wrote the record.
    #[inline]
    fn either(&self, polled: fn(&PollEvent) -> bool, epoll: fn(&EpollEvent) -> bool) -> bool {
        if self.polled() {
            polled(&self.as_polled())
        } else {
            epoll(&self.as_epoll())
        }
    }
}

impl Default for AutoEvent {
    fn default() -> Self {
        AutoEvent(libc::epoll_event { events: 0, u64: 0 })
    }
}

impl fmt::Debug for AutoEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AutoEvent")
            .field("events", &self.events())
            .field("data", &self.data())
            .finish()
    }
}

impl RawEvent for AutoEvent {
    #[inline]
    fn token(&self) -> Token {
        // Both modes store the token in the 64-bit data field, which holds
        // every `usize` on 32- and 64-bit targets.
        Token(self.data() as usize)
    }
    #[inline]
    fn is_readable(&self) -> bool {
        self.either(RawEvent::is_readable, RawEvent::is_readable)
    }
    #[inline]
    fn is_writable(&self) -> bool {
        self.either(RawEvent::is_writable, RawEvent::is_writable)
    }
    #[inline]
    fn is_error(&self) -> bool {
        self.either(RawEvent::is_error, RawEvent::is_error)
    }
    #[inline]
    fn is_read_closed(&self) -> bool {
        self.either(RawEvent::is_read_closed, RawEvent::is_read_closed)
    }
    #[inline]
    fn is_write_closed(&self) -> bool {
        self.either(RawEvent::is_write_closed, RawEvent::is_write_closed)
    }
    #[inline]
    fn is_priority(&self) -> bool {
        self.either(RawEvent::is_priority, RawEvent::is_priority)
    }
}

impl<const N: usize> AutoSelector<N> {
    /// Creates the selector in poll(2) mode without trying epoll: what
    /// [`Selector::new`] falls back to. For testing the fallback on a
    /// kernel that has epoll, or for choosing poll(2) at run time.
    pub fn new_poll() -> io::Result<Self> {
        PollSelector::new().map(|p| AutoSelector {
            inner: Inner::Poll(p),
        })
    }

    /// Whether this selector uses epoll (`false`: poll(2)).
    pub fn is_epoll(&self) -> bool {
        matches!(self.inner, Inner::Epoll(_))
    }
}

/// The poll(2) half of [`Selector::select`]: runs poll(2) into a stack
/// buffer and translates, asking again (without waiting) while the buffer
/// fills and `events` has room. Events already taken are never dropped: a
/// later error is returned only if nothing was written.
fn select_poll<const N: usize>(
    poll: &PollSelector<N>,
    events: &mut [Event<AutoSelector<N>>],
    timeout: Option<Duration>,
) -> io::Result<usize> {
    let mut buf = [Event::<PollSelector<N>>::default(); POLL_BATCH];
    let mut out = 0;
    let mut wait = timeout;
    loop {
        let room = (events.len() - out).min(POLL_BATCH);
        let n = match poll.select(&mut buf[..room], wait) {
            Ok(n) => n,
            Err(e) if out == 0 => return Err(e),
            Err(_) => return Ok(out),
        };
        for (dst, src) in events[out..].iter_mut().zip(&buf[..n]) {
            *dst = Event::from_raw(AutoEvent::from_poll(src.raw()));
        }
        out += n;
        if n < room || out == events.len() {
            return Ok(out);
        }
        wait = Some(Duration::ZERO);
    }
}

impl<const N: usize> Selector for AutoSelector<N> {
    type Raw = libc::c_int;
    type Event = AutoEvent;
    type Waker = AutoWaker;

    /// The poll(2) table's size: the limit in poll(2) mode, and so the
    /// number of sources a program can count on in either mode (epoll mode
    /// has no table and holds more).
    const CAPACITY: Option<usize> = Some(N);

    /// epoll, or poll(2) if `epoll_create1` fails with `ENOSYS`.
    fn new() -> io::Result<Self> {
        match EpollSelector::new() {
            Ok(ep) => Ok(AutoSelector {
                inner: Inner::Epoll(ep),
            }),
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => Self::new_poll(),
            Err(e) => Err(e),
        }
    }

    fn try_clone(&self) -> io::Result<Self> {
        let inner = match &self.inner {
            Inner::Epoll(s) => Inner::Epoll(s.try_clone()?),
            Inner::Poll(s) => Inner::Poll(s.try_clone()?),
        };
        Ok(AutoSelector { inner })
    }

    fn register(&self, fd: libc::c_int, token: Token, interests: Interest) -> io::Result<()> {
        match &self.inner {
            Inner::Epoll(s) => s.register(fd, token, interests),
            Inner::Poll(s) => s.register(fd, token, interests),
        }
    }

    fn reregister(&self, fd: libc::c_int, token: Token, interests: Interest) -> io::Result<()> {
        match &self.inner {
            Inner::Epoll(s) => s.reregister(fd, token, interests),
            Inner::Poll(s) => s.reregister(fd, token, interests),
        }
    }

    fn deregister(&self, fd: libc::c_int) -> io::Result<()> {
        match &self.inner {
            Inner::Epoll(s) => s.deregister(fd),
            Inner::Poll(s) => s.deregister(fd),
        }
    }

    fn select(&self, events: &mut [Event<Self>], timeout: Option<Duration>) -> io::Result<usize> {
        match &self.inner {
            Inner::Epoll(s) => {
                let len = events.len();
                // SAFETY: not an OS call but a view for one: `Event<Self>`
                // is repr(transparent) over `AutoEvent`, and
                // `Event<EpollSelector>` over `EpollEvent`, both
                // repr(transparent) over `libc::epoll_event`; so the two
                // slices have the same layout, every bit pattern is valid for
                // both, and the new slice borrows `events` exclusively.
                let raw = unsafe {
                    core::slice::from_raw_parts_mut(
                        events.as_mut_ptr().cast::<Event<EpollSelector>>(),
                        len,
                    )
                };
                s.select(raw, timeout)
            }
            Inner::Poll(s) => select_poll(s, events, timeout),
        }
    }

    fn new_waker(&self, token: Token) -> io::Result<AutoWaker> {
        match &self.inner {
            Inner::Epoll(s) => s.new_waker(token).map(AutoWaker::Epoll),
            Inner::Poll(s) => s.new_waker(token).map(AutoWaker::Poll),
        }
    }

    fn wake(waker: &AutoWaker) -> io::Result<()> {
        match waker {
            AutoWaker::Epoll(w) => EpollSelector::wake(w),
            AutoWaker::Poll(w) => PollSelector::<N>::wake(w),
        }
    }

    #[cfg(feature = "std")]
    fn register_armed(
        &self,
        fd: libc::c_int,
        token: Token,
        interests: Interest,
    ) -> io::Result<Option<super::Arm>> {
        match &self.inner {
            Inner::Epoll(s) => s.register_armed(fd, token, interests),
            Inner::Poll(s) => s.register_armed(fd, token, interests),
        }
    }

    #[cfg(feature = "std")]
    fn reregister_armed(
        &self,
        fd: libc::c_int,
        token: Token,
        interests: Interest,
    ) -> io::Result<Option<super::Arm>> {
        match &self.inner {
            Inner::Epoll(s) => s.reregister_armed(fd, token, interests),
            Inner::Poll(s) => s.reregister_armed(fd, token, interests),
        }
    }
}

impl<const N: usize> fmt::Debug for AutoSelector<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = if self.is_epoll() { "epoll" } else { "poll" };
        f.debug_struct("AutoSelector")
            .field("mode", &mode)
            .field("capacity", &N)
            .finish()
    }
}

/// The [`AutoSelector`] half of a [`Waker`](crate::Waker): the waker of
/// the backend in use.
#[derive(Debug)]
pub enum AutoWaker {
    /// epoll's eventfd waker.
    Epoll(EpollWaker),
    /// poll(2)'s waker.
    Poll(PollWaker),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same<A: RawEvent, B: RawEvent>(a: &A, b: &B) -> bool {
        a.token() == b.token()
            && a.is_readable() == b.is_readable()
            && a.is_writable() == b.is_writable()
            && a.is_error() == b.is_error()
            && a.is_read_closed() == b.is_read_closed()
            && a.is_write_closed() == b.is_write_closed()
            && a.is_priority() == b.is_priority()
    }

    /// Every combination of the epoll bits rouse reads reads the same
    /// through `AutoEvent`, and so does every poll(2) `revents` combination
    /// for every interest set: nothing is lost in either mode.
    #[test]
    fn translation_is_lossless() {
        let epoll_bits = [
            libc::EPOLLIN,
            libc::EPOLLPRI,
            libc::EPOLLOUT,
            libc::EPOLLERR,
            libc::EPOLLHUP,
            libc::EPOLLRDHUP,
        ];
        for token in [Token(0), Token(7), Token(usize::MAX - 1)] {
            for mask in 0u32..1 << epoll_bits.len() {
                let bits = epoll_bits
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .fold(0u32, |acc, (_, b)| acc | *b as u32);
                let ep = EpollEvent::new(bits, token);
                assert!(same(&ep, &AutoEvent::from_epoll(bits, token)), "{bits:#x}");
            }
            let poll_bits = [
                libc::POLLIN,
                libc::POLLPRI,
                libc::POLLOUT,
                libc::POLLERR,
                libc::POLLHUP,
                libc::POLLNVAL,
                libc::POLLRDHUP,
            ];
            let interests = [
                Interest::READABLE,
                Interest::WRITABLE,
                Interest::READABLE | Interest::WRITABLE,
                Interest::READABLE | Interest::PRIORITY,
            ];
            for interest in interests {
                for mask in 0u32..1 << poll_bits.len() {
                    let rev = poll_bits
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| mask & (1 << i) != 0)
                        .fold(0, |acc, (_, b)| acc | *b);
                    let pe = PollEvent::from_revents(token, rev, interest);
                    let auto = AutoEvent::from_poll(&pe);
                    assert!(same(&pe, &auto), "{rev:#x} {interest:?}");
                    assert!(auto.polled());
                }
            }
        }
    }

    #[test]
    fn the_record_is_the_kernels() {
        assert_eq!(
            core::mem::size_of::<AutoEvent>(),
            core::mem::size_of::<libc::epoll_event>()
        );
        assert_eq!(
            core::mem::align_of::<Event<AutoSelector<4>>>(),
            core::mem::align_of::<Event<EpollSelector>>()
        );
        assert_eq!(
            core::mem::size_of::<Event<AutoSelector<4>>>(),
            core::mem::size_of::<Event<EpollSelector>>()
        );
    }
}
