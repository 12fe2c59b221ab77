#!/usr/bin/env bash
# Echo round trips under wasmtime: rouse's WASI backend against mio 1.x, both
# built for wasm32-wasip1 (release) and run the same way, in the same run:
#
#   benches/wasi/run.sh [ROUNDS]
#
# For each scenario (1 connection x 64 B, 8 connections x 64 B, 1 connection
# x 16 KiB) and each crate, alternately, REPEATS times: start
# `wasmtime run -S preview2=n -S tcplisten=127.0.0.1:PORT server.wasm CRATE`,
# drive it from the host with the native `client`, stop it. Prints round
# trips per second (the median of the repeats, and the best) and rouse/mio
# for each. The machine's other load shows up as noise: compare ratios from
# one run, and repeat the run.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
ROUNDS=${1:-20000}
REPEATS=${REPEATS:-5}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${HOME:-/tmp}/.cache/rouse-target}/wasi-bench"
export CARGO_TERM_COLOR=never
# wasmtime captures a backtrace for every host error (each `WouldBlock`)
# when RUST_BACKTRACE is set, which would weigh more than either selector.
export RUST_BACKTRACE=0 RUST_LIB_BACKTRACE=0

cargo build --quiet --release --target wasm32-wasip1 --bin server
cargo build --quiet --release --bin client
SERVER="$CARGO_TARGET_DIR/wasm32-wasip1/release/server.wasm"
CLIENT="$CARGO_TARGET_DIR/release/client"
echo "$(wasmtime --version); $(rustc --version); rounds per connection: $ROUNDS, $REPEATS repeats"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

run_one() { # CRATE CONNS ROUNDS SIZE -> the client's line
    local port pid out
    port=$(free_port)
    out=$(mktemp)
    setsid wasmtime run -S preview2=n -S "tcplisten=127.0.0.1:$port" "$SERVER" "$1" \
        >"$out" 2>/dev/null &
    pid=$!
    for _ in $(seq 1 100); do
        grep -q '^serving' "$out" && break
        sleep 0.05
    done
    "$CLIENT" "127.0.0.1:$port" "$2" "$3" "$4" || echo "rt_per_sec=0 (client failed)"
    kill -TERM -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$out"
}

rate() { sed -n 's/.*rt_per_sec=\([0-9]*\).*/\1/p'; }

stats() { # RATES... -> "median best"
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)], v[NR] }'
}

printf '%-18s %12s %12s %8s   %12s %12s %8s\n' scenario "rouse med" "mio med" ratio "rouse best" "mio best" ratio
for scenario in "1 64" "8 64" "1 16384"; do
    read -r conns size <<<"$scenario"
    rounds=$ROUNDS
    [ "$size" -gt 1024 ] && rounds=$((ROUNDS / 4))
    rouse=()
    mio=()
    for _ in $(seq 1 "$REPEATS"); do
        rouse+=("$(run_one rouse "$conns" "$rounds" "$size" | rate)")
        mio+=("$(run_one mio "$conns" "$rounds" "$size" | rate)")
    done
    read -r rm rb <<<"$(stats "${rouse[@]}")"
    read -r mm mb <<<"$(stats "${mio[@]}")"
    ratio() { python3 -c "print(f'{$1 / max($2, 1):.2f}')"; }
    printf '%-18s %12s %12s %8s   %12s %12s %8s\n' "${conns} conn x ${size} B" \
        "$rm" "$mm" "$(ratio "$rm" "$mm")" "$rb" "$mb" "$(ratio "$rb" "$mb")"
done
