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
//! packing), so the formulas are given for the two targets SIZE.md
//! reports: x86_64 and 32-bit ARM Linux (`ci/size` runs the armv7 build
//! under qemu). Elsewhere this file compiles to nothing.
#![cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "arm")))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::mem::size_of;

#[allow(unused_imports)]
use rouse::{Events, Poll, Registry};

/// `base + per_n * N` bytes, rounded up to a multiple of `align`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Formula {
    base: usize,
    per_n: usize,
    align: usize,
}

impl Formula {
    fn at(self, n: usize) -> usize {
        (self.base + self.per_n * n).next_multiple_of(self.align)
    }

    fn text(self) -> String {
        // The rounding is named only where it changes a value.
        let exact =
            (0..=CHECKED[CHECKED.len() - 1]).all(|n| self.base + self.per_n * n == self.at(n));
        match (self.per_n, exact) {
            (0, _) => self.base.to_string(),
            (per, true) => format!("{} + {per}·N", self.base),
            (per, false) => format!("{} + {per}·N, rounded up to {}", self.base, self.align),
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
}

/// The capacities every formula is checked at: the table's 16, 64 and
/// 1024, and odd ones that catch padding.
const CHECKED: [usize; 8] = [0, 1, 3, 16, 17, 64, 100, 1024];

/// Evaluates `$e` with `$n` (a runtime value from [`CHECKED`]) as a const
/// `$N`, so it can be a const generic argument.
macro_rules! at_n {
    ($n:expr, |$N:ident| $e:expr) => {
        match $n {
            0 => {
                const $N: usize = 0;
                $e
            }
            1 => {
                const $N: usize = 1;
                $e
            }
            3 => {
                const $N: usize = 3;
                $e
            }
            16 => {
                const $N: usize = 16;
                $e
            }
            17 => {
                const $N: usize = 17;
                $e
            }
            64 => {
                const $N: usize = 64;
                $e
            }
            100 => {
                const $N: usize = 100;
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

/// `f(x86_64 formula, 32-bit ARM formula)`: the one on this target.
const fn pick(x86_64: (usize, usize, usize), arm: (usize, usize, usize)) -> Formula {
    let (base, per_n, align) = if cfg!(target_arch = "x86_64") {
        x86_64
    } else {
        arm
    };
    Formula { base, per_n, align }
}

/// The formulas: `pick((base, per N, align) on x86_64, the same on 32-bit
/// ARM)`. The one place to change when a layout changes.
fn formulas() -> Vec<Row> {
    #[allow(unused_mut)]
    let mut rows = Vec::new();

    #[cfg(feature = "epoll")]
    {
        use rouse::sys::EpollSelector as E;
        rows.push(Row {
            what: "`Poll<S>`, `Registry<S>`",
            backend: "epoll",
            formula: pick((4, 0, 1), (4, 0, 1)),
            measure: |_| {
                assert_eq!(size_of::<Poll<E>>(), size_of::<Registry<E>>());
                size_of::<Poll<E>>()
            },
        });
        rows.push(Row {
            what: "`Events<S, N>`",
            backend: "epoll",
            formula: pick((16, 12, 8), (8, 16, 8)),
            measure: |n| at_n!(n, |N| size_of::<Events<E, N>>()),
        });
        #[cfg(feature = "async")]
        rows.push(Row {
            what: "`Reactor<S, N>` (async)",
            backend: "epoll",
            formula: pick((48, 60, 8), (32, 48, 8)),
            measure: |n| at_n!(n, |N| size_of::<rouse::registration::Reactor<E, N>>()),
        });
    }

    #[cfg(feature = "poll")]
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
            formula: if cfg!(feature = "std") {
                pick((8, 0, 1), (4, 0, 1))
            } else {
                pick((84, 36, 8), (52, 28, 4))
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
            what: "heap: the state `PollSelector::<N>::new()` allocates (one allocation)",
            backend: "poll(2), std",
            formula: pick((100, 36, 8), (64, 28, 4)),
            measure: |n| {
                use rouse::sys::Selector;
                at_n!(n, |N| one_allocation(|| P::<N>::new().unwrap()))
            },
        });
        rows.push(Row {
            what: "`Events<S, N>`",
            backend: "poll(2)",
            formula: pick((16, 16, 8), (8, 8, 4)),
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
            formula: if cfg!(feature = "std") {
                pick((48, 64, 8), (28, 40, 4))
            } else {
                pick((124, 100, 8), (76, 68, 4))
            },
            measure: |n| at_n!(n, |N| size_of::<rouse::registration::Reactor<P<N>, N>>()),
        });
    }

    #[cfg(all(feature = "epoll", feature = "poll", feature = "std"))]
    {
        use rouse::sys::AutoSelector as A;
        rows.push(Row {
            what: "`Poll<S>`, `Registry<S>` (plus poll(2)'s allocation if it falls back)",
            backend: "auto (epoll, else poll(2)), std",
            formula: pick((16, 0, 1), (8, 0, 1)),
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
            formula: pick((16, 12, 8), (8, 16, 8)),
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
        let measured: Vec<usize> = CHECKED.iter().map(|&n| (row.measure)(n)).collect();
        let expected: Vec<usize> = CHECKED.iter().map(|&n| row.formula.at(n)).collect();
        if measured != expected {
            wrong.push(format!(
                "{} on {}: formula {} gives {expected:?} at N = {CHECKED:?}, measured {measured:?}",
                row.what,
                row.backend,
                row.formula.text()
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
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: defers to the system allocator; the counters are thread-locals
// with const initialisers, which never allocate.
unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        note(new);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

fn note(size: usize) {
    let _ = RECORDING.try_with(|on| {
        if on.get() {
            ALLOCS.with(|n| n.set(n.get() + 1));
            BYTES.with(|b| b.set(b.get() + size));
        }
    });
}

#[global_allocator]
static ALLOC: Recording = Recording;

/// The size of the one allocation `f` makes on this thread (it fails if
/// `f` makes none or more than one). What `f` returns is dropped after.
#[allow(dead_code)]
fn one_allocation<R>(f: impl FnOnce() -> R) -> usize {
    ALLOCS.with(|n| n.set(0));
    BYTES.with(|b| b.set(0));
    RECORDING.with(|on| on.set(true));
    let made = f();
    RECORDING.with(|on| on.set(false));
    drop(made);
    let (allocs, bytes) = (ALLOCS.with(Cell::get), BYTES.with(Cell::get));
    assert_eq!(allocs, 1, "{allocs} allocations ({bytes} bytes), not one");
    bytes
}
