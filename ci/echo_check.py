#!/usr/bin/env python3
"""Checks an echo server: N concurrent clients each send M bytes and must get
every byte back, in order, and then end-of-file once they stop sending.

    ci/echo_check.py 127.0.0.1:9000 [--clients 8] [--bytes 262144]
                     [--read-delay 0] [--timeout 60]

Each client sends its own pseudo-random pattern (seeded by its number) from
one thread while another reads the echo, so the server sees full-duplex
traffic. With --read-delay the clients start reading only after that many
seconds: send more than the socket buffers hold and the server's writes
must block, so it has to keep unsent bytes and wait until it can write.
Standard library only. Prints one summary line and exits 0 if every client
got its bytes back, 1 if not.
"""

import argparse
import random
import socket
import sys
import threading
import time

CHUNK = 64 * 1024


def parse_addr(text):
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


class Client:
    """One connection: sends `pattern`, reads it back, records the first error."""

    def __init__(self, number, addr, size, read_delay, deadline):
        self.number = number
        self.read_delay = read_delay
        self.addr = addr
        self.pattern = random.Random(number).randbytes(size)
        self.deadline = deadline
        self.error = None
        self.received = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def fail(self, message):
        if self.error is None:
            self.error = f"client {self.number}: {message}"

    def left(self):
        return max(0.01, self.deadline - time.monotonic())

    def run(self):
        try:
            sock = socket.create_connection(self.addr, timeout=self.left())
        except OSError as e:
            self.fail(f"connect: {e}")
            return
        with sock:
            sender = threading.Thread(target=self.send, args=(sock,), daemon=True)
            sender.start()
            time.sleep(self.read_delay)
            self.receive(sock)
            sender.join(self.left())
            if sender.is_alive():
                self.fail("sending did not finish in time")

    def send(self, sock):
        try:
            view = memoryview(self.pattern)
            for start in range(0, len(view), CHUNK):
                sock.settimeout(self.left())
                sock.sendall(view[start : start + CHUNK])
            # Half-close: the server echoes the rest, then closes its side.
            sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            self.fail(f"send after {self.received} bytes echoed: {e}")

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
                    self.fail(f"got {end - size} bytes more than were sent")
                    return
                expected = self.pattern[self.received : end]
                if data != expected:
                    at = next(i for i, (a, b) in enumerate(zip(data, expected)) if a != b)
                    self.fail(f"wrong byte at offset {self.received + at}")
                    return
                self.received = end
        except socket.timeout:
            self.fail(f"timed out after {self.received} of {size} bytes echoed")
            return
        except OSError as e:
            self.fail(f"receive after {self.received} of {size} bytes: {e}")
            return
        if self.received != size:
            self.fail(f"connection closed after {self.received} of {size} bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("addr", type=parse_addr, help="the server, HOST:PORT")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections (8)")
    parser.add_argument("--bytes", type=int, default=256 * 1024, help="bytes per client (256 KiB)")
    parser.add_argument("--read-delay", type=float, default=0.0, help="seconds before reading (0)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for everything (60)")
    args = parser.parse_args()

    start = time.monotonic()
    deadline = start + args.timeout
    clients = [Client(i, args.addr, args.bytes, args.read_delay, deadline) for i in range(args.clients)]
    for client in clients:
        client.thread.start()
    for client in clients:
        client.thread.join(max(0.0, deadline - time.monotonic()) + 1.0)
        if client.thread.is_alive():
            client.fail(f"still running at the {args.timeout:g} s deadline")
    elapsed = time.monotonic() - start

    host, port = args.addr
    what = f"{args.clients} clients x {args.bytes} bytes via {host}:{port}"
    if args.read_delay:
        what += f", reading after {args.read_delay:g} s"
    errors = [c.error for c in clients if c.error]
    if errors:
        print(f"echo_check: FAILED {what}: {len(errors)} failed; {errors[0]}", flush=True)
        return 1
    total = args.clients * args.bytes
    rate = total / elapsed / (1 << 20) if elapsed > 0 else 0.0
    print(f"echo_check: ok {what} in {elapsed:.2f} s ({rate:.1f} MiB/s each way)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
