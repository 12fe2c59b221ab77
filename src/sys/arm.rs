//! Re-arming, for backends that emulate edge triggering.
//!
//! poll(2) is level-triggered. To give the edge-triggered contract, the
//! poll(2) backend stops watching a direction once it has reported it, until
//! the source is re-armed. rouse's net types re-arm the direction whose
//! operation returned `WouldBlock` through the [`Arm`] they got at
//! registration; backends whose kernel reports edges hand out no `Arm`.

use std::fmt;
use std::sync::Arc;

use crate::Interest;

/// What an [`Arm`] calls: the backend state that can re-arm a registration.
pub trait Rearm: Send + Sync {
    /// Watches `interests` again for the registration `(raw, gen)`, whose
    /// table index was `hint` when it was made. Does nothing if that
    /// registration is gone.
    fn rearm(&self, raw: u64, gen: u32, hint: usize, interests: Interest);
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
}

impl fmt::Debug for Arm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arm")
            .field("raw", &self.raw)
            .field("gen", &self.gen)
            .finish()
    }
}
