#!/usr/bin/env python3
"""Measures the peak stack of an echo server while it serves.

    ci/stack_peak.py -- SERVER BINARY...          a native server
    ci/stack_peak.py --qemu QEMU -- BINARY        a server under qemu-user

Starts `SERVER... 127.0.0.1:0` with an empty environment and without
address randomisation (personality ADDR_NO_RANDOMIZE, as `setarch -R`),
waits for its `listening on ADDR` line and checks it with
ci/echo_check.py: 8 clients x 256 KiB at once, then 4
clients x 2 MB that read only after 0.5 s (so the server's writes block
and it waits for WRITABLE). Then, with the server still running, it reads
the server's main-thread stack through /proc/PID/mem and finds the lowest
byte that is not zero: the kernel hands out stack pages zeroed, so
nothing below it was ever written.

The stack is the `[stack]` mapping of /proc/PID/maps natively; under
qemu it is the host mapping of the guest's stack, which `-s BYTES` makes
exactly BYTES long. The peak is measured from the initial stack pointer
(the address of argc: /proc/PID/stat natively; under qemu one word below
argv, found by its pointers and the NULLs after it), so it is the
program's own use; the argv/environment/auxv block above it is printed
apart.

Zeroes written at the bottom of the deepest frame would be missed, so a
native figure is then checked for real: the server must serve with a
stack limit (RLIMIT_STACK) of the whole used stack rounded up to a page,
and must fail with one page less. Under qemu there is no such check:
qemu-user gives a guest at least 128 KiB of stack whatever `-s` asks for.

Prints `stack: PEAK bytes ...` and exits 0, or exits 1 if the server does
not start, a check fails, or the limits disagree with the figure.
"""

import argparse
import ctypes
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = 4096
# personality(2) flag: no address space randomisation.
ADDR_NO_RANDOMIZE = 0x0040000
# The guest stack size of the measuring run under qemu: 253 pages, a size
# no other mapping of qemu's has.
QEMU_STACK = 253 * PAGE


def run_server(command, rlimit, measure):
    """Starts `command 127.0.0.1:0` (with RLIMIT_STACK `rlimit` if given),
    runs the echo checks and returns measure(pid), called while the server
    still runs; None if the server did not start or a check failed."""

    def limit():
        # No address randomisation (what `setarch -R` does, in the child
        # itself so that the limit applies to the server alone): the stack
        # then starts at the same place in every run, with no random gap
        # below its top.
        ctypes.CDLL(None, use_errno=True).personality(ADDR_NO_RANDOMIZE)
        if rlimit is not None:
            resource.setrlimit(resource.RLIMIT_STACK, (rlimit, rlimit))

    with tempfile.TemporaryDirectory() as tmp:
        out_path = os.path.join(tmp, "out")
        with open(out_path, "w") as out, open(os.path.join(tmp, "err"), "w") as err:
            server = subprocess.Popen(command + ["127.0.0.1:0"], stdout=out, stderr=err,
                                      env={}, start_new_session=True, preexec_fn=limit)
        try:
            addr = None
            for _ in range(300):
                with open(out_path) as f:
                    m = re.search(r"^listening on (\S+)$", f.read(), re.M)
                if m:
                    addr = m.group(1)
                    break
                if server.poll() is not None:
                    return None
                time.sleep(0.1)
            if addr is None:
                return None
            check = os.path.join(HERE, "echo_check.py")
            for extra in (["--clients", "8", "--bytes", "262144"],
                          ["--clients", "4", "--bytes", "2000000", "--read-delay", "0.5"]):
                done = subprocess.run([sys.executable, check, addr] + extra,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if done.returncode != 0:
                    return None
            if server.poll() is not None:
                return None
            return measure(server.pid)
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
            server.wait()


def stack_mapping(pid, size):
    """(start, end) of the stack: `[stack]`, or the rw mapping of `size`."""
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if size is None:
                if len(fields) >= 6 and fields[5] == "[stack]":
                    return start, end
            elif end - start == size and fields[1].startswith("rw"):
                return start, end
    raise RuntimeError("no stack mapping found")


def read(pid, start, end):
    """The bytes of [start, end) in process `pid` (unmapped pages: zeroes)."""
    data = bytearray()
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for addr in range(start, end, PAGE):
            mem.seek(addr)
            try:
                data += mem.read(min(PAGE, end - addr))
            except OSError:
                data += bytes(min(PAGE, end - addr))
    return bytes(data)


def argc_offset(stack, argv):
    """The offset in `stack` of argc, one word below argv[0]: argv is
    argv[0..argc] then NULL, and the environment's NULL (it is empty),
    the argv pointers `len + 1` apart as their strings are. (argc itself
    is not looked for: ARM's glibc start code overwrites it.) 64-bit
    words are tried first, then 32-bit ones."""
    n = len(argv)
    gaps = [len(a.encode()) + 1 for a in argv[:-1]]
    for word in (8, 4):
        for off in range(len(stack) - (n + 2) * word, word - 1, -word):
            w = [int.from_bytes(stack[off + k * word:off + (k + 1) * word], "little")
                 for k in range(n + 2)]
            if w[n] != 0 or w[n + 1] != 0 or w[0] == 0:
                continue
            if all(w[k + 1] - w[k] == gaps[k] for k in range(n - 1)):
                return off - word
    raise RuntimeError("argv not found on the stack")


def measure_with(qemu, argv):
    """measure(pid) -> (peak below the initial sp, whole used stack)."""

    def measure(pid):
        start, end = stack_mapping(pid, QEMU_STACK if qemu else None)
        stack = read(pid, start, end)
        lowest = start + len(stack) - len(stack.lstrip(b"\0"))
        if qemu:
            sp = start + argc_offset(stack, argv)
        else:
            with open(f"/proc/{pid}/stat") as f:
                # Field 28, startstack; field 2 (comm) may hold spaces.
                sp = int(f.read().rsplit(")", 1)[1].split()[25])
        return sp - lowest, end - lowest, end - sp

    return measure


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--qemu", help="the qemu-user binary to run the server with")
    parser.add_argument("command", nargs="+", help="the server command")
    args = parser.parse_args()

    if args.qemu:
        command = [args.qemu, "-s", str(QEMU_STACK)] + args.command
    else:
        command = args.command
    argv = args.command + ["127.0.0.1:0"]

    found = run_server(command, None, measure_with(args.qemu, argv))
    if found is None:
        print(f"stack_peak: the server did not serve: {' '.join(command)}", file=sys.stderr)
        return 1
    peak, used, top = found
    line = (f"stack: {peak} bytes below the initial stack pointer "
            f"({top} bytes of argv, environment and auxv above it)")
    if args.qemu:
        # qemu-user gives a guest at least 128 KiB of stack whatever -s
        # asks for, so a limit cannot confirm a smaller figure there.
        print(line + "; not confirmed by a limit under qemu")
        return 0
    fits = -(-used // PAGE) * PAGE
    ok = run_server(command, fits, lambda pid: True)
    short = run_server(command, fits - PAGE, lambda pid: True)
    print(line + f"; serves with a {fits // 1024} KiB stack: {'yes' if ok else 'NO'}, "
          f"with {(fits - PAGE) // 1024} KiB: {'yes' if short else 'no'}")
    # The kernel's guard gap below the stack, and x86's stack probes, make
    # any use past the limit fault: one page less must fail.
    if not ok or short:
        print("stack_peak: the stack limits disagree with the measured peak", file=sys.stderr)
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
