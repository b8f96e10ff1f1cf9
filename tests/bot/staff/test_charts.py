"""bot.staff.charts: SVG charts drawn on the server, sized to round ticks, named for screen readers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from bot.staff.charts import BOTTOM, HEIGHT, TOP, Series, _nice_max, hbars, lines, stacked_bars

SVG = "{http://www.w3.org/2000/svg}"


def parsed(markup: str) -> ET.Element:
    return ET.fromstring(str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def tooltips(svg: ET.Element, tag: str) -> list[str]:
    return [el.findtext(f"{SVG}title") or "" for el in svg.iter(f"{SVG}{tag}")]


@pytest.mark.parametrize(
    ("value", "top"), [(0, 4.0), (-3, 4.0), (3, 4), (7, 8), (9, 20), (41, 80), (0.3, 0.4), (100, 200)]
)
def test_the_axis_top_is_four_round_steps(value: float, top: float) -> None:
    assert _nice_max(value) == pytest.approx(top)
    assert _nice_max(value) >= value


def test_stacked_bars_stack_each_days_series_and_skip_what_is_missing() -> None:
    markup = stacked_bars(
        "per-day", title="Conversations", desc="Per day and channel", labels=["Mon", "Tue"],
        series=[Series("Website", [3, 1], "s1"), Series("SMS", [1, None], "s2")], unit="",
    )  # fmt: skip
    svg = parsed(markup)
    assert svg.get("id") == "per-day" and svg.get("aria-labelledby") == "per-day-t per-day-d"
    assert (svg.findtext(f"{SVG}title"), svg.findtext(f"{SVG}desc")) == ("Conversations", "Per day and channel")
    assert tooltips(svg, "rect") == ["Mon · Website: 3", "Mon · SMS: 1", "Tue · Website: 1"]
    rects = list(svg.iter(f"{SVG}rect"))
    plot = HEIGHT - TOP - BOTTOM
    # Monday's 4 fills the axis (top 4): its two parts meet and reach the top.
    assert float(rects[0].get("height")) + float(rects[1].get("height")) == pytest.approx(plot, abs=0.2)
    assert float(rects[1].get("y")) == pytest.approx(TOP, abs=0.1)
    assert [t.text for t in svg.iter(f"{SVG}text") if t.get("text-anchor") == "middle"] == ["Mon", "Tue"]


def test_lines_join_the_points_they_have_and_escape_every_label() -> None:
    markup = lines(
        "waits", title="Wait <min>", desc="Median", labels=["<b>1</b>", "2", "3"],
        series=[Series("Median", [2.5, None, 4], "s1"), Series("Alone", [None, 1, None], "s2")], unit=" min",
    )  # fmt: skip
    assert "<b>" not in markup and "&lt;b&gt;1&lt;/b&gt;" in markup
    svg = parsed(markup)
    assert [p.get("class") for p in svg.iter(f"{SVG}polyline")] == ["line s1"]  # one point alone is no line
    assert tooltips(svg, "circle") == ["<b>1</b> · Median: 2.5 min", "3 · Median: 4 min", "2 · Alone: 1 min"]


def test_horizontal_bars_rank_rows_with_short_labels() -> None:
    rows = [("track_order and a very long name", 10.0), ("refund", 5.0)]
    svg = parsed(hbars("top", title="Top requests", desc="Messages", rows=rows))
    widths = [float(r.get("width")) for r in svg.iter(f"{SVG}rect")]
    assert widths[0] == pytest.approx(2 * widths[1])
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert texts == ["track_order and a very l", "10", "refund", "5"]
    assert svg.get("viewBox") == "0 0 420 60"
    assert parsed(hbars("none", title="t", desc="d", rows=[])).get("viewBox") == "0 0 420 34"
