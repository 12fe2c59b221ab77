//! The monotonic clock the async reactor's timers read by default: time
//! since an arbitrary fixed point, never going backwards.
//!
//! * Unix, and WASI 0.2 (wasi-libc): `clock_gettime(CLOCK_MONOTONIC)`
//!   (libc, so also without `std`).
//! * WASI 0.1: `clock_time_get(CLOCKID_MONOTONIC)`.
//! * Windows: `std::time::Instant` (QueryPerformanceCounter), measured
//!   from the first reading in the process; the IOCP backend needs `std`.
//!
//! Bare metal has no clock here: a board passes its own.

use core::time::Duration;

/// Now, on the target's monotonic clock.
#[cfg(any(unix, rouse_wasip2))]
pub(crate) fn monotonic() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_MONOTONIC always
    // exists, so the call cannot fail with these arguments.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Now, on the target's monotonic clock.
#[cfg(rouse_wasi)]
pub(crate) fn monotonic() -> Duration {
    // SAFETY: a plain host call that writes only its result; the monotonic
    // clock exists on every wasip1 host. On an error (none is documented
    // for it) time stands still rather than jumping.
    let ns = unsafe { wasi::clock_time_get(wasi::CLOCKID_MONOTONIC, 1) }.unwrap_or(0);
    Duration::from_nanos(ns)
}

/// Now, on the target's monotonic clock.
#[cfg(all(windows, feature = "std"))]
pub(crate) fn monotonic() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}
