//! The state handle of the poll(2) and WASI backends.
//!
//! With `std` the state is in an `Arc`: cloned registries
//! ([`Registry::try_clone`](crate::Registry::try_clone)) and the net types'
//! re-arm handles ([`Arm`](super::Arm)) share it, across threads and after
//! the `Poll` moves (one allocation, made by the selector's `new`). Without
//! `std` it is inline: no allocation, and `try_clone` is `Unsupported`.

use core::ops::Deref;
#[cfg(feature = "std")]
use std::sync::Arc;

use crate::io;

/// A table backend's state `T`, shared with `std`, inline without.
pub(crate) struct Shared<T> {
    #[cfg(feature = "std")]
    inner: Arc<T>,
    #[cfg(not(feature = "std"))]
    inner: T,
}

impl<T> Shared<T> {
    pub(crate) fn new(state: T) -> Shared<T> {
        Shared {
            #[cfg(feature = "std")]
            inner: Arc::new(state),
            #[cfg(not(feature = "std"))]
            inner: state,
        }
    }

    /// Another handle to the same state (`Registry::try_clone`).
    pub(crate) fn try_clone(&self) -> io::Result<Shared<T>> {
        #[cfg(feature = "std")]
        return Ok(Shared {
            inner: Arc::clone(&self.inner),
        });
        #[cfg(not(feature = "std"))]
        return Err(io::error(
            io::ErrorKind::Unsupported,
            "Registry::try_clone needs the `std` feature on the poll(2) and WASI backends",
            None,
        ));
    }
}

#[cfg(feature = "std")]
impl<T: super::Rearm + 'static> Shared<T> {
    /// The re-arm handle of the registration `(raw, gen)` at table index
    /// `hint`.
    pub(crate) fn arm(&self, raw: u64, gen: u32, hint: usize) -> super::Arm {
        let target: Arc<dyn super::Rearm> = self.inner.clone();
        super::Arm::new(target, raw, gen, hint)
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}
