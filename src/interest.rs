//! `Interest`: which kinds of readiness a registration asks for.
//!
//! A small non-zero bit set, so `Option<Interest>` is one byte and an empty
//! interest cannot be expressed (registering for nothing is a bug).

use core::num::NonZeroU8;
use core::{fmt, ops};

const READABLE: u8 = 0b0_0001;
const WRITABLE: u8 = 0b0_0010;
const PRIORITY: u8 = 0b0_0100;
const AIO: u8 = 0b0_1000;
const LIO: u8 = 0b1_0000;

/// Interest used in registering.
///
/// Interests are combined with `|` (or [`Interest::add`]) and are never
/// empty: [`Interest::remove`] returns `None` when nothing would be left.
///
/// # Examples
///
/// ```
/// use rouse::Interest;
///
/// let both = Interest::READABLE | Interest::WRITABLE;
/// assert!(both.is_readable() && both.is_writable());
/// assert_eq!(both.remove(Interest::WRITABLE), Some(Interest::READABLE));
/// assert_eq!(Interest::READABLE.remove(Interest::READABLE), None);
/// ```
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interest(NonZeroU8);

impl Interest {
    /// Readable readiness.
    pub const READABLE: Interest = Interest(match NonZeroU8::new(READABLE) {
        Some(bits) => bits,
        None => unreachable!(),
    });

    /// Writable readiness.
    pub const WRITABLE: Interest = Interest(match NonZeroU8::new(WRITABLE) {
        Some(bits) => bits,
        None => unreachable!(),
    });

    /// Priority (out-of-band) readiness: `EPOLLPRI` / `POLLPRI`.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub const PRIORITY: Interest = Interest(match NonZeroU8::new(PRIORITY) {
        Some(bits) => bits,
        None => unreachable!(),
    });

    /// AIO completion interest (`EVFILT_AIO`), for kqueue on FreeBSD,
    /// DragonFly, macOS and iOS, as in mio.
    ///
    /// It adds no kqueue filter for the registered fd: an AIO request
    /// names the kqueue itself (its `sigevent` carries the kqueue's fd,
    /// from `Registry`'s `AsRawFd`, and the token), and its completion is
    /// reported as an event whose [`is_aio`](crate::event::Event::is_aio)
    /// is true. A [`Source`](crate::event::Source) for AIO requests
    /// (tokio's `poll_aio`, mio-aio) does that in its `register`.
    #[cfg(any(
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "macos",
        target_os = "ios"
    ))]
    pub const AIO: Interest = Interest(match NonZeroU8::new(AIO) {
        Some(bits) => bits,
        None => unreachable!(),
    });

    /// LIO completion interest (`EVFILT_LIO`), for kqueue on FreeBSD, as
    /// in mio: like [`AIO`](Interest::AIO), for a list of requests
    /// (`lio_listio`), reported as an event whose
    /// [`is_lio`](crate::event::Event::is_lio) is true.
    #[cfg(target_os = "freebsd")]
    pub const LIO: Interest = Interest(match NonZeroU8::new(LIO) {
        Some(bits) => bits,
        None => unreachable!(),
    });

    /// Both interests together; usable in `const` context.
    #[must_use]
    pub const fn add(self, other: Interest) -> Interest {
        // Both operands are non-zero, so the union is too.
        Interest(match NonZeroU8::new(self.0.get() | other.0.get()) {
            Some(bits) => bits,
            None => self.0,
        })
    }

    /// `self` without `other`, or `None` if nothing would be left.
    #[must_use]
    pub const fn remove(self, other: Interest) -> Option<Interest> {
        match NonZeroU8::new(self.0.get() & !other.0.get()) {
            Some(bits) => Some(Interest(bits)),
            None => None,
        }
    }

    /// Whether readable readiness is requested.
    pub const fn is_readable(self) -> bool {
        self.0.get() & READABLE != 0
    }

    /// Whether writable readiness is requested.
    pub const fn is_writable(self) -> bool {
        self.0.get() & WRITABLE != 0
    }

    /// Whether priority readiness is requested (always `false` off Linux/Android).
    pub const fn is_priority(self) -> bool {
        self.0.get() & PRIORITY != 0
    }

    /// Whether AIO completion interest is requested (always `false` off
    /// FreeBSD, DragonFly, macOS and iOS).
    pub const fn is_aio(self) -> bool {
        self.0.get() & AIO != 0
    }

    /// Whether LIO completion interest is requested (always `false` off
    /// FreeBSD).
    pub const fn is_lio(self) -> bool {
        self.0.get() & LIO != 0
    }

    /// The interest bits, for tables that store interests as a byte.
    #[allow(dead_code)]
    pub(crate) const fn bits(self) -> u8 {
        self.0.get()
    }

    /// The interests stored by [`bits`](Interest::bits), or `None` for 0.
    #[allow(dead_code)]
    pub(crate) const fn from_bits(bits: u8) -> Option<Interest> {
        match NonZeroU8::new(bits) {
            Some(bits) => Some(Interest(bits)),
            None => None,
        }
    }

    /// Whether every interest in `other` is also in `self`.
    pub const fn contains(self, other: Interest) -> bool {
        self.0.get() & other.0.get() == other.0.get()
    }
}

impl ops::BitOr for Interest {
    type Output = Interest;
    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

impl ops::BitOrAssign for Interest {
    fn bitor_assign(&mut self, other: Interest) {
        *self = self.add(other);
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        for (bit, name) in [
            (READABLE, "READABLE"),
            (WRITABLE, "WRITABLE"),
            (PRIORITY, "PRIORITY"),
            (AIO, "AIO"),
            (LIO, "LIO"),
        ] {
            if self.0.get() & bit != 0 {
                write!(f, "{sep}{name}")?;
                sep = " | ";
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Interest;
    use std::format;

    #[test]
    fn add_remove_and_debug() {
        let rw = Interest::READABLE | Interest::WRITABLE;
        assert!(rw.contains(Interest::READABLE));
        assert_eq!(rw.remove(Interest::READABLE), Some(Interest::WRITABLE));
        assert_eq!(Interest::WRITABLE.remove(rw), None);
        let mut i = Interest::READABLE;
        i |= Interest::WRITABLE;
        assert_eq!(i, rw);
        assert!(!Interest::READABLE.is_priority());
        assert!(!rw.is_aio() && !rw.is_lio());
        assert_eq!(Interest::from_bits(rw.bits()), Some(rw));
        assert_eq!(Interest::from_bits(0), None);
        assert_eq!(format!("{rw:?}"), "READABLE | WRITABLE");
        assert_eq!(core::mem::size_of::<Option<Interest>>(), 1);
    }
}
