//! rouse's `examples/tcp_echo.rs` with `rouse::` replaced by `mio::` (and
//! the WASI listener left out): the mio 1.x program ci/size compares
//! tcp_echo's size with. Keep the two in step when tcp_echo changes.
//!
//! ```text
//! cargo run --release --manifest-path size/mio_echo/Cargo.toml -- 127.0.0.1:9000
//! ```

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token};

/// The listener's token. Connection `i` of the table uses `Token(i)`, so
/// the listener takes a token from the other end.
const LISTENER: Token = Token(usize::MAX - 1);

/// How many bytes a connection reads before writing them back.
const BUF_SIZE: usize = 16 * 1024;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    let addr: SocketAddr = match arg.as_deref().unwrap_or("127.0.0.1:9000").parse() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("usage: mio_echo [ADDR]   (ADDR defaults to 127.0.0.1:9000): {e}");
            return ExitCode::from(2);
        }
    };
    match serve(addr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mio_echo: {e}");
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
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    println!("listening on {}", listener.local_addr()?);
    Ok(listener)
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

/// One client connection.
struct Conn {
    stream: TcpStream,
    /// `buf[start..end]` has been read and not yet written back.
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// What the connection is registered for: `READABLE`, or `WRITABLE`
    /// while it has bytes it could not send.
    interest: Interest,
}

/// Whether a connection goes on after [`Conn::echo`].
enum Status {
    Open,
    Closed,
}

impl Conn {
    fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buf: vec![0; BUF_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
            interest: Interest::READABLE,
        }
    }

    /// Echoes until the connection would block, or closes.
    ///
    /// It reads one buffer, writes all of it back, and only then reads
    /// again, so at most `BUF_SIZE` bytes wait per connection. When a write
    /// would block, the connection waits for `WRITABLE` instead of
    /// `READABLE` and reads nothing until the backlog is sent; TCP flow
    /// control then slows the client down.
    fn echo(&mut self, registry: &Registry, token: Token) -> io::Result<Status> {
        loop {
            // Send what is left of the last read.
            while self.start < self.end {
                match self.stream.write(&self.buf[self.start..self.end]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => self.start += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return self.wait_for(registry, token, Interest::WRITABLE);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }

            // All sent: read more.
            match self.stream.read(&mut self.buf) {
                // End of file: the client has closed its side, and has all
                // its bytes back.
                Ok(0) => return Ok(Status::Closed),
                Ok(n) => (self.start, self.end) = (0, n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return self.wait_for(registry, token, Interest::READABLE);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits for `interest` from now on, re-registering if that changes.
    fn wait_for(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<Status> {
        if self.interest != interest {
            registry.reregister(&mut self.stream, token, interest)?;
            self.interest = interest;
        }
        Ok(Status::Open)
    }
}
