//! A real `PollSelector<4>` driven through register / reregister /
//! deregister / write / read / shutdown / close / drop / wake / poll on six
//! Unix socketpairs, every event checked against a model of what the table
//! core must report for an edge-triggered source (`IoSource`).
//!
//! Each pair is `(a, b)`; `a` is the side registered, an `IoSource`, and
//! `b` the peer the fuzzer writes from and closes. Unix sockets deliver
//! synchronously, so a `poll` with a zero timeout sees exactly what the
//! model expects:
//!
//! * `a` is readable when bytes are queued or the peer has shut down, and
//!   always writable (nothing is ever written from `a`);
//! * each condition (readable, writable, read-closed, write-closed) is
//!   reported once, then not again until re-armed: readable by a read that
//!   meets `WouldBlock` or reads less than it asked for, everything by
//!   `reregister`; a closed direction ends its readiness for good;
//! * a closed peer (`POLLHUP`) is reported once with the directions
//!   registered, read-closed and write-closed, and then the fd is skipped
//!   until something is re-armed.
//!
//! Checked: every event belongs to a registered source with its current
//! token (no stale or unknown token), at most once per poll, with exactly
//! the armed conditions that are present; polling until quiet leaves
//! nothing armed and present (nothing lost); a source dropped while
//! registered is gone (no event, its fd number reusable at once); the
//! waker is reported after a wake; errors: `AlreadyExists`, `NotFound`,
//! `StorageFull` (4 entries, 6 pairs), `InvalidInput` for the reserved
//! token, and each leaves the registrations as they were.
#![no_main]

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rouse::event::IoSource;
use rouse::io::ErrorKind;
use rouse::sys::{PollSelector, Selector};
use rouse::{Events, Interest, Poll, Token, Waker};

const CAPACITY: usize = 4;
const PAIRS: usize = 6;
/// Tokens are `pair + STRIDE * k`, so a token names its pair; the waker's
/// residue is one no pair has.
const STRIDE: usize = 8;
const WAKER: Token = Token(7);
/// Bytes queued per pair at most (far below a socket buffer, so `b`'s
/// writes never block and `a` stays writable).
const MAX_QUEUED: usize = 4096;

type S = PollSelector<CAPACITY>;

// The readiness conditions, as bits.
const R: u8 = 1;
const W: u8 = 2;
const RC: u8 = 4;
const WC: u8 = 8;

struct Pair {
    a: IoSource<UnixStream>,
    b: Option<UnixStream>,
    /// `(token, interests)` while registered.
    reg: Option<(Token, Interest)>,
    /// The conditions armed.
    armed: u8,
    /// A hang-up was reported: the fd is skipped until re-armed.
    parked: bool,
    queued: usize,
    /// The peer shut down its writing side (or closed).
    eof: bool,
    /// The peer is closed: `a` gets `POLLHUP`.
    hup: bool,
}

/// The conditions a registration for `i` watches at first.
fn watchable(i: Interest) -> u8 {
    let mut c = RC | WC;
    if i.is_readable() {
        c |= R;
    }
    if i.is_writable() {
        c |= W;
    }
    c
}

impl Pair {
    fn new() -> Pair {
        let (a, b) = UnixStream::pair().expect("socketpair");
        a.set_nonblocking(true).expect("nonblocking");
        b.set_nonblocking(true).expect("nonblocking");
        Pair {
            a: IoSource::new(a),
            b: Some(b),
            reg: None,
            armed: 0,
            parked: false,
            queued: 0,
            eof: false,
            hup: false,
        }
    }

    /// The conditions the next poll must report, or `None` if nothing.
    fn expected(&self) -> Option<u8> {
        let (_, i) = self.reg?;
        if self.parked || self.armed == 0 {
            return None;
        }
        let present = if self.hup {
            // POLLHUP comes whatever is asked: every registered direction,
            // both closed.
            let mut p = RC | WC;
            if i.is_readable() {
                p |= R;
            }
            if i.is_writable() {
                p |= W;
            }
            p
        } else {
            let mut p = 0;
            if i.is_readable() && (self.queued > 0 || self.eof) && self.armed & R != 0 {
                p |= R;
            }
            // POLLRDHUP, asked by a registration that reads.
            if i.is_readable() && self.eof && self.armed & RC != 0 {
                p |= R | RC;
            }
            if i.is_writable() {
                p |= W;
            }
            p
        };
        let report = present & self.armed;
        (report != 0).then_some(report)
    }

    /// Applies a reported `report` to the model, as the table core does.
    fn reported(&mut self, report: u8) {
        self.armed &= !report;
        if report & RC != 0 {
            self.armed &= !(R | RC);
        }
        if report & WC != 0 {
            self.armed &= !(W | WC);
        }
        if self.hup {
            self.parked = true;
        }
    }

    /// The source re-armed reading (a read met `WouldBlock` or read less
    /// than it asked for).
    fn rearm_read(&mut self) {
        let Some((_, i)) = self.reg else { return };
        if i.is_readable() && self.armed & R == 0 {
            self.armed |= R;
            self.parked = false;
        }
    }
}

fn interests(b: u8) -> Interest {
    match b % 3 {
        0 => Interest::READABLE,
        1 => Interest::WRITABLE,
        _ => Interest::READABLE | Interest::WRITABLE,
    }
}

struct World {
    poll: Poll<S>,
    events: Events<S, 3>,
    waker: Waker<S>,
    pairs: Vec<Pair>,
    wake_pending: bool,
}

impl World {
    fn registered(&self) -> usize {
        self.pairs.iter().filter(|p| p.reg.is_some()).count()
    }

    /// One zero-timeout poll, every event checked and applied to the model;
    /// returns how many events it gave.
    fn poll_once(&mut self) -> usize {
        // libFuzzer's timeout timer is a SIGALRM, and poll(2) is never
        // restarted after a signal: `Interrupted` is retried, as any caller does.
        loop {
            match self.poll.poll(&mut self.events, Some(Duration::ZERO)) {
                Ok(()) => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => panic!("poll: {e}"),
            }
        }
        let mut seen = [false; STRIDE];
        let mut n = 0;
        for ev in self.events.iter() {
            n += 1;
            let t = ev.token();
            assert_ne!(t, Token::RESERVED);
            let slot = t.0 % STRIDE;
            assert!(!seen[slot], "two events for one source in a poll: {t:?}");
            seen[slot] = true;
            if t == WAKER {
                assert!(self.wake_pending, "waker event without a wake");
                assert!(ev.is_readable() && !ev.is_writable());
                self.wake_pending = false;
                continue;
            }
            let p = self
                .pairs
                .get_mut(slot)
                .unwrap_or_else(|| panic!("unknown token {t:?}"));
            let (token, i) = p
                .reg
                .unwrap_or_else(|| panic!("event for deregistered {t:?}"));
            assert_eq!(t, token, "stale token");
            let _ = i;
            let want = p
                .expected()
                .unwrap_or_else(|| panic!("unexpected event {ev:?}"));
            assert!(!ev.is_error(), "{ev:?}");
            // Every armed, present condition in one event.
            let got = u8::from(ev.is_readable()) * R
                | u8::from(ev.is_writable()) * W
                | u8::from(ev.is_read_closed()) * RC
                | u8::from(ev.is_write_closed()) * WC;
            assert_eq!(got, want, "{ev:?} (hup {}, eof {})", p.hup, p.eof);
            p.reported(want);
        }
        n
    }

    /// Polls until a poll returns nothing; then nothing may be left to report.
    fn quiesce(&mut self) {
        for _ in 0..16 {
            if self.poll_once() == 0 {
                break;
            }
        }
        assert!(!self.wake_pending, "a wake was lost");
        for (k, p) in self.pairs.iter().enumerate() {
            assert_eq!(p.expected(), None, "pair {k} ready but not reported");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let poll = Poll::with_selector(S::new().expect("PollSelector::new"));
    let waker = Waker::new(poll.registry(), WAKER).expect("waker");
    let mut w = World {
        poll,
        events: Events::new(),
        waker,
        pairs: (0..PAIRS).map(|_| Pair::new()).collect(),
        wake_pending: false,
    };

    for op in data.chunks_exact(3) {
        let k = usize::from(op[1]) % PAIRS;
        let token = Token(k + STRIDE * usize::from(op[2] >> 2));
        let full = w.registered() == CAPACITY;
        match op[0] % 11 {
            0 => {
                let i = interests(op[2]);
                let p = &mut w.pairs[k];
                let got = w.poll.registry().register(&mut p.a, token, i);
                match (got, p.reg.is_some(), full) {
                    (Ok(()), false, false) => {
                        p.reg = Some((token, i));
                        (p.armed, p.parked) = (watchable(i), false);
                    }
                    (Err(e), true, _) => assert_eq!(e.kind(), ErrorKind::AlreadyExists),
                    (Err(e), false, true) => assert_eq!(e.kind(), ErrorKind::StorageFull),
                    (got, reg, full) => panic!("register: {got:?} (registered {reg}, full {full})"),
                }
            }
            1 => {
                let i = interests(op[2]);
                let p = &mut w.pairs[k];
                let got = w.poll.registry().reregister(&mut p.a, token, i);
                match (got, p.reg.is_some()) {
                    (Ok(()), true) => {
                        p.reg = Some((token, i));
                        (p.armed, p.parked) = (watchable(i), false);
                    }
                    (Err(e), false) => assert_eq!(e.kind(), ErrorKind::NotFound),
                    (got, reg) => panic!("reregister: {got:?} (registered {reg})"),
                }
            }
            2 => {
                let p = &mut w.pairs[k];
                let got = w.poll.registry().deregister(&mut p.a);
                match (got, p.reg.is_some()) {
                    (Ok(()), true) => p.reg = None,
                    (Err(e), false) => assert_eq!(e.kind(), ErrorKind::NotFound),
                    (got, reg) => panic!("deregister: {got:?} (registered {reg})"),
                }
            }
            3 | 4 => {
                // The peer writes 1..=64 bytes.
                let p = &mut w.pairs[k];
                let n = usize::from(op[2] % 64) + 1;
                if let Some(b) = &p.b {
                    if !p.eof && p.queued + n <= MAX_QUEUED {
                        (&*b).write_all(&vec![op[2]; n]).expect("peer write");
                        p.queued += n;
                    }
                }
            }
            5 => {
                // `a` reads up to 64 bytes.
                let p = &mut w.pairs[k];
                let mut buf = [0u8; 64];
                let want = (usize::from(op[2]) % 64 + 1).min(buf.len());
                match (&p.a).read(&mut buf[..want]) {
                    Ok(0) => assert!(p.eof && p.queued == 0, "early end-of-file"),
                    Ok(n) => {
                        assert!(n <= p.queued);
                        p.queued -= n;
                        if n < want {
                            p.rearm_read();
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        assert!(p.queued == 0 && !p.eof, "WouldBlock with data queued");
                        p.rearm_read();
                    }
                    Err(e) => panic!("read: {e}"),
                }
            }
            6 => {
                let p = &mut w.pairs[k];
                if let Some(b) = &p.b {
                    b.shutdown(Shutdown::Write).expect("shutdown");
                    p.eof = true;
                }
            }
            7 => {
                let p = &mut w.pairs[k];
                if p.b.take().is_some() {
                    (p.eof, p.hup) = (true, true);
                }
            }
            8 => {
                // A new pair in place of the old one, dropped while
                // registered (no deregister: the source ends its
                // registration itself), whose fd numbers are reused at once.
                w.pairs[k] = Pair::new();
            }
            9 => {
                if op[2] & 1 == 0 {
                    w.waker.wake().expect("wake");
                    w.wake_pending = true;
                } else {
                    // The reserved token is refused and changes nothing.
                    let err = w
                        .poll
                        .registry()
                        .register(&mut w.pairs[k].a, Token::RESERVED, Interest::READABLE)
                        .unwrap_err();
                    assert_eq!(err.kind(), ErrorKind::InvalidInput);
                }
            }
            _ => {
                if op[2] & 1 == 0 {
                    w.poll_once();
                } else {
                    w.quiesce();
                }
            }
        }
    }
    w.quiesce();
});
