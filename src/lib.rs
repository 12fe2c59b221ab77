//! # rouse
//!
//! I/O readiness with mio's API — [`Poll`], [`Registry`],
//! [`event::Source`], [`Token`], [`Interest`], [`Events`], [`Waker`] — on a
//! core that never allocates and builds without `std`, with the backend
//! chosen by a type parameter so several backends work in one program.
//!
//! ```
//! use rouse::{Events, Interest, Poll, Token};
//! # #[cfg(feature = "net")] {
//! use rouse::net::{TcpListener, TcpStream};
//!
//! let mut poll = Poll::new()?;
//! let mut events = Events::with_capacity(128);
//!
//! let mut server = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
//! poll.registry().register(&mut server, Token(0), Interest::READABLE)?;
//!
//! let mut client = TcpStream::connect(server.local_addr()?)?;
//! poll.registry().register(&mut client, Token(1), Interest::WRITABLE)?;
//!
//! let (mut connected, mut accepted) = (false, false);
//! while !(connected && accepted) {
//!     poll.poll(&mut events, None)?;
//!     for event in &events {
//!         match event.token() {
//!             Token(0) => accepted |= server.accept().is_ok(),
//!             Token(1) => connected |= event.is_writable(),
//!             _ => unreachable!(),
//!         }
//!     }
//! }
//! # }
//! # Ok::<(), rouse::io::Error>(())
//! ```
//!
//! ## Backends
//!
//! | backend | type | feature | targets |
//! |---|---|---|---|
//! | epoll | `sys::EpollSelector` | `epoll` | Linux, Android |
//! | kqueue | `sys::KqueueSelector` | `kqueue` | macOS, iOS, FreeBSD, NetBSD, OpenBSD, DragonFly (type-checked and unit-tested here, not run) |
//! | poll(2) | `sys::PollSelector<N>` | `poll` | every Unix |
//! | epoll, else poll(2) at run time | `sys::AutoSelector<N>` | `epoll` + `poll` | Linux, Android |
//! | WASI `poll_oneoff` | `sys::WasiSelector<N>` | `wasi` | wasm32-wasip1 |
//! | WASI 0.2: wasi-libc's `poll` | `sys::Wasip2Selector<N>` | `wasi` | wasm32-wasip2 |
//! | IOCP + AFD polls | `sys::IocpSelector<N>` | `iocp` (needs `std`) | Windows |
//!
//! [`sys::DefaultSelector`] is the target's native backend among the
//! compiled ones (epoll, kqueue, IOCP, `poll_oneoff` on wasip1, wasi-libc's
//! `poll` on wasip2), else poll(2) on Unix; the README states the rule in
//! full. Backends whose kernel keeps no
//! registrations (poll(2), WASI, IOCP) share one table core of `N` entries
#![cfg_attr(
    rouse_table,
    doc = "fixed at compile time ([`sys::TableSelector`]); a full table is an"
)]
#![cfg_attr(
    not(rouse_table),
    doc = "fixed at compile time (`sys::TableSelector`); a full table is an"
)]
//! error ([`io::TABLE_FULL`]), never a reallocation.
//!
//! ## The same behaviour on every backend
//!
//! * Readiness is edge-triggered, as in mio: after an event, operate until
//!   `WouldBlock`. The `net` types and `event::IoSource` (with `std`) re-arm
//!   themselves on the table backends (after `WouldBlock`, or a read or
//!   write that moved less than it was given).
#![cfg_attr(
    unix,
    doc = "* A raw fd ([`unix::SourceFd`]) is level-triggered on the table"
)]
#![cfg_attr(
    not(unix),
    doc = "* A raw fd (`unix::SourceFd`, on Unix) is level-triggered on the table"
)]
//!   backends, which cannot know when it was drained: read it until
//!   `WouldBlock` and it needs no `reregister`, as on epoll; readiness left
//!   in place is reported at every poll there.
//! * A source dropped while registered is gone: no event for it later,
//!   and its fd number registers again at once.
//! * A source can be registered with one `Poll` at a time, and a `Poll` has
//!   one [`Waker`]: a second of either is `AlreadyExists`.
//!
//! RELIABILITY.md lists each rule with its test and each platform limit.
//!
//! ## Features
//!
//! `std` (default): `std::io::Error`, [`Registry::try_clone`] on table
//! backends, `Box<dyn Source>`. `net` (default): `net` types.
//! `os-poll` (default): every backend the target supports. `async`: the
//! `registration` module (a no-std reactor for async executors). Without
//! `std` the crate uses neither `std` nor `alloc`.
#![no_std]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(rust_2018_idioms)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "std", test))]
extern crate std;

pub mod event;
mod interest;
pub mod io;
mod poll;
pub mod sys;
mod token;
mod waker;

#[cfg(feature = "net")]
pub mod net;

#[cfg(feature = "async")]
pub mod registration;

// Not API: what the fuzz targets in fuzz/ need of private parts. Only
// `cargo fuzz` builds it (it sets `--cfg fuzzing`).
#[cfg(fuzzing)]
#[doc(hidden)]
#[path = "fuzz_hooks.rs"]
pub mod __fuzz;

pub use event::Events;
pub use interest::Interest;
pub use poll::{Poll, Registry};
pub use token::Token;
pub use waker::Waker;

/// Unix-only extensions: [`SourceFd`](unix::SourceFd) for any raw fd and,
#[cfg_attr(feature = "std", doc = "with the `std` feature, [`pipe`](unix::pipe).")]
#[cfg_attr(not(feature = "std"), doc = "with the `std` feature, `pipe`.")]
#[cfg(unix)]
pub mod unix {
    pub use crate::sys::unix::SourceFd;

    #[cfg(feature = "std")]
    pub mod pipe;
}

/// Windows-only extensions: [`NamedPipe`](windows::NamedPipe), mio's
/// named pipe on the IOCP backend (it needs `std` and the `iocp` feature).
#[cfg(rouse_iocp)]
pub mod windows {
    pub use crate::sys::iocp::pipe::NamedPipe;
}

/// WASI-only extensions: `SourceFd` for any wasip1 or wasip2 file
/// descriptor.
#[cfg(any(rouse_wasi, rouse_wasip2))]
pub mod wasi {
    #[cfg(rouse_wasi)]
    pub use crate::sys::wasi::SourceFd;
    #[cfg(rouse_wasip2)]
    pub use crate::sys::wasip2::SourceFd;
}
