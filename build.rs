//! Build-time facts rouse's code depends on, as `cfg`s (no dependencies).
//!
//! Which backends a build has. Each target list is written here once, so
//! `src/sys/mod.rs` (and the tests) name a backend with one short `cfg`:
//!
//! | cfg | set when |
//! |---|---|
//! | `rouse_epoll` | feature `epoll`, target Linux or Android |
//! | `rouse_kqueue` | feature `kqueue`, target macOS, iOS, FreeBSD, NetBSD, OpenBSD or DragonFly |
//! | `rouse_kqueue_os` | the target is one of those (whatever the features) |
//! | `rouse_poll` | feature `poll`, target a Unix |
//! | `rouse_wasi` | feature `wasi`, target WASI 0.1 (wasm32-wasip1: `poll_oneoff`) |
//! | `rouse_wasip2` | feature `wasi`, target WASI 0.2 (wasm32-wasip2: wasi-libc's poll) |
//! | `rouse_iocp` | features `iocp` and `std`, target Windows |
//! | `rouse_table` | any of `rouse_poll`, `rouse_wasi`, `rouse_wasip2`, `rouse_iocp` (the table backends) |
//! | `rouse_sock_flags` | `socket`/`accept4` take `SOCK_NONBLOCK \| SOCK_CLOEXEC` |
//! | `rouse_raw_syscalls` | glibc on 64-bit x86, ARM or RISC-V Linux, unless `ROUSE_LIBC_CALLS` is set, a sanitizer is on or Miri runs: the hot-path system calls skip glibc's cancellation bookkeeping (`src/sys/unix/syscall.rs`) |
//!
//! What the compiler has:
//!
//! * `rouse_storage_full`: std has `io::ErrorKind::StorageFull` (stable
//!   since Rust 1.83). On older compilers a full table reports
//!   `ErrorKind::OutOfMemory` instead (see `rouse::io::TABLE_FULL`).
//! * `rouse_core_error`: `core::error::Error` exists (Rust 1.81), so the
//!   no-std `rouse::io::Error` implements it.
//! * `rouse_new_uninit`: `Arc::new_uninit` exists (Rust 1.82), so a table
//!   backend's state is made in one allocation.
//!
//! It only reads cargo's environment and `rustc --version`; it never fails
//! the build: a compiler it cannot ask is taken to be the oldest supported
//! (1.75).

use std::env;
use std::process::Command;

const KQUEUE_OS: &[&str] = &["macos", "ios", "freebsd", "netbsd", "openbsd", "dragonfly"];
const EPOLL_OS: &[&str] = &["linux", "android"];
const SOCK_FLAGS_OS: &[&str] = &[
    "linux",
    "android",
    "freebsd",
    "dragonfly",
    "netbsd",
    "openbsd",
    "illumos",
];
/// Where glibc's `syscall(2)` makes the hot-path calls (see
/// `src/sys/unix/syscall.rs`): the same system call numbers and argument
/// layouts on every kernel Rust supports there.
const RAW_SYSCALL_ARCH: &[&str] = &["x86_64", "aarch64", "riscv64"];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
    println!("cargo:rerun-if-env-changed=ROUSE_LIBC_CALLS");

    let minor = rustc_minor();
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let family = env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    let unix = family.split(',').any(|f| f == "unix");
    let windows = family.split(',').any(|f| f == "windows");
    let feature =
        |name: &str| env::var_os(format!("CARGO_FEATURE_{}", name.to_uppercase())).is_some();

    let epoll = feature("epoll") && EPOLL_OS.contains(&os.as_str());
    let kqueue_os = KQUEUE_OS.contains(&os.as_str());
    let poll = feature("poll") && unix;
    let env = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    // wasm32-wasip1 says `p1` (`wasm32-wasi`, before Rust 1.78, nothing);
    // wasm32-wasip2 says `p2`. Later WASI versions have no backend yet.
    let wasi_os = os == "wasi";
    let wasi = feature("wasi") && wasi_os && (env.is_empty() || env == "p1");
    let wasip2 = feature("wasi") && wasi_os && env == "p2";
    let iocp = feature("iocp") && feature("std") && windows;
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let width = env::var("CARGO_CFG_TARGET_POINTER_WIDTH").unwrap_or_default();
    let libc_calls = env::var_os("ROUSE_LIBC_CALLS").is_some_and(|v| !v.is_empty() && v != "0");
    // The sanitizers see system calls through libc's functions only.
    let sanitized = env::var("CARGO_ENCODED_RUSTFLAGS").is_ok_and(|f| f.contains("sanitizer"));
    // Nor does Miri, which interprets libc's functions (cargo miri sets
    // this for build scripts).
    let miri = env::var_os("CARGO_CFG_MIRI").is_some();
    let raw_syscalls = os == "linux"
        && env == "gnu"
        && width == "64"
        && RAW_SYSCALL_ARCH.contains(&arch.as_str())
        && !libc_calls
        && !sanitized
        && !miri;
    let cfgs = [
        ("rouse_epoll", epoll),
        ("rouse_kqueue", feature("kqueue") && kqueue_os),
        ("rouse_kqueue_os", kqueue_os),
        ("rouse_poll", poll),
        ("rouse_wasi", wasi),
        ("rouse_wasip2", wasip2),
        ("rouse_iocp", iocp),
        ("rouse_table", poll || wasi || wasip2 || iocp),
        ("rouse_sock_flags", SOCK_FLAGS_OS.contains(&os.as_str())),
        ("rouse_raw_syscalls", raw_syscalls),
        ("rouse_storage_full", minor.is_some_and(|m| m >= 83)),
        ("rouse_core_error", minor.is_some_and(|m| m >= 81)),
        ("rouse_new_uninit", minor.is_some_and(|m| m >= 82)),
    ];
    // Each cfg is declared to rustc's cfg checker (Rust 1.80 and later;
    // older cargos warn about the line), then set if it holds.
    let checks_cfgs = minor.is_some_and(|m| m >= 80);
    for (cfg, on) in cfgs {
        if checks_cfgs {
            println!("cargo:rustc-check-cfg=cfg({cfg})");
        }
        if on {
            println!("cargo:rustc-cfg={cfg}");
        }
    }
}

/// The minor version of the compiler cargo builds with (`1.MINOR.x`).
fn rustc_minor() -> Option<u32> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    // "rustc 1.83.0 (90b35a623 2024-11-26)", "rustc 1.85.0-nightly (...)"
    let version = text.split_whitespace().nth(1)?;
    let mut parts = version.split(['.', '-']);
    if parts.next()? != "1" {
        return None;
    }
    parts.next()?.parse().ok()
}
