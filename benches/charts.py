"""SVG charts for BENCHMARKS.md, written by hand (no plotting package).

Two kinds: a line chart over a few categories (log or linear y, optional
min-max whiskers) and a grouped bar chart. Output is a pure function of the
input, so regenerating from the same results gives the same bytes.
"""

import math
from xml.sax.saxutils import escape

FONT = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""
COLORS = {"rouse": "#d62728", "mio": "#1f77b4", "polling": "#2ca02c", "floor": "#7f7f7f"}
DASHES = {"epoll": "", "poll": "7 4", "floor": "2 3"}


def fmt(v):
    """A value as a label: 1,234 / 123 / 12.5."""
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _ticks_log(lo, hi):
    ticks = []
    e = math.floor(math.log10(lo))
    while 10 ** e <= hi * 1.0001:
        for m in (1, 2, 5):
            t = m * 10 ** e
            if lo * 0.9999 <= t <= hi * 1.0001:
                ticks.append(t)
        e += 1
    return ticks


def _nice_step(span, n=5):
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


class Svg:
    def __init__(self, width, height):
        self.w, self.h = width, height
        self.parts = []

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, size=12, anchor="start", weight="normal", fill="#222", extra=""):
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
                 f'font-weight="{weight}" fill="{fill}" {FONT}{extra}>{escape(s)}</text>')

    def line(self, x1, y1, x2, y2, stroke="#000", width=1.0, dash="", opacity=1.0):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        o = f' stroke-opacity="{opacity}"' if opacity != 1.0 else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                 f'stroke="{stroke}" stroke-width="{width}"{d}{o}/>')

    def render(self):
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.w}" height="{self.h}" '
                f'viewBox="0 0 {self.w} {self.h}">\n'
                f'<rect width="{self.w}" height="{self.h}" fill="#ffffff"/>\n')
        return head + "\n".join(self.parts) + "\n</svg>\n"


def _marker(svg, x, y, color, backend, tip):
    t = f"<title>{escape(tip)}</title>"
    if backend == "poll":
        svg.add(f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{color}">{t}</rect>')
    elif backend == "floor":
        svg.add(f'<path d="M{x - 4:.1f},{y + 3:.1f} L{x:.1f},{y - 4:.1f} L{x + 4:.1f},{y + 3:.1f} Z" '
                f'fill="{color}">{t}</path>')
    else:
        svg.add(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.8" fill="{color}">{t}</circle>')


def line_chart(title, subtitle, xlabel, ylabel, categories, series, log=True):
    """categories: x labels. series: dicts with name, crate, backend and
    values (a float or None per category), optional spread ((lo, hi) or
    None per category), drawn as whiskers."""
    W, H = 760, 440
    left, right, top, bottom = 78, 200, 62, 58
    pw, ph = W - left - right, H - top - bottom
    svg = Svg(W, H)
    svg.text(left, 24, title, size=16, weight="bold")
    svg.text(left, 44, subtitle, size=11.5, fill="#555")
    vals = [v for s in series for v in s["values"] if v is not None and v > 0]
    for s in series:
        for sp in s.get("spread") or []:
            if sp:
                vals += [sp[0], sp[1]]
    if not vals:
        vals = [1.0, 10.0]
    if log:
        lo = 10 ** math.floor(math.log10(min(vals)))
        hi = 10 ** math.ceil(math.log10(max(vals)))
        if hi / lo < 100:
            hi = lo * 100

        def ypos(v):
            return top + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph
        ticks = _ticks_log(lo, hi)
    else:
        step = _nice_step(max(vals))
        hi = math.ceil(max(vals) * 1.08 / step) * step
        lo = 0.0

        def ypos(v):
            return top + ph - (v - lo) / (hi - lo) * ph
        ticks = [i * step for i in range(int(round(hi / step)) + 1)]
    n = len(categories)

    def xpos(i):
        return left + (i + 0.5) * pw / n

    for t in ticks:
        y = ypos(t)
        major = not log or str(int(t)).startswith("1")
        svg.line(left, y, left + pw, y, stroke="#dddddd" if major else "#eeeeee")
        svg.text(left - 8, y + 4, fmt(t), size=11, anchor="end", fill="#444")
    svg.line(left, top, left, top + ph, stroke="#888")
    svg.line(left, top + ph, left + pw, top + ph, stroke="#888")
    for i, c in enumerate(categories):
        svg.line(xpos(i), top + ph, xpos(i), top + ph + 5, stroke="#888")
        svg.text(xpos(i), top + ph + 20, c, size=12, anchor="middle")
    svg.text(left + pw / 2, H - 12, xlabel, size=12, anchor="middle", fill="#333")
    svg.text(18, top + ph / 2, ylabel, size=12, anchor="middle", fill="#333",
             extra=f' transform="rotate(-90 18 {top + ph / 2:.1f})"')
    for s in series:
        color, dash = COLORS[s["crate"]], DASHES[s["backend"]]
        pts = [(xpos(i), ypos(v), v, i) for i, v in enumerate(s["values"]) if v is not None and v > 0]
        for a, b in zip(pts, pts[1:]):
            svg.line(a[0], a[1], b[0], b[1], stroke=color, width=2.2, dash=dash)
        for i, sp in enumerate(s.get("spread") or []):
            if sp and sp[0] > 0 and sp[1] > sp[0]:
                # Side by side where series meet: mio right, polling left.
                x = xpos(i) + {"mio": 6, "polling": -6}.get(s["crate"], 0)
                y1, y2 = ypos(sp[0]), ypos(sp[1])
                svg.line(x, y1, x, y2, stroke=color, width=1.4, opacity=0.6)
                svg.line(x - 4, y1, x + 4, y1, stroke=color, width=1.4, opacity=0.6)
                svg.line(x - 4, y2, x + 4, y2, stroke=color, width=1.4, opacity=0.6)
        for x, y, v, i in pts:
            _marker(svg, x, y, color, s["backend"], f"{s['name']}, {categories[i]}: {fmt(v)}")
    # Legend, with each series' last value.
    lx, ly = left + pw + 18, top + 6
    for k, s in enumerate(series):
        y = ly + k * 22
        color = COLORS[s["crate"]]
        svg.line(lx, y, lx + 26, y, stroke=color, width=2.2, dash=DASHES[s["backend"]])
        _marker(svg, lx + 13, y, color, s["backend"], s["name"])
        last = next((v for v in reversed(s["values"]) if v is not None), None)
        label = s["name"] + (f"  {fmt(last)}" if last is not None else "")
        svg.text(lx + 34, y + 4, label, size=11.5)
    if any(s.get("spread") for s in series):
        y = ly + len(series) * 22 + 8
        svg.text(lx, y, "whiskers: min to max", size=10.5, fill="#555")
        svg.text(lx, y + 14, "of repeated runs", size=10.5, fill="#555")
    return svg.render()


def bar_chart(title, subtitle, ylabel, groups, bars, notes=None):
    """groups: group labels. bars: dicts with name, crate and values (one per
    group, float or None) and optional spread ((lo, hi) or None per group).
    notes: a line of text under each group's label, or None."""
    W, H = 760, 416
    left, right, top, bottom = 78, 170, 62, 66
    pw, ph = W - left - right, H - top - bottom
    svg = Svg(W, H)
    svg.text(left, 24, title, size=16, weight="bold")
    svg.text(left, 44, subtitle, size=11.5, fill="#555")
    vals = [v for b in bars for v in b["values"] if v is not None]
    for b in bars:
        for sp in b.get("spread") or []:
            if sp:
                vals.append(sp[1])
    step = _nice_step(max(vals) if vals else 1.0)
    hi = math.ceil((max(vals) if vals else 1.0) * 1.12 / step) * step

    def ypos(v):
        return top + ph - v / hi * ph
    t = 0.0
    while t <= hi + 1e-9:
        y = ypos(t)
        svg.line(left, y, left + pw, y, stroke="#e4e4e4")
        svg.text(left - 8, y + 4, fmt(t), size=11, anchor="end", fill="#444")
        t += step
    svg.line(left, top, left, top + ph, stroke="#888")
    svg.line(left, top + ph, left + pw, top + ph, stroke="#888")
    gw = pw / len(groups)
    bw = gw * 0.7 / len(bars)
    for g, label in enumerate(groups):
        gx = left + g * gw + gw * 0.15
        svg.text(left + (g + 0.5) * gw, top + ph + 20, label, size=12, anchor="middle")
        if notes and notes[g]:
            svg.text(left + (g + 0.5) * gw, top + ph + 38, notes[g], size=11, anchor="middle",
                     fill="#555")
        for k, b in enumerate(bars):
            v = b["values"][g]
            x = gx + k * bw
            if v is None:
                svg.text(x + bw / 2, top + ph - 6, "n/a", size=10, anchor="middle", fill="#777")
                continue
            y = ypos(v)
            svg.add(f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{bw - 4:.1f}" height="{top + ph - y:.1f}" '
                    f'fill="{COLORS[b["crate"]]}" fill-opacity="0.85"><title>{escape(b["name"])}, '
                    f'{escape(label)}: {fmt(v)}</title></rect>')
            sp = (b.get("spread") or [None] * len(groups))[g]
            if sp and sp[1] > sp[0]:
                cx = x + bw / 2
                svg.line(cx, ypos(sp[0]), cx, ypos(sp[1]), stroke="#333", width=1.2)
                svg.line(cx - 4, ypos(sp[0]), cx + 4, ypos(sp[0]), stroke="#333", width=1.2)
                svg.line(cx - 4, ypos(sp[1]), cx + 4, ypos(sp[1]), stroke="#333", width=1.2)
                y = min(y, ypos(sp[1]))
            svg.text(x + bw / 2, y - 5, fmt(v), size=11, anchor="middle")
    svg.text(18, top + ph / 2, ylabel, size=12, anchor="middle", fill="#333",
             extra=f' transform="rotate(-90 18 {top + ph / 2:.1f})"')
    lx, ly = left + pw + 18, top + 6
    for k, b in enumerate(bars):
        y = ly + k * 22
        svg.add(f'<rect x="{lx:.1f}" y="{y - 6:.1f}" width="22" height="12" '
                f'fill="{COLORS[b["crate"]]}" fill-opacity="0.85"/>')
        svg.text(lx + 30, y + 4, b["name"], size=11.5)
    if any(b.get("spread") for b in bars):
        y = ly + len(bars) * 22 + 8
        svg.text(lx, y, "whiskers: min to max", size=10.5, fill="#555")
        svg.text(lx, y + 14, "of repeated runs", size=10.5, fill="#555")
    return svg.render()
