//! Where a table backend's state lives, and the lock around its tables.
//!
//! The state has two parts: a small *head* (the lock, the OS objects a
//! backend opens) and a large *body* (the registrations and the arrays the
//! OS reads, `N` entries each). The body is plain data that is valid when
//! all its bytes are zero ([`Zeroed`]).
//!
//! With `std` both live in one `Arc`, shared by the `Poll`, its cloned
//! registries and the re-arm handles of registered sources. The `Arc` is
//! allocated uninitialised; the body's bytes are zeroed in place and the
//! head is written next to it, so the body is never built on the stack: a
//! table of a million entries can be made on a thread with a 64 KiB stack.
//! (`Arc::new_uninit` is Rust 1.82; older compilers build a zeroed `Box` in
//! place and move it into the `Arc`, one more brief allocation.)
//!
//! Without `std` the state is inline (no allocation at all): the body is
//! built zeroed by value, so it needs as much stack as it is large, once.
//!
//! The lock ([`Guarded`]): `std::sync::Mutex` with `std` (the body is not
//! inside it, so it guards an `UnsafeCell` next to it); without `std`, a
//! `RefCell`, because the state then lives in one `Poll` that only one
//! thread can reach (no `try_clone`, `poll` takes `&mut self`) and no
//! backend call re-enters another.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};

/// Types whose all-zero bit pattern is a valid value.
///
/// # Safety
///
/// An implementor must be valid when every byte is zero: integers, raw
/// pointers, arrays and `repr(C)` structs of such, `UnsafeCell`s of such.
/// No references, `NonZero*`, `bool`s that must be `true`, enums without a
/// zero variant, or std types whose layout is not documented.
pub unsafe trait Zeroed: Sized {
    /// The all-zero value.
    fn zeroed() -> Self {
        // SAFETY: implementors guarantee that all-zero bytes are a valid
        // value (see the trait's contract).
        unsafe { core::mem::zeroed() }
    }
}

// SAFETY: an array of zero-valid values is zero-valid.
unsafe impl<T: Zeroed, const N: usize> Zeroed for [T; N] {}
// SAFETY: plain integers.
unsafe impl Zeroed for u8 {}
// SAFETY: plain integers.
unsafe impl Zeroed for u32 {}
// SAFETY: plain integers.
unsafe impl Zeroed for u64 {}
// SAFETY: plain integers.
unsafe impl Zeroed for usize {}
// SAFETY: plain integers.
unsafe impl Zeroed for i32 {}
// SAFETY: `UnsafeCell<T>` has `T`'s layout and validity.
unsafe impl<T: Zeroed> Zeroed for UnsafeCell<T> {}

#[cfg(feature = "std")]
pub(crate) use self::heap::{Pair, Shared};
#[cfg(not(feature = "std"))]
pub(crate) use self::inline::Shared;

#[cfg(feature = "std")]
mod heap {
    use core::ptr;
    use std::sync::Arc;

    use super::Zeroed;
    use crate::io;

    /// A head and a body side by side: what a [`Shared`] holds. The body
    /// is dropped first, while the head's OS objects are still open (the
    /// IOCP body takes its polls back from the kernel through them).
    #[repr(C)]
    pub(crate) struct Pair<H, B> {
        pub(crate) body: B,
        pub(crate) head: H,
    }

    /// A head `H` and a zero-valid body `B` in one reference-counted heap
    /// allocation (an `Arc`); the body is made in place, never on the
    /// stack.
    pub(crate) struct Shared<H, B> {
        pair: Arc<Pair<H, B>>,
    }

    impl<H, B: Zeroed> Shared<H, B> {
        /// Allocates the state with `head` and a zeroed body.
        pub(crate) fn new(head: H) -> io::Result<Shared<H, B>> {
            Ok(Shared {
                pair: new_pair(head),
            })
        }
    }

    /// `Arc::new_uninit` (Rust 1.82): one allocation, written in place.
    #[cfg(rouse_new_uninit)]
    #[allow(clippy::incompatible_msrv)]
    fn new_pair<H, B: Zeroed>(head: H) -> Arc<Pair<H, B>> {
        let mut arc = Arc::<Pair<H, B>>::new_uninit();
        let slot: &mut core::mem::MaybeUninit<Pair<H, B>> = match Arc::get_mut(&mut arc) {
            Some(slot) => slot,
            // A new Arc has one handle.
            None => unreachable!(),
        };
        let pair = slot.as_mut_ptr();
        // SAFETY: `pair` points to uninitialised memory for one `Pair`,
        // which this handle owns alone. The body's bytes are set to zero,
        // a valid `B` (`B: Zeroed`), and the head is written whole; after
        // both every field is initialised, so `assume_init` is sound.
        unsafe {
            ptr::addr_of_mut!((*pair).body).write_bytes(0, 1);
            ptr::addr_of_mut!((*pair).head).write(head);
            arc.assume_init()
        }
    }

    /// Before Rust 1.82: a zeroed `Box` written in place, then moved into
    /// an `Arc` (heap to heap: still never on the stack; one more, brief
    /// allocation).
    #[cfg(not(rouse_new_uninit))]
    fn new_pair<H, B: Zeroed>(head: H) -> Arc<Pair<H, B>> {
        use std::alloc::{alloc_zeroed, handle_alloc_error, Layout};
        use std::boxed::Box;
        let layout = Layout::new::<Pair<H, B>>();
        let pair = if layout.size() == 0 {
            ptr::NonNull::<Pair<H, B>>::dangling().as_ptr()
        } else {
            // SAFETY: the layout has a non-zero size.
            let raw = unsafe { alloc_zeroed(layout) }.cast::<Pair<H, B>>();
            if raw.is_null() {
                handle_alloc_error(layout);
            }
            raw
        };
        // SAFETY: `pair` is valid for one `Pair` (allocated with its layout
        // by the global allocator, as `Box` requires, or dangling for a
        // zero-sized one) and zeroed, which makes the body a valid `B`; the
        // head is written whole, so the `Box` owns a valid `Pair`.
        let boxed = unsafe {
            ptr::addr_of_mut!((*pair).head).write(head);
            Box::from_raw(pair)
        };
        Arc::from(boxed)
    }

    impl<H, B> Shared<H, B> {
        #[inline]
        pub(crate) fn head(&self) -> &H {
            &self.pair.head
        }

        #[inline]
        pub(crate) fn body(&self) -> &B {
            &self.pair.body
        }

        /// Another handle to the same state.
        pub(crate) fn try_clone(&self) -> io::Result<Shared<H, B>> {
            Ok(Shared {
                pair: Arc::clone(&self.pair),
            })
        }

        /// The `Arc` itself, for handles that outlive the selector.
        pub(crate) fn arc(&self) -> &Arc<Pair<H, B>> {
            &self.pair
        }

        /// The state's address: an identity shared by every handle.
        #[cfg(test)]
        pub(crate) fn addr(&self) -> usize {
            Arc::as_ptr(&self.pair) as usize
        }
    }
}

#[cfg(not(feature = "std"))]
mod inline {
    use super::Zeroed;
    use crate::io;

    /// A head `H` and a zero-valid body `B`, inline: without `std` there is
    /// nothing to share the state with.
    pub(crate) struct Shared<H, B> {
        head: H,
        body: B,
    }

    impl<H, B: Zeroed> Shared<H, B> {
        pub(crate) fn new(head: H) -> io::Result<Shared<H, B>> {
            Ok(Shared {
                head,
                body: B::zeroed(),
            })
        }
    }

    impl<H, B> Shared<H, B> {
        pub(crate) fn head(&self) -> &H {
            &self.head
        }

        pub(crate) fn body(&self) -> &B {
            &self.body
        }

        /// `Registry::try_clone`: without `std` nothing can share the state.
        pub(crate) fn try_clone(&self) -> io::Result<Shared<H, B>> {
            Err(crate::io::error(
                io::ErrorKind::Unsupported,
                "Registry::try_clone needs the `std` feature on the table backends (poll(2), WASI)",
                None,
            ))
        }
    }
}

/// A value `T` behind a lock, where `T` is zero-valid and the lock is not:
/// the lock lives in the state's head, the value in its body.
pub(crate) struct Guarded<T> {
    #[cfg(feature = "std")]
    cell: UnsafeCell<T>,
    #[cfg(not(feature = "std"))]
    cell: core::cell::RefCell<T>,
}

// SAFETY: the value is only reached through `Lock::lock` / `try_lock`,
// which hold the mutex for as long as the reference lives (with `std`); so
// at most one thread has it at a time, as with `Mutex<T>`.
#[cfg(feature = "std")]
unsafe impl<T: Send> Sync for Guarded<T> {}

// SAFETY: zero bytes are a valid `T`, and `UnsafeCell<T>` has `T`'s layout.
#[cfg(feature = "std")]
unsafe impl<T: Zeroed> Zeroed for Guarded<T> {}

#[cfg(not(feature = "std"))]
impl<T: Zeroed> Guarded<T> {
    fn zeroed_value() -> Self {
        Guarded {
            cell: core::cell::RefCell::new(T::zeroed()),
        }
    }
}

// Without std the body is built by value, so `RefCell`'s own validity does
// not matter: `zeroed()` builds it with `RefCell::new`.
// SAFETY: `zeroed` is overridden and never reads zero bytes as a value.
#[cfg(not(feature = "std"))]
unsafe impl<T: Zeroed> Zeroed for Guarded<T> {
    fn zeroed() -> Self {
        Self::zeroed_value()
    }
}

/// The error for a table found locked without `std`, where one thread owns
/// the selector and no selector call re-enters another, so it never
/// happens: an error rather than a panic if it ever did. One copy, out of
/// line, whatever the caller.
#[cfg(not(feature = "std"))]
#[cold]
#[inline(never)]
pub(crate) fn in_use() -> crate::io::Error {
    crate::io::error(
        crate::io::ErrorKind::Other,
        "the selector's table is in use (a selector call re-entered another)",
        None,
    )
}

/// The lock of a [`Guarded`] value.
pub(crate) struct Lock {
    #[cfg(feature = "std")]
    mutex: std::sync::Mutex<()>,
}

/// Exclusive access to a [`Guarded`] value while the lock is held.
pub(crate) struct Guard<'a, T> {
    #[cfg(feature = "std")]
    _held: std::sync::MutexGuard<'a, ()>,
    #[cfg(feature = "std")]
    value: &'a mut T,
    #[cfg(not(feature = "std"))]
    value: core::cell::RefMut<'a, T>,
}

impl Lock {
    pub(crate) const fn new() -> Lock {
        Lock {
            #[cfg(feature = "std")]
            mutex: std::sync::Mutex::new(()),
        }
    }

    /// Locks `value`, which must be guarded by this lock (the state pairs
    /// exactly one lock with one value). With `std` only: without it no
    /// one waits for the lock (see [`in_use`]).
    #[cfg(feature = "std")]
    pub(crate) fn lock<'a, T>(&'a self, value: &'a Guarded<T>) -> Guard<'a, T> {
        // rouse never panics while holding the lock, and the tables are
        // consistent between calls, so a poisoned lock is still usable.
        let held = self
            .mutex
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Self::guard(held, value)
    }

    /// Locks `value` if no one holds the lock.
    pub(crate) fn try_lock<'a, T>(&'a self, value: &'a Guarded<T>) -> Option<Guard<'a, T>> {
        #[cfg(feature = "std")]
        {
            let held = match self.mutex.try_lock() {
                Ok(held) => held,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return None,
            };
            Some(Self::guard(held, value))
        }
        #[cfg(not(feature = "std"))]
        value
            .cell
            .try_borrow_mut()
            .ok()
            .map(|value| Guard { value })
    }

    #[cfg(feature = "std")]
    fn guard<'a, T>(held: std::sync::MutexGuard<'a, ()>, value: &'a Guarded<T>) -> Guard<'a, T> {
        // SAFETY: `held` is this lock's guard, and every access to `value`
        // goes through this lock (the state pairs them one to one), so no
        // other reference to the value exists while `held` lives; the
        // guard keeps both for the same lifetime.
        let value = unsafe { &mut *value.cell.get() };
        Guard { _held: held, value }
    }
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        #[cfg(feature = "std")]
        return self.value;
        #[cfg(not(feature = "std"))]
        return &self.value;
    }
}

impl<T> DerefMut for Guard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        #[cfg(feature = "std")]
        return self.value;
        #[cfg(not(feature = "std"))]
        return &mut self.value;
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[derive(Debug)]
    struct Body {
        data: [u64; 64],
    }
    // SAFETY: an array of integers.
    unsafe impl Zeroed for Body {}

    struct Head {
        drops: Arc<AtomicUsize>,
    }

    impl Drop for Head {
        fn drop(&mut self) {
            self.drops.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn shared_and_dropped_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let a = Shared::<Head, Body>::new(Head {
            drops: Arc::clone(&drops),
        })
        .unwrap();
        assert!(a.body().data.iter().all(|&w| w == 0));
        let b = a.try_clone().unwrap();
        assert_eq!(a.addr(), b.addr());
        let moved = move || {
            let c = b.try_clone().unwrap();
            drop(b);
            c
        };
        // Handed to another thread where there are threads.
        #[cfg(not(target_os = "wasi"))]
        let c = std::thread::spawn(moved).join().unwrap();
        #[cfg(target_os = "wasi")]
        let c = moved();
        drop(a);
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(c);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    #[cfg_attr(miri, ignore = "an 8 MiB allocation is slow under Miri")]
    // WASI has no threads; tests/conformance.rs makes a large table on its
    // 1 MiB main stack instead.
    #[cfg(not(target_os = "wasi"))]
    fn a_large_body_is_made_in_place_on_a_small_stack() {
        // 8 MiB of body on a 64 KiB stack: only possible if it is never
        // built on the stack.
        struct Big {
            data: [u64; 1 << 20],
        }
        // SAFETY: an array of integers.
        unsafe impl Zeroed for Big {}
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(|| {
                let s = Shared::<(), Big>::new(()).unwrap();
                assert_eq!(s.body().data[(1 << 20) - 1], 0);
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn the_lock_gives_the_value_to_one_holder() {
        let lock = Lock::new();
        let value = Guarded::<[u32; 4]>::zeroed();
        {
            let mut g = lock.lock(&value);
            g[1] = 7;
            assert!(lock.try_lock(&value).is_none());
        }
        assert_eq!(lock.try_lock(&value).unwrap()[1], 7);
    }
}
