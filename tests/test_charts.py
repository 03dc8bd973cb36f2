"""Charts drawn on the server: accessible, escaped, and the numbers they say."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from wall.charts import bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def test_a_bar_chart_has_a_title_a_description_and_bars_in_proportion() -> None:
    svg = bar_chart("Shown per team", [("Dayton", 200), ("Payroll", 50)], unit="times")
    root = parse(svg)
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and title.text == "Shown per team"
    assert desc is not None and desc.text == "Dayton: 200 times; Payroll: 50 times"
    assert set(root.get("aria-labelledby", "").split()) == {title.get("id"), desc.get("id")}
    widths = [float(r.get("width", 0)) for r in root.iter(f"{SVG}rect")]
    assert widths[0] == 4 * widths[1] > 0


def test_the_previous_period_is_drawn_and_said() -> None:
    root = parse(bar_chart("Shown", [("This quarter", 30)], compare=[60]))
    rects = [float(r.get("width", 0)) for r in root.iter(f"{SVG}rect")]
    assert len(rects) == 2 and rects[1] == 2 * rects[0]
    assert "previous period" in (root.find(f"{SVG}desc").text or "")


def test_labels_from_story_files_are_text() -> None:
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    for svg in (bar_chart(hostile, [(hostile, 1)]), line_chart(hostile, [(hostile, 2)])):
        root = parse(svg)
        assert not list(root.iter("script")) and not list(root.iter(f"{SVG}script"))
        assert "<script>" not in svg and "onerror=alert" not in svg.replace(
            "onerror=alert(1)&gt;", ""
        )
        assert root.find(f"{SVG}title").text == hostile  # escaped, then read back as text


def test_a_line_chart_scales_to_its_highest_point_and_thins_its_labels() -> None:
    points = [(f"2026-{m:02d}", float(m)) for m in range(1, 13)]
    root = parse(line_chart("Submissions per month", points, width=400))
    ys = [float(c.get("cy", 0)) for c in root.iter(f"{SVG}circle")]
    assert len(ys) == 12 and ys[-1] < ys[0]  # higher values are higher up
    labels = [t.text for t in root.iter(f"{SVG}text") if t.text and t.text.startswith("2026")]
    assert labels[0] == "2026-01" and labels[-1] == "2026-12" and len(labels) < 12


def test_no_data_still_draws_and_says_so() -> None:
    for svg in (bar_chart("Empty", []), line_chart("Empty", [])):
        assert parse(svg).find(f"{SVG}desc").text == "No data."
    assert re.search(r'height="\d+"', bar_chart("Empty", []))
