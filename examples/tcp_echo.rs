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

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use rouse::net::TcpListener;
use rouse::{Events, Interest, Poll, Registry, Token};

// The connection's echo logic, shared with the soak test (tests/soak.rs).
#[path = "tcp_echo/conn.rs"]
mod conn;
use conn::{Conn, Status};

/// The listener's token. Connection `i` of the table uses `Token(i)`, so
/// the listener takes a token from the other end.
const LISTENER: Token = Token(usize::MAX - 1);

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
    let mut listener = listen(addr)?;
    io::stdout().flush()?;

    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(256);
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;

    // Slot `i` holds the connection registered with `Token(i)`; `None` is
    // a free slot, reused by the next connection.
    let mut conns: Vec<Option<Conn>> = Vec::new();

    loop {
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }

        for event in &events {
            if event.token() == LISTENER {
                accept_all(&listener, poll.registry(), &mut conns);
                continue;
            }
            let token = event.token();
            let Some(slot) = conns.get_mut(token.0) else {
                continue;
            };
            // The slot may be empty: an earlier event of this same poll can
            // have closed the connection.
            let Some(conn) = slot else {
                continue;
            };
            match conn.echo(poll.registry(), token) {
                Ok(Status::Open) => {}
                Ok(Status::Closed) => close(poll.registry(), slot),
                Err(e) => {
                    eprintln!("connection {}: {e}", token.0);
                    close(poll.registry(), slot);
                }
            }
        }
    }
}

/// Binds the listener and says where it listens.
#[cfg(not(target_os = "wasi"))]
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    println!("listening on {}", listener.local_addr()?);
    Ok(listener)
}

/// wasm32-wasip1 cannot bind: the listener is the socket the host preopened
/// as fd 3 (`wasmtime run -S tcplisten=ADDR`), and `_addr` is ignored.
#[cfg(target_os = "wasi")]
fn listen(_addr: SocketAddr) -> io::Result<TcpListener> {
    use std::os::fd::FromRawFd;
    // SAFETY: fd 3 is the listener wasmtime preopens for `-S tcplisten`;
    // nothing else in this program owns it.
    let listener = unsafe { std::net::TcpListener::from_raw_fd(3) };
    listener.set_nonblocking(true)?;
    println!("listening on preopened fd 3");
    Ok(TcpListener::from_std(listener))
}

/// Accepts connections until `accept` says `WouldBlock`, registering each
/// in a free slot of `conns`.
fn accept_all(listener: &TcpListener, registry: &Registry, conns: &mut Vec<Option<Conn>>) {
    loop {
        let mut stream = match listener.accept() {
            Ok((stream, _peer)) => stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) => {
                eprintln!("accept: {e}");
                return;
            }
        };

        let i = match conns.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                conns.push(None);
                conns.len() - 1
            }
        };
        // Registering reports data the client has already sent, so there is
        // no need to read now.
        if let Err(e) = registry.register(&mut stream, Token(i), Interest::READABLE) {
            eprintln!("register: {e}");
            continue; // dropping `stream` closes it
        }
        conns[i] = Some(Conn::new(stream));
    }
}

/// Deregisters a connection and drops it, which closes the socket.
fn close(registry: &Registry, slot: &mut Option<Conn>) {
    if let Some(mut conn) = slot.take() {
        // Deregistering can only fail if it was not registered; either way
        // the socket is closed next.
        let _ = registry.deregister(&mut conn.stream);
    }
}
