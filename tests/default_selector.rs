//! The selection rule for `Poll::new()`: epoll on Linux/Android when the
//! `epoll` feature is on, kqueue on macOS/iOS/FreeBSD/NetBSD/OpenBSD/DragonFly
//! when the `kqueue` feature is on, poll_oneoff on wasm32-wasip1, wasi-libc's poll on
//! wasm32-wasip2, IOCP on Windows, otherwise poll(2); with `force-poll`, poll(2) on
//! every Unix. `ci/test` runs this with the default features and with
//! `--no-default-features --features std,net,poll`, and `ci/tokio` with `--features force-poll`.

use std::any::type_name;

use rouse::sys::DefaultSelector;
use rouse::{Events, Poll};

#[test]
fn default_selector_follows_features() {
    // The table backends are `TableSelector<Driver, N>`: their driver names
    // them. (`rouse_*` are the cfgs rouse's build.rs sets for the backends
    // a build has.)
    let name = type_name::<DefaultSelector>();
    if cfg!(all(feature = "force-poll", rouse_poll)) {
        // `force-poll` overrides the native backend on every Unix.
        assert!(name.contains("PollDriver"), "{name}");
    } else if cfg!(rouse_epoll) {
        assert!(name.ends_with("EpollSelector"), "{name}");
    } else if cfg!(rouse_kqueue) {
        assert!(name.ends_with("KqueueSelector"), "{name}");
    } else if cfg!(windows) {
        // Windows: the completion port with AFD polls.
        assert!(name.contains("IocpDriver"), "{name}");
    } else if cfg!(rouse_wasip2) {
        // wasm32-wasip2: wasi-libc's poll, the only backend there.
        assert!(name.contains("Wasip2Driver"), "{name}");
    } else if cfg!(target_os = "wasi") {
        // wasm32-wasip1: poll_oneoff, the only backend there.
        assert!(name.contains("WasiDriver"), "{name}");
    } else {
        assert!(name.contains("PollDriver"), "{name}");
    }
}

#[test]
fn poll_new_uses_the_default_selector() {
    let mut poll: Poll<DefaultSelector> = Poll::new().unwrap();
    let mut events: Events<DefaultSelector> = Events::with_capacity(16);
    poll.poll(&mut events, Some(std::time::Duration::ZERO))
        .unwrap();
    assert!(events.is_empty());
}

/// `Registry` and `Poll` lend the backend's own fd where it has one (epoll,
/// kqueue): the same fd from both, readable while a registered source has
/// an event to report, so one `Poll` nests in another loop. (Not with
/// `force-poll`: the default is then poll(2), which lends no fd.)
#[cfg(all(
    unix,
    feature = "std",
    not(feature = "force-poll"),
    any(
        all(feature = "epoll", any(target_os = "linux", target_os = "android")),
        all(
            feature = "kqueue",
            any(
                target_os = "macos",
                target_os = "ios",
                target_os = "freebsd",
                target_os = "netbsd",
                target_os = "openbsd",
                target_os = "dragonfly"
            )
        )
    )
))]
#[test]
fn registry_and_poll_lend_the_backend_fd() {
    use std::io::Write;
    use std::os::fd::{AsFd, AsRawFd};
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    use rouse::unix::SourceFd;
    use rouse::{Interest, Token};

    /// Whether `fd` is readable within `ms` milliseconds, asked of poll(2).
    fn readable(fd: std::os::fd::RawFd, ms: i32) -> bool {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, alive for the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
        n == 1 && pfd.revents & libc::POLLIN != 0
    }

    let mut poll = Poll::new().unwrap();
    let fd = poll.as_raw_fd();
    assert_eq!(poll.registry().as_fd().as_raw_fd(), fd);
    assert_eq!(poll.registry().as_raw_fd(), fd);
    assert_eq!(poll.as_fd().as_raw_fd(), fd);

    let (a, mut b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let raw = a.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&raw), Token(1), Interest::READABLE)
        .unwrap();
    assert!(!readable(fd, 0), "nothing to report yet");
    b.write_all(b"x").unwrap();
    assert!(
        readable(fd, 5_000),
        "an event to report: the fd is readable"
    );
    let mut events = Events::with_capacity(8);
    poll.poll(&mut events, Some(Duration::from_secs(5)))
        .unwrap();
    assert!(events.iter().any(|e| e.token() == Token(1)));
}
