//! The kqueue backend (macOS, iOS, FreeBSD, NetBSD, OpenBSD, DragonFly).
//!
//! Every registration is edge-triggered (`EV_CLEAR`), one filter per
//! direction (`EVFILT_READ`, `EVFILT_WRITE`), and the kernel keeps them, so
//! this backend holds no table. `Interest::AIO` and `LIO` add no filter:
//! an AIO request names the kqueue itself, and its completion comes back as
//! an `EVFILT_AIO` / `EVFILT_LIO` record (`Event::is_aio` / `is_lio`), as
//! with mio. The changes of a registration go to the
//! kernel in one `kevent` call with `EV_RECEIPT`, so each change's error
//! comes back in its own record; `select` is one `kevent` call writing
//! straight into the caller's `Events`. The waker is a user event
//! (`EVFILT_USER`) where the platform has one, a pipe elsewhere.
//!
//! The module is split so that what can be tested without a BSD kernel is:
//! `abi` holds the portable mirror of `struct kevent`, each platform's
//! constants and layout, the change lists and the readiness rules, and
//! compiles (and is unit-tested) on every host; `selector` holds the
//! syscalls and compiles only on kqueue targets. Neither allocates, and
//! neither loops on its own.
//!
//! No kqueue kernel runs in this project's CI: the backend is type-checked
//! for every kqueue target (`ci/bsd`) and its `abi` half is unit-tested
//! on Linux, but it is not run.
#![cfg_attr(
    not(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    )),
    allow(dead_code)
)]

pub(crate) mod abi;

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
mod selector;
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
pub use self::selector::{KqueueEvent, KqueueSelector, KqueueWaker};
