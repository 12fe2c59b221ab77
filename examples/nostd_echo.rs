//! A TCP echo server with no `std`, no `alloc` and no allocator: libc
//! sockets, [`SourceFd`] and the poll(2) selector with fixed-size tables.
//!
//! ```text
//! cargo run --example nostd_echo --no-default-features --features poll -- 127.0.0.1:9000
//! ```
//!
//! The address is optional (`127.0.0.1:9000` by default; port 0 picks a free
//! port). The server prints `listening on ADDR`, then echoes every
//! connection, up to [`MAX_CONNS`] at once, until each closes.
//!
//! Everything lives in fixed arrays on `main`'s stack: one
//! [`BUF_SIZE`]-byte buffer per connection, the poll(2) table of
//! `MAX_CONNS + 1` entries and the events. The program links without a
//! global allocator, which is the point of it.
//!
//! Readiness: a [`SourceFd`] on poll(2) is level-triggered (reported at
//! every poll while it is ready), so the program reads and writes each fd
//! until `EAGAIN`, and watches a connection for `WRITABLE` instead of
//! `READABLE` (with `reregister`) while it has bytes it could not send.
//!
//! Errors: a connection whose read, write or re-registration fails is
//! closed and named on standard error (`closed connection 3: ...`). When
//! `accept` fails for lack of descriptors or memory (`EMFILE`, ...), the
//! listener, still readable, is deregistered until a later poll has waited
//! for another event (a connection closing) or 100 ms, so the server
//! neither spins retrying nor stops accepting for good.
//!
//! Targets: every Unix (`accept4` and `SOCK_NONBLOCK | SOCK_CLOEXEC`
//! where they exist; `accept` and `fcntl` on Apple's systems, which lack
//! them).
//! Other targets (WASI, Windows) build a `main` that says so and exits: the
//! example is libc sockets on Unix.
#![cfg_attr(unix, no_std)]
#![cfg_attr(unix, no_main)]

#[cfg(unix)]
#[path = "nostd_echo/unix.rs"]
mod unix;

#[cfg(not(unix))]
fn main() {
    eprintln!("nostd_echo uses libc sockets and runs on Unix only; see examples/tcp_echo.rs");
    std::process::exit(2);
}
