//! The Windows backend: the [`Driver`] of [`TableSelector`] that waits on
//! an I/O completion port for AFD poll requests.
//!
//! Windows has no readiness call for sockets that scales, but its socket
//! driver (AFD, opened as `\Device\Afd`) accepts `IOCTL_AFD_POLL` requests:
//! "complete when one of these events is true of this socket". Issued
//! asynchronously on an AFD handle tied to a completion port, each request
//! completes into the port, and `select` is `GetQueuedCompletionStatusEx`
//! (`afd.rs` holds the requests themselves).
//!
//! The table core keeps the registrations. Beside them this driver keeps,
//! per registration, the poll in flight (its mask and block), and `N` I/O
//! blocks (`AFD_POLL_INFO` and `IO_STATUS_BLOCK`, which the kernel writes
//! while a poll is pending), each lent to one registration's poll at a
//! time. The blocks must stay at one address for as long as the kernel
//! holds them, so they are allocated once, by `new`, and never move; this
//! is why the backend needs `std`.
//!
//! Every registration has one poll in flight, asking for what it watches
//! (see the table core's rules) and always for `AFD_POLL_LOCAL_CLOSE`, so a
//! socket closed while registered is noticed and its registration ended,
//! without an event, as epoll forgets a closed fd. When a registration
//! starts watching a condition its poll in flight lacks, the poll is
//! cancelled and submitted again when the cancellation comes back. AFD
//! checks the socket's state when a poll is submitted, so nothing that
//! happened meanwhile is lost.
//!
//! `deregister` cancels the poll in flight and frees the registration at
//! once; the poll's block stays with the kernel, orphaned, until `select`
//! dequeues the cancellation, and its token is never reported again. So a
//! full table has room again as soon as a socket is deregistered, as on
//! every other backend: a registration that finds every block still held by
//! orphaned polls waits (without a poll, which only `select` could report
//! anyway) and gets the first block `select` takes back. The `Waker` posts
//! a packet to the port; so does a registration from another thread while
//! `select` waits (the table core's hand-off).
//!
//! Named pipes (`rouse::windows::NamedPipe`, `pipe.rs`) are tied to the
//! same port with a key of their own (`PIPE_KEY`): their reads, writes and
//! connects complete into it, `select` hands each completion to its pipe,
//! and the pipe's readiness is reported through the table like a
//! socket's. A pipe's registration has no AFD poll; it is reported when a
//! completion changes the pipe, and, when re-armed or reregistered while
//! the pipe is ready already, at the start of the next `select` (it is
//! marked "due").
//!
//! It must never block except in `select` (and in drop, which waits for the
//! kernel to give back the blocks), and never allocate after `new`.

mod afd;
pub(crate) mod ffi;
pub(crate) mod pipe;

use core::fmt;
use core::mem::size_of;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use core::time::Duration;
use std::boxed::Box;
use std::os::windows::io::RawSocket;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use std::vec::Vec;

use self::afd::{
    base_socket, last_error, open_device, poll_mask, readiness, wide, Handle, IoBlock,
};
use self::ffi::*;
use super::ready::{TableEvent, READABLE};
use super::table::{Data, Driver, Marks, TableSelector, Trigger, Waited, Zeroed};
use super::timeout_ms;
use crate::sys::event::Event;
use crate::{io, Token};

/// The table capacity of the default `IocpSelector`.
pub const DEFAULT_TABLE_CAPACITY: usize = 1024;

/// The AFD device `new` opens; the part after `\Device\Afd` is only a name.
const AFD_DEVICE: &str = "\\Device\\Afd\\Rouse";

/// Completion keys: AFD poll completions, `Waker` packets, packets that
/// interrupt a `select` so another thread can register, and named pipes'
/// completions.
const AFD_KEY: usize = 1;
const WAKE_KEY: usize = 2;
const INTERRUPT_KEY: usize = 3;
pub(crate) const PIPE_KEY: usize = 4;

/// Completions dequeued per `GetQueuedCompletionStatusEx` call at most.
const BATCH: usize = 128;

/// `IocpNative::owners[b]` of a block no poll uses.
const BLOCK_FREE: u32 = 0;
/// `IocpNative::owners[b]` of a block whose poll outlived its registration
/// (deregistered, or its socket closed and the value registered again):
/// free once that poll's completion is dequeued, which reports nothing.
const BLOCK_ORPHANED: u32 = u32::MAX;

/// The IOCP selector, with room for `N` registrations: the table core with
/// the IOCP driver.
///
/// Needs `std` (see the module docs). `new` makes the shared state (one
/// allocation, with the tables built in place) and the `N` I/O blocks (one
/// more), opens `\Device\Afd` and creates the completion port; it fails
/// with a message naming AFD if the socket driver cannot be opened. At most
/// one [`Waker`](crate::Waker) per selector.
///
/// A deregistered socket's slot is free at once; its poll's block is reused
/// once a `select` has dequeued the cancellation.
pub type IocpSelector<const N: usize = DEFAULT_TABLE_CAPACITY> = TableSelector<IocpDriver, N>;

/// The IOCP [`Driver`] of the table core (see [`IocpSelector`]).
#[derive(Debug)]
pub enum IocpDriver {}

/// The completion port, shared by a selector, its waker and the named
/// pipes tied to it.
pub(crate) struct Port {
    pub(crate) handle: Handle,
    /// Named pipe operations in flight whose completions come here (for
    /// drop, which waits a little for them).
    pub(crate) pipe_ops: AtomicUsize,
}

/// The IOCP driver's OS objects: the completion port, the AFD handle, and
/// the I/O blocks the kernel writes.
pub struct IocpOs {
    port: Arc<Port>,
    afd: Handle,
    /// `io[b]`: written by Rust only under the table lock while no poll is
    /// in flight on it, read after its completion has been dequeued.
    io: Box<[IoBlock]>,
    /// Polls the kernel holds (live or orphaned), for drop.
    in_flight: AtomicUsize,
    /// The waker's state, once a `Waker` is made.
    wake: OnceLock<Arc<WakeShared>>,
    /// An interrupt packet is queued and not yet dequeued.
    interrupting: AtomicBool,
}

// SAFETY: everything but `io` is Send + Sync already; `io` is only touched
// under the table lock and only when the kernel is not using the block (see
// the field's comment), so sharing it between threads is sound.
unsafe impl Sync for IocpOs {}
// SAFETY: as for `Sync`; the blocks are plain data.
unsafe impl Send for IocpOs {}

/// The poll in flight for one registration.
#[derive(Copy, Clone, Debug, Default)]
#[repr(C)]
struct Slot {
    /// The mask of the poll in flight; 0 when none is.
    pending: u32,
    /// The block of the poll in flight plus one, 0 when none is.
    block: u32,
    /// AFD events that met `WouldBlock` while the poll in flight covered
    /// them: if it reports them, the report may predate the `WouldBlock`
    /// (it was queued before the caller drained the socket), so instead of
    /// reporting, the completion polls again, which AFD answers from the
    /// socket's state now.
    recheck: u32,
    /// The poll in flight has been asked to cancel.
    cancelling: u8,
    /// Live, without a poll, waiting for a block.
    waiting: u8,
    /// A level registration whose poll completed: polled again when the
    /// next `select` starts, so what it reports is the socket's state after
    /// the program handled the last event, not before (as poll(2) would).
    deferred: u8,
    /// A named pipe's registration that was ready when re-armed: its
    /// readiness is delivered when the next `select` starts.
    due: u8,
}

/// The IOCP driver's arrays: the poll of each registration, who owns each
/// block, and the free blocks.
#[repr(C)]
pub struct IocpNative<const N: usize> {
    /// Registrations waiting for a block.
    waiting: usize,
    /// Level registrations to poll again when the next `select` starts.
    deferred: usize,
    /// Pipe registrations to deliver when the next `select` starts.
    due: usize,
    /// `free[..free_len]` are the free blocks.
    free_len: usize,
    free: [u32; N],
    /// `owners[b]`: the registration (plus one) whose poll is in flight on
    /// block `b`, or `BLOCK_FREE`, or `BLOCK_ORPHANED`.
    owners: [u32; N],
    slots: [Slot; N],
}

// SAFETY: integers and arrays of `repr(C)` integers.
unsafe impl<const N: usize> Zeroed for IocpNative<N> {}

impl<const N: usize> IocpNative<N> {
    fn take_block(&mut self) -> Option<usize> {
        self.free_len = self.free_len.checked_sub(1)?;
        Some(self.free[self.free_len] as usize)
    }

    fn give_block(&mut self, b: usize) {
        self.owners[b] = BLOCK_FREE;
        self.free[self.free_len] = b as u32;
        self.free_len += 1;
    }
}

/// What a waker and its selector share.
struct WakeShared {
    port: Arc<Port>,
    /// A wake packet is queued and not yet dequeued (wakes coalesce).
    posted: AtomicBool,
}

/// The IOCP half of a [`Waker`](crate::Waker): posts a packet to the port.
pub struct IocpWaker {
    shared: Arc<WakeShared>,
}

impl fmt::Debug for IocpWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IocpWaker").finish_non_exhaustive()
    }
}

impl fmt::Debug for IocpOs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IocpOs").finish_non_exhaustive()
    }
}

/// Submits a poll for registration `i`, which has none in flight, on a free
/// block; without a free block it waits for one.
fn start<const N: usize>(os: &IocpOs, data: &mut Data<IocpDriver, N>, i: usize) -> io::Result<()> {
    let Some(b) = data.native.take_block() else {
        data.native.slots[i].waiting = 1;
        data.native.waiting += 1;
        return Ok(());
    };
    submit(os, data, i, b).map_err(|e| {
        data.native.give_block(b);
        e
    })
}

/// Submits registration `i`'s poll on block `b`, which is its own.
fn submit<const N: usize>(
    os: &IocpOs,
    data: &mut Data<IocpDriver, N>,
    i: usize,
    b: usize,
) -> io::Result<()> {
    let e = data.regs.get(i);
    let mask = poll_mask(e.watching(), e.interests().is_readable());
    os.io[b].submit(os.afd.0, data.idents[i], mask)?;
    os.in_flight.fetch_add(1, Ordering::Relaxed);
    data.native.owners[b] = i as u32 + 1;
    let slot = &mut data.native.slots[i];
    slot.pending = mask;
    slot.block = b as u32 + 1;
    slot.cancelling = 0;
    slot.recheck = 0;
    slot.waiting = 0;
    Ok(())
}

/// Asks the kernel to cancel registration `i`'s poll in flight.
fn cancel<const N: usize>(os: &IocpOs, data: &mut Data<IocpDriver, N>, i: usize) {
    let slot = &mut data.native.slots[i];
    if slot.block == 0 || slot.cancelling != 0 {
        return;
    }
    os.io[slot.block as usize - 1].cancel(os.afd.0);
    slot.cancelling = 1;
}

/// Handles the completion of the poll on block `b`; returns the event to
/// report, if any.
fn complete<const N: usize>(
    os: &IocpOs,
    data: &mut Data<IocpDriver, N>,
    b: usize,
) -> Option<TableEvent> {
    let owner = data.native.owners[b];
    if owner == BLOCK_FREE {
        return None;
    }
    os.in_flight.fetch_sub(1, Ordering::Relaxed);
    if owner == BLOCK_ORPHANED {
        data.native.give_block(b);
        return None;
    }
    let i = owner as usize - 1;
    let slot = &mut data.native.slots[i];
    if slot.block as usize != b + 1 {
        data.native.give_block(b);
        return None;
    }
    let submitted = slot.pending;
    let recheck = slot.recheck;
    *slot = Slot::default();
    let c = os.io[b].completion();
    let events = if c.status == STATUS_CANCELLED {
        0
    } else if c.status < 0 {
        AFD_POLL_ABORT
    } else {
        c.events & submitted
    };
    if events & AFD_POLL_LOCAL_CLOSE != 0 {
        // Closed while registered: forgotten, without an event.
        data.native.give_block(b);
        data.closed(i);
        return None;
    }
    // Possibly stale directions are polled again rather than reported
    // (failures always count).
    let events = if events & afd::ERROR_BITS != 0 {
        events
    } else {
        events & !recheck
    };
    let event = data.deliver(i, readiness(events));
    if data.regs.get(i).trigger() == Trigger::Level {
        data.native.give_block(b);
        data.native.slots[i].deferred = 1;
        data.native.deferred += 1;
    } else if submit(os, data, i, b).is_err() {
        // The socket is unusable (closed under us, most likely).
        data.native.give_block(b);
        data.closed(i);
    }
    event
}

/// Polls again the level registrations whose poll completed last time.
fn start_deferred<const N: usize>(os: &IocpOs, data: &mut Data<IocpDriver, N>) {
    for i in 0..data.regs.len() {
        if data.native.deferred == 0 {
            return;
        }
        if data.native.slots[i].deferred == 0 {
            continue;
        }
        data.native.slots[i].deferred = 0;
        data.native.deferred -= 1;
        if !data.regs.get(i).is_dead() && start(os, data, i).is_err() {
            data.closed(i);
        }
    }
}

/// Gives blocks that came back to registrations waiting for one and
/// submits their polls; one whose poll cannot be submitted (its socket is
/// gone) is forgotten.
fn start_waiting<const N: usize>(os: &IocpOs, data: &mut Data<IocpDriver, N>) {
    for i in 0..data.regs.len() {
        if data.native.waiting == 0 || data.native.free_len == 0 {
            return;
        }
        if data.native.slots[i].waiting == 0 {
            continue;
        }
        data.native.slots[i].waiting = 0;
        data.native.waiting -= 1;
        if data.regs.get(i).is_dead() {
            continue;
        }
        if start(os, data, i).is_err() {
            data.closed(i);
        }
    }
}

/// Marks pipe registration `i` due if it is ready for something armed.
fn mark_due<const N: usize>(data: &mut Data<IocpDriver, N>, i: usize) {
    if data.native.slots[i].due != 0 {
        return;
    }
    // SAFETY: `i` is a pipe's registration (the callers check), so its
    // NamedPipe is alive.
    let ready = unsafe { pipe::present(data.idents[i]) };
    if ready & data.regs.get(i).watching() != 0 {
        data.native.slots[i].due = 1;
        data.native.due += 1;
    }
}

/// Delivers the pipe registrations marked due, into `events[out..]`;
/// returns the new `out`.
fn deliver_due<const N: usize>(
    data: &mut Data<IocpDriver, N>,
    events: &mut [Event<IocpSelector<N>>],
    mut out: usize,
) -> usize {
    for i in 0..data.regs.len() {
        if data.native.due == 0 || out == events.len() {
            break;
        }
        if data.native.slots[i].due == 0 {
            continue;
        }
        data.native.slots[i].due = 0;
        data.native.due -= 1;
        // SAFETY: only pipe registrations are marked due.
        let ready = unsafe { pipe::present(data.idents[i]) };
        if let Some(ev) = data.deliver(i, ready) {
            events[out] = Event::from_raw(ev);
            out += 1;
        }
    }
    out
}

/// Handles a named pipe's completion: the pipe's readiness, delivered if
/// its registration is in this table.
fn complete_pipe<const N: usize>(
    data: &mut Data<IocpDriver, N>,
    entry: &OVERLAPPED_ENTRY,
) -> Option<TableEvent> {
    // SAFETY: dequeued with PIPE_KEY, which only pipes are tied with.
    let (pipe, ready) = unsafe { pipe::complete(entry) };
    let i = data.regs.find(pipe.raw())?;
    if data.idents[i] != pipe.ident() {
        return None;
    }
    data.deliver(i, ready)
}

fn post(port: &Port, key: usize) -> io::Result<()> {
    // SAFETY: the port is open; the overlapped pointer is null and never
    // dereferenced.
    if unsafe { PostQueuedCompletionStatus(port.handle.0, 0, key, ptr::null()) } == 0 {
        return Err(last_error());
    }
    Ok(())
}

impl IocpOs {
    fn open<const N: usize>(device: &[u16]) -> io::Result<IocpOs> {
        if N == 0 || N >= BLOCK_ORPHANED as usize {
            return Err(io::error(
                io::ErrorKind::InvalidInput,
                "IocpSelector capacity must be between 1 and u32::MAX - 1",
                None,
            ));
        }
        let afd = open_device(device)?;
        // SAFETY: INVALID_HANDLE_VALUE with no port creates a new port.
        let port = unsafe { CreateIoCompletionPort(INVALID_HANDLE_VALUE, ptr::null_mut(), 0, 0) };
        if port.is_null() {
            return Err(last_error());
        }
        let port = Handle(port);
        // SAFETY: both handles are open and owned; this ties the AFD
        // handle's completions to the port with key AFD_KEY.
        if unsafe { CreateIoCompletionPort(afd.0, port.0, AFD_KEY, 0) }.is_null() {
            return Err(last_error());
        }
        let io: Vec<IoBlock> = (0..N).map(|_| IoBlock::zeroed()).collect();
        Ok(IocpOs {
            port: Arc::new(Port {
                handle: port,
                pipe_ops: AtomicUsize::new(0),
            }),
            afd,
            io: io.into_boxed_slice(),
            in_flight: AtomicUsize::new(0),
            wake: OnceLock::new(),
            interrupting: AtomicBool::new(false),
        })
    }
}

impl Drop for IocpOs {
    fn drop(&mut self) {
        // Take every poll back from the kernel before the blocks are freed,
        // and the named pipes' operations that come back here (their
        // buffers belong to their pipes, which these completions free).
        if *self.in_flight.get_mut() == 0 && self.port.pipe_ops.load(Ordering::SeqCst) == 0 {
            return;
        }
        if *self.in_flight.get_mut() > 0 {
            let mut cancel = empty_iosb();
            // SAFETY: a null request cancels every request on the AFD
            // handle, which is open; `cancel` is a live local.
            unsafe { NtCancelIoFileEx(self.afd.0, ptr::null(), &mut cancel) };
        }
        let mut entries = [EMPTY_ENTRY; BATCH];
        let started = Instant::now();
        loop {
            let polls = *self.in_flight.get_mut();
            if polls == 0 && self.port.pipe_ops.load(Ordering::SeqCst) == 0 {
                return;
            }
            let mut n = 0u32;
            // SAFETY: as in `wait`.
            let ok = unsafe {
                GetQueuedCompletionStatusEx(
                    self.port.handle.0,
                    entries.as_mut_ptr(),
                    BATCH as u32,
                    &mut n,
                    100,
                    0,
                )
            };
            if ok != 0 {
                for entry in &entries[..n as usize] {
                    match entry.lpCompletionKey {
                        AFD_KEY => {
                            let left = self.in_flight.get_mut();
                            *left = left.saturating_sub(1);
                        }
                        // SAFETY: dequeued with PIPE_KEY, which only pipes
                        // are tied with.
                        PIPE_KEY => drop(unsafe { pipe::complete(entry) }),
                        _ => {}
                    }
                }
            } else if polls == 0 {
                // Only pipe operations of pipes still open and not
                // cancelled are left (a pipe deregistered with a read in
                // flight): nothing will dequeue them now, so those pipes
                // stay in memory (a leak, never a write into freed memory).
                return;
            } else if started.elapsed() > Duration::from_secs(10) {
                // The kernel kept a block: leaking the blocks beats a
                // write into freed memory.
                core::mem::forget(core::mem::take(&mut self.io));
                return;
            }
        }
    }
}

const EMPTY_ENTRY: OVERLAPPED_ENTRY = OVERLAPPED_ENTRY {
    lpCompletionKey: 0,
    lpOverlapped: ptr::null_mut(),
    Internal: 0,
    dwNumberOfBytesTransferred: 0,
};

impl<const N: usize> Driver<N> for IocpDriver {
    type Raw = RawSocket;
    type Ident = usize;
    type Os = IocpOs;
    type Native = IocpNative<N>;
    type Waker = IocpWaker;
    const NAME: &'static str = "IocpSelector";
    // AFD polls are one-shot: a report disarms, a re-arm starts a poll.
    const LAZY: bool = false;

    fn open() -> io::Result<IocpOs> {
        const NAME: [u16; AFD_DEVICE.len()] = wide(AFD_DEVICE);
        IocpOs::open::<N>(&NAME)
    }

    fn init(_: &IocpOs, data: &mut Data<Self, N>) {
        for b in 0..N {
            data.native.give_block(b);
        }
    }

    fn now() -> Duration {
        // A process-wide origin; only differences are used.
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed()
    }

    /// The base socket, which AFD polls, identifies the registration.
    fn check(_: &IocpOs, raw: RawSocket) -> io::Result<usize> {
        base_socket(raw)
    }

    /// Windows reuses socket values at once: if the registered socket was
    /// closed without being deregistered and its poll has completed with a
    /// local close that `select` has not dequeued yet, the value is a new
    /// socket and the old registration is over.
    fn stale(os: &IocpOs, data: &Data<Self, N>, i: usize, _: usize) -> bool {
        let slot = &data.native.slots[i];
        slot.block != 0 && os.io[slot.block as usize - 1].closed_locally()
    }

    fn attach(os: &IocpOs, data: &mut Data<Self, N>, i: usize) -> io::Result<()> {
        data.native.slots[i] = Slot::default();
        if pipe::is_pipe(data.idents[i]) {
            // No poll: its completions say when it is ready. It may be
            // ready now.
            mark_due(data, i);
            return Ok(());
        }
        start(os, data, i)
    }

    fn watch(os: &IocpOs, data: &mut Data<Self, N>, i: usize) {
        if pipe::is_pipe(data.idents[i]) {
            mark_due(data, i);
            return;
        }
        // A registration waiting for a block has no poll: it will ask for
        // what it watches when submitted.
        let e = data.regs.get(i);
        let want = poll_mask(e.watching(), e.interests().is_readable());
        let slot = &data.native.slots[i];
        if slot.block != 0 && want & !slot.pending != 0 {
            // `complete` submits again when the cancellation comes back.
            cancel(os, data, i);
        }
    }

    fn rearmed(os: &IocpOs, data: &mut Data<Self, N>, i: usize, conds: u8, changed: bool) {
        if pipe::is_pipe(data.idents[i]) {
            // Ready already (a completion came before the re-arm): report
            // it at the next `select`.
            mark_due(data, i);
            return;
        }
        if changed {
            Self::watch(os, data, i);
            return;
        }
        // Nothing was disarmed: the poll in flight already asks for it, and
        // if it completed before the operation met `WouldBlock` its report
        // is stale.
        let reads = data.regs.get(i).interests().is_readable();
        let add = poll_mask(conds, reads) & !(afd::ERROR_BITS | AFD_POLL_LOCAL_CLOSE);
        let slot = &mut data.native.slots[i];
        if slot.block != 0 && slot.pending & add == add {
            slot.recheck |= add;
        }
    }

    fn detach(os: &IocpOs, data: &mut Data<Self, N>, i: usize) {
        let slot = data.native.slots[i];
        if slot.block != 0 {
            cancel(os, data, i);
            data.native.owners[slot.block as usize - 1] = BLOCK_ORPHANED;
        } else if slot.waiting != 0 {
            data.native.waiting -= 1;
        } else if slot.deferred != 0 {
            data.native.deferred -= 1;
        }
        if slot.due != 0 {
            data.native.due -= 1;
        }
        data.native.slots[i] = Slot::default();
    }

    fn moved(data: &mut Data<Self, N>, to: usize, from: usize) {
        let slot = data.native.slots[from];
        data.native.slots[to] = slot;
        if slot.block != 0 {
            data.native.owners[slot.block as usize - 1] = to as u32 + 1;
        }
    }

    fn wait(
        os: &IocpOs,
        data: &mut Data<Self, N>,
        _: &Marks<N>,
        events: &mut [Event<IocpSelector<N>>],
        timeout: Option<Duration>,
    ) -> io::Result<Waited> {
        if data.native.deferred > 0 {
            start_deferred(os, data);
        }
        let mut out = 0;
        if data.native.due > 0 {
            out = deliver_due(data, events, out);
            if out == events.len() {
                return Ok(Waited::Ready(out));
            }
        }
        let mut entries = [EMPTY_ENTRY; BATCH];
        let max = (events.len() - out).min(BATCH);
        let mut n = 0u32;
        // `timeout_ms` gives -1 for None, which is INFINITE as a u32; with
        // events in hand already, only what is queued now.
        let ms = match timeout_ms(timeout) {
            _ if out > 0 => 0,
            -1 => INFINITE,
            ms => ms as u32,
        };
        // SAFETY: `entries` has room for `max` records; `n` is a live
        // local; the port is open.
        let ok = unsafe {
            GetQueuedCompletionStatusEx(
                os.port.handle.0,
                entries.as_mut_ptr(),
                max as u32,
                &mut n,
                ms,
                0,
            )
        };
        if ok == 0 {
            // SAFETY: reads the thread's last-error value.
            let code = unsafe { GetLastError() };
            if code == WAIT_TIMEOUT {
                return Ok(Waited::Ready(out));
            }
            if out > 0 {
                return Ok(Waited::Ready(out));
            }
            return Err(io::os_error(code as i32));
        }
        let io_base = os.io.as_ptr() as usize;
        let mut woken = false;
        for entry in &entries[..n as usize] {
            match entry.lpCompletionKey {
                WAKE_KEY => {
                    if let Some(wake) = os.wake.get() {
                        wake.posted.store(false, Ordering::SeqCst);
                    }
                    if let (false, Some(token)) = (woken, data.waker_token()) {
                        woken = true;
                        events[out] = Event::from_raw(TableEvent::new(token.0, READABLE));
                        out += 1;
                    }
                }
                INTERRUPT_KEY => os.interrupting.store(false, Ordering::SeqCst),
                PIPE_KEY => {
                    if let Some(ev) = complete_pipe(data, entry) {
                        events[out] = Event::from_raw(ev);
                        out += 1;
                    }
                }
                AFD_KEY => {
                    let offset = (entry.lpOverlapped as usize).wrapping_sub(io_base);
                    let b = offset / size_of::<IoBlock>();
                    if offset % size_of::<IoBlock>() != 0 || b >= N {
                        continue;
                    }
                    if let Some(ev) = complete(os, data, b) {
                        events[out] = Event::from_raw(ev);
                        out += 1;
                    }
                }
                _ => {}
            }
        }
        if data.native.waiting > 0 {
            start_waiting(os, data);
        }
        Ok(if out > 0 {
            Waited::Ready(out)
        } else {
            Waited::Again
        })
    }

    fn interrupt(os: &IocpOs) {
        if !os.interrupting.swap(true, Ordering::SeqCst) && post(&os.port, INTERRUPT_KEY).is_err() {
            os.interrupting.store(false, Ordering::SeqCst);
        }
    }

    fn new_waker(os: &IocpOs, _: &mut Data<Self, N>, _: Token) -> io::Result<IocpWaker> {
        let shared = os.wake.get_or_init(|| {
            Arc::new(WakeShared {
                port: Arc::clone(&os.port),
                posted: AtomicBool::new(false),
            })
        });
        Ok(IocpWaker {
            shared: Arc::clone(shared),
        })
    }

    fn wake(waker: &IocpWaker) -> io::Result<()> {
        if waker.shared.posted.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        post(&waker.shared.port, WAKE_KEY).map_err(|e| {
            waker.shared.posted.store(false, Ordering::SeqCst);
            e
        })
    }
}

impl<const N: usize> TableSelector<IocpDriver, N> {
    /// The completion port, which named pipes are tied to.
    pub(crate) fn port(&self) -> &Arc<Port> {
        &self.os().port
    }

    /// Like `new`, opening `device` instead of `\Device\Afd\Rouse`: for
    /// tests of the error when AFD cannot be opened.
    #[doc(hidden)]
    pub fn with_device(device: &str) -> io::Result<Self> {
        let wide: Vec<u16> = device.encode_utf16().collect();
        TableSelector::with_os(IocpOs::open::<N>(&wide)?)
    }
}

/// One IOCP event: the token and its readiness, translated in `select`.
pub type IocpEvent = TableEvent;
