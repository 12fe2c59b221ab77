//! The placeholder backend for targets without an OS (`target_os = "none"`:
//! bare-metal boards such as `thumbv7em-none-eabihf`).
//!
//! rouse has no backend there; a board with its own network stack
//! implements [`Selector`] itself and names its type everywhere
//! (`Poll::with_selector(MySelector::new()?)`, `Events::<MySelector, 8>`,
//! `impl Source<MySelector>`). [`DefaultSelector`](super::DefaultSelector)
//! still has to name *some* type, so that `Poll`, `Registry`, `Events` and
//! `Source` keep their default type parameter: it is [`NoSelector`], which
//! cannot be created (`Poll::new()` returns `Unsupported`). This file must
//! never grow a real backend.

use core::convert::Infallible;
use core::time::Duration;

use super::{RawEvent, Selector};
use crate::sys::event::Event;
use crate::{io, Interest, Token};

/// The default selector where rouse has no backend: it cannot be created,
/// so `Poll::new()` fails with `Unsupported`. Implement [`Selector`] for
/// the board's own stack and use `Poll::with_selector` instead.
#[derive(Debug)]
pub enum NoSelector {}

/// The event record of [`NoSelector`]; never reported.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct NoEvent;

impl RawEvent for NoEvent {
    fn token(&self) -> Token {
        Token(0)
    }
    fn is_readable(&self) -> bool {
        false
    }
    fn is_writable(&self) -> bool {
        false
    }
    fn is_error(&self) -> bool {
        false
    }
    fn is_read_closed(&self) -> bool {
        false
    }
    fn is_write_closed(&self) -> bool {
        false
    }
    fn is_priority(&self) -> bool {
        false
    }
}

impl Selector for NoSelector {
    type Raw = Infallible;
    type Event = NoEvent;
    type Waker = Infallible;

    fn new() -> io::Result<Self> {
        Err(io::error(
            io::ErrorKind::Unsupported,
            "rouse has no backend for this target: implement Selector and use Poll::with_selector",
            None,
        ))
    }

    fn try_clone(&self) -> io::Result<Self> {
        match *self {}
    }

    fn register(&self, _: Infallible, _: Token, _: Interest) -> io::Result<()> {
        match *self {}
    }

    fn reregister(&self, _: Infallible, _: Token, _: Interest) -> io::Result<()> {
        match *self {}
    }

    fn deregister(&self, _: Infallible) -> io::Result<()> {
        match *self {}
    }

    fn select(&self, _: &mut [Event<Self>], _: Option<Duration>) -> io::Result<usize> {
        match *self {}
    }

    fn new_waker(&self, _: Token) -> io::Result<Infallible> {
        match *self {}
    }

    fn wake(waker: &Infallible) -> io::Result<()> {
        match *waker {}
    }
}
