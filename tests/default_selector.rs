//! The selection rule for `Poll::new()`: epoll on Linux/Android when the
//! `epoll` feature is on, kqueue on macOS/iOS/FreeBSD/NetBSD/OpenBSD/DragonFly
//! when the `kqueue` feature is on, poll_oneoff on wasm32-wasip1, wasi-libc's poll on
//! wasm32-wasip2, IOCP on Windows, otherwise poll(2). `ci/test` runs this
//! with the default features and with `--no-default-features --features std,net,poll`.

use std::any::type_name;

use rouse::sys::DefaultSelector;
use rouse::{Events, Poll};

#[test]
fn default_selector_follows_features() {
    // The table backends are `TableSelector<Driver, N>`: their driver names
    // them. (`rouse_*` are the cfgs rouse's build.rs sets for the backends
    // a build has.)
    let name = type_name::<DefaultSelector>();
    if cfg!(rouse_epoll) {
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
