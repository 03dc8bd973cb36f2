"""The impact page for moderators: figures next to the period before, charts with
their numbers in tables, and every table as CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, abort, render_template, request

from ..charts import bar_chart, line_chart
from ..impact import Period, PeriodError, Report
from . import get_wall
from .auth import for_moderators_only

bp = Blueprint("impact", __name__, url_prefix="/admin/impact")

# The tables drawn as a chart too: chart, column of labels, column of values, unit. The
# title names what is counted, so bars carry bare numbers, which fit beside them.
CHARTS = {
    "displays_by_day": ("line", 0, 1, ""),
    "most_shown": ("bar", 1, 3, ""),
    "pipeline_months": ("bar", 0, 1, ""),
    "thanks_months": ("bar", 0, 1, ""),
    "thanks_teams": ("bar", 0, 1, ""),
    "rejections": ("bar", 0, 1, ""),
}


for_moderators_only(bp)


def chosen_period() -> Period:
    """The period the picker asks for; this quarter by default, 400 for a bad one."""
    args = request.args
    try:
        return get_wall().impact.period(
            args.get("period", "quarter")[:10], args.get("from", "")[:10], args.get("to", "")[:10]
        )
    except PeriodError as exc:
        abort(400, str(exc))


@bp.get("")
def page():
    """Show the figures of a period next to the period before, with charts and tables."""
    period = chosen_period()
    report = get_wall().impact.report(period)
    return render_template(
        "admin/impact.html", report=report, period=period, charts=_charts(report)
    )


@bp.get("/<name>.csv")
def table_csv(name: str):
    """Download one table of the page, or the figures, as CSV."""
    period = chosen_period()
    report = get_wall().impact.report(period)
    if name == "figures":
        rows = [(key, f.label, f.value, f.before, f.unit) for key, f in report.figures.items()]
        columns: tuple[str, ...] = ("figure", "label", period.label, report.previous.label, "unit")
    elif name in report.tables:
        columns, rows = report.tables[name].columns, report.tables[name].rows
    else:
        abort(404)
    return _csv(f"{name}-{_stamp(period)}.csv", columns, rows)


@bp.get("/proof-of-play.csv")
def proof_of_play():
    """Download where and how often stories were shown, per story, screen and day."""
    slug = request.args.get("slug") or None
    period = chosen_period() if request.args.get("period") else None
    rows = get_wall().impact.proof_of_play(slug, period)
    name = "proof-of-play" + (f"-{slug}" if slug else "") + (f"-{_stamp(period)}" if period else "")
    return _csv(
        f"{name}.csv",
        ("story", "screen", "day", "shown"),
        [(r["slug"], r["screen"], r["day"], r["shown"]) for r in rows],
    )


def _charts(report: Report) -> dict[str, str]:
    charts = {}
    for name, (kind, label, value, unit) in CHARTS.items():
        table = report.tables[name]
        points = [(str(row[label]), float(row[value])) for row in table.rows]
        if not points or not any(v for _, v in points):
            continue  # an empty chart says less than the sentence the page shows instead
        if kind == "line" and len(points) > 1:
            charts[name] = line_chart(table.title, points, unit=unit, width=960)
        else:
            charts[name] = bar_chart(table.title, points, unit=unit)
    return charts


def _stamp(period: Period) -> str:
    return f"{period.first.isoformat()}-to-{period.last.isoformat()}"


def _csv(filename: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        # A cell a spreadsheet would run as a formula is written as text.
        writer.writerow(
            ["'" + c if isinstance(c, str) and c[:1] in ("=", "+", "-", "@") else c for c in row]
        )
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
