//! rouse's `examples/tcp_echo.rs` (with its `tcp_echo/server.rs` and
//! `tcp_echo/conn.rs`) with `rouse::` replaced by `mio::`, the generic
//! backend parameters dropped (mio has one backend) and the WASI listener
//! left out: the mio 1.x program ci/size compares tcp_echo's size with.
//! Keep the three in step when tcp_echo changes.
//!
//! ```text
//! cargo run --release --manifest-path size/mio_echo/Cargo.toml -- 127.0.0.1:9000
//! ```

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use mio::net::TcpListener;
use mio::{Events, Poll};

// The server and connection code: examples/tcp_echo/server.rs and
// conn.rs, as the modules below.
use server::Server;

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
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    println!("listening on {}", listener.local_addr()?);
    Ok(listener)
}

/// examples/tcp_echo/server.rs.
mod server {
    use std::io;
    use std::time::Duration;

    use mio::net::TcpListener;
    use mio::{Interest, Registry, Token};

    use super::conn::{Conn, Status};

    /// The listener's token. Connection `i` of the table uses `Token(i)`, so
    /// the listener takes a token from the other end.
    pub const LISTENER: Token = Token(usize::MAX - 1);

    /// How long accepting stays off after `accept` fails, unless another
    /// event (a connection closing, say) comes first.
    pub const RETRY_ACCEPT: Duration = Duration::from_millis(100);

    /// What the server has done so far (for tests and the curious).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Stats {
        /// Connections accepted and registered.
        pub accepted: u64,
        /// Connections closed because an operation on them failed (each also
        /// printed as a `closed ` line).
        pub closed_on_error: u64,
        /// Times accepting was switched off after `accept` failed.
        pub accept_pauses: u64,
        /// `accept` calls, successful or not.
        pub accept_calls: u64,
    }

    /// The echo server: a listener and its connections.
    pub struct Server {
        listener: TcpListener,
        /// Slot `i` holds the connection registered with `Token(i)`; `None` is
        /// a free slot, reused by the next connection.
        conns: Vec<Option<Conn>>,
        /// Accepting is off (after `accept` failed).
        paused: bool,
        /// It went off during the current poll's events: the next poll must
        /// wait before accepting is tried again.
        paused_now: bool,
        /// Whether the listener is registered (it is not while accepting is
        /// off, unless deregistering it failed).
        registered: bool,
        stats: Stats,
    }

    impl Server {
        /// Registers `listener` for `READABLE` with [`LISTENER`] and starts
        /// with no connection.
        pub fn new(mut listener: TcpListener, registry: &Registry) -> io::Result<Server> {
            registry.register(&mut listener, LISTENER, Interest::READABLE)?;
            Ok(Server {
                listener,
                conns: Vec::new(),
                paused: false,
                paused_now: false,
                registered: true,
                stats: Stats::default(),
            })
        }

        /// The listener.
        #[allow(dead_code)] // used by the tests, not by the example
        pub fn listener(&self) -> &TcpListener {
            &self.listener
        }

        /// The timeout for the next poll: `None` (wait for events) unless
        /// accepting is off, and then [`RETRY_ACCEPT`].
        pub fn timeout(&self) -> Option<Duration> {
            self.paused.then_some(RETRY_ACCEPT)
        }

        /// Whether the server accepts connections (it stops for a while after
        /// `accept` fails).
        pub fn accepting(&self) -> bool {
            !self.paused
        }

        /// How many connections are open.
        #[allow(dead_code)] // used by the tests, not by the example
        pub fn open(&self) -> usize {
            self.conns.iter().filter(|c| c.is_some()).count()
        }

        /// What the server has done so far.
        #[allow(dead_code)] // used by the tests, not by the example
        pub fn stats(&self) -> Stats {
            self.stats
        }

        /// Handles one event: accepts on the listener's, echoes on a
        /// connection's. Events for tokens it does not know are ignored.
        pub fn handle(&mut self, registry: &Registry, token: Token) {
            if token == LISTENER {
                // Not while paused: the event is from before the listener was
                // deregistered, in this same batch.
                if self.accepting() {
                    self.accept_all(registry);
                }
                return;
            }
            let Some(slot) = self.conns.get_mut(token.0) else {
                return;
            };
            // The slot may be empty: an earlier event of this same poll can
            // have closed the connection.
            let Some(conn) = slot else {
                return;
            };
            match conn.echo(registry, token) {
                Ok(Status::Open) => {}
                Ok(Status::Closed) => close(registry, slot),
                Err(e) => {
                    eprintln!("closed connection {}: {e}", token.0);
                    close(registry, slot);
                    self.stats.closed_on_error += 1;
                }
            }
        }

        /// Call after handling a poll's events: switches accepting back on if
        /// it went off before this poll (which then waited for an event, or
        /// for [`RETRY_ACCEPT`]); never right after it went off, which would
        /// retry without waiting.
        pub fn after_poll(&mut self, registry: &Registry) {
            if !self.paused || std::mem::take(&mut self.paused_now) {
                return;
            }
            // Registering (or re-registering, which re-arms) reports the
            // connections waiting in the backlog.
            let result = if self.registered {
                registry.reregister(&mut self.listener, LISTENER, Interest::READABLE)
            } else {
                registry.register(&mut self.listener, LISTENER, Interest::READABLE)
            };
            match result {
                Ok(()) => {
                    self.paused = false;
                    self.registered = true;
                }
                Err(e) => eprintln!("registering the listener again: {e}; retrying"),
            }
        }

        /// Accepts connections until `accept` says `WouldBlock` (or fails),
        /// registering each in a free slot.
        fn accept_all(&mut self, registry: &Registry) {
            loop {
                self.stats.accept_calls += 1;
                let mut stream = match self.listener.accept() {
                    Ok((stream, _peer)) => stream,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // The client gave up before we got to it: next.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                    Err(e) => {
                        self.pause(registry, &e);
                        return;
                    }
                };

                let i = match self.conns.iter().position(Option::is_none) {
                    Some(free) => free,
                    None => {
                        self.conns.push(None);
                        self.conns.len() - 1
                    }
                };
                // Registering reports data the client has already sent, so
                // there is no need to read now.
                if let Err(e) = registry.register(&mut stream, Token(i), Interest::READABLE) {
                    eprintln!("closed new connection: register: {e}");
                    self.stats.closed_on_error += 1;
                    continue; // dropping `stream` closes it
                }
                self.conns[i] = Some(Conn::new(stream));
                self.stats.accepted += 1;
            }
        }

        /// Stops accepting after `accept` failed with `err`: the listener is
        /// deregistered, so no backend reports it until [`Server::after_poll`]
        /// registers it again.
        fn pause(&mut self, registry: &Registry, err: &io::Error) {
            eprintln!("accept: {err}; not accepting until a connection closes (or 100 ms)");
            match registry.deregister(&mut self.listener) {
                Ok(()) => self.registered = false,
                Err(e) => eprintln!("deregistering the listener: {e}"),
            }
            self.paused = true;
            self.paused_now = true;
            self.stats.accept_pauses += 1;
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
}

/// examples/tcp_echo/conn.rs.
mod conn {
    use std::io::{self, Read, Write};

    use mio::net::TcpStream;
    use mio::{Interest, Registry, Token};

    /// How many bytes a connection reads before writing them back.
    pub const BUF_SIZE: usize = 16 * 1024;

    /// One client connection.
    pub struct Conn {
        pub stream: TcpStream,
        /// `buf[start..end]` has been read and not yet written back.
        buf: Box<[u8]>,
        start: usize,
        end: usize,
        /// What the connection is registered for: `READABLE`, or `WRITABLE`
        /// while it has bytes it could not send.
        interest: Interest,
    }

    /// Whether a connection goes on after [`Conn::echo`].
    pub enum Status {
        Open,
        Closed,
    }

    impl Conn {
        pub fn new(stream: TcpStream) -> Conn {
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
        pub fn echo(&mut self, registry: &Registry, token: Token) -> io::Result<Status> {
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
}
