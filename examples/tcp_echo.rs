//! A TCP echo server: many connections at once on one thread.
//!
//! ```text
//! cargo run --example tcp_echo -- 127.0.0.1:9000
//! ```
//!
//! The address is optional (`127.0.0.1:9000` by default; port 0 picks a
//! free port). The server prints `listening on ADDR`, then sends back
//! whatever each client sends until the client closes. Try it with
//! `nc 127.0.0.1 9000`, or `ci/echo_check.py 127.0.0.1:9000`.
//!
//! It uses the default backend: epoll on Linux, or poll(2) when built with
//! `--no-default-features --features std,net,poll`. The code is the same.
//!
//! On wasm32-wasip2 it binds as anywhere else, with the host's network
//! granted to it:
//!
//! ```text
//! cargo build --example tcp_echo --target wasm32-wasip2
//! wasmtime run -S inherit-network=y target/wasm32-wasip2/debug/examples/tcp_echo.wasm 127.0.0.1:9000
//! ```
//!
//! On wasm32-wasip1 (the `poll_oneoff` backend) a program cannot bind, so
//! the listener is the one wasmtime preopens as fd 3, and ADDR is ignored:
//!
//! ```text
//! cargo build --example tcp_echo --target wasm32-wasip1
//! wasmtime run -S preview2=n -S tcplisten=127.0.0.1:9000 target/wasm32-wasip1/debug/examples/tcp_echo.wasm
//! ```
//!
//! The shape of the loop is mio's: readiness is edge-triggered, so on an
//! event a connection reads and writes until `WouldBlock`, and only then
//! waits for the next event.
//!
//! When things fail (see examples/tcp_echo/server.rs): a connection whose
//! read, write or registration fails is closed and named on standard error
//! (`closed connection 7: ...`), and the server goes on. When `accept`
//! fails for lack of descriptors or memory (`EMFILE`, `ENFILE`, ...), the
//! server stops accepting, rather than retrying in a busy loop, until a
//! connection closes or 100 ms have passed; connections meanwhile wait in
//! the kernel's backlog.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use rouse::net::TcpListener;
use rouse::{Events, Poll};

// The connection's echo logic and the server around it, shared with the
// tests (tests/soak.rs, tests/exhaustion.rs, tests/peers.rs).
#[path = "tcp_echo/conn.rs"]
mod conn;
#[path = "tcp_echo/server.rs"]
mod server;
use server::Server;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    let addr: SocketAddr = match arg.as_deref().unwrap_or("127.0.0.1:9000").parse() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("usage: tcp_echo [ADDR]   (ADDR defaults to 127.0.0.1:9000): {e}");
            return ExitCode::from(2);
        }
    };
    match serve(addr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tcp_echo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(addr: SocketAddr) -> io::Result<()> {
    let listener = listen(addr)?;
    io::stdout().flush()?;

    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(256);
    let mut server = Server::new(listener, poll.registry())?;

    loop {
        match poll.poll(&mut events, server.timeout()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // poll(2) could not allocate its table this time: the kernel
            // may have memory again in a moment.
            Err(e) if e.kind() == io::ErrorKind::OutOfMemory => {
                eprintln!("poll: {e}; retrying in 10 ms");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(e) => return Err(e),
        }
        for event in &events {
            server.handle(poll.registry(), event.token());
        }
        server.after_poll(poll.registry());
    }
}

/// Binds the listener and says where it listens.
#[cfg(not(rouse_wasi))]
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    println!("listening on {}", listener.local_addr()?);
    Ok(listener)
}

/// wasm32-wasip1 cannot bind: the listener is the socket the host preopened
/// as fd 3 (`wasmtime run -S tcplisten=ADDR`), and `_addr` is ignored.
#[cfg(rouse_wasi)]
fn listen(_addr: SocketAddr) -> io::Result<TcpListener> {
    use std::os::fd::FromRawFd;
    // SAFETY: fd 3 is the listener wasmtime preopens for `-S tcplisten`;
    // nothing else in this program owns it.
    let listener = unsafe { std::net::TcpListener::from_raw_fd(3) };
    listener.set_nonblocking(true)?;
    println!("listening on preopened fd 3");
    Ok(TcpListener::from_std(listener))
}
