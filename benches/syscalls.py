"""Counts the system calls of each operation, per crate and backend.

    python3 benches/syscalls.py OUT.tsv EPOLL_BIN POLL_BIN

Runs `rouse-benches syscalls IMPL` under `strace -f` for rouse (epoll and
poll(2)), mio and polling (each from the epoll build and from the poll(2)
build), twice each, and writes what the kernel was asked between the
scenario's markers (`write(-1, "rouse-mark:begin OP")` ... `"rouse-mark:end"`,
see benches/src/main.rs) to OUT.tsv, one line per crate, backend and
operation: `sys CRATE BACKEND OP NAME,NAME,...`. Only the thread that made
the markers is counted (the scenario runs on one thread). Fails if a run
fails, if an operation is missing, or if the two runs disagree.
"""

import os
import re
import subprocess
import sys
import tempfile

# (crate, backend, which binary, implementation name)
COLUMNS = [
    ("rouse", "epoll", "epoll", "rouse-epoll"),
    ("mio", "epoll", "epoll", "mio"),
    ("polling", "epoll", "epoll", "polling"),
    ("rouse", "poll", "epoll", "rouse-poll"),
    ("mio", "poll", "poll", "mio"),
    ("polling", "poll", "poll", "polling"),
]

# The operations, in the order the scenario runs them.
OPS = ["new", "waker", "register", "reregister", "poll-empty", "poll-one",
       "wake", "poll-wake", "accept-register", "deregister", "drop"]

LINE = re.compile(r"^(\d+)\s+(.*)$")
CALL = re.compile(r"^([a-z_0-9]+)\(")
BEGIN = re.compile(r'^write\(-1, "rouse-mark:begin ([a-z-]+)"')
END = re.compile(r'^write\(-1, "rouse-mark:end"')


def parse(trace):
    """The calls of each operation: {op: [name, ...]}."""
    ops, current, tid = {}, None, None
    for raw in trace.splitlines():
        m = LINE.match(raw)
        if not m:
            continue
        pid, rest = m.group(1), m.group(2)
        b = BEGIN.match(rest)
        if b:
            if current is not None:
                raise ValueError(f"marker {b.group(1)} inside {current}")
            current, tid = b.group(1), pid
            if current in ops:
                raise ValueError(f"operation {current} twice")
            ops[current] = []
            continue
        if END.match(rest):
            if current is None or pid != tid:
                raise ValueError("end marker without a begin")
            current = None
            continue
        if current is None or pid != tid:
            continue
        # A call another thread interrupted shows as `<unfinished ...>` and
        # later `<... NAME resumed>`: count the first half only.
        if rest.startswith("<..."):
            continue
        c = CALL.match(rest)
        if c:
            ops[current].append(c.group(1))
    if current is not None:
        raise ValueError(f"operation {current} never ended")
    return ops


def trace(binary, imp):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "trace")
        run = subprocess.run(
            ["strace", "-f", "-qq", "-o", out, binary, "syscalls", imp],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        if run.returncode != 0:
            raise RuntimeError(f"{imp} ({binary}) failed: {run.stderr.strip()}")
        with open(out) as f:
            return run.stdout, parse(f.read())


def main():
    out_path, epoll_bin, poll_bin = sys.argv[1:4]
    bins = {"epoll": epoll_bin, "poll": poll_bin}
    lines = []
    for crate, backend, build, imp in COLUMNS:
        runs = []
        for _ in range(2):
            stdout, ops = trace(bins[build], imp)
            if f"backend={backend}" not in stdout.split():
                raise RuntimeError(f"{imp} from the {build} build is not on {backend}: {stdout}")
            missing = [op for op in OPS if op not in ops]
            if missing:
                raise RuntimeError(f"{crate} {backend}: no {', '.join(missing)} in the trace")
            runs.append(ops)
        if runs[0] != runs[1]:
            diff = [op for op in OPS if runs[0][op] != runs[1][op]]
            raise RuntimeError(f"{crate} {backend}: two runs differ on {', '.join(diff)}: "
                               + "; ".join(f"{runs[0][op]} vs {runs[1][op]}" for op in diff))
        for op in OPS:
            lines.append(f"sys\t{crate}\t{backend}\t{op}\t{','.join(runs[0][op])}")
        print(f"  {crate} ({'poll(2)' if backend == 'poll' else backend}): "
              + ", ".join(f"{op} {len(runs[0][op])}" for op in OPS))
    version = subprocess.run(["strace", "-V"], stdout=subprocess.PIPE, text=True).stdout
    version = version.splitlines()[0] if version else "strace"
    with open(out_path, "w") as f:
        f.write(f"meta\tstrace\t{version}\n")
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
        print(f"syscalls.py: {e}", file=sys.stderr)
        sys.exit(1)
