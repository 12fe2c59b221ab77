//! Concurrency stress, on every backend: four threads register,
//! reregister and deregister sources (and close and reopen them, so fd
//! numbers are reused) while the main thread polls and a fifth thread wakes
//! the `Waker` in a loop.
//!
//! Every registration gets a token of its own (thread, slot, generation),
//! so a stale token is recognisable. Checked:
//!
//! * no event carries a token that was never registered, or one whose
//!   registration had ended (deregister or reregister returned) before the
//!   poll that reported it began;
//! * no wake is lost: each round of wakes is seen by the poller within
//!   seconds, and after the very last wake the poller sees the waker token.
//!
//! Runs for `ROUSE_STRESS_SECS` seconds per backend (default 2); `ci/soak`
//! runs it longer.
#![cfg(all(unix, feature = "std"))]
mod common;
use common::*;

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rouse::{Interest, Token, Waker};

const THREADS: usize = 4;
const SLOTS: usize = 6;
/// Bits of a token left for the generation: 48 on 64-bit targets, 16 on
/// 32-bit ones (where a registrar stops once its generations run out).
const GEN_BITS: u32 = usize::BITS - 16;
const GEN_MAX: u64 = (1 << GEN_BITS) - 1;
const WAKE: Token = Token(0xFF << (usize::BITS - 8));

/// thread (8 bits) | slot (8 bits) | generation (the rest).
fn token(thread: usize, slot: usize, gen: u64) -> Token {
    Token(thread << (usize::BITS - 8) | slot << GEN_BITS | (gen & GEN_MAX) as usize)
}

fn stress_secs() -> f64 {
    std::env::var("ROUSE_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0)
}

/// What the registering threads have done. A slot's registrations follow
/// one another and their generations grow, so "generation `g` of slot `s`
/// has ended" is `g <= ended[thread][s]`.
#[derive(Clone, Default)]
struct Book {
    /// Per thread, the highest generation registered (set before the call).
    registered: [u64; THREADS],
    /// Per thread and slot, the last generation whose registration ended
    /// (set after deregister or reregister returned).
    ended: [[u64; SLOTS]; THREADS],
}

/// (thread, slot, generation) of a token.
fn decode(t: Token) -> (usize, usize, u64) {
    (
        t.0 >> (usize::BITS - 8),
        t.0 >> GEN_BITS & 0xFF,
        (t.0 as u64) & GEN_MAX,
    )
}

struct Shared {
    book: Mutex<Book>,
    stop: AtomicBool,
    /// The waker thread's current round, and the last one the poller saw
    /// (`usize`: 32-bit PowerPC and MIPS have no 64-bit atomics).
    round: AtomicUsize,
    seen: AtomicUsize,
    lost: AtomicUsize,
}

fn lock(book: &Mutex<Book>) -> std::sync::MutexGuard<'_, Book> {
    book.lock().unwrap_or_else(|e| e.into_inner())
}

fn readable_pair() -> (UnixStream, UnixStream) {
    let (a, mut b) = stream_pair();
    b.write_all(b"x").unwrap();
    (a, b)
}

/// One registering thread: cycles through its slots, registering,
/// reregistering (a new token), deregistering, and now and then closing a
/// source and opening a new one.
fn registrar<S: Backend>(me: usize, registry: rouse::Registry<S>, shared: &Shared) -> u64 {
    let mut pairs: Vec<_> = (0..SLOTS).map(|_| readable_pair()).collect();
    let mut current: Vec<Option<Token>> = vec![None; SLOTS];
    let mut gen = 0u64;
    let mut ops = 0u64;
    let end = |t: Token| {
        let (_, slot, gen) = decode(t);
        lock(&shared.book).ended[me][slot] = gen;
    };
    while !shared.stop.load(Ordering::Relaxed) && gen + 2 < GEN_MAX {
        let slot = (ops as usize * 7 + me) % SLOTS;
        let fd = pairs[slot].0.as_raw_fd();
        let mut src = SourceFd(&fd);
        let interests = if ops % 2 == 0 {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        };
        match current[slot] {
            None => {
                gen += 1;
                let t = token(me, slot, gen);
                lock(&shared.book).registered[me] = gen;
                registry.register(&mut src, t, interests).unwrap();
                current[slot] = Some(t);
            }
            Some(old) if ops % 3 == 0 => {
                gen += 1;
                let t = token(me, slot, gen);
                lock(&shared.book).registered[me] = gen;
                registry.reregister(&mut src, t, interests).unwrap();
                end(old);
                current[slot] = Some(t);
            }
            Some(old) => {
                registry.deregister(&mut src).unwrap();
                end(old);
                current[slot] = None;
                if ops % 4 == 1 {
                    // Closed and reopened: the next source may get this fd.
                    pairs[slot] = readable_pair();
                }
            }
        }
        ops += 1;
        if ops % 64 == 0 {
            std::thread::yield_now();
        }
    }
    for (slot, t) in current.iter().enumerate() {
        if let Some(t) = t {
            let fd = pairs[slot].0.as_raw_fd();
            registry.deregister(&mut SourceFd(&fd)).unwrap();
            end(*t);
        }
    }
    ops
}

/// The waking thread: rounds of a few wakes, each round acknowledged by the
/// poller; after `stop`, one last wake.
fn waker_loop<S: Backend>(waker: &Waker<S>, shared: &Shared) -> usize {
    let mut round = 0;
    while !shared.stop.load(Ordering::SeqCst) {
        round += 1;
        shared.round.store(round, Ordering::SeqCst);
        for _ in 0..1 + round % 4 {
            waker.wake().unwrap();
        }
        let deadline = Instant::now() + LONG;
        while shared.seen.load(Ordering::SeqCst) < round {
            if shared.stop.load(Ordering::SeqCst) {
                break;
            }
            if Instant::now() > deadline {
                shared.lost.store(round, Ordering::SeqCst);
                return round;
            }
            std::thread::yield_now();
        }
    }
    // The poller has stopped polling: this wake must still be seen.
    waker.wake().unwrap();
    round
}

fn registrations_wakes_and_polls_race<S: Backend + Send + Sync>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let waker = Waker::new(poll.registry(), WAKE).unwrap();
    let shared = Shared {
        book: Mutex::new(Book::default()),
        stop: AtomicBool::new(false),
        round: AtomicUsize::new(0),
        seen: AtomicUsize::new(0),
        lost: AtomicUsize::new(0),
    };
    let run_for = Duration::from_secs_f64(stress_secs());
    let mut stale = Vec::new();
    let mut unknown = Vec::new();
    let mut seen_events = 0u64;
    let mut polls = 0u64;

    let (ops, rounds) = std::thread::scope(|s| {
        let registrars: Vec<_> = (0..THREADS)
            .map(|me| {
                let registry = poll.registry().try_clone().unwrap();
                let shared = &shared;
                s.spawn(move || registrar(me, registry, shared))
            })
            .collect();
        let waking = s.spawn(|| waker_loop(&waker, &shared));

        let start = Instant::now();
        while start.elapsed() < run_for && shared.lost.load(Ordering::SeqCst) == 0 {
            let before = lock(&shared.book).clone();
            poll.poll(&mut events, Some(Duration::from_millis(50)))
                .unwrap();
            polls += 1;
            let book = lock(&shared.book);
            for ev in events.iter() {
                seen_events += 1;
                let t = ev.token();
                if t == WAKE {
                    shared
                        .seen
                        .store(shared.round.load(Ordering::SeqCst), Ordering::SeqCst);
                    continue;
                }
                let (th, slot, gen) = decode(t);
                if th >= THREADS || slot >= SLOTS || gen == 0 || gen > book.registered[th] {
                    unknown.push(t);
                } else if gen <= before.ended[th][slot] {
                    stale.push(t);
                }
            }
        }
        shared.stop.store(true, Ordering::SeqCst);
        let ops: u64 = registrars.into_iter().map(|h| h.join().unwrap()).sum();
        (ops, waking.join().unwrap())
    });

    assert_eq!(
        shared.lost.load(Ordering::SeqCst),
        0,
        "[{}] wake round lost",
        S::NAME
    );
    // After the last wake (made once polling had stopped), the waker token.
    expect_event(&mut poll, &mut events, WAKE, LONG, |e| e.is_readable());
    // Everything is deregistered now: any other event is stale.
    for ev in collect_events(&mut poll, &mut events, SHORT) {
        if ev.token() != WAKE {
            stale.push(ev.token());
        }
    }
    assert!(
        unknown.is_empty(),
        "[{}] unknown tokens {unknown:?}",
        S::NAME
    );
    assert!(
        stale.is_empty(),
        "[{}] events for registrations that had ended before the poll: {:?}",
        S::NAME,
        &stale[..stale.len().min(10)]
    );
    assert!(seen_events > 0 && rounds > 0 && ops > 0);
    println!(
        "stress {}: {ops} registry calls, {rounds} wake rounds, {polls} polls, \
         {seen_events} events in {run_for:?}; no stale token, no lost wake",
        S::NAME
    );
}

backend_tests!(registrations_wakes_and_polls_race);
