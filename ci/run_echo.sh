#!/usr/bin/env bash
# Starts an echo server on a free loopback port, checks it with
# ci/echo_check.py, and stops it.
#
#   ci/run_echo.sh [--clients N] [--bytes M] -- SERVER_COMMAND...
#
# The server is run as `SERVER_COMMAND... 127.0.0.1:0` and must print
# `listening on ADDR` on stdout; the check then runs against ADDR. Exits with
# the check's status, or 1 if the server does not start or dies meanwhile.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
check_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --) shift; break ;;
        *) check_args+=("$1"); shift ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: $0 [echo_check options] -- SERVER_COMMAND..." >&2; exit 2; }

tmp=$(mktemp -d)
pid=
stop() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        # The server runs in its own process group (setsid): end it and
        # anything it started, and nothing else.
        kill -TERM -- "-$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap stop EXIT

setsid "$@" 127.0.0.1:0 >"$tmp/out" 2>"$tmp/err" &
pid=$!

addr=
for _ in $(seq 1 300); do
    addr=$(sed -n 's/^listening on \(.*\)$/\1/p' "$tmp/out" | head -n 1)
    [ -n "$addr" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "run_echo: server exited before listening: $*" >&2
        cat "$tmp/out" "$tmp/err" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$addr" ]; then
    echo "run_echo: no 'listening on' line within 30 s from: $*" >&2
    cat "$tmp/out" "$tmp/err" >&2
    exit 1
fi

status=0
python3 "$here/echo_check.py" "$addr" ${check_args[@]+"${check_args[@]}"} || status=$?
if ! kill -0 "$pid" 2>/dev/null; then
    echo "run_echo: the server died during the check" >&2
    status=1
fi
if [ -s "$tmp/err" ]; then
    echo "run_echo: server stderr:" >&2
    cat "$tmp/err" >&2
fi
exit "$status"
