//! The Windows API the IOCP backend calls, declared by hand.
//!
//! Why not `windows-sys`: rouse's dependency rule allows only `libc`,
//! `wasi`, `heapless` and `cfg-if`, and the backend needs a dozen
//! functions, five structures and a few constants, all of them stable
//! Win32/NT ABI documented by Microsoft (kernel32, ntdll, ws2_32) or, for
//! AFD, fixed by the public headers of the socket driver's clients. Writing
//! them here costs about a hundred lines and no build time; every type is
//! `repr(C)` with the documented field order and sizes for 64-bit and
//! 32-bit Windows.
//!
//! This file declares and never calls: the calls, with their `SAFETY`
//! comments, are in `mod.rs` and `afd.rs`.

#![allow(non_camel_case_types, non_snake_case, clippy::upper_case_acronyms)]

use core::ffi::c_void;

pub(crate) type HANDLE = *mut c_void;
pub(crate) type BOOL = i32;
pub(crate) type NTSTATUS = i32;
pub(crate) type ULONG_PTR = usize;
pub(crate) type SOCKET = usize;

pub(crate) const INVALID_HANDLE_VALUE: HANDLE = -1isize as HANDLE;
pub(crate) const INFINITE: u32 = 0xFFFF_FFFF;
pub(crate) const WAIT_TIMEOUT: u32 = 258;

pub(crate) const STATUS_PENDING: NTSTATUS = 0x0000_0103;
pub(crate) const STATUS_CANCELLED: NTSTATUS = 0xC000_0120_u32 as i32;

pub(crate) const SYNCHRONIZE: u32 = 0x0010_0000;
pub(crate) const FILE_SHARE_READ: u32 = 1;
pub(crate) const FILE_SHARE_WRITE: u32 = 2;
pub(crate) const FILE_OPEN: u32 = 1;

/// `_WSAIOW(IOC_WS2, 34)`: the base service provider's socket handle.
pub(crate) const SIO_BASE_HANDLE: u32 = 0x4800_0022;
pub(crate) const SOCKET_ERROR: i32 = -1;

/// `IOCTL_AFD_POLL`: `FSCTL_AFD_BASE (0x12) << 12 | 9 << 2 | METHOD_BUFFERED`.
pub(crate) const IOCTL_AFD_POLL: u32 = 0x0001_2024;

/// AFD poll event bits.
pub(crate) const AFD_POLL_RECEIVE: u32 = 0x0001;
pub(crate) const AFD_POLL_RECEIVE_EXPEDITED: u32 = 0x0002;
pub(crate) const AFD_POLL_SEND: u32 = 0x0004;
pub(crate) const AFD_POLL_DISCONNECT: u32 = 0x0008;
pub(crate) const AFD_POLL_ABORT: u32 = 0x0010;
pub(crate) const AFD_POLL_LOCAL_CLOSE: u32 = 0x0020;
pub(crate) const AFD_POLL_CONNECT: u32 = 0x0040;
pub(crate) const AFD_POLL_ACCEPT: u32 = 0x0080;
pub(crate) const AFD_POLL_CONNECT_FAIL: u32 = 0x0100;

/// `IO_STATUS_BLOCK`: the union of `Status` and `Pointer` is pointer-sized.
#[repr(C)]
#[derive(Copy, Clone)]
pub(crate) struct IO_STATUS_BLOCK {
    pub(crate) Status: usize,
    pub(crate) Information: ULONG_PTR,
}

/// `AFD_POLL_HANDLE_INFO`.
#[repr(C)]
#[derive(Copy, Clone)]
pub(crate) struct AFD_POLL_HANDLE_INFO {
    pub(crate) Handle: HANDLE,
    pub(crate) Events: u32,
    pub(crate) Status: NTSTATUS,
}

/// `AFD_POLL_INFO` with room for one handle.
#[repr(C)]
#[derive(Copy, Clone)]
pub(crate) struct AFD_POLL_INFO {
    pub(crate) Timeout: i64,
    pub(crate) NumberOfHandles: u32,
    pub(crate) Exclusive: u32,
    pub(crate) Handles: [AFD_POLL_HANDLE_INFO; 1],
}

/// `OVERLAPPED_ENTRY`.
#[repr(C)]
#[derive(Copy, Clone)]
pub(crate) struct OVERLAPPED_ENTRY {
    pub(crate) lpCompletionKey: ULONG_PTR,
    pub(crate) lpOverlapped: *mut c_void,
    pub(crate) Internal: ULONG_PTR,
    pub(crate) dwNumberOfBytesTransferred: u32,
}

/// `UNICODE_STRING`: lengths in bytes.
#[repr(C)]
pub(crate) struct UNICODE_STRING {
    pub(crate) Length: u16,
    pub(crate) MaximumLength: u16,
    pub(crate) Buffer: *const u16,
}

/// `OBJECT_ATTRIBUTES`.
#[repr(C)]
pub(crate) struct OBJECT_ATTRIBUTES {
    pub(crate) Length: u32,
    pub(crate) RootDirectory: HANDLE,
    pub(crate) ObjectName: *const UNICODE_STRING,
    pub(crate) Attributes: u32,
    pub(crate) SecurityDescriptor: *mut c_void,
    pub(crate) SecurityQualityOfService: *mut c_void,
}

#[link(name = "kernel32")]
extern "system" {
    pub(crate) fn CreateIoCompletionPort(
        FileHandle: HANDLE,
        ExistingCompletionPort: HANDLE,
        CompletionKey: ULONG_PTR,
        NumberOfConcurrentThreads: u32,
    ) -> HANDLE;
    pub(crate) fn GetQueuedCompletionStatusEx(
        CompletionPort: HANDLE,
        lpCompletionPortEntries: *mut OVERLAPPED_ENTRY,
        ulCount: u32,
        ulNumEntriesRemoved: *mut u32,
        dwMilliseconds: u32,
        fAlertable: BOOL,
    ) -> BOOL;
    pub(crate) fn PostQueuedCompletionStatus(
        CompletionPort: HANDLE,
        dwNumberOfBytesTransferred: u32,
        dwCompletionKey: ULONG_PTR,
        lpOverlapped: *mut c_void,
    ) -> BOOL;
    pub(crate) fn CloseHandle(hObject: HANDLE) -> BOOL;
    pub(crate) fn GetLastError() -> u32;
}

#[link(name = "ntdll")]
extern "system" {
    pub(crate) fn NtCreateFile(
        FileHandle: *mut HANDLE,
        DesiredAccess: u32,
        ObjectAttributes: *const OBJECT_ATTRIBUTES,
        IoStatusBlock: *mut IO_STATUS_BLOCK,
        AllocationSize: *const i64,
        FileAttributes: u32,
        ShareAccess: u32,
        CreateDisposition: u32,
        CreateOptions: u32,
        EaBuffer: *mut c_void,
        EaLength: u32,
    ) -> NTSTATUS;
    pub(crate) fn NtDeviceIoControlFile(
        FileHandle: HANDLE,
        Event: HANDLE,
        ApcRoutine: *mut c_void,
        ApcContext: *mut c_void,
        IoStatusBlock: *mut IO_STATUS_BLOCK,
        IoControlCode: u32,
        InputBuffer: *mut c_void,
        InputBufferLength: u32,
        OutputBuffer: *mut c_void,
        OutputBufferLength: u32,
    ) -> NTSTATUS;
    pub(crate) fn NtCancelIoFileEx(
        FileHandle: HANDLE,
        IoRequestToCancel: *mut IO_STATUS_BLOCK,
        IoStatusBlock: *mut IO_STATUS_BLOCK,
    ) -> NTSTATUS;
    pub(crate) fn RtlNtStatusToDosError(Status: NTSTATUS) -> u32;
}

#[link(name = "ws2_32")]
extern "system" {
    pub(crate) fn WSAIoctl(
        s: SOCKET,
        dwIoControlCode: u32,
        lpvInBuffer: *mut c_void,
        cbInBuffer: u32,
        lpvOutBuffer: *mut c_void,
        cbOutBuffer: u32,
        lpcbBytesReturned: *mut u32,
        lpOverlapped: *mut c_void,
        lpCompletionRoutine: *mut c_void,
    ) -> i32;
    pub(crate) fn WSAGetLastError() -> i32;
}

// What the net types need that std does not offer on Windows: a socket
// whose connect does not wait.

pub(crate) const AF_INET: i32 = 2;
pub(crate) const AF_INET6: i32 = 23;
pub(crate) const SOCK_STREAM: i32 = 1;
pub(crate) const IPPROTO_TCP: i32 = 6;
pub(crate) const INVALID_SOCKET: SOCKET = !0;
pub(crate) const WSA_FLAG_OVERLAPPED: u32 = 0x01;
pub(crate) const WSA_FLAG_NO_HANDLE_INHERIT: u32 = 0x80;
/// `_IOW('f', 126, u_long)`.
pub(crate) const FIONBIO: i32 = 0x8004_667E_u32 as i32;
pub(crate) const WSAEWOULDBLOCK: i32 = 10035;

/// `SOCKADDR_IN`; the port and address in network byte order.
#[repr(C)]
pub(crate) struct SOCKADDR_IN {
    pub(crate) sin_family: u16,
    pub(crate) sin_port: u16,
    pub(crate) sin_addr: [u8; 4],
    pub(crate) sin_zero: [u8; 8],
}

/// `SOCKADDR_IN6`.
#[repr(C)]
pub(crate) struct SOCKADDR_IN6 {
    pub(crate) sin6_family: u16,
    pub(crate) sin6_port: u16,
    pub(crate) sin6_flowinfo: u32,
    pub(crate) sin6_addr: [u8; 16],
    pub(crate) sin6_scope_id: u32,
}

#[link(name = "ws2_32")]
extern "system" {
    pub(crate) fn WSAStartup(wVersionRequested: u16, lpWSAData: *mut c_void) -> i32;
    pub(crate) fn WSASocketW(
        af: i32,
        ty: i32,
        protocol: i32,
        lpProtocolInfo: *mut c_void,
        g: u32,
        dwFlags: u32,
    ) -> SOCKET;
    pub(crate) fn ioctlsocket(s: SOCKET, cmd: i32, argp: *mut u32) -> i32;
    pub(crate) fn connect(s: SOCKET, name: *const c_void, namelen: i32) -> i32;
}
