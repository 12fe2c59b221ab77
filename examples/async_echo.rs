//! An async TCP echo server: tasks on `async-executor`'s `LocalExecutor`,
//! with rouse's `Reactor` as the reactor (I/O readiness and timers) and
//! `Async` sockets.
//!
//! ```text
//! cargo run --example async_echo --features async -- 127.0.0.1:9000
//! # on poll(2) instead of epoll:
//! cargo run --example async_echo --no-default-features --features std,net,poll,async
//! ```
//!
//! Prints `listening on ADDR`, then echoes every connection until it closes.
//! On wasm32-wasip2 it binds ADDR (`wasmtime run -S inherit-network=y`).
//! On wasm32-wasip1 the listener is the socket wasmtime preopens as fd 3
//! (`wasmtime run -S preview2=n -S tcplisten=ADDR`) and ADDR is ignored.
//!
//! `reactor.block_on(executor.run(..))` is the whole integration: the
//! executor runs the tasks that are ready; when none is, the future it
//! returns is pending and `block_on` turns the reactor, which waits for
//! readiness or the nearest timer and wakes the tasks that can go on. A
//! task woken from another thread would end that wait through the
//! backend's `Waker`.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use async_executor::LocalExecutor;
use rouse::net::{TcpListener, TcpStream};
use rouse::registration::{Async, Reactor};
use rouse::sys::DefaultSelector;

/// Registrations the reactor can hold: the listener and the connections.
const SLOTS: usize = 256;
/// Timers: only the accept loop's back-off uses one.
const TIMERS: usize = 4;
/// How long the accept loop waits after an error other than `WouldBlock`.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

type EchoReactor = Reactor<DefaultSelector, SLOTS, TIMERS>;
type Conn<'r> = Async<'r, TcpStream, DefaultSelector, SLOTS, TIMERS>;

async fn echo(mut conn: Conn<'_>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let failed = match conn.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => conn.write_all(&buf[..n]).await.err(),
            Err(e) => Some(e),
        };
        if let Some(e) = failed {
            // Said, so that a connection never ends without a word.
            eprintln!("closed connection: {e}");
            break;
        }
    }
    // Dropping `conn` deregisters the socket, then closes it.
}

fn main() -> io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".to_string())
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let reactor = EchoReactor::new()?;
    let listener = Async::new(&reactor, listen(addr)?)?;
    io::stdout().flush()?;

    let executor = LocalExecutor::new();
    let server = std::pin::pin!(executor.run(async {
        loop {
            // `accept` then `Async::new`, rather than `listener.accept()`
            // (which does both): a connection accepted but not registered
            // (a full reactor, the kernel out of memory) is closed, and
            // said to be, like every other connection this server closes.
            match listener.read_with(|l| l.accept()).await {
                Ok((stream, _)) => match Async::new(&reactor, stream) {
                    Ok(conn) => executor.spawn(echo(conn)).detach(),
                    Err(e) => eprintln!("closed connection: registering it failed: {e}"),
                },
                Err(e) => {
                    // EMFILE (out of descriptors), a full reactor: the
                    // listener stays ready, so accepting again at once
                    // would fail again at once, and this task would never
                    // let the others run and close their connections.
                    // Wait a little; the connections go on meanwhile.
                    eprintln!("accept failed: {e}");
                    reactor.sleep(ACCEPT_BACKOFF)?.await;
                }
            }
        }
    }));
    let mut server = server;
    loop {
        match reactor.block_on(server.as_mut()) {
            Ok(result) => return result,
            // The wait itself failed for want of kernel memory (poll(2)
            // answers ENOMEM when it cannot build its table): nothing was
            // lost, the tasks and registrations are intact. Wait a little
            // and go on, as for EMFILE above.
            Err(e) if e.kind() == io::ErrorKind::OutOfMemory => {
                eprintln!("poll failed: {e}");
                std::thread::sleep(ACCEPT_BACKOFF);
            }
            Err(e) => return Err(e),
        }
    }
}

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
