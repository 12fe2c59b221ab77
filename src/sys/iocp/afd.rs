//! The socket driver (AFD) half of the IOCP backend: opening
//! `\Device\Afd`, finding a socket's base handle, and the poll requests
//! themselves (`IOCTL_AFD_POLL`), issued on blocks that the kernel writes
//! until the request completes into the completion port.
//!
//! Everything here is a thin, safe-to-call wrapper of one system call or a
//! translation; which request goes on which block is the driver's business
//! (`mod.rs`).

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::mem::size_of;
use core::ptr;
use core::sync::atomic::Ordering;
use std::os::windows::io::RawSocket;

use super::ffi::*;
use crate::io;
use crate::sys::ready::{ERROR, PRIORITY, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};
use crate::sys::table::Zeroed;

/// An owned kernel handle, closed on drop.
pub(crate) struct Handle(pub(crate) HANDLE);

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

pub(crate) fn last_error() -> io::Error {
    // SAFETY: GetLastError only reads the thread's last-error value.
    io::os_error(unsafe { GetLastError() } as i32)
}

fn nt_error(status: NTSTATUS) -> io::Error {
    // SAFETY: a pure translation of a status code.
    io::os_error(unsafe { RtlNtStatusToDosError(status) } as i32)
}

/// `s` as UTF-16, built at compile time (ASCII only).
pub(crate) const fn wide<const L: usize>(s: &str) -> [u16; L] {
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
pub(crate) fn open_device(device: &[u16]) -> io::Result<Handle> {
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
        // Only read: NtCreateFile takes the name as const.
        Buffer: device.as_ptr().cast_mut(),
    };
    let attrs = OBJECT_ATTRIBUTES {
        Length: size_of::<OBJECT_ATTRIBUTES>() as u32,
        RootDirectory: ptr::null_mut(),
        ObjectName: &name,
        Attributes: 0,
        SecurityDescriptor: ptr::null(),
        SecurityQualityOfService: ptr::null(),
    };
    let mut iosb = empty_iosb();
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
            ptr::null(),
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
pub(crate) fn base_socket(raw: RawSocket) -> io::Result<usize> {
    let mut base: usize = 0;
    let mut bytes = 0u32;
    // SAFETY: the output buffer is a live usize of the size passed; no
    // overlapped or completion routine, so the call is synchronous.
    let r = unsafe {
        WSAIoctl(
            raw as SOCKET,
            SIO_BASE_HANDLE,
            ptr::null(),
            0,
            (&mut base as *mut usize).cast::<c_void>(),
            size_of::<usize>() as u32,
            &mut bytes,
            ptr::null_mut(),
            None,
        )
    };
    if r == SOCKET_ERROR {
        // SAFETY: reads the thread's last socket error.
        return Err(io::os_error(unsafe { WSAGetLastError() }));
    }
    Ok(base)
}

/// The blocks the kernel reads and writes while a poll is pending.
#[repr(C)]
pub(crate) struct IoBlock {
    iosb: UnsafeCell<IO_STATUS_BLOCK>,
    info: UnsafeCell<AFD_POLL_INFO>,
}

// SAFETY: `IO_STATUS_BLOCK` and `AFD_POLL_INFO` are integers and one handle
// (a pointer, null when zeroed): all-zero is a valid, idle block.
unsafe impl Zeroed for IoBlock {}

/// What a completed poll said.
pub(crate) struct Completion {
    pub(crate) status: NTSTATUS,
    pub(crate) events: u32,
}

impl IoBlock {
    /// Submits a poll of `base` for the AFD events `mask` on this block,
    /// which must have no poll in flight. Pending or done at once, a
    /// completion is queued to the port the AFD handle is tied to.
    ///
    /// The block must not move or be freed until that completion has been
    /// dequeued (the IOCP body keeps its blocks in place until then).
    pub(crate) fn submit(&self, afd: HANDLE, base: usize, mask: u32) -> io::Result<()> {
        let iosb = self.iosb.get();
        let info = self.info.get();
        // SAFETY: the block has no poll in flight (the caller's contract),
        // so the kernel holds no pointer to it and these writes race with
        // nothing.
        unsafe {
            *info = AFD_POLL_INFO {
                Timeout: i64::MAX,
                NumberOfHandles: 1,
                Exclusive: 0,
                Handles: [AFD_POLL_HANDLE_INFO {
                    Handle: base as HANDLE,
                    Events: mask,
                    Status: 0,
                }],
            };
            (*iosb).Anonymous.Status = STATUS_PENDING;
        }
        let len = size_of::<AFD_POLL_INFO>() as u32;
        // SAFETY: `iosb` and `info` point into this block, which stays in
        // place until the completion is dequeued (the caller's contract);
        // the AFD handle is open. The completion carries `iosb` as its
        // overlapped pointer (ApcContext).
        let status = unsafe {
            NtDeviceIoControlFile(
                afd,
                ptr::null_mut(),
                None,
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
        Ok(())
    }

    /// Asks the kernel to cancel the poll in flight on this block. Not
    /// finding it (it completed already) is fine: its completion is queued
    /// either way.
    pub(crate) fn cancel(&self, afd: HANDLE) {
        let mut cancel_iosb = empty_iosb();
        // SAFETY: names the request by its IO_STATUS_BLOCK, which stays
        // valid while the request may be in flight; `cancel_iosb` is a live
        // local.
        unsafe { NtCancelIoFileEx(afd, self.iosb.get(), &mut cancel_iosb) };
    }

    /// What the poll on this block said, once its completion has been
    /// dequeued (the kernel is done with the block then).
    pub(crate) fn completion(&self) -> Completion {
        // SAFETY: the completion was dequeued, so the kernel no longer
        // writes the block; plain reads.
        let (status, info) = unsafe { ((*self.iosb.get()).Anonymous.Status, *self.info.get()) };
        let events = if info.NumberOfHandles >= 1 {
            info.Handles[0].Events
        } else {
            0
        };
        Completion { status, events }
    }

    /// Whether the poll in flight on this block has completed (not yet
    /// dequeued) reporting that its socket was closed. Like
    /// `HasOverlappedIoCompleted`, reads the status the kernel writes last,
    /// then the events.
    pub(crate) fn closed_locally(&self) -> bool {
        // SAFETY: the pointers are valid (the block is in place); volatile
        // reads of plain integers, as `HasOverlappedIoCompleted` does: the
        // status leaves STATUS_PENDING only once the kernel has written the
        // output, so the events read after it are final.
        unsafe {
            let status = ptr::read_volatile(ptr::addr_of!((*self.iosb.get()).Anonymous.Status));
            if status == STATUS_PENDING {
                return false;
            }
            core::sync::atomic::fence(Ordering::Acquire);
            let info = self.info.get();
            let count = ptr::read_volatile(ptr::addr_of!((*info).NumberOfHandles));
            let events = ptr::read_volatile(ptr::addr_of!((*info).Handles[0].Events));
            status >= 0 && count >= 1 && events & AFD_POLL_LOCAL_CLOSE != 0
        }
    }
}

const READ_BITS: u32 = AFD_POLL_RECEIVE | AFD_POLL_ACCEPT;
const WRITE_BITS: u32 = AFD_POLL_SEND | AFD_POLL_CONNECT;
const PRIORITY_BITS: u32 = AFD_POLL_RECEIVE_EXPEDITED;
pub(crate) const ERROR_BITS: u32 = AFD_POLL_ABORT | AFD_POLL_CONNECT_FAIL;

/// The AFD events a poll asks for to watch the readiness conditions
/// `conds` of a registration that reads (`reads`) or not: a local close
/// always, so a socket closed while registered is noticed; a peer's close
/// only for a registration that reads, as epoll asks for `EPOLLRDHUP` only
/// then.
pub(crate) fn poll_mask(conds: u8, reads: bool) -> u32 {
    let mut mask = AFD_POLL_LOCAL_CLOSE;
    if conds & READABLE != 0 {
        mask |= READ_BITS;
    }
    if conds & READ_CLOSED != 0 && reads {
        mask |= AFD_POLL_DISCONNECT;
    }
    if conds & WRITABLE != 0 {
        mask |= WRITE_BITS;
    }
    if conds & PRIORITY != 0 {
        mask |= PRIORITY_BITS;
    }
    if conds & (ERROR | WRITE_CLOSED) != 0 {
        mask |= ERROR_BITS;
    }
    mask
}

/// Translates AFD poll events into readiness conditions.
///
/// A failed connect (`AFD_POLL_CONNECT_FAIL`) is an error, writable (the
/// connect is over) and write-closed, and readable so that a reader meets
/// the error; it is not read-closed, which means "reads return the end or
/// an error from now on" and is final (to the table core and to tokio,
/// which then never waits for reads again). wine reports it on a UDP
/// socket after an ICMP "port unreachable" while `recv` still says
/// `WouldBlock`: as read-closed, that made tokio retry the read forever
/// without yielding.
pub(crate) fn readiness(events: u32) -> u8 {
    let mut bits = 0;
    if events & (READ_BITS | AFD_POLL_DISCONNECT | ERROR_BITS) != 0 {
        bits |= READABLE;
    }
    if events & (WRITE_BITS | ERROR_BITS) != 0 {
        bits |= WRITABLE;
    }
    if events & ERROR_BITS != 0 {
        bits |= ERROR | WRITE_CLOSED;
    }
    if events & (AFD_POLL_DISCONNECT | AFD_POLL_ABORT) != 0 {
        bits |= READ_CLOSED;
    }
    if events & PRIORITY_BITS != 0 {
        bits |= PRIORITY;
    }
    bits
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
        assert_eq!(
            readiness(AFD_POLL_ABORT),
            READABLE | WRITABLE | ERROR | READ_CLOSED | WRITE_CLOSED
        );
        // A failed connect does not end the read side (see `readiness`).
        assert_eq!(
            readiness(AFD_POLL_CONNECT_FAIL),
            READABLE | WRITABLE | ERROR | WRITE_CLOSED
        );
        assert_eq!(poll_mask(0, true), AFD_POLL_LOCAL_CLOSE);
        assert!(poll_mask(ERROR, true) & AFD_POLL_ABORT != 0);
        // Readable reported, the close still watched.
        assert_eq!(
            poll_mask(READ_CLOSED | ERROR, true),
            AFD_POLL_DISCONNECT | ERROR_BITS | AFD_POLL_LOCAL_CLOSE
        );
        assert_eq!(poll_mask(READ_CLOSED, false), AFD_POLL_LOCAL_CLOSE);
        assert_eq!(poll_mask(WRITABLE, false) & WRITE_BITS, WRITE_BITS);
        assert_eq!(size_of::<AFD_POLL_INFO>(), 32);
        let name: [u16; 4] = wide("\\Afd");
        assert_eq!(name, [92, 65, 102, 100]);
    }
}
