//! Named pipes on the IOCP backend: mio's `NamedPipe`, its readiness made
//! from overlapped reads, writes and connects that complete into the
//! selector's completion port.
//!
//! Windows reports no readiness for pipes, only completions. As mio does,
//! a registered pipe keeps one read in flight into a buffer of its own:
//! `read` hands out what that read brought and starts the next one, and
//! `write` copies its bytes into a second buffer, starts an overlapped write
//! of them and returns, so the caller never waits. What the pipe can do now
//! is its readiness: readable while data (or an error, or the end) waits in
//! the read buffer, writable while no write is in flight (once connected).
//! `select` dequeues each completion (key `PIPE_KEY`), updates the pipe and
//! reports that readiness through the table core like a socket's:
//! edge-triggered, each condition once until `read`, `write` or `connect`
//! meets `WouldBlock`, which re-arms it.
//!
//! # Ownership
//!
//! The kernel writes a pipe's read buffer and its `OVERLAPPED`s while an
//! operation is in flight, possibly after the `NamedPipe` is dropped, so
//! they live in a reference-counted [`Pipe`] of which every operation in
//! flight owns one reference, given back when its completion is dequeued:
//! a pipe dropped with I/O in flight stays in memory, its handle open,
//! until the kernel is done with it. Dropping cancels the read and the
//! connect in flight but not a write, so written data still reaches the
//! peer, as with mio. Each operation (read, write, connect) has one fixed
//! `OVERLAPPED`: one that was cancelled (by `disconnect`) is "stale" until
//! its completion comes back, and a new operation of its kind waits for
//! that (it starts when the completion is dequeued).
//!
//! A registration in the table names its pipe by address (the ident, with
//! bit 0 set to tell it from a socket) and owns no reference: the
//! `NamedPipe`, which owns one, ends its registration before it lets go.
//!
//! Lock order: the table's lock, then a pipe's. Nothing here takes the
//! table's lock (re-arming, ending a registration) while it holds a
//! pipe's.

use core::cell::UnsafeCell;
use core::fmt;
use core::mem;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};
use std::boxed::Box;
use std::ffi::OsStr;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, IntoRawHandle, RawHandle};
use std::sync::{Arc, Mutex, MutexGuard};
use std::vec::Vec;

use super::ffi::*;
use super::{IocpSelector, Port, PIPE_KEY};
use crate::event::Source;
use crate::sys::ready::{READABLE, WRITABLE};
use crate::sys::{Arm, Selector};
use crate::{Interest, Registry, Token};

/// The operations, each with its own `OVERLAPPED`: indexes into `Pipe::ops`.
const READ: usize = 0;
const WRITE: usize = 1;
const CONNECT: usize = 2;

/// The smallest read started, and the largest for handles other than
/// pipes (a serial port may wait for a large read to fill).
const MIN_READ: usize = 4 * 1024;
/// The largest read started on a pipe: `new`'s pipe buffer size.
const MAX_PIPE_READ: usize = 64 * 1024;
/// The most one `write` takes (it copies all of it): larger writes are
/// short, and the rest goes in the next `write`.
const MAX_WRITE: usize = 1024 * 1024;
/// A write buffer larger than this is freed once its write is done.
const KEEP_WRITE: usize = 64 * 1024;

/// Non-blocking Windows named pipe, with mio's API.
///
/// IOCP is a completion model and this is a readiness one, so the pipe
/// buffers, as mio's does: a registered pipe keeps a read in flight into
/// a buffer of its own, from which [`Read`] copies, and [`Write`] copies
/// the bytes into a buffer of its own and starts an overlapped write of
/// them (all at once, up to 1 MiB). A write in flight makes the next one
/// return `WouldBlock` until it is done, and an event says so.
///
/// The pipe must be registered with a [`Poll`](crate::Poll) (of the IOCP
/// backend) before it can do I/O: `connect`, `read` and `write` on a pipe
/// that is not registered return `NotFound` (data read before a
/// `deregister` is still handed out). A pipe stays tied to the first
/// `Poll` it was registered with, a Windows rule (a handle's completion
/// port cannot change): registering it with another is `AlreadyExists`,
/// as is registering it twice.
///
/// Readiness is edge-triggered, as for sockets: after an event, read (or
/// write) until `WouldBlock`, which re-arms it. `Read` and `Write` are
/// implemented for `&NamedPipe` too, so one thread can read while another
/// writes.
///
/// # Connecting
///
/// A server makes a pipe with [`NamedPipe::new`], registers it and calls
/// [`connect`](NamedPipe::connect), which returns `WouldBlock` until a
/// client has connected; the pipe is then reported writable, and
/// [`take_error`](NamedPipe::take_error) says whether the connect failed.
/// [`disconnect`](NamedPipe::disconnect) ends a connection (dropping what
/// was not read) so the pipe can `connect` the next client.
///
/// A client opens the pipe with `std::fs::OpenOptions`, with
/// `FILE_FLAG_OVERLAPPED` as a custom flag, and wraps the handle with
/// [`FromRawHandle`].
///
/// # Raw handles
///
/// Once registered, the handle stays tied to that `Poll`'s completion
/// port for as long as it is open, even after [`into_raw_handle`]: every
/// overlapped operation on it completes into that port, which takes it for
/// one of this pipe's. Never start overlapped I/O on the handle outside
/// this type.
///
/// [`into_raw_handle`]: IntoRawHandle::into_raw_handle
///
/// # Examples
///
/// ```
/// # #[cfg(windows)] {
/// use std::fs::OpenOptions;
/// use std::io::{ErrorKind, Read, Write};
/// use std::os::windows::fs::OpenOptionsExt;
/// use std::os::windows::io::{FromRawHandle, IntoRawHandle};
///
/// use rouse::windows::NamedPipe;
/// use rouse::{Events, Interest, Poll, Token};
///
/// const FILE_FLAG_OVERLAPPED: u32 = 0x4000_0000;
/// let name = format!(r"\\.\pipe\rouse-doc-{}", std::process::id());
///
/// let mut poll = Poll::new()?;
/// let mut events = Events::with_capacity(8);
/// let mut server = NamedPipe::new(&name)?;
/// poll.registry().register(&mut server, Token(0), Interest::READABLE | Interest::WRITABLE)?;
/// // No client yet: the connect waits.
/// assert_eq!(server.connect().unwrap_err().kind(), ErrorKind::WouldBlock);
///
/// let file = OpenOptions::new()
///     .read(true)
///     .write(true)
///     .custom_flags(FILE_FLAG_OVERLAPPED)
///     .open(&name)?;
/// // SAFETY: the handle is a pipe opened for overlapped I/O, owned by `file`.
/// let mut client = unsafe { NamedPipe::from_raw_handle(file.into_raw_handle()) };
/// poll.registry().register(&mut client, Token(1), Interest::READABLE | Interest::WRITABLE)?;
///
/// // The server's connect finishes: it is writable.
/// let mut connected = false;
/// while !connected {
///     poll.poll(&mut events, None)?;
///     connected = events.iter().any(|e| e.token() == Token(0) && e.is_writable());
/// }
/// assert!(server.take_error()?.is_none());
/// assert_eq!(client.write(b"ping")?, 4);
///
/// let mut buf = [0; 16];
/// loop {
///     match server.read(&mut buf) {
///         Ok(n) => {
///             assert_eq!(&buf[..n], b"ping");
///             break;
///         }
///         Err(e) if e.kind() == ErrorKind::WouldBlock => {
///             poll.poll(&mut events, None)?;
///         }
///         Err(e) => return Err(e),
///     }
/// }
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct NamedPipe {
    shared: Arc<Pipe>,
    /// The registration's re-arm handle, while registered.
    arm: Option<Arm>,
}

/// One operation's `OVERLAPPED`, which the kernel writes while the
/// operation is in flight, and which operation it is.
#[repr(C)]
struct Op {
    overlapped: UnsafeCell<OVERLAPPED>,
    /// This op's index in `Pipe::ops`, to find the `Pipe` from a
    /// completion's `OVERLAPPED` pointer. Never written after `new`.
    index: usize,
}

/// What a `NamedPipe` shares with the operations in flight (see the module
/// docs). `ops` is the first field, so a pointer to `ops[k]` less `k` ops is
/// a pointer to the `Pipe`.
#[repr(C)]
pub(crate) struct Pipe {
    ops: [Op; 3],
    handle: HANDLE,
    /// Whether dropping the `Pipe` closes `handle` (not after
    /// `into_raw_handle`).
    owns: AtomicBool,
    /// The largest read started.
    max_read: usize,
    state: Mutex<State>,
}

// SAFETY: the handle is a process-wide value whose calls (ReadFile,
// WriteFile, CancelIoEx...) are thread-safe; `ops` are written only under
// `state`'s lock while the kernel does not hold them (`busy`), and read
// after their completion was dequeued; everything else is behind the lock
// or atomic.
unsafe impl Send for Pipe {}
// SAFETY: as for `Send`.
unsafe impl Sync for Pipe {}

/// A pipe's state, behind its lock.
struct State {
    /// The completion port the handle is tied to, once registered.
    port: Option<Arc<Port>>,
    /// Registered (new reads start only then: their events need a token).
    registered: bool,
    /// Not connected: a server pipe waiting for `connect`, or after
    /// `disconnect`. No read starts, and it is not writable.
    listening: bool,
    /// A connect was asked for and has not finished.
    connecting: bool,
    /// Why the last connect failed, for `take_error`.
    connect_error: Option<io::Error>,
    read: ReadState,
    write: WriteState,
    /// `busy[k]`: the kernel holds op `k` (its completion is to come).
    busy: [bool; 3],
    /// `stale[k]`: op `k` was cancelled; its completion changes nothing.
    stale: [bool; 3],
    /// The size of the next read, from the caller's last buffer.
    read_size: usize,
    read_buf: Buf,
    write_buf: Buf,
}

enum ReadState {
    /// No read wanted (not registered or not connected, or handed out).
    Idle,
    /// A read is in flight (or starts when a stale one comes back).
    Pending,
    /// `read_buf[pos..len]` is read and not yet handed out.
    Ready { pos: usize, len: usize },
    /// The read failed; handed out by the next `read`.
    Failed(io::Error),
}

enum WriteState {
    /// No write in flight.
    Idle,
    /// `write_buf[pos..len]` is being written.
    Pending { pos: usize, len: usize },
    /// The last write failed; handed out by the next `write`.
    Failed(io::Error),
}

/// A heap buffer the kernel may write or read through a raw pointer while
/// an operation is in flight: it is only ever reached through `ptr`, so no
/// Rust reference to its bytes exists while the kernel holds it.
struct Buf {
    ptr: *mut u8,
    cap: usize,
}

// SAFETY: an owned heap allocation; see `Pipe`'s `Send`.
unsafe impl Send for Buf {}

impl Buf {
    const fn empty() -> Buf {
        Buf {
            ptr: ptr::null_mut(),
            cap: 0,
        }
    }

    /// Makes room for `len` bytes. Only while no operation uses the buffer.
    fn reserve(&mut self, len: usize) {
        if self.cap < len {
            self.free();
            let bytes: Box<[u8]> = std::vec![0u8; len].into_boxed_slice();
            self.cap = bytes.len();
            self.ptr = Box::into_raw(bytes).cast::<u8>();
        }
    }

    /// Frees the allocation. Only while no operation uses the buffer.
    fn free(&mut self) {
        if !self.ptr.is_null() {
            let slice = ptr::slice_from_raw_parts_mut(self.ptr, self.cap);
            // SAFETY: `ptr` and `cap` came from `Box::into_raw` of a boxed
            // slice of `cap` bytes in `reserve`, freed only here.
            drop(unsafe { Box::from_raw(slice) });
            // Fields, not `*self = ..`, which would drop (free) again.
            self.ptr = ptr::null_mut();
            self.cap = 0;
        }
    }

    /// The bytes `from..to`, which an operation that has completed wrote
    /// (or `write` copied in).
    fn bytes(&self, from: usize, to: usize) -> &[u8] {
        if from >= to || to > self.cap {
            return &[];
        }
        // SAFETY: `from < to <= cap`, inside the allocation, initialised
        // (zeroed by `reserve`, then written); no operation uses the
        // buffer (the caller holds the state lock and the op is done).
        unsafe { std::slice::from_raw_parts(self.ptr.add(from), to - from) }
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        self.free();
    }
}

fn would_block() -> io::Error {
    io::ErrorKind::WouldBlock.into()
}

fn not_registered() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        "named pipe not registered with a Poll (register it before connect, read or write)",
    )
}

fn other_poll() -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        "named pipe already tied to another Poll (a handle's completion port cannot change)",
    )
}

fn os_error(code: u32) -> io::Error {
    io::Error::from_raw_os_error(code as i32)
}

impl Pipe {
    fn new(handle: HANDLE, max_read: usize) -> Pipe {
        let op = |index| Op {
            // SAFETY: all-zero is a valid OVERLAPPED (integers, a null event).
            overlapped: UnsafeCell::new(unsafe { mem::zeroed() }),
            index,
        };
        Pipe {
            ops: [op(READ), op(WRITE), op(CONNECT)],
            handle,
            owns: AtomicBool::new(true),
            max_read,
            state: Mutex::new(State {
                port: None,
                registered: false,
                listening: false,
                connecting: false,
                connect_error: None,
                read: ReadState::Idle,
                write: WriteState::Idle,
                busy: [false; 3],
                stale: [false; 3],
                read_size: MIN_READ,
                read_buf: Buf::empty(),
                write_buf: Buf::empty(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while locked leaves plain flags, still consistent enough
        // to keep the kernel's buffers alive: go on.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What identifies this pipe's registration in the table: its address
    /// with bit 0 set (a socket's base handle never has it).
    pub(crate) fn ident(self: &Arc<Pipe>) -> usize {
        Arc::as_ptr(self) as usize | 1
    }

    /// The value the table keys the registration by: the handle's.
    pub(crate) fn raw(&self) -> u64 {
        self.handle as usize as u64
    }

    /// Starts op `k` with `start`, which makes the OS call with the handle
    /// and the op's `OVERLAPPED` and returns its result. `Ok` if the
    /// operation is under way (its completion will be dequeued, even if it
    /// finished at once), else the Win32 error, and no completion comes.
    fn submit(
        self: &Arc<Pipe>,
        st: &mut State,
        k: usize,
        start: impl FnOnce(HANDLE, *mut OVERLAPPED) -> BOOL,
    ) -> Result<(), u32> {
        let Some(port) = st.port.clone() else {
            // Not tied to a port: nothing would dequeue the completion.
            return Err(ERROR_NOT_FOUND);
        };
        if st.busy[k] {
            // The callers start an op only when it is idle.
            return Err(ERROR_BUSY);
        }
        let overlapped = self.ops[k].overlapped.get();
        // SAFETY: op `k` is not busy, so the kernel holds no pointer to it,
        // and the state lock (held) keeps other threads off it.
        unsafe { overlapped.write(mem::zeroed()) };
        // The operation's reference, taken before the call: once queued, its
        // completion may be dequeued on another thread at once (it then
        // waits for this state's lock, which the caller holds).
        let op_ref = Arc::into_raw(Arc::clone(self));
        port.pipe_ops.fetch_add(1, Ordering::SeqCst);
        let ok = start(self.handle, overlapped);
        // SAFETY: reads the thread's last-error value.
        let code = if ok != 0 {
            0
        } else {
            unsafe { GetLastError() }
        };
        match code {
            // `ERROR_MORE_DATA` is a warning (a message longer than the
            // read): the read still completes through the port.
            0 | ERROR_IO_PENDING | ERROR_MORE_DATA => {
                st.busy[k] = true;
                st.stale[k] = false;
                Ok(())
            }
            _ => {
                port.pipe_ops.fetch_sub(1, Ordering::SeqCst);
                // SAFETY: not started, so no completion takes this
                // reference back: it is given back here, once.
                drop(unsafe { Arc::from_raw(op_ref) });
                Err(code)
            }
        }
    }

    /// Asks the kernel to cancel op `k`, if it is in flight and not
    /// cancelled already; its completion then changes nothing.
    fn cancel(&self, st: &mut State, k: usize) {
        if st.busy[k] && !st.stale[k] {
            st.stale[k] = true;
            // SAFETY: names the operation by its OVERLAPPED, which stays in
            // place while it is in flight. Not finding it (it completed
            // already) is fine: its completion is queued either way.
            unsafe { CancelIoEx(self.handle, self.ops[k].overlapped.get()) };
        }
    }

    /// Starts a read if none is wanted yet and the pipe is registered and
    /// connected. A read that cannot start makes the error readable, except
    /// for a pipe that has no client yet.
    fn start_read(self: &Arc<Pipe>, st: &mut State) {
        if !matches!(st.read, ReadState::Idle) || !st.registered || st.listening {
            return;
        }
        if st.busy[READ] {
            // A cancelled read is still held: this one starts when it
            // comes back.
            st.read = ReadState::Pending;
            return;
        }
        let len = st.read_size.min(self.max_read).max(1);
        st.read_buf.reserve(len);
        let buf = st.read_buf.ptr;
        // SAFETY: `buf` has room for `len` bytes and stays allocated, and
        // untouched, until the completion is dequeued (the buffer is only
        // changed while the read is not busy).
        let started = self.submit(st, READ, |h, ov| unsafe {
            ReadFile(h, buf, len as u32, ptr::null_mut(), ov)
        });
        match started {
            Ok(()) => st.read = ReadState::Pending,
            Err(ERROR_PIPE_LISTENING) => st.listening = true,
            Err(code) => st.read = ReadState::Failed(os_error(code)),
        }
    }

    /// Starts writing `write_buf[pos..len]`.
    fn start_write(self: &Arc<Pipe>, st: &mut State, pos: usize, len: usize) -> io::Result<()> {
        let buf = st.write_buf.ptr;
        let n = (len - pos) as u32;
        // SAFETY: `pos < len <= cap`: the bytes are inside the buffer, which
        // stays allocated and unchanged until the completion is dequeued.
        self.submit(st, WRITE, |h, ov| unsafe {
            WriteFile(h, buf.add(pos), n, ptr::null_mut(), ov)
        })
        .map_err(os_error)?;
        st.write = WriteState::Pending { pos, len };
        Ok(())
    }

    /// Starts a connect: `Ok(true)` if a client is connected already,
    /// `Ok(false)` if the connect is under way.
    fn start_connect(self: &Arc<Pipe>, st: &mut State) -> io::Result<bool> {
        // SAFETY: the OVERLAPPED stays in place until the completion is
        // dequeued.
        let started = self.submit(st, CONNECT, |h, ov| unsafe { ConnectNamedPipe(h, ov) });
        match started {
            Ok(()) => {
                st.connecting = true;
                Ok(false)
            }
            // Connected before the call (and perhaps gone again already):
            // no completion comes.
            Err(ERROR_PIPE_CONNECTED | ERROR_NO_DATA) => {
                st.connecting = false;
                st.listening = false;
                self.start_read(st);
                Ok(true)
            }
            Err(code) => {
                st.connecting = false;
                Err(os_error(code))
            }
        }
    }
}

impl State {
    /// The pipe's readiness now: readable while data, an error or the end
    /// waits to be handed out; writable while no write is in flight, once
    /// connected (or once a connect failed, to hand out its error).
    fn present(&self) -> u8 {
        let mut ready = 0;
        if matches!(self.read, ReadState::Ready { .. } | ReadState::Failed(_)) {
            ready |= READABLE;
        }
        let write_idle = !self.busy[WRITE] && !matches!(self.write, WriteState::Pending { .. });
        if write_idle && (!self.listening || self.connect_error.is_some()) {
            ready |= WRITABLE;
        }
        ready
    }
}

/// Handles a completion dequeued with `PIPE_KEY`: takes back the reference
/// of the operation that completed and updates its pipe. Returns the pipe
/// and its readiness now.
///
/// # Safety
///
/// `entry` must have been dequeued from a port with `PIPE_KEY`, the key
/// only pipes are tied with, whose operations all start in
/// [`Pipe::submit`]: its `OVERLAPPED` is then one of a live `Pipe`'s ops,
/// with that operation's reference, taken back here once.
pub(crate) unsafe fn complete(entry: &OVERLAPPED_ENTRY) -> (Arc<Pipe>, u8) {
    let op = entry.lpOverlapped as *const Op;
    // SAFETY: (the caller's contract) `op` is one of a live `Pipe`'s ops,
    // kept alive by the reference its operation holds; `index` is never
    // written after `new`, so reading it races with nothing.
    let k = unsafe { (*op).index };
    // SAFETY: `ops` is the first field of the `repr(C)` `Pipe` and `op` is
    // `ops[k]`, so `k` ops back is the `Pipe`, the pointer `Arc::into_raw`
    // gave `submit`; this takes that reference back.
    let pipe = unsafe { Arc::from_raw(op.sub(k).cast::<Pipe>()) };
    let mut st = pipe.lock();
    if let Some(port) = &st.port {
        port.pipe_ops.fetch_sub(1, Ordering::SeqCst);
    }
    st.busy[k] = false;
    // SAFETY: the completion was dequeued: the kernel is done with the
    // OVERLAPPED; its status is the operation's NTSTATUS.
    let status = unsafe { (*pipe.ops[k].overlapped.get()).Internal } as NTSTATUS;
    let done = entry.dwNumberOfBytesTransferred as usize;
    let result = if status >= 0 {
        Ok(done)
    } else {
        // SAFETY: a pure translation of a status code.
        Err(unsafe { RtlNtStatusToDosError(status) })
    };
    let stale = mem::replace(&mut st.stale[k], false);
    match k {
        READ if stale => {
            if matches!(st.read, ReadState::Pending) {
                // A read was asked for meanwhile.
                st.read = ReadState::Idle;
                pipe.start_read(&mut st);
            }
        }
        READ => {
            st.read = match result {
                Ok(0) => ReadState::Idle,
                Ok(n) => ReadState::Ready { pos: 0, len: n },
                // A message longer than the buffer: what fit is handed
                // out, the rest comes with the next read.
                Err(ERROR_MORE_DATA) if done > 0 => ReadState::Ready { pos: 0, len: done },
                Err(code) => ReadState::Failed(os_error(code)),
            };
            if matches!(st.read, ReadState::Idle) {
                // Nothing read (a zero-length write): read again.
                pipe.start_read(&mut st);
            }
        }
        WRITE if stale => {}
        WRITE => {
            if let WriteState::Pending { pos, len } = st.write {
                st.write = match result {
                    Ok(n) if pos + n >= len => WriteState::Idle,
                    Ok(0) => WriteState::Failed(io::ErrorKind::WriteZero.into()),
                    Ok(n) => match pipe.start_write(&mut st, pos + n, len) {
                        Ok(()) => WriteState::Pending { pos: pos + n, len },
                        Err(e) => WriteState::Failed(e),
                    },
                    Err(code) => WriteState::Failed(os_error(code)),
                };
                if !matches!(st.write, WriteState::Pending { .. }) && st.write_buf.cap > KEEP_WRITE
                {
                    st.write_buf.free();
                }
            }
        }
        CONNECT if stale => {
            if st.connecting {
                // A connect was asked for meanwhile.
                if let Err(e) = pipe.start_connect(&mut st) {
                    st.connect_error = Some(e);
                }
            }
        }
        _ => {
            st.connecting = false;
            if let Err(code) = result {
                st.connect_error = Some(os_error(code));
            }
            st.listening = false;
            pipe.start_read(&mut st);
        }
    }
    let ready = st.present();
    drop(st);
    (pipe, ready)
}

/// The readiness of the pipe a table registration names.
///
/// # Safety
///
/// `ident` must be a registration's ident for a pipe ([`is_pipe`]): its
/// `NamedPipe` is alive (it ends the registration before it lets go).
pub(crate) unsafe fn present(ident: usize) -> u8 {
    // SAFETY: (the caller's contract) the address of a live `Pipe`.
    let pipe = unsafe { &*((ident & !1) as *const Pipe) };
    pipe.lock().present()
}

/// Whether a table registration's ident names a pipe (not a socket).
#[inline]
pub(crate) fn is_pipe(ident: usize) -> bool {
    ident & 1 != 0
}

impl NamedPipe {
    /// Creates the first instance of the named pipe `addr` (such as
    /// `\\.\pipe\my-server`), duplex, in byte mode, with 64 KiB buffers, for
    /// overlapped I/O, as mio's `new` does. It fails if the name is taken.
    pub fn new<A: AsRef<OsStr>>(addr: A) -> io::Result<NamedPipe> {
        let mut name: Vec<u16> = addr.as_ref().encode_wide().collect();
        if name.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "named pipe name contains a NUL character",
            ));
        }
        name.push(0);
        // SAFETY: `name` is NUL-terminated UTF-16 that outlives the call;
        // no security attributes (null).
        let handle = unsafe {
            CreateNamedPipeW(
                name.as_ptr(),
                PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE | FILE_FLAG_OVERLAPPED,
                PIPE_TYPE_BYTE,
                PIPE_UNLIMITED_INSTANCES,
                MAX_PIPE_READ as u32,
                MAX_PIPE_READ as u32,
                0,
                ptr::null(),
            )
        };
        if handle == INVALID_HANDLE_VALUE {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new pipe handle, opened for overlapped I/O, owned by
        // nothing else.
        Ok(unsafe { NamedPipe::from_raw_handle(handle as RawHandle) })
    }

    /// Connects this server pipe to a client: `Ok(())` if a client is
    /// connected already; otherwise the connect starts and this returns
    /// `WouldBlock` (as it does while the connect is under way). When it
    /// finishes, the pipe is reported writable: then
    /// [`take_error`](NamedPipe::take_error) says whether it failed.
    ///
    /// `NotFound` if the pipe is not registered.
    pub fn connect(&self) -> io::Result<()> {
        let mut st = self.shared.lock();
        let result = if st.busy[CONNECT] {
            if st.stale[CONNECT] {
                // A cancelled connect is still held: this one starts when
                // it comes back.
                st.connecting = true;
            }
            Err(would_block())
        } else if !st.registered {
            Err(not_registered())
        } else {
            match self.shared.start_connect(&mut st) {
                Ok(true) => Ok(()),
                Ok(false) => Err(would_block()),
                Err(e) => Err(e),
            }
        };
        drop(st);
        match &result {
            // Wait for writable (re-armed); or, connected, say so (the
            // pipe is writable now, as mio reports it).
            Ok(()) => self.rearm(Interest::WRITABLE),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.rearm(Interest::WRITABLE),
            Err(_) => {}
        }
        result
    }

    /// The error of the last connect, if it failed (taken: the next call
    /// returns `None`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(self.shared.lock().connect_error.take())
    }

    /// Disconnects the client, if any: what it wrote and was not read is
    /// dropped, and the I/O in flight cancelled, so nothing of it reaches
    /// the next client. The pipe can then [`connect`](NamedPipe::connect)
    /// again; the next connection's readiness is reported afresh, as for a
    /// new registration.
    pub fn disconnect(&self) -> io::Result<()> {
        let mut st = self.shared.lock();
        // SAFETY: the handle is open while the pipe lives.
        if unsafe { DisconnectNamedPipe(self.shared.handle) } == 0 {
            return Err(io::Error::last_os_error());
        }
        for k in [CONNECT, READ, WRITE] {
            self.shared.cancel(&mut st, k);
        }
        st.connecting = false;
        st.connect_error = None;
        st.read = ReadState::Idle;
        st.write = WriteState::Idle;
        st.listening = true;
        drop(st);
        // The next connection is new, as a new socket's registration is:
        // each of its conditions is reported once, whatever the last
        // connection left disarmed.
        self.rearm(Interest::READABLE | Interest::WRITABLE);
        Ok(())
    }

    fn rearm(&self, dirs: Interest) {
        if let Some(arm) = &self.arm {
            arm.rearm(dirs);
        }
    }

    /// Reads from the read buffer with `copy`, given `len` bytes of room.
    fn read_buffered(
        &self,
        len: usize,
        copy: impl FnOnce(&mut &[u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let shared = &self.shared;
        let mut st = shared.lock();
        st.read_size = len.clamp(MIN_READ, shared.max_read);
        let result = match mem::replace(&mut st.read, ReadState::Idle) {
            ReadState::Idle if !st.registered => Err(not_registered()),
            state @ (ReadState::Idle | ReadState::Pending) => {
                st.read = state;
                Err(would_block())
            }
            ReadState::Ready { pos, len } => {
                let mut data = st.read_buf.bytes(pos, len);
                let n = copy(&mut data)?;
                if pos + n < len {
                    st.read = ReadState::Ready { pos: pos + n, len };
                } else {
                    shared.start_read(&mut st);
                }
                Ok(n)
            }
            ReadState::Failed(e) => {
                shared.start_read(&mut st);
                if e.raw_os_error() == Some(ERROR_BROKEN_PIPE as i32) {
                    // The client closed its end: end of stream.
                    Ok(0)
                } else {
                    Err(e)
                }
            }
        };
        drop(st);
        if matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.rearm(Interest::READABLE);
        }
        result
    }

    /// Writes what fits of `bufs` (up to `MAX_WRITE` bytes) in one
    /// overlapped write.
    fn write_buffered(&self, bufs: &[&[u8]]) -> io::Result<usize> {
        let shared = &self.shared;
        let mut st = shared.lock();
        let result = match mem::replace(&mut st.write, WriteState::Idle) {
            WriteState::Idle if !st.registered => Err(not_registered()),
            WriteState::Failed(e) => Err(e),
            state @ WriteState::Pending { .. } => {
                st.write = state;
                Err(would_block())
            }
            // A cancelled write is still held: wait for it.
            WriteState::Idle if st.busy[WRITE] => Err(would_block()),
            WriteState::Idle => {
                let total = bufs
                    .iter()
                    .fold(0usize, |sum, b| sum.saturating_add(b.len()));
                let n = total.min(MAX_WRITE);
                if n == 0 {
                    Ok(0)
                } else {
                    st.write_buf.reserve(n);
                    let mut at = 0;
                    for buf in bufs {
                        let take = buf.len().min(n - at);
                        // SAFETY: no write is in flight (`busy` is false), so
                        // nothing else touches the buffer; `at + take <= n
                        // <= cap`; the source is a different allocation.
                        unsafe {
                            ptr::copy_nonoverlapping(buf.as_ptr(), st.write_buf.ptr.add(at), take);
                        }
                        at += take;
                        if at == n {
                            break;
                        }
                    }
                    shared.start_write(&mut st, 0, n).map(|()| n)
                }
            }
        };
        drop(st);
        if matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.rearm(Interest::WRITABLE);
        }
        result
    }

    /// Ends the registration and cancels the read and connect in flight
    /// (not a write, so it reaches the peer). Done once; again it does
    /// nothing.
    fn release(&mut self) {
        {
            let mut st = self.shared.lock();
            st.registered = false;
            self.shared.cancel(&mut st, CONNECT);
            self.shared.cancel(&mut st, READ);
        }
        // Not holding the pipe's lock: this takes the table's.
        if let Some(arm) = self.arm.take() {
            arm.forget();
        }
    }
}

impl Drop for NamedPipe {
    fn drop(&mut self) {
        self.release();
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        // Only once no operation holds a reference: the kernel is done.
        if *self.owns.get_mut() {
            // SAFETY: the handle is owned by this pipe and closed only here.
            unsafe { CloseHandle(self.handle) };
        }
    }
}

impl FromRawHandle for NamedPipe {
    /// Wraps `handle`, which must be a pipe (or another handle that does
    /// overlapped reads and writes) opened with `FILE_FLAG_OVERLAPPED`, not
    /// tied to a completion port yet, and owned by nothing else.
    unsafe fn from_raw_handle(handle: RawHandle) -> NamedPipe {
        let handle = handle as HANDLE;
        // SAFETY: asks the type of the handle the caller hands over.
        let max_read = if unsafe { GetFileType(handle) } == FILE_TYPE_PIPE {
            MAX_PIPE_READ
        } else {
            MIN_READ
        };
        NamedPipe {
            shared: Arc::new(Pipe::new(handle, max_read)),
            arm: None,
        }
    }
}

impl AsRawHandle for NamedPipe {
    fn as_raw_handle(&self) -> RawHandle {
        self.shared.handle as RawHandle
    }
}

impl IntoRawHandle for NamedPipe {
    /// Gives up the handle: the registration ends and the read and connect
    /// in flight are cancelled (a write in flight goes on). The handle
    /// stays tied to the completion port (see "Raw handles" above).
    fn into_raw_handle(self) -> RawHandle {
        self.shared.owns.store(false, Ordering::SeqCst);
        let handle = self.shared.handle as RawHandle;
        drop(self);
        handle
    }
}

impl Read for NamedPipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Read for &NamedPipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_buffered(buf.len(), |data| data.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let len = bufs
            .iter()
            .fold(0usize, |sum, b| sum.saturating_add(b.len()));
        self.read_buffered(len, |data| data.read_vectored(bufs))
    }
}

impl Write for NamedPipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl Write for &NamedPipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_buffered(&[buf])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let slices: Vec<&[u8]> = bufs.iter().map(|b| &**b).collect();
        self.write_buffered(&slices)
    }

    /// Does nothing: a write's bytes are on their way once `write`
    /// returns (the next `write` says if that failed).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<const N: usize> Source<IocpSelector<N>> for NamedPipe {
    fn register(
        &mut self,
        registry: &Registry<IocpSelector<N>>,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        let selector = registry.selector();
        let port = selector.port();
        {
            let mut st = self.shared.lock();
            if st.registered {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "named pipe is already registered with a Poll (deregister it first)",
                ));
            }
            match &st.port {
                Some(p) if !Arc::ptr_eq(p, port) => return Err(other_poll()),
                Some(_) => {}
                None => {
                    // SAFETY: both handles are open; ties the pipe's
                    // completions to the port with PIPE_KEY.
                    let tied = unsafe {
                        CreateIoCompletionPort(self.shared.handle, port.handle.0, PIPE_KEY, 0)
                    };
                    if tied.is_null() {
                        return Err(io::Error::last_os_error());
                    }
                    st.port = Some(Arc::clone(port));
                }
            }
            st.registered = true;
            self.shared.start_read(&mut st);
        }
        let raw = self.shared.raw();
        match selector.register_ident(raw, self.shared.ident(), token, interests) {
            Ok(arm) => {
                self.arm = Some(arm);
                Ok(())
            }
            Err(e) => {
                // A read started stays in flight; its data waits for the
                // next registration.
                self.shared.lock().registered = false;
                Err(e)
            }
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry<IocpSelector<N>>,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        let selector = registry.selector();
        {
            let mut st = self.shared.lock();
            match &st.port {
                Some(p) if !Arc::ptr_eq(p, selector.port()) => return Err(other_poll()),
                _ if !st.registered => return Err(not_registered()),
                _ => {}
            }
            self.shared.start_read(&mut st);
        }
        // The table core hands every registration a re-arm handle.
        self.arm = selector.reregister_armed(self.shared.raw(), token, interests)?;
        Ok(())
    }

    fn deregister(&mut self, registry: &Registry<IocpSelector<N>>) -> io::Result<()> {
        let selector = registry.selector();
        {
            let st = self.shared.lock();
            match &st.port {
                Some(p) if !Arc::ptr_eq(p, selector.port()) => return Err(other_poll()),
                _ if !st.registered => return Err(not_registered()),
                _ => {}
            }
        }
        selector.deregister(self.shared.raw())?;
        self.shared.lock().registered = false;
        self.arm = None;
        Ok(())
    }
}

impl fmt::Debug for NamedPipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamedPipe")
            .field("handle", &self.shared.handle)
            .field("registered", &self.arm.is_some())
            .finish()
    }
}
