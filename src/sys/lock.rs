//! The lock around a table backend's state: `std::sync::Mutex` with `std`;
//! without `std` a `RefCell`, because then the state lives inline in the
//! `Poll` and can only be reached from one thread (no `try_clone`, and
//! `poll` takes `&mut self`), and no selector method re-enters another.

#[cfg(feature = "std")]
mod imp {
    use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

    #[derive(Debug)]
    pub(crate) struct Lock<T>(Mutex<T>);

    impl<T> Lock<T> {
        pub(crate) fn new(value: T) -> Self {
            Lock(Mutex::new(value))
        }

        // rouse never panics while holding the lock, and the table is
        // consistent between calls, so a poisoned lock is still usable.
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }

        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            match self.0.try_lock() {
                Ok(guard) => Some(guard),
                Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            }
        }
    }

    /// Lets the thread that holds the lock run.
    pub(crate) fn relax() {
        std::thread::yield_now();
    }
}

#[cfg(not(feature = "std"))]
mod imp {
    use core::cell::{RefCell, RefMut};

    #[derive(Debug)]
    pub(crate) struct Lock<T>(RefCell<T>);

    impl<T> Lock<T> {
        pub(crate) fn new(value: T) -> Self {
            Lock(RefCell::new(value))
        }

        // Never already borrowed: see the module docs.
        pub(crate) fn lock(&self) -> RefMut<'_, T> {
            self.0.borrow_mut()
        }

        pub(crate) fn try_lock(&self) -> Option<RefMut<'_, T>> {
            self.0.try_borrow_mut().ok()
        }
    }

    pub(crate) fn relax() {
        core::hint::spin_loop();
    }
}

pub(crate) use imp::{relax, Lock};
