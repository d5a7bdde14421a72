"""Server-rendered SVG charts: plain strings, no JavaScript, no inline styles (CSP allows them as is).

Pure Python: the caller passes translated labels and formatting functions, so this module needs
neither Flask nor the database. Every chart is an accessible image (role="img" with <title> and
<desc>); pages show the same numbers in a table beside it as the text alternative.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Protocol

IN_COLOUR = "#1f6f4a"   # the brand green, 7:1 on white
OUT_COLOUR = "#a33a22"  # a dark red that stays distinct from the green for red-green colour blindness
GRID_COLOUR = "#d5dcd8"
TEXT_COLOUR = "#3d4a44"


class Point(Protocol):
    at: dt.datetime
    money_in: int
    money_out: int


@dataclass(frozen=True)
class Labels:
    title: str
    desc: str
    money_in: str
    money_out: str


def nice_ceiling(value: int, ticks: int = 4) -> tuple[int, int]:
    """(top, step): a round step (1, 2, 2.5 or 5 times a power of ten) with ticks * step >= value."""
    if value <= 0:
        return ticks, 1
    raw = value / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * power
        if step >= raw:
            break
    step = max(1, math.ceil(step))
    return step * ticks, step


def _scale(lo: float, hi: float, out_lo: float, out_hi: float) -> Callable[[float], float]:
    if hi == lo:
        return lambda _v: (out_lo + out_hi) / 2
    ratio = (out_hi - out_lo) / (hi - lo)
    return lambda v: out_lo + (v - lo) * ratio


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def cumulative_chart(points: Sequence[Point], labels: Labels, *, axis_money: Callable[[int], str],
                     date: Callable[[dt.datetime], str], element_id: str = "chart",
                     width: int = 640, height: int = 300) -> str:
    """Two lines over time, cumulative money in (solid) and money out (dashed), with a y grid,
    the first and last dates on the x axis and a legend; `points` must be in time order."""
    left, right, top, bottom = 96, 16, 16, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    title_id, desc_id = f"{element_id}-title", f"{element_id}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ledger-chart" id="{escape(element_id)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{escape(title_id)} {escape(desc_id)}" font-size="12" fill="{TEXT_COLOUR}">',
        f'<title id="{escape(title_id)}">{escape(labels.title)}</title>',
        f'<desc id="{escape(desc_id)}">{escape(labels.desc)}</desc>',
    ]
    low = min([0, *(min(p.money_in, p.money_out) for p in points)])
    high = max([0, *(max(p.money_in, p.money_out) for p in points)])
    _, step = nice_ceiling(high - low)
    base = math.floor(low / step) * step
    ceiling = base + max(1, math.ceil((high - base) / step)) * step
    y = _scale(base, ceiling, top + plot_h, top)
    for value in range(base, ceiling + 1, step):
        yy = _fmt(y(value))
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{yy}" y2="{yy}" stroke="{GRID_COLOUR}"/>')
        parts.append(f'<text x="{left - 8}" y="{yy}" text-anchor="end" dominant-baseline="middle">'
                     f'{escape(axis_money(value))}</text>')
    if points:
        times = [p.at.timestamp() for p in points]
        if times[0] == times[-1]:
            x = _scale(0, max(1, len(points) - 1), left, left + plot_w)
            xs = [x(i) for i in range(len(points))]
        else:
            x = _scale(times[0], times[-1], left, left + plot_w)
            xs = [x(t) for t in times]
        lines = (("money_in", IN_COLOUR, ""), ("money_out", OUT_COLOUR, ' stroke-dasharray="7 4"'))
        for attr, colour, dash in lines:
            coords = " ".join(f"{_fmt(xx)},{_fmt(y(getattr(p, attr)))}"
                              for xx, p in zip(xs, points, strict=True))
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2.5" '
                         f'stroke-linejoin="round"{dash}/>')
        axis_y = top + plot_h + 18
        first, last = escape(date(points[0].at)), escape(date(points[-1].at))
        parts.append(f'<text x="{left}" y="{axis_y}" text-anchor="start">{first}</text>')
        parts.append(f'<text x="{left + plot_w}" y="{axis_y}" text-anchor="end">{last}</text>')
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="{TEXT_COLOUR}"/>')
    legend_y = height - 14
    parts.append(f'<line x1="{left}" x2="{left + 28}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
                 f'stroke="{IN_COLOUR}" stroke-width="2.5"/>')
    parts.append(f'<text x="{left + 34}" y="{legend_y}">{escape(labels.money_in)}</text>')
    middle = left + plot_w // 2
    parts.append(f'<line x1="{middle}" x2="{middle + 28}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
                 f'stroke="{OUT_COLOUR}" stroke-width="2.5" stroke-dasharray="7 4"/>')
    parts.append(f'<text x="{middle + 34}" y="{legend_y}">{escape(labels.money_out)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
