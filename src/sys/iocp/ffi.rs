//! The Windows API the IOCP backend, the named pipes and the sockets call:
//! windows-sys's declarations, gathered here, plus the socket driver's
//! (AFD) poll request, which no bindings crate declares.
//!
//! Why windows-sys: the named pipes brought a dozen more functions and
//! structures (pipes, files, overlapped I/O) to the backend's twenty;
//! Microsoft's own generated bindings get every signature and layout right
//! by construction, for every Windows target, where each hand-written one
//! was a chance of a silent ABI mistake. It costs about two seconds of
//! build with the features below (measured for x86_64-pc-windows-gnu).
//!
//! The AFD declarations are fixed by the public headers of the socket
//! driver's clients (`AFD_POLL_INFO`, `IOCTL_AFD_POLL`, the event bits);
//! they are `repr(C)` with the documented field order, for 64-bit and
//! 32-bit Windows.
//!
//! This file declares and never calls: the calls, with their `SAFETY`
//! comments, are in `mod.rs`, `afd.rs`, `pipe.rs` and `net/socket_windows.rs`.

#![allow(non_camel_case_types, non_snake_case, clippy::upper_case_acronyms)]

pub(crate) use windows_sys::core::BOOL;
pub(crate) use windows_sys::Wdk::Foundation::OBJECT_ATTRIBUTES;
pub(crate) use windows_sys::Wdk::Storage::FileSystem::{NtCancelIoFileEx, NtCreateFile, FILE_OPEN};
pub(crate) use windows_sys::Wdk::System::IO::NtDeviceIoControlFile;
pub(crate) use windows_sys::Win32::Foundation::{
    CloseHandle, GetLastError, RtlNtStatusToDosError, ERROR_BROKEN_PIPE, ERROR_BUSY,
    ERROR_IO_PENDING, ERROR_MORE_DATA, ERROR_NOT_FOUND, ERROR_NO_DATA, ERROR_PIPE_CONNECTED,
    ERROR_PIPE_LISTENING, HANDLE, INVALID_HANDLE_VALUE, NTSTATUS, STATUS_CANCELLED, STATUS_PENDING,
    UNICODE_STRING, WAIT_TIMEOUT,
};
pub(crate) use windows_sys::Win32::Networking::WinSock::{
    connect, ioctlsocket, WSAGetLastError, WSAIoctl, WSASocketW, WSAStartup, AF_INET, AF_INET6,
    FIONBIO, INVALID_SOCKET, IPPROTO_TCP, SIO_BASE_HANDLE, SOCKADDR_IN, SOCKADDR_IN6, SOCKET,
    SOCKET_ERROR, SOCK_STREAM, WSADATA, WSAEWOULDBLOCK, WSA_FLAG_NO_HANDLE_INHERIT,
    WSA_FLAG_OVERLAPPED,
};
pub(crate) use windows_sys::Win32::Storage::FileSystem::{
    GetFileType, ReadFile, WriteFile, FILE_FLAG_FIRST_PIPE_INSTANCE, FILE_FLAG_OVERLAPPED,
    FILE_SHARE_READ, FILE_SHARE_WRITE, FILE_TYPE_PIPE, PIPE_ACCESS_DUPLEX, SYNCHRONIZE,
};
pub(crate) use windows_sys::Win32::System::Pipes::{
    ConnectNamedPipe, CreateNamedPipeW, DisconnectNamedPipe, PIPE_TYPE_BYTE,
    PIPE_UNLIMITED_INSTANCES,
};
pub(crate) use windows_sys::Win32::System::Threading::INFINITE;
pub(crate) use windows_sys::Win32::System::IO::{
    CancelIoEx, CreateIoCompletionPort, GetQueuedCompletionStatusEx, PostQueuedCompletionStatus,
    IO_STATUS_BLOCK, OVERLAPPED, OVERLAPPED_ENTRY,
};

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

/// An `IO_STATUS_BLOCK` with nothing in it yet.
pub(crate) const fn empty_iosb() -> IO_STATUS_BLOCK {
    IO_STATUS_BLOCK {
        Anonymous: windows_sys::Win32::System::IO::IO_STATUS_BLOCK_0 { Status: 0 },
        Information: 0,
    }
}
