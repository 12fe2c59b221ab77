//! Random register / reregister / deregister / lookup sequences against the
//! token table (the registrations of the poll(2) and WASI backends),
//! checked after every step against a model: a plain list kept in the same
//! dense order (removal moves the last entry into the hole).
//!
//! Checked: no lost, duplicated or stale entry (the table equals the model
//! entry for entry); registering a registered fd is `AlreadyExists`, a full
//! table `StorageFull`, a missing fd `NotFound`, and a failed call changes
//! nothing; every registration gets a generation no earlier one had, and
//! `find_exact` finds exactly the live `(fd, generation)` pairs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rouse::__fuzz::{Entry, TokenTable};
use rouse::io::ErrorKind;
use rouse::{Interest, Token};

const N: usize = 8;
/// fds 0..FDS: more than the table holds, so it fills up.
const FDS: u8 = 12;

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

fn token(a: u8, b: u8) -> Token {
    // Small tokens, and some at the top of the range.
    match a >> 6 {
        3 => Token(usize::MAX - usize::from(b)),
        _ => Token(usize::from(a) << 8 | usize::from(b)),
    }
}

fn check(table: &TokenTable<N>, model: &[Entry]) {
    assert_eq!(table.len(), model.len());
    assert_eq!(table.is_empty(), model.is_empty());
    for (i, want) in model.iter().enumerate() {
        assert_eq!(table.entry(i), Some(*want), "entry {i}");
    }
    assert_eq!(table.entry(model.len()), None);
    for fd in 0..i32::from(FDS) {
        assert_eq!(
            table.find(fd),
            model.iter().position(|e| e.raw == fd),
            "find({fd})"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let mut table = TokenTable::<N>::default();
    let mut model: Vec<Entry> = Vec::new();
    // Every generation handed out so far, in order.
    let mut gens: Vec<u32> = Vec::new();

    for op in data.chunks_exact(4) {
        let fd = i32::from(op[1] % FDS);
        let at = model.iter().position(|e| e.raw == fd);
        match op[0] % 5 {
            0 => {
                let (t, i) = (token(op[2], op[3]), interests(op[3] >> 3));
                let got = table.insert(fd, t, i);
                if at.is_some() {
                    assert_eq!(got.unwrap_err().kind(), ErrorKind::AlreadyExists);
                } else if model.len() == N {
                    let err = got.unwrap_err();
                    assert_eq!(err.kind(), ErrorKind::StorageFull);
                    assert!(err.to_string().contains(&N.to_string()), "{err}");
                } else {
                    let e = got.expect("insert into a table with room");
                    assert_eq!((e.raw, e.token, e.interests), (fd, t, i));
                    assert!(!gens.contains(&e.gen), "generation {} reused", e.gen);
                    gens.push(e.gen);
                    model.push(e);
                }
            }
            1 => {
                let (t, i) = (token(op[2], op[3]), interests(op[3] >> 3));
                match (table.update(fd, t, i), at) {
                    (Ok(idx), Some(want)) => {
                        assert_eq!(idx, want);
                        model[want].token = t;
                        model[want].interests = i;
                    }
                    (Err(e), None) => assert_eq!(e.kind(), ErrorKind::NotFound),
                    (got, want) => panic!("update({fd}): {got:?}, model {want:?}"),
                }
            }
            2 => match (table.remove(fd), at) {
                (Ok(idx), Some(want)) => {
                    assert_eq!(idx, want);
                    model.swap_remove(want);
                }
                (Err(e), None) => assert_eq!(e.kind(), ErrorKind::NotFound),
                (got, want) => panic!("remove({fd}): {got:?}, model {want:?}"),
            },
            3 => {
                // A handle from any registration so far (most are stale),
                // with any hint.
                if let Some(&gen) = gens.get(usize::from(op[2]) % gens.len().max(1)) {
                    let hint = usize::from(op[3]);
                    let want = model.iter().position(|e| e.raw == fd && e.gen == gen);
                    assert_eq!(table.find_exact(hint, fd, gen), want);
                }
            }
            _ => {
                // Reading every registration back, as a poll does.
                let mut tokens: Vec<(i32, Token)> = (0..table.len())
                    .map(|i| table.entry(i).map(|e| (e.raw, e.token)))
                    .collect::<Option<_>>()
                    .expect("entries below len");
                let mut fds: Vec<i32> = tokens.iter().map(|t| t.0).collect();
                fds.sort_unstable();
                fds.dedup();
                assert_eq!(fds.len(), tokens.len(), "an fd is in the table twice");
                tokens.sort_unstable();
                let mut want: Vec<(i32, Token)> = model.iter().map(|e| (e.raw, e.token)).collect();
                want.sort_unstable();
                assert_eq!(tokens, want);
            }
        }
        check(&table, &model);
    }
    // Deregistering everything empties it.
    for e in model.clone() {
        table.remove(e.raw).expect("removing a registered fd");
    }
    assert!(table.is_empty());
});
