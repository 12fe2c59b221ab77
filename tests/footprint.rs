//! RAM: the size of `Poll<S>`, `Registry<S>`, `Events<S, N>` and the
//! async `Reactor<S, N>` per backend, and the one heap allocation a table
//! backend makes with `std`, checked against the formulas in N that SIZE.md
//! prints (`ci/size` runs this test and copies its table there), so the
//! table cannot drift from the code.
//!
//! The formulas are in one place, [`formulas`]: when a layout changes,
//! this test fails naming the row and the sizes it measured; update the
//! row there and run `ci/size`.
//!
//! The figures are target-specific (pointer width, `epoll_event`'s
//! packing), so the formulas are given for the targets SIZE.md reports:
//! x86_64 and 32-bit ARM Linux for epoll and poll(2) (`ci/size` runs the
//! armv7 build under qemu), wasm32-wasip1 for the WASI backend (under
//! wasmtime) and x86_64 Windows for IOCP (under wine). Elsewhere this
//! file compiles to nothing.
#![cfg(any(
    all(target_os = "linux", any(target_arch = "x86_64", target_arch = "arm")),
    all(target_os = "wasi", target_arch = "wasm32"),
    all(windows, target_arch = "x86_64")
))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::mem::size_of;

#[allow(unused_imports)]
use rouse::{Events, Poll, Registry};

/// `base + per_n * N` bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Formula {
    base: usize,
    per_n: usize,
}

impl Formula {
    fn at(self, n: usize) -> usize {
        self.base + self.per_n * n
    }

    fn text(self) -> String {
        match self.per_n {
            0 => self.base.to_string(),
            per => format!("{} + {per}·N", self.base),
        }
    }
}

/// A row of the table: what is measured, on which backend, its formula
/// on this target, and how to measure it for a given N.
struct Row {
    what: &'static str,
    backend: &'static str,
    formula: Formula,
    measure: fn(usize) -> usize,
    /// The N it is measured at: [`CHECKED`], or fewer where a size cannot
    /// be measured in every build (said where it is set).
    checked: &'static [usize],
}

/// The capacities every formula is checked at: the table's 16, 64 and
/// 1024, and 256. (At an N that is not a multiple of 8 a size can be a
/// few bytes more than the formula, rounded up to the alignment.)
const CHECKED: [usize; 4] = [16, 64, 256, 1024];

/// Evaluates `$e` with `$n` (a runtime value from [`CHECKED`]) as a const
/// `$N`, so it can be a const generic argument.
macro_rules! at_n {
    ($n:expr, |$N:ident| $e:expr) => {
        match $n {
            16 => {
                const $N: usize = 16;
                $e
            }
            64 => {
                const $N: usize = 64;
                $e
            }
            256 => {
                const $N: usize = 256;
                $e
            }
            1024 => {
                const $N: usize = 1024;
                $e
            }
            n => unreachable!("N = {n} is not in CHECKED"),
        }
    };
}

/// The formula on this target, of `(base, per N)` on x86_64 and on 32-bit
/// ARM.
#[allow(dead_code)]
const fn pick(x86_64: (usize, usize), arm: (usize, usize)) -> Formula {
    let (base, per_n) = if cfg!(target_arch = "x86_64") {
        x86_64
    } else {
        arm
    };
    Formula { base, per_n }
}

/// A formula for a backend that exists on one target only.
#[allow(dead_code)]
const fn only(base: usize, per_n: usize) -> Formula {
    Formula { base, per_n }
}

/// The formulas: `pick((base, per N) on x86_64, the same on 32-bit ARM)`
/// for the Linux backends, `only(base, per N)` for the backends of one
/// target. The one place to change when a layout changes.
fn formulas() -> Vec<Row> {
    #[allow(unused_mut)]
    let mut rows = Vec::new();

    #[cfg(all(feature = "epoll", target_os = "linux"))]
    {
        use rouse::sys::EpollSelector as E;
        rows.push(Row {
            what: "`Poll<S>`, `Registry<S>`",
            backend: "epoll",
            checked: &CHECKED,
            formula: pick((32, 0), (20, 0)),
            measure: |_| {
                assert_eq!(size_of::<Poll<E>>(), size_of::<Registry<E>>());
                size_of::<Poll<E>>()
            },
        });
        rows.push(Row {
            what: "`Events<S, N>`",
            backend: "epoll",
            checked: &CHECKED,
            formula: pick((16, 12), (8, 16)),
            measure: |n| at_n!(n, |N| size_of::<Events<E, N>>()),
        });
        #[cfg(feature = "async")]
        rows.push(Row {
            what: "`Reactor<S, N>` (async)",
            backend: "epoll",
            checked: &CHECKED,
            formula: pick((864, 60), (704, 48)),
            measure: |n| at_n!(n, |N| size_of::<rouse::registration::Reactor<E, N>>()),
        });
    }

    #[cfg(all(feature = "poll", unix))]
    {
        use rouse::sys::PollSelector as P;
        // With std the state is behind an `Arc` (one allocation, below);
        // without it, inline.
        rows.push(Row {
            what: "`Poll<S>`, `Registry<S>`",
            backend: if cfg!(feature = "std") {
                "poll(2), std"
            } else {
                "poll(2), no std"
            },
            checked: &CHECKED,
            formula: if cfg!(feature = "std") {
                pick((8, 0), (4, 0))
            } else {
                pick((72, 52), (56, 44))
            },
            measure: |n| {
                at_n!(n, |N| {
                    assert_eq!(size_of::<Poll<P<N>>>(), size_of::<Registry<P<N>>>());
                    size_of::<Poll<P<N>>>()
                })
            },
        });
        #[cfg(feature = "std")]
        rows.push(Row {
            what: "heap: the state `PollSelector::<N>::new()` keeps (one allocation)",
            backend: "poll(2), std",
            checked: &CHECKED,
            formula: pick((112, 56), (80, 48)),
            measure: |n| {
                use rouse::sys::Selector;
                at_n!(n, |N| kept(1, || P::<N>::new().unwrap()))
            },
        });
        rows.push(Row {
            what: "`Events<S, N>`",
            backend: "poll(2)",
            checked: &CHECKED,
            formula: pick((16, 16), (8, 8)),
            measure: |n| at_n!(n, |N| size_of::<Events<P<N>, N>>()),
        });
        #[cfg(feature = "async")]
        rows.push(Row {
            what: "`Reactor<S, N>` (async)",
            backend: if cfg!(feature = "std") {
                "poll(2), std"
            } else {
                "poll(2), no std"
            },
            checked: &CHECKED,
            formula: if cfg!(feature = "std") {
                pick((840, 64), (688, 40))
            } else {
                pick((912, 116), (752, 84))
            },
            measure: |n| at_n!(n, |N| size_of::<rouse::registration::Reactor<P<N>, N>>()),
        });
    }

    #[cfg(any(rouse_wasi, rouse_wasip2))]
    {
        #[cfg(rouse_wasi)]
        use rouse::sys::WasiSelector as W;
        #[cfg(rouse_wasip2)]
        use rouse::sys::Wasip2Selector as W;
        let build = match (cfg!(rouse_wasip2), cfg!(feature = "std")) {
            (false, true) => "WASI 0.1, std",
            (false, false) => "WASI 0.1, no std",
            (true, true) => "WASI 0.2, std",
            (true, false) => "WASI 0.2, no std",
        };
        rows.push(Row {
            what: "`Poll<S>`, `Registry<S>`",
            backend: build,
            checked: &CHECKED,
            formula: if cfg!(feature = "std") {
                only(4, 0)
            } else {
                only(112, 197)
            },
            measure: |n| {
                at_n!(n, |N| {
                    assert_eq!(size_of::<Poll<W<N>>>(), size_of::<Registry<W<N>>>());
                    size_of::<Poll<W<N>>>()
                })
            },
        });
        #[cfg(feature = "std")]
        rows.push(Row {
            what: "heap: the state the selector's `new()` keeps (one allocation)",
            backend: build,
            checked: &CHECKED,
            formula: if cfg!(rouse_wasip2) {
                // wasi-libc's poll: one `pollfd` (8) and one table slot
                // per registration, no `poll_oneoff` subscriptions.
                only(40, 40)
            } else {
                only(120, 201)
            },
            measure: |n| {
                use rouse::sys::Selector;
                at_n!(n, |N| kept(1, || W::<N>::new().unwrap()))
            },
        });
        rows.push(Row {
            what: "`Events<S, N>`",
            backend: if cfg!(rouse_wasip2) {
                "WASI 0.2"
            } else {
                "WASI 0.1"
            },
            checked: &CHECKED,
            formula: only(8, 8),
            measure: |n| at_n!(n, |N| size_of::<Events<W<N>, N>>()),
        });
        #[cfg(feature = "async")]
        rows.push(Row {
            what: "`Reactor<S, N>` (async)",
            backend: build,
            checked: &CHECKED,
            formula: if cfg!(feature = "std") {
                only(688, 40)
            } else {
                only(792, 237)
            },
            measure: |n| at_n!(n, |N| size_of::<rouse::registration::Reactor<W<N>, N>>()),
        });
    }

    #[cfg(all(feature = "iocp", feature = "std", windows))]
    {
        use rouse::sys::IocpSelector as I;
        rows.push(Row {
            what: "`Poll<S>`, `Registry<S>`",
            backend: "IOCP, std",
            checked: &CHECKED,
            formula: only(8, 0),
            measure: |n| {
                at_n!(n, |N| {
                    assert_eq!(size_of::<Poll<I<N>>>(), size_of::<Registry<I<N>>>());
                    size_of::<Poll<I<N>>>()
                })
            },
        });
        rows.push(Row {
            what: "heap: what `IocpSelector::<N>::new()` keeps (three allocations: the table state, the N I/O blocks the kernel writes, and the port's handle)",
            backend: "IOCP, std",
            checked: &CHECKED,
            formula: only(200, 120),
            measure: |n| {
                use rouse::sys::Selector;
                at_n!(n, |N| kept(3, || I::<N>::new().unwrap()))
            },
        });
        rows.push(Row {
            what: "`Events<S, N>`",
            backend: "IOCP",
            checked: &CHECKED,
            formula: only(16, 16),
            measure: |n| at_n!(n, |N| size_of::<Events<I<N>, N>>()),
        });
        #[cfg(feature = "async")]
        rows.push(Row {
            what: "`Reactor<S, N>` (async)",
            backend: "IOCP, std",
            checked: &CHECKED,
            formula: only(840, 64),
            measure: |n| at_n!(n, |N| size_of::<rouse::registration::Reactor<I<N>, N>>()),
        });
    }

    #[cfg(all(
        feature = "epoll",
        feature = "poll",
        feature = "std",
        target_os = "linux"
    ))]
    {
        use rouse::sys::AutoSelector as A;
        rows.push(Row {
            what: "`Poll<S>`, `Registry<S>` (plus poll(2)'s allocation if it falls back)",
            backend: "auto (epoll, else poll(2)), std",
            checked: &CHECKED,
            formula: pick((40, 0), (24, 0)),
            measure: |n| {
                at_n!(n, |N| {
                    assert_eq!(size_of::<Poll<A<N>>>(), size_of::<Registry<A<N>>>());
                    size_of::<Poll<A<N>>>()
                })
            },
        });
        rows.push(Row {
            what: "`Events<S, N>`",
            backend: "auto (epoll, else poll(2))",
            checked: &CHECKED,
            formula: pick((16, 12), (8, 16)),
            measure: |n| at_n!(n, |N| size_of::<Events<A<N>, N>>()),
        });
    }
    rows
}

#[test]
fn sizes_match_the_formulas() {
    let rows = formulas();
    assert!(!rows.is_empty(), "no backend compiled into this build");
    let mut wrong = Vec::new();
    for row in &rows {
        let measured: Vec<usize> = row.checked.iter().map(|&n| (row.measure)(n)).collect();
        let expected: Vec<usize> = row.checked.iter().map(|&n| row.formula.at(n)).collect();
        if measured != expected {
            wrong.push(format!(
                "{} on {}: formula {} gives {expected:?} at N = {:?}, measured {measured:?}",
                row.what,
                row.backend,
                row.formula.text(),
                row.checked
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "update `formulas()` in tests/footprint.rs:\n{}",
        wrong.join("\n")
    );
    // The table SIZE.md shows (`ci/size` collects the lines that start
    // with "| ").
    println!(
        "footprint on {}, features: {}",
        std::env::consts::ARCH,
        if cfg!(feature = "std") {
            "std"
        } else {
            "no std"
        }
    );
    for row in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.what,
            row.backend,
            row.formula.text(),
            row.formula.at(16),
            row.formula.at(64),
            row.formula.at(1024)
        );
    }
}

// --- counting the allocations of a setup call ---

struct Recording;

thread_local! {
    static RECORDING: Cell<bool> = const { Cell::new(false) };
    /// Allocations made and not freed while recording, and their bytes.
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static LIVE_BYTES: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: defers to the system allocator; the counters are thread-locals
// with const initialisers, which never allocate.
unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(1, layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-1, -(layout.size() as isize));
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        note(0, new as isize - layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

fn note(count: isize, bytes: isize) {
    let _ = RECORDING.try_with(|on| {
        if on.get() {
            LIVE.with(|n| n.set(n.get().wrapping_add_signed(count)));
            LIVE_BYTES.with(|b| b.set(b.get().wrapping_add_signed(bytes)));
        }
    });
}

#[global_allocator]
static ALLOC: Recording = Recording;

/// The bytes of the `count` allocations `f` makes on this thread and
/// keeps (it fails if it keeps another number). An allocation `f` frees
/// again before it returns is not counted: before Rust 1.82 a table
/// backend makes its state in a zeroed `Box` and moves it into an `Arc`.
/// What `f` returns is dropped after.
#[allow(dead_code)]
fn kept<R>(count: usize, f: impl FnOnce() -> R) -> usize {
    LIVE.with(|n| n.set(0));
    LIVE_BYTES.with(|b| b.set(0));
    RECORDING.with(|on| on.set(true));
    let made = f();
    RECORDING.with(|on| on.set(false));
    let (live, bytes) = (LIVE.with(Cell::get), LIVE_BYTES.with(Cell::get));
    drop(made);
    assert_eq!(
        live, count,
        "{live} allocations kept ({bytes} bytes), not {count}"
    );
    bytes
}
