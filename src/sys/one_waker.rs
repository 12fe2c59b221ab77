//! The one-`Waker`-per-`Poll` rule for the backends whose kernel keeps the
//! registrations (epoll, kqueue), where the selector itself keeps no table
//! to hold it: a claim shared by the selector and its clones.
//!
//! With `std`, a selector's claim is a flag of its own until the first
//! `Registry::try_clone`, which moves it into an `Arc` the clone shares (one
//! allocation, made then, never by `Poll::new`). Without `std` there is
//! nothing to share with: a clone starts with the flag as it was when it
//! was made, and wakers made later on one are not seen by the other.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::io;

#[derive(Debug)]
pub(crate) struct OneWaker {
    /// Whether a waker was made, while no clone exists.
    own: AtomicBool,
    /// The flag shared with clones, once there is one. Locked by `claim`
    /// and `try_clone` alike, so a clone can never miss a waker made at
    /// the same time.
    #[cfg(feature = "std")]
    shared: std::sync::Mutex<Option<std::sync::Arc<AtomicBool>>>,
}

impl OneWaker {
    pub(crate) const fn new() -> OneWaker {
        OneWaker {
            own: AtomicBool::new(false),
            #[cfg(feature = "std")]
            shared: std::sync::Mutex::new(None),
        }
    }

    /// Takes the one waker of this selector and its clones, or fails with
    /// `AlreadyExists`.
    pub(crate) fn claim(&self) -> io::Result<()> {
        #[cfg(feature = "std")]
        let shared = self
            .shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        #[cfg(feature = "std")]
        let taken = match &*shared {
            Some(flag) => flag.swap(true, Ordering::SeqCst),
            None => self.own.swap(true, Ordering::SeqCst),
        };
        #[cfg(not(feature = "std"))]
        let taken = self.own.swap(true, Ordering::SeqCst);
        if taken {
            return Err(io::error(
                io::ErrorKind::AlreadyExists,
                "this Poll already has a Waker (one per Poll, as in mio)",
                None,
            ));
        }
        Ok(())
    }

    /// Gives the claim back, when making the waker failed after `claim`.
    pub(crate) fn release(&self) {
        #[cfg(feature = "std")]
        match &*self
            .shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some(flag) => flag.store(false, Ordering::SeqCst),
            None => self.own.store(false, Ordering::SeqCst),
        }
        #[cfg(not(feature = "std"))]
        self.own.store(false, Ordering::SeqCst);
    }

    /// The claim of a clone of this selector.
    pub(crate) fn try_clone(&self) -> OneWaker {
        #[cfg(feature = "std")]
        {
            let mut shared = self
                .shared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let flag = shared
                .get_or_insert_with(|| {
                    std::sync::Arc::new(AtomicBool::new(self.own.load(Ordering::SeqCst)))
                })
                .clone();
            OneWaker {
                own: AtomicBool::new(false),
                shared: std::sync::Mutex::new(Some(flag)),
            }
        }
        #[cfg(not(feature = "std"))]
        OneWaker {
            own: AtomicBool::new(self.own.load(Ordering::SeqCst)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claim_across_clones() {
        let a = OneWaker::new();
        let early = a.try_clone();
        a.claim().unwrap();
        assert_eq!(a.claim().unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        if cfg!(feature = "std") {
            // Clones share the claim, whenever they were made.
            assert_eq!(
                early.claim().unwrap_err().kind(),
                io::ErrorKind::AlreadyExists
            );
        } else {
            // Without std a clone copies the flag as it was (the module
            // docs say so): made before the claim, it may claim again.
            early.claim().unwrap();
        }
        let late = early.try_clone();
        assert!(late.claim().is_err() && a.claim().is_err());
        let b = OneWaker::new();
        b.claim().unwrap();
        assert!(b.try_clone().claim().is_err());
        b.release();
        b.claim().unwrap();
    }
}
