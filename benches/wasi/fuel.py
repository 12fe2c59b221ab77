#!/usr/bin/env python3
"""Guest instructions per operation on wasm32-wasip2, counted with wasmtime's
fuel (about one unit per wasm instruction the guest executes; host work is
not counted).

    fuel.py PROGRAM.wasm MODE K [N1 N2]

finds, by bisection, the least fuel with which `PROGRAM MODE K N` runs to
the end under `wasmtime run -W fuel=F`, for N = N1 and N = N2, and prints
(F(N2) - F(N1)) / (N2 - N1): the setup cancels out. The setup's own count
varies a little from run to run (a connect may take one more turn), so the
answer is good to about (that variation) / (N2 - N1).
"""
import subprocess
import sys


def runs(wasm, args, fuel):
    cmd = ["wasmtime", "run", "-C", "cache=y", "-W", f"fuel={fuel}",
           "-S", "inherit-network=y", wasm] + args
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={"RUST_BACKTRACE": "0", "PATH": __import__("os").environ["PATH"]})
    return r.returncode == 0


def least_fuel(wasm, args):
    hi = 1 << 20
    while not runs(wasm, args, hi):
        hi *= 2
        if hi > 1 << 40:
            raise SystemExit(f"did not finish: {args}")
    lo = hi // 2
    while hi - lo > max(256, hi >> 14):
        mid = (lo + hi) // 2
        if runs(wasm, args, mid):
            hi = mid
        else:
            lo = mid
    return hi


def main():
    wasm, mode, k = sys.argv[1], sys.argv[2], sys.argv[3]
    n1 = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    n2 = int(sys.argv[5]) if len(sys.argv) > 5 else 11000
    f1 = least_fuel(wasm, [mode, k, str(n1)])
    f2 = least_fuel(wasm, [mode, k, str(n2)])
    print(f"mode={mode} k={k} fuel_per_op={(f2 - f1) / (n2 - n1):.0f}")


if __name__ == "__main__":
    main()
