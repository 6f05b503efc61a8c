"""`por history`: past runs as a table, a JSON document and an HTML page with charts.

Where it sits: reads the run history that `por reconcile` stores (verifier/store.py) and
renders it; it writes nothing to the database and never creates one: no database file, or
one without tables, is an empty history ("no runs yet"), while a file that is not a por
database or has an older schema is refused by the store (exit 4). The HTML page is one
self-contained file (inline SVG, no script, no external URL): coverage per asset over
time and eligible vs required reserve over time, with failed runs marked on the time axis
and listed in the table. Chart coordinates are computed with exact decimals (no float).
"""

from __future__ import annotations

import calendar
import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from verifier.errors import InputError
from verifier.logs import mask
from verifier.store import RunRecord, Store

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
    ratio or an amount cut: verifier/console.py)."""
    from verifier.console import plural, print_table, print_wrapped

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

_W, _H, _PAD = Decimal(720), Decimal(240), Decimal(48)
_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def _seconds(iso: str) -> Decimal:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    whole = calendar.timegm(moment.utctimetuple())
    return Decimal(whole) + Decimal(moment.microsecond) / 1_000_000


def _c(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN))


def _chart(
    title: str,
    runs: Sequence[RunRecord],
    series: dict[str, list[tuple[str, Decimal]]],
    *,
    percent: bool,
) -> str:
    """An SVG line chart of `series` (name -> [(time, value)]), failed runs as red ticks."""
    times = [_seconds(r.started_at) for r in runs]
    values = [v for points in series.values() for _, v in points]
    if not times:
        return ""
    t0, t1 = min(times), max(times)
    span = (t1 - t0) or Decimal(1)
    low = min([*values, Decimal(0)]) if values else Decimal(0)
    high = max(values) if values else Decimal(1)
    if percent:
        high = max(high, Decimal(1))
    if high == low:
        high = low + 1
    width, height = _W - 2 * _PAD, _H - 2 * _PAD

    def x(t: Decimal) -> str:
        return _c(_PAD + (t - t0) / span * width)

    def y(v: Decimal) -> str:
        return _c(_PAD + height - (v - low) / (high - low) * height)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-label="{html.escape(title)}">',
        f'<text x="{_PAD}" y="20" font-weight="bold">{html.escape(title)}</text>',
        f'<line x1="{_PAD}" y1="{_c(_PAD + height)}" x2="{_c(_PAD + width)}" '
        f'y2="{_c(_PAD + height)}" stroke="#999"/>',
        f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_c(_PAD + height)}" stroke="#999"/>',
    ]
    for v in (low, high):
        label = _pct(v) if percent else _money(v)
        parts.append(
            f'<text x="{_c(_PAD - 4)}" y="{y(v)}" text-anchor="end" font-size="10">'
            f"{html.escape(label)}</text>"
        )
    if percent and low < 1 < high:
        parts.append(
            f'<line x1="{_PAD}" y1="{y(Decimal(1))}" x2="{_c(_PAD + width)}" '
            f'y2="{y(Decimal(1))}" stroke="#d62728" stroke-dasharray="4 3"/>'
        )
    for i, (name, points) in enumerate(sorted(series.items())):
        colour = _COLOURS[i % len(_COLOURS)]
        coords = " ".join(f"{x(_seconds(t))},{y(v)}" for t, v in points)
        if len(points) > 1:
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>'
            )
        for t, v in points:
            parts.append(
                f'<circle cx="{x(_seconds(t))}" cy="{y(v)}" r="3" fill="{colour}">'
                f"<title>{html.escape(name)} {html.escape(t)}: "
                f"{html.escape(_pct(v) if percent else _money(v))}</title></circle>"
            )
        parts.append(
            f'<text x="{_c(_PAD + width + 4 - 60)}" y="{_c(_PAD + 12 * i)}" font-size="11" '
            f'fill="{colour}">{html.escape(name)}</text>'
        )
    for r in runs:
        if r.status == "failed":
            tx = x(_seconds(r.started_at))
            parts.append(
                f'<line class="failed" x1="{tx}" y1="{_PAD}" x2="{tx}" y2="{_c(_PAD + height)}" '
                f'stroke="#d62728" stroke-width="1"><title>run {r.id} failed</title></line>'
            )
    parts.append("</svg>")
    return "\n".join(parts)


def render_history_html(runs: Sequence[RunRecord], database: str) -> str:
    """The self-contained HTML page of `por history --html`."""
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
    rows = []
    assets = sorted(coverage)
    for r in runs:
        cells = "".join(
            f"<td>{_pct(r.coverage[a].ratio) if a in r.coverage else ''}</td>" for a in assets
        )
        error = html.escape(shown_error(r) or "")
        rows.append(
            f'<tr class="{r.status}"><td>{r.id}</td><td>{html.escape(r.started_at)}</td>'
            f"<td>{r.status}</td><td>{r.exit_code}</td>{cells}"
            f"<td>{_pct(r.combined_ratio) if r.combined_ratio is not None else ''}</td>"
            f"<td>{error}</td></tr>"
        )
    head = "".join(f"<th>{html.escape(a)}</th>" for a in assets)
    failed = sum(1 for r in runs if r.status == "failed")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>por history</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 2px 8px; }}
tr.failed td {{ background: #fde0e0; }} tr.shortfall td {{ background: #fff4d6; }}
svg {{ max-width: 100%; height: auto; display: block; margin: 1em 0; }}
</style></head><body>
<h1>Reconciliation history</h1>
<p>{len(runs)} runs from {html.escape(database)}; {failed} failed (red). A run is a
point-in-time check, not an audit; the history shows how those checks moved over time.</p>
{_chart("Coverage per asset (proven holdings / liabilities)", runs, coverage, percent=True)}
{_chart(f"Liability reserve, eligible vs required ({currency})", runs, reserve, percent=False)}
<table><thead><tr><th>run</th><th>started (UTC)</th><th>status</th><th>exit</th>{head}
<th>combined</th><th>error</th></tr></thead><tbody>
{"".join(rows)}
</tbody></table></body></html>
"""
