//! The Windows backend: an I/O completion port plus AFD poll requests.
//!
//! Windows has no readiness call for sockets that scales, but its socket
//! driver (AFD, opened as `\Device\Afd`) accepts `IOCTL_AFD_POLL` requests:
//! "complete when one of these events is true of this socket". Issued
//! asynchronously on an AFD handle tied to a completion port, each request
//! completes into the port, and `select` is `GetQueuedCompletionStatusEx`.
//!
//! Registrations live in a table of `N` slots fixed at creation. A slot
//! holds the socket, its base handle (`SIO_BASE_HANDLE`), token, interests
//! and what is armed. Beside the slots are `N` I/O blocks, the
//! `AFD_POLL_INFO` and `IO_STATUS_BLOCK` the kernel writes while a poll is
//! pending, each lent to one slot's poll at a time. Those must stay at one
//! address for as long as the kernel holds them, so both arrays are
//! allocated once, by `new`, inside the shared (`Arc`) state, and never
//! move or grow; no socket ever allocates. This is why the backend
//! needs `std`: without an allocator the state would live inline in a
//! `Poll` that can move while the kernel writes into it.
//!
//! Edge triggering: a slot always has one poll in flight (at least for
//! `AFD_POLL_LOCAL_CLOSE`, so a socket closed while registered is noticed
//! and its slot freed). Once a direction is reported it is disarmed and the
//! next poll leaves it out, until `reregister` or a net type that met
//! `WouldBlock` (through [`Arm`]) arms it again; if the poll in flight lacks
//! a newly armed direction it is cancelled and resubmitted when the
//! cancellation completes. AFD checks the socket's state when a poll is
//! submitted, so nothing that happened while disarmed is lost.
//!
//! `deregister` cancels the poll in flight (`NtCancelIoFileEx`) and frees
//! the slot at once; the poll's block stays with the kernel, orphaned, until
//! `select` dequeues the cancellation, and its token is never reported
//! again. Slots and blocks are separate so that a full table has room again
//! as soon as a socket is deregistered, as on every other backend: a
//! registration that finds every block still held by orphaned polls waits
//! (without a poll, which only `select` could report anyway) and gets the
//! first block `select` takes back. The `Waker` posts a packet to the port.
//!
//! This module must never block except in `select` (and in drop, which
//! waits for the kernel to give back the poll blocks), and never allocate
//! after `new`.

pub(crate) mod ffi;

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::fmt;
use core::mem::size_of;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::boxed::Box;
use std::os::windows::io::RawSocket;
use std::sync::Arc;
use std::time::Instant;
use std::vec::Vec;

use self::ffi::*;
use super::lock::Lock;
use super::ready::{TableEvent, ERROR, PRIORITY, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};
use super::{timeout_ms, Arm, Rearm, Selector};
use crate::event::Event;
use crate::{io, Interest, Token};

/// The table capacity of the default `IocpSelector`.
pub const DEFAULT_TABLE_CAPACITY: usize = 1024;

/// The AFD device `new` opens; the part after `\Device\Afd` is only a name.
const AFD_DEVICE: &str = "\\Device\\Afd\\Rouse";

/// Completion keys: AFD poll completions and `Waker` packets.
const AFD_KEY: usize = 1;
const WAKE_KEY: usize = 2;

/// Completions dequeued per `GetQueuedCompletionStatusEx` call at most.
const BATCH: usize = 128;

const READ_BITS: u32 = AFD_POLL_RECEIVE | AFD_POLL_ACCEPT | AFD_POLL_DISCONNECT;
const WRITE_BITS: u32 = AFD_POLL_SEND | AFD_POLL_CONNECT;
const PRIORITY_BITS: u32 = AFD_POLL_RECEIVE_EXPEDITED;
const ERROR_BITS: u32 = AFD_POLL_ABORT | AFD_POLL_CONNECT_FAIL;

/// The AFD events that stand for `interests`.
fn afd_bits(interests: Interest) -> u32 {
    let mut bits = 0;
    if interests.is_readable() {
        bits |= READ_BITS;
    }
    if interests.is_writable() {
        bits |= WRITE_BITS;
    }
    if interests.is_priority() {
        bits |= PRIORITY_BITS;
    }
    bits
}

/// The mask a poll asks for when `armed` is armed: a local close always,
/// failures whenever any direction is armed.
fn poll_mask(armed: u32) -> u32 {
    if armed == 0 {
        AFD_POLL_LOCAL_CLOSE
    } else {
        armed | ERROR_BITS | AFD_POLL_LOCAL_CLOSE
    }
}

/// An owned kernel handle, closed on drop.
struct Handle(HANDLE);

// SAFETY: a kernel handle is a process-wide value; the calls made with it
// (posting, waiting, ioctls, cancelling) are thread-safe.
unsafe impl Send for Handle {}
// SAFETY: as for `Send`.
unsafe impl Sync for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle is owned by this value and closed only here.
        unsafe { CloseHandle(self.0) };
    }
}

/// The blocks the kernel reads and writes while a poll is pending.
#[repr(C)]
struct IoBlock {
    iosb: UnsafeCell<IO_STATUS_BLOCK>,
    info: UnsafeCell<AFD_POLL_INFO>,
}

impl IoBlock {
    fn new() -> Self {
        IoBlock {
            iosb: UnsafeCell::new(IO_STATUS_BLOCK {
                Status: 0,
                Information: 0,
            }),
            info: UnsafeCell::new(AFD_POLL_INFO {
                Timeout: 0,
                NumberOfHandles: 0,
                Exclusive: 0,
                Handles: [AFD_POLL_HANDLE_INFO {
                    Handle: ptr::null_mut(),
                    Events: 0,
                    Status: 0,
                }],
            }),
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Life {
    /// Unused; may be taken by `register`.
    Free,
    /// Registered.
    Live,
}

/// `Slot::block` of a slot without a poll in flight.
const NO_BLOCK: u32 = u32::MAX;
/// `Inner::owners[b]` of a block no poll uses: free for the next one.
const BLOCK_FREE: u32 = u32::MAX;
/// `Inner::owners[b]` of a block whose poll outlived its registration
/// (deregistered, or its socket closed and the value registered again):
/// free once that poll's completion is dequeued, which reports nothing.
const BLOCK_ORPHANED: u32 = u32::MAX - 1;

/// One registration, guarded by the lock.
#[derive(Copy, Clone, Debug)]
struct Slot {
    life: Life,
    raw: RawSocket,
    base: usize,
    token: Token,
    interests: Interest,
    gen: u32,
    /// AFD events wanted: the directions not reported since last armed.
    armed: u32,
    /// The mask of the poll in flight; 0 when none is.
    pending: u32,
    /// The block of the poll in flight, `NO_BLOCK` when none is. A live
    /// slot without one is waiting for a block (see `Inner::waiting`).
    block: u32,
    /// The poll in flight has been asked to cancel.
    cancelling: bool,
    /// Directions that met `WouldBlock` while the poll in flight covered
    /// them: if it reports them, the report may predate the `WouldBlock`
    /// (it was queued before the caller drained the socket), so instead of
    /// reporting, `select` polls again, which AFD answers from the
    /// socket's state now.
    recheck: u32,
}

const FREE: Slot = Slot {
    life: Life::Free,
    raw: 0,
    base: 0,
    token: Token(0),
    interests: Interest::READABLE,
    gen: 0,
    armed: 0,
    pending: 0,
    block: NO_BLOCK,
    cancelling: false,
    recheck: 0,
};

struct Inner {
    slots: Box<[Slot]>,
    /// `owners[b]`: the slot whose poll is in flight on `io[b]`, or
    /// `BLOCK_FREE`, or `BLOCK_ORPHANED`.
    owners: Box<[u32]>,
    /// Live slots without a poll because every block was taken when they
    /// needed one; `select` submits their polls as blocks come back.
    waiting: usize,
    next_gen: u32,
    waker: Option<Arc<WakeShared>>,
}

struct State<const N: usize> {
    port: Arc<Handle>,
    afd: Handle,
    /// `io[b]` is lent to the slot `inner.owners[b]` names; written by Rust
    /// only under the lock while no poll is in flight on it, read after its
    /// completion has been dequeued.
    io: Box<[IoBlock]>,
    inner: Lock<Inner>,
}

// SAFETY: everything but `io` is Send + Sync already; `io` is only touched
// under the lock and only when the kernel is not using the block (see the
// field's comment), so sharing the state between threads is sound.
unsafe impl<const N: usize> Sync for State<N> {}
// SAFETY: as for `Sync`; the blocks are plain data.
unsafe impl<const N: usize> Send for State<N> {}

/// The IOCP selector, with room for `N` registrations.
///
/// Needs `std` (see the module docs). `new` makes the shared state (one
/// allocation for the state and two for its fixed arrays), opens
/// `\Device\Afd` and creates the completion port; fails with a message
/// naming AFD if the socket driver cannot be opened. At most one
/// [`Waker`](crate::Waker) per selector.
///
/// A deregistered socket's slot is free at once; its poll's block is reused
/// once a `select` has dequeued the cancellation.
pub struct IocpSelector<const N: usize = DEFAULT_TABLE_CAPACITY> {
    state: Arc<State<N>>,
}

fn last_error() -> io::Error {
    // SAFETY: GetLastError only reads the thread's last-error value.
    io::os_error(unsafe { GetLastError() } as i32)
}

fn nt_error(status: NTSTATUS) -> io::Error {
    // SAFETY: a pure translation of a status code.
    io::os_error(unsafe { RtlNtStatusToDosError(status) } as i32)
}

/// `AFD_DEVICE` as UTF-16, built at compile time.
const fn wide<const L: usize>(s: &str) -> [u16; L] {
    let bytes = s.as_bytes();
    let mut out = [0u16; L];
    let mut i = 0;
    while i < L {
        out[i] = bytes[i] as u16;
        i += 1;
    }
    out
}

/// Opens `device` (an NT path such as `\Device\Afd\Rouse`).
fn open_device(device: &[u16]) -> io::Result<Handle> {
    let bytes = device.len() * 2;
    if bytes > usize::from(u16::MAX) {
        return Err(io::error(
            io::ErrorKind::InvalidInput,
            "device path too long",
            None,
        ));
    }
    let name = UNICODE_STRING {
        Length: bytes as u16,
        MaximumLength: bytes as u16,
        Buffer: device.as_ptr(),
    };
    let attrs = OBJECT_ATTRIBUTES {
        Length: size_of::<OBJECT_ATTRIBUTES>() as u32,
        RootDirectory: ptr::null_mut(),
        ObjectName: &name,
        Attributes: 0,
        SecurityDescriptor: ptr::null_mut(),
        SecurityQualityOfService: ptr::null_mut(),
    };
    let mut iosb = IO_STATUS_BLOCK {
        Status: 0,
        Information: 0,
    };
    let mut handle: HANDLE = ptr::null_mut();
    // SAFETY: every pointer is to a live local of the documented type; the
    // name buffer outlives the call; the call is synchronous (no
    // FILE_FLAG_OVERLAPPED semantics apply to the open itself).
    let status = unsafe {
        NtCreateFile(
            &mut handle,
            SYNCHRONIZE,
            &attrs,
            &mut iosb,
            ptr::null(),
            0,
            FILE_SHARE_READ | FILE_SHARE_WRITE,
            FILE_OPEN,
            0,
            ptr::null_mut(),
            0,
        )
    };
    if status < 0 {
        let os = nt_error(status);
        return Err(io::Error::new(
            os.kind(),
            std::format!(
                "rouse: cannot open the AFD socket driver (\\Device\\Afd), which \
                 the IOCP backend needs for socket readiness: NTSTATUS {:#010x} ({os})",
                status as u32
            ),
        ));
    }
    Ok(Handle(handle))
}

/// The base provider's handle of `raw`, which AFD polls (layered service
/// providers may hand out other handles).
fn base_socket(raw: RawSocket) -> io::Result<usize> {
    let mut base: usize = 0;
    let mut bytes = 0u32;
    // SAFETY: the output buffer is a live usize of the size passed; no
    // overlapped or completion routine, so the call is synchronous.
    let r = unsafe {
        WSAIoctl(
            raw as SOCKET,
            SIO_BASE_HANDLE,
            ptr::null_mut(),
            0,
            (&mut base as *mut usize).cast::<c_void>(),
            size_of::<usize>() as u32,
            &mut bytes,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    if r == SOCKET_ERROR {
        // SAFETY: reads the thread's last socket error.
        return Err(io::os_error(unsafe { WSAGetLastError() }));
    }
    Ok(base)
}

impl<const N: usize> State<N> {
    fn new(device: &[u16]) -> io::Result<Self> {
        if N == 0 || N >= BLOCK_ORPHANED as usize {
            return Err(io::error(
                io::ErrorKind::InvalidInput,
                "IocpSelector capacity must be between 1 and u32::MAX - 2",
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
        let io: Vec<IoBlock> = (0..N).map(|_| IoBlock::new()).collect();
        let slots: Vec<Slot> = (0..N).map(|_| FREE).collect();
        Ok(State {
            port: Arc::new(port),
            afd,
            io: io.into_boxed_slice(),
            inner: Lock::new(Inner {
                slots: slots.into_boxed_slice(),
                owners: (0..N).map(|_| BLOCK_FREE).collect(),
                waiting: 0,
                next_gen: 0,
                waker: None,
            }),
        })
    }

    /// Submits a poll for `slot`, which has none in flight, on block `b`,
    /// which is free or already the slot's (the caller records the owner).
    fn submit(&self, slot: &mut Slot, b: usize) -> io::Result<()> {
        let mask = poll_mask(slot.armed);
        let block = &self.io[b];
        let iosb = block.iosb.get();
        let info = block.info.get();
        // SAFETY: block `b` has no poll in flight (every caller holds the
        // lock and takes `b` free or from a completion it has dequeued), so
        // the kernel holds no pointer to it and these writes race with
        // nothing.
        unsafe {
            *info = AFD_POLL_INFO {
                Timeout: i64::MAX,
                NumberOfHandles: 1,
                Exclusive: 0,
                Handles: [AFD_POLL_HANDLE_INFO {
                    Handle: slot.base as HANDLE,
                    Events: mask,
                    Status: 0,
                }],
            };
            (*iosb).Status = STATUS_PENDING as usize;
        }
        let len = size_of::<AFD_POLL_INFO>() as u32;
        // SAFETY: `iosb` and `info` point into `self.io`, allocated once
        // and never moved or freed while a poll may be pending (drop waits
        // for every poll to come back); the AFD handle is open. The
        // completion goes to the port, carrying `iosb` as its overlapped
        // pointer (ApcContext), which `select` maps back to `i`.
        let status = unsafe {
            NtDeviceIoControlFile(
                self.afd.0,
                ptr::null_mut(),
                ptr::null_mut(),
                iosb.cast::<c_void>(),
                iosb,
                IOCTL_AFD_POLL,
                info.cast::<c_void>(),
                len,
                info.cast::<c_void>(),
                len,
            )
        };
        if status < 0 {
            return Err(nt_error(status));
        }
        // Pending or done at once: either way a completion is queued.
        slot.pending = mask;
        slot.block = b as u32;
        slot.cancelling = false;
        slot.recheck = 0;
        Ok(())
    }

    /// Whether the poll in flight on block `b` has completed (not yet
    /// dequeued) reporting that its socket was closed. Like
    /// `HasOverlappedIoCompleted`, reads the status the kernel writes last,
    /// then the events.
    fn closed_locally(&self, b: usize) -> bool {
        let block = &self.io[b];
        // SAFETY: the pointers are valid (see `submit`); volatile reads of
        // plain integers, as `HasOverlappedIoCompleted` does: the status
        // leaves STATUS_PENDING only once the kernel has written the
        // output, so the events read after it are final.
        unsafe {
            let status = ptr::read_volatile(ptr::addr_of!((*block.iosb.get()).Status));
            if status as NTSTATUS == STATUS_PENDING {
                return false;
            }
            core::sync::atomic::fence(Ordering::Acquire);
            let info = block.info.get();
            let count = ptr::read_volatile(ptr::addr_of!((*info).NumberOfHandles));
            let events = ptr::read_volatile(ptr::addr_of!((*info).Handles[0].Events));
            status as NTSTATUS >= 0 && count >= 1 && events & AFD_POLL_LOCAL_CLOSE != 0
        }
    }

    /// Asks the kernel to cancel `slot`'s poll in flight.
    fn cancel(&self, slot: &mut Slot) {
        if slot.pending == 0 || slot.cancelling {
            return;
        }
        let b = slot.block as usize;
        let mut cancel_iosb = IO_STATUS_BLOCK {
            Status: 0,
            Information: 0,
        };
        // SAFETY: names the request by its IO_STATUS_BLOCK, which stays
        // valid (see `submit`); `cancel_iosb` is a live local. Not finding
        // the request (it completed already) is fine: its completion is
        // queued either way.
        let status =
            unsafe { NtCancelIoFileEx(self.afd.0, self.io[b].iosb.get(), &mut cancel_iosb) };
        let _ = status == STATUS_SUCCESS || status == STATUS_NOT_FOUND;
        slot.cancelling = true;
    }

    /// Makes the poll in flight for `slot` cover what it has armed. A slot
    /// waiting for a block has none: its poll will ask for `armed` as it is
    /// when submitted.
    fn update(&self, slot: &mut Slot) {
        let want = poll_mask(slot.armed);
        if slot.pending != 0 && want & !slot.pending != 0 {
            // `select` resubmits when the cancellation comes back.
            self.cancel(slot);
        }
    }

    /// Ends slot `i`'s registration: cancels its poll in flight, whose
    /// block stays orphaned until the completion is dequeued, and frees
    /// the slot at once.
    fn release(&self, inner: &mut Inner, i: usize) {
        let slot = &mut inner.slots[i];
        if slot.pending != 0 {
            self.cancel(slot);
            inner.owners[slot.block as usize] = BLOCK_ORPHANED;
        } else if slot.life == Life::Live {
            inner.waiting -= 1;
        }
        *slot = FREE;
    }

    /// Gives blocks that came back to slots waiting for one and submits
    /// their polls. A slot whose poll cannot be submitted (its socket is
    /// gone) gets an error event in `events[*out..]` and is freed; if
    /// there is no room for the event it keeps waiting, for the next
    /// `select`.
    fn start_waiting(
        &self,
        inner: &mut Inner,
        events: &mut [Event<IocpSelector<N>>],
        out: &mut usize,
    ) {
        let mut from = 0;
        while inner.waiting > 0 {
            let Some(b) = inner.owners.iter().position(|&o| o == BLOCK_FREE) else {
                return;
            };
            let Some(i) = inner.slots[from..]
                .iter()
                .position(|s| s.life == Life::Live && s.pending == 0)
                .map(|k| from + k)
            else {
                return;
            };
            from = i + 1;
            let slot = &mut inner.slots[i];
            if self.submit(slot, b).is_ok() {
                inner.owners[b] = i as u32;
                inner.waiting -= 1;
            } else if *out < events.len() {
                events[*out] = Event::from_raw(IocpEvent::new(
                    slot.token.0,
                    ERROR | READ_CLOSED | WRITE_CLOSED,
                ));
                *out += 1;
                *slot = FREE;
                inner.waiting -= 1;
            }
        }
    }

    fn register(
        &self,
        raw: RawSocket,
        token: Token,
        interests: Interest,
    ) -> io::Result<(u32, usize)> {
        let base = base_socket(raw)?;
        let mut guard = self.inner.lock();
        let inner = &mut *guard;
        if let Some(old) = inner
            .slots
            .iter()
            .position(|s| s.life == Life::Live && s.raw == raw)
        {
            // Windows reuses socket values at once: if the registered
            // socket was closed without being deregistered and its poll has
            // completed with a local close that `select` has not dequeued
            // yet, `raw` is a new socket and the old registration is over.
            let slot = &inner.slots[old];
            if slot.pending != 0 && self.closed_locally(slot.block as usize) {
                self.release(inner, old);
            } else {
                return Err(io::error(
                    io::ErrorKind::AlreadyExists,
                    "socket is already registered",
                    i64::try_from(raw).ok(),
                ));
            }
        }
        let Some(i) = inner.slots.iter().position(|s| s.life == Life::Free) else {
            return Err(io::error(
                io::TABLE_FULL,
                "registry full: capacity",
                i64::try_from(N).ok(),
            ));
        };
        let gen = inner.next_gen;
        let mut slot = Slot {
            life: Life::Live,
            raw,
            base,
            token,
            interests,
            gen,
            armed: afd_bits(interests),
            pending: 0,
            block: NO_BLOCK,
            cancelling: false,
            recheck: 0,
        };
        // Every block may be held by orphaned polls (sockets deregistered
        // since the last `select`): then the slot waits for the first one
        // `select` takes back.
        match inner.owners.iter().position(|&o| o == BLOCK_FREE) {
            Some(b) => {
                self.submit(&mut slot, b)?;
                inner.owners[b] = i as u32;
            }
            None => inner.waiting += 1,
        }
        inner.slots[i] = slot;
        inner.next_gen = gen.wrapping_add(1);
        Ok((gen, i))
    }

    fn find(inner: &Inner, raw: RawSocket) -> io::Result<usize> {
        inner
            .slots
            .iter()
            .position(|s| s.life == Life::Live && s.raw == raw)
            .ok_or_else(|| {
                io::error(
                    io::ErrorKind::NotFound,
                    "socket is not registered",
                    i64::try_from(raw).ok(),
                )
            })
    }

    fn reregister(
        &self,
        raw: RawSocket,
        token: Token,
        interests: Interest,
    ) -> io::Result<(u32, usize)> {
        let mut guard = self.inner.lock();
        let i = Self::find(&guard, raw)?;
        let slot = &mut guard.slots[i];
        slot.token = token;
        slot.interests = interests;
        slot.armed = afd_bits(interests);
        let gen = slot.gen;
        self.update(slot);
        Ok((gen, i))
    }

    fn deregister(&self, raw: RawSocket) -> io::Result<()> {
        let mut guard = self.inner.lock();
        let i = Self::find(&guard, raw)?;
        self.release(&mut guard, i);
        Ok(())
    }

    /// Handles the completion of the poll on block `b`; returns the event
    /// to report, if any.
    fn complete(&self, inner: &mut Inner, b: usize) -> Option<IocpEvent> {
        let owner = inner.owners[b];
        if owner == BLOCK_ORPHANED {
            inner.owners[b] = BLOCK_FREE;
            return None;
        }
        let Some(slot) = inner.slots.get_mut(owner as usize) else {
            // BLOCK_FREE: no poll was in flight (cannot happen).
            return None;
        };
        if slot.pending == 0 || slot.block as usize != b {
            return None;
        }
        let submitted = slot.pending;
        slot.pending = 0;
        slot.block = NO_BLOCK;
        slot.cancelling = false;
        // The block goes back to the pool unless the slot resubmits on it.
        inner.owners[b] = BLOCK_FREE;
        // SAFETY: the completion for this block has been dequeued, so the
        // kernel is done with it; the lock is held.
        let (status, info) = unsafe {
            (
                (*self.io[b].iosb.get()).Status as NTSTATUS,
                *self.io[b].info.get(),
            )
        };
        let recheck = slot.recheck;
        let events = if status == STATUS_CANCELLED {
            0
        } else if status < 0 {
            AFD_POLL_ABORT
        } else if info.NumberOfHandles >= 1 {
            info.Handles[0].Events & submitted
        } else {
            0
        };
        if events & AFD_POLL_LOCAL_CLOSE != 0 {
            // Closed while registered: nothing to report, ever again.
            *slot = FREE;
            return None;
        }
        // Possibly stale directions are polled again rather than reported
        // (failures always count).
        let events = if events & ERROR_BITS != 0 {
            events
        } else {
            events & !recheck
        };
        let ready = readiness(events);
        let event = if ready != 0 {
            if events & ERROR_BITS != 0 {
                slot.armed = 0;
            } else {
                if ready & READABLE != 0 {
                    slot.armed &= !READ_BITS;
                }
                if ready & WRITABLE != 0 {
                    slot.armed &= !WRITE_BITS;
                }
                if ready & PRIORITY != 0 {
                    slot.armed &= !PRIORITY_BITS;
                }
            }
            Some(IocpEvent::new(slot.token.0, ready))
        } else {
            None
        };
        if self.submit(slot, b).is_ok() {
            inner.owners[b] = owner;
        } else {
            // The socket is unusable (closed under us, most likely): report
            // an error once if nothing else is, and stop watching it.
            let token = slot.token.0;
            *slot = FREE;
            return event.or(Some(IocpEvent::new(
                token,
                ERROR | READ_CLOSED | WRITE_CLOSED,
            )));
        }
        event
    }

    fn select(
        &self,
        events: &mut [Event<IocpSelector<N>>],
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut entries = [EMPTY_ENTRY; BATCH];
        let max = events.len().min(BATCH);
        let mut wait = timeout;
        let io_base = self.io.as_ptr() as usize;
        loop {
            let mut n = 0u32;
            // `timeout_ms` gives -1 for None, which is INFINITE as a u32.
            let ms = match timeout_ms(wait) {
                -1 => INFINITE,
                ms => ms as u32,
            };
            // SAFETY: `entries` has room for `max` records; `n` is a live
            // local; the port is open.
            let ok = unsafe {
                GetQueuedCompletionStatusEx(
                    self.port.0,
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
                    return Ok(0);
                }
                return Err(io::os_error(code as i32));
            }
            let mut out = 0;
            {
                let mut guard = self.inner.lock();
                let inner = &mut *guard;
                let mut woken = false;
                for entry in &entries[..n as usize] {
                    match entry.lpCompletionKey {
                        WAKE_KEY => {
                            if let Some(waker) = &inner.waker {
                                waker.posted.store(false, Ordering::SeqCst);
                                if !woken {
                                    woken = true;
                                    events[out] =
                                        Event::from_raw(IocpEvent::new(waker.token.0, READABLE));
                                    out += 1;
                                }
                            }
                        }
                        AFD_KEY => {
                            let offset = (entry.lpOverlapped as usize).wrapping_sub(io_base);
                            let b = offset / size_of::<IoBlock>();
                            if offset % size_of::<IoBlock>() != 0 || b >= N {
                                continue;
                            }
                            if let Some(ev) = self.complete(inner, b) {
                                events[out] = Event::from_raw(ev);
                                out += 1;
                            }
                        }
                        _ => {}
                    }
                }
                if inner.waiting > 0 {
                    self.start_waiting(inner, &mut events[..max], &mut out);
                }
            }
            if out > 0 {
                return Ok(out);
            }
            // Only cancellations came back: wait again for the time left.
            match (deadline, timeout) {
                (_, None) => {}
                (Some(deadline), _) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Ok(0);
                    }
                    wait = Some(deadline - now);
                }
                (None, Some(t)) if t.is_zero() => return Ok(0),
                (None, Some(_)) => {}
            }
        }
    }
}

impl<const N: usize> Drop for State<N> {
    fn drop(&mut self) {
        // Take every poll back from the kernel before the blocks are freed.
        let mut in_flight = 0usize;
        {
            let mut guard = self.inner.lock();
            let inner = &mut *guard;
            // Orphaned polls were cancelled when they were orphaned (or
            // had completed already); they come back like the others.
            in_flight += inner.owners.iter().filter(|&&o| o != BLOCK_FREE).count();
            for slot in inner.slots.iter_mut() {
                self.cancel(slot);
            }
        }
        let mut entries = [EMPTY_ENTRY; BATCH];
        let started = Instant::now();
        while in_flight > 0 {
            let mut n = 0u32;
            // SAFETY: as in `select`.
            let ok = unsafe {
                GetQueuedCompletionStatusEx(
                    self.port.0,
                    entries.as_mut_ptr(),
                    BATCH as u32,
                    &mut n,
                    100,
                    0,
                )
            };
            if ok != 0 {
                let polls = entries[..n as usize]
                    .iter()
                    .filter(|e| e.lpCompletionKey == AFD_KEY)
                    .count();
                in_flight = in_flight.saturating_sub(polls);
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

/// Translates AFD poll events into portable readiness.
fn readiness(events: u32) -> u8 {
    let mut bits = 0;
    if events & (READ_BITS | ERROR_BITS) != 0 {
        bits |= READABLE;
    }
    if events & (WRITE_BITS | ERROR_BITS) != 0 {
        bits |= WRITABLE;
    }
    if events & ERROR_BITS != 0 {
        bits |= ERROR | WRITE_CLOSED;
    }
    if events & (AFD_POLL_DISCONNECT | ERROR_BITS) != 0 {
        bits |= READ_CLOSED;
    }
    if events & PRIORITY_BITS != 0 {
        bits |= PRIORITY;
    }
    bits
}

/// One IOCP event: the token and its readiness, translated in `select`.
pub type IocpEvent = TableEvent;

/// What a waker and its selector share.
struct WakeShared {
    port: Arc<Handle>,
    token: Token,
    /// A wake packet is queued and not yet dequeued (wakes coalesce).
    posted: AtomicBool,
}

/// The IOCP half of a [`Waker`](crate::Waker): posts a packet to the port.
pub struct IocpWaker {
    shared: Arc<WakeShared>,
}

impl fmt::Debug for IocpWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IocpWaker")
            .field("token", &self.shared.token)
            .finish_non_exhaustive()
    }
}

impl<const N: usize> IocpSelector<N> {
    /// Like `new`, opening `device` instead of `\Device\Afd\Rouse`: for
    /// tests of the error when AFD cannot be opened.
    #[doc(hidden)]
    pub fn with_device(device: &str) -> io::Result<Self> {
        let wide: Vec<u16> = device.encode_utf16().collect();
        Ok(IocpSelector {
            state: Arc::new(State::new(&wide)?),
        })
    }

    fn arm(&self, raw: RawSocket, gen: u32, hint: usize) -> Arm {
        let target: Arc<dyn Rearm> = self.state.clone();
        Arm::new(target, raw, gen, hint)
    }
}

impl<const N: usize> Selector for IocpSelector<N> {
    type Raw = RawSocket;
    type Event = IocpEvent;
    type Waker = IocpWaker;

    const CAPACITY: Option<usize> = Some(N);

    fn new() -> io::Result<Self> {
        const NAME: [u16; AFD_DEVICE.len()] = wide(AFD_DEVICE);
        Ok(IocpSelector {
            state: Arc::new(State::new(&NAME)?),
        })
    }

    fn try_clone(&self) -> io::Result<Self> {
        Ok(IocpSelector {
            state: Arc::clone(&self.state),
        })
    }

    fn register(&self, raw: RawSocket, token: Token, interests: Interest) -> io::Result<()> {
        self.state.register(raw, token, interests).map(drop)
    }

    fn reregister(&self, raw: RawSocket, token: Token, interests: Interest) -> io::Result<()> {
        self.state.reregister(raw, token, interests).map(drop)
    }

    fn deregister(&self, raw: RawSocket) -> io::Result<()> {
        self.state.deregister(raw)
    }

    fn select(&self, events: &mut [Event<Self>], timeout: Option<Duration>) -> io::Result<usize> {
        self.state.select(events, timeout)
    }

    fn new_waker(&self, token: Token) -> io::Result<IocpWaker> {
        let mut inner = self.state.inner.lock();
        if inner.waker.is_some() {
            return Err(io::error(
                io::ErrorKind::AlreadyExists,
                "this Poll already has a Waker (the IOCP backend supports one)",
                None,
            ));
        }
        let shared = Arc::new(WakeShared {
            port: Arc::clone(&self.state.port),
            token,
            posted: AtomicBool::new(false),
        });
        inner.waker = Some(Arc::clone(&shared));
        Ok(IocpWaker { shared })
    }

    fn wake(waker: &IocpWaker) -> io::Result<()> {
        if waker.shared.posted.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        // SAFETY: the port is open (the waker holds it); the overlapped
        // pointer is null and never dereferenced.
        let ok = unsafe {
            PostQueuedCompletionStatus(waker.shared.port.0, 0, WAKE_KEY, ptr::null_mut())
        };
        if ok == 0 {
            waker.shared.posted.store(false, Ordering::SeqCst);
            return Err(last_error());
        }
        Ok(())
    }

    fn register_armed(
        &self,
        raw: RawSocket,
        token: Token,
        interests: Interest,
    ) -> io::Result<Option<Arm>> {
        let (gen, i) = self.state.register(raw, token, interests)?;
        Ok(Some(self.arm(raw, gen, i)))
    }

    fn reregister_armed(
        &self,
        raw: RawSocket,
        token: Token,
        interests: Interest,
    ) -> io::Result<Option<Arm>> {
        let (gen, i) = self.state.reregister(raw, token, interests)?;
        Ok(Some(self.arm(raw, gen, i)))
    }
}

impl<const N: usize> Rearm for State<N> {
    fn rearm(&self, raw: u64, gen: u32, hint: usize, interests: Interest) {
        let mut guard = self.inner.lock();
        let Some(slot) = guard.slots.get_mut(hint) else {
            return;
        };
        if slot.life != Life::Live || slot.raw != raw || slot.gen != gen {
            return;
        }
        let add = afd_bits(slot.interests) & afd_bits(interests);
        if slot.armed & add == add && slot.pending & add == add {
            slot.recheck |= add;
            return;
        }
        slot.armed |= add;
        self.update(slot);
    }
}

impl<const N: usize> fmt::Debug for IocpSelector<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IocpSelector")
            .field("capacity", &N)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_and_masks() {
        assert_eq!(readiness(AFD_POLL_RECEIVE), READABLE);
        assert_eq!(readiness(AFD_POLL_ACCEPT), READABLE);
        assert_eq!(readiness(AFD_POLL_SEND), WRITABLE);
        assert_eq!(readiness(AFD_POLL_DISCONNECT), READABLE | READ_CLOSED);
        let abort = readiness(AFD_POLL_ABORT);
        assert_eq!(
            abort,
            READABLE | WRITABLE | ERROR | READ_CLOSED | WRITE_CLOSED
        );
        assert_eq!(poll_mask(0), AFD_POLL_LOCAL_CLOSE);
        assert!(poll_mask(READ_BITS) & AFD_POLL_ABORT != 0);
        assert_eq!(afd_bits(Interest::WRITABLE), WRITE_BITS);
        assert_eq!(size_of::<AFD_POLL_INFO>(), 32);
        let name: [u16; 4] = wide("\\Afd");
        assert_eq!(name, [92, 65, 102, 100]);
    }
}
