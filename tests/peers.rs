//! Peers that misbehave, against the tcp_echo example's own server
//! (examples/tcp_echo/), on every backend:
//!
//! * a client that half-closes (shuts down its write side) gets every
//!   byte back, then end-of-file; the server closes its side;
//! * a client that resets the connection (SO_LINGER 0) while the server's
//!   writes to it are blocked: the server's next write fails (`EPIPE` or
//!   `ECONNRESET`), it closes that connection (an error it reports) and
//!   keeps serving the others;
//! * a client that connects and sends nothing: the server keeps it open,
//!   gets no event for it (no busy loop) and serves the others; when it
//!   closes, the server closes its side.
#![cfg(all(unix, feature = "net"))]
mod common;
mod echo;
use common::*;
use echo::{all_echoed, Client, Harness};

use std::os::fd::AsRawFd;

use rouse::Token;

fn half_close_gets_every_byte_then_end_of_file<S: Backend>() {
    let mut h = Harness::<S>::new();
    let mut clients = [Client::connect(h.addr, 1, 300_000)];
    h.run_until(&mut clients, "the half-closed client is echoed", |_, c| {
        all_echoed(c)
    });
    h.run_until(&mut [], "the server closes its side", |h, _| {
        h.server.open() == 0
    });
    let stats = h.server.stats();
    assert_eq!(
        (stats.accepted, stats.closed_on_error),
        (1, 0),
        "[{}]",
        S::NAME
    );
}

fn reset_mid_write_closes_only_that_connection<S: Backend>() {
    let mut h = Harness::<S>::new();
    // It sends up to 64 MB and reads nothing: the server's writes back
    // block once both directions' buffers are full.
    let mut resetter = Client::connect(h.addr, 2, 64 << 20);
    resetter.reads = false;
    let mut resetters = [resetter];
    let mut stuck_turns = 0;
    let mut last = 0;
    h.run_until(&mut resetters, "the server's writes block", |_, c| {
        // Both directions full: the client cannot send any more.
        if c[0].sent == last {
            stuck_turns += 1;
        } else {
            (stuck_turns, last) = (0, c[0].sent);
        }
        stuck_turns > 20
    });
    assert!(
        resetters[0].sent < 64 << 20,
        "[{}] the buffers held 64 MB",
        S::NAME
    );
    let [resetter] = resetters;
    // Reset: close with SO_LINGER 0 and unread data.
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: sets SO_LINGER from a linger struct of the right size on the
    // client's open socket.
    let ret = unsafe {
        libc::setsockopt(
            resetter.stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(ret, 0);
    drop(resetter);

    // Another client is served meanwhile and after.
    let mut clients = [Client::connect(h.addr, 3, 100_000)];
    h.run_until(&mut clients, "the other client is echoed", |h, c| {
        all_echoed(c) && h.server.open() == 0
    });
    let stats = h.server.stats();
    assert_eq!(stats.accepted, 2, "[{}] {stats:?}", S::NAME);
    assert_eq!(
        stats.closed_on_error,
        1,
        "[{}] the reset is an error on that connection: {stats:?}",
        S::NAME
    );
}

fn silent_client_is_kept_without_events<S: Backend>() {
    let mut h = Harness::<S>::new();
    let silent = std::net::TcpStream::connect(h.addr).unwrap();
    h.run_until(&mut [], "the silent client is accepted", |h, _| {
        h.server.stats().accepted == 1
    });
    // It is connection 0. Others come and go while it says nothing.
    let mut clients = [Client::connect(h.addr, 4, 50_000)];
    h.run_until(&mut clients, "the other client is echoed", |_, c| {
        all_echoed(c)
    });
    h.run_until(&mut [], "the other connection is closed", |h, _| {
        h.server.open() == 1
    });
    let mut events_for_silent = 0;
    for _ in 0..20 {
        events_for_silent += h.turn().iter().filter(|&&t| t == Token(0)).count();
    }
    assert_eq!(
        events_for_silent,
        0,
        "[{}] events for a silent client",
        S::NAME
    );
    assert_eq!(
        h.server.open(),
        1,
        "[{}] the silent client is kept",
        S::NAME
    );

    drop(silent);
    h.run_until(&mut [], "the server closes the silent one", |h, _| {
        h.server.open() == 0
    });
    assert_eq!(h.server.stats().closed_on_error, 0, "[{}]", S::NAME);
}

backend_tests!(
    half_close_gets_every_byte_then_end_of_file,
    reset_mid_write_closes_only_that_connection,
    silent_client_is_kept_without_events,
);
