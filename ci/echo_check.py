#!/usr/bin/env python3
"""Checks an echo server: N concurrent clients each send M bytes and must get
every byte back, in order, and then end-of-file once they stop sending.

    ci/echo_check.py 127.0.0.1:9000 [--clients 8] [--bytes 262144]
                     [--read-delay 0] [--timeout 60] [--tolerate-closed]
                     [--hold 0] [--stalled 0] [--idlers 0] [--resetters 0]
                     [--pid PID] [--json FILE]

Each client sends its own pseudo-random pattern (seeded by its number) from
one thread while another reads the echo, so the server sees full-duplex
traffic. With --read-delay the clients start reading only after that many
seconds: send more than the socket buffers hold and the server's writes
must block, so it has to keep unsent bytes and wait until it can write.

Every client ends in one of these outcomes:

  ok        every byte back, in order, then end-of-file
  closed    the server closed (end-of-file or reset) before every byte was
            back; what did come back is a correct prefix
  corrupt   a wrong byte or more bytes than were sent (lost, duplicated or
            reordered data): always a failure
  stuck     no end-of-file by the deadline: always a failure
  no-connect  connect failed: always a failure

"closed" fails the check unless --tolerate-closed is given (a server that
closes a connection on an injected error has closed it deliberately; what
it echoed must still be exact). Bytes "lost" are those sent by clients that
did not end "closed" and that did not come back.

Other peers, beside the N echo clients (they are not counted in the bytes):

  --hold S       the echo clients connect, then wait S seconds before they
                 send: with --pid, the server's CPU time over that wait is
                 measured (a server waiting on idle connections, or on more
                 connections than it can accept, should use almost none)
  --stalled K    K clients that connect (with a 4 KiB receive buffer), send
                 --stalled-bytes each and never read, until the echo clients
                 are done (the server has data it cannot write back); with
                 --pid, its memory and its sockets with unsent data are
                 measured then; they must not have been closed by the server
  --idlers K     K clients that connect and send nothing for the whole run;
                 the server must keep them open
  --resetters K  K clients (with a 4 KiB receive buffer) that send 4 MiB
                 without reading, so the server's writes back block, and
                 then reset the connection (SO_LINGER 0)

With --pid (the server's process id, Linux) it also reports the server's
open descriptors before the clients connect and after every client has
closed (waiting up to 5 s for the count to come back down).

Standard library only. Prints one summary line (and with --json writes the
numbers as JSON) and exits 0 if the check passed, 1 if not.
"""

import argparse
import json
import os
import random
import resource
import selectors
import socket
import struct
import sys
import threading
import time

CHUNK = 64 * 1024
RESET_BYTES = 4 << 20


def parse_addr(text):
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def raise_fd_limit(needed):
    """Raises this process's soft descriptor limit to `needed` if it can."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        want = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Server:
    """What /proc says about the server process (Linux), if its pid is known."""

    def __init__(self, pid):
        self.pid = pid

    def fds(self):
        try:
            return len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:
            return None

    def cpu_seconds(self):
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        # utime and stime, fields 14 and 15 (1-based; 12 and 13 after the comm).
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_kib(self):
        """(VmRSS, VmHWM) in KiB."""
        values = {}
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    key, _, rest = line.partition(":")
                    if key in ("VmRSS", "VmHWM"):
                        values[key] = int(rest.split()[0])
        except OSError:
            return None, None
        return values.get("VmRSS"), values.get("VmHWM")

    @staticmethod
    def unsent(port):
        """Sockets on local `port` (the server's side of its connections)
        with bytes queued to send, from /proc/net/tcp."""
        count = 0
        try:
            with open("/proc/net/tcp") as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, queues = fields[1], fields[4]
                    if int(local.split(":")[1], 16) == port and int(queues.split(":")[0], 16) > 0:
                        count += 1
        except OSError:
            return None
        return count

    def settle_fds(self, target, seconds=5.0):
        """Waits until the server has at most `target` fds open; returns the count."""
        deadline = time.monotonic() + seconds
        count = self.fds()
        while count is not None and count > target and time.monotonic() < deadline:
            time.sleep(0.05)
            count = self.fds()
        return count


class Client:
    """One connection: sends `pattern`, reads it back, records how it ended."""

    def __init__(self, number, addr, size, read_delay, deadline, start_send):
        self.number = number
        self.read_delay = read_delay
        self.addr = addr
        self.pattern = random.Random(number).randbytes(size)
        self.deadline = deadline
        self.start_send = start_send
        self.connected = threading.Event()
        self.outcome = None
        self.detail = ""
        self.sent = 0
        self.received = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def end(self, outcome, detail=""):
        if self.outcome is None:
            self.outcome = outcome
            self.detail = f"client {self.number}: {detail}" if detail else ""

    def left(self):
        return max(0.01, self.deadline - time.monotonic())

    def run(self):
        try:
            sock = socket.create_connection(self.addr, timeout=self.left())
        except OSError as e:
            self.connected.set()
            self.end("no-connect", f"connect: {e}")
            return
        self.connected.set()
        with sock:
            self.start_send.wait(self.left())
            sender = threading.Thread(target=self.send, args=(sock,), daemon=True)
            sender.start()
            time.sleep(self.read_delay)
            self.receive(sock)
            sender.join(self.left())
            if sender.is_alive() and self.outcome in (None, "ok"):
                self.outcome = None
                self.end("stuck", f"sending did not finish in time ({self.sent} sent)")

    def send(self, sock):
        view = memoryview(self.pattern)
        try:
            while self.sent < len(view):
                sock.settimeout(self.left())
                self.sent += sock.send(view[self.sent : self.sent + CHUNK])
            # Half-close: the server echoes the rest, then closes its side.
            sock.shutdown(socket.SHUT_WR)
        except socket.timeout:
            self.end("stuck", f"send timed out after {self.sent} bytes sent")
        except OSError:
            # The server closed or reset the connection: the receiving side
            # sees it too and says how it ended.
            pass

    def receive(self, sock):
        size = len(self.pattern)
        try:
            while True:
                sock.settimeout(self.left())
                data = sock.recv(CHUNK)
                if not data:
                    break
                end = self.received + len(data)
                if end > size:
                    self.end("corrupt", f"got {end - size} bytes more than were sent")
                    return
                expected = self.pattern[self.received : end]
                if data != expected:
                    at = next(i for i, (a, b) in enumerate(zip(data, expected)) if a != b)
                    self.end("corrupt", f"wrong byte at offset {self.received + at}")
                    return
                self.received = end
        except socket.timeout:
            self.end("stuck", f"timed out after {self.received} of {size} bytes echoed")
            return
        except (ConnectionResetError, BrokenPipeError) as e:
            self.end("closed", f"reset after {self.received} of {size} bytes echoed: {e}")
            return
        except OSError as e:
            self.end("closed", f"receive after {self.received} of {size} bytes: {e}")
            return
        if self.received != size:
            self.end("closed", f"end-of-file after {self.received} of {size} bytes echoed")
        else:
            self.end("ok")


class Peers:
    """The stalled, idle and resetting peers, driven from one thread."""

    def __init__(self, addr, stalled, stalled_bytes, idlers, resetters):
        self.addr = addr
        self.stalled_bytes = stalled_bytes
        self.counts = {"stalled": stalled, "idlers": idlers, "resetters": resetters}
        self.socks = {"stalled": [], "idlers": [], "resetters": []}
        self.sent = {}
        self.errors = []
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        try:
            self.connect_all()
        finally:
            self.ready.set()
        self.stop.wait()

    def connect_all(self):
        for kind, n in self.counts.items():
            for _ in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                if kind in ("stalled", "resetters"):
                    # A small window: the server's writes back block after a
                    # few KiB, so it holds data it cannot send.
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                try:
                    s.settimeout(10)
                    s.connect(self.addr)
                except OSError as e:
                    s.close()
                    self.errors.append(f"{kind}: connect: {e}")
                    return
                s.setblocking(False)
                self.socks[kind].append(s)
                self.sent[s] = 0
        # Stalled peers send until their buffers and the server's are full
        # (or --stalled-bytes), and never read.
        self.fill("stalled", self.stalled_bytes, 10.0)
        # Resetters send 4 MiB without reading, then reset mid-stream.
        self.fill("resetters", RESET_BYTES, 2.0)
        for s in self.socks["resetters"]:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        self.socks["resetters"] = []

    def fill(self, kind, limit, seconds):
        socks = list(self.socks[kind])
        if not socks:
            return
        sel = selectors.DefaultSelector()
        for s in socks:
            sel.register(s, selectors.EVENT_WRITE)
        chunk = bytes(CHUNK)
        deadline = time.monotonic() + seconds
        idle_rounds = 0
        while socks and time.monotonic() < deadline and idle_rounds < 3:
            ready = sel.select(timeout=0.2)
            if not ready:
                idle_rounds += 1  # nothing writable for a while: full
                continue
            idle_rounds = 0
            for key, _ in ready:
                s = key.fileobj
                want = min(CHUNK, limit - self.sent[s])
                try:
                    self.sent[s] += s.send(chunk[:want]) if want > 0 else 0
                except BlockingIOError:
                    continue
                except OSError as e:
                    self.errors.append(f"{kind}: send: {e}")
                    want = 0
                if want <= 0 or self.sent[s] >= limit:
                    sel.unregister(s)
                    socks.remove(s)
        sel.close()

    def check_open(self):
        """Errors for stalled or idle peers the server has closed."""
        errors = []
        for kind in ("stalled", "idlers"):
            for s in self.socks[kind]:
                try:
                    data = s.recv(1, socket.MSG_PEEK)
                except BlockingIOError:
                    continue  # open, nothing to read: as it should be
                except OSError as e:
                    errors.append(f"{kind}: closed by the server: {e}")
                    continue
                if kind == "idlers" or not data:
                    errors.append(f"{kind}: {'end-of-file' if not data else 'unexpected data'}")
        return errors

    def close_all(self):
        for socks in self.socks.values():
            for s in socks:
                s.close()
        self.stop.set()


def check(args):
    """Runs the check; returns (passed, summary dict, message)."""
    extra = args.stalled + args.idlers + args.resetters
    raise_fd_limit(2 * (args.clients + extra) + 64)
    server = Server(args.pid) if args.pid else None
    summary = {"clients": args.clients, "bytes_per_client": args.bytes}
    if server:
        summary["fds_before"] = server.fds()

    start = time.monotonic()
    deadline = start + args.timeout
    peers = None
    if extra:
        peers = Peers(args.addr, args.stalled, args.stalled_bytes, args.idlers, args.resetters)
        peers.thread.start()
        peers.ready.wait(args.timeout)

    start_send = threading.Event()
    clients = [
        Client(i, args.addr, args.bytes, args.read_delay, deadline, start_send)
        for i in range(args.clients)
    ]
    for client in clients:
        client.thread.start()
    if args.hold > 0:
        for client in clients:
            client.connected.wait(max(0.0, deadline - time.monotonic()))
        # Let the server take what it can, then measure it while it waits.
        time.sleep(min(0.5, args.hold / 4))
        cpu0, t0 = (server.cpu_seconds(), time.monotonic()) if server else (None, None)
        time.sleep(args.hold)
        if server and cpu0 is not None:
            cpu1 = server.cpu_seconds()
            summary["hold_seconds"] = round(time.monotonic() - t0, 2)
            summary["hold_cpu_seconds"] = round(cpu1 - cpu0, 3)
            if server.fds() is not None:
                summary["hold_fds"] = server.fds()
    start_send.set()
    for client in clients:
        client.thread.join(max(0.0, deadline - time.monotonic()) + 1.0)
        if client.thread.is_alive():
            client.end("stuck", f"still running at the {args.timeout:g} s deadline")
    elapsed = time.monotonic() - start

    problems = []
    if peers:
        if server:
            rss, hwm = server.memory_kib()
            summary["rss_kib_with_peers"] = rss
            summary["peak_rss_kib"] = hwm
            summary["server_sockets_with_unsent_data"] = server.unsent(args.addr[1])
        problems += peers.errors + peers.check_open()
        summary["stalled"] = args.stalled
        summary["idlers"] = args.idlers
        summary["resetters"] = args.resetters
        peers.close_all()

    outcomes = {}
    for c in clients:
        outcomes[c.outcome] = outcomes.get(c.outcome, 0) + 1
    closed = [c for c in clients if c.outcome == "closed"]
    summary["outcomes"] = outcomes
    summary["bytes_sent"] = sum(c.sent for c in clients)
    summary["bytes_echoed"] = sum(c.received for c in clients)
    summary["bytes_dropped_by_close"] = sum(c.sent - c.received for c in closed)
    summary["bytes_lost"] = sum(c.sent - c.received for c in clients if c.outcome != "closed")
    summary["corrupt"] = outcomes.get("corrupt", 0)
    summary["seconds"] = round(elapsed, 2)
    if server:
        summary["fds_after"] = server.settle_fds(summary["fds_before"] or 0)

    bad = [c for c in clients if c.outcome not in ("ok", "closed")]
    if not args.tolerate_closed:
        bad += closed
    problems += [c.detail for c in bad]
    if server and summary["fds_before"] is not None and summary["fds_after"] != summary["fds_before"]:
        problems.append(f"server fds: {summary['fds_before']} before, {summary['fds_after']} after")

    host, port = args.addr
    what = f"{args.clients} clients x {args.bytes} bytes via {host}:{port}"
    if args.read_delay:
        what += f", reading after {args.read_delay:g} s"
    if closed:
        what += f", {len(closed)} closed by the server"
    if problems:
        return False, summary, f"echo_check: FAILED {what}: {len(problems)} problems; {problems[0]}"
    total = summary["bytes_echoed"]
    rate = total / elapsed / (1 << 20) if elapsed > 0 else 0.0
    return True, summary, f"echo_check: ok {what} in {elapsed:.2f} s ({rate:.1f} MiB/s each way)"


def parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("addr", type=parse_addr, help="the server, HOST:PORT")
    p.add_argument("--clients", type=int, default=8, help="concurrent connections (8)")
    p.add_argument("--bytes", type=int, default=256 * 1024, help="bytes per client (256 KiB)")
    p.add_argument("--read-delay", type=float, default=0.0, help="seconds before reading (0)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds for everything (60)")
    p.add_argument("--tolerate-closed", action="store_true",
                   help="a connection the server closed early is not a failure")
    p.add_argument("--hold", type=float, default=0.0, help="seconds between connecting and sending")
    p.add_argument("--stalled", type=int, default=0, help="peers that send and never read")
    p.add_argument("--stalled-bytes", type=int, default=1 << 20, help="bytes each stalled peer sends")
    p.add_argument("--idlers", type=int, default=0, help="peers that connect and send nothing")
    p.add_argument("--resetters", type=int, default=0, help="peers that reset mid-write")
    p.add_argument("--pid", type=int, default=0, help="the server's pid, for fds, CPU and memory")
    p.add_argument("--json", help="write the summary as JSON to this file")
    return p


def main():
    args = parser().parse_args()
    passed, summary, message = check(args)
    summary["passed"] = passed
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f)
    print(message, flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
