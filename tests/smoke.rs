//! A first check that the harness instantiates on every backend.
// Needs socket pairs (and threads), which wasm32-wasip1 lacks; on Windows
// the pair is TCP over loopback (see `common::stream_pair`).
#![cfg(any(unix, windows, rouse_wasip2))]
mod common;
use common::*;
#[cfg(unix)]
use rouse::unix::SourceFd;
use rouse::{Interest, Token};
#[cfg(unix)]
use std::os::fd::AsRawFd;

fn readable_after_write<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (a, b) = stream_pair();
    poll.registry()
        .register(&mut SourceFd(&a.as_raw_fd()), Token(1), Interest::READABLE)
        .unwrap();
    expect_no_event(&mut poll, &mut events, Token(1), SHORT);
    put(&b, b"x");
    let ev = expect_event(&mut poll, &mut events, Token(1), LONG, |e| e.is_readable());
    assert!(!ev.is_writable());
}

backend_tests!(readable_after_write);
