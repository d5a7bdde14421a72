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


def _open_svg(element_id: str, width: int, height: int, title: str, desc: str) -> list[str]:
    title_id, desc_id = f"{element_id}-title", f"{element_id}-desc"
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ledger-chart" id="{escape(element_id)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{escape(title_id)} {escape(desc_id)}" font-size="12" fill="{TEXT_COLOUR}">',
        f'<title id="{escape(title_id)}">{escape(title)}</title>',
        f'<desc id="{escape(desc_id)}">{escape(desc)}</desc>',
    ]


def line_chart(values: Sequence[tuple[str, int]], *, title: str, desc: str, axis: Callable[[int], str],
               element_id: str = "line-chart", width: int = 640, height: int = 260) -> str:
    """One line over evenly spaced periods (months), `values` as (label, value) in order, with a y
    grid from 0 and the first and last labels on the x axis; a single period is a dot."""
    left, right, top, bottom = 96, 16, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = _open_svg(element_id, width, height, title, desc)
    high = max([0, *(v for _label, v in values)])
    low = min([0, *(v for _label, v in values)])
    _, step = nice_ceiling(high - low)
    base = math.floor(low / step) * step
    ceiling = base + max(1, math.ceil((high - base) / step)) * step
    y = _scale(base, ceiling, top + plot_h, top)
    for value in range(base, ceiling + 1, step):
        yy = _fmt(y(value))
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{yy}" y2="{yy}" stroke="{GRID_COLOUR}"/>')
        parts.append(f'<text x="{left - 8}" y="{yy}" text-anchor="end" dominant-baseline="middle">'
                     f'{escape(axis(value))}</text>')
    if values:
        x = _scale(0, max(1, len(values) - 1), left, left + plot_w)
        coords = [(x(i) if len(values) > 1 else left + plot_w / 2, y(v))
                  for i, (_label, v) in enumerate(values)]
        if len(coords) > 1:
            points = " ".join(f"{_fmt(xx)},{_fmt(yy)}" for xx, yy in coords)
            parts.append(f'<polyline points="{points}" fill="none" stroke="{IN_COLOUR}" stroke-width="2.5" '
                         'stroke-linejoin="round"/>')
        if len(coords) <= 36:  # a dot per period while they stay apart
            parts.extend(f'<circle cx="{_fmt(xx)}" cy="{_fmt(yy)}" r="3.5" fill="{IN_COLOUR}"/>'
                         for xx, yy in coords)
        axis_y = top + plot_h + 20
        parts.append(f'<text x="{left}" y="{axis_y}" text-anchor="start">{escape(values[0][0])}</text>')
        if len(values) > 1:
            parts.append(f'<text x="{left + plot_w}" y="{axis_y}" text-anchor="end">'
                         f'{escape(values[-1][0])}</text>')
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="{TEXT_COLOUR}"/>')
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart(values: Sequence[tuple[str, int]], *, title: str, desc: str, value_text: Callable[[int], str],
              element_id: str = "bar-chart", width: int = 640, bar: int = 16) -> str:
    """Horizontal bars from 0, one per (label, value), each with its label above it and its value
    at its end: long names (provinces, categories) stay readable on a narrow screen."""
    left, right, row = 8, 8, bar + 26
    height = max(row, row * len(values)) + 8
    parts = _open_svg(element_id, width, height, title, desc)
    high = max([1, *(abs(v) for _label, v in values)])
    scale = (width - left - right - 150) / high  # room for the value's text after the longest bar
    for i, (label, value) in enumerate(values):
        top = 4 + i * row
        length = max(0.0, value * scale)
        parts.append(f'<text x="{left}" y="{top + 12}">{escape(label)}</text>')
        parts.append(f'<rect x="{left}" y="{top + 17}" width="{_fmt(length)}" height="{bar}" '
                     f'fill="{IN_COLOUR}"/>')
        parts.append(f'<text x="{_fmt(left + length + 6)}" y="{top + 17 + bar - 4}">'
                     f'{escape(value_text(value))}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
