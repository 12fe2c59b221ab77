//! TCP: a listener and a stream, non-blocking, registrable with any backend.
//!
//! This module only wraps std's sockets and the raw calls in `socket.rs`;
//! it must never block or retry an operation.

mod listener;
mod stream;

pub use self::listener::TcpListener;
pub use self::stream::TcpStream;
