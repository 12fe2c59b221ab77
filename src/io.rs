//! Error and result types: `std::io`'s with the `std` feature, a small
//! allocation-free equivalent without it.
//!
//! Every error rouse makes itself says what failed and, where there is one,
//! the number involved (`registry full: capacity 64`,
//! `fd already registered: 7`). It never allocates on the success path; with
//! `std` an error message is formatted into a `String` only when the error
//! happens.

#[cfg(feature = "std")]
pub use std::io::{Error, ErrorKind, Result};

#[cfg(not(feature = "std"))]
pub use self::nostd::{Error, ErrorKind, Result};

#[cfg(not(feature = "std"))]
mod nostd {
    use core::fmt;

    /// The kind of an [`Error`], a subset of `std::io::ErrorKind` with the
    /// same names.
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum ErrorKind {
        /// The source, token or fd is not registered.
        NotFound,
        /// Permission denied by the OS.
        PermissionDenied,
        /// The source or fd is registered already.
        AlreadyExists,
        /// The operation would block.
        WouldBlock,
        /// An argument is not acceptable (reserved token, bad fd, zero capacity).
        InvalidInput,
        /// The call was interrupted by a signal (`EINTR`).
        Interrupted,
        /// The backend or target cannot do this.
        Unsupported,
        /// A fixed-capacity table is full.
        StorageFull,
        /// The OS ran out of memory or descriptors.
        OutOfMemory,
        /// Any other OS error.
        Other,
    }

    /// An I/O error without `std`: an OS error code or a static message,
    /// never an allocation.
    #[derive(Copy, Clone, PartialEq, Eq)]
    pub struct Error {
        kind: ErrorKind,
        code: Option<i32>,
        msg: &'static str,
        value: Option<i64>,
    }

    /// `core::result::Result` with [`Error`].
    pub type Result<T> = core::result::Result<T, Error>;

    impl Error {
        /// An error for the OS error code `code` (an `errno` value).
        pub fn from_raw_os_error(code: i32) -> Error {
            Error {
                kind: crate::sys::errno_kind(code),
                code: Some(code),
                msg: "",
                value: None,
            }
        }

        /// An error of `kind` with a static description.
        pub const fn new(kind: ErrorKind, msg: &'static str) -> Error {
            Error {
                kind,
                code: None,
                msg,
                value: None,
            }
        }

        pub(crate) const fn with_value(kind: ErrorKind, msg: &'static str, value: i64) -> Error {
            Error {
                kind,
                code: None,
                msg,
                value: Some(value),
            }
        }

        /// The kind of error.
        pub fn kind(&self) -> ErrorKind {
            self.kind
        }

        /// The OS error code, if this error came from the OS.
        pub fn raw_os_error(&self) -> Option<i32> {
            self.code
        }
    }

    impl fmt::Debug for Error {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Display::fmt(self, f)
        }
    }

    impl fmt::Display for Error {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match (self.code, self.value) {
                (Some(code), _) => write!(f, "{:?} (os error {code})", self.kind),
                (None, Some(value)) => write!(f, "{}: {value}", self.msg),
                (None, None) => f.write_str(self.msg),
            }
        }
    }

    impl core::error::Error for Error {}
}

/// An error made by rouse itself: `msg` names what failed, `value` the
/// number involved (a capacity, an fd). Allocates only with `std`, and only
/// here, on the error path.
#[cold]
pub(crate) fn error(kind: ErrorKind, msg: &'static str, value: Option<i64>) -> Error {
    #[cfg(feature = "std")]
    {
        match value {
            Some(v) => Error::new(kind, std::format!("{msg}: {v}")),
            None => Error::new(kind, msg),
        }
    }
    #[cfg(not(feature = "std"))]
    {
        match value {
            Some(v) => Error::with_value(kind, msg, v),
            None => Error::new(kind, msg),
        }
    }
}

/// The error for the OS error code `code`.
#[cold]
#[cfg_attr(target_os = "none", allow(dead_code))] // no OS, no OS errors
pub(crate) fn os_error(code: i32) -> Error {
    Error::from_raw_os_error(code)
}

/// `InvalidInput` for the reserved token, shared by every registration path.
#[cold]
pub(crate) fn reserved_token() -> Error {
    error(
        ErrorKind::InvalidInput,
        "token is reserved by rouse (Token::RESERVED, usize::MAX)",
        None,
    )
}
