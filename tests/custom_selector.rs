//! A board's own backend: what a bare-metal user (`thumbv7em-none-eabihf`,
//! where rouse has no backend and `DefaultSelector` is a placeholder) writes
//! to use `Poll`, `Events`, `Source` and `Waker` with its own network stack.
//!
//! `MemSelector` is that backend for a pretend stack kept in memory: the
//! stack's receive and transmit paths call `deliver` (on a board, from the
//! Ethernet interrupt), and `select` hands out each pending edge once. It
//! uses only `core` (plus `Arc` for the waker's flag, which a board would
//! keep in a `static`), runs on the host in `cargo test`, and never blocks:
//! an empty poll returns at once, as a board's would after its timeout.

use core::cell::RefCell;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::sync::Arc;

use rouse::event::{Event, Source};
use rouse::io::{self, ErrorKind};
use rouse::sys::{RawEvent, Selector};
use rouse::{Events, Interest, Poll, Registry, Token, Waker};

/// A socket handle of the board's stack.
type Handle = u8;

/// Registrations the board has room for.
const SLOTS: usize = 4;

#[derive(Copy, Clone, Debug, Default)]
struct MemEvent {
    token: usize,
    readable: bool,
    writable: bool,
}

impl RawEvent for MemEvent {
    fn token(&self) -> Token {
        Token(self.token)
    }
    fn is_readable(&self) -> bool {
        self.readable
    }
    fn is_writable(&self) -> bool {
        self.writable
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

#[derive(Copy, Clone, Debug)]
struct Slot {
    handle: Handle,
    token: Token,
    interests: Interest,
    /// Edges delivered by the stack and not yet reported.
    readable: bool,
    writable: bool,
}

#[derive(Debug)]
struct MemSelector {
    slots: RefCell<[Option<Slot>; SLOTS]>,
    waker: RefCell<Option<(Arc<AtomicBool>, Token)>>,
}

impl MemSelector {
    fn slot(&self, handle: Handle) -> Option<usize> {
        self.slots
            .borrow()
            .iter()
            .position(|s| s.is_some_and(|s| s.handle == handle))
    }

    /// The stack's side: `handle` became readable and/or writable.
    fn deliver(&self, handle: Handle, readable: bool, writable: bool) {
        for slot in self.slots.borrow_mut().iter_mut().flatten() {
            if slot.handle == handle {
                slot.readable |= readable && slot.interests.is_readable();
                slot.writable |= writable && slot.interests.is_writable();
            }
        }
    }

    fn set(&self, handle: Handle, token: Token, interests: Interest, i: usize) {
        self.slots.borrow_mut()[i] = Some(Slot {
            handle,
            token,
            interests,
            readable: false,
            writable: false,
        });
    }
}

impl Selector for MemSelector {
    type Raw = Handle;
    type Event = MemEvent;
    type Waker = Arc<AtomicBool>;
    const CAPACITY: Option<usize> = Some(SLOTS);

    fn new() -> io::Result<Self> {
        Ok(MemSelector {
            slots: RefCell::new([None; SLOTS]),
            waker: RefCell::new(None),
        })
    }

    fn try_clone(&self) -> io::Result<Self> {
        Err(io::Error::new(ErrorKind::Unsupported, "one registry only"))
    }

    fn register(&self, handle: Handle, token: Token, interests: Interest) -> io::Result<()> {
        if self.slot(handle).is_some() {
            return Err(io::Error::new(
                ErrorKind::AlreadyExists,
                "already registered",
            ));
        }
        let free = self.slots.borrow().iter().position(Option::is_none);
        let i = free.ok_or_else(|| io::Error::new(rouse::io::TABLE_FULL, "board table full"))?;
        self.set(handle, token, interests, i);
        Ok(())
    }

    fn reregister(&self, handle: Handle, token: Token, interests: Interest) -> io::Result<()> {
        let i = self
            .slot(handle)
            .ok_or_else(|| io::Error::new(ErrorKind::NotFound, "not registered"))?;
        self.set(handle, token, interests, i);
        Ok(())
    }

    fn deregister(&self, handle: Handle) -> io::Result<()> {
        let i = self
            .slot(handle)
            .ok_or_else(|| io::Error::new(ErrorKind::NotFound, "not registered"))?;
        self.slots.borrow_mut()[i] = None;
        Ok(())
    }

    fn select(&self, events: &mut [Event<Self>], _: Option<Duration>) -> io::Result<usize> {
        let mut out = 0;
        if let Some((flag, token)) = &*self.waker.borrow() {
            if flag.swap(false, Ordering::AcqRel) {
                events[out] = Event::from_raw(MemEvent {
                    token: token.0,
                    readable: true,
                    writable: false,
                });
                out += 1;
            }
        }
        for slot in self.slots.borrow_mut().iter_mut().flatten() {
            if out == events.len() {
                break;
            }
            if slot.readable || slot.writable {
                events[out] = Event::from_raw(MemEvent {
                    token: slot.token.0,
                    readable: slot.readable,
                    writable: slot.writable,
                });
                out += 1;
                // Edge-triggered: reported once.
                slot.readable = false;
                slot.writable = false;
            }
        }
        Ok(out)
    }

    fn new_waker(&self, token: Token) -> io::Result<Arc<AtomicBool>> {
        let flag = Arc::new(AtomicBool::new(false));
        *self.waker.borrow_mut() = Some((Arc::clone(&flag), token));
        Ok(flag)
    }

    fn wake(waker: &Arc<AtomicBool>) -> io::Result<()> {
        waker.store(true, Ordering::Release);
        Ok(())
    }
}

/// A socket type of the board, registered the mio way.
struct BoardSocket(Handle);

impl Source<MemSelector> for BoardSocket {
    fn register(
        &mut self,
        registry: &Registry<MemSelector>,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        registry.selector().register(self.0, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry<MemSelector>,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        registry.selector().reregister(self.0, token, interests)
    }

    fn deregister(&mut self, registry: &Registry<MemSelector>) -> io::Result<()> {
        registry.selector().deregister(self.0)
    }
}

fn tokens<const N: usize>(events: &Events<MemSelector, N>) -> Vec<(usize, bool, bool)> {
    events
        .iter()
        .map(|e| (e.token().0, e.is_readable(), e.is_writable()))
        .collect()
}

#[test]
fn events_flow_through_poll_and_are_edge_triggered() {
    let mut poll = Poll::with_selector(MemSelector::new().unwrap());
    let mut events = Events::<MemSelector, 8>::new();
    let mut sock = BoardSocket(7);
    poll.registry()
        .register(&mut sock, Token(1), Interest::READABLE | Interest::WRITABLE)
        .unwrap();

    poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
    assert!(events.is_empty());

    poll.registry().selector().deliver(7, true, false);
    poll.poll(&mut events, None).unwrap();
    assert_eq!(tokens(&events), [(1, true, false)]);

    // Reported once per edge.
    poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
    assert!(events.is_empty());

    // Only what was asked for is reported; reregister changes the token.
    poll.registry()
        .reregister(&mut sock, Token(2), Interest::WRITABLE)
        .unwrap();
    poll.registry().selector().deliver(7, true, true);
    poll.poll(&mut events, None).unwrap();
    assert_eq!(tokens(&events), [(2, false, true)]);

    poll.registry().deregister(&mut sock).unwrap();
    poll.registry().selector().deliver(7, true, true);
    poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
    assert!(events.is_empty());
}

#[test]
fn a_small_events_buffer_gets_the_rest_next_poll() {
    let mut poll = Poll::with_selector(MemSelector::new().unwrap());
    let mut events = Events::<MemSelector, 2>::new();
    for h in 0..3u8 {
        poll.registry()
            .register(
                &mut BoardSocket(h),
                Token(10 + h as usize),
                Interest::READABLE,
            )
            .unwrap();
        poll.registry().selector().deliver(h, true, false);
    }
    poll.poll(&mut events, None).unwrap();
    assert_eq!(tokens(&events), [(10, true, false), (11, true, false)]);
    poll.poll(&mut events, None).unwrap();
    assert_eq!(tokens(&events), [(12, true, false)]);
}

#[test]
fn registry_checks_and_board_errors_reach_the_caller() {
    let poll = Poll::with_selector(MemSelector::new().unwrap());
    let registry = poll.registry();
    let err = registry
        .register(&mut BoardSocket(1), Token::RESERVED, Interest::READABLE)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);

    registry
        .register(&mut BoardSocket(1), Token(1), Interest::READABLE)
        .unwrap();
    let err = registry
        .register(&mut BoardSocket(1), Token(1), Interest::READABLE)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    for h in 2..=SLOTS as u8 {
        registry
            .register(&mut BoardSocket(h), Token(h as usize), Interest::READABLE)
            .unwrap();
    }
    let err = registry
        .register(&mut BoardSocket(99), Token(99), Interest::READABLE)
        .unwrap_err();
    assert_eq!(err.kind(), rouse::io::TABLE_FULL);
    let err = registry.deregister(&mut BoardSocket(99)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        registry.try_clone().unwrap_err().kind(),
        ErrorKind::Unsupported
    );
}

#[test]
#[cfg_attr(
    target_os = "wasi",
    ignore = "wakes from a thread: wasm32-wasip1 has no threads"
)]
fn waker_is_reported_with_its_token() {
    let mut poll = Poll::with_selector(MemSelector::new().unwrap());
    let mut events = Events::<MemSelector, 4>::new();
    let waker = Waker::new(poll.registry(), Token(9)).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| waker.wake().unwrap());
    });
    poll.poll(&mut events, None).unwrap();
    assert_eq!(tokens(&events), [(9, true, false)]);
}
