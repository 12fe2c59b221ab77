//! The token table: registrations for backends whose kernel keeps none
//! (poll(2), and later WASI and IOCP).
//!
//! A dense `heapless::Vec` of `N` entries, fixed at compile time: inserting
//! into a full table is an error naming the capacity, never a reallocation
//! or a panic, and every failed operation leaves the table as it was.
//! Removal is `swap_remove`, so backends that keep a parallel native array
//! (poll(2)'s `pollfd`s) mirror it by moving their last element into the
//! freed index. Each registration gets a generation number, so a stale
//! handle (a re-arm for a source deregistered since) is told apart from a
//! new registration of the same fd.
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

use heapless::Vec;

use crate::{io, Interest, Token};

/// The largest capacity whose tables scan instead of keeping an index.
/// Fuzzing uses the index at every capacity, so the small tables it can
/// fill exercise it.
pub(crate) const SCAN_MAX: usize = if cfg!(fuzzing) { 0 } else { 128 };

/// One registration.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry<R> {
    pub(crate) raw: R,
    pub(crate) token: Token,
    pub(crate) interests: Interest,
    pub(crate) gen: u32,
}

/// A fixed-capacity table of registrations keyed by OS handle.
#[derive(Debug)]
pub(crate) struct TokenTable<R, const N: usize> {
    entries: Vec<Entry<R>, N>,
    /// Open addressing over `entries` (unused when `N <= SCAN_MAX`): `0`
    /// is an empty slot, `i + 1` names `entries[i]`, found from the slot
    /// its fd hashes to by probing forward (wrapping) with no empty slot in
    /// between.
    index: [u32; N],
    next_gen: u32,
}

impl<R: Copy + Eq + TryInto<i64>, const N: usize> TokenTable<R, N> {
    /// Entry numbers are stored as `u32`: a larger capacity fails to build.
    const FITS_U32: () = assert!(N < u32::MAX as usize, "token table capacity too large");

    /// Whether this capacity keeps the index (decided at compile time, so
    /// the other path's code is not in the binary).
    const INDEXED: bool = N > SCAN_MAX;

    pub(crate) const fn new() -> Self {
        let () = Self::FITS_U32;
        TokenTable {
            entries: Vec::new(),
            index: [0; N],
            next_gen: 0,
        }
    }

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

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn entries(&self) -> &[Entry<R>] {
        &self.entries
    }

    /// The index of `raw`'s registration.
    pub(crate) fn find(&self, raw: R) -> Option<usize> {
        if Self::INDEXED {
            self.slot_of(raw).map(|slot| self.index[slot] as usize - 1)
        } else {
            self.entries.iter().position(|e| e.raw == raw)
        }
    }

    /// The index of the registration `(raw, gen)`, looking at `hint` first.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn find_exact(&self, hint: usize, raw: R, gen: u32) -> Option<usize> {
        let is = |e: &Entry<R>| e.raw == raw && e.gen == gen;
        match self.entries.get(hint) {
            Some(e) if is(e) => Some(hint),
            _ => self.find(raw).filter(|&i| self.entries[i].gen == gen),
        }
    }

    /// Adds a registration at index `self.len()` and returns its entry.
    pub(crate) fn insert(
        &mut self,
        raw: R,
        token: Token,
        interests: Interest,
    ) -> io::Result<Entry<R>> {
        if self.find(raw).is_some() {
            return Err(io::error(
                io::ErrorKind::AlreadyExists,
                "fd is already registered",
                raw.try_into().ok(),
            ));
        }
        let entry = Entry {
            raw,
            token,
            interests,
            gen: self.next_gen,
        };
        self.entries.push(entry).map_err(|_| full(N))?;
        if Self::INDEXED {
            // There was room in the entries, so there is an empty slot.
            let mut slot = Self::home(raw);
            while self.index[slot] != 0 {
                slot = Self::next(slot);
            }
            self.index[slot] = self.entries.len() as u32;
        }
        self.next_gen = self.next_gen.wrapping_add(1);
        Ok(entry)
    }

    /// Changes the token and interests of `raw`; returns its index.
    pub(crate) fn update(
        &mut self,
        raw: R,
        token: Token,
        interests: Interest,
    ) -> io::Result<usize> {
        let i = self.find(raw).ok_or_else(|| not_found(raw))?;
        let entry = &mut self.entries[i];
        entry.token = token;
        entry.interests = interests;
        Ok(i)
    }

    /// Removes `raw` by moving the last entry into its index, which is
    /// returned so the caller can do the same to its parallel array.
    pub(crate) fn remove(&mut self, raw: R) -> io::Result<usize> {
        let i = if Self::INDEXED {
            let slot = self.slot_of(raw).ok_or_else(|| not_found(raw))?;
            let i = self.index[slot] as usize - 1;
            self.vacate(slot);
            let last = self.entries.len() - 1;
            if i != last {
                // The last entry moves to `i`: renumber its slot.
                if let Some(moved) = self.slot_of(self.entries[last].raw) {
                    self.index[moved] = i as u32 + 1;
                }
            }
            i
        } else {
            self.find(raw).ok_or_else(|| not_found(raw))?
        };
        self.entries.swap_remove(i);
        Ok(i)
    }
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
fn not_found<R: TryInto<i64>>(raw: R) -> io::Error {
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

    #[test]
    fn insert_find_remove_keep_dense_order() {
        let mut t = TokenTable::<i32, 4>::new();
        for fd in 10..14 {
            t.insert(fd, Token(fd as usize), Interest::READABLE)
                .unwrap();
        }
        assert_eq!(t.len(), 4);
        assert_eq!(t.remove(11).unwrap(), 1);
        // The last entry moved into the hole.
        assert_eq!(t.entries()[1].raw, 13);
        assert_eq!(t.find(12), Some(2));
        assert_eq!(t.find(11), None);
    }

    #[test]
    fn errors_leave_the_table_unchanged() {
        let mut t = TokenTable::<i32, 2>::new();
        t.insert(3, Token(0), Interest::READABLE).unwrap();
        let dup = t.insert(3, Token(1), Interest::WRITABLE).unwrap_err();
        assert_eq!(dup.kind(), io::ErrorKind::AlreadyExists);
        assert!(dup.to_string().contains('3'), "{dup}");
        t.insert(4, Token(1), Interest::READABLE).unwrap();
        let full = t.insert(5, Token(2), Interest::READABLE).unwrap_err();
        assert_eq!(full.kind(), io::TABLE_FULL);
        assert_eq!(full.to_string(), "registry full: capacity: 2");
        assert_eq!(
            t.update(9, Token(0), Interest::READABLE)
                .unwrap_err()
                .kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(t.remove(9).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(
            t.entries()[0],
            Entry {
                raw: 3,
                token: Token(0),
                interests: Interest::READABLE,
                gen: 0
            }
        );
        assert_eq!(t.len(), 2);
    }

    /// Random operations against a plain model, on tables small enough
    /// to fill (long probe runs, wrap-around, deletion from the middle of
    /// a run), with fds that collide in the index.
    fn matches_a_model<const N: usize>(fds: u64, steps: u32) {
        let mut t = TokenTable::<i32, N>::new();
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
                let r = t.insert(fd, Token(step as usize), Interest::READABLE);
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
                        assert_eq!(t.remove(fd).unwrap(), i);
                        model.swap_remove(i);
                    }
                    None => assert_eq!(t.remove(fd).unwrap_err().kind(), io::ErrorKind::NotFound),
                }
            }
            assert_eq!(t.len(), model.len());
            for (i, &m) in model.iter().enumerate() {
                assert_eq!(t.entries()[i].raw, m);
                assert_eq!(t.find(m), Some(i), "step {step}: fd {m}");
            }
            if TokenTable::<i32, N>::INDEXED {
                let used = t.index.iter().filter(|&&n| n != 0).count();
                assert_eq!(used, model.len());
            }
        }
    }

    // The two model tests below run one table of each kind.
    const _: () = assert!(!TokenTable::<i32, 13>::INDEXED);
    const _: () = assert!(TokenTable::<i32, { SCAN_MAX + 13 }>::INDEXED);

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
        let mut t = TokenTable::<i32, 0>::new();
        let full = t.insert(3, Token(0), Interest::READABLE).unwrap_err();
        assert_eq!(full.kind(), io::TABLE_FULL);
        assert_eq!(t.find(3), None);
        assert_eq!(t.remove(3).unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn generations_tell_registrations_apart() {
        let mut t = TokenTable::<i32, 2>::new();
        let a = t.insert(3, Token(0), Interest::READABLE).unwrap();
        t.remove(3).unwrap();
        let b = t.insert(3, Token(0), Interest::READABLE).unwrap();
        assert_ne!(a.gen, b.gen);
        assert_eq!(t.find_exact(0, 3, a.gen), None);
        assert_eq!(t.find_exact(5, 3, b.gen), Some(0));
    }
}
