#!/usr/bin/env python3
"""Runs echo servers under injected faults, out of descriptors, and with
misbehaving peers, and prints what happened as a table (ci/faults runs it).

    ci/fault_runs.py --inject inject.so --server tcp_echo/epoll=PATH ...
                     [--seconds 0] [--json FILE] [--table FILE] [--only SCENARIO]

Each server is started as `PATH 127.0.0.1:0` with the injector preloaded
(LD_PRELOAD: the server only, never the clients), checked with
ci/echo_check.py, and stopped with SIGTERM, at which the injector writes
its counts. A row passes if the server neither panicked nor exited, no
client lost a byte or got a wrong one, no client hung, the server's open
descriptors came back to their number before the clients, and the
scenario's own condition holds (below).

Scenarios, for every server:

  faults R      every wrapped call fails at rate R (0.1%, 1%, 5%) while 32
                clients x 1 MiB echo; a client the server closed (it
                says why on stderr) must have had a correct prefix back.
                Then the faults stop and 8 clients must all be echoed
                exactly: the server's registrations still work.
  retryable     EINTR (in epoll_wait and poll: non-blocking sockets are
                never interrupted) and EAGAIN on eventfds, at 20%:
                failures a server retries, so no client may be closed.
  fd limit      RLIMIT_NOFILE 40 and 80 clients that connect at once, then
                wait 2 s before sending: the server's CPU time over those
                2 s must stay under 5% (a server that retries accept on
                EMFILE in a loop spins), and every client must be echoed
                (it accepts again as descriptors are freed).
  stalled       --stalled clients that send 1 MiB and never read, kept
                connected while 8 clients echo: those 8 must be served, no
                stalled one closed, and the server's memory must stay under
                the bound given per server (buffers per connection).
  peers         8 half-closing clients, 4 that stay silent, 4 that reset
                in the middle of 4 MiB the server cannot write back.

With --seconds N (ci/faults N), each faults scenario repeats its faulted
round for N seconds before the clean one.
"""

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import echo_check  # noqa: E402

# The injector library, preloaded into the servers (and nothing else).
INJECT = ""

KIB = 1024
MIB = 1024 * 1024

# Per server: the most stalled clients its table holds, and the memory
# bound for them (KiB per connection: tcp_echo keeps one 16 KiB buffer).
CAPACITY = {"tcp_echo": 1000, "async_echo": 200, "nostd_echo": 48}
KIB_PER_CONN = 64
BASE_KIB = 16 * KIB


class Run:
    """One server process, with the injector."""

    def __init__(self, path, env, fd_limit=None):
        self.tmp = tempfile.mkdtemp(prefix="rouse-faults-")
        self.out = os.path.join(self.tmp, "out")
        self.err = os.path.join(self.tmp, "err")
        self.report = os.path.join(self.tmp, "report")
        self.switch = os.path.join(self.tmp, "switch")
        full_env = dict(os.environ)
        full_env.update(env)
        full_env["LD_PRELOAD"] = INJECT
        full_env["ROUSE_FAULT_REPORT"] = self.report
        full_env["ROUSE_FAULT_SWITCH"] = self.switch

        def limit():
            if fd_limit:
                _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
                resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, hard))

        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [path, "127.0.0.1:0"],
                stdout=out,
                stderr=err,
                env=full_env,
                preexec_fn=limit,
                start_new_session=True,
            )
        self.addr = self.wait_listening()

    def wait_listening(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(self.out) as f:
                for line in f:
                    if line.startswith("listening on "):
                        return echo_check.parse_addr(line.split()[-1])
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"no 'listening on' from the server: {self.stderr()[-500:]}")

    def faults(self, on):
        if on:
            open(self.switch, "w").close()
        elif os.path.exists(self.switch):
            os.unlink(self.switch)
        time.sleep(0.03)  # the injector looks every 10 ms

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def stderr(self):
        with open(self.err, errors="replace") as f:
            return f.read()

    def counts(self):
        """{call: (calls, injected, {errno: n})} and the totals."""
        calls, total = {}, (0, 0)
        try:
            with open(self.report) as f:
                lines = f.read().splitlines()
        except OSError:
            return calls, total
        for line in lines:
            parts = line.split()
            if len(parts) < 4 or parts[0] != "fault":
                continue
            fields = dict(p.split("=", 1) for p in parts[2:])
            if parts[1] == "total":
                total = (int(fields["calls"]), int(fields["injected"]))
            else:
                errnos = {k: int(v) for k, v in fields.items() if k.startswith("E")}
                calls[parts[1]] = (int(fields["calls"]), int(fields["injected"]), errnos)
        return calls, total

    def cleanup(self):
        for name in ("out", "err", "report", "switch"):
            try:
                os.unlink(os.path.join(self.tmp, name))
            except OSError:
                pass
        os.rmdir(self.tmp)


def check(run, *argv):
    args = echo_check.parser().parse_args(
        [f"{run.addr[0]}:{run.addr[1]}", "--pid", str(run.proc.pid), *argv]
    )
    return echo_check.check(args)


def faults_cell(counts):
    calls, (_, injected) = counts
    if not injected:
        return "none"
    per_call = ", ".join(
        f"{name} {inj}" for name, (_, inj, _) in sorted(calls.items()) if inj
    )
    errnos = {}
    for _, (_, _, by_errno) in calls.items():
        for e, n in by_errno.items():
            errnos[e] = errnos.get(e, 0) + n
    per_errno = ", ".join(f"{e} {n}" for e, n in sorted(errnos.items()))
    return f"{injected} ({per_errno}; in {per_call})"


class Row:
    def __init__(self, scenario, server):
        self.scenario = scenario
        self.server = server
        self.faults = "none"
        self.operations = ""
        self.sent = self.echoed = self.lost = 0
        self.fds = (None, None)
        self.problems = []
        self.notes = []
        self.known = ""

    def add(self, summary):
        self.sent += summary["bytes_sent"]
        self.echoed += summary["bytes_echoed"]
        self.lost += summary["bytes_lost"]

    def result(self):
        if self.problems and self.known:
            return f"known failure ({self.known}): " + "; ".join(self.problems)
        if self.problems:
            return "FAIL: " + "; ".join(self.problems)
        if self.known:
            return f"ok (listed as a known failure, which did not happen this time: {self.known})"
        return "ok" + (": " + "; ".join(self.notes) if self.notes else "")

    def cells(self):
        before, after = self.fds
        return [
            self.scenario,
            self.server,
            self.faults,
            self.operations,
            f"{self.sent} / {self.echoed} / {self.lost}",
            f"{before} / {after}",
            self.result(),
        ]

    def as_dict(self):
        return {
            "scenario": self.scenario,
            "server": self.server,
            "faults": self.faults,
            "operations": self.operations,
            "bytes_sent": self.sent,
            "bytes_echoed": self.echoed,
            "bytes_lost": self.lost,
            "fds_before": self.fds[0],
            "fds_after": self.fds[1],
            "passed": not self.problems,
            "known_failure": self.known,
            "result": self.result(),
        }


def finish(row, run, summaries, logs_closes):
    """Stops the server and fills in what every row reports."""
    alive = run.alive()
    run.stop()
    err = run.stderr()
    counts = run.counts()
    calls, (total_calls, _) = counts
    row.faults = faults_cell(counts)
    clients = sum(
        s["clients"] + s.get("stalled", 0) + s.get("idlers", 0) + s.get("resetters", 0)
        for s in summaries
    )
    row.operations = f"{clients} connections, {total_calls} wrapped calls"
    for s in summaries:
        row.add(s)
    row.fds = (summaries[0].get("fds_before"), summaries[-1].get("fds_after"))
    if "panicked" in err:
        row.problems.append("panicked: " + err[err.index("panicked") :][:200])
    if not alive:
        tail = err.strip().splitlines()[-1:] or ["(no stderr)"]
        row.problems.append(f"server exited ({run.proc.returncode}): {tail[0][:120]}")
    for s in summaries:
        if s.get("problem"):
            row.problems.append(s["problem"])
        if s["bytes_lost"] or s["corrupt"]:
            row.problems.append(f"{s['bytes_lost']} bytes lost, {s['corrupt']} corrupt")
    if row.fds[0] is not None and row.fds[0] != row.fds[1]:
        row.problems.append(f"fds {row.fds[0]} before, {row.fds[1]} after")
    closed = sum(s["outcomes"].get("closed", 0) for s in summaries)
    said = sum(1 for line in err.splitlines() if line.startswith("closed "))
    if said and not closed:
        row.notes.append(
            f"the server closed {plural(said, 'connection')} on an error it reported "
            "(a reset, or a close with unread data, from the peer)"
        )
    if closed:
        said = sum(1 for line in err.splitlines() if line.startswith("closed "))
        if logs_closes and said < closed:
            row.problems.append(f"{closed} clients closed, only {said} closes reported")
        row.notes.append(
            f"{plural(closed, 'connection')} closed by the server on an injected error"
            + (", each reported" if logs_closes else " (this server does not say)")
        )
    run.cleanup()
    return calls


def plural(n, noun):
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def summary_of(passed, summary, message):
    if not passed:
        summary["problem"] = message[:200]
    return summary


def scenario_faults(path, server, rate, seconds, logs_closes):
    row = Row(f"faults {rate * 100:g}% (every wrapped call)", server)
    run = Run(path, {"ROUSE_FAULT_RATE": str(rate), "ROUSE_FAULT_SEED": "17"})
    summaries = []
    run.faults(True)
    start = time.monotonic()
    while True:
        summaries.append(
            summary_of(*check(run, "--clients", "32", "--bytes", str(MIB),
                              "--tolerate-closed", "--timeout", "60"))
        )
        if time.monotonic() - start >= seconds or not run.alive():
            break
    run.faults(False)
    if run.alive():
        clean = summary_of(*check(run, "--clients", "8", "--bytes", str(256 * KIB), "--timeout", "60"))
        summaries.append(clean)
        if clean.get("problem"):
            clean["problem"] = "after the faults stopped: " + clean["problem"]
    finish(row, run, summaries, logs_closes)
    return row


def scenario_retryable(path, server):
    row = Row("retryable faults 20% (EINTR in waits; EAGAIN on eventfds)", server)
    run = Run(path, {"ROUSE_FAULT_RATE": "0.2", "ROUSE_FAULT_SEED": "23",
                     "ROUSE_FAULT_ERRNOS": "EINTR,EAGAIN"})
    run.faults(True)
    summaries = [summary_of(*check(run, "--clients", "16", "--bytes", str(256 * KIB), "--timeout", "60"))]
    run.faults(False)
    finish(row, run, summaries, True)
    return row


def scenario_fd_limit(path, server):
    row = Row("fd limit 40, 80 clients (held 2 s, then sent)", server)
    run = Run(path, {}, fd_limit=40)
    passed, summary, message = check(run, "--clients", "80", "--bytes", str(64 * KIB),
                                     "--hold", "2", "--timeout", "20")
    summaries = [summary_of(passed, summary, message)]
    calls = finish(row, run, summaries, True)
    cpu, hold = summary.get("hold_cpu_seconds"), summary.get("hold_seconds")
    accepts = sum(calls.get(c, (0, 0, {}))[0] for c in ("accept4", "accept"))
    row.notes.append(f"CPU {cpu} s in {hold} s saturated; {accepts} accept calls in all")
    if cpu is None or hold is None or cpu > 0.05 * hold:
        row.problems.append(f"spins while out of descriptors: CPU {cpu} s in {hold} s, {accepts} accept calls")
    return row


def scenario_stalled(path, server, stalled):
    row = Row(f"{stalled} stalled readers (1 MiB each, never read) + 8 clients", server)
    run = Run(path, {})
    passed, summary, message = check(run, "--clients", "8", "--bytes", str(256 * KIB),
                                     "--stalled", str(stalled), "--stalled-bytes", str(MIB),
                                     "--timeout", "90")
    summaries = [summary_of(passed, summary, message)]
    finish(row, run, summaries, True)
    rss, peak = summary.get("rss_kib_with_peers"), summary.get("peak_rss_kib")
    unsent = summary.get("server_sockets_with_unsent_data")
    bound = BASE_KIB + stalled * KIB_PER_CONN
    row.notes.append(
        f"{unsent} server sockets with unsent data; RSS {rss} KiB with them connected "
        f"(peak {peak} KiB, bound {bound} KiB)"
    )
    if peak is None or peak > bound:
        row.problems.append(f"memory: peak RSS {peak} KiB over the bound {bound} KiB")
    return row


def scenario_peers(path, server):
    row = Row("peers: 8 half-close, 4 silent, 4 reset mid-write", server)
    run = Run(path, {})
    summaries = [summary_of(*check(run, "--clients", "8", "--bytes", str(256 * KIB),
                                   "--idlers", "4", "--resetters", "4", "--timeout", "60"))]
    finish(row, run, summaries, True)
    return row


def table(rows):
    head = ["Scenario", "Server (backend)", "Faults injected", "Operations",
            "Bytes sent / echoed / lost", "Server fds before / after", "Result"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in r.cells()) + " |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inject", required=True, help="the injector library (inject.so)")
    p.add_argument("--server", action="append", required=True,
                   help="NAME/BACKEND=PATH, e.g. tcp_echo/epoll=/tmp/tcp_echo")
    p.add_argument("--no-close-log", action="append", default=[],
                   help="servers (NAME/BACKEND) that do not report their closes")
    p.add_argument("--seconds", type=float, default=0, help="seconds of faults per faults row")
    p.add_argument("--rates", default="0.001,0.01,0.05", help="fault rates of the faults rows")
    p.add_argument("--only", action="append", default=[],
                   help="scenarios to run: faults, retryable, fd-limit, stalled, peers")
    p.add_argument("--known", action="append", default=[],
                   help="SERVER/BACKEND:SCENARIO-PREFIX=WHY: a row known to fail, "
                        "reported but not counted as a failure")
    p.add_argument("--json", help="write the rows as JSON here")
    p.add_argument("--table", help="write the table (markdown) here")
    args = p.parse_args()
    global INJECT
    INJECT = os.path.abspath(args.inject)
    only = set(args.only) or {"faults", "retryable", "fd-limit", "stalled", "peers"}

    rows = []
    for spec in args.server:
        server, path = spec.split("=", 1)
        name = server.split("/")[0]
        logs_closes = server not in args.no_close_log
        plan = []
        if "faults" in only:
            for rate in (float(r) for r in args.rates.split(",")):
                plan.append(lambda rate=rate: scenario_faults(path, server, rate, args.seconds, logs_closes))
        if "retryable" in only:
            plan.append(lambda: scenario_retryable(path, server))
        if "fd-limit" in only:
            plan.append(lambda: scenario_fd_limit(path, server))
        if "stalled" in only:
            plan.append(lambda: scenario_stalled(path, server, CAPACITY.get(name, 100)))
        if "peers" in only:
            plan.append(lambda: scenario_peers(path, server))
        for step in plan:
            started = time.monotonic()
            try:
                row = step()
            except Exception as e:  # a server that did not start, say
                row = Row("(could not run)", server)
                row.problems.append(f"{type(e).__name__}: {e}")
            for known in args.known:
                where, _, why = known.partition("=")
                who, _, prefix = where.partition(":")
                if who == row.server and row.scenario.startswith(prefix):
                    row.known = why
            secs = time.monotonic() - started
            print(f"fault_runs: {row.server}: {row.scenario} ({secs:.1f} s): {row.result()}", flush=True)
            rows.append(row)

    text = table(rows)
    print()
    print(text)
    if args.table:
        with open(args.table, "w") as f:
            f.write(text + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.as_dict() for r in rows], f, indent=1)
    failed = [r for r in rows if r.problems and not r.known]
    known = [r for r in rows if r.problems and r.known]
    print(f"\nfault_runs: {len(rows) - len(failed) - len(known)} of {len(rows)} rows ok, "
          f"{len(known)} known failures, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
