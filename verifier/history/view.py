"""`por history`: past runs as a table, a JSON document and an HTML page with charts.

Where it sits: reads the run history that `por reconcile` stores (verifier/history/store.py) and
renders it; it writes nothing to the database and never creates one: no database file, or
one without tables, is an empty history ("no runs yet"), while a file that is not a por
database or has an older schema is refused by the store (exit 4). The HTML page is one
self-contained file (inline SVG, no script, no external URL): coverage per asset over
time and eligible vs required reserve over time, with failed runs marked on the time axis
and listed in the table. Chart coordinates are computed with exact decimals (no float).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from markupsafe import Markup
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from verifier.base.errors import InputError
from verifier.base.logs import mask
from verifier.history.records import RunRecord
from verifier.history.store import Store

HISTORY_FORMAT = "por-history-v1"
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
_LOOK_BACK = re.compile(r"([0-9]{1,12})([mhdw])")


def parse_since(text: str, now: datetime | None = None) -> str:
    """``--since``: an ISO 8601 date or time, or a look-back such as ``24h``, ``7d``, ``2w``;
    returned as the ISO UTC string runs are stored with (they compare as text)."""
    value = text.strip()
    try:
        look_back = _LOOK_BACK.fullmatch(value)
        if look_back is not None:
            seconds = int(look_back.group(1)) * _UNITS[look_back.group(2)]
            moment = (now or datetime.now(UTC)) - timedelta(seconds=seconds)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # not a time, or before year 1 / after 9999
        raise InputError(
            "--since must be an ISO 8601 date/time or a look-back such as 7d (within years "
            "1 to 9999)",
            key="--since",
            value=text,
        ) from exc
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read_runs(store: Store, since: str | None = None) -> list[RunRecord]:
    """The stored runs (since `since`), or none when there is no database or no schema yet.

    Raises `StoreError` for an older schema (run `por db upgrade`) and for anything that is
    not a por database; nothing is created or changed."""
    if not store.ensure_readable():
        return []
    return store.runs(since=since)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` without terminal control characters (an error stored in a database is
    shown on a terminal; an escape sequence in it must not act)."""
    return _CONTROL.sub("?", text)


def select_asset(runs: Sequence[RunRecord], asset: str | None) -> list[RunRecord]:
    """Runs with only `asset`'s coverage kept (failed runs are kept: they have none)."""
    if asset is None:
        return list(runs)
    out = []
    for run in runs:
        if run.succeeded and asset not in run.coverage:
            continue
        kept = {asset: run.coverage[asset]} if asset in run.coverage else {}
        out.append(
            RunRecord(**{**run.__dict__, "coverage": kept}),
        )
    return out


def shown_error(run: RunRecord) -> str | None:
    """The run's stored error as it may be shown: masked again (URL credentials, every
    secret this process has read). Errors are masked before they are stored; this is for a
    database written before that, which may still hold a node URL's credentials."""
    return None if run.error is None else mask(run.error)


def history_json(runs: Sequence[RunRecord], database: str) -> dict[str, Any]:
    return {
        "format": HISTORY_FORMAT,
        "database": database,
        "runs": [{**r.to_json(), "error": shown_error(r)} for r in runs],
        "summary": {
            "runs": len(runs),
            "failed": sum(1 for r in runs if r.status == "failed"),
            "shortfall": sum(1 for r in runs if r.status == "shortfall"),
            "ok": sum(1 for r in runs if r.status == "ok"),
        },
    }


_WIDE = Context(prec=1000)
"""Enough digits to quantize any stored value (exponents are bounded to ±400 on read):
a coverage ratio of 10**30 (tiny liabilities) must print, not raise."""


def _pct(value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    return f"{(value * 100).quantize(Decimal('0.01'), rounding=ROUND_DOWN, context=_WIDE)}%"


def render_table(runs: Sequence[RunRecord], console: Console) -> None:
    """The runs as a table, or as ``label: value`` lists when it does not fit (never a
    ratio or an amount cut: verifier/base/console.py)."""
    from verifier.base.console import plural, print_table, print_wrapped

    assets = sorted({code for r in runs for code in r.coverage})
    table = Table(title=f"por history: {plural(len(runs), 'run')}", show_header=True)
    for column in ("run", "started (UTC)", "status", "exit", *assets, "combined", "reserve"):
        table.add_column(
            escape(printable(column)), justify="left" if column in {"status"} else "right"
        )
    for r in runs:
        colour = {"ok": "green", "shortfall": "yellow", "failed": "red"}[r.status]
        cells = [_pct(r.coverage[a].ratio) if a in r.coverage else "" for a in assets]
        reserve = (
            f"{_money(r.reserve_eligible)} / {_money(r.reserve_required)}"
            if r.reserve_required is not None
            else ""
        )
        table.add_row(
            str(r.id),
            r.started_at.replace("T", " ").rstrip("Z")[:19],
            f"[{colour}]{r.status}[/{colour}]",
            str(r.exit_code),
            *cells,
            _pct(r.combined_ratio) if r.combined_ratio is not None else "",
            reserve,
        )
    print_table(console, table)
    for r in runs:
        if r.status == "failed":
            print_wrapped(
                console,
                f"run {r.id} failed: {printable(shown_error(r) or '')}",
                subsequent="  ",
                style="red",
            )


def _money(value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    return f"{value.quantize(Decimal(1), rounding=ROUND_DOWN, context=_WIDE):,}"


# ----------------------------------------------------------------------------- HTML

_W, _H = Decimal(720), Decimal(260)
_LEFT, _RIGHT, _TOP, _BOTTOM = Decimal(76), Decimal(16), Decimal(12), Decimal(46)
_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def _seconds(iso: str) -> Decimal:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    whole = calendar.timegm(moment.utctimetuple())
    return Decimal(whole) + Decimal(moment.microsecond) / 1_000_000


def _c(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN))


def compact(value: Decimal) -> str:
    from verifier.report.html import compact as shown

    return shown(value)


def _chart(
    title: str,
    runs: Sequence[RunRecord],
    series: dict[str, list[tuple[str, Decimal]]],
    *,
    percent: bool,
    unit: str,
) -> tuple[Markup, list[tuple[str, str]]]:
    """An SVG line chart of `series` (name -> [(time, value)]) with labelled axes (values
    left, dates below), the 100% line on a coverage chart, failed runs as red lines; the
    legend goes below the chart, as HTML, clear of the lines."""
    times = [_seconds(r.started_at) for r in runs]
    values = [v for points in series.values() for _, v in points]
    if not times:
        return Markup(""), []
    t0, t1 = min(times), max(times)
    span = (t1 - t0) or Decimal(1)
    low = min([*values, Decimal(0)]) if values else Decimal(0)
    high = max(values) if values else Decimal(1)
    if percent:
        # coverage moves by a few percent around 100%: an axis from 0 would flatten it
        low = max(Decimal(0), min([*values, Decimal(1)]) - Decimal("0.05"))
        high = max([*values, Decimal(1)]) + Decimal("0.02")
    if high == low:
        high = low + 1
    width, height = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    bottom = _TOP + height

    def x(t: Decimal) -> str:
        return _c(_LEFT + (t - t0) / span * width)

    def y(v: Decimal) -> str:
        return _c(_TOP + height - (v - low) / (high - low) * height)

    def shown(v: Decimal) -> str:
        return _pct(v) if percent else _money(v)

    def axis_label(v: Decimal) -> str:
        return _pct(v) if percent else compact(v)

    parts = [
        Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" role="img" '
            'aria-label="{}"><title>{}</title>'
        ).format(_W, _H, title, title),
        Markup('<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/>').format(
            l=_LEFT, b=_c(bottom), r=_c(_LEFT + width)
        ),
        Markup('<line x1="{l}" y1="{t}" x2="{l}" y2="{b}" stroke="#999"/>').format(
            l=_LEFT, t=_TOP, b=_c(bottom)
        ),
        Markup(
            '<text x="12" y="{}" font-size="12" text-anchor="middle" '
            'transform="rotate(-90 12 {})">{}</text>'
        ).format(_c(_TOP + height / 2), _c(_TOP + height / 2), unit),
    ]
    for v in (low, (low + high) / 2, high):
        parts.append(
            Markup('<text x="{}" y="{}" text-anchor="end" font-size="11">{}</text>').format(
                _c(_LEFT - 4), _c(Decimal(y(v)) + 4), axis_label(v)
            )
        )
    if percent and low < 1 <= high:
        parts.append(
            Markup(
                '<line x1="{l}" y1="{y}" x2="{r}" y2="{y}" stroke="#d62728" '
                'stroke-dasharray="6 4"/><text x="{tx}" y="{ty}" font-size="11" '
                'text-anchor="end" fill="#d62728">100%</text>'
            ).format(
                l=_LEFT,
                r=_c(_LEFT + width),
                y=y(Decimal(1)),
                tx=_c(_LEFT + width),
                ty=_c(Decimal(y(Decimal(1))) - 4),
            )
        )
    ticks = sorted({t0, t1, *([(t0 + t1) / 2] if t1 > t0 else [])})
    for tick in ticks:
        anchor = "start" if tick == t0 else "end" if tick == t1 else "middle"
        parts.append(
            Markup(
                '<line x1="{x}" y1="{b}" x2="{x}" y2="{b2}" stroke="#999"/>'
                '<text x="{x}" y="{ty}" font-size="11" text-anchor="{a}">{t}</text>'
            ).format(
                x=x(tick),
                b=_c(bottom),
                b2=_c(bottom + 4),
                ty=_c(bottom + 16),
                a=anchor,
                t=datetime.fromtimestamp(int(tick), UTC).strftime("%Y-%m-%d %H:%M"),
            )
        )
    parts.append(
        Markup(
            '<text x="{}" y="{}" font-size="12" text-anchor="middle">run started (UTC)</text>'
        ).format(_c(_LEFT + width / 2), _c(bottom + 36))
    )
    legend = []
    for i, (name, points) in enumerate(sorted(series.items())):
        colour = _COLOURS[i % len(_COLOURS)]
        coords = " ".join(f"{x(_seconds(t))},{y(v)}" for t, v in points)
        if len(points) > 1:
            parts.append(
                Markup('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>').format(
                    colour, coords
                )
            )
        for t, v in points:
            parts.append(
                Markup(
                    '<circle cx="{}" cy="{}" r="3" fill="{}"><title>{} {}: {}</title></circle>'
                ).format(x(_seconds(t)), y(v), colour, name, t, shown(v))
            )
        legend.append((colour, name))
    for r in runs:
        if r.status == "failed":
            tx = x(_seconds(r.started_at))
            parts.append(
                Markup(
                    '<line class="failed" x1="{x}" y1="{t}" x2="{x}" y2="{b}" stroke="#d62728" '
                    'stroke-width="1"><title>run {id} failed</title></line>'
                ).format(x=tx, t=_TOP, b=_c(bottom), id=r.id)
            )
    if any(r.status == "failed" for r in runs):
        legend.append(("#d62728", "failed run (vertical line)"))
    parts.append(Markup("</svg>"))
    return Markup("\n").join(parts), legend


def render_history_html(runs: Sequence[RunRecord], database: str) -> str:
    """The self-contained HTML page of `por history --html` (template history.html)."""
    from verifier.report.html import REPORT_CSP, render_page  # the pages' shared layout

    ok = [r for r in runs if r.succeeded]
    coverage: dict[str, list[tuple[str, Decimal]]] = {}
    for r in ok:
        for code, c in r.coverage.items():
            if c.ratio is not None:
                coverage.setdefault(code, []).append((r.started_at, c.ratio))
    reserve: dict[str, list[tuple[str, Decimal]]] = {}
    for r in ok:
        if r.reserve_required is not None and r.reserve_eligible is not None:
            reserve.setdefault("eligible", []).append((r.started_at, r.reserve_eligible))
            reserve.setdefault("required", []).append((r.started_at, r.reserve_required))
    currency = next((r.currency for r in ok if r.currency), "")
    assets = sorted(coverage)
    charts = []
    for title, series, percent, unit in (
        ("Coverage per asset (proven holdings / liabilities)", coverage, True, "coverage"),
        (f"Liability reserve, eligible vs required ({currency})", reserve, False, currency),
    ):
        svg, legend = _chart(title, runs, series, percent=percent, unit=unit)
        if svg:
            charts.append({"title": title, "svg": svg, "legend": legend})
    rows = [
        {
            "id": r.id,
            "started": r.started_at.replace("T", " ")[:19],
            "status": r.status,
            "exit": r.exit_code,
            "cells": [_pct(r.coverage[a].ratio) if a in r.coverage else "" for a in assets],
            "combined": _pct(r.combined_ratio) if r.combined_ratio is not None else "",
            "error": shown_error(r) or "",
        }
        for r in runs
    ]
    return render_page(
        "history.html",
        title="por history",
        csp=REPORT_CSP,
        runs=len(runs),
        database=database,
        failed=sum(1 for r in runs if r.status == "failed"),
        charts=charts,
        assets=assets,
        rows=rows,
    )
