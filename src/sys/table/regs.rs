//! The registrations of a table backend: who is registered, with which
//! token and interests, and which readiness conditions are still armed.
//!
//! A dense array of `N` entries, fixed at compile time: inserting into a
//! full table is an error naming the capacity, never a reallocation or a
//! panic, and every failed operation leaves the table as it was. Removal
//! moves the last entry into the freed index, so a backend that keeps a
//! parallel native array (poll(2)'s `pollfd`s) mirrors it by moving its
//! own last element. Each registration gets a generation number, so a
//! stale re-arm handle (for a source deregistered since) is told apart from
//! a new registration of the same fd.
//!
//! Finding an fd: a table of up to [`SCAN_MAX`] entries scans them (a few
//! cache lines, as fast as hashing, and no index code in small embedded
//! binaries). A larger one keeps an open-addressing index of `N` slots
//! (linear probing, backward-shift deletion, no tombstones) from fd to
//! entry, so register, reregister and deregister cost O(1) on average
//! however many sources are registered (10,000 poll(2) registrations took
//! about 400M instructions with a scan, under 10M with the index). The
//! index is as large as the table, so a probe ends within `N` slots even
//! when the table is full.
//!
//! # Edges
//!
//! Each entry is armed for a set of readiness *conditions* (the bits of
//! [`TableEvent`](crate::sys::TableEvent): readable, writable, priority,
//! read-closed, write-closed, error). A backend translates what its OS
//! reports into conditions and asks [`Registrations::report`] what to
//! deliver:
//!
//! * an *edge* registration (a source that re-arms itself after
//!   `WouldBlock`: the `net` types, pipes, `IoSource`) delivers a condition
//!   once, then not again until it is re-armed, by `reregister` or by the
//!   source's `Arm`. Each condition has its own bit, so a peer's close after
//!   data was reported is a new event, as it is on epoll. With a lazy
//!   driver ([`Entry::report_through`]) a delivered readable or writable
//!   stays watched, and its re-arm is a mark in [`Marks`] taken without
//!   the lock: seen again after that mark, it is delivered again; seen
//!   again without it, it stops being watched until a re-arm under the
//!   lock;
//! * a *level* registration (a raw fd: `SourceFd`, which nothing re-arms)
//!   delivers readable, writable, priority and error at every poll while
//!   they are present.
//!
//! For both, a closed direction is final: once read-closed is delivered,
//! that registration watches neither readable nor read-closed again (the
//! stream is at its end for good), and once write-closed is delivered,
//! neither writable nor write-closed, until `reregister`. So a hung-up fd
//! is reported once, not at every poll.
//!
//! It must never allocate, and never panic on any input.

use crate::sys::ready::{ERROR, PRIORITY, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};
use crate::sys::table::shared::Zeroed;
use crate::{io, Interest, Token};

/// The largest capacity whose tables scan instead of keeping an index.
/// Fuzzing uses the index at every capacity, so the small tables it can
/// fill exercise it.
pub(crate) const SCAN_MAX: usize = if cfg!(fuzzing) { 0 } else { 128 };

/// How a registration is reported (see the module docs).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
// Without std nothing re-arms itself, so every registration is level.
#[cfg_attr(not(feature = "std"), allow(dead_code))]
pub(crate) enum Trigger {
    /// Once per condition until re-armed.
    Edge,
    /// At every poll while present.
    Level,
}

/// One registration. Plain integers only, so a zeroed table is valid.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Entry<R> {
    pub(crate) raw: R,
    pub(crate) gen: u32,
    pub(crate) token: usize,
    /// `Interest` bits (0 only in unused entries).
    interests: u8,
    /// Conditions still to be reported (edge registrations).
    pub(crate) armed: u8,
    /// `LEVEL`, `DEAD`.
    flags: u8,
    /// Readable or writable, reported and still watched until the source
    /// drains it (edge registrations of a lazy driver; see [`Marks`]).
    through: u8,
}

/// `Entry::flags`: a level registration.
const LEVEL: u8 = 1;
/// `Entry::flags`: the OS reported the fd closed; removed after the wait.
const DEAD: u8 = 2;

impl<R: Copy> Entry<R> {
    /// What the source registered for.
    pub(crate) fn interests(&self) -> Interest {
        // Stored from an `Interest` by `insert` / `update`; an unused
        // (zeroed) entry is never asked.
        Interest::from_bits(self.interests).unwrap_or(Interest::READABLE)
    }

    #[cfg_attr(not(any(rouse_poll, rouse_iocp)), allow(dead_code))]
    pub(crate) fn trigger(&self) -> Trigger {
        if self.flags & LEVEL != 0 {
            Trigger::Level
        } else {
            Trigger::Edge
        }
    }

    /// The OS reported the fd closed; the entry is removed after the wait.
    pub(crate) fn is_dead(&self) -> bool {
        self.flags & DEAD != 0
    }

    /// The conditions the backend should watch now: the armed ones and
    /// those watched through (nothing for a dead entry).
    #[inline]
    pub(crate) fn watching(&self) -> u8 {
        self.armed | self.through
    }

    /// The `SLOW_*` marks for this entry: the directions whose re-arm must
    /// take the table's lock, because it would change what is watched
    /// (a condition it restores is neither armed nor watched through).
    /// Both for a level or dead entry, whose re-arms stay as they were.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn slow(&self) -> u32 {
        if self.flags & (LEVEL | DEAD) != 0 {
            return SLOW_R | SLOW_W;
        }
        let missing = watchable(self.interests()) & !(self.armed | self.through);
        let mut slow = 0;
        if missing & (READABLE | PRIORITY | ERROR) != 0 {
            slow |= SLOW_R;
        }
        if missing & (WRITABLE | ERROR) != 0 {
            slow |= SLOW_W;
        }
        slow
    }

    /// [`report`](Self::report) for a lazy driver, whose wait watches
    /// whatever [`watching`](Self::watching) says: an edge entry's first
    /// report of readable or writable keeps watching it ("through"); when
    /// the OS shows it again, it is delivered if the source drained it
    /// since (`marks` says), else it stops being watched and the next
    /// re-arm takes the lock. Other conditions, and level entries, are
    /// reported as by `report`. Returns what to deliver, and whether what
    /// is watched may have changed.
    #[inline]
    pub(crate) fn report_through<const N: usize>(
        &mut self,
        present: u8,
        marks: &Marks<N>,
        i: usize,
    ) -> (u8, bool) {
        if self.flags & LEVEL != 0 || !cfg!(feature = "std") {
            let out = self.report(present);
            return (out, out & (READ_CLOSED | WRITE_CLOSED) != 0);
        }
        let again = present & self.through;
        if present & self.armed == 0 {
            // The common case: only conditions watched through are shown.
            if again == 0 {
                return (0, false);
            }
            let drained = marks.take(i, again);
            if drained != again {
                self.through &= !(again & !drained);
                marks.add_slow(i, self.slow());
                return (drained, true);
            }
            return (drained, false);
        }
        let before = self.watching();
        let mut out = present & self.armed;
        self.armed &= !out;
        let first = out & (READABLE | WRITABLE);
        if again != 0 {
            let drained = marks.take(i, again);
            out |= drained;
            self.through &= !(again & !drained);
        }
        if first != 0 {
            self.through |= first;
            marks.forget_drained(i, first);
        }
        if out & (READ_CLOSED | WRITE_CLOSED) != 0 {
            let gone = closed_by(out);
            self.armed &= !gone;
            self.through &= !gone;
        }
        if before & !self.watching() != 0 {
            marks.add_slow(i, self.slow());
        }
        (out, true)
    }

    /// The `Interest` bits (readable 1, writable 2, priority 4), for a
    /// backend's lookup tables.
    #[inline]
    #[cfg_attr(not(rouse_poll), allow(dead_code))]
    pub(crate) fn interest_bits(&self) -> u8 {
        self.interests
    }

    /// What to deliver for this registration, whose source shows the
    /// conditions `present`: the armed ones. An edge registration disarms
    /// what it delivers; a level one only the closed directions (see the
    /// module docs), which are final for both.
    #[inline]
    pub(crate) fn report(&mut self, present: u8) -> u8 {
        let out = present & self.armed;
        if self.flags & LEVEL == 0 {
            self.armed &= !out;
        }
        if out & (READ_CLOSED | WRITE_CLOSED) != 0 {
            self.armed &= !closed_by(out);
        }
        out
    }
}

/// The conditions a registration for `interests` can report. Errors and
/// hang-ups (both directions closed) are reported whatever the interests,
/// as epoll does; a backend watches a read side closed alone (a peer's
/// `shutdown(Write)`) only for a registration that reads, as epoll asks
/// for `EPOLLRDHUP` only then.
pub(crate) fn watchable(interests: Interest) -> u8 {
    let mut conds = ERROR | READ_CLOSED | WRITE_CLOSED;
    if interests.is_readable() {
        conds |= READABLE;
    }
    if interests.is_writable() {
        conds |= WRITABLE;
    }
    if interests.is_priority() {
        conds |= PRIORITY;
    }
    conds
}

/// The conditions that end with the closed directions in `conds`.
fn closed_by(conds: u8) -> u8 {
    let mut gone = 0;
    if conds & READ_CLOSED != 0 {
        gone |= READABLE | READ_CLOSED | PRIORITY;
    }
    if conds & WRITE_CLOSED != 0 {
        gone |= WRITABLE | WRITE_CLOSED;
    }
    gone
}

/// The conditions an operation that met `WouldBlock` in the `dirs`
/// directions re-arms: the direction itself, priority data with reading,
/// and errors (an operation that would block has no error pending).
/// Closed conditions are final and stay reported.
#[cfg_attr(not(feature = "std"), allow(dead_code))]
pub(crate) fn rearmed_by(dirs: Interest) -> u8 {
    let mut conds = ERROR;
    if dirs.is_readable() {
        conds |= READABLE | PRIORITY;
    }
    if dirs.is_writable() {
        conds |= WRITABLE;
    }
    conds
}

/// A fixed-capacity table of registrations keyed by OS handle.
#[repr(C)]
pub(crate) struct Registrations<R, const N: usize> {
    len: usize,
    next_gen: u32,
    /// Where the next delivery scan starts, so a small `Events` cannot
    /// starve the entries at the end.
    pub(crate) cursor: usize,
    entries: [Entry<R>; N],
    /// Open addressing over `entries` (unused when `N <= SCAN_MAX`): `0`
    /// is an empty slot, `i + 1` names `entries[i]`, found from the slot
    /// its fd hashes to by probing forward (wrapping) with no empty slot in
    /// between.
    index: [u32; N],
}

// SAFETY: integers and arrays of `Entry`, whose fields are integers (`R` is
// an fd or socket number, itself zero-valid).
unsafe impl<R: Zeroed, const N: usize> Zeroed for Registrations<R, N> {}
// SAFETY: `repr(C)` integers and an `R: Zeroed`.
unsafe impl<R: Zeroed> Zeroed for Entry<R> {}

impl<R: Copy + Eq + TryInto<i64>, const N: usize> Registrations<R, N> {
    /// Entry numbers are stored as `u32`: a larger capacity fails to build.
    const FITS_U32: () = assert!(N < u32::MAX as usize, "token table capacity too large");

    /// Whether this capacity keeps the index (decided at compile time, so
    /// the other path's code is not in the binary).
    const INDEXED: bool = N > SCAN_MAX;

    /// The slot `raw` hashes to. fds are small and dense, so a
    /// multiplicative hash spreads them (and Windows-style handles, which
    /// are multiples of 4) over the slots.
    #[inline]
    fn home(raw: R) -> usize {
        let key = raw.try_into().unwrap_or(0) as u64;
        let mixed = key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        (mixed % N as u64) as usize
    }

    /// The next slot after `slot`, wrapping.
    #[inline]
    fn next(slot: usize) -> usize {
        if slot + 1 == N {
            0
        } else {
            slot + 1
        }
    }

    /// The index slot holding `raw`'s entry number, if registered.
    fn slot_of(&self, raw: R) -> Option<usize> {
        if N == 0 {
            return None;
        }
        let mut slot = Self::home(raw);
        for _ in 0..N {
            match self.index[slot] {
                0 => return None,
                n if self.entries[n as usize - 1].raw == raw => return Some(slot),
                _ => slot = Self::next(slot),
            }
        }
        None
    }

    /// Empties `hole`, moving later entries of its probe run back so that
    /// none is left behind an empty slot (no tombstones needed). The hole
    /// is empty from the start, so the walk ends within `N` slots.
    fn vacate(&mut self, mut hole: usize) {
        self.index[hole] = 0;
        let mut probe = hole;
        loop {
            probe = Self::next(probe);
            let n = self.index[probe];
            if n == 0 {
                break;
            }
            let home = Self::home(self.entries[n as usize - 1].raw);
            // `probe`'s entry must stay if its home lies in the (cyclic)
            // range (hole, probe]: moving it before its home would hide it.
            let stays = if hole <= probe {
                hole < home && home <= probe
            } else {
                hole < home || home <= probe
            };
            if !stays {
                self.index[hole] = n;
                self.index[probe] = 0;
                hole = probe;
            }
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn entries(&self) -> &[Entry<R>] {
        // `len <= N` always; `get` builds no panic path.
        self.entries.get(..self.len).unwrap_or_default()
    }

    /// The entry at `i` (`i < len`).
    #[inline]
    #[cfg_attr(not(any(test, rouse_wasi, rouse_wasip2, rouse_iocp)), allow(dead_code))]
    pub(crate) fn get(&self, i: usize) -> &Entry<R> {
        &self.entries[i]
    }

    /// The index of `raw`'s registration.
    pub(crate) fn find(&self, raw: R) -> Option<usize> {
        if Self::INDEXED {
            self.slot_of(raw).map(|slot| self.index[slot] as usize - 1)
        } else {
            self.entries().iter().position(|e| e.raw == raw)
        }
    }

    /// The index of the registration `(raw, gen)`, looking at `hint` first.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    #[inline]
    pub(crate) fn find_exact(&self, hint: usize, raw: R, gen: u32) -> Option<usize> {
        let is = |e: &Entry<R>| e.raw == raw && e.gen == gen;
        match self.entries().get(hint) {
            Some(e) if is(e) => Some(hint),
            _ => self.find_moved(raw, gen),
        }
    }

    /// [`find_exact`](Self::find_exact)'s search when the registration is
    /// not at its hint (it moved when another was removed).
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    #[inline(never)]
    fn find_moved(&self, raw: R, gen: u32) -> Option<usize> {
        self.find(raw).filter(|&i| self.entries[i].gen == gen)
    }

    /// Adds a registration at index `self.len()`, armed for every
    /// condition its interests can report; returns its index.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn insert(
        &mut self,
        raw: R,
        token: Token,
        interests: Interest,
        trigger: Trigger,
    ) -> io::Result<usize> {
        if self.find(raw).is_some() {
            return Err(already_registered(raw));
        }
        self.insert_new(raw, token, interests, trigger)
            .map(|(_, i)| i)
    }

    /// [`insert`](Self::insert) for a caller that knows `raw` is not
    /// registered (it just looked); returns the generation and the index.
    pub(crate) fn insert_new(
        &mut self,
        raw: R,
        token: Token,
        interests: Interest,
        trigger: Trigger,
    ) -> io::Result<(u32, usize)> {
        let () = Self::FITS_U32;
        let i = self.len;
        let gen = self.next_gen;
        // Full when `len == N`; `get_mut` says so without a panic path.
        let Some(slot) = self.entries.get_mut(i) else {
            return Err(full(N));
        };
        *slot = Entry {
            raw,
            gen,
            token: token.0,
            interests: interests.bits(),
            armed: watchable(interests),
            flags: if trigger == Trigger::Level { LEVEL } else { 0 },
            through: 0,
        };
        self.len += 1;
        if Self::INDEXED {
            // There was room in the entries, so there is an empty slot.
            let mut slot = Self::home(raw);
            while self.index[slot] != 0 {
                slot = Self::next(slot);
            }
            self.index[slot] = self.len as u32;
        }
        self.next_gen = gen.wrapping_add(1);
        Ok((gen, i))
    }

    /// Changes the token and interests of entry `i` and re-arms every
    /// condition (`reregister`); returns its generation.
    pub(crate) fn update(&mut self, i: usize, token: Token, interests: Interest) -> u32 {
        // `i < len`: checked, not indexed, so no panic path is built.
        let Some(e) = self.entries.get_mut(i) else {
            return 0;
        };
        e.token = token.0;
        e.interests = interests.bits();
        e.armed = watchable(interests);
        e.through = 0;
        e.gen
    }

    /// Removes entry `i` by moving the last entry into it; returns the
    /// index the moved entry had (`i` itself if `i` was the last), so the
    /// caller can do the same to its parallel arrays.
    pub(crate) fn remove(&mut self, i: usize) -> usize {
        let last = self.len.wrapping_sub(1);
        // `i < len`: checked rather than indexed, so no panic path is
        // built (out of range, nothing is removed and nothing moves).
        let (Some(&gone), Some(&moved)) = (self.entries().get(i), self.entries().get(last)) else {
            return i;
        };
        if Self::INDEXED {
            if let Some(slot) = self.slot_of(gone.raw) {
                self.vacate(slot);
            }
            if i != last {
                // The last entry moves to `i`: renumber its slot.
                if let Some(slot) = self.slot_of(moved.raw) {
                    self.index[slot] = i as u32 + 1;
                }
            }
        }
        if let Some(slot) = self.entries.get_mut(i) {
            *slot = moved;
        }
        self.len = last;
        last
    }

    /// What to deliver for entry `i`, whose source shows the conditions
    /// `present`: the armed ones. An edge registration disarms what it
    /// delivers; a level one only the closed directions (see the module
    /// docs), which are final for both.
    #[inline]
    #[cfg_attr(not(any(test, rouse_wasi, rouse_iocp)), allow(dead_code))]
    pub(crate) fn report(&mut self, i: usize, present: u8) -> u8 {
        self.entries[i].report(present)
    }

    /// The entry at `i` (`i < len`), to report on; `None` past the end
    /// (checked without building a panic path).
    #[inline]
    #[cfg_attr(not(rouse_poll), allow(dead_code))]
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut Entry<R>> {
        self.entries.get_mut(..self.len)?.get_mut(i)
    }

    /// Re-arms entry `i` for what an operation in the `dirs` directions
    /// that met `WouldBlock` calls for; returns those conditions and
    /// whether anything changed.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn rearm(&mut self, i: usize, dirs: Interest) -> (u8, bool) {
        let e = &mut self.entries[i];
        if e.flags & DEAD != 0 {
            return (0, false);
        }
        let add = rearmed_by(dirs) & watchable(e.interests());
        let before = (e.armed, e.through);
        // Armed: reported at the next sight, as a drained condition
        // watched through would be.
        e.armed |= add;
        e.through &= !add;
        (add, (e.armed, e.through) != before)
    }

    /// Marks entry `i` closed by the OS: it watches and reports nothing
    /// until it is removed.
    pub(crate) fn mark_dead(&mut self, i: usize) {
        // `i < len`: checked, not indexed, so no panic path is built.
        if let Some(e) = self.entries.get_mut(i) {
            e.flags |= DEAD;
            e.armed = 0;
            e.through = 0;
        }
    }

    /// The token of entry `i`.
    #[inline]
    #[cfg_attr(not(any(test, rouse_wasi, rouse_iocp)), allow(dead_code))]
    pub(crate) fn token(&self, i: usize) -> usize {
        self.entries[i].token
    }
}

/// `Marks` word: the source drained readable since it was last reported.
const DRAINED_R: u32 = 1;
/// `Marks` word: the source drained writable since it was last reported.
const DRAINED_W: u32 = 2;
/// `Marks` word: a re-arm for reading must take the lock.
pub(crate) const SLOW_R: u32 = 4;
/// `Marks` word: a re-arm for writing must take the lock.
pub(crate) const SLOW_W: u32 = 8;
/// `Marks` word: in use (a zeroed word matches no generation).
#[cfg_attr(not(feature = "std"), allow(dead_code))]
const VALID: u32 = 16;
/// `Marks` word: the generation's low bits are above these.
#[cfg_attr(not(feature = "std"), allow(dead_code))]
const GEN_SHIFT: u32 = 5;

/// The `DRAINED_*` bits for the conditions `conds` (readable, writable).
#[cfg_attr(not(feature = "std"), allow(dead_code))]
#[inline]
fn drained_bits(conds: u8) -> u32 {
    // The same bits as the conditions.
    u32::from(conds & (READABLE | WRITABLE))
}

const _: () = assert!(DRAINED_R == READABLE as u32 && DRAINED_W == WRITABLE as u32);
const _: () = assert!(SLOW_R == DRAINED_R << 2 && SLOW_W == DRAINED_W << 2);
const _: () = assert!(
    Interest::READABLE.bits() as u32 == DRAINED_R && Interest::WRITABLE.bits() as u32 == DRAINED_W
);

/// The re-arm marks of a lazy driver's table, one word per registration,
/// kept beside the table's lock rather than under it, so that a source
/// re-arms without the lock in the common case.
///
/// A word holds the registration's generation (its low 27 bits), whether
/// the source drained readable or writable since each was last reported
/// (`DRAINED_*`), and whether a re-arm for reading or writing would change
/// what is watched and so must take the lock (`SLOW_*`). A re-arm handle
/// whose generation does not match (its registration is gone, or moved to
/// another index) takes the lock too, and finds it there or does nothing.
/// (A handle kept across 2^27 registrations at the same index could take
/// a newer one's word for its own: the worst it can do is note a drain
/// that did not happen, one spurious event.)
/// Only the lock holder changes a word's generation or `SLOW_*` bits; a
/// re-arm without the lock only sets `DRAINED_*`, with a compare-and-swap
/// that fails if anything changed meanwhile.
///
/// Without `std` nothing re-arms (there are no edge registrations), and
/// the marks are empty.
pub struct Marks<const N: usize> {
    #[cfg(feature = "std")]
    words: [core::sync::atomic::AtomicU32; N],
}

// SAFETY: `AtomicU32` has `u32`'s in-memory representation, and zero is a
// valid (unused) word.
unsafe impl<const N: usize> Zeroed for Marks<N> {}

#[cfg(feature = "std")]
use core::sync::atomic::Ordering::{AcqRel, Acquire};

impl<const N: usize> Marks<N> {
    /// The word of the registration with generation `gen`, no marks.
    #[cfg(feature = "std")]
    #[inline]
    fn tag(gen: u32) -> u32 {
        (gen << GEN_SHIFT) | VALID
    }

    /// A re-arm for `dirs` of the registration `(gen)` at `i`, without the
    /// lock: notes the source drained them and returns `true`, or returns
    /// `false` if the re-arm must take the lock (see the type's docs).
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn drained(&self, i: usize, gen: u32, dirs: Interest) -> bool {
        let Some(word) = self.words.get(i) else {
            return false;
        };
        // `Interest`'s readable and writable bits are `DRAINED_R` and
        // `DRAINED_W`, and `SLOW_*` the same two bits higher.
        let want = u32::from(dirs.bits()) & (DRAINED_R | DRAINED_W);
        let slow = want << 2;
        let tag = Self::tag(gen);
        let mut w = word.load(Acquire);
        loop {
            if (w ^ tag) & !(VALID - 1) != 0 || w & slow != 0 || want == 0 {
                return false;
            }
            if w & want == want {
                return true;
            }
            match word.compare_exchange_weak(w, w | want, AcqRel, Acquire) {
                Ok(_) => return true,
                Err(now) => w = now,
            }
        }
    }

    /// With the lock: of the conditions `conds` (readable, writable),
    /// watched through and shown again by the OS, takes those the source
    /// drained (clearing their marks) and returns them; marks the others
    /// `SLOW_*`, all in one step, so a concurrent re-arm either counts
    /// or takes the lock.
    #[inline]
    pub(crate) fn take(&self, i: usize, conds: u8) -> u8 {
        #[cfg(feature = "std")]
        {
            let want = drained_bits(conds);
            let got = self.words[i].fetch_and(!want, AcqRel) & want;
            if got == want {
                return conds;
            }
            self.mark_undrained(i, want & !got) | got as u8
        }
        #[cfg(not(feature = "std"))]
        {
            let _ = i;
            conds
        }
    }

    /// [`take`](Self::take) for the conditions (`DRAINED_*` bits `want`)
    /// not drained: marks them `SLOW_*`, unless a re-arm noted a drain
    /// meanwhile (then takes it, and returns those conditions).
    #[cfg(feature = "std")]
    #[cold]
    fn mark_undrained(&self, i: usize, want: u32) -> u8 {
        let mut w = self.words[i].load(Acquire);
        loop {
            let got = w & want;
            // DRAINED_R / _W sit two bits below SLOW_R / _W.
            let new = (w & !got) | ((want & !got) << 2);
            if new == w {
                return 0;
            }
            match self.words[i].compare_exchange_weak(w, new, AcqRel, Acquire) {
                Ok(_) => return got as u8,
                Err(now) => w = now,
            }
        }
    }

    /// With the lock: `conds` (readable, writable) were just reported, so
    /// a drain noted before is old news.
    #[inline]
    pub(crate) fn forget_drained(&self, i: usize, conds: u8) {
        #[cfg(feature = "std")]
        self.words[i].fetch_and(!drained_bits(conds), AcqRel);
        #[cfg(not(feature = "std"))]
        let _ = (i, conds);
    }

    /// With the lock: adds the `SLOW_*` bits `slow`.
    #[inline]
    pub(crate) fn add_slow(&self, i: usize, slow: u32) {
        #[cfg(feature = "std")]
        self.words[i].fetch_or(slow, AcqRel);
        #[cfg(not(feature = "std"))]
        let _ = (i, slow);
    }

    /// With the lock, after a re-arm: sets the `SLOW_*` bits to `slow`.
    #[cfg(feature = "std")]
    pub(crate) fn set_slow(&self, i: usize, slow: u32) {
        let mut w = self.words[i].load(Acquire);
        loop {
            let new = (w & !(SLOW_R | SLOW_W)) | slow;
            if new == w {
                return;
            }
            match self.words[i].compare_exchange_weak(w, new, AcqRel, Acquire) {
                Ok(_) => return,
                Err(now) => w = now,
            }
        }
    }

    /// With the lock: registration `i` is new or reregistered, with
    /// generation `gen` and the `SLOW_*` bits `slow`.
    #[inline]
    pub(crate) fn reset(&self, i: usize, gen: u32, slow: u32) {
        #[cfg(feature = "std")]
        self.words[i].store(Self::tag(gen) | slow, core::sync::atomic::Ordering::Release);
        #[cfg(not(feature = "std"))]
        let _ = (i, gen, slow);
    }

    /// With the lock: registration `i` was removed and the one at `from`
    /// moved into it (`from == i`: it was the last). The moved word keeps
    /// the marks set until now; `from`'s is emptied first, so a re-arm
    /// racing the move either lands before it (and moves along) or fails.
    #[inline]
    pub(crate) fn removed(&self, i: usize, from: usize) {
        #[cfg(feature = "std")]
        {
            let moved = self.words[from].swap(0, AcqRel);
            if from != i {
                self.words[i].store(moved, core::sync::atomic::Ordering::Release);
            }
        }
        #[cfg(not(feature = "std"))]
        let _ = (i, from);
    }
}

#[cold]
pub(crate) fn already_registered<R: TryInto<i64>>(raw: R) -> io::Error {
    io::error(
        io::ErrorKind::AlreadyExists,
        "fd is already registered",
        raw.try_into().ok(),
    )
}

#[cold]
fn full(capacity: usize) -> io::Error {
    io::error(
        io::TABLE_FULL,
        "registry full: capacity",
        i64::try_from(capacity).ok(),
    )
}

#[cold]
pub(crate) fn not_found<R: TryInto<i64>>(raw: R) -> io::Error {
    io::error(
        io::ErrorKind::NotFound,
        "fd is not registered",
        raw.try_into().ok(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    fn table<const N: usize>() -> std::boxed::Box<Registrations<i32, N>> {
        // Boxed: the model tests use tables too large for a test's stack
        // in debug builds.
        std::boxed::Box::new(Registrations::zeroed())
    }

    fn insert<const N: usize>(t: &mut Registrations<i32, N>, fd: i32) -> io::Result<usize> {
        t.insert(fd, Token(fd as usize), Interest::READABLE, Trigger::Edge)
    }

    fn remove<const N: usize>(t: &mut Registrations<i32, N>, fd: i32) -> Option<usize> {
        let i = t.find(fd)?;
        t.remove(i);
        Some(i)
    }

    #[test]
    fn insert_find_remove_keep_dense_order() {
        let mut t = table::<4>();
        for fd in 10..14 {
            insert(&mut t, fd).unwrap();
        }
        assert_eq!(t.len(), 4);
        let i = t.find(11).unwrap();
        assert_eq!(t.remove(i), 3);
        // The last entry moved into the hole.
        assert_eq!(t.entries()[1].raw, 13);
        assert_eq!(t.find(12), Some(2));
        assert_eq!(t.find(11), None);
    }

    #[test]
    fn errors_leave_the_table_unchanged() {
        let mut t = table::<2>();
        insert(&mut t, 3).unwrap();
        let dup = t
            .insert(3, Token(1), Interest::WRITABLE, Trigger::Level)
            .unwrap_err();
        assert_eq!(dup.kind(), io::ErrorKind::AlreadyExists);
        assert!(dup.to_string().contains('3'), "{dup}");
        insert(&mut t, 4).unwrap();
        let full = insert(&mut t, 5).unwrap_err();
        assert_eq!(full.kind(), io::TABLE_FULL);
        assert_eq!(full.to_string(), "registry full: capacity: 2");
        let e = t.entries()[0];
        assert_eq!(
            (e.raw, e.token, e.interests(), e.gen),
            (3, 3, Interest::READABLE, 0)
        );
        assert_eq!(e.trigger(), Trigger::Edge);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn edges_report_each_condition_once_until_rearmed() {
        let mut t = table::<1>();
        let i = t
            .insert(
                5,
                Token(0),
                Interest::READABLE | Interest::WRITABLE,
                Trigger::Edge,
            )
            .unwrap();
        assert_eq!(t.report(i, READABLE | WRITABLE), READABLE | WRITABLE);
        assert_eq!(t.report(i, READABLE | WRITABLE), 0);
        // A close after readable was reported is a new condition.
        assert_eq!(t.report(i, READABLE | READ_CLOSED), READ_CLOSED);
        assert_eq!(t.report(i, READABLE | READ_CLOSED), 0);
        // WouldBlock on a read re-arms reading (and errors), not writing
        // or the final close.
        assert!(t.rearm(i, Interest::READABLE).1);
        assert!(!t.rearm(i, Interest::READABLE).1);
        assert_eq!(t.report(i, READABLE | WRITABLE | READ_CLOSED), READABLE);
        assert_eq!(t.report(i, WRITE_CLOSED | ERROR), WRITE_CLOSED | ERROR);
        // reregister re-arms everything.
        t.update(i, Token(1), Interest::WRITABLE);
        assert_eq!(t.report(i, READABLE | WRITABLE), WRITABLE);
        assert_eq!(t.token(i), 1);
    }

    // Without std nothing re-arms, and the marks are empty.
    #[cfg(feature = "std")]
    #[test]
    fn watched_through_conditions_are_delivered_again_only_once_drained() {
        let mut t = table::<2>();
        let marks: std::boxed::Box<Marks<2>> = std::boxed::Box::new(Marks::zeroed());
        let i = t
            .insert(
                5,
                Token(0),
                Interest::READABLE | Interest::WRITABLE,
                Trigger::Edge,
            )
            .unwrap();
        let gen = t.get(i).gen;
        marks.reset(i, gen, t.get(i).slow());
        // A drain noted before the first report is old news.
        assert!(marks.drained(i, gen, Interest::READABLE));
        let e = t.get_mut(i).unwrap();
        assert_eq!(e.report_through(READABLE, &marks, i), (READABLE, true));
        // Still watched, and not delivered again until drained.
        assert_eq!(
            e.watching(),
            watchable(Interest::READABLE | Interest::WRITABLE)
        );
        assert!(marks.drained(i, gen, Interest::READABLE));
        assert_eq!(e.report_through(READABLE, &marks, i), (READABLE, false));
        // Shown again undrained: not delivered, no longer watched, and the
        // next re-arm must take the lock.
        assert_eq!(e.report_through(READABLE, &marks, i), (0, true));
        assert_eq!(e.watching() & READABLE, 0);
        assert!(!marks.drained(i, gen, Interest::READABLE));
        // Writing is unaffected.
        assert!(marks.drained(i, gen, Interest::WRITABLE));
        // The locked re-arm watches it again and clears the slow mark.
        assert!(t.rearm(i, Interest::READABLE).1);
        marks.set_slow(i, t.get(i).slow());
        assert!(marks.drained(i, gen, Interest::READABLE));
        let e = t.get_mut(i).unwrap();
        assert_eq!(
            e.report_through(READABLE | WRITABLE, &marks, i).0,
            READABLE | WRITABLE
        );
        // An error is reported once; re-arms then take the lock.
        assert_eq!(e.report_through(ERROR, &marks, i).0, ERROR);
        assert!(!marks.drained(i, gen, Interest::READABLE));
        assert!(!marks.drained(i, gen, Interest::WRITABLE));
        // A stale handle (another generation) never takes the fast path.
        assert!(!marks.drained(i, gen.wrapping_add(1), Interest::READABLE));
        // Removal empties the word; a moved registration's word moves.
        let j = insert(&mut t, 6).unwrap();
        let gen_j = t.get(j).gen;
        marks.reset(j, gen_j, t.get(j).slow());
        let from = t.remove(i);
        marks.removed(i, from);
        assert!(!marks.drained(j, gen_j, Interest::READABLE));
        assert!(marks.drained(i, gen_j, Interest::READABLE));
        let from = t.remove(i);
        marks.removed(i, from);
        assert!(!marks.drained(i, gen_j, Interest::READABLE));
    }

    #[test]
    fn level_registrations_report_what_is_present() {
        let mut t = table::<1>();
        let i = t
            .insert(
                5,
                Token(0),
                Interest::READABLE | Interest::WRITABLE,
                Trigger::Level,
            )
            .unwrap();
        assert_eq!(t.report(i, READABLE), READABLE);
        assert_eq!(t.report(i, READABLE | ERROR), READABLE | ERROR);
        assert_eq!(
            t.get(i).watching(),
            watchable(Interest::READABLE | Interest::WRITABLE)
        );
        // A closed read side is final: reported once, then neither it nor
        // readable is watched; writing goes on.
        assert_eq!(
            t.report(i, READABLE | READ_CLOSED | WRITABLE),
            READABLE | READ_CLOSED | WRITABLE
        );
        assert_eq!(t.report(i, READABLE | READ_CLOSED | WRITABLE), WRITABLE);
        assert_eq!(
            t.report(i, WRITABLE | WRITE_CLOSED),
            WRITABLE | WRITE_CLOSED
        );
        assert_eq!(t.get(i).watching(), ERROR);
        t.update(i, Token(0), Interest::READABLE);
        assert_eq!(t.report(i, READABLE), READABLE);
    }

    /// Random operations against a plain model, on tables small enough
    /// to fill (long probe runs, wrap-around, deletion from the middle of
    /// a run), with fds that collide in the index.
    fn matches_a_model<const N: usize>(fds: u64, steps: u32) {
        let mut t = table::<N>();
        let mut model: std::vec::Vec<i32> = std::vec::Vec::new();
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        for step in 0..steps {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // Mostly dense fds, some far apart (multiples of 4096, as
            // handles that collide in a multiplicative hash would be).
            let fd = match seed % 5 {
                0 => ((seed >> 8) % 8 * 4096) as i32,
                _ => ((seed >> 8) % fds) as i32,
            };
            if (seed >> 40) & 1 == 0 {
                let r = insert(&mut t, fd);
                match (model.contains(&fd), model.len() == N) {
                    (true, _) => assert_eq!(r.unwrap_err().kind(), io::ErrorKind::AlreadyExists),
                    (false, true) => assert_eq!(r.unwrap_err().kind(), io::TABLE_FULL),
                    (false, false) => {
                        r.unwrap();
                        model.push(fd);
                    }
                }
            } else {
                match model.iter().position(|&m| m == fd) {
                    Some(i) => {
                        assert_eq!(remove(&mut t, fd), Some(i));
                        model.swap_remove(i);
                    }
                    None => assert_eq!(remove(&mut t, fd), None),
                }
            }
            assert_eq!(t.len(), model.len());
            for (i, &m) in model.iter().enumerate() {
                assert_eq!(t.entries()[i].raw, m);
                assert_eq!(t.find(m), Some(i), "step {step}: fd {m}");
            }
            if Registrations::<i32, N>::INDEXED {
                let used = t.index.iter().filter(|&&n| n != 0).count();
                assert_eq!(used, model.len());
            }
        }
    }

    // The two model tests below run one table of each kind.
    const _: () = assert!(!Registrations::<i32, 13>::INDEXED);
    const _: () = assert!(Registrations::<i32, { SCAN_MAX + 13 }>::INDEXED);

    #[test]
    fn scanned_table_matches_a_model() {
        matches_a_model::<13>(40, if cfg!(miri) { 80 } else { 100_000 });
    }

    #[test]
    fn indexed_table_matches_a_model() {
        const N: usize = SCAN_MAX + 13;
        matches_a_model::<N>(N as u64 * 3 / 2, if cfg!(miri) { 80 } else { 100_000 });
    }

    #[test]
    fn zero_capacity_is_always_full() {
        let mut t = table::<0>();
        let full = insert(&mut t, 3).unwrap_err();
        assert_eq!(full.kind(), io::TABLE_FULL);
        assert_eq!(t.find(3), None);
    }

    #[test]
    fn generations_tell_registrations_apart() {
        let mut t = table::<2>();
        let a = insert(&mut t, 3).unwrap();
        let gen_a = t.get(a).gen;
        remove(&mut t, 3).unwrap();
        let b = insert(&mut t, 3).unwrap();
        let gen_b = t.get(b).gen;
        assert_ne!(gen_a, gen_b);
        assert_eq!(t.find_exact(0, 3, gen_a), None);
        assert_eq!(t.find_exact(5, 3, gen_b), Some(0));
    }
}
