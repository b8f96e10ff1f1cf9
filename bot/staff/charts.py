"""Bar and line charts drawn on the server as SVG: no script, no CDN, nothing for the CSP to allow.

Each chart scales to its container (a viewBox, no fixed width), names itself
with <title> and <desc> for screen readers, and sits next to a table with the
same numbers on the page. Colours come from classes in staff.css.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 12, 34


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str  # "s1".."s4": the colour class


def _nice_max(value: float) -> float:
    """The top of the axis: four equal steps of 1, 2 or 5 times a power of ten, so every tick is round."""
    if value <= 0:
        return 4.0
    raw = value / 4
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= power * factor:
            return 4 * power * factor
    return 4 * power * 10  # pragma: no cover


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _frame(chart_id: str, title: str, desc: str, body: list[str], top: float, unit: str) -> Markup:
    plot_h = HEIGHT - TOP - BOTTOM
    grid = []
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        grid.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        grid.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(value)}{unit}</text>'
        )
    svg = (
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>'
        + "".join(grid)
        + "".join(body)
        + "</svg>"
    )
    return Markup(svg)


def _labels(labels: Sequence[str], x_of: list[float]) -> list[str]:
    # Thin the labels out so they never overlap, whatever the number of days.
    every = max(1, round(len(labels) / 12))
    return [
        f'<text class="axis" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" '
        f'text-anchor="middle">{escape(label)}</text>'
        for i, (label, x) in enumerate(zip(labels, x_of, strict=True))
        if i % every == 0
    ]


def stacked_bars(
    chart_id: str, *, title: str, desc: str, labels: Sequence[str], series: Sequence[Series], unit: str = ""
) -> Markup:
    n = max(1, len(labels))
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    bar = max(1.0, slot * 0.7)
    body: list[str] = []
    centres = []
    for i, label in enumerate(labels):
        x = LEFT + slot * i + (slot - bar) / 2
        centres.append(x + bar / 2)
        y = TOP + plot_h
        for s in series:
            value = s.values[i] or 0
            h = plot_h * value / top
            if h > 0:
                y -= h
                body.append(
                    f'<rect class="{s.css}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}">'
                    f"<title>{escape(label)} · {escape(s.name)}: {_fmt(value)}{unit}</title></rect>"
                )
    return _frame(chart_id, title, desc, body + _labels(labels, centres), top, unit)


def lines(
    chart_id: str, *, title: str, desc: str, labels: Sequence[str], series: Sequence[Series], unit: str = ""
) -> Markup:
    values = [v for s in series for v in s.values if v is not None]
    top = _nice_max(max(values, default=0))
    n = max(2, len(labels))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    xs = [LEFT + plot_w * i / (n - 1) for i in range(len(labels))]
    body: list[str] = []
    for s in series:
        points = [
            (xs[i], TOP + plot_h - plot_h * v / top) for i, v in enumerate(s.values) if v is not None
        ]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            body.append(f'<polyline class="line {s.css}" points="{path}"/>')
        present = [(i, v) for i, v in enumerate(s.values) if v is not None]
        for (x, y), (i, v) in zip(points, present, strict=True):
            body.append(
                f'<circle class="{s.css}" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                f"<title>{escape(labels[i])} · {escape(s.name)}: {_fmt(v)}{unit}</title></circle>"
            )
    return _frame(chart_id, title, desc, body + _labels(labels, xs), top, unit)


def hbars(
    chart_id: str, *, title: str, desc: str, rows: Sequence[tuple[str, float]], unit: str = ""
) -> Markup:
    """Horizontal bars for ranked lists (requests, reasons): long labels stay readable on a phone."""
    # Narrower than the other charts: it sits in half a column, and its words must stay legible.
    width, row_h = 420, 26
    height = max(row_h, row_h * len(rows)) + 8
    top = max((v for _, v in rows), default=0) or 1
    label_w, plot_w = 150, width - 150 - 50
    body = []
    for i, (label, value) in enumerate(rows):
        y = 4 + i * row_h
        w = plot_w * value / top
        body.append(
            f'<text class="axis" x="{label_w - 8}" y="{y + 17}" text-anchor="end">{escape(label[:24])}</text>'
            f'<rect class="s1" x="{label_w}" y="{y + 4}" width="{max(w, 1):.1f}" height="{row_h - 8}"/>'
            f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 17}">{_fmt(value)}{unit}</text>'
        )
    return Markup(
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d">'
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )
