//! One small trait over the three crates, so each scenario is written once.
//!
//! Every method is a direct call into the crate under test; the scenarios
//! are generic over `Backend`, so after monomorphisation the trait costs
//! nothing and every implementation runs the same harness code.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

/// What a scenario needs from a readiness crate.
pub trait Backend: Sized {
    /// One end of a Unix stream pair, registered for reading.
    type Unix: Read + Write + AsRawFd;
    type Listener: AsRawFd;
    type Tcp: Read + Write + AsRawFd;
    /// Wakes this backend's poll from another thread.
    type Waker: Send + 'static;

    fn new() -> io::Result<Self>;
    fn unix_pair() -> io::Result<(Self::Unix, Self::Unix)>;
    fn add_unix(&mut self, s: &mut Self::Unix, token: usize) -> io::Result<()>;
    fn del_unix(&mut self, s: &mut Self::Unix) -> io::Result<()>;
    /// Reregisters `s` for reading with a new token.
    fn rereg_unix(&mut self, s: &mut Self::Unix, token: usize) -> io::Result<()>;
    /// Registers a bare fd for reading (the idle sources).
    fn add_fd(&mut self, fd: RawFd, token: usize) -> io::Result<()>;
    fn del_fd(&mut self, fd: RawFd) -> io::Result<()>;
    fn listen(addr: SocketAddr) -> io::Result<Self::Listener>;
    fn local_addr(l: &Self::Listener) -> io::Result<SocketAddr>;
    fn add_listener(&mut self, l: &mut Self::Listener, token: usize) -> io::Result<()>;
    fn del_listener(&mut self, l: &mut Self::Listener) -> io::Result<()>;
    fn accept(l: &Self::Listener) -> io::Result<Self::Tcp>;
    fn add_tcp(&mut self, s: &mut Self::Tcp, token: usize) -> io::Result<()>;
    fn del_tcp(&mut self, s: &mut Self::Tcp) -> io::Result<()>;
    /// Ends a registered connection the way the crate's documentation
    /// allows: dropping it (rouse, mio), or deleting it first (polling,
    /// whose `add` makes the caller promise to delete before closing).
    fn drop_tcp(&mut self, s: Self::Tcp) -> io::Result<()> {
        drop(s);
        Ok(())
    }
    fn waker(&mut self, token: usize) -> io::Result<Self::Waker>;
    fn wake(w: &Self::Waker) -> io::Result<()>;

    /// Polls once; the events are read with `for_each_token`.
    fn poll(&mut self, timeout: Option<Duration>) -> io::Result<()>;
    /// Calls `f` with the token of each event of the last poll.
    fn for_each_token(&self, f: impl FnMut(usize));
    /// Called after an operation on `fd` met `WouldBlock`: backends whose
    /// registrations are one-shot re-arm here; the others do nothing.
    #[inline]
    fn rearm(&mut self, _fd: RawFd, _token: usize) -> io::Result<()> {
        Ok(())
    }
}

pub const EVENTS: usize = 1024;

/// rouse, with any of its selectors.
pub mod rouse_impl {
    use super::*;
    use rouse::net::{TcpListener, TcpStream, UnixStream};
    use rouse::sys::Selector;
    use rouse::unix::SourceFd;
    use rouse::{Events, Interest, Poll, Token, Waker};

    pub struct Rouse<S: Selector> {
        poll: Poll<S>,
        events: Events<S, EVENTS>,
    }

    impl<S> Backend for Rouse<S>
    where
        S: Selector<Raw = RawFd> + 'static,
        S::Waker: 'static,
    {
        type Unix = UnixStream;
        type Listener = TcpListener;
        type Tcp = TcpStream;
        type Waker = Waker<S>;

        fn new() -> io::Result<Self> {
            Ok(Rouse {
                poll: Poll::with_selector(S::new()?),
                events: Events::new(),
            })
        }
        fn unix_pair() -> io::Result<(UnixStream, UnixStream)> {
            UnixStream::pair()
        }
        fn add_unix(&mut self, s: &mut UnixStream, token: usize) -> io::Result<()> {
            self.poll
                .registry()
                .register(s, Token(token), Interest::READABLE)
        }
        fn del_unix(&mut self, s: &mut UnixStream) -> io::Result<()> {
            self.poll.registry().deregister(s)
        }
        fn rereg_unix(&mut self, s: &mut UnixStream, token: usize) -> io::Result<()> {
            self.poll
                .registry()
                .reregister(s, Token(token), Interest::READABLE)
        }
        fn add_fd(&mut self, fd: RawFd, token: usize) -> io::Result<()> {
            self.poll
                .registry()
                .register(&mut SourceFd(&fd), Token(token), Interest::READABLE)
        }
        fn del_fd(&mut self, fd: RawFd) -> io::Result<()> {
            self.poll.registry().deregister(&mut SourceFd(&fd))
        }
        fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
            TcpListener::bind(addr)
        }
        fn local_addr(l: &TcpListener) -> io::Result<SocketAddr> {
            l.local_addr()
        }
        fn add_listener(&mut self, l: &mut TcpListener, token: usize) -> io::Result<()> {
            self.poll
                .registry()
                .register(l, Token(token), Interest::READABLE)
        }
        fn del_listener(&mut self, l: &mut TcpListener) -> io::Result<()> {
            self.poll.registry().deregister(l)
        }
        fn accept(l: &TcpListener) -> io::Result<TcpStream> {
            l.accept().map(|(s, _)| s)
        }
        fn add_tcp(&mut self, s: &mut TcpStream, token: usize) -> io::Result<()> {
            self.poll
                .registry()
                .register(s, Token(token), Interest::READABLE)
        }
        fn del_tcp(&mut self, s: &mut TcpStream) -> io::Result<()> {
            self.poll.registry().deregister(s)
        }
        fn waker(&mut self, token: usize) -> io::Result<Waker<S>> {
            Waker::new(self.poll.registry(), Token(token))
        }
        fn wake(w: &Waker<S>) -> io::Result<()> {
            w.wake()
        }
        #[inline]
        fn poll(&mut self, timeout: Option<Duration>) -> io::Result<()> {
            self.poll.poll(&mut self.events, timeout)
        }
        #[inline]
        fn for_each_token(&self, mut f: impl FnMut(usize)) {
            for event in self.events.iter() {
                f(event.token().0);
            }
        }
    }
}

/// mio: epoll, or poll(2) when built with `--cfg mio_unsupported_force_poll_poll`.
pub mod mio_impl {
    use super::*;
    use mio::net::{TcpListener, TcpStream, UnixStream};
    use mio::unix::SourceFd;
    use mio::{Events, Interest, Poll, Token, Waker};

    pub struct Mio {
        poll: Poll,
        events: Events,
    }

    impl Backend for Mio {
        type Unix = UnixStream;
        type Listener = TcpListener;
        type Tcp = TcpStream;
        type Waker = Waker;

        fn new() -> io::Result<Self> {
            Ok(Mio {
                poll: Poll::new()?,
                events: Events::with_capacity(EVENTS),
            })
        }
        fn unix_pair() -> io::Result<(UnixStream, UnixStream)> {
            UnixStream::pair()
        }
        fn add_unix(&mut self, s: &mut UnixStream, token: usize) -> io::Result<()> {
            self.poll
                .registry()
                .register(s, Token(token), Interest::READABLE)
        }
        fn del_unix(&mut self, s: &mut UnixStream) -> io::Result<()> {
            self.poll.registry().deregister(s)
        }
        fn rereg_unix(&mut self, s: &mut UnixStream, token: usize) -> io::Result<()> {
            self.poll
                .registry()
                .reregister(s, Token(token), Interest::READABLE)
        }
        fn add_fd(&mut self, fd: RawFd, token: usize) -> io::Result<()> {
            self.poll
                .registry()
                .register(&mut SourceFd(&fd), Token(token), Interest::READABLE)
        }
        fn del_fd(&mut self, fd: RawFd) -> io::Result<()> {
            self.poll.registry().deregister(&mut SourceFd(&fd))
        }
        fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
            TcpListener::bind(addr)
        }
        fn local_addr(l: &TcpListener) -> io::Result<SocketAddr> {
            l.local_addr()
        }
        fn add_listener(&mut self, l: &mut TcpListener, token: usize) -> io::Result<()> {
            self.poll
                .registry()
                .register(l, Token(token), Interest::READABLE)
        }
        fn del_listener(&mut self, l: &mut TcpListener) -> io::Result<()> {
            self.poll.registry().deregister(l)
        }
        fn accept(l: &TcpListener) -> io::Result<TcpStream> {
            l.accept().map(|(s, _)| s)
        }
        fn add_tcp(&mut self, s: &mut TcpStream, token: usize) -> io::Result<()> {
            self.poll
                .registry()
                .register(s, Token(token), Interest::READABLE)
        }
        fn del_tcp(&mut self, s: &mut TcpStream) -> io::Result<()> {
            self.poll.registry().deregister(s)
        }
        fn waker(&mut self, token: usize) -> io::Result<Waker> {
            Waker::new(self.poll.registry(), Token(token))
        }
        fn wake(w: &Waker) -> io::Result<()> {
            w.wake()
        }
        #[inline]
        fn poll(&mut self, timeout: Option<Duration>) -> io::Result<()> {
            self.poll.poll(&mut self.events, timeout)
        }
        #[inline]
        fn for_each_token(&self, mut f: impl FnMut(usize)) {
            for event in self.events.iter() {
                f(event.token().0);
            }
        }
    }
}

/// polling: epoll in edge mode, or (with `--cfg polling_test_poll_backend`)
/// poll(2) in its default one-shot mode, re-armed with `modify` after
/// `WouldBlock`. Std sockets, non-blocking.
pub mod polling_impl {
    use super::*;
    use polling::{Event, Events, PollMode, Poller};
    use std::net::{TcpListener, TcpStream};
    use std::num::NonZeroUsize;
    use std::os::unix::net::UnixStream;
    use std::sync::Arc;

    pub struct Polling {
        poller: Arc<Poller>,
        events: Events,
        mode: PollMode,
        /// The waker's token: `notify` gives no event, so a wait that
        /// returns empty without a timeout is reported as one.
        wake_token: Option<usize>,
        woken: bool,
    }

    impl Polling {
        fn add(&mut self, fd: RawFd, token: usize) -> io::Result<()> {
            // SAFETY: every scenario deletes each fd before closing it.
            unsafe {
                self.poller
                    .add_with_mode(fd, Event::readable(token), self.mode)
            }
        }
        fn del(&mut self, fd: RawFd) -> io::Result<()> {
            // SAFETY: `fd` is open: the scenarios delete before closing.
            self.poller.delete(unsafe { BorrowedFd::borrow_raw(fd) })
        }
    }

    impl Backend for Polling {
        type Unix = UnixStream;
        type Listener = TcpListener;
        type Tcp = TcpStream;
        type Waker = Arc<Poller>;

        fn new() -> io::Result<Self> {
            let poller = Poller::new()?;
            let mode = if poller.supports_edge() {
                PollMode::Edge
            } else {
                PollMode::Oneshot
            };
            Ok(Polling {
                poller: Arc::new(poller),
                events: Events::with_capacity(NonZeroUsize::new(EVENTS).unwrap()),
                mode,
                wake_token: None,
                woken: false,
            })
        }
        fn unix_pair() -> io::Result<(UnixStream, UnixStream)> {
            let (a, b) = UnixStream::pair()?;
            a.set_nonblocking(true)?;
            b.set_nonblocking(true)?;
            Ok((a, b))
        }
        fn add_unix(&mut self, s: &mut UnixStream, token: usize) -> io::Result<()> {
            self.add(s.as_raw_fd(), token)
        }
        fn del_unix(&mut self, s: &mut UnixStream) -> io::Result<()> {
            self.del(s.as_raw_fd())
        }
        fn rereg_unix(&mut self, s: &mut UnixStream, token: usize) -> io::Result<()> {
            self.poller
                .modify_with_mode(&*s, Event::readable(token), self.mode)
        }
        fn add_fd(&mut self, fd: RawFd, token: usize) -> io::Result<()> {
            self.add(fd, token)
        }
        fn del_fd(&mut self, fd: RawFd) -> io::Result<()> {
            self.del(fd)
        }
        fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
            let l = TcpListener::bind(addr)?;
            l.set_nonblocking(true)?;
            Ok(l)
        }
        fn local_addr(l: &TcpListener) -> io::Result<SocketAddr> {
            l.local_addr()
        }
        fn add_listener(&mut self, l: &mut TcpListener, token: usize) -> io::Result<()> {
            self.add(l.as_raw_fd(), token)
        }
        fn del_listener(&mut self, l: &mut TcpListener) -> io::Result<()> {
            self.del(l.as_raw_fd())
        }
        fn accept(l: &TcpListener) -> io::Result<TcpStream> {
            let (s, _) = l.accept()?;
            s.set_nonblocking(true)?;
            Ok(s)
        }
        fn add_tcp(&mut self, s: &mut TcpStream, token: usize) -> io::Result<()> {
            self.add(s.as_raw_fd(), token)
        }
        fn del_tcp(&mut self, s: &mut TcpStream) -> io::Result<()> {
            self.del(s.as_raw_fd())
        }
        fn drop_tcp(&mut self, mut s: TcpStream) -> io::Result<()> {
            self.del_tcp(&mut s)
        }
        fn waker(&mut self, token: usize) -> io::Result<Arc<Poller>> {
            self.wake_token = Some(token);
            Ok(Arc::clone(&self.poller))
        }
        fn wake(w: &Arc<Poller>) -> io::Result<()> {
            // polling's poll(2) backend can find its notification pipe
            // full; a notification is then pending, which is all a wake
            // needs.
            match w.notify() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
                other => other,
            }
        }
        #[inline]
        fn poll(&mut self, timeout: Option<Duration>) -> io::Result<()> {
            self.events.clear();
            let n = self.poller.wait(&mut self.events, timeout)?;
            self.woken = n == 0 && timeout.is_none() && self.wake_token.is_some();
            Ok(())
        }
        #[inline]
        fn for_each_token(&self, mut f: impl FnMut(usize)) {
            for event in self.events.iter() {
                f(event.key);
            }
            if let (true, Some(token)) = (self.woken, self.wake_token) {
                f(token);
            }
        }
        #[inline]
        fn rearm(&mut self, fd: RawFd, token: usize) -> io::Result<()> {
            if self.mode == PollMode::Oneshot {
                // SAFETY: `fd` is open: it belongs to the socket just read.
                let fd = unsafe { BorrowedFd::borrow_raw(fd) };
                self.poller.modify(fd, Event::readable(token))?;
            }
            Ok(())
        }
    }
}
