"""Turns ci/bench's raw results into the tables of BENCHMARKS.md.

Reads the environment ci/bench exports (RESULTS: the raw results file,
ROWS_TEXT: the rows, MACHINE: one line on the machine), prints the tables
and replaces the part of BENCHMARKS.md between the markers with them.
"""

import math
import os
import statistics
import sys
from collections import defaultdict

BEGIN = "<!-- ci/bench: begin (generated, do not edit by hand) -->"
END = "<!-- ci/bench: end -->"
COLS = ("rouse", "mio", "polling")


def load():
    rows = []
    for line in os.environ["ROWS_TEXT"].splitlines():
        label, backend, scenario, cg, iters, *_repeats = line.split("|")
        rows.append({"label": label, "backend": backend, "scenario": scenario,
                     "cg": cg, "iters": iters, "instr": {}, "wall": defaultdict(dict),
                     "allocs": {}, "spread": {}})
    bare, phases = {}, []
    with open(os.environ["RESULTS"]) as f:
        for line in f:
            kind, *v = line.rstrip("\n").split("\t")
            if kind == "instr":
                rows[int(v[0])]["instr"][v[1]] = float(v[2])
            elif kind == "spread":
                rows[int(v[0])]["spread"][v[1]] = (float(v[2]), float(v[3]), int(v[4]))
            elif kind == "wall":
                rows[int(v[0])]["wall"][v[2]][v[1]] = float(v[3])
            elif kind == "allocs":
                rows[int(v[0])]["allocs"][v[1]] = (int(v[2]), int(v[3]))
            elif kind == "bare":
                bare[int(v[0])] = float(v[1])
            elif kind == "phases":
                phases.append((v[0], v[1], *map(int, v[2:])))
    return rows, bare, phases


def wall_ratio(row, a, b):
    """The median over rounds of a's time / b's time in the same round."""
    ratios = [r[a] / r[b] for r in row["wall"].values()
              if a in r and b in r and r[b] > 0 and not math.isnan(r[a])]
    return statistics.median(ratios) if ratios else float("nan")


def fmt_ratio(x):
    return "n/a" if math.isnan(x) else f"{x:.2f}x"


def num(x):
    if math.isnan(x):
        return "n/a"
    return f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


def render(rows, bare, phases):
    out = []
    out.append("Instructions per iteration (callgrind, user space, all threads; "
               "an iteration is one round trip, one poll, or one connection). "
               "Wall: median over interleaved rounds of the time ratio in the same round.")
    out.append("")
    out.append("| scenario | backend | rouse | mio | polling | rouse/mio instr | rouse/mio wall | polling/mio wall |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        i = r["instr"]
        ratio = i["rouse"] / i["mio"] if i.get("mio") else float("nan")
        out.append(f"| {r['label']} | {'poll(2)' if r['backend'] == 'poll' else 'epoll'} "
                   f"| {num(i['rouse'])} | {num(i['mio'])} | {num(i['polling'])} "
                   f"| {ratio:.2f}x | {wall_ratio(r, 'rouse', 'mio'):.2f}x "
                   f"| {fmt_ratio(wall_ratio(r, 'polling', 'mio'))} |")
    spread = [r for r in rows if r["spread"]]
    if spread:
        out.append("")
        out.append("Rows measured more than once under callgrind (the median is in the table; "
                   "mio's and polling's poll(2) costs change from process to process with "
                   "their HashMaps' random seeds):")
        out.append("")
        for r in spread:
            cells = "; ".join(f"{c} {num(lo)} to {num(hi)}"
                              for c, (lo, hi, _) in r["spread"].items())
            n = next(iter(r["spread"].values()))[2]
            out.append(f"- {r['label']} ({'poll(2)' if r['backend'] == 'poll' else 'epoll'}), "
                       f"{n} runs: {cells}")
    out.append("")
    out.append("Floor: a bare `libc::epoll_wait` with timeout 0 in the same loop costs "
               + ", ".join(f"{num(v)} instructions with {k:,} idle sources" for k, v in sorted(bare.items()))
               + ".")
    out.append("")
    out.append("Heap allocations by phase (a counting global allocator; 1000 idle "
               "sources registered, 10,000 polls with timeout 0, then deregistered):")
    out.append("")
    out.append("| backend | crate | setup (poll + events) | 1000 registrations | 10,000 polls | 1000 deregistrations |")
    out.append("|---|---|---:|---:|---:|---:|")
    for backend, col, *counts in phases:
        out.append(f"| {'poll(2)' if backend == 'poll' else 'epoll'} | {col} | "
                   + " | ".join(str(c) for c in counts) + " |")
    out.append("")
    loops = defaultdict(int)
    setups = defaultdict(set)
    for r in rows:
        for col, (setup, loop) in r["allocs"].items():
            loops[col] += loop
            setups[(col, r["backend"])].add(setup)
    out.append("Allocations inside the measured loops, all scenarios together: "
               + ", ".join(f"{c} {loops[c]}" for c in COLS) + ". "
               + "At setup, per scenario: "
               + "; ".join(f"{c} on {'poll(2)' if b == 'poll' else 'epoll'} "
                           f"{'/'.join(str(x) for x in sorted(setups[(c, b)]))}"
                           for b in ("epoll", "poll") for c in COLS) + ".")
    out.append("")
    out.append(goals(rows, bare, phases))
    return "\n".join(out)


def goals(rows, bare, phases):
    def find(label, backend):
        return next(r for r in rows if r["label"] == label and r["backend"] == backend)

    def verdict(ok):
        return "**met**" if ok else "**not met**"

    out = ["| goal (rouse against mio, same run) | result | |", "|---|---|---|"]
    pp = [find(f"ping-pong, {n} idle", "epoll") for n in (0, 100, 1000)]
    ratios = [r["instr"]["rouse"] / r["instr"]["mio"] for r in pp]
    out.append("| epoll ping-pong at most 0.9x mio's instructions | "
               + ", ".join(f"{n} idle: {num(r['instr']['rouse'])} vs {num(r['instr']['mio'])} = {x:.2f}x"
                           for n, r, x in zip((0, 100, 1000), pp, ratios))
               + f" | {verdict(max(ratios) <= 0.9)} |")
    em = [find(f"empty poll, {n} idle", "epoll")["instr"]["rouse"] for n in (10, 100, 1000, 10000)]
    ok = max(em) <= 35 and max(em) - min(em) <= 1
    mio_em = find("empty poll, 10 idle", "epoll")["instr"]["mio"]
    out.append("| empty poll (timeout 0) at most 35 instructions, flat from 10 to 10,000 sources | "
               + "rouse " + " / ".join(num(x) for x in em)
               + f" (mio {num(mio_em)}, bare epoll_wait {num(bare.get(10, float('nan')))}) | {verdict(ok)} |")
    r = find("ping-pong, 1000 idle", "poll")
    x = r["instr"]["rouse"] / r["instr"]["mio"]
    w = wall_ratio(r, "rouse", "mio")
    f = find("ping-pong, 1000 idle, pair registered first", "poll")
    fx = f["instr"]["rouse"] / f["instr"]["mio"]
    out.append("| poll(2) ping-pong with 1000 idle sources at most 0.2x mio's instructions, and faster | "
               f"{num(r['instr']['rouse'])} vs {num(r['instr']['mio'])} = {x:.2f}x"
               + (f" (mio's runs {num(r['spread']['mio'][0])} to {num(r['spread']['mio'][1])}: "
                  f"{r['instr']['rouse'] / r['spread']['mio'][1]:.2f}x to "
                  f"{r['instr']['rouse'] / r['spread']['mio'][0]:.2f}x)" if 'mio' in r['spread'] else "")
               + f", wall {w:.2f}x "
               f"(pair registered first: {fx:.2f}x, wall {wall_ratio(f, 'rouse', 'mio'):.2f}x) "
               f"| {verdict(x <= 0.2 and w < 1)} |")
    setup = sorted({s for row in rows for s in [row['allocs'].get('rouse', (0, 0))[0]]})
    loop = sum(row["allocs"].get("rouse", (0, 0))[1] for row in rows)
    ph = [p for p in phases if p[1] == "rouse"]
    total = sum(sum(p[2:]) for p in ph)
    out.append("| zero heap allocations in every scenario, setup included | "
               f"loops {loop}; setup per scenario {'/'.join(map(str, setup))}; alloc scenario "
               + ", ".join(f"{'poll(2)' if p[0] == 'poll' else 'epoll'} {'+'.join(map(str, p[2:]))}" for p in ph)
               + f" | {verdict(loop == 0 and total == 0 and setup == [0])} |")
    wk = find("Waker round trip", "epoll")
    wx = wk["instr"]["rouse"] / wk["instr"]["mio"]
    wp = find("Waker round trip", "poll")
    wpx = wp["instr"]["rouse"] / wp["instr"]["mio"]
    out.append(f"| Waker round trip at most 0.9x mio's instructions | epoll {num(wk['instr']['rouse'])} vs "
               f"{num(wk['instr']['mio'])} = {wx:.2f}x; poll(2) {num(wp['instr']['rouse'])} vs "
               f"{num(wp['instr']['mio'])} = {wpx:.2f}x | {verdict(wx <= 0.9)} (epoll) |")
    return "\n".join(out)


def main():
    rows, bare, phases = load()
    text = render(rows, bare, phases)
    machine = os.environ.get("MACHINE", "")
    block = f"{BEGIN}\nMachine: {machine}.\n\n{text}\n{END}"
    print(text)
    path = sys.argv[1]
    try:
        with open(path) as f:
            doc = f.read()
    except FileNotFoundError:
        doc = "# Benchmarks\n\n" + BEGIN + "\n" + END + "\n"
    if BEGIN in doc and END in doc:
        doc = doc[: doc.index(BEGIN)] + block + doc[doc.index(END) + len(END):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
