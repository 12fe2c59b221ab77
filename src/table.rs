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

use heapless::Vec;

use crate::{io, Interest, Token};

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
    next_gen: u32,
}

impl<R: Copy + Eq + TryInto<i64>, const N: usize> TokenTable<R, N> {
    pub(crate) const fn new() -> Self {
        TokenTable {
            entries: Vec::new(),
            next_gen: 0,
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
        self.entries.iter().position(|e| e.raw == raw)
    }

    /// The index of the registration `(raw, gen)`, looking at `hint` first.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn find_exact(&self, hint: usize, raw: R, gen: u32) -> Option<usize> {
        let is = |e: &Entry<R>| e.raw == raw && e.gen == gen;
        match self.entries.get(hint) {
            Some(e) if is(e) => Some(hint),
            _ => self.entries.iter().position(is),
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
        let i = self.find(raw).ok_or_else(|| not_found(raw))?;
        self.entries.swap_remove(i);
        Ok(i)
    }
}

#[cold]
fn full(capacity: usize) -> io::Error {
    io::error(
        io::ErrorKind::StorageFull,
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
        assert_eq!(full.kind(), io::ErrorKind::StorageFull);
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
