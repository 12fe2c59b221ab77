//! The tcp_echo example's own server (examples/tcp_echo/), driven one poll
//! at a time by a test, and non-blocking clients to talk to it from the
//! same thread.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use rouse::net::TcpListener;
use rouse::{Events, Poll, Token};

use crate::common::{new_poll, Backend};

#[path = "../../examples/tcp_echo/conn.rs"]
pub mod conn;
#[path = "../../examples/tcp_echo/server.rs"]
pub mod server;

#[allow(unused_imports)]
pub use server::{Server, Stats, LISTENER, RETRY_ACCEPT};

/// The longest a test waits in one poll, so it can drive its clients.
const TURN: Duration = Duration::from_millis(10);
/// Turns before `run_until` gives up (at most 30 s of polling).
const MAX_TURNS: usize = 3000;

/// A `Poll` on backend `S` and the example's server on a loopback port.
pub struct Harness<S: Backend> {
    pub poll: Poll<S>,
    pub events: Events<S, 64>,
    pub server: Server,
    pub addr: SocketAddr,
}

impl<S: Backend> Harness<S> {
    pub fn new() -> Harness<S> {
        let poll = new_poll::<S>();
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
        let addr = listener.local_addr().unwrap();
        let server = Server::new(listener, poll.registry()).expect("server");
        Harness {
            poll,
            events: Events::new(),
            server,
            addr,
        }
    }

    /// One iteration of the example's main loop (with the wait capped at
    /// 10 ms): returns the tokens it handled.
    pub fn turn(&mut self) -> Vec<Token> {
        let timeout = self.server.timeout().map_or(TURN, |t| t.min(TURN));
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Vec::new(),
            Err(e) => panic!("[{}] poll: {e}", S::NAME),
        }
        let tokens: Vec<Token> = self.events.iter().map(|e| e.token()).collect();
        for &token in &tokens {
            self.server.handle(self.poll.registry(), token);
        }
        self.server.after_poll(self.poll.registry());
        tokens
    }

    /// Turns, pumping `clients` between turns, until `done` holds; panics
    /// naming `what` after `MAX_TURNS`.
    pub fn run_until(
        &mut self,
        clients: &mut [Client],
        what: &str,
        mut done: impl FnMut(&Harness<S>, &[Client]) -> bool,
    ) {
        for _ in 0..MAX_TURNS {
            for c in clients.iter_mut() {
                c.pump();
            }
            if done(self, clients) {
                return;
            }
            self.turn();
        }
        panic!(
            "[{}] never: {what} (open {}, {:?})",
            S::NAME,
            self.server.open(),
            self.server.stats()
        );
    }
}

/// A non-blocking client: sends `pattern`, then (if `half_close`) shuts
/// down its write side, and reads whatever comes back.
pub struct Client {
    pub stream: TcpStream,
    pub pattern: Vec<u8>,
    pub sent: usize,
    pub got: Vec<u8>,
    pub eof: bool,
    pub error: Option<io::ErrorKind>,
    pub half_close: bool,
    pub shut: bool,
    /// Whether it reads what comes back (a stalled client does not).
    pub reads: bool,
}

impl Client {
    /// Connects (the kernel completes the handshake; the server may accept
    /// later) a client that will send `len` pattern bytes.
    pub fn connect(addr: SocketAddr, seed: u8, len: usize) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nonblocking(true).unwrap();
        Client {
            stream,
            pattern: (0..len)
                .map(|i| (i as u8).wrapping_mul(31) ^ seed)
                .collect(),
            sent: 0,
            got: Vec::new(),
            eof: false,
            error: None,
            half_close: true,
            shut: false,
            reads: true,
        }
    }

    /// Writes and reads what it can without blocking.
    pub fn pump(&mut self) {
        if self.error.is_some() {
            return;
        }
        while self.sent < self.pattern.len() {
            match self.stream.write(&self.pattern[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    self.error = Some(e.kind());
                    return;
                }
            }
        }
        if self.sent == self.pattern.len() && self.half_close && !self.shut {
            self.stream.shutdown(Shutdown::Write).expect("shutdown");
            self.shut = true;
        }
        let mut buf = [0u8; 16 * 1024];
        while self.reads && !self.eof {
            match self.stream.read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => self.got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    self.error = Some(e.kind());
                    return;
                }
            }
        }
    }

    /// Every byte came back, in order, then end-of-file.
    pub fn echoed(&self) -> bool {
        self.eof && self.got == self.pattern
    }
}

/// `len` bytes of client `seed`'s data: a block of a prime length (so a
/// shifted or repeated stretch does not match), repeated.
fn pattern(seed: u8, len: usize) -> Vec<u8> {
    const BLOCK: usize = 65521;
    let block: Vec<u8> = (0..BLOCK.min(len))
        .map(|i| (i as u8).wrapping_mul(31) ^ (i >> 8) as u8 ^ seed)
        .collect();
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let n = (len - out.len()).min(block.len());
        out.extend_from_slice(&block[..n]);
    }
    out
}

/// Whether every client has its echo.
pub fn all_echoed(clients: &[Client]) -> bool {
    clients.iter().all(Client::echoed)
}
