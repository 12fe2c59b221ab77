//! mio 1.x's API on [rouse]: a package named `mio` that only re-exports
//! rouse, for `[patch.crates-io]`.
//!
//! A program (or a library such as tokio) written for mio runs on rouse
//! unchanged when its workspace manifest patches mio:
//!
//! ```toml
//! [patch.crates-io]
//! mio = { path = "/path/to/rouse/facade/mio" }
//! ```
//!
//! `cargo tree -i mio` then shows this package in place of mio 1.x.
//!
//! # Features
//!
//! mio's features are accepted with the same names:
//!
//! | feature | here |
//! |---|---|
//! | `os-poll` | accepted; rouse's backends are always compiled |
//! | `os-ext` | `unix::SourceFd` and `unix::pipe`; `windows::NamedPipe` on Windows |
//! | `net` | `net`: TCP, UDP and Unix sockets |
//! | `log` (default) | accepted; rouse logs nothing |
//! | `force-poll` (not mio's) | `Poll::new()` uses rouse's poll(2) backend on every Unix instead of epoll or kqueue |
//!
//! # Choosing poll(2)
//!
//! `Poll::new()` uses the target's native backend (epoll on Linux and
//! Android, kqueue on the BSDs and Apple targets, poll(2) on other Unixes).
//! To run on rouse's poll(2) backend instead, for example to test what a
//! board without epoll will do, turn on `force-poll` in the program's own
//! manifest, beside the patch:
//!
//! ```toml
//! [dependencies]
//! mio = { version = "1", features = ["force-poll"] }
//! ```
//!
//! Features are additive, so this holds for every crate in the build
//! (tokio's runtime included). Real mio has no such feature: the line only
//! builds with the patch in place.
//!
//! [rouse]: https://docs.rs/rouse
#![no_std]
#![deny(missing_docs)]

pub use rouse::event;
pub use rouse::{Events, Interest, Poll, Registry, Token, Waker};

/// Networking types: rouse's `net` (`TcpListener`, `TcpStream`,
/// `UdpSocket`, `UnixListener`, `UnixStream`, `UnixDatagram`).
#[cfg(feature = "net")]
pub mod net {
    pub use rouse::net::*;
}

/// Unix-only extensions: `SourceFd` and `pipe`.
#[cfg(all(unix, feature = "os-ext"))]
pub mod unix {
    pub use rouse::unix::pipe;
    pub use rouse::unix::SourceFd;
}

/// Windows-only extensions: `NamedPipe` (rouse's, on its IOCP backend).
#[cfg(all(windows, feature = "os-ext"))]
pub mod windows {
    pub use rouse::windows::NamedPipe;
}
