//! Unit tests of `abi.rs`: the kqueue translation and change logic,
//! checked on any host against each platform's header layouts.

use super::*;

const FD: usize = 7;
const T: Token = Token(42);

fn ev(filter: i32, flags: u32) -> Kevent {
    Kevent {
        ident: FD,
        filter,
        flags,
        fflags: 0,
        data: 0,
        udata: T.0,
    }
}

fn reply(abi: &Abi, change: &Kevent, errno: i64) -> Kevent {
    // FreeBSD and macOS return the change with EV_ERROR set and the
    // errno (or 0) in data.
    Kevent {
        flags: change.flags | abi.error,
        data: errno,
        ..*change
    }
}

fn replies(abi: &Abi, changes: &Changes, errnos: &[i64]) -> Changes {
    let mut out = *changes;
    for (i, errno) in errnos.iter().enumerate() {
        out.buf[i] = reply(abi, &changes.buf[i], *errno);
    }
    out
}

/// (readable, writable, error, read_closed, write_closed, priority)
fn readiness(abi: &Abi, e: &Kevent) -> [bool; 6] {
    [
        is_readable(abi, e),
        is_writable(abi, e),
        is_error(abi, e),
        is_read_closed(abi, e),
        is_write_closed(abi, e),
        is_priority(abi, e),
    ]
}

#[test]
fn read_with_data_is_readable_only() {
    for abi in &ALL {
        let e = Kevent {
            data: 512,
            ..ev(abi.read, abi.add | abi.clear)
        };
        assert_eq!(
            readiness(abi, &e),
            [true, false, false, false, false, false],
            "{}",
            abi.name
        );
        assert_eq!(token(&e), T);
    }
}

#[test]
fn write_space_is_writable_only() {
    for abi in &ALL {
        let e = Kevent {
            data: 8192,
            ..ev(abi.write, abi.add | abi.clear)
        };
        assert_eq!(
            readiness(abi, &e),
            [false, true, false, false, false, false],
            "{}",
            abi.name
        );
    }
}

#[test]
fn eof_on_read_filter_is_read_closed() {
    for abi in &ALL {
        // Peer shut down, no socket error, maybe data left to read.
        let e = Kevent {
            data: 3,
            ..ev(abi.read, abi.eof)
        };
        assert_eq!(
            readiness(abi, &e),
            [true, false, false, true, false, false],
            "{}",
            abi.name
        );
    }
}

#[test]
fn eof_on_write_filter_is_write_closed() {
    for abi in &ALL {
        let e = ev(abi.write, abi.eof);
        assert_eq!(
            readiness(abi, &e),
            [false, true, false, false, true, false],
            "{}",
            abi.name
        );
    }
}

#[test]
fn eof_with_socket_error_in_fflags_is_error() {
    for abi in &ALL {
        for filter in [abi.read, abi.write] {
            let e = Kevent {
                fflags: 54, // ECONNRESET on the BSDs
                ..ev(filter, abi.eof)
            };
            assert!(is_error(abi, &e), "{}", abi.name);
            assert_eq!(is_read_closed(abi, &e), filter == abi.read);
            assert_eq!(is_write_closed(abi, &e), filter == abi.write);
        }
    }
}

#[test]
fn ev_error_record_is_error() {
    for abi in &ALL {
        let e = Kevent {
            data: 9, // EBADF
            ..ev(abi.read, abi.error)
        };
        assert!(is_error(abi, &e), "{}", abi.name);
        assert!(!is_read_closed(abi, &e) && !is_write_closed(abi, &e));
    }
}

#[test]
fn oob_data_is_priority_on_apple_only() {
    let e = ev(APPLE.read, 0x2000);
    assert!(is_priority(&APPLE, &e) && is_readable(&APPLE, &e));
    for abi in &[FREEBSD, DRAGONFLY, NETBSD, OPENBSD] {
        let e = ev(abi.read, 0x2000);
        assert!(!is_priority(abi, &e), "{}", abi.name);
    }
}

#[test]
fn user_event_is_the_waker_where_used() {
    for abi in &ALL {
        match abi.user {
            Some(user) => {
                let e = Kevent {
                    fflags: abi.trigger,
                    ..ev(user, abi.add | abi.clear)
                };
                assert_eq!(
                    readiness(abi, &e),
                    [true, false, false, false, false, false]
                );
            }
            // The pipe waker is a plain read filter.
            None => assert!(is_readable(abi, &ev(abi.read, 0))),
        }
    }
    // NetBSD's filter numbers are unsigned: its EVFILT_READ (0) is not a
    // user event or a write on another platform's numbering, and back.
    assert!(!is_readable(&NETBSD, &ev(-1, 0)));
    assert!(!is_writable(&FREEBSD, &ev(1, 0)));
    assert!(is_writable(&NETBSD, &ev(1, 0)));
}

#[test]
fn user_event_changes() {
    for abi in ALL.iter().filter(|a| a.user.is_some()) {
        let user = abi.user.unwrap_or_default();
        let add = add_user(abi, user, 5, T);
        assert_eq!(add.as_slice().len(), 1);
        let a = add.as_slice()[0];
        assert_eq!((a.ident, a.filter, a.udata), (5, user, T.0));
        assert_eq!(a.flags, abi.add | abi.clear | abi.receipt);
        let t = trigger_user(abi, user, 5);
        assert_eq!(
            (t.ident, t.filter, t.flags, t.fflags),
            (5, user, 0, 0x0100_0000)
        );
        let d = delete_user(abi, user, 5);
        assert_eq!((d.filter, d.flags), (user, abi.delete));
    }
}

#[test]
fn token_round_trips_through_udata() {
    for abi in &ALL {
        for t in [0, 1, 42, usize::MAX >> 1, usize::MAX - 1] {
            let c = register(abi, FD, Token(t), Interest::READABLE);
            // Every change carries it: the add, and the probe (which
            // FreeBSD and macOS let rewrite a registered filter's udata).
            for change in c.as_slice() {
                assert_eq!(token(&reply(abi, change, 0)), Token(t));
            }
        }
    }
}

#[test]
fn receipt_with_zero_data_is_success() {
    for abi in &ALL {
        let c = register(abi, FD, T, Interest::READABLE | Interest::WRITABLE);
        // Not registered before (the probe: ENOENT twice), both adds fine.
        let r = replies(abi, &c, &[ENOENT, ENOENT, 0, 0]);
        for rec in &r.as_slice()[2..] {
            assert_eq!(receipt(abi, rec), Ok(()));
            // A receipt is not mistaken for readiness by its EV_ERROR...
            assert!(rec.flags & abi.error != 0);
        }
        assert_eq!(registered(abi, r.as_slice()), Ok(()));
        assert_eq!(receipt(abi, &reply(abi, &c.as_slice()[0], 9)), Err(9));
    }
}

#[test]
fn change_list_for_each_interest() {
    let all = Interest::READABLE | Interest::WRITABLE;
    for abi in &ALL {
        let flags = abi.add | abi.clear | abi.receipt;
        // One call: the probe of both filters, then the adds.
        let r = register(abi, FD, T, Interest::READABLE);
        assert_eq!(r.as_slice().len(), 3);
        assert_eq!(&r.as_slice()[..2], probe(abi, FD, T).as_slice());
        assert_eq!(
            (r.as_slice()[2].filter, r.as_slice()[2].flags),
            (abi.read, flags)
        );
        let w = register(abi, FD, T, Interest::WRITABLE);
        assert_eq!(w.as_slice().len(), 3);
        assert_eq!(&w.as_slice()[..2], probe(abi, FD, T).as_slice());
        assert_eq!(
            (w.as_slice()[2].filter, w.as_slice()[2].flags),
            (abi.write, flags)
        );
        let rw = register(abi, FD, T, all);
        assert_eq!(rw.as_slice().len(), MAX_CHANGES);
        let got: [(i32, u32); 2] = [
            (rw.as_slice()[2].filter, rw.as_slice()[2].flags),
            (rw.as_slice()[3].filter, rw.as_slice()[3].flags),
        ];
        assert_eq!(got, [(abi.read, flags), (abi.write, flags)], "{}", abi.name);
        for c in rw.as_slice() {
            assert_eq!((c.ident, c.udata, c.fflags, c.data), (FD, T.0, 0, 0));
        }
    }
}

#[test]
fn aio_and_lio_interests_add_no_filter() {
    // `Interest::AIO` and `LIO` exist only on their platforms; their bits
    // are the same everywhere.
    let aio = Interest::from_bits(0b0_1000).unwrap();
    let lio = Interest::from_bits(0b1_0000).unwrap();
    assert!(aio.is_aio() && lio.is_lio());
    for abi in &ALL {
        // Only the probe (AlreadyExists still holds), no add.
        let probe_only = probe(abi, FD, T);
        assert_eq!(register(abi, FD, T, aio), probe_only);
        assert_eq!(register(abi, FD, T, lio | aio), probe_only);
        let r = register(abi, FD, T, Interest::READABLE | aio);
        assert_eq!(r.as_slice().len(), 3, "{}", abi.name);
        assert_eq!(r.as_slice()[2].filter, abi.read);
        // Reregistering for AIO alone removes both filters.
        let re = reregister(abi, FD, T, aio);
        let flags: [u32; 2] = [re.as_slice()[2].flags, re.as_slice()[3].flags];
        assert_eq!(flags, [abi.delete | abi.receipt; 2], "{}", abi.name);
    }
}

#[test]
fn aio_and_lio_records() {
    for abi in &ALL {
        for filter in [abi.read, abi.write] {
            let e = ev(filter, abi.add | abi.clear);
            assert!(!is_aio(abi, &e) && !is_lio(abi, &e), "{}", abi.name);
        }
        if let Some(f) = abi.aio {
            let e = ev(f, abi.clear);
            assert!(is_aio(abi, &e) && !is_lio(abi, &e), "{}", abi.name);
            // Only an AIO completion: no readiness of an fd.
            assert_eq!(readiness(abi, &e), [false; 6], "{}", abi.name);
        }
        if let Some(f) = abi.lio {
            let e = ev(f, abi.clear);
            assert!(is_lio(abi, &e) && !is_aio(abi, &e), "{}", abi.name);
            assert_eq!(readiness(abi, &e), [false; 6], "{}", abi.name);
        }
    }
    // Where mio reports them, with each platform's numbers.
    let aio: [Option<i32>; 6] = ALL.map(|a| a.aio);
    let lio: [Option<i32>; 6] = ALL.map(|a| a.lio);
    let names: [&str; 6] = ALL.map(|a| a.name);
    assert_eq!(
        names,
        [
            "macos/ios",
            "freebsd",
            "freebsd11",
            "dragonfly",
            "netbsd",
            "openbsd"
        ]
    );
    assert_eq!(aio, [Some(-3), Some(-3), Some(-3), Some(-3), None, None]);
    assert_eq!(lio, [None, Some(-10), Some(-10), None, None, None]);
    // A NetBSD record with filter 2 (its own EVFILT_AIO) is not reported
    // as AIO, as mio does not.
    assert!(!is_aio(&NETBSD, &ev(2, 0)));
    // FreeBSD's LIO number is Apple's user event: each platform reads its own.
    assert!(!is_lio(&APPLE, &ev(-10, 0)) && is_readable(&APPLE, &ev(-10, 0)));
}

#[test]
fn reregister_adds_wanted_and_deletes_unwanted() {
    let cases = [
        (Interest::READABLE, [true, false]),
        (Interest::WRITABLE, [false, true]),
        (Interest::READABLE | Interest::WRITABLE, [true, true]),
    ];
    for abi in &ALL {
        for (interests, wanted) in cases {
            let c = reregister(abi, FD, T, interests);
            let s = c.as_slice();
            assert_eq!(s.len(), 4);
            // The probe comes first and adds nothing.
            assert_eq!(&s[..2], probe(abi, FD, T).as_slice());
            assert!(s[..2].iter().all(|p| p.flags == abi.enable | abi.receipt));
            for (i, filter) in [abi.read, abi.write].into_iter().enumerate() {
                let change = s[2 + i];
                assert_eq!(change.filter, filter);
                let want = if wanted[i] {
                    abi.add | abi.clear | abi.receipt
                } else {
                    abi.delete | abi.receipt
                };
                assert_eq!(change.flags, want, "{} {interests:?}", abi.name);
                assert_eq!(change.udata, T.0);
            }
        }
    }
}

#[test]
fn reregister_verdicts() {
    for abi in &ALL {
        let c = reregister(abi, FD, T, Interest::READABLE);
        let s = c.as_slice();
        // Registered for reading: probe ok/ENOENT, add ok, delete ENOENT.
        let r = replies(abi, &c, &[0, ENOENT, 0, ENOENT]);
        assert_eq!(reregistered(abi, s, r.as_slice()), Ok(()));
        // Not registered at all: NotFound, and the add is undone.
        let r = replies(abi, &c, &[ENOENT, ENOENT, 0, ENOENT]);
        assert_eq!(reregistered(abi, s, r.as_slice()), Err(Failure::NotFound));
        let undo = undo_adds(abi, s);
        assert_eq!(undo.as_slice().len(), 1);
        assert_eq!(
            (undo.as_slice()[0].filter, undo.as_slice()[0].flags),
            (abi.read, abi.delete | abi.receipt)
        );
        // A closed fd: EBADF from the probe.
        let r = replies(abi, &c, &[9, 9, 9, 9]);
        assert_eq!(reregistered(abi, s, r.as_slice()), Err(Failure::Os(9)));
        // EPIPE from an add is fine; from a delete it is not.
        let w = reregister(abi, FD, T, Interest::WRITABLE);
        let r = replies(abi, &w, &[0, 0, 0, EPIPE]);
        assert_eq!(reregistered(abi, w.as_slice(), r.as_slice()), Ok(()));
        let r = replies(abi, &c, &[0, 0, 0, EPIPE]);
        assert_eq!(reregistered(abi, s, r.as_slice()), Err(Failure::Os(EPIPE)));
        // ENOENT from an add is a real failure.
        let r = replies(abi, &c, &[0, 0, ENOENT, 0]);
        assert_eq!(reregistered(abi, s, r.as_slice()), Err(Failure::Os(ENOENT)));
    }
}

#[test]
fn register_and_probe_verdicts() {
    for abi in &ALL {
        let p = probe(abi, FD, T);
        assert_eq!(p.as_slice().len(), 2);
        assert!(p
            .as_slice()
            .iter()
            .all(|c| c.flags == abi.enable | abi.receipt));
        let r = replies(abi, &p, &[ENOENT, ENOENT]);
        assert_eq!(probed(abi, r.as_slice()), Ok(false));
        let r = replies(abi, &p, &[ENOENT, 0]);
        assert_eq!(probed(abi, r.as_slice()), Ok(true));
        let r = replies(abi, &p, &[9, 9]);
        assert_eq!(probed(abi, r.as_slice()), Err(Failure::Os(9)));
        let c = register(abi, FD, T, Interest::READABLE | Interest::WRITABLE);
        let verdict = |errnos: &[i64]| registered(abi, replies(abi, &c, errnos).as_slice());
        // New fd; EPIPE on the write filter (macOS, pipe without a reader): ok.
        assert_eq!(verdict(&[ENOENT, ENOENT, 0, EPIPE]), Ok(()));
        assert_eq!(verdict(&[ENOENT, ENOENT, 0, 22]), Err(Failure::Os(22)));
        // Registered already, for either direction or both: the adds'
        // replies do not matter.
        assert_eq!(verdict(&[0, ENOENT, 0, 0]), Err(Failure::AlreadyExists));
        assert_eq!(verdict(&[ENOENT, 0, 0, 22]), Err(Failure::AlreadyExists));
        assert_eq!(verdict(&[0, 0, 0, 0]), Err(Failure::AlreadyExists));
        // A closed fd: EBADF from the probe, before anything else.
        assert_eq!(verdict(&[9, 9, 9, 9]), Err(Failure::Os(9)));
        // The waker's plain add list.
        let u = add_user(abi, abi.user.unwrap_or(-10), 3, T);
        assert_eq!(added(abi, replies(abi, &u, &[0]).as_slice()), Ok(()));
        assert_eq!(
            added(abi, replies(abi, &u, &[22]).as_slice()),
            Err(Failure::Os(22))
        );
    }
}

#[test]
fn a_second_register_puts_the_filters_back() {
    let two = Token(2);
    for abi in &ALL {
        let flags = |c: &Kevent| (c.filter, c.flags, c.udata);
        // First registered READABLE; the second asks for WRITABLE: the
        // write filter it added goes, the read filter is added again with
        // the second token (so no filter keeps a different one).
        let c = register(abi, FD, two, Interest::WRITABLE);
        let r = replies(abi, &c, &[0, ENOENT, 0]);
        assert_eq!(registered(abi, r.as_slice()), Err(Failure::AlreadyExists));
        let undo = undo_register(abi, c.as_slice(), r.as_slice());
        let got: [(i32, u32, usize); 2] = [flags(&undo.as_slice()[0]), flags(&undo.as_slice()[1])];
        assert_eq!(
            got,
            [
                (abi.read, abi.add | abi.clear | abi.receipt, two.0),
                (abi.write, abi.delete | abi.receipt, 0)
            ],
            "{}",
            abi.name
        );
        assert!(undo.as_slice().iter().all(|u| u.ident == FD));
        // Same directions as before: nothing to undo.
        let c = register(abi, FD, two, Interest::READABLE | Interest::WRITABLE);
        let r = replies(abi, &c, &[0, 0, 0, 0]);
        assert!(undo_register(abi, c.as_slice(), r.as_slice())
            .as_slice()
            .is_empty());
        // First READABLE | WRITABLE, second READABLE: the write filter is
        // kept, re-added with the second token.
        let c = register(abi, FD, two, Interest::READABLE);
        let r = replies(abi, &c, &[0, 0, 0]);
        let undo = undo_register(abi, c.as_slice(), r.as_slice());
        assert_eq!(undo.as_slice().len(), 1);
        assert_eq!(
            flags(&undo.as_slice()[0]),
            (abi.write, abi.add | abi.clear | abi.receipt, two.0)
        );
        // First WRITABLE, second READABLE | WRITABLE: the read filter goes.
        let c = register(abi, FD, two, Interest::READABLE | Interest::WRITABLE);
        let r = replies(abi, &c, &[ENOENT, 0, 0, 0]);
        let undo = undo_register(abi, c.as_slice(), r.as_slice());
        assert_eq!(undo.as_slice().len(), 1);
        assert_eq!(
            flags(&undo.as_slice()[0]),
            (abi.read, abi.delete | abi.receipt, 0)
        );
    }
}

#[test]
fn deregister_verdicts() {
    for abi in &ALL {
        let c = deregister(abi, FD);
        let s = c.as_slice();
        assert_eq!(s.len(), 2);
        assert!(s.iter().all(|d| d.flags == abi.delete | abi.receipt));
        assert_eq!((s[0].filter, s[1].filter), (abi.read, abi.write));
        let ok = |e: &[i64]| deregistered(abi, replies(abi, &c, e).as_slice());
        assert_eq!(ok(&[0, 0]), Ok(()));
        assert_eq!(ok(&[0, ENOENT]), Ok(()));
        assert_eq!(ok(&[ENOENT, 0]), Ok(()));
        assert_eq!(ok(&[ENOENT, ENOENT]), Err(Failure::NotFound));
        assert_eq!(ok(&[9, 9]), Err(Failure::Os(9)));
    }
}

#[test]
fn layouts_match_each_platforms_header() {
    // 64-bit targets: int64_t aligned to 8.
    assert_eq!(APPLE.layout.size(8, 8), 32);
    assert_eq!(FREEBSD.layout.size(8, 8), 64); // 32 + uint64_t ext[4]
    assert_eq!(FREEBSD11.layout.size(8, 8), 32);
    assert_eq!(DRAGONFLY.layout.size(8, 8), 32);
    assert_eq!(NETBSD.layout.size(8, 8), 40); // u32 filter and flags
    assert_eq!(OPENBSD.layout.size(8, 8), 32);
    // i386 (int64_t aligned to 4) and armv7 (aligned to 8).
    assert_eq!(FREEBSD11.layout.size(4, 4), 20);
    assert_eq!(FREEBSD.layout.size(4, 4), 56);
    assert_eq!(FREEBSD.layout.size(4, 8), 64);
    assert_eq!(NETBSD.layout.size(4, 4), 28);
}

#[test]
fn platform_constants() {
    assert_eq!((APPLE.read, APPLE.write, APPLE.user), (-1, -2, Some(-10)));
    assert_eq!(FREEBSD.user, Some(-11));
    assert_eq!(DRAGONFLY.user, Some(-9));
    assert_eq!((NETBSD.read, NETBSD.write, NETBSD.user), (0, 1, None));
    assert_eq!((OPENBSD.read, OPENBSD.write, OPENBSD.user), (-1, -2, None));
    for abi in &ALL {
        assert_eq!((abi.add, abi.delete, abi.enable), (1, 2, 4));
        assert_eq!((abi.clear, abi.receipt), (0x20, 0x40));
        assert_eq!((abi.error, abi.eof), (0x4000, 0x8000));
    }
}

#[test]
fn timeouts_are_exact_and_saturate() {
    assert_eq!(timespec_parts(Duration::ZERO), (0, 0));
    assert_eq!(timespec_parts(Duration::from_nanos(1)), (0, 1));
    assert_eq!(
        timespec_parts(Duration::new(3, 999_999_999)),
        (3, 999_999_999)
    );
    assert_eq!(
        timespec_parts(Duration::from_secs(MAX_TIMEOUT_SECS - 1)),
        (MAX_TIMEOUT_SECS - 1, 0)
    );
    assert_eq!(timespec_parts(Duration::MAX), (MAX_TIMEOUT_SECS, 0));
}
