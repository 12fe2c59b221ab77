//! `unix::pipe` on every backend: the flags `new` sets, edge-triggered
//! readiness in both directions, a full pipe resuming on `WRITABLE`, each
//! end's close as seen from the other, `try_io`, the fd conversions, and a
//! child process's stdin, stdout and stderr driven through `Poll`.
#![cfg(all(unix, feature = "std"))]
mod common;
use common::*;

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::process::{Command, Stdio};
use std::time::Instant;

use rouse::unix::pipe::{self, Receiver, Sender};
use rouse::{Interest, Token};

const RX: Token = Token(0);
const TX: Token = Token(1);

/// The fd's status flags (`F_GETFL`) and descriptor flags (`F_GETFD`).
fn flags(fd: RawFd) -> (libc::c_int, libc::c_int) {
    // SAFETY: both only read flags of a descriptor the test owns.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    let fd_flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    assert!(
        fl >= 0 && fd_flags >= 0,
        "fcntl: {}",
        io::Error::last_os_error()
    );
    (fl, fd_flags)
}

fn is_nonblocking(fd: RawFd) -> bool {
    flags(fd).0 & libc::O_NONBLOCK != 0
}

/// Not per backend: no selector is involved.
#[test]
fn new_is_nonblocking_and_close_on_exec() {
    let (sender, receiver) = pipe::new().unwrap();
    for fd in [sender.as_raw_fd(), receiver.as_raw_fd()] {
        let (fl, fd_flags) = flags(fd);
        assert_ne!(fl & libc::O_NONBLOCK, 0, "fd {fd} is blocking");
        assert_ne!(
            fd_flags & libc::FD_CLOEXEC,
            0,
            "fd {fd} is not close-on-exec"
        );
    }
    assert_eq!(
        flags(sender.as_raw_fd()).0 & libc::O_ACCMODE,
        libc::O_WRONLY
    );
    assert_eq!(
        flags(receiver.as_raw_fd()).0 & libc::O_ACCMODE,
        libc::O_RDONLY
    );

    // Nothing written yet: a read would block, and so does not hang.
    let mut buf = [0u8; 8];
    assert_eq!(
        (&receiver).read(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );

    // set_nonblocking toggles O_NONBLOCK and only that.
    let before = flags(receiver.as_raw_fd()).0;
    receiver.set_nonblocking(false).unwrap();
    assert_eq!(flags(receiver.as_raw_fd()).0, before & !libc::O_NONBLOCK);
    receiver.set_nonblocking(false).unwrap();
    assert!(!is_nonblocking(receiver.as_raw_fd()));
    receiver.set_nonblocking(true).unwrap();
    assert_eq!(flags(receiver.as_raw_fd()).0, before);
    sender.set_nonblocking(false).unwrap();
    assert!(!is_nonblocking(sender.as_raw_fd()));
    sender.set_nonblocking(true).unwrap();
    assert!(is_nonblocking(sender.as_raw_fd()));
}

fn receiver_is_edge_triggered<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (mut sender, mut receiver) = pipe::new().unwrap();
    poll.registry()
        .register(&mut receiver, RX, Interest::READABLE)
        .unwrap();
    expect_no_event(&mut poll, &mut events, RX, SHORT);

    sender.write_all(b"abc").unwrap();
    let event = expect_event(&mut poll, &mut events, RX, LONG, |e| e.is_readable());
    assert!(!event.is_read_closed(), "[{}] {event:?}", S::NAME);
    expect_no_event(&mut poll, &mut events, RX, SHORT);
    assert_eq!(drain(&receiver), b"abc");

    // Each round is a new edge: the WouldBlock that ended the drain
    // re-armed READABLE on the backends that need it.
    for round in 0..3u8 {
        (&sender).write_all(&[round; 5]).unwrap();
        expect_event(&mut poll, &mut events, RX, LONG, |e| e.is_readable());
        let mut got = [0u8; 5];
        assert_eq!((&receiver).read(&mut got).unwrap(), 5);
        assert_eq!(got, [round; 5]);
        assert_eq!(
            receiver.read(&mut got).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        expect_no_event(&mut poll, &mut events, RX, SHORT);
    }
}

/// A read shorter than its buffer means the pipe is drained (as tokio
/// assumes): the next write is reported without a read to `WouldBlock`.
fn short_read_rearms<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (mut sender, mut receiver) = pipe::new().unwrap();
    poll.registry()
        .register(&mut receiver, RX, Interest::READABLE)
        .unwrap();
    let mut buf = [0u8; 64];
    for round in 0..3u8 {
        sender.write_all(&[round; 3]).unwrap();
        expect_event(&mut poll, &mut events, RX, LONG, |e| e.is_readable());
        assert_eq!(receiver.read(&mut buf).unwrap(), 3, "[{}]", S::NAME);
        assert_eq!(&buf[..3], &[round; 3]);
    }
}

fn full_pipe_resumes_on_writable<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (mut sender, mut receiver) = pipe::new().unwrap();
    poll.registry()
        .register(&mut sender, TX, Interest::WRITABLE)
        .unwrap();
    poll.registry()
        .register(&mut receiver, RX, Interest::READABLE)
        .unwrap();
    expect_event(&mut poll, &mut events, TX, LONG, |e| e.is_writable());

    // Fill the pipe (64 KiB on Linux; bounded in case a system's is huge).
    let chunk = [7u8; 4096];
    let mut written = 0usize;
    loop {
        assert!(written < 64 << 20, "[{}] the pipe never filled", S::NAME);
        match sender.write(&chunk) {
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("[{}] write: {e}", S::NAME),
        }
    }
    assert!(written > 0);
    expect_no_event(&mut poll, &mut events, TX, SHORT);

    // Drain it from the reading side; the sender becomes writable again.
    let mut read = 0usize;
    let deadline = Instant::now() + LONG;
    while read < written {
        assert!(Instant::now() < deadline, "[{}] drain timed out", S::NAME);
        let got = drain(&receiver);
        assert!(got.iter().all(|&b| b == 7));
        read += got.len();
        if read < written {
            expect_event(&mut poll, &mut events, RX, LONG, |e| e.is_readable());
        }
    }
    assert_eq!(read, written);
    expect_event(&mut poll, &mut events, TX, LONG, |e| e.is_writable());
    // And write through `&Sender` with a vectored write.
    let bufs = [io::IoSlice::new(b"tail"), io::IoSlice::new(b"!")];
    assert_eq!((&sender).write_vectored(&bufs).unwrap(), 5);
    (&sender).flush().unwrap();
    expect_event(&mut poll, &mut events, RX, LONG, |e| e.is_readable());
    let mut a = [0u8; 2];
    let mut b = [0u8; 8];
    let mut bufs = [io::IoSliceMut::new(&mut a), io::IoSliceMut::new(&mut b)];
    assert_eq!(receiver.read_vectored(&mut bufs).unwrap(), 5);
    assert_eq!((&a, &b[..3]), (b"ta", &b"il!"[..]));
}

fn sender_closed_is_read_closed<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (mut sender, mut receiver) = pipe::new().unwrap();
    poll.registry()
        .register(&mut receiver, RX, Interest::READABLE)
        .unwrap();
    // Data, read in full, then the close: the close is an edge of its own.
    sender.write_all(b"last").unwrap();
    expect_event(&mut poll, &mut events, RX, LONG, |e| e.is_readable());
    assert_eq!(drain(&receiver), b"last");
    drop(sender);
    expect_event(&mut poll, &mut events, RX, LONG, |e| e.is_read_closed());
    let mut buf = [0u8; 4];
    assert_eq!(receiver.read(&mut buf).unwrap(), 0);
    poll.registry().deregister(&mut receiver).unwrap();
}

/// The reader goes while the sender, reported writable, has written
/// nothing: the close is an edge of its own on every backend.
fn receiver_closed_after_writable<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (mut sender, receiver) = pipe::new().unwrap();
    poll.registry()
        .register(&mut sender, TX, Interest::WRITABLE)
        .unwrap();
    expect_event(&mut poll, &mut events, TX, LONG, |e| e.is_writable());
    drop(receiver);
    expect_event(&mut poll, &mut events, TX, LONG, |e| {
        e.is_write_closed() || e.is_error()
    });
    assert_eq!(
        sender.write(b"x").unwrap_err().kind(),
        io::ErrorKind::BrokenPipe
    );
}

/// The reader goes while the sender waits to write into a full pipe.
fn receiver_closed_is_seen_by_the_sender<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (mut sender, receiver) = pipe::new().unwrap();
    poll.registry()
        .register(&mut sender, TX, Interest::WRITABLE)
        .unwrap();
    expect_event(&mut poll, &mut events, TX, LONG, |e| e.is_writable());
    // A sender waiting to write: the pipe is full.
    let chunk = [1u8; 4096];
    let mut written = 0usize;
    loop {
        assert!(written < 64 << 20, "[{}] the pipe never filled", S::NAME);
        match sender.write(&chunk) {
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("[{}] write: {e}", S::NAME),
        }
    }
    drop(receiver);
    // epoll and poll(2) report POLLERR on a write end without readers.
    expect_event(&mut poll, &mut events, TX, LONG, |e| {
        e.is_write_closed() || e.is_error()
    });
    // The test binary ignores SIGPIPE (as every Rust program does).
    assert_eq!(
        sender.write(b"x").unwrap_err().kind(),
        io::ErrorKind::BrokenPipe
    );
}

fn try_io_rearms<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (sender, mut receiver) = pipe::new().unwrap();
    poll.registry()
        .register(&mut receiver, RX, Interest::READABLE)
        .unwrap();
    // A read of the caller's own, through try_io, to WouldBlock.
    let raw_read = |buf: &mut [u8]| {
        receiver.try_io(|| {
            // SAFETY: `buf` is valid for writes of its length; the fd is the
            // receiver's, open while it is borrowed.
            let n = unsafe { libc::read(receiver.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        })
    };
    for round in 0..3u8 {
        // And a write of the caller's own through the sender's try_io.
        let n = sender
            .try_io(|| {
                // SAFETY: writes one byte from a local; the fd is the sender's.
                let n = unsafe { libc::write(sender.as_raw_fd(), [round].as_ptr().cast(), 1) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            })
            .unwrap();
        assert_eq!(n, 1);
        expect_event(&mut poll, &mut events, RX, LONG, |e| e.is_readable());
        let mut buf = [0u8; 4];
        assert_eq!(raw_read(&mut buf).unwrap(), 1);
        assert_eq!(buf[0], round);
        assert_eq!(
            raw_read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }
}

fn fd_conversions<S: Backend>() {
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    let (sender, receiver) = pipe::new().unwrap();
    let (tx_fd, rx_fd) = (sender.as_raw_fd(), receiver.as_raw_fd());
    assert_eq!(sender.as_fd().as_raw_fd(), tx_fd);
    assert!(format!("{sender:?}").contains(&tx_fd.to_string()));
    assert!(format!("{receiver:?}").starts_with("Receiver"));

    // Out to raw fds and back in, through both conversions each way.
    let raw = sender.into_raw_fd();
    assert_eq!(raw, tx_fd);
    // SAFETY: `raw` is the open write end `into_raw_fd` gave up.
    let sender = unsafe { Sender::from_raw_fd(raw) };
    let owned = OwnedFd::from(receiver);
    assert_eq!(owned.as_raw_fd(), rx_fd);
    let mut receiver = Receiver::from(owned);
    let mut sender = Sender::from(OwnedFd::from(sender));
    assert_eq!((sender.as_raw_fd(), receiver.as_raw_fd()), (tx_fd, rx_fd));

    poll.registry()
        .register(&mut receiver, RX, Interest::READABLE)
        .unwrap();
    sender.write_all(b"still a pipe").unwrap();
    assert_eq!(
        read_exactly(&mut poll, &mut events, RX, &receiver, 12),
        b"still a pipe"
    );
    // Registered once: a second register is refused, as for any source.
    assert!(poll
        .registry()
        .register(&mut receiver, RX, Interest::READABLE)
        .is_err());
    poll.registry().deregister(&mut receiver).unwrap();
    sender.write_all(b"!").unwrap();
    expect_no_event(&mut poll, &mut events, RX, SHORT);
}

/// A child's stdin and stdout as pipe ends: `cat` echoes what the sender
/// writes, all of it driven by one `Poll`, with partial writes resumed on
/// `WRITABLE`; closing stdin ends `cat`, which closes its stdout.
fn child_stdio_echo<S: Backend>() {
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawning cat");
    let mut sender = Some(Sender::from(child.stdin.take().unwrap()));
    let mut receiver = Receiver::from(child.stdout.take().unwrap());
    // std hands its pipes out blocking.
    assert!(!is_nonblocking(receiver.as_raw_fd()));
    sender.as_ref().unwrap().set_nonblocking(true).unwrap();
    receiver.set_nonblocking(true).unwrap();

    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    poll.registry()
        .register(sender.as_mut().unwrap(), TX, Interest::WRITABLE)
        .unwrap();
    poll.registry()
        .register(&mut receiver, RX, Interest::READABLE)
        .unwrap();

    // More than a pipe holds, so the sender meets WouldBlock.
    let data: Vec<u8> = (0..512 * 1024u32).map(|i| (i % 251) as u8).collect();
    let mut sent = 0;
    let mut echoed = Vec::with_capacity(data.len());
    let mut closed = false;
    let deadline = Instant::now() + LONG * 4;
    while !closed {
        assert!(
            Instant::now() < deadline,
            "[{}] echo through cat timed out: sent {sent}, echoed {}",
            S::NAME,
            echoed.len()
        );
        if let Some(tx) = sender.as_mut() {
            while sent < data.len() {
                match tx.write(&data[sent..]) {
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("[{}] write to cat: {e}", S::NAME),
                }
            }
            if sent == data.len() {
                // All sent: closing stdin lets cat finish.
                poll.registry().deregister(tx).unwrap();
                sender = None;
            }
        }
        let mut buf = [0u8; 16 * 1024];
        loop {
            match receiver.read(&mut buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => echoed.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("[{}] read from cat: {e}", S::NAME),
            }
        }
        if !closed {
            poll.poll(&mut events, Some(LONG)).unwrap();
        }
    }
    assert_eq!(echoed.len(), data.len(), "[{}]", S::NAME);
    assert!(echoed == data, "[{}] cat echoed other bytes", S::NAME);
    assert!(child.wait().unwrap().success());
}

/// A child's stderr as a receiver, with its close after the child exits.
fn child_stderr<S: Backend>() {
    let mut child = Command::new("sh")
        .args(["-c", "echo to-stderr >&2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning sh");
    let mut receiver = Receiver::from(child.stderr.take().unwrap());
    receiver.set_nonblocking(true).unwrap();
    let mut poll = new_poll::<S>();
    let mut events = new_events::<S>();
    poll.registry()
        .register(&mut receiver, RX, Interest::READABLE)
        .unwrap();
    assert_eq!(
        read_exactly(&mut poll, &mut events, RX, &receiver, 10),
        b"to-stderr\n"
    );
    assert!(child.wait().unwrap().success());
    let mut buf = [0u8; 4];
    // The child has exited, so its end is closed: end-of-file (or, if the
    // read came first, an event for the close).
    let deadline = Instant::now() + LONG;
    loop {
        assert!(Instant::now() < deadline, "[{}] no end-of-file", S::NAME);
        match receiver.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => panic!("[{}] unexpected {n} more bytes", S::NAME),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                expect_event(&mut poll, &mut events, RX, LONG, |e| e.is_read_closed());
            }
            Err(e) => panic!("[{}] read: {e}", S::NAME),
        }
    }
}

backend_tests!(
    receiver_is_edge_triggered,
    short_read_rearms,
    full_pipe_resumes_on_writable,
    sender_closed_is_read_closed,
    receiver_closed_after_writable,
    receiver_closed_is_seen_by_the_sender,
    try_io_rearms,
    fd_conversions,
    child_stdio_echo,
    child_stderr,
);
