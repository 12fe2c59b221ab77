//! `IoSource`: an I/O object that is a readiness source and reports edges
//! on every backend.
//!
//! rouse's `net` types and pipes are each an `IoSource` around a std type;
//! users can wrap their own (a serial port's `File`, a netlink socket). On
//! backends that emulate edges (poll(2), WASI, IOCP) it keeps the re-arm
//! handle ([`Arm`]) the backend hands back at registration: an operation
//! that meets `WouldBlock`, or reads or writes less than it was given,
//! re-arms its direction, and dropping the source while it is registered
//! ends its registration. On epoll and kqueue there is no handle, and an
//! operation costs one branch more than the bare call.
//!
//! It must never block, retry, allocate or change a result: the only side
//! effects it adds to an operation are the re-arms.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU8, Ordering};

use crate::event::Source;
use crate::sys::{Arm, Selector};
use crate::{Interest, Registry, Token};

/// An I/O object `T` (anything with a raw fd, or a raw socket on Windows)
/// as a readiness source that is edge-triggered on every backend, without
/// `reregister`.
///
/// Do the object's operations through [`do_io`](IoSource::do_io) (or the
/// `Read` and `Write` impls): after an event, operate until one returns
/// [`WouldBlock`](io::ErrorKind::WouldBlock), as with mio. On the backends
/// that emulate edges (poll(2), WASI, IOCP) that `WouldBlock` is what
/// re-arms the source; so is a read or write that moves fewer bytes than it
/// was given (the object is drained, as Linux programs, tokio among them,
/// assume), and an operation that failed with any other error (an
/// `accept` out of descriptors leaves its connections waiting: they are
/// reported again, so stop accepting for a while rather than retry on
/// every event). Operations on the object that bypass `IoSource` re-arm
/// nothing: use [`Registry::reregister`] after them.
///
/// An `IoSource` can be registered with one `Poll` at a time: registering
/// it again is `AlreadyExists`. Dropped while registered, it ends its
/// registration on every backend (the kernel forgets a closed fd on epoll
/// and kqueue).
///
/// # Examples
///
/// A pipe's read end, read until `WouldBlock`, with no `reregister` on any
/// backend:
///
/// ```
/// # #[cfg(unix)] {
/// use rouse::event::IoSource;
/// use rouse::{Events, Interest, Poll, Token};
/// use std::io::{ErrorKind, Read, Write};
/// use std::os::unix::net::UnixStream;
///
/// let (a, mut b) = UnixStream::pair()?;
/// a.set_nonblocking(true)?;
/// let mut source = IoSource::new(a);
/// let mut poll = Poll::new()?;
/// let mut events = Events::with_capacity(8);
/// poll.registry().register(&mut source, Token(0), Interest::READABLE)?;
///
/// for round in 0..2 {
///     b.write_all(b"ping")?;
///     poll.poll(&mut events, None)?;
///     let mut buf = [0; 16];
///     loop {
///         match source.read(&mut buf) {
///             Ok(n) => assert_eq!(&buf[..n], b"ping"),
///             Err(e) if e.kind() == ErrorKind::WouldBlock => break,
///             Err(e) => return Err(e),
///         }
///     }
/// }
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct IoSource<T> {
    inner: T,
    reg: Registration,
}

/// Whether the source is registered, and its re-arm handle if the backend
/// gave one. Dropping it ends the registration on table backends.
#[derive(Default)]
struct Registration {
    registered: bool,
    arm: Option<Arm>,
    /// The directions (`SHORT_READ`, `SHORT_WRITE`) whose last operation
    /// was a short transfer that re-armed them: the `WouldBlock` that
    /// usually follows needs no second re-arm.
    short: AtomicU8,
}

const SHORT_READ: u8 = 1;
const SHORT_WRITE: u8 = 2;

fn short_bit(interest: Interest) -> u8 {
    if interest.is_readable() {
        SHORT_READ
    } else {
        SHORT_WRITE
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(arm) = &self.arm {
            arm.forget();
        }
    }
}

/// Whether `err` is `WouldBlock`: one compare for an OS error.
#[inline]
fn is_would_block(err: &io::Error) -> bool {
    #[cfg(unix)]
    if let Some(code) = err.raw_os_error() {
        return code == libc::EAGAIN || code == libc::EWOULDBLOCK;
    }
    err.kind() == io::ErrorKind::WouldBlock
}

impl Registration {
    /// Re-arms `interest` after an operation failed, on backends that need
    /// it, after an operation failed with `err`. Out of line, and not
    /// generic over the object: the successful path of an operation stays
    /// a few instructions around the system call, and every `IoSource<T>`
    /// shares this code.
    ///
    /// Any error re-arms, not only `WouldBlock`: an `accept` that failed
    /// with `EMFILE` left its connections pending, and a later one must
    /// be reported as epoll reports it (on the table backends the
    /// listener is then reported at the next poll while connections wait:
    /// a server out of descriptors should stop accepting for a while, as
    /// the examples do, not retry on every event).
    ///
    /// A `WouldBlock` right after a short transfer that re-armed the same
    /// direction needs no second re-arm: the direction has been armed since
    /// that transfer, and if an event disarmed it meanwhile, that event is
    /// on its way to the program, whose next operation re-arms again. (The
    /// usual drain, a short read then `WouldBlock`, takes the table's lock
    /// once.)
    #[cold]
    #[inline(never)]
    fn after_failure(&self, err: &io::Error, interest: Interest) {
        if let Some(arm) = &self.arm {
            let bit = short_bit(interest);
            if self.short.load(Ordering::Acquire) & bit != 0 && is_would_block(err) {
                self.short.fetch_and(!bit, Ordering::AcqRel);
            } else {
                arm.rearm(interest);
            }
        }
    }

    /// After a read or write that moved `done` of `asked` bytes: re-arms
    /// `interest` if it moved some but fewer (the object is drained). A
    /// read of 0 is the end of the stream, which never needs a re-arm.
    #[inline]
    fn after_io(&self, done: usize, asked: usize, interest: Interest) {
        if let Some(arm) = &self.arm {
            let bit = short_bit(interest);
            if done != 0 && done < asked {
                arm.rearm(interest);
                self.short.fetch_or(bit, Ordering::Release);
            } else if self.short.load(Ordering::Relaxed) & bit != 0 {
                // Data moved since that re-arm: events may have disarmed
                // the direction again, so the next `WouldBlock` re-arms.
                self.short.fetch_and(!bit, Ordering::AcqRel);
            }
        }
    }
}

impl<T> IoSource<T> {
    /// Wraps `inner`, not yet registered. It must already be non-blocking.
    pub fn new(inner: T) -> IoSource<T> {
        IoSource {
            inner,
            reg: Registration::default(),
        }
    }

    /// The object, for operations that cannot return `WouldBlock`
    /// (addresses, options).
    #[inline]
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The object, mutably. Do not replace or close its fd while the
    /// source is registered.
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The object, giving up the registration (ended now on the backends
    /// that keep one for it).
    pub fn into_inner(self) -> T {
        let IoSource { inner, reg } = self;
        drop(reg);
        inner
    }

    /// Runs the operation `f` on the object; if it fails with
    /// `WouldBlock`, re-arms `interest` (the direction `f` waits for) on
    /// backends that need it. Returns `f`'s result unchanged.
    #[inline]
    pub fn do_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let result = f(&self.inner);
        if let Err(err) = &result {
            self.after_error(err, interest);
        }
        result
    }

    /// Re-arms `interest` after the operation failed with `err`, on
    /// backends that need it (see [`Registration::after_failure`]).
    #[inline]
    pub(crate) fn after_error(&self, err: &io::Error, interest: Interest) {
        // Tested here, inline: on epoll and kqueue there is never a handle,
        // and the call is skipped.
        if self.reg.arm.is_some() {
            self.reg.after_failure(err, interest);
        }
    }

    /// After a read or write that moved `done` of `asked` bytes: re-arms
    /// `interest` if it moved some but fewer (see
    /// [`Registration::after_io`]).
    #[inline]
    pub(crate) fn after_io(&self, done: usize, asked: usize, interest: Interest) {
        self.reg.after_io(done, asked, interest);
    }

    /// Runs a read or write `f` that is given `asked` bytes, re-arming as
    /// [`after_io`](Self::after_io) and [`after_error`](Self::after_error) say.
    #[inline]
    pub(crate) fn do_transfer(
        &self,
        interest: Interest,
        asked: usize,
        f: impl FnOnce(&T) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let result = f(&self.inner);
        match &result {
            Ok(done) => self.after_io(*done, asked, interest),
            Err(err) => self.after_error(err, interest),
        }
        result
    }

    fn register_with<S: Selector>(
        &mut self,
        registry: &Registry<S>,
        raw: S::Raw,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        if self.reg.registered {
            return Err(crate::io::error(
                io::ErrorKind::AlreadyExists,
                "source is already registered with a Poll (a source can be registered with one \
                 Poll at a time; deregister it first)",
                None,
            ));
        }
        self.reg.arm = registry.selector().register_armed(raw, token, interests)?;
        self.reg.registered = true;
        Ok(())
    }

    fn reregister_with<S: Selector>(
        &mut self,
        registry: &Registry<S>,
        raw: S::Raw,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        // A new handle for the same registration (dropping an `Arm` ends
        // nothing; only dropping the source's `Registration` does).
        self.reg.arm = registry
            .selector()
            .reregister_armed(raw, token, interests)?;
        Ok(())
    }

    fn deregister_with<S: Selector>(
        &mut self,
        registry: &Registry<S>,
        raw: S::Raw,
    ) -> io::Result<()> {
        registry.selector().deregister(raw)?;
        // The registration is over; its handle goes (dropping an `Arm`
        // ends nothing, and a handle of an ended registration does
        // nothing anyway).
        self.reg.arm = None;
        self.reg.registered = false;
        Ok(())
    }
}

/// The OS handle sources of this platform register with.
#[cfg(not(windows))]
mod raw {
    pub(crate) use std::os::fd::{AsRawFd as AsRawHandle, RawFd as RawHandle};

    #[inline]
    pub(crate) fn of(io: &impl AsRawHandle) -> RawHandle {
        io.as_raw_fd()
    }
}

/// The OS handle sources of this platform register with.
#[cfg(windows)]
mod raw {
    pub(crate) use std::os::windows::io::{AsRawSocket as AsRawHandle, RawSocket as RawHandle};

    #[inline]
    pub(crate) fn of(io: &impl AsRawHandle) -> RawHandle {
        io.as_raw_socket()
    }
}

pub(crate) use self::raw::{AsRawHandle, RawHandle};

impl<S, T> Source<S> for IoSource<T>
where
    S: Selector<Raw = RawHandle>,
    T: AsRawHandle,
{
    fn register(
        &mut self,
        registry: &Registry<S>,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        let raw = raw::of(&self.inner);
        self.register_with(registry, raw, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry<S>,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        let raw = raw::of(&self.inner);
        self.reregister_with(registry, raw, token, interests)
    }

    fn deregister(&mut self, registry: &Registry<S>) -> io::Result<()> {
        let raw = raw::of(&self.inner);
        self.deregister_with(registry, raw)
    }
}

impl<T> Read for IoSource<T>
where
    for<'a> &'a T: Read,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl<T> Read for &IoSource<T>
where
    for<'a> &'a T: Read,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.do_transfer(Interest::READABLE, buf.len(), |mut io| io.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        let asked = bufs.iter().map(|b| b.len()).sum();
        self.do_transfer(Interest::READABLE, asked, |mut io| io.read_vectored(bufs))
    }
}

impl<T> Write for IoSource<T>
where
    for<'a> &'a T: Write,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl<T> Write for &IoSource<T>
where
    for<'a> &'a T: Write,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.do_transfer(Interest::WRITABLE, buf.len(), |mut io| io.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let asked = bufs.iter().map(|b| b.len()).sum();
        self.do_transfer(Interest::WRITABLE, asked, |mut io| io.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.do_io(Interest::WRITABLE, |mut io| io.flush())
    }
}

impl<T: core::fmt::Debug> core::fmt::Debug for IoSource<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IoSource")
            .field("inner", &self.inner)
            .field("registered", &self.reg.registered)
            .finish()
    }
}
