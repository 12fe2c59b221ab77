//! The backend boundary: the [`Selector`] trait every backend implements,
//! the [`RawEvent`] trait for the records a backend reports, and the one
//! place (`cfg_if!` below) where targets and features pick backends.
//!
//! Backend code lives only below this module. Nothing here allocates.

use core::time::Duration;

use self::event::Event;
use crate::{io, Interest, Token};

// `Event`, the record `select` writes; re-exported as `rouse::event::Event`.
pub(crate) mod event;

#[cfg(unix)]
pub(crate) mod unix;

// Which backends a build has is decided once, in build.rs, as the cfgs
// `rouse_epoll`, `rouse_kqueue`, `rouse_poll`, `rouse_wasi`, `rouse_wasip2`,
// `rouse_iocp` (a feature on a target that has the backend) and
// `rouse_table` (any of the last four).

#[cfg(rouse_epoll)]
pub mod epoll;
#[cfg(any(rouse_epoll, rouse_kqueue))]
mod one_waker;
#[cfg(rouse_epoll)]
pub use self::epoll::EpollSelector;

#[cfg(rouse_kqueue)]
pub mod kqueue;
#[cfg(rouse_kqueue)]
pub use self::kqueue::KqueueSelector;
// Elsewhere only kqueue's target-independent half, for its unit tests
// and the fuzz targets.
#[cfg(all(any(test, fuzzing), feature = "kqueue", not(rouse_kqueue_os)))]
pub(crate) mod kqueue;

#[cfg(rouse_table)]
mod ready;
#[cfg(rouse_table)]
pub use self::ready::TableEvent;
#[cfg(rouse_table)]
pub mod table;
#[cfg(rouse_table)]
pub use self::table::TableSelector;

#[cfg(rouse_poll)]
pub mod poll;
#[cfg(rouse_poll)]
pub use self::poll::PollSelector;

#[cfg(rouse_wasi)]
pub mod wasi;
#[cfg(rouse_wasi)]
pub use self::wasi::WasiSelector;

// wasm32-wasip2: poll through wasi-libc (see wasip2.rs for why).
#[cfg(rouse_wasip2)]
pub mod wasip2;
#[cfg(rouse_wasip2)]
pub use self::wasip2::Wasip2Selector;

// Windows: a completion port and AFD polls; needs `std` (see iocp/mod.rs).
#[cfg(rouse_iocp)]
pub mod iocp;
#[cfg(rouse_iocp)]
pub use self::iocp::IocpSelector;

// epoll with a run-time fallback to poll(2), for kernels without epoll.
#[cfg(all(rouse_epoll, rouse_poll))]
pub mod auto;
#[cfg(all(rouse_epoll, rouse_poll))]
pub use self::auto::AutoSelector;

// Bare metal: no backend, a placeholder default (see `none.rs`).
#[cfg(target_os = "none")]
mod none;
#[cfg(target_os = "none")]
pub use self::none::{NoEvent, NoSelector};

// The default clock of the async reactor's timers.
#[cfg(all(
    feature = "async",
    any(unix, target_os = "wasi", all(windows, feature = "std"))
))]
pub(crate) mod clock;

#[cfg(feature = "std")]
pub use self::arm::{Arm, Rearm};
#[cfg(feature = "std")]
mod arm;

cfg_if::cfg_if! {
    if #[cfg(all(feature = "force-poll", rouse_poll))] {
        /// The selector `Poll::new()` uses: poll(2), because the
        /// `force-poll` feature is on (it overrides epoll and kqueue).
        pub type DefaultSelector = PollSelector;
    } else if #[cfg(rouse_epoll)] {
        /// The selector `Poll::new()` uses: epoll on Linux and Android
        /// when the `epoll` feature is on; kqueue on macOS, iOS, FreeBSD,
        /// NetBSD, OpenBSD and DragonFly when the `kqueue` feature is on;
        /// otherwise poll(2) on every Unix.
        pub type DefaultSelector = EpollSelector;
    } else if #[cfg(rouse_kqueue)] {
        /// The selector `Poll::new()` uses: epoll on Linux and Android
        /// when the `epoll` feature is on; kqueue on macOS, iOS, FreeBSD,
        /// NetBSD, OpenBSD and DragonFly when the `kqueue` feature is on;
        /// otherwise poll(2) on every Unix.
        pub type DefaultSelector = KqueueSelector;
    } else if #[cfg(rouse_poll)] {
        /// The selector `Poll::new()` uses: epoll on Linux and Android
        /// when the `epoll` feature is on; kqueue on macOS, iOS, FreeBSD,
        /// NetBSD, OpenBSD and DragonFly when the `kqueue` feature is on;
        /// otherwise poll(2) on every Unix.
        pub type DefaultSelector = PollSelector;
    } else if #[cfg(rouse_wasi)] {
        /// The selector `Poll::new()` uses: on wasm32-wasip1, `poll_oneoff`
        /// when the `wasi` feature is on (which has no `Waker`).
        pub type DefaultSelector = WasiSelector;
    } else if #[cfg(rouse_wasip2)] {
        /// The selector `Poll::new()` uses: on wasm32-wasip2, wasi-libc's
        /// `poll` over the sockets' pollables when the `wasi` feature is on
        /// (which has no `Waker`).
        pub type DefaultSelector = Wasip2Selector;
    } else if #[cfg(rouse_iocp)] {
        /// The selector `Poll::new()` uses: on Windows, a completion port
        /// with AFD polls when the `iocp` feature (and `std`) is on.
        pub type DefaultSelector = IocpSelector;
    } else if #[cfg(all(feature = "iocp", windows))] {
        compile_error!(
            "rouse: the IOCP backend needs the `std` feature (the kernel writes \
             into its per-socket state, which must live at a fixed heap address)"
        );
    } else if #[cfg(target_os = "none")] {
        /// On bare metal (`target_os = "none"`) rouse has no backend: the
        /// default is the placeholder [`NoSelector`], which cannot be
        /// created. Implement [`Selector`] for the board's network stack and
        /// name it: `Poll::with_selector`, `Events::<MySelector, N>`.
        pub type DefaultSelector = NoSelector;
    } else {
        compile_error!(
            "rouse: no backend for this target; enable a backend feature \
             (`os-poll`, or one of `epoll`, `kqueue`, `poll`, `wasi`, `iocp`) that the target supports"
        );
    }
}

/// A readiness record as a backend reports it.
///
/// For epoll this is the kernel's own `epoll_event`, so the kernel fills
/// [`Events`](crate::Events) directly and reading an event copies nothing.
/// The accessors follow mio's portable meaning of each readiness kind.
pub trait RawEvent: Copy + Default + Send + Sync + 'static {
    /// The token the source was registered with.
    fn token(&self) -> Token;
    /// The source can be read (or accepted from) without blocking.
    fn is_readable(&self) -> bool;
    /// The source can be written (or has connected) without blocking.
    fn is_writable(&self) -> bool;
    /// The source has an error pending (`take_error` tells which).
    fn is_error(&self) -> bool;
    /// The read half is closed: reads return end-of-file.
    fn is_read_closed(&self) -> bool;
    /// The write half is closed: writes fail.
    fn is_write_closed(&self) -> bool;
    /// Priority (out-of-band) data can be read.
    fn is_priority(&self) -> bool;
    /// An AIO request completed (kqueue's `EVFILT_AIO`); `false` by
    /// default, and on every backend but kqueue.
    fn is_aio(&self) -> bool {
        false
    }
    /// A list of AIO requests completed (kqueue's `EVFILT_LIO`, FreeBSD);
    /// `false` by default, and on every backend but kqueue.
    fn is_lio(&self) -> bool {
        false
    }
}

/// A readiness backend: what [`Poll`](crate::Poll) and
/// [`Registry`](crate::Registry) need from an OS (or from a board's own
/// network stack).
///
/// Every method takes `&self`: a selector is shared by [`Poll`] and any
/// number of cloned registries, possibly across threads. Implementations
/// report readiness edge-triggered: after an event for a source, that
/// source is reported again only when new readiness arrives (or, for
/// backends that emulate edges, once the source is re-armed by
/// `reregister` or by `Arm::rearm` after a `WouldBlock`).
///
/// [`Poll`]: crate::Poll
pub trait Selector: Sized {
    /// The OS handle a source registers with (`RawFd` on Unix).
    type Raw: Copy + Eq + core::fmt::Debug;
    /// The record `select` writes per ready source.
    type Event: RawEvent;
    /// The backend's half of a [`Waker`](crate::Waker): `Send + Sync`,
    /// since waking from another thread is what a waker is for.
    type Waker: Send + Sync;

    /// How many sources one selector can hold, if the backend keeps them in
    /// a fixed table (`None`: the kernel keeps them, limited only by it).
    const CAPACITY: Option<usize> = None;

    /// Creates the selector (one syscall or a few; no allocation except
    /// where documented by the backend).
    fn new() -> io::Result<Self>;

    /// A second handle to the same selector, for a cloned
    /// [`Registry`](crate::Registry).
    fn try_clone(&self) -> io::Result<Self>;

    /// Starts monitoring `raw` for `interests`, reported with `token`.
    ///
    /// Fails with `AlreadyExists` if `raw` is registered already.
    fn register(&self, raw: Self::Raw, token: Token, interests: Interest) -> io::Result<()>;

    /// Replaces the token and interests of a registered `raw` (and re-arms it).
    ///
    /// Fails with `NotFound` if `raw` is not registered.
    fn reregister(&self, raw: Self::Raw, token: Token, interests: Interest) -> io::Result<()>;

    /// Stops monitoring `raw`; its token is never reported after this returns.
    ///
    /// Fails with `NotFound` if `raw` is not registered.
    fn deregister(&self, raw: Self::Raw) -> io::Result<()>;

    /// Waits for readiness and writes up to `events.len()` events, returning
    /// how many were written. `events` is never empty. `None` blocks until
    /// an event; a timeout is rounded up to the backend's granularity.
    fn select(&self, events: &mut [Event<Self>], timeout: Option<Duration>) -> io::Result<usize>;

    /// Creates the backend's waker, reported with `token` when woken.
    fn new_waker(&self, token: Token) -> io::Result<Self::Waker>;

    /// Wakes the selector that made `waker`: its `select` returns (now, or
    /// at once next time) with an event for the waker's token.
    fn wake(waker: &Self::Waker) -> io::Result<()>;

    /// Like [`register`](Selector::register), also returning the handle a
    /// source uses to re-arm itself after `WouldBlock` on backends that
    /// emulate edge triggering. `None` (the default) means re-arming is not
    /// needed: the kernel reports edges itself.
    #[cfg(feature = "std")]
    fn register_armed(
        &self,
        raw: Self::Raw,
        token: Token,
        interests: Interest,
    ) -> io::Result<Option<Arm>> {
        self.register(raw, token, interests).map(|()| None)
    }

    /// Like [`reregister`](Selector::reregister), returning the re-arm
    /// handle as [`register_armed`](Selector::register_armed) does.
    #[cfg(feature = "std")]
    fn reregister_armed(
        &self,
        raw: Self::Raw,
        token: Token,
        interests: Interest,
    ) -> io::Result<Option<Arm>> {
        self.reregister(raw, token, interests).map(|()| None)
    }
}

/// Converts a poll timeout to whole milliseconds for a C `int` argument:
/// `None` is `-1` (block), anything else is rounded *up* to the next
/// millisecond (so 1 ns waits 1 ms instead of spinning) and capped at
/// `i32::MAX` ms (about 24.8 days), so `Duration::MAX` cannot overflow.
// Used by epoll, WASI, IOCP and poll(2) through libc; kqueue and the raw
// `ppoll` (sys/unix/syscall.rs) take a timespec.
#[cfg_attr(
    not(any(
        rouse_epoll,
        rouse_wasi,
        rouse_wasip2,
        rouse_iocp,
        all(rouse_poll, not(rouse_raw_syscalls))
    )),
    allow(dead_code)
)]
#[inline]
pub(crate) fn timeout_ms(timeout: Option<Duration>) -> i32 {
    match timeout {
        None => -1,
        Some(t) => {
            // i32::MAX ms is 2_147_483.647 s: from 2_147_483 s on, the cap;
            // below it, secs * 1000 + 1000 stays under i32::MAX.
            let secs = t.as_secs();
            if secs >= 2_147_483 {
                return i32::MAX;
            }
            let ms = secs as u32 * 1_000 + t.subsec_nanos().div_ceil(1_000_000);
            ms as i32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::timeout_ms;
    use core::time::Duration;

    #[test]
    fn timeouts_round_up_and_saturate() {
        assert_eq!(timeout_ms(None), -1);
        assert_eq!(timeout_ms(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_ms(Some(Duration::from_nanos(1))), 1);
        assert_eq!(timeout_ms(Some(Duration::from_micros(1_001))), 2);
        assert_eq!(timeout_ms(Some(Duration::from_millis(7))), 7);
        assert_eq!(timeout_ms(Some(Duration::from_secs(3))), 3_000);
        assert_eq!(timeout_ms(Some(Duration::MAX)), i32::MAX);
        assert_eq!(
            timeout_ms(Some(Duration::from_secs(u64::MAX / 999))),
            i32::MAX
        );
    }
}
