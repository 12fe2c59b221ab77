//! One echo connection of examples/tcp_echo.rs: read a buffer, write all
//! of it back, wait for whichever direction blocked. Generic over the
//! backend, so tests/soak.rs drives the same code on every selector.

use std::io::{self, Read, Write};

use rouse::event::Source;
use rouse::net::TcpStream;
use rouse::sys::Selector;
use rouse::{Interest, Registry, Token};

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
    pub fn echo<S: Selector>(&mut self, registry: &Registry<S>, token: Token) -> io::Result<Status>
    where
        TcpStream: Source<S>,
    {
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
    fn wait_for<S: Selector>(
        &mut self,
        registry: &Registry<S>,
        token: Token,
        interest: Interest,
    ) -> io::Result<Status>
    where
        TcpStream: Source<S>,
    {
        if self.interest != interest {
            registry.reregister(&mut self.stream, token, interest)?;
            self.interest = interest;
        }
        Ok(Status::Open)
    }
}
