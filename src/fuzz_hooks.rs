//! Not API: the crate-private parts the fuzz targets in `fuzz/` drive.
//!
//! Compiled only with `--cfg fuzzing`, which `cargo fuzz` sets; a normal
//! build never sees it, and nothing here is covered by semver. Each item
//! forwards to the private code it wraps and adds no logic of its own, so
//! what the fuzzer checks is the code every backend runs.

use crate::{io, Interest, Token};

/// One registration of a [`TokenTable`] (a copy of the private entry).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The OS handle.
    pub raw: i32,
    /// The caller's token.
    pub token: Token,
    /// What it is registered for.
    pub interests: Interest,
    /// The registration's generation.
    pub gen: u32,
}

type Regs<const N: usize> = crate::sys::table::Registrations<i32, N>;

/// The registrations of the table backends (the table core's), keyed by
/// `i32` fds.
pub struct TokenTable<const N: usize>(Regs<N>);

impl<const N: usize> Default for TokenTable<N> {
    fn default() -> Self {
        TokenTable(crate::sys::table::Zeroed::zeroed())
    }
}

impl<const N: usize> TokenTable<N> {
    /// How many registrations it holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }
    /// The entry at `i`, in the table's (dense) order.
    pub fn entry(&self, i: usize) -> Option<Entry> {
        self.0.entries().get(i).map(|e| Entry {
            raw: e.raw,
            token: Token(e.token),
            interests: e.interests(),
            gen: e.gen,
        })
    }
    /// The index of `raw`'s registration.
    pub fn find(&self, raw: i32) -> Option<usize> {
        self.0.find(raw)
    }
    /// The index of the registration `(raw, gen)`, looking at `hint` first.
    pub fn find_exact(&self, hint: usize, raw: i32, gen: u32) -> Option<usize> {
        self.0.find_exact(hint, raw, gen)
    }
    /// Adds a registration.
    pub fn insert(&mut self, raw: i32, token: Token, interests: Interest) -> io::Result<Entry> {
        let i = self
            .0
            .insert(raw, token, interests, crate::sys::table::Trigger::Level)?;
        Ok(self.entry(i).expect("just inserted"))
    }
    /// Changes a registration; returns its index.
    pub fn update(&mut self, raw: i32, token: Token, interests: Interest) -> io::Result<usize> {
        let i = self.0.find(raw).ok_or_else(|| missing(raw))?;
        self.0.update(i, token, interests);
        Ok(i)
    }
    /// Removes a registration (moving the last into its index); returns the index.
    pub fn remove(&mut self, raw: i32) -> io::Result<usize> {
        let i = self.0.find(raw).ok_or_else(|| missing(raw))?;
        self.0.remove(i);
        Ok(i)
    }
}

fn missing(raw: i32) -> io::Error {
    io::error(
        io::ErrorKind::NotFound,
        "fd is not registered",
        Some(i64::from(raw)),
    )
}

/// The kqueue backend's portable half (`sys/kqueue/abi.rs`), which compiles
/// on every host.
#[cfg(feature = "kqueue")]
pub mod kqueue {
    use crate::sys::kqueue::abi;
    use crate::{Interest, Token};

    /// At most this many changes go to the kernel in one call.
    pub const MAX_CHANGES: usize = abi::MAX_CHANGES;

    /// A `struct kevent` in portable form (a copy of the private one).
    #[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
    pub struct Kevent {
        /// `ident`.
        pub ident: usize,
        /// `filter`.
        pub filter: i32,
        /// `flags`.
        pub flags: u32,
        /// `fflags`.
        pub fflags: u32,
        /// `data`.
        pub data: i64,
        /// `udata`.
        pub udata: usize,
    }

    impl From<abi::Kevent> for Kevent {
        fn from(k: abi::Kevent) -> Kevent {
            Kevent {
                ident: k.ident,
                filter: k.filter,
                flags: k.flags,
                fflags: k.fflags,
                data: k.data,
                udata: k.udata,
            }
        }
    }

    impl From<Kevent> for abi::Kevent {
        fn from(k: Kevent) -> abi::Kevent {
            abi::Kevent {
                ident: k.ident,
                filter: k.filter,
                flags: k.flags,
                fflags: k.fflags,
                data: k.data,
                udata: k.udata,
            }
        }
    }

    /// Why a change list failed.
    #[derive(Copy, Clone, Debug, PartialEq, Eq)]
    pub enum Failure {
        /// Registered already.
        AlreadyExists,
        /// Not registered.
        NotFound,
        /// This errno.
        Os(i64),
    }

    fn failure(f: abi::Failure) -> Failure {
        match f {
            abi::Failure::AlreadyExists => Failure::AlreadyExists,
            abi::Failure::NotFound => Failure::NotFound,
            abi::Failure::Os(e) => Failure::Os(e),
        }
    }

    /// A change list: up to [`MAX_CHANGES`] records.
    #[derive(Copy, Clone, Debug, Default)]
    pub struct Changes {
        /// The records; `buf[..len]` are used.
        pub buf: [Kevent; MAX_CHANGES],
        /// How many are used.
        pub len: usize,
    }

    impl Changes {
        fn from(c: abi::Changes) -> Changes {
            let mut out = Changes::default();
            for (dst, src) in out.buf.iter_mut().zip(c.as_slice()) {
                *dst = Kevent::from(*src);
            }
            out.len = c.as_slice().len();
            out
        }
        /// The used records.
        pub fn as_slice(&self) -> &[Kevent] {
            &self.buf[..self.len]
        }
    }

    fn convert<const M: usize>(records: &[Kevent]) -> ([abi::Kevent; M], usize) {
        let mut out = [abi::Kevent::default(); M];
        let n = records.len().min(M);
        for (dst, src) in out.iter_mut().zip(&records[..n]) {
            *dst = abi::Kevent::from(*src);
        }
        (out, n)
    }

    /// One platform's constants.
    #[derive(Copy, Clone, Debug)]
    pub struct Abi(abi::Abi);

    /// Every platform's constants.
    pub fn all() -> [Abi; 6] {
        abi::ALL.map(Abi)
    }

    impl Abi {
        /// The platform.
        pub fn name(&self) -> &'static str {
            self.0.name
        }
        /// `EVFILT_READ`, `EVFILT_WRITE`, `EVFILT_USER` (where used).
        pub fn filters(&self) -> (i32, i32, Option<i32>) {
            (self.0.read, self.0.write, self.0.user)
        }
        /// `EV_ADD`, `EV_DELETE`, `EV_ENABLE`, `EV_CLEAR`, `EV_RECEIPT`.
        pub fn change_flags(&self) -> (u32, u32, u32, u32, u32) {
            (
                self.0.add,
                self.0.delete,
                self.0.enable,
                self.0.clear,
                self.0.receipt,
            )
        }
        /// `EV_ERROR`, `EV_EOF`, `EV_OOBAND` (0 where absent).
        pub fn result_flags(&self) -> (u32, u32, u32) {
            (self.0.error, self.0.eof, self.0.ooband)
        }
        /// The token of a returned record.
        pub fn token(&self, ev: &Kevent) -> Token {
            abi::token(&abi::Kevent::from(*ev))
        }
        /// (readable, writable, error, read_closed, write_closed, priority).
        pub fn readiness(&self, ev: &Kevent) -> [bool; 6] {
            let a = &self.0;
            let e = abi::Kevent::from(*ev);
            [
                abi::is_readable(a, &e),
                abi::is_writable(a, &e),
                abi::is_error(a, &e),
                abi::is_read_closed(a, &e),
                abi::is_write_closed(a, &e),
                abi::is_priority(a, &e),
            ]
        }
        /// The change list of `register`.
        pub fn register(&self, fd: usize, token: Token, interests: Interest) -> Changes {
            Changes::from(abi::register(&self.0, fd, token, interests))
        }
        /// The change list of `reregister`.
        pub fn reregister(&self, fd: usize, token: Token, interests: Interest) -> Changes {
            Changes::from(abi::reregister(&self.0, fd, token, interests))
        }
        /// The change list of `deregister`.
        pub fn deregister(&self, fd: usize) -> Changes {
            Changes::from(abi::deregister(&self.0, fd))
        }
        /// After `registered` said `AlreadyExists`: the changes that give
        /// the fd back the filters it had.
        pub fn undo_register(&self, changes: &[Kevent], replies: &[Kevent]) -> Changes {
            let (c, n) = convert::<MAX_CHANGES>(changes);
            let (r, m) = convert::<MAX_CHANGES>(replies);
            Changes::from(abi::undo_register(&self.0, &c[..n], &r[..m]))
        }
        /// The changes undoing the adds of `changes`.
        pub fn undo_adds(&self, changes: &[Kevent]) -> Changes {
            let (c, n) = convert::<MAX_CHANGES>(changes);
            Changes::from(abi::undo_adds(&self.0, &c[..n]))
        }
        /// A receipt's outcome.
        pub fn receipt(&self, reply: &Kevent) -> Result<(), i64> {
            abi::receipt(&self.0, &abi::Kevent::from(*reply))
        }
        /// The verdict on `register`'s replies (the probe's two first; at
        /// most `MAX_CHANGES` used).
        pub fn registered(&self, replies: &[Kevent]) -> Result<(), Failure> {
            let (r, n) = convert::<MAX_CHANGES>(replies);
            abi::registered(&self.0, &r[..n]).map_err(failure)
        }
        /// The verdict on the replies to a list of adds (at most
        /// `MAX_CHANGES` used).
        pub fn added(&self, replies: &[Kevent]) -> Result<(), Failure> {
            let (r, n) = convert::<MAX_CHANGES>(replies);
            abi::added(&self.0, &r[..n]).map_err(failure)
        }
        /// The verdict on a probe's replies (at most `MAX_CHANGES` used).
        pub fn probed(&self, replies: &[Kevent]) -> Result<bool, Failure> {
            let (r, n) = convert::<MAX_CHANGES>(replies);
            abi::probed(&self.0, &r[..n]).map_err(failure)
        }
        /// The verdict on `reregister`'s replies (at most `MAX_CHANGES` of each).
        pub fn reregistered(&self, changes: &[Kevent], replies: &[Kevent]) -> Result<(), Failure> {
            let (c, n) = convert::<MAX_CHANGES>(changes);
            let (r, m) = convert::<MAX_CHANGES>(replies);
            abi::reregistered(&self.0, &c[..n], &r[..m]).map_err(failure)
        }
        /// The verdict on `deregister`'s replies (at most `MAX_CHANGES` used).
        pub fn deregistered(&self, replies: &[Kevent]) -> Result<(), Failure> {
            let (r, n) = convert::<MAX_CHANGES>(replies);
            abi::deregistered(&self.0, &r[..n]).map_err(failure)
        }
    }
}
