//! Build-time facts rouse's code depends on, as `cfg`s (no dependencies):
//!
//! * `rouse_storage_full`: the compiler's std has `io::ErrorKind::StorageFull`
//!   (stable since Rust 1.83). On older compilers a full table reports
//!   `ErrorKind::OutOfMemory` instead (see `rouse::io::TABLE_FULL`).
//! * `rouse_core_error`: `core::error::Error` exists (Rust 1.81), so the
//!   no-std `rouse::io::Error` implements it.
//!
//! It only reads `rustc --version`; it never fails the build: a compiler it
//! cannot ask is taken to be the oldest supported (1.75).

use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
    let minor = rustc_minor();
    // Each cfg is declared to rustc's cfg checker (Rust 1.80 and later;
    // older cargos warn about the line), then set if the compiler has it.
    let checks_cfgs = minor.is_some_and(|minor| minor >= 80);
    for (cfg, since) in [("rouse_storage_full", 83), ("rouse_core_error", 81)] {
        if checks_cfgs {
            println!("cargo:rustc-check-cfg=cfg({cfg})");
        }
        if minor.is_some_and(|minor| minor >= since) {
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
