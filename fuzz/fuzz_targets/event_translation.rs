//! Event translation of every backend that compiles on Linux, from
//! arbitrary native records, against reference mappings written here from
//! the documented meaning of each bit (epoll(7), poll(2), kevent(2) and
//! mio's portable readiness), not from rouse's code:
//!
//! * epoll: `epoll_event` bits and data → `EpollEvent`, through
//!   `Event<EpollSelector>` too, and `AutoEvent::from_epoll` (epoll mode);
//! * poll(2): `revents` + the registered interests → `PollEvent`, and
//!   `AutoEvent::from_poll` (poll(2) mode) carrying every bit;
//! * kqueue, each platform's constants: `struct kevent` → readiness, the
//!   change lists of register / reregister / deregister, and the verdicts
//!   on arbitrary `EV_RECEIPT` replies.
//!
//! WASI's translation reads `wasi::Event` records and compiles only for
//! wasm32-wasip1, where libFuzzer does not run; tests/wasi.rs covers it
//! under wasmtime.
//!
//! Invariants besides the references: tokens round-trip exactly, nothing
//! panics, readable/writable follow the bits that mean them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rouse::__fuzz::kqueue::{self, Abi, Failure, Kevent};
use rouse::event::Event;
use rouse::sys::auto::AutoEvent;
use rouse::sys::epoll::EpollEvent;
use rouse::sys::poll::PollEvent;
use rouse::sys::{AutoSelector, EpollSelector, PollSelector, RawEvent};
use rouse::{Interest, Token};

/// (readable, writable, error, read_closed, write_closed, priority)
type Ready = [bool; 6];

fn ready_of<E: RawEvent>(e: &E) -> Ready {
    [
        e.is_readable(),
        e.is_writable(),
        e.is_error(),
        e.is_read_closed(),
        e.is_write_closed(),
        e.is_priority(),
    ]
}

fn ready_of_event<S: rouse::sys::Selector>(e: &Event<S>) -> Ready {
    [
        e.is_readable(),
        e.is_writable(),
        e.is_error(),
        e.is_read_closed(),
        e.is_write_closed(),
        e.is_priority(),
    ]
}

/// Bytes to integers, little-endian, zero past the end.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn take<const K: usize>(&mut self) -> [u8; K] {
        let mut out = [0u8; K];
        let n = self.0.len().min(K);
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.take())
    }
}

// --- epoll -------------------------------------------------------------

/// The bits epoll_wait can report for rouse's registrations: what was asked
/// for (IN, RDHUP, OUT, PRI) plus ERR and HUP, which are always reported.
const EPOLL_REPORTED: u32 = (libc::EPOLLIN
    | libc::EPOLLPRI
    | libc::EPOLLOUT
    | libc::EPOLLERR
    | libc::EPOLLHUP
    | libc::EPOLLRDHUP) as u32;

/// mio's reading of an epoll record the kernel can produce.
fn epoll_reference(bits: u32) -> Ready {
    let has = |flag: i32| bits & flag as u32 != 0;
    let (inp, pri, out) = (has(libc::EPOLLIN), has(libc::EPOLLPRI), has(libc::EPOLLOUT));
    let (err, hup, rdhup) = (
        has(libc::EPOLLERR),
        has(libc::EPOLLHUP),
        has(libc::EPOLLRDHUP),
    );
    let only_err = err && !(inp || pri || out || hup || rdhup);
    [
        // Data, a connection, or urgent data can be read.
        inp || pri,
        out,
        err,
        // Both halves hung up, or the peer shut down writing (RDHUP comes
        // with IN when it means end-of-file).
        hup || (rdhup && inp),
        // Both halves hung up; an error on a writable socket (EPIPE); or an
        // error alone, as epoll reports a reset connection.
        hup || (out && err) || only_err,
        pri,
    ]
}

fn epoll(input: &mut Input<'_>) {
    let bits = input.u32();
    let token = Token(input.u64() as usize);
    let raw = EpollEvent::new(bits, token);
    assert_eq!(raw.token(), token);
    let got = ready_of(&raw);
    // Whatever the bits, the four that mean one thing each.
    let has = |flag: i32| bits & flag as u32 != 0;
    assert_eq!(got[0], has(libc::EPOLLIN) || has(libc::EPOLLPRI));
    assert_eq!(got[1], has(libc::EPOLLOUT));
    assert_eq!(got[2], has(libc::EPOLLERR));
    assert_eq!(got[5], has(libc::EPOLLPRI));
    // Records the kernel can produce: exactly the reference.
    let real = bits & EPOLL_REPORTED;
    let rec = EpollEvent::new(real, token);
    assert_eq!(
        ready_of(&rec),
        epoll_reference(real),
        "epoll bits {real:#x}"
    );
    // The public wrapper reads the record the same way.
    let ev = Event::<EpollSelector>::from_raw(raw);
    assert_eq!(ev.token(), token);
    assert_eq!(ready_of_event(&ev), got);
    // AutoSelector in epoll mode: the same record (bit 31, EPOLLET, is an
    // input flag the kernel never reports; the record uses it as its mode).
    let auto = AutoEvent::from_epoll(bits, token);
    assert_eq!(auto.token(), token);
    assert_eq!(
        ready_of(&auto),
        ready_of(&EpollEvent::new(bits & !(1 << 31), token)),
        "auto(epoll) bits {bits:#x}"
    );
    let ev = Event::<AutoSelector<4>>::from_raw(auto);
    assert_eq!(ready_of_event(&ev), ready_of(&auto));
}

// --- poll(2) -----------------------------------------------------------

fn interests(b: u8) -> Interest {
    match b % 7 {
        0 => Interest::READABLE,
        1 => Interest::WRITABLE,
        2 => Interest::PRIORITY,
        3 => Interest::READABLE | Interest::WRITABLE,
        4 => Interest::READABLE | Interest::PRIORITY,
        5 => Interest::WRITABLE | Interest::PRIORITY,
        _ => Interest::READABLE | Interest::WRITABLE | Interest::PRIORITY,
    }
}

/// poll(2)'s `revents` in portable terms. An error, hang-up or invalid fd
/// is reported to every direction the source waits on, so whoever waits
/// tries its operation and meets the error.
fn poll_reference(rev: i16, interests: Interest) -> Ready {
    let has = |flag: i16| rev & flag != 0;
    let err = has(libc::POLLERR);
    let hup = has(libc::POLLHUP);
    let nval = has(libc::POLLNVAL);
    let rdhup = has(libc::POLLRDHUP);
    let broken = err || hup || nval;
    [
        has(libc::POLLIN) || has(libc::POLLPRI) || rdhup || (broken && interests.is_readable()),
        has(libc::POLLOUT) || (broken && interests.is_writable()),
        err || nval,
        hup || nval || rdhup,
        hup || err || nval,
        has(libc::POLLPRI),
    ]
}

fn poll(input: &mut Input<'_>) {
    let rev = input.u16() as i16;
    let interests = interests(input.u8());
    let token = Token(input.u64() as usize);
    let ev = PollEvent::from_revents(token, rev, interests);
    assert_eq!(ev.token(), token);
    let got = ready_of(&ev);
    assert_eq!(
        got,
        poll_reference(rev, interests),
        "revents {rev:#x} {interests:?}"
    );
    // Nothing is reported without a bit that means it.
    if rev == 0 {
        assert_eq!(got, [false; 6]);
    }
    let wrapped = Event::<PollSelector<4>>::from_raw(ev);
    assert_eq!(ready_of_event(&wrapped), got);
    // AutoSelector in poll(2) mode keeps every bit and the token.
    let auto = AutoEvent::from_poll(&ev);
    assert_eq!(auto.token(), token);
    assert_eq!(ready_of(&auto), got, "auto(poll) revents {rev:#x}");
}

// --- kqueue ------------------------------------------------------------

fn kevent(input: &mut Input<'_>, abi: &Abi) -> Kevent {
    let (read, write, user) = abi.filters();
    // Mostly the filters rouse registers, sometimes anything.
    let filter = match input.u8() % 5 {
        0 => read,
        1 => write,
        2 => user.unwrap_or(read),
        3 => i32::from(input.u8() as i8),
        _ => input.u32() as i32,
    };
    let (error, eof, ooband) = abi.result_flags();
    let mut flags = match input.u8() % 3 {
        0 => input.u32(),
        _ => 0,
    };
    let pick = input.u8();
    for (bit, flag) in [error, eof, ooband].into_iter().enumerate() {
        if pick & (1 << bit) != 0 {
            flags |= flag;
        }
    }
    Kevent {
        ident: input.u64() as usize,
        filter,
        flags,
        fflags: if pick & 8 != 0 { input.u32() } else { 0 },
        data: input.i64(),
        udata: input.u64() as usize,
    }
}

/// kevent(2): a record is one filter's; EV_EOF on the read filter is the
/// peer's shutdown, on the write filter a gone peer; a socket error comes
/// in fflags with EV_EOF; EV_ERROR marks a failed change; EV_OOBAND (Apple)
/// out-of-band data. A user event is the waker, reported readable.
fn kqueue_reference(abi: &Abi, ev: &Kevent) -> Ready {
    let (read, write, user) = abi.filters();
    let (error, eof, ooband) = abi.result_flags();
    let is_read = ev.filter == read;
    let is_write = ev.filter == write;
    let is_user = user == Some(ev.filter);
    let at_eof = ev.flags & eof != 0;
    [
        is_read || is_user,
        is_write,
        ev.flags & error != 0 || (at_eof && ev.fflags != 0),
        is_read && at_eof,
        is_write && at_eof,
        is_read && ooband != 0 && ev.flags & ooband != 0,
    ]
}

const ENOENT: i64 = 2;
const EPIPE: i64 = 32;

fn errno_of(abi: &Abi, reply: &Kevent) -> i64 {
    let (error, _, _) = abi.result_flags();
    if reply.flags & error != 0 {
        reply.data
    } else {
        0
    }
}

fn kqueue_abi(input: &mut Input<'_>, abi: &Abi) {
    let (read, write, user) = abi.filters();
    let (add, delete, enable, clear, receipt) = abi.change_flags();
    assert_ne!(read, write);
    assert_ne!(user, Some(write));

    let ev = kevent(input, abi);
    let got = abi.readiness(&ev);
    assert_eq!(got, kqueue_reference(abi, &ev), "{} {ev:?}", abi.name());
    assert_eq!(abi.token(&ev), Token(ev.udata));
    // One record is one filter: never both directions.
    assert!(!(got[0] && got[1]), "{} {ev:?}", abi.name());

    // Change lists: what each call submits, for any fd and token.
    let fd = input.u64() as usize;
    let token = Token(input.u64() as usize);
    let i = match input.u8() % 3 {
        0 => Interest::READABLE,
        1 => Interest::WRITABLE,
        _ => Interest::READABLE | Interest::WRITABLE,
    };
    let wanted: Vec<i32> = [(read, i.is_readable()), (write, i.is_writable())]
        .into_iter()
        .filter_map(|(f, w)| w.then_some(f))
        .collect();
    // register: one list, the probe of both filters, then the adds.
    let reg = abi.register(fd, token, i);
    let r = reg.as_slice();
    assert_eq!(r.len(), 2 + wanted.len());
    for (c, f) in r[..2].iter().zip([read, write]) {
        // The probe: enable without add, carrying the token.
        assert_eq!(
            (c.ident, c.filter, c.flags, c.udata),
            (fd, f, enable | receipt, token.0)
        );
    }
    for (c, f) in r[2..].iter().zip(&wanted) {
        assert_eq!(
            (c.ident, c.filter, c.flags, c.udata),
            (fd, *f, add | clear | receipt, token.0)
        );
    }
    let rereg = abi.reregister(fd, token, i);
    let s = rereg.as_slice();
    assert_eq!(s.len(), 4);
    for (c, f) in s[..2].iter().zip([read, write]) {
        // The same probe.
        assert_eq!((c.ident, c.filter, c.flags), (fd, f, enable | receipt));
    }
    for (c, (f, w)) in s[2..]
        .iter()
        .zip([(read, i.is_readable()), (write, i.is_writable())])
    {
        let flags = if w { add | clear } else { delete } | receipt;
        assert_eq!(
            (c.ident, c.filter, c.flags, c.udata),
            (fd, f, flags, token.0)
        );
    }
    let undo = abi.undo_adds(s);
    assert_eq!(undo.as_slice().len(), wanted.len());
    assert!(undo
        .as_slice()
        .iter()
        .all(|c| c.flags == delete | receipt && c.ident == fd));
    let dereg = abi.deregister(fd);
    assert_eq!(dereg.as_slice().len(), 2);
    assert!(dereg.as_slice().iter().all(|c| c.flags == delete | receipt));

    // Verdicts on arbitrary replies (up to MAX_CHANGES).
    let n = usize::from(input.u8()) % (kqueue::MAX_CHANGES + 1);
    let replies: Vec<Kevent> = (0..n)
        .map(|_| {
            let mut r = kevent(input, abi);
            r.data = match input.u8() % 4 {
                0 => 0,
                1 => ENOENT,
                2 => EPIPE,
                _ => r.data,
            };
            r
        })
        .collect();
    let errnos: Vec<i64> = replies.iter().map(|r| errno_of(abi, r)).collect();
    for (r, e) in replies.iter().zip(&errnos) {
        assert_eq!(abi.receipt(r), if *e == 0 { Ok(()) } else { Err(*e) });
    }
    // A list of adds: every change applied, EPIPE tolerated (macOS pipes).
    let want = match errnos.iter().find(|e| **e != 0 && **e != EPIPE) {
        Some(e) => Err(Failure::Os(*e)),
        None => Ok(()),
    };
    assert_eq!(abi.added(&replies), want);
    // register: the probe's two replies first (another errno than ENOENT
    // fails, a filter found is AlreadyExists), then the adds'.
    let (probes, adds) = errnos.split_at(errnos.len().min(2));
    let want = match probes.iter().find(|e| **e != 0 && **e != ENOENT) {
        Some(e) => Err(Failure::Os(*e)),
        None if probes.contains(&0) => Err(Failure::AlreadyExists),
        None => match adds.iter().find(|e| **e != 0 && **e != EPIPE) {
            Some(e) => Err(Failure::Os(*e)),
            None => Ok(()),
        },
    };
    assert_eq!(abi.registered(&replies), want);
    // After AlreadyExists, the fd gets back the filters the probe found:
    // each filter added but not found is deleted, each found but not added
    // is added again (with the token), nothing else.
    if replies.len() >= 2 {
        let undo = abi.undo_register(r, &replies);
        let mut expect = Vec::new();
        for (k, f) in [read, write].into_iter().enumerate() {
            let had = errnos[k] == 0;
            let adds_it = r[2..].iter().any(|c| c.filter == f);
            if had && !adds_it {
                expect.push((f, add | clear | receipt, token.0));
            } else if !had && adds_it {
                expect.push((f, delete | receipt, 0));
            }
        }
        let got: Vec<(i32, u32, usize)> = undo
            .as_slice()
            .iter()
            .map(|c| (c.filter, c.flags, c.udata))
            .collect();
        assert_eq!(got, expect, "{}", abi.name());
        assert!(undo.as_slice().iter().all(|c| c.ident == fd));
    }
    // probe: registered if any filter answered; ENOENT means absent.
    let want = match errnos.iter().find(|e| **e != 0 && **e != ENOENT) {
        Some(e) => Err(Failure::Os(*e)),
        None => Ok(errnos.contains(&0)),
    };
    assert_eq!(abi.probed(&replies), want);
    // deregister: NotFound only if no filter was there.
    let want = match errnos.iter().find(|e| **e != 0 && **e != ENOENT) {
        Some(e) => Err(Failure::Os(*e)),
        None if errnos.contains(&0) => Ok(()),
        None => Err(Failure::NotFound),
    };
    assert_eq!(abi.deregistered(&replies), want);
    // reregister: the probe decides NotFound; then adds may meet EPIPE and
    // deletes ENOENT.
    let (probes, rest) = errnos.split_at(errnos.len().min(2));
    let want = match probes.iter().find(|e| **e != 0 && **e != ENOENT) {
        Some(e) => Err(Failure::Os(*e)),
        None if !probes.contains(&0) => Err(Failure::NotFound),
        None => s[2..]
            .iter()
            .zip(rest)
            .find(|(c, e)| {
                let fine = **e == 0
                    || (**e == ENOENT && c.flags & delete != 0)
                    || (**e == EPIPE && c.flags & add != 0);
                !fine
            })
            .map_or(Ok(()), |(_, e)| Err(Failure::Os(*e))),
    };
    assert_eq!(abi.reregistered(s, &replies), want, "{}", abi.name());
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let abis = kqueue::all();
    while !input.0.is_empty() {
        match input.u8() % 3 {
            0 => epoll(&mut input),
            1 => poll(&mut input),
            _ => {
                let abi = abis[usize::from(input.u8()) % abis.len()];
                kqueue_abi(&mut input, &abi);
            }
        }
    }
});
