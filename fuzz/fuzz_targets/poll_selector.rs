//! A real `PollSelector<4>` driven through register / reregister /
//! deregister / write / read / shutdown / close / wake / poll on six Unix
//! socketpairs, every event checked against a model of what poll(2) must
//! report with rouse's edge emulation.
//!
//! Each pair is `(a, b)`; `a` is the side registered, `b` the peer the
//! fuzzer writes from and closes. Unix sockets deliver synchronously, so a
//! `poll` with a zero timeout sees exactly what the model expects:
//!
//! * `a` is readable when bytes are queued or the peer has shut down, and
//!   always writable (nothing is ever written from `a`);
//! * a direction is reported once, then not again until `reregister`
//!   re-arms it (`SourceFd` has no re-arm handle);
//! * a closed peer (`POLLHUP`) is reported once with every registered
//!   direction, read-closed and write-closed, and ends the registration's
//!   events until re-armed.
//!
//! Checked: every event belongs to a registered source with its current
//! token (no stale or unknown token), at most once per poll, only for an
//! armed, ready direction, with the closed bits the peer's state implies;
//! polling until quiet leaves nothing armed and ready (nothing lost); the
//! waker is reported after a wake; errors: `AlreadyExists`, `NotFound`,
//! `StorageFull` (4 entries, 6 pairs), `InvalidInput` for the reserved
//! token, and each leaves the registrations as they were.
#![no_main]

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rouse::io::ErrorKind;
use rouse::sys::{PollSelector, Selector};
use rouse::unix::SourceFd;
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

struct Pair {
    a: UnixStream,
    b: Option<UnixStream>,
    /// `(token, interests)` while registered.
    reg: Option<(Token, Interest)>,
    armed_r: bool,
    armed_w: bool,
    queued: usize,
    /// The peer shut down its writing side (or closed).
    eof: bool,
    /// The peer is closed: `a` gets `POLLHUP`.
    hup: bool,
}

impl Pair {
    fn new() -> Pair {
        let (a, b) = UnixStream::pair().expect("socketpair");
        a.set_nonblocking(true).expect("nonblocking");
        b.set_nonblocking(true).expect("nonblocking");
        Pair {
            a,
            b: Some(b),
            reg: None,
            armed_r: false,
            armed_w: false,
            queued: 0,
            eof: false,
            hup: false,
        }
    }

    /// Directions the next poll must report: (readable, writable), or
    /// `None` if nothing.
    fn expected(&self) -> Option<(bool, bool)> {
        let (_, i) = self.reg?;
        let (r, w) = (i.is_readable(), i.is_writable());
        if self.hup {
            // POLLHUP comes whenever poll(2) still watches the fd.
            return ((r && self.armed_r) || (w && self.armed_w)).then_some((r, w));
        }
        let read = r && self.armed_r && (self.queued > 0 || self.eof);
        let write = w && self.armed_w;
        (read || write).then_some((read, write))
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
            let (read, write) = p
                .expected()
                .unwrap_or_else(|| panic!("unexpected event {ev:?}"));
            assert!(!ev.is_error(), "{ev:?}");
            if p.hup {
                assert_eq!(
                    (ev.is_readable(), ev.is_writable()),
                    (i.is_readable(), i.is_writable()),
                    "{ev:?}"
                );
                assert!(ev.is_read_closed() && ev.is_write_closed(), "{ev:?}");
                p.armed_r = false;
                p.armed_w = false;
                continue;
            }
            // poll(2) reports every ready, watched direction in one revents.
            assert_eq!(
                (ev.is_readable(), ev.is_writable()),
                (read, write),
                "{ev:?}"
            );
            if ev.is_readable() {
                assert_eq!(ev.is_read_closed(), p.eof, "{ev:?}");
                p.armed_r = false;
            }
            if ev.is_writable() {
                p.armed_w = false;
            }
            assert!(!ev.is_write_closed(), "{ev:?}");
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
        let fd = w.pairs[k].a.as_raw_fd();
        let full = w.registered() == CAPACITY;
        match op[0] % 11 {
            0 => {
                let i = interests(op[2]);
                let got = w.poll.registry().register(&mut SourceFd(&fd), token, i);
                let p = &mut w.pairs[k];
                match (got, p.reg.is_some(), full) {
                    (Ok(()), false, false) => {
                        p.reg = Some((token, i));
                        (p.armed_r, p.armed_w) = (true, true);
                    }
                    (Err(e), true, _) => assert_eq!(e.kind(), ErrorKind::AlreadyExists),
                    (Err(e), false, true) => assert_eq!(e.kind(), ErrorKind::StorageFull),
                    (got, reg, full) => panic!("register: {got:?} (registered {reg}, full {full})"),
                }
            }
            1 => {
                let i = interests(op[2]);
                let got = w.poll.registry().reregister(&mut SourceFd(&fd), token, i);
                let p = &mut w.pairs[k];
                match (got, p.reg.is_some()) {
                    (Ok(()), true) => {
                        p.reg = Some((token, i));
                        (p.armed_r, p.armed_w) = (true, true);
                    }
                    (Err(e), false) => assert_eq!(e.kind(), ErrorKind::NotFound),
                    (got, reg) => panic!("reregister: {got:?} (registered {reg})"),
                }
            }
            2 => {
                let got = w.poll.registry().deregister(&mut SourceFd(&fd));
                let p = &mut w.pairs[k];
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
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        assert!(p.queued == 0 && !p.eof, "WouldBlock with data queued")
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
                // A new pair in place of the old one (its fd numbers are
                // reused): deregistered first, as a user must before closing.
                if w.pairs[k].reg.is_some() {
                    w.poll
                        .registry()
                        .deregister(&mut SourceFd(&fd))
                        .expect("deregister before close");
                }
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
                        .register(&mut SourceFd(&fd), Token::RESERVED, Interest::READABLE)
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
