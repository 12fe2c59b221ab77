//! rouse on a 16 KiB thread stack: an echo loop over four socket pairs,
//! with its `Poll`, `Events` and read buffer on the stack of a thread
//! spawned with `std::thread::Builder::stack_size(16 * 1024)`, on every
//! backend (the poll(2) table inline on that stack in the no-std build).
//!
//! The thread's stack is painted before the loop runs and read after it,
//! so the test also reports (and bounds) how much of it was used, counted
//! from the top of the thread's stack: the thread start code, its TLS and
//! `pthread` block and the loop. (Where glibc's smallest thread stack is
//! larger, as the 128 KiB of aarch64, the thread gets that, and the
//! bound is still checked against 16 KiB.)
// pthread_getattr_np: glibc and musl on Linux.
#![cfg(target_os = "linux")]
mod common;
use common::*;

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use rouse::unix::SourceFd;
use rouse::{Events, Interest, Poll, Token};

/// The thread's stack: 16 KiB for optimised code. Unoptimised code (a
/// plain `cargo test`) keeps many more temporaries on the stack and needs
/// more; `ci/size` runs this test with `--release` for the 16 KiB figure.
const STACK: usize = if cfg!(debug_assertions) { 256 } else { 16 } * 1024;
const PAIRS: usize = 4;
const BYTES_PER_PAIR: usize = 64 * 1024;
const PAINT: u8 = 0xA5;

/// The lowest and one-past-highest address of the calling thread's stack.
fn stack_bounds() -> (usize, usize) {
    // SAFETY: `attr` is initialised by pthread_getattr_np before it is
    // read, and destroyed once; the out-pointers are valid locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        assert_eq!(libc::pthread_getattr_np(libc::pthread_self(), &mut attr), 0);
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        assert_eq!(libc::pthread_attr_getstack(&attr, &mut addr, &mut size), 0);
        libc::pthread_attr_destroy(&mut attr);
        (addr as usize, addr as usize + size)
    }
}

/// Fills the unused part of this thread's stack (from its lowest address
/// to 1 KiB below this frame) with `PAINT`.
#[inline(never)]
fn paint(low: usize) {
    let here = std::hint::black_box(0u8);
    let below = std::ptr::addr_of!(here) as usize - 1024;
    for addr in low..below {
        // SAFETY: [low, below) is this thread's own stack, below every
        // live frame (the frames grow down from above `below`), and no
        // other code uses it until this function returns.
        unsafe { std::ptr::write_volatile(addr as *mut u8, PAINT) };
    }
}

/// Bytes of the stack used since `paint`: from the top down to the
/// lowest byte that is not paint.
fn used_since_paint(low: usize, top: usize) -> usize {
    let mut addr = low;
    // SAFETY: reads this thread's own stack below the live frames, which
    // is mapped memory of the thread's stack.
    while addr < top && unsafe { std::ptr::read_volatile(addr as *const u8) } == PAINT {
        addr += 1;
    }
    top - addr
}

/// The echo loop: echoes whatever the `servers` ends receive until
/// `total` bytes have been echoed, with everything on this stack.
#[inline(never)]
fn echo<S: Backend>(servers: &mut [UnixStream; PAIRS], total: usize) {
    let mut poll: Poll<S> = new_poll::<S>();
    let mut events = Events::<S, 16>::new();
    for (i, s) in servers.iter().enumerate() {
        poll.registry()
            .register(&mut SourceFd(&s.as_raw_fd()), Token(i), Interest::READABLE)
            .unwrap();
    }
    let mut buf = [0u8; 1024];
    let mut echoed = 0;
    let deadline = Instant::now() + LONG * 4;
    while echoed < total {
        assert!(Instant::now() < deadline, "[{}] echo stalled", S::NAME);
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        for event in events.iter() {
            let i = event.token().0;
            let stream = &mut servers[i];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        // The client reads as it writes, so this never
                        // waits for long.
                        let mut sent = 0;
                        while sent < n {
                            match stream.write(&buf[sent..n]) {
                                Ok(m) => sent += m,
                                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                                    std::thread::yield_now()
                                }
                                Err(e) => panic!("write: {e}"),
                            }
                        }
                        echoed += n;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("read: {e}"),
                }
            }
            // Drained to WouldBlock: re-arm (poll(2) needs it for a raw fd).
            poll.registry()
                .reregister(
                    &mut SourceFd(&stream.as_raw_fd()),
                    Token(i),
                    Interest::READABLE,
                )
                .unwrap();
        }
    }
}

fn serves_on_a_16_kib_thread_stack<S: Backend>() {
    let (clients, servers): (Vec<_>, Vec<_>) = (0..PAIRS).map(|_| stream_pair()).unzip();
    let mut servers: [UnixStream; PAIRS] = servers.try_into().unwrap();
    let total = PAIRS * BYTES_PER_PAIR;

    let server = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let (low, top) = stack_bounds();
            paint(low);
            echo::<S>(&mut servers, total);
            (used_since_paint(low, top), top - low)
        })
        .unwrap();

    // Each client writes its bytes in chunks and reads the echo back.
    for (k, mut client) in clients.into_iter().enumerate() {
        client.set_nonblocking(false).unwrap();
        let pattern: Vec<u8> = (0..BYTES_PER_PAIR).map(|i| (i * 7 + k) as u8).collect();
        let mut back = vec![0u8; BYTES_PER_PAIR];
        for (chunk, out) in pattern.chunks(4096).zip(back.chunks_mut(4096)) {
            client.write_all(chunk).unwrap();
            client.read_exact(out).unwrap();
        }
        assert!(
            back == pattern,
            "[{}] client {k}: wrong bytes back",
            S::NAME
        );
    }
    let (used, size) = server.join().expect("the server thread failed");
    println!(
        "[{}] echo loop on a thread stack of {size} bytes (asked for {STACK}, {}): {used} bytes used",
        S::NAME,
        if cfg!(debug_assertions) {
            "unoptimised"
        } else {
            "optimised"
        }
    );
    assert!(
        used <= STACK,
        "[{}] used {used} bytes of stack, more than {STACK}",
        S::NAME
    );
}

backend_tests!(serves_on_a_16_kib_thread_stack);
