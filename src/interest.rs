//! `Interest`: which kinds of readiness a registration asks for.
//!
//! A small non-zero bit set, so `Option<Interest>` is one byte and an empty
//! interest cannot be expressed (registering for nothing is a bug).

use core::num::NonZeroU8;
use core::{fmt, ops};

const READABLE: u8 = 0b001;
const WRITABLE: u8 = 0b010;
const PRIORITY: u8 = 0b100;

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
        assert_eq!(format!("{rw:?}"), "READABLE | WRITABLE");
        assert_eq!(core::mem::size_of::<Option<Interest>>(), 1);
    }
}
