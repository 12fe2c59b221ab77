//! The server side of examples/tcp_echo.rs: the listener, the table of
//! connections, and what to do when `accept` fails. Generic over the
//! backend, so tests (tests/exhaustion.rs, tests/peers.rs) drive the same
//! code on every selector.
//!
//! Errors: a connection whose read, write or re-registration fails (with
//! anything but `WouldBlock` or `Interrupted`) is closed, and the server
//! says so on standard error, in a line that starts with `closed `. The
//! server itself goes on.
//!
//! Out of descriptors: when `accept` fails with anything but `WouldBlock`,
//! `Interrupted` or `ConnectionAborted` (`EMFILE`, `ENFILE`, `ENOBUFS`,
//! `ENOMEM`, ...), retrying at once would fail again, and the listener
//! stays readable: a loop that retries on every readiness event spins. So
//! the server deregisters the listener (no backend reports it then,
//! whatever its re-arming rules) and registers it again only after a later
//! poll has waited for another event (a connection closing frees a
//! descriptor) or for [`RETRY_ACCEPT`] (for limits other processes share,
//! such as `ENFILE`); registering reports the connections still waiting.
//! Those wait in the kernel's backlog meanwhile; nothing is lost.

use std::io;
use std::time::Duration;

use rouse::event::Source;
use rouse::net::{TcpListener, TcpStream};
use rouse::sys::Selector;
use rouse::{Interest, Registry, Token};

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
    pub fn new<S: Selector>(mut listener: TcpListener, registry: &Registry<S>) -> io::Result<Server>
    where
        TcpListener: Source<S>,
    {
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
    pub fn handle<S: Selector>(&mut self, registry: &Registry<S>, token: Token)
    where
        TcpListener: Source<S>,
        TcpStream: Source<S>,
    {
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
    pub fn after_poll<S: Selector>(&mut self, registry: &Registry<S>)
    where
        TcpListener: Source<S>,
    {
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
    fn accept_all<S: Selector>(&mut self, registry: &Registry<S>)
    where
        TcpListener: Source<S>,
        TcpStream: Source<S>,
    {
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
    fn pause<S: Selector>(&mut self, registry: &Registry<S>, err: &io::Error)
    where
        TcpListener: Source<S>,
    {
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
fn close<S: Selector>(registry: &Registry<S>, slot: &mut Option<Conn>)
where
    TcpStream: Source<S>,
{
    if let Some(mut conn) = slot.take() {
        // Deregistering can only fail if it was not registered; either way
        // the socket is closed next.
        let _ = registry.deregister(&mut conn.stream);
    }
}
