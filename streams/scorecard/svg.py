"""Hand-written inline SVG charts (no plotting library, no network): lines and a timeline."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04",
           "#db2777", "#4b5563", "#65a30d")
PAD_L, PAD_R, PAD_T, PAD_B = 64, 16, 28, 36


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


def _num(v: float) -> str:
    if abs(v) >= 1e6:
        return f"{v / 1e6:.1f}M"
    if abs(v) >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.3g}"


def line_chart(series: Mapping[str, Sequence[tuple[float, float]]], *, title: str,
               y_label: str, x_fmt: Callable[[float], str] = _num, width: int = 720,
               height: int = 260) -> str:
    """One polyline per named series over shared axes, with a legend."""
    points = [p for s in series.values() for p in s]
    if not points:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="60">'
                f'<text x="8" y="30" font-size="13">{escape(title)}: no data</text></svg>')
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y1 = max(max(p[1] for p in points), 1e-9) * 1.08
    x1 = x1 if x1 > x0 else x0 + 1
    pw, ph = width - PAD_L - PAD_R, height - PAD_T - PAD_B

    def sx(x: float) -> float:
        return PAD_L + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return PAD_T + ph - y / y1 * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11" role="img">',
           f'<text x="{PAD_L}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    for t in _ticks(0, y1):
        out.append(f'<line x1="{PAD_L}" x2="{width - PAD_R}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" '
                   f'stroke="#e5e7eb"/><text x="{PAD_L - 6}" y="{sy(t) + 4:.1f}" '
                   f'text-anchor="end">{_num(t)}</text>')
    for t in _ticks(x0, x1):
        out.append(f'<text x="{sx(t):.1f}" y="{height - PAD_B + 16}" text-anchor="middle">'
                   f'{escape(x_fmt(t))}</text>')
    out.append(f'<text x="12" y="{PAD_T + ph / 2}" transform="rotate(-90 12 {PAD_T + ph / 2})" '
               f'text-anchor="middle">{escape(y_label)}</text>')
    for i, (name, pts) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(pts))
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.8" '
                   f'points="{path}"><title>{escape(name)}</title></polyline>')
        lx = PAD_L + 8 + (i % 5) * 128
        ly = PAD_T + 12 + (i // 5) * 14
        out.append(f'<rect x="{lx}" y="{ly - 8}" width="10" height="3" fill="{color}"/>'
                   f'<text x="{lx + 14}" y="{ly - 4}">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)


@dataclass
class Lane:
    """One timeline row: a label, bars (start, end, colour, tooltip), markers (t, colour, tip)."""

    label: str
    bars: list[tuple[float, float, str, str]]
    markers: list[tuple[float, str, str]]


def timeline(lanes: Sequence[Lane], *, x0: float, x1: float, title: str,
             x_fmt: Callable[[float], str] = _num, width: int = 960) -> str:
    """Fault windows as bars and incidents as diamonds, one lane per fault (or cluster)."""
    row_h, label_w = 24, 250
    height = PAD_T + PAD_B + row_h * max(1, len(lanes))
    x1 = x1 if x1 > x0 else x0 + 1
    pw = width - label_w - PAD_R

    def sx(x: float) -> float:
        return label_w + (min(max(x, x0), x1) - x0) / (x1 - x0) * pw

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11" role="img">',
           f'<text x="8" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    for t in _ticks(x0, x1, 7):
        out.append(f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{PAD_T}" '
                   f'y2="{height - PAD_B}" stroke="#e5e7eb"/>'
                   f'<text x="{sx(t):.1f}" y="{height - PAD_B + 16}" text-anchor="middle">'
                   f'{escape(x_fmt(t))}</text>')
    for i, lane in enumerate(lanes):
        y = PAD_T + i * row_h
        out.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">'
                   f'{escape(lane.label)}</text>')
        for start, end, color, tip in lane.bars:
            out.append(f'<rect x="{sx(start):.1f}" y="{y + 5}" width="'
                       f'{max(2.0, sx(end) - sx(start)):.1f}" height="14" rx="3" fill="{color}" '
                       f'fill-opacity="0.35" stroke="{color}"><title>{escape(tip)}</title></rect>')
        for t, color, tip in lane.markers:
            cx, cy = sx(t), y + 12
            out.append(f'<path d="M{cx:.1f},{cy - 7} L{cx + 7:.1f},{cy} L{cx:.1f},{cy + 7} '
                       f'L{cx - 7:.1f},{cy} Z" fill="{color}" stroke="#111827" '
                       f'stroke-width="0.6"><title>{escape(tip)}</title></path>')
    out.append("</svg>")
    return "".join(out)
