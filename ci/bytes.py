#!/usr/bin/env python3
"""Where the bytes of a binary go, beside another binary: Markdown tables.

    ci/bytes.py NAME=STRIPPED,UNSTRIPPED [NAME=STRIPPED,UNSTRIPPED]

For each binary, given as the stripped build and the same build with
symbols: its file size and sections (of the stripped one) grouped by what
they are for, the code and data of its
functions and objects by crate (from `nm --size-sort -S`, demangled), and
with two binaries the functions whose size differs most. Standard
library and binutils only.
"""

import collections
import os
import re
import subprocess
import sys

# Section name -> the row it is counted in.
SECTION_GROUPS = [
    ("code (.text, .init, .fini, .plt)", re.compile(r"^\.(text|init|fini|plt.*)$")),
    ("read-only data (.rodata)", re.compile(r"^\.rodata")),
    ("unwind tables (.eh_frame, .eh_frame_hdr, .gcc_except_table)",
     re.compile(r"^\.(eh_frame.*|gcc_except_table)$")),
    ("dynamic linking and relocations (.dynsym, .dynstr, .rela.*, .dynamic, .got, ...)",
     re.compile(r"^\.(dynsym|dynstr|gnu\.hash|hash|gnu\.version.*|rela?\..*|dynamic|got.*|interp)$")),
    ("data (.data, .data.rel.ro, .init_array, .fini_array, .tdata)",
     re.compile(r"^\.(data.*|init_array|fini_array|tdata)$")),
]


def sections(path):
    """{name: size} of the sections that take space in the file."""
    out = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True,
                         check=True).stdout
    sizes = {}
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+\S+\s+\S+\s+(\S+)", line)
        if m and m.group(2) != "NOBITS" and m.group(1) not in ("", "NULL"):
            sizes[m.group(1)] = int(m.group(3), 16)
    return sizes


def crate_of(name):
    """The crate a demangled symbol belongs to: the first path segment of
    the item (inside `<...>` for impls), or `C and runtime` for the rest."""
    name = re.sub(r"::h[0-9a-f]{16}$", "", name)
    core = name.lstrip("<&*")
    core = re.sub(r"^(dyn |mut |const )", "", core)
    m = re.match(r"([a-z_][a-z0-9_]*)::", core)
    if m:
        return m.group(1)
    if name == "main":
        return "`main` (the C entry point: in nostd_echo the example's, everything inlined)"
    return "C runtime and other symbols without a Rust path"


def symbols(path):
    """{demangled name: size} of the functions and objects."""
    out = subprocess.run(["nm", "--size-sort", "-S", "-C", path], capture_output=True,
                         text=True, check=True).stdout
    sizes = collections.Counter()
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[2].lower() in "tdrbvw":
            sizes[re.sub(r"::h[0-9a-f]{16}$", "", parts[3])] += int(parts[1], 16)
    return sizes


def row(cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main():
    bins = [(name, paths.split(",")) for name, paths in (a.split("=", 1) for a in sys.argv[1:])]
    names = [name for name, _ in bins]
    two = len(bins) == 2
    head = ["", *names] + (["difference"] if two else [])
    sep = "|" + "---|" * len(head)

    totals, groups, crates, syms = [], [], [], []
    for _, (stripped, path) in bins:
        size, secs = os.path.getsize(stripped), sections(stripped)
        totals.append(size)
        g = collections.Counter()
        for sec, n in secs.items():
            for label, pattern in SECTION_GROUPS:
                if pattern.match(sec):
                    g[label] += n
                    break
            else:
                g["other sections (notes, .comment, section names)"] += n
        g["ELF headers and section table"] = size - sum(secs.values())
        groups.append(g)
        s = symbols(path)
        syms.append(s)
        c = collections.Counter()
        for name, n in s.items():
            c[crate_of(name)] += n
        crates.append(c)

    def diff(values):
        return [f"{values[0] - values[1]:+d}"] if two else []

    print("Sections of the stripped binary, bytes:")
    print()
    print(row(head))
    print(sep)
    labels = [label for label, _ in SECTION_GROUPS] + [
        "other sections (notes, .comment, section names)", "ELF headers and section table"]
    for label in labels:
        values = [g[label] for g in groups]
        print(row([label, *values, *diff(values)]))
    print(row(["**file**", *totals, *diff(totals)]))
    print()
    print("Functions and objects by crate (`nm --size-sort -S`), bytes:")
    print()
    print(row(head))
    print(sep)
    all_crates = sorted(set().union(*crates), key=lambda c: -max(x[c] for x in crates))
    for crate in all_crates:
        values = [c[crate] for c in crates]
        label = crate if " " in crate else f"`{crate}`"
        print(row([label, *values, *diff(values)]))
    if two:
        print()
        print(f"Functions whose size differs most ({names[0]} minus {names[1]}), bytes:")
        print()
        print(row(["function", *names, "difference"]))
        print("|---|---|---|---|")
        a, b = syms
        changes = sorted(((a[n] - b[n], n) for n in set(a) | set(b) if a[n] != b[n]),
                         key=lambda t: -abs(t[0]))
        for d, n in changes[:15]:
            shown = n if len(n) <= 90 else n[:87] + "..."
            print(row([f"`{shown}`", a[n], b[n], f"{d:+d}"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
