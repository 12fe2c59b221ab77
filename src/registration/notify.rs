//! Waking a reactor that blocks in `poll`: [`Notify`], through the
//! backend's [`Waker`](crate::Waker); with `std`, [`Notifier`] (an owned,
//! `'static` handle that is also a `core::task::Waker`) and
//! [`Reactor::block_on`](super::Reactor::block_on).

use core::sync::atomic::{AtomicBool, Ordering::SeqCst};

use crate::sys::Selector;
use crate::{io, Registry, Token, Waker};

/// Makes a reactor's [`turn`](super::Reactor::turn) return: at once if it is
/// blocked in `poll`, else without waiting next time. Get it with
/// [`Reactor::notify`](super::Reactor::notify).
///
/// It is `Sync`, so another thread, a signal handler (it only does an
/// atomic store and, while the reactor waits, the backend's wake) or an
/// executor's pender may call [`notify`](Notify::notify). A notify while
/// the reactor is not waiting costs two atomic operations and no system
/// call: wakes from tasks running on the reactor's own thread are cheap.
///
/// On a backend without a [`Waker`](crate::Waker) (WASI's `poll_oneoff`:
/// wasip1 has no threads or signals that could call it), a notify is seen
/// by the next turn, which then does not wait; a turn that is already
/// waiting is not interrupted and returns at its timeout, the nearest
/// timer, or the next event. [`can_interrupt`](Notify::can_interrupt)
/// tells which.
pub struct Notify<S: Selector> {
    waker: Option<Waker<S>>,
    /// The reactor is in (or about to enter) `poll`.
    waiting: AtomicBool,
    /// A notify came that no turn has seen yet.
    pending: AtomicBool,
}

impl<S: Selector> Notify<S> {
    pub(super) fn new(registry: &Registry<S>, token: Token) -> io::Result<Self> {
        let waker = match Waker::new(registry, token) {
            Ok(waker) => Some(waker),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => None,
            Err(e) => return Err(e),
        };
        Ok(Notify {
            waker,
            waiting: AtomicBool::new(false),
            pending: AtomicBool::new(false),
        })
    }

    /// Wakes the reactor (see [`Notify`]). Errors: the backend's wake
    /// error (the notify is recorded all the same).
    pub fn notify(&self) -> io::Result<()> {
        self.pending.store(true, SeqCst);
        // Paired with `start_wait`: whichever of the two stores comes
        // second, its load sees the other's, so either the turn sees
        // `pending` and does not wait, or this sees `waiting` and wakes it.
        if self.waiting.load(SeqCst) {
            if let Some(waker) = &self.waker {
                return waker.wake();
            }
        }
        Ok(())
    }

    /// Whether [`notify`](Notify::notify) can interrupt a turn that is
    /// already waiting (the backend has a [`Waker`](crate::Waker)).
    pub fn can_interrupt(&self) -> bool {
        self.waker.is_some()
    }

    /// Called by the turn before it polls: whether a notify is pending (the
    /// turn must not wait then). Clears it.
    pub(super) fn start_wait(&self) -> bool {
        self.waiting.store(true, SeqCst);
        // A load and a store rather than `swap`: targets without atomic
        // read-modify-write (thumbv6m) have these. A notify between them
        // is merged with the one seen, and this turn does not wait.
        let pending = self.pending.load(SeqCst);
        if pending {
            self.pending.store(false, SeqCst);
        }
        pending
    }

    pub(super) fn end_wait(&self) {
        self.waiting.store(false, SeqCst);
    }
}

impl<S: Selector> core::fmt::Debug for Notify<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Notify")
            .field("can_interrupt", &self.can_interrupt())
            .field("pending", &self.pending.load(SeqCst))
            .finish()
    }
}

/// Where the reactor keeps its `Notify`: shared with `std` (so that an
/// owned [`Notifier`] can outlive borrows), inline without.
#[cfg(feature = "std")]
pub(super) struct Handle<S: Selector>(std::sync::Arc<Notify<S>>);
#[cfg(not(feature = "std"))]
pub(super) struct Handle<S: Selector>(Notify<S>);

impl<S: Selector> Handle<S> {
    pub(super) fn new(notify: Notify<S>) -> Self {
        #[cfg(feature = "std")]
        {
            Handle(std::sync::Arc::new(notify))
        }
        #[cfg(not(feature = "std"))]
        {
            Handle(notify)
        }
    }

    pub(super) fn get(&self) -> &Notify<S> {
        &self.0
    }
}

#[cfg(feature = "std")]
pub use self::owned::Notifier;

#[cfg(feature = "std")]
mod owned {
    use core::future::Future;
    use core::pin::pin;
    use core::task::{Context, Poll as TaskPoll};
    use std::sync::Arc;
    use std::task::Wake;

    use super::Notify;
    use crate::io;
    use crate::registration::Reactor;
    use crate::sys::Selector;

    /// An owned handle to a reactor's [`Notify`]: `Clone`, `Send`, `Sync`
    /// and `'static`, so it can go to other threads; and a
    /// `core::task::Waker` (`Waker::from(notifier)`) whose wake notifies.
    /// It stays valid after the reactor is dropped (a notify then does
    /// nothing useful, and no harm).
    pub struct Notifier<S: Selector>(Arc<Notify<S>>);

    impl<S: Selector> Clone for Notifier<S> {
        fn clone(&self) -> Self {
            Notifier(Arc::clone(&self.0))
        }
    }

    impl<S: Selector> Notifier<S> {
        /// Wakes the reactor, as [`Notify::notify`].
        pub fn notify(&self) -> io::Result<()> {
            self.0.notify()
        }
    }

    impl<S: Selector> core::fmt::Debug for Notifier<S> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            core::fmt::Debug::fmt(&*self.0, f)
        }
    }

    /// The waker `block_on` hands the future: a wake notifies the reactor.
    struct WakeReactor<S: Selector>(Arc<Notify<S>>);

    impl<S: Selector + 'static> Wake for WakeReactor<S> {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            // A failed wake (the eventfd write failing) leaves `pending`
            // set: the next turn still does not wait.
            let _ = self.0.notify();
        }
    }

    impl<S: Selector + 'static> From<Notifier<S>> for core::task::Waker {
        fn from(n: Notifier<S>) -> core::task::Waker {
            core::task::Waker::from(Arc::new(WakeReactor(n.0)))
        }
    }

    impl<S: Selector + 'static, const N: usize, const T: usize> Reactor<S, N, T> {
        /// An owned handle to this reactor's [`Notify`], for other threads.
        pub fn notifier(&self) -> Notifier<S> {
            Notifier(Arc::clone(&self.notify.0))
        }

        /// Runs `future` to completion on this thread with this reactor
        /// driving its I/O and timers: polls it, and while it is pending
        /// turns the reactor, which waits until a task or timer is woken.
        ///
        /// The future is polled with a waker that
        /// [`notify`](Notify::notify)s the reactor, so a wake from any
        /// thread (a thread pool's, a channel's) ends a blocked turn and
        /// the future is polled again. An executor's run future goes here:
        /// `reactor.block_on(executor.run(main))`.
        ///
        /// Errors: the reactor's, from a turn (`Interrupted` is retried).
        pub fn block_on<F: Future>(&self, future: F) -> io::Result<F::Output> {
            let waker = core::task::Waker::from(self.notifier());
            let mut cx = Context::from_waker(&waker);
            let mut future = pin!(future);
            loop {
                if let TaskPoll::Ready(v) = future.as_mut().poll(&mut cx) {
                    return Ok(v);
                }
                match self.turn(None) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
}
