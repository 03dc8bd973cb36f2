"""Charts drawn on the server as SVG: no script, no web font, readable in print.

Each chart is an image with a title and a short description for screen
readers; the page shows the same numbers in a table beside it, so nothing is
only in a picture. Every label is escaped: tags and names come from story
files, which anyone who can merge into the stories folder can write.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from html import escape

# Colours that keep a 4.5:1 contrast on white, in print too.
INK = "#1f2328"
MUTED = "#57606a"
BAR = "#b45309"
COMPARE = "#c9b79c"
GRID = "#d0d7de"
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', sans-serif\""

_ids = itertools.count(1)


def _number(value: float, unit: str = "") -> str:
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return f"{text} {unit}".strip()


def _svg(title: str, description: str, width: int, height: int, body: list[str]) -> str:
    n = next(_ids)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="chart-{n}-title chart-{n}-desc" {FONT}>'
        f'<title id="chart-{n}-title">{escape(title)}</title>'
        f'<desc id="chart-{n}-desc">{escape(description)}</desc>' + "".join(body) + "</svg>"
    )


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    compare: Sequence[float] | None = None,
    width: int = 640,
) -> str:
    """Horizontal bars, one per label, longest first as given; with `compare`, a thin
    bar under each for the previous period."""
    row = 34 if compare is not None else 26
    # About 7.5 px a character at 13 px: labels get what they need, up to a third of the width.
    label_width = min(
        width // 3, max(80, max((len(label) for label, _ in bars), default=0) * 8 + 12)
    )
    fits = max((label_width - 12) // 8, 4)
    value_width = 90
    plot = max(width - label_width - value_width, 60)
    height = max(row * len(bars) + 12, 40)
    top = max([v for _, v in bars] + list(compare or []) + [0])
    scale = plot / top if top > 0 else 0
    body: list[str] = []
    for i, (label, value) in enumerate(bars):
        y = 6 + i * row
        shown = label if len(label) <= fits else label[: fits - 1] + "…"  # the table has it whole
        body.append(
            f'<text x="{label_width - 8}" y="{y + 14}" text-anchor="end" font-size="13" '
            f'fill="{INK}">{escape(shown)}</text>'
        )
        length = max(value * scale, 0)
        body.append(
            f'<rect x="{label_width}" y="{y + 3}" width="{length:.1f}" height="14" '
            f'fill="{BAR}" rx="2"/>'
        )
        if compare is not None and i < len(compare):
            before = max(compare[i] * scale, 0)
            body.append(
                f'<rect x="{label_width}" y="{y + 20}" width="{before:.1f}" height="6" '
                f'fill="{COMPARE}" rx="1"/>'
            )
        body.append(
            f'<text x="{label_width + length + 6:.1f}" y="{y + 14}" font-size="13" '
            f'fill="{MUTED}">{escape(_number(value, unit))}</text>'
        )
    description = "; ".join(f"{label}: {_number(value, unit)}" for label, value in bars)
    if compare is not None:
        description += ". The thin bars are the previous period."
    return _svg(title, description or "No data.", width, height, body)


def line_chart(
    title: str,
    points: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    width: int = 640,
) -> str:
    """A line over labelled points (months, days), with the axis labels thinned to fit."""
    height = 220
    left, right, top, bottom = 56, 16, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, v in points]
    high = max([*values, 0])
    high = high if high > 0 else 1
    step = plot_w / max(len(points) - 1, 1)
    body: list[str] = []
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        body.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="{MUTED}">{escape(_number(high * fraction))}</text>'
        )
    coords = [
        (left + i * step, top + plot_h * (1 - value / high)) for i, (_, value) in enumerate(points)
    ]
    if coords:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{BAR}" stroke-width="2.5" '
            'stroke-linejoin="round"/>'
        )
        for x, y in coords:
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{BAR}"/>')
    every = max(1, -(-len(points) // max(plot_w // 70, 1)))  # about one label per 70 px
    labelled = [i for i in range(len(points)) if i % every == 0]
    if points and labelled[-1] != len(points) - 1:
        if len(points) - 1 - labelled[-1] < every:
            labelled.pop()  # too close to the last label, which always shows
        labelled.append(len(points) - 1)
    for i in labelled:
        x = left + i * step
        anchor = "end" if i == len(points) - 1 and i > 0 else "middle"
        body.append(
            f'<text x="{x:.1f}" y="{height - 12}" text-anchor="{anchor}" font-size="12" '
            f'fill="{MUTED}">{escape(points[i][0])}</text>'
        )
    description = "; ".join(f"{label}: {_number(value, unit)}" for label, value in points)
    return _svg(title, description or "No data.", width, height, body)
