//! Unix domain sockets: listener, stream and datagram, non-blocking,
//! registrable with any backend.
//!
//! This module only wraps std's sockets and the raw calls in `socket.rs`;
//! it must never block or retry an operation.

mod datagram;
mod listener;
mod stream;

pub use self::datagram::UnixDatagram;
pub use self::listener::UnixListener;
pub use self::stream::UnixStream;
