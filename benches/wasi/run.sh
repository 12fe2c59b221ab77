#!/usr/bin/env bash
# Echo round trips under wasmtime, in the same run: rouse on wasm32-wasip2,
# rouse on wasm32-wasip1 and mio 1.x on wasm32-wasip1 (all release builds of
# the same loop), then the cost of one wait on wasip2:
#
#   benches/wasi/run.sh [ROUNDS]
#
# For each scenario (1 connection x 64 B, 8 connections x 64 B, 1 connection
# x 16 KiB) and each server, alternately, REPEATS times: start it under
# wasmtime (wasip1: `-S preview2=n -S tcplisten=127.0.0.1:PORT`, the listener
# preopened; wasip2: `-S inherit-network=y`, the server binds PORT), drive it
# from the host with the native `client`, stop it. Prints round trips per
# second (the median of the repeats, and the best) for each, and the ratios
# to mio on wasip1. The machine's other load shows up as noise: compare
# ratios from one run, and repeat the run.
#
# Then `pollcost` (wasip2): nanoseconds, allocations and guest instructions
# (wasmtime fuel, through fuel.py) per wait that finds nothing, with K idle
# connections, for rouse's selector, wasi-libc's poll alone and a direct
# `wasi:io/poll.poll`; and per in-program echo round trip (rouse, and
# wasi-libc's poll alone). POLLCOST=0 skips it.
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
cargo build --quiet --release --target wasm32-wasip2 --bin server --bin pollcost
cargo build --quiet --release --bin client
SERVER_P1="$CARGO_TARGET_DIR/wasm32-wasip1/release/server.wasm"
SERVER_P2="$CARGO_TARGET_DIR/wasm32-wasip2/release/server.wasm"
POLLCOST="$CARGO_TARGET_DIR/wasm32-wasip2/release/pollcost.wasm"
CLIENT="$CARGO_TARGET_DIR/release/client"
echo "$(wasmtime --version); $(rustc --version); rounds per connection: $ROUNDS, $REPEATS repeats"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

run_one() { # SERVER CONNS ROUNDS SIZE -> the client's line
    # SERVER: rouse-p2, rouse-p1 or mio-p1.
    local port pid out
    port=$(free_port)
    out=$(mktemp)
    case "$1" in
        *-p2) setsid wasmtime run -S inherit-network=y "$SERVER_P2" "${1%-p2}" "127.0.0.1:$port" \
            >"$out" 2>/dev/null & ;;
        *) setsid wasmtime run -S preview2=n -S "tcplisten=127.0.0.1:$port" "$SERVER_P1" "${1%-p1}" \
            >"$out" 2>/dev/null & ;;
    esac
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

ratio() { python3 -c "print(f'{$1 / max($2, 1):.2f}')"; }
printf '%-18s %11s %11s %11s %9s %9s   %11s %11s %11s\n' scenario "rouse p2" "rouse p1" "mio p1" \
    "p2/mio" "p1/mio" "best p2" "best p1" "best mio"
for scenario in "1 64" "8 64" "1 16384"; do
    read -r conns size <<<"$scenario"
    rounds=$ROUNDS
    [ "$size" -gt 1024 ] && rounds=$((ROUNDS / 4))
    p2=()
    p1=()
    mio=()
    for _ in $(seq 1 "$REPEATS"); do
        p2+=("$(run_one rouse-p2 "$conns" "$rounds" "$size" | rate)")
        p1+=("$(run_one rouse-p1 "$conns" "$rounds" "$size" | rate)")
        mio+=("$(run_one mio-p1 "$conns" "$rounds" "$size" | rate)")
    done
    read -r p2m p2b <<<"$(stats "${p2[@]}")"
    read -r p1m p1b <<<"$(stats "${p1[@]}")"
    read -r mm mb <<<"$(stats "${mio[@]}")"
    printf '%-18s %11s %11s %11s %9s %9s   %11s %11s %11s\n' "${conns} conn x ${size} B" \
        "$p2m" "$p1m" "$mm" "$(ratio "$p2m" "$mm")" "$(ratio "$p1m" "$mm")" "$p2b" "$p1b" "$mb"
done

[ "${POLLCOST:-1}" = 0 ] && exit 0
echo
echo "one wait on wasip2 that finds nothing, K idle connections (pollcost; fuel: fuel.py)"
for k in 1 16 256; do
    for mode in rouse libc native; do
        line=$(RUST_BACKTRACE=0 wasmtime run -S inherit-network=y "$POLLCOST" "$mode" "$k" 20000 2>/dev/null)
        fuel=$(python3 fuel.py "$POLLCOST" "$mode" "$k" 1000 6000)
        echo "$line ${fuel##* }"
    done
done
for mode in echo-rouse echo-libc; do
    line=$(RUST_BACKTRACE=0 wasmtime run -S inherit-network=y "$POLLCOST" "$mode" 1 20000 2>/dev/null)
    fuel=$(python3 fuel.py "$POLLCOST" "$mode" 1 1000 6000)
    echo "$line ${fuel##* }"
done
