//! Re-arming, for backends that emulate edge triggering.
//!
//! poll(2), WASI's `poll_oneoff` and AFD polls report levels. To give the
//! edge-triggered contract, the table backends deliver a condition once
//! until the source is re-armed (on poll(2) and WASI usually without the
//! table's lock: see the table core's docs). rouse's
//! sources that re-arm themselves (the net types, pipes, `IoSource`) do it
//! through the [`Arm`] they got at registration, when an operation returns
//! `WouldBlock`, and end their registration through it when they are
//! dropped; backends whose kernel reports edges hand out no `Arm`.

use std::fmt;
use std::sync::Arc;

use crate::Interest;

/// What an [`Arm`] calls: the backend state that can re-arm a registration.
pub trait Rearm: Send + Sync {
    /// Watches `interests` again for the registration `(raw, gen)`, whose
    /// table index was `hint` when it was made. Does nothing if that
    /// registration is gone.
    fn rearm(&self, raw: u64, gen: u32, hint: usize, interests: Interest);

    /// Ends the registration `(raw, gen)` (its source is being dropped).
    /// Does nothing if that registration is gone.
    fn forget(&self, raw: u64, gen: u32, hint: usize);
}

/// A registration's handle for re-arming itself after `WouldBlock`.
///
/// Holding one keeps the backend's shared state alive (one reference
/// count, no allocation), never the registration: after `deregister`,
/// [`Arm::rearm`] does nothing.
#[derive(Clone)]
pub struct Arm {
    target: Arc<dyn Rearm>,
    raw: u64,
    gen: u32,
    hint: usize,
}

impl Arm {
    /// A handle for the registration `(raw, gen)` at table index `hint`.
    pub fn new(target: Arc<dyn Rearm>, raw: u64, gen: u32, hint: usize) -> Arm {
        Arm {
            target,
            raw,
            gen,
            hint,
        }
    }

    /// Watches `interests` again (those the source was registered for).
    #[inline]
    pub fn rearm(&self, interests: Interest) {
        self.target.rearm(self.raw, self.gen, self.hint, interests);
    }

    /// Ends the registration, if it is still there: what a source does when
    /// it is dropped while registered.
    pub fn forget(&self) {
        self.target.forget(self.raw, self.gen, self.hint);
    }
}

impl fmt::Debug for Arm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arm")
            .field("raw", &self.raw)
            .field("gen", &self.gen)
            .finish()
    }
}
