//! The half of the kqueue backend that never calls the OS: a portable
//! mirror of `struct kevent`, each platform's constants and record layout,
//! the change lists `register`/`reregister`/`deregister` submit, how their
//! `EV_RECEIPT` replies are judged, and how a returned record reads as
//! readiness.
//!
//! Everything here is plain integers and `const` tables, so it compiles and
//! is unit-tested on every host (Linux included, where `libc::kevent` does
//! not exist); the selector converts to and from the native record at the
//! syscall. It must never allocate, and never depend on the target.

use core::time::Duration;

use crate::{Interest, Token};

/// `ENOENT` and `EPIPE` have the same values on every kqueue platform (and
/// on Linux), so the receipt rules below can use them on any host.
const ENOENT: i64 = 2;
const EPIPE: i64 = 32;

/// A `struct kevent` in portable form: every field widened to a type that
/// holds each platform's values (NetBSD's `u32` filter and flags, the others'
/// `i16`/`u16`; `intptr_t` or `int64_t` data; a pointer or `intptr_t` udata).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Kevent {
    /// The fd (or, for `EVFILT_USER`, a number of our choosing).
    pub ident: usize,
    /// `EVFILT_*`.
    pub filter: i32,
    /// `EV_*`.
    pub flags: u32,
    /// `NOTE_*` on input; on output filter-specific (the socket error with `EV_EOF`).
    pub fflags: u32,
    /// Filter data on output (bytes readable, space writable); the errno of
    /// an `EV_ERROR` receipt.
    pub data: i64,
    /// Our token, carried through the kernel unchanged.
    pub udata: usize,
}

/// How wide the `data` field of a platform's `struct kevent` is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum DataField {
    /// `intptr_t` (macOS, FreeBSD 11, DragonFly).
    Pointer,
    /// `int64_t` (FreeBSD 12+, NetBSD, OpenBSD).
    I64,
}

/// One platform's `struct kevent` layout: `ident` is `uintptr_t` and
/// `udata` pointer-sized everywhere, `fflags` is 32 bits everywhere; the
/// rest differs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Bytes of `filter` and of `flags`: 2 (`short`/`u_short`), or 4 on NetBSD.
    pub filter_flags_bytes: usize,
    /// The `data` field's width.
    pub data: DataField,
    /// `uint64_t ext[4]` after `udata` (FreeBSD 12+), or none.
    pub ext_words: usize,
}

impl Layout {
    /// `size_of::<struct kevent>()` for a target with `ptr`-byte pointers
    /// whose `int64_t` is aligned to `i64_align` bytes (C layout rules).
    pub const fn size(&self, ptr: usize, i64_align: usize) -> usize {
        const fn align(at: usize, to: usize) -> usize {
            at.div_ceil(to) * to
        }
        let (data_size, data_align) = match self.data {
            DataField::Pointer => (ptr, ptr),
            DataField::I64 => (8, i64_align),
        };
        let ext_align = if self.ext_words > 0 { i64_align } else { 1 };
        let mut at = ptr; // ident
        at += 2 * self.filter_flags_bytes; // filter, flags
        at = align(at, 4) + 4; // fflags
        at = align(at, data_align) + data_size;
        at = align(at, ptr) + ptr; // udata
        at = align(at, ext_align) + 8 * self.ext_words;
        let mut max_align = ptr;
        if data_align > max_align {
            max_align = data_align;
        }
        if ext_align > max_align {
            max_align = ext_align;
        }
        align(at, max_align)
    }
}

/// One platform's kqueue constants, widened like [`Kevent`]'s fields.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Abi {
    /// The platform, for messages.
    pub name: &'static str,
    /// `EVFILT_READ`.
    pub read: i32,
    /// `EVFILT_WRITE`.
    pub write: i32,
    /// `EVFILT_USER`, where rouse's waker uses it (`None`: a pipe instead).
    pub user: Option<i32>,
    /// `EVFILT_AIO`, where mio reports it (`Event::is_aio`); else `None`.
    pub aio: Option<i32>,
    /// `EVFILT_LIO`, where mio reports it (`Event::is_lio`: FreeBSD only).
    pub lio: Option<i32>,
    /// `EV_ADD`.
    pub add: u32,
    /// `EV_DELETE`.
    pub delete: u32,
    /// `EV_ENABLE` (used without `EV_ADD` as an existence probe: it fails
    /// with `ENOENT` for a filter that was never added, and does nothing to
    /// an enabled one).
    pub enable: u32,
    /// `EV_CLEAR`: report state changes only (the edge-triggered contract).
    pub clear: u32,
    /// `EV_RECEIPT`: every change returns its own record, errors or not.
    pub receipt: u32,
    /// `EV_ERROR`.
    pub error: u32,
    /// `EV_EOF`.
    pub eof: u32,
    /// `EV_OOBAND` (Apple: out-of-band data on a read filter), else 0.
    pub ooband: u32,
    /// `NOTE_TRIGGER`.
    pub trigger: u32,
    /// The record layout libc declares.
    pub layout: Layout,
}

/// The flag values that are the same on every kqueue platform (they all
/// descend from FreeBSD's `sys/event.h`); only their C type differs.
const BASE: Abi = Abi {
    name: "",
    read: -1,
    write: -2,
    user: None,
    aio: None,
    lio: None,
    add: 0x1,
    delete: 0x2,
    enable: 0x4,
    clear: 0x20,
    receipt: 0x40,
    error: 0x4000,
    eof: 0x8000,
    ooband: 0,
    trigger: 0x0100_0000,
    layout: Layout {
        filter_flags_bytes: 2,
        data: DataField::Pointer,
        ext_words: 0,
    },
};

/// macOS and iOS (`sys/event.h` of xnu): `EVFILT_USER` is -10,
/// `EVFILT_AIO` -3, and `EV_OOBAND` marks out-of-band data.
// Used on its own platform, and by the tests everywhere.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const APPLE: Abi = Abi {
    name: "macos/ios",
    user: Some(-10),
    aio: Some(-3),
    ooband: 0x2000,
    ..BASE
};

/// FreeBSD 12 and later: `EVFILT_USER` is -11, `EVFILT_AIO` -3 and
/// `EVFILT_LIO` -10; `data` is `int64_t` and four `ext` words follow
/// `udata` (the ABI libc uses by default).
// Used on its own platform, and by the tests everywhere.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const FREEBSD: Abi = Abi {
    name: "freebsd",
    user: Some(-11),
    aio: Some(-3),
    lio: Some(-10),
    layout: Layout {
        filter_flags_bytes: 2,
        data: DataField::I64,
        ext_words: 4,
    },
    ..BASE
};

/// FreeBSD 11's record (`kevent@FBSD_1.0`): `intptr_t` data, no `ext`.
/// Constants as [`FREEBSD`]; libc builds for this ABI only when asked to.
pub(crate) const FREEBSD11: Abi = Abi {
    name: "freebsd11",
    layout: BASE.layout,
    ..FREEBSD
};

/// DragonFly: `EVFILT_USER` is -9, `EVFILT_AIO` -3 (no `EVFILT_LIO`);
/// the original layout.
// Used on its own platform, and by the tests everywhere.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const DRAGONFLY: Abi = Abi {
    name: "dragonfly",
    user: Some(-9),
    aio: Some(-3),
    ..BASE
};

/// NetBSD: filters are small *unsigned* numbers (`EVFILT_READ` 0,
/// `EVFILT_WRITE` 1), `filter` and `flags` are `uint32_t`, `data` is
/// `int64_t`. `EVFILT_USER` (8) exists only from NetBSD 10, so the waker is
/// a pipe. NetBSD has an `EVFILT_AIO` (2), but mio reports AIO events on
/// neither NetBSD nor OpenBSD, and neither does rouse.
// Used on its own platform, and by the tests everywhere.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const NETBSD: Abi = Abi {
    name: "netbsd",
    read: 0,
    write: 1,
    user: None,
    layout: Layout {
        filter_flags_bytes: 4,
        data: DataField::I64,
        ext_words: 0,
    },
    ..BASE
};

/// OpenBSD: FreeBSD's filter numbers with `int64_t` data. `EVFILT_USER`
/// is recent on OpenBSD, so the waker is a pipe.
// Used on its own platform, and by the tests everywhere.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const OPENBSD: Abi = Abi {
    name: "openbsd",
    user: None,
    layout: Layout {
        filter_flags_bytes: 2,
        data: DataField::I64,
        ext_words: 0,
    },
    ..BASE
};

/// Every platform's table, for tests (and fuzz targets) that must hold on each.
#[cfg(any(test, fuzzing))]
pub(crate) const ALL: [Abi; 6] = [APPLE, FREEBSD, FREEBSD11, DRAGONFLY, NETBSD, OPENBSD];

cfg_if::cfg_if! {
    if #[cfg(any(target_os = "macos", target_os = "ios"))] {
        /// The table of the platform being compiled for.
        pub(crate) const NATIVE: Abi = APPLE;
    } else if #[cfg(target_os = "freebsd")] {
        /// The table of the platform being compiled for.
        pub(crate) const NATIVE: Abi = FREEBSD;
    } else if #[cfg(target_os = "dragonfly")] {
        /// The table of the platform being compiled for.
        pub(crate) const NATIVE: Abi = DRAGONFLY;
    } else if #[cfg(target_os = "netbsd")] {
        /// The table of the platform being compiled for.
        pub(crate) const NATIVE: Abi = NETBSD;
    } else if #[cfg(target_os = "openbsd")] {
        /// The table of the platform being compiled for.
        pub(crate) const NATIVE: Abi = OPENBSD;
    }
}

/// At most four changes go to the kernel in one call.
pub(crate) const MAX_CHANGES: usize = 4;

/// A change list built on the stack (no allocation).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Changes {
    buf: [Kevent; MAX_CHANGES],
    len: usize,
}

impl Changes {
    const fn new() -> Changes {
        Changes {
            buf: [Kevent {
                ident: 0,
                filter: 0,
                flags: 0,
                fflags: 0,
                data: 0,
                udata: 0,
            }; MAX_CHANGES],
            len: 0,
        }
    }

    fn push(&mut self, ident: usize, filter: i32, flags: u32, token: Token) {
        // Every builder below pushes at most MAX_CHANGES; a longer list would
        // be a bug here, and dropping the change is not an option, so the
        // index panics rather than writing past the list.
        self.buf[self.len] = Kevent {
            ident,
            filter,
            flags,
            fflags: 0,
            data: 0,
            udata: token.0,
        };
        self.len += 1;
    }

    /// The changes, in the order the kernel applies them.
    pub(crate) fn as_slice(&self) -> &[Kevent] {
        &self.buf[..self.len]
    }
}

/// The two filters a source can have, in the order changes list them.
///
/// AIO and LIO interests add none: an AIO request names the kqueue itself
/// (its `sigevent` carries the kqueue fd, from `Registry::as_raw_fd`, and
/// the token), and the kernel reports its completion as an `EVFILT_AIO` or
/// `EVFILT_LIO` record, as with mio.
fn filters(abi: &Abi, interests: Interest) -> [(i32, bool); 2] {
    [
        (abi.read, interests.is_readable()),
        (abi.write, interests.is_writable()),
    ]
}

/// An existence probe of both filters of `fd`: `EV_ENABLE` without
/// `EV_ADD` succeeds for a filter that is registered (rouse never disables
/// one) and fails with `ENOENT` otherwise. It carries `token` because it is
/// not read-only: FreeBSD and macOS set a registered filter's `udata` from
/// any change that is not a delete, this one included.
pub(crate) fn probe(abi: &Abi, fd: usize, token: Token) -> Changes {
    let mut c = Changes::new();
    for filter in [abi.read, abi.write] {
        c.push(fd, filter, abi.enable | abi.receipt, token);
    }
    c
}

/// The changes that register `fd`, submitted in one `kevent` call: the
/// [`probe`] of both filters, whose two replies tell whether `fd` was
/// registered already, then one `EV_ADD | EV_CLEAR` per wanted filter.
///
/// kqueue applies every change of a list whatever the earlier ones
/// returned, and no change fails because a filter exists (`EV_ADD` of an
/// existing filter modifies it), so a second registration is found out
/// after its adds were applied: [`registered`] reports it, and
/// [`undo_register`] gives the changes that put back the filters `fd` had.
pub(crate) fn register(abi: &Abi, fd: usize, token: Token, interests: Interest) -> Changes {
    let mut c = probe(abi, fd, token);
    for (filter, wanted) in filters(abi, interests) {
        if wanted {
            c.push(fd, filter, abi.add | abi.clear | abi.receipt, token);
        }
    }
    c
}

/// The changes that reregister `fd`: the [`probe`] (two records, which tell
/// whether `fd` was registered at all), then for each filter an `EV_ADD`
/// if wanted (replacing the token and re-arming it) or an `EV_DELETE` if not.
pub(crate) fn reregister(abi: &Abi, fd: usize, token: Token, interests: Interest) -> Changes {
    let mut c = probe(abi, fd, token);
    for (filter, wanted) in filters(abi, interests) {
        let flags = if wanted {
            abi.add | abi.clear
        } else {
            abi.delete
        };
        c.push(fd, filter, flags | abi.receipt, token);
    }
    c
}

/// The changes that deregister `fd`: `EV_DELETE` of both filters.
pub(crate) fn deregister(abi: &Abi, fd: usize) -> Changes {
    let mut c = Changes::new();
    for filter in [abi.read, abi.write] {
        c.push(fd, filter, abi.delete | abi.receipt, Token(0));
    }
    c
}

/// The change that adds the user event `ident` of a waker reported with
/// `token` (`EV_CLEAR`: each trigger is reported once).
#[cfg_attr(any(target_os = "netbsd", target_os = "openbsd"), allow(dead_code))]
pub(crate) fn add_user(abi: &Abi, user: i32, ident: usize, token: Token) -> Changes {
    let mut c = Changes::new();
    c.push(ident, user, abi.add | abi.clear | abi.receipt, token);
    c
}

/// The change that triggers the user event `ident` (no receipt: the
/// caller passes no event list, so an error comes back as `-1`/`errno`).
#[cfg_attr(any(target_os = "netbsd", target_os = "openbsd"), allow(dead_code))]
pub(crate) fn trigger_user(abi: &Abi, user: i32, ident: usize) -> Kevent {
    Kevent {
        ident,
        filter: user,
        flags: 0,
        fflags: abi.trigger,
        data: 0,
        udata: 0,
    }
}

/// The change that removes the user event `ident`.
#[cfg_attr(any(target_os = "netbsd", target_os = "openbsd"), allow(dead_code))]
pub(crate) fn delete_user(abi: &Abi, user: i32, ident: usize) -> Kevent {
    Kevent {
        ident,
        filter: user,
        flags: abi.delete,
        fflags: 0,
        data: 0,
        udata: 0,
    }
}

/// A change's outcome read from its `EV_RECEIPT` record: `Ok` for a record
/// with `EV_ERROR` and `data == 0` (or, defensively, without `EV_ERROR`),
/// else the errno in `data`.
pub(crate) fn receipt(abi: &Abi, reply: &Kevent) -> Result<(), i64> {
    if reply.flags & abi.error != 0 && reply.data != 0 {
        Err(reply.data)
    } else {
        Ok(())
    }
}

/// Why a change list failed, for the selector to turn into an `io::Error`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// `register` of an fd that has a filter in this kqueue already.
    AlreadyExists,
    /// `reregister`/`deregister` of an fd that has no filter in this kqueue.
    NotFound,
    /// The kernel refused a change with this errno.
    Os(i64),
}

/// Judges the replies to [`probe`]: `Ok(true)` if `fd` has either filter,
/// `Ok(false)` if neither (`ENOENT` twice), the errno otherwise (`EBADF`
/// for a closed fd).
pub(crate) fn probed(abi: &Abi, replies: &[Kevent]) -> Result<bool, Failure> {
    let mut registered = false;
    for reply in replies {
        match receipt(abi, reply) {
            Ok(()) => registered = true,
            Err(ENOENT) => {}
            Err(errno) => return Err(Failure::Os(errno)),
        }
    }
    Ok(registered)
}

/// Judges the replies to a list of adds (the waker's user event, and the
/// adds of [`register`]). `EPIPE` is not an error: macOS refuses
/// `EVFILT_WRITE` on a pipe whose reader is gone, yet the read side
/// registered and the write side is simply closed.
pub(crate) fn added(abi: &Abi, replies: &[Kevent]) -> Result<(), Failure> {
    for reply in replies {
        match receipt(abi, reply) {
            Ok(()) | Err(EPIPE) => {}
            Err(errno) => return Err(Failure::Os(errno)),
        }
    }
    Ok(())
}

/// Judges the replies to [`register`] (the probe's two, then one per add):
/// `AlreadyExists` if the probe found either filter (the caller then
/// submits [`undo_register`]), else the adds' verdict as in [`added`].
pub(crate) fn registered(abi: &Abi, replies: &[Kevent]) -> Result<(), Failure> {
    let (probes, adds) = replies.split_at(replies.len().min(2));
    if probed(abi, probes)? {
        return Err(Failure::AlreadyExists);
    }
    added(abi, adds)
}

/// After [`registered`] found `fd` registered already: the changes that
/// give it back the filters it had. Each filter [`register`]'s list added
/// that the probe did not find is deleted; each filter the probe found
/// that the list did not add is added again, with the list's token, so
/// that every filter left reports the same token (the adds, and on FreeBSD
/// and macOS the probe, rewrote the others'; the first registration's
/// token cannot be put back, as no change reads it).
pub(crate) fn undo_register(abi: &Abi, changes: &[Kevent], replies: &[Kevent]) -> Changes {
    let mut c = Changes::new();
    let (probes, adds) = changes.split_at(changes.len().min(2));
    for (probe, reply) in probes.iter().zip(replies) {
        let had = receipt(abi, reply).is_ok();
        let added = adds.iter().any(|a| a.filter == probe.filter);
        if had && !added {
            c.push(
                probe.ident,
                probe.filter,
                abi.add | abi.clear | abi.receipt,
                Token(probe.udata),
            );
        } else if !had && added {
            c.push(
                probe.ident,
                probe.filter,
                abi.delete | abi.receipt,
                Token(0),
            );
        }
    }
    c
}

/// Judges the replies to [`reregister`] (probe first, then one per filter).
/// `NotFound` if the probe found nothing: the caller then removes the
/// filters the list just added, so an unregistered fd stays unregistered.
/// An `EV_DELETE` of a filter that was not there (`ENOENT`) is fine, and so
/// is `EPIPE` from an add, as in [`registered`].
pub(crate) fn reregistered(
    abi: &Abi,
    changes: &[Kevent],
    replies: &[Kevent],
) -> Result<(), Failure> {
    let (probes, rest) = replies.split_at(replies.len().min(2));
    if !probed(abi, probes)? {
        return Err(Failure::NotFound);
    }
    for (change, reply) in changes.iter().skip(2).zip(rest) {
        match receipt(abi, reply) {
            Ok(()) => {}
            Err(ENOENT) if change.flags & abi.delete != 0 => {}
            Err(EPIPE) if change.flags & abi.add != 0 => {}
            Err(errno) => return Err(Failure::Os(errno)),
        }
    }
    Ok(())
}

/// Judges the replies to [`deregister`]: `NotFound` if neither filter was
/// there; one missing filter is normal (a source registered for one
/// direction).
pub(crate) fn deregistered(abi: &Abi, replies: &[Kevent]) -> Result<(), Failure> {
    let mut removed = false;
    for reply in replies {
        match receipt(abi, reply) {
            Ok(()) => removed = true,
            Err(ENOENT) => {}
            Err(errno) => return Err(Failure::Os(errno)),
        }
    }
    if removed {
        Ok(())
    } else {
        Err(Failure::NotFound)
    }
}

/// After `reregister` of an unregistered fd: `EV_DELETE` of the filters its
/// change list added, so the failed call leaves nothing behind.
pub(crate) fn undo_adds(abi: &Abi, changes: &[Kevent]) -> Changes {
    let mut c = Changes::new();
    for change in changes.iter().filter(|c| c.flags & abi.add != 0) {
        c.push(
            change.ident,
            change.filter,
            abi.delete | abi.receipt,
            Token(0),
        );
    }
    c
}

// What a returned record means, following kevent(2) on each platform.

/// The token carried in `udata`.
#[inline]
pub(crate) fn token(ev: &Kevent) -> Token {
    Token(ev.udata)
}

/// A read filter fired (data to read, a connection to accept, or EOF), or
/// a user event (the waker, reported readable like the other backends').
#[inline]
pub(crate) fn is_readable(abi: &Abi, ev: &Kevent) -> bool {
    ev.filter == abi.read || Some(ev.filter) == abi.user
}

/// A write filter fired (space to write, or a connect finished or failed).
#[inline]
pub(crate) fn is_writable(abi: &Abi, ev: &Kevent) -> bool {
    ev.filter == abi.write
}

/// `EV_ERROR`, or `EV_EOF` with a socket error in `fflags` (kevent(2): the
/// read and write filters return the pending socket error there).
#[inline]
pub(crate) fn is_error(abi: &Abi, ev: &Kevent) -> bool {
    ev.flags & abi.error != 0 || (ev.flags & abi.eof != 0 && ev.fflags != 0)
}

/// `EV_EOF` on the read filter: the peer shut down its writing side.
#[inline]
pub(crate) fn is_read_closed(abi: &Abi, ev: &Kevent) -> bool {
    ev.filter == abi.read && ev.flags & abi.eof != 0
}

/// `EV_EOF` on the write filter: the peer is gone, writes fail.
#[inline]
pub(crate) fn is_write_closed(abi: &Abi, ev: &Kevent) -> bool {
    ev.filter == abi.write && ev.flags & abi.eof != 0
}

/// `EV_OOBAND` on the read filter (Apple only; never elsewhere).
#[inline]
pub(crate) fn is_priority(abi: &Abi, ev: &Kevent) -> bool {
    ev.filter == abi.read && ev.flags & abi.ooband != 0
}

/// An AIO request completed (`EVFILT_AIO`, on the platforms where mio
/// reports it: FreeBSD, DragonFly, macOS and iOS).
#[inline]
pub(crate) fn is_aio(abi: &Abi, ev: &Kevent) -> bool {
    abi.aio == Some(ev.filter)
}

/// A list of AIO requests completed (`EVFILT_LIO`, FreeBSD only).
#[inline]
pub(crate) fn is_lio(abi: &Abi, ev: &Kevent) -> bool {
    abi.lio == Some(ev.filter)
}

/// The longest wait passed to the kernel in one call, in seconds (about 3.2
/// years; OpenBSD's kernel clamps longer timeouts to this, and others
/// convert timeouts to nanoseconds, where `Duration::MAX` would overflow). A
/// longer wait returns early with no events, as a poll may.
pub(crate) const MAX_TIMEOUT_SECS: u64 = 100_000_000;

/// A timeout as `timespec` fields. kevent takes nanoseconds, so nothing is
/// rounded: a nonzero timeout never becomes a zero (spinning) one, and
/// `Duration::MAX` saturates at [`MAX_TIMEOUT_SECS`] instead of overflowing.
pub(crate) fn timespec_parts(timeout: Duration) -> (u64, u32) {
    if timeout.as_secs() >= MAX_TIMEOUT_SECS {
        (MAX_TIMEOUT_SECS, 0)
    } else {
        (timeout.as_secs(), timeout.subsec_nanos())
    }
}

#[cfg(test)]
#[path = "abi_tests.rs"]
mod tests;
