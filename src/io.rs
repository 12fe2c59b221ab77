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

/// The kind of error a full fixed-capacity table gives (a poll(2), WASI or
/// IOCP registry at capacity, a full reactor).
///
/// `ErrorKind::StorageFull` wherever it exists: always without `std`, and
/// with `std` on Rust 1.83 and later. std's `StorageFull` is not stable on
/// older compilers, so there it is `ErrorKind::OutOfMemory`, the closest
/// stable kind. Match on this constant to be right on every compiler:
///
/// ```
/// # #[cfg(all(feature = "poll", feature = "std", unix))] {
/// use rouse::sys::{PollSelector, Selector};
/// use rouse::unix::SourceFd;
/// use rouse::{Interest, Poll, Token};
/// use std::os::fd::AsRawFd;
///
/// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
/// // A table with room for no registration at all.
/// let poll = Poll::with_selector(PollSelector::<0>::new()?);
/// let err = poll
///     .registry()
///     .register(&mut SourceFd(&a.as_raw_fd()), Token(0), Interest::READABLE)
///     .unwrap_err();
/// assert_eq!(err.kind(), rouse::io::TABLE_FULL);
/// # }
/// # Ok::<(), rouse::io::Error>(())
/// ```
#[cfg(any(not(feature = "std"), rouse_storage_full))]
// With std this is compiled only where build.rs found Rust 1.83 or later.
#[allow(clippy::incompatible_msrv)]
pub const TABLE_FULL: ErrorKind = ErrorKind::StorageFull;
/// The kind of error a full fixed-capacity table gives: `OutOfMemory`
/// here, because this compiler's std has no stable `StorageFull` (Rust
/// 1.83 and later use `StorageFull`). Match on this constant to be right on
/// every compiler.
#[cfg(all(feature = "std", not(rouse_storage_full)))]
pub const TABLE_FULL: ErrorKind = ErrorKind::OutOfMemory;

#[cfg(not(feature = "std"))]
mod nostd {
    use core::fmt::{self, Write as _};

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
        /// A fixed-capacity table is full, or the OS has no room left
        /// (`ENOSPC`: epoll's `max_user_watches`, for one).
        StorageFull,
        /// The OS ran out of memory (`ENOMEM`). Out of descriptors
        /// (`EMFILE`, `ENFILE`) is `Other`: std has no stable kind for it
        /// either; `raw_os_error()` tells them apart.
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
                kind: errno_kind(code),
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

    // Written with `write_str` only, no `write!`: a program that prints an
    // error then needs none of `core::fmt`'s padding and integer code
    // (about 3 KiB in a small no-std binary).
    impl fmt::Display for Error {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let mut digits = [0; 20];
            match (self.code, self.value) {
                (Some(code), _) => {
                    fmt::Debug::fmt(&self.kind, f)?;
                    f.write_str(" (os error ")?;
                    write_ascii(f, super::decimal(i64::from(code), &mut digits))?;
                    f.write_str(")")
                }
                (None, Some(value)) => {
                    f.write_str(self.msg)?;
                    f.write_str(": ")?;
                    write_ascii(f, super::decimal(value, &mut digits))
                }
                (None, None) => f.write_str(self.msg),
            }
        }
    }

    // `core::error::Error` is stable from Rust 1.81 (see build.rs).
    #[cfg(rouse_core_error)]
    impl core::error::Error for Error {}

    /// The portable kind of an OS error code: the mapping std uses for the
    /// codes rouse can meet. A code std leaves uncategorised (`EMFILE`,
    /// `ENFILE`: out of descriptors) is `Other`. wasi-libc's codes (WASI
    /// 0.2) have the same names.
    #[cfg(any(unix, rouse_wasip2))]
    fn errno_kind(code: i32) -> ErrorKind {
        use ErrorKind as K;
        match code {
            libc::ENOENT => K::NotFound,
            libc::EEXIST => K::AlreadyExists,
            libc::EPERM | libc::EACCES => K::PermissionDenied,
            libc::EINTR => K::Interrupted,
            libc::EINVAL => K::InvalidInput,
            libc::ENOSYS | libc::EOPNOTSUPP => K::Unsupported,
            libc::ENOMEM => K::OutOfMemory,
            libc::ENOSPC => K::StorageFull,
            c if c == libc::EAGAIN || c == libc::EWOULDBLOCK => K::WouldBlock,
            _ => K::Other,
        }
    }

    /// The portable kind of a WASI `errno` value, as [`errno_kind`] on Unix.
    #[cfg(rouse_wasi)]
    fn errno_kind(code: i32) -> ErrorKind {
        use ErrorKind as K;
        let is = |e: ::wasi::Errno| code == i32::from(e.raw());
        if is(::wasi::ERRNO_NOENT) {
            K::NotFound
        } else if is(::wasi::ERRNO_EXIST) {
            K::AlreadyExists
        } else if is(::wasi::ERRNO_PERM) || is(::wasi::ERRNO_ACCES) {
            K::PermissionDenied
        } else if is(::wasi::ERRNO_INTR) {
            K::Interrupted
        } else if is(::wasi::ERRNO_INVAL) {
            K::InvalidInput
        } else if is(::wasi::ERRNO_NOSYS) || is(::wasi::ERRNO_NOTSUP) {
            K::Unsupported
        } else if is(::wasi::ERRNO_NOMEM) {
            K::OutOfMemory
        } else if is(::wasi::ERRNO_AGAIN) {
            K::WouldBlock
        } else {
            K::Other
        }
    }

    /// Elsewhere (bare metal) there are no OS error codes to classify.
    #[cfg(not(any(unix, rouse_wasi, rouse_wasip2)))]
    fn errno_kind(_code: i32) -> ErrorKind {
        ErrorKind::Other
    }

    /// Writes ASCII bytes (the digits of a number) one `char` at a time.
    fn write_ascii(f: &mut fmt::Formatter<'_>, ascii: &[u8]) -> fmt::Result {
        ascii.iter().try_for_each(|&b| f.write_char(char::from(b)))
    }
}

/// An error made by rouse itself: `msg` names what failed, `value` the
/// number involved (a capacity, an fd). Allocates only with `std`, and only
/// here, on the error path.
#[cold]
pub(crate) fn error(kind: ErrorKind, msg: &'static str, value: Option<i64>) -> Error {
    #[cfg(feature = "std")]
    {
        // Built by hand rather than with `format!`, which would link the
        // formatting machinery into every program for this one message.
        match value {
            Some(v) => {
                // "msg: value" in a buffer on the stack, then the same
                // `Error::new(kind, &str)` as the message without a value
                // (every rouse message fits; one that did not would lose
                // its value, never its text).
                let mut digits = [0; 20];
                let mut text = [0u8; 160];
                let mut len = 0;
                // Three copies (memcpy), not a loop over chained byte
                // iterators, which is several times the code.
                for part in [msg.as_bytes(), b": ", decimal(v, &mut digits)] {
                    let Some(slot) = text.get_mut(len..len + part.len()) else {
                        return Error::new(kind, msg);
                    };
                    slot.copy_from_slice(part);
                    len += part.len();
                }
                let text = text.get(..len).unwrap_or_default();
                Error::new(kind, core::str::from_utf8(text).unwrap_or(msg))
            }
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
// Unused on bare metal (no OS), and with std on the Unix backends, whose
// errno errors are std's own (`last_os_error`).
#[cfg_attr(any(target_os = "none", feature = "std"), allow(dead_code))]
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

/// `value` in decimal ASCII digits (with a `-` if negative), written into
/// the end of `buf` (20 bytes hold `i64::MIN`). Error messages use it
/// instead of `core::fmt`'s integer formatting, which is much larger.
fn decimal(value: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = value.unsigned_abs();
    let mut start = buf.len();
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        start -= 1;
        if n == 0 {
            break;
        }
    }
    if value < 0 {
        if let Some(slot) = start.checked_sub(1).and_then(|i| buf.get_mut(i)) {
            *slot = b'-';
            start -= 1;
        }
    }
    buf.get(start..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimal_matches_display() {
        for v in [0, 7, -7, 10, 64, -100, 1 << 40, i64::MAX, i64::MIN] {
            let mut buf = [0; 20];
            assert_eq!(decimal(v, &mut buf), std::format!("{v}").as_bytes());
        }
    }

    #[test]
    fn messages_name_the_value() {
        let e = super::error(super::TABLE_FULL, "registry full: capacity", Some(64));
        assert_eq!(e.kind(), super::TABLE_FULL);
        assert_eq!(std::format!("{e}"), "registry full: capacity: 64");
        let e = super::error(super::ErrorKind::NotFound, "fd is not registered", Some(-1));
        assert_eq!(std::format!("{e}"), "fd is not registered: -1");
        let e = super::os_error(9);
        assert!(std::format!("{e}").contains("os error 9"), "{e}");
    }

    /// Out of descriptors is `Other` (std has no stable kind for it), not
    /// out of memory.
    #[cfg(all(unix, not(feature = "std")))]
    #[test]
    fn emfile_is_not_out_of_memory() {
        let e = super::os_error(libc::EMFILE);
        assert_eq!(e.kind(), super::ErrorKind::Other);
        assert_eq!(
            super::os_error(libc::ENOMEM).kind(),
            super::ErrorKind::OutOfMemory
        );
    }

    /// Every errno up to 255 has std's kind where rouse's `ErrorKind` (a
    /// subset of std's) has that kind, and `Other` where it does not
    /// (std's own `Uncategorized` included). `EOPNOTSUPP` is left out:
    /// std calls it `Unsupported` (as rouse does) only since after 1.87.
    #[cfg(all(unix, not(feature = "std")))]
    #[test]
    fn errno_kinds_are_std_s() {
        let subset = [
            "NotFound",
            "PermissionDenied",
            "AlreadyExists",
            "WouldBlock",
            "InvalidInput",
            "Interrupted",
            "Unsupported",
            "StorageFull",
            "OutOfMemory",
        ];
        for code in (1..256).filter(|&c| c != libc::EOPNOTSUPP) {
            let std_kind = std::format!("{:?}", std::io::Error::from_raw_os_error(code).kind());
            let ours = std::format!("{:?}", super::os_error(code).kind());
            if subset.contains(&std_kind.as_str()) {
                assert_eq!(ours, std_kind, "errno {code}");
            } else {
                assert_eq!(ours, "Other", "errno {code}: std says {std_kind}");
            }
        }
        assert_eq!(
            super::os_error(libc::EOPNOTSUPP).kind(),
            super::ErrorKind::Unsupported
        );
    }

    #[test]
    fn a_message_too_long_for_its_value_keeps_its_text() {
        // A 'static message longer than the buffer (no leaked allocation:
        // Miri and LeakSanitizer run this test).
        const LONG: &str = match core::str::from_utf8(&[b'x'; 150]) {
            Ok(s) => s,
            Err(_) => panic!("ASCII is UTF-8"),
        };
        let e = super::error(super::ErrorKind::Other, LONG, Some(i64::MIN));
        let text = std::format!("{e}");
        assert!(text.starts_with(LONG), "{text}");
    }
}
