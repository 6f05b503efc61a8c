"""`por history`: past runs as a table, a JSON document and an HTML page with charts.

Where it sits: reads the run history that `por reconcile` stores (verifier/history/store.py) and
renders it; it writes nothing to the database and never creates one: no database file, or
one without tables, is an empty history ("no runs yet"), while a file that is not a por
database or has an older schema is refused by the store (exit 4). The HTML page is one
self-contained file (inline SVG, no script, no external URL) in the pages' shared layout
(verifier/report/templates/history.html): coverage per asset over time and eligible vs
required reserve over time (verifier/report/charts.py `line_chart`), with failed runs
marked on the time axis and listed in the table, and each run's ``[stress]`` scenario
outcomes (a line per run in the terminal, a Scenarios table on the page) and the payout
runs of `por insolvency payouts` (verifier/history/payouts.py; a line each, a JSON list
`payout_runs`, a Payouts table on the page). The terminal
table (`render_table`) and the page show the same figures the same way
(verifier/report/figures.py): coverage with two decimals rounded down (`pct`), the reserve
as eligible / required in whole units of the currency (`money`), both with thousands
separators.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from verifier.base.errors import InputError
from verifier.base.logs import mask
from verifier.history.payouts import PayoutRun, payout_runs
from verifier.history.records import RunRecord
from verifier.history.store import Store
from verifier.report.figures import money, pct

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


def read_payouts(store: Store, since: str | None = None) -> list[PayoutRun]:
    """Stored `por insolvency payouts` runs, oldest first (as the reconciliation runs)."""
    runs = payout_runs(store)
    return [p for p in reversed(runs) if since is None or p.started_at >= since]


def payout_rows(payouts: Sequence[PayoutRun]) -> list[dict[str, Any]]:
    """One row per payout run: the plan, the paid file, the verdict and the accounts by
    status (the document's `accounts`), for the JSON, the terminal and the page."""
    rows = []
    for p in payouts:
        accounts = p.document.get("accounts") if isinstance(p.document, dict) else None
        counts = accounts if isinstance(accounts, dict) else {}
        rows.append(
            {
                "id": p.id,
                "started_at": p.started_at,
                "plan_id": p.plan_id,
                "exchange": p.exchange,
                "paid_file": p.paid_file,
                "payments": p.payments,
                "consistent": p.consistent,
                "exit_code": p.exit_code,
                "accounts": {str(k): v for k, v in counts.items() if isinstance(v, int)},
            }
        )
    return rows


def payout_line(row: dict[str, Any]) -> str:
    """'payout run 3 (plan sha256:ab12…): 5 payments, consistent; 2 paid, 1 unpaid'."""
    counts = ", ".join(f"{n:,} {status}" for status, n in row["accounts"].items() if n)
    verdict = "consistent" if row["consistent"] else "NOT consistent"
    return (
        f"payout run {row['id']} {str(row['started_at'])[:19].replace('T', ' ')} (plan "
        f"{str(row['plan_id'])[:19]}…): {row['payments']:,} payments, {verdict}"
        + (f"; {counts}" if counts else "")
    )


def render_payouts(payouts: Sequence[PayoutRun], console: Console) -> None:
    """The payout runs, a line each, after the reconciliation runs' table."""
    from verifier.base.console import print_wrapped

    for row in payout_rows(payouts):
        print_wrapped(console, printable(payout_line(row)), subsequent="  ")


def history_json(
    runs: Sequence[RunRecord], database: str, payouts: Sequence[PayoutRun] = ()
) -> dict[str, Any]:
    return {
        "format": HISTORY_FORMAT,
        "database": database,
        "runs": [{**r.to_json(), "error": shown_error(r)} for r in runs],
        "payout_runs": payout_rows(payouts),
        "summary": {
            "runs": len(runs),
            "failed": sum(1 for r in runs if r.status == "failed"),
            "shortfall": sum(1 for r in runs if r.status == "shortfall"),
            "ok": sum(1 for r in runs if r.status == "ok"),
        },
    }


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
        cells = [pct(r.coverage[a].ratio) if a in r.coverage else "" for a in assets]
        reserve = _reserve(r)
        table.add_row(
            str(r.id),
            r.started_at.replace("T", " ").rstrip("Z")[:19],
            f"[{colour}]{r.status}[/{colour}]",
            str(r.exit_code),
            *cells,
            pct(r.combined_ratio) if r.combined_ratio is not None else "",
            reserve,
        )
    print_table(console, table)
    for r in runs:
        if r.stress:
            print_wrapped(console, printable(stress_line(r)), subsequent="  ")
    for r in runs:
        if r.status == "failed":
            print_wrapped(
                console,
                f"run {r.id} failed: {printable(shown_error(r) or '')}",
                subsequent="  ",
                style="red",
            )


def _uncovered(value: Decimal | None, currency: str | None) -> str:
    return f"{currency or ''} {money(value)}".strip() if value is not None else ""


def stress_line(r: RunRecord) -> str:
    """A run's scenario outcomes on one line: "run 5 scenarios: 1 of 2 made whole;
    bybit-2025 short by JPY 1,234.00" (errors said as "not evaluated")."""
    # "of" every scenario the file names (an errored one included: "1 of 2 made whole;
    # ghost not evaluated"); the file's own error is no scenario
    scenarios = [o for o in r.stress if o.scenario_id is not None]
    whole = sum(1 for o in scenarios if o.error is None and o.made_whole)
    parts = [f"{whole} of {len(scenarios)} made whole"] if scenarios else []
    for o in r.stress:
        if o.error is not None:
            what = o.scenario_id or "the scenario file"
            parts.append(f"{what} not evaluated: {mask(o.error)}")
        elif not o.made_whole:
            parts.append(f"{o.scenario_id} short by {_uncovered(o.uncovered_value, r.currency)}")
    return f"run {r.id} scenarios: " + "; ".join(parts)


def stress_rows(runs: Sequence[RunRecord]) -> list[dict[str, Any]]:
    """One row per run and scenario outcome, for the page's Scenarios table."""
    return [
        {
            "run": r.id,
            "scenario": o.scenario_id or "(scenario file)",
            "made_whole": "" if o.made_whole is None else ("yes" if o.made_whole else "no"),
            "uncovered": _uncovered(o.uncovered_value, r.currency),
            "days": "" if o.time_to_pay_days is None else str(o.time_to_pay_days),
            "error": "" if o.error is None else mask(o.error),
        }
        for r in runs
        for o in r.stress
    ]


def _reserve(r: RunRecord) -> str:
    """Eligible / required reserve in whole units of the currency (both pages show it so)."""
    if r.reserve_required is None:
        return ""
    return f"{money(r.reserve_eligible, 0)} / {money(r.reserve_required, 0)}"


# ----------------------------------------------------------------------------- HTML


def render_history_html(
    runs: Sequence[RunRecord], database: str, payouts: Sequence[PayoutRun] = ()
) -> str:
    """The self-contained HTML page of `por history --html` (template history.html)."""
    from verifier.report.charts import line_chart
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
        svg, legend = line_chart(
            title,
            [r.started_at for r in runs],
            series,
            percent=percent,
            unit=unit,
            failed=[(r.started_at, r.id) for r in runs if r.status == "failed"],
        )
        if svg:
            charts.append({"title": title, "svg": svg, "legend": legend})
    rows = [
        {
            "id": r.id,
            "started": r.started_at.replace("T", " ")[:19],
            "status": r.status,
            "exit": r.exit_code,
            "cells": [pct(r.coverage[a].ratio) if a in r.coverage else "" for a in assets],
            "combined": pct(r.combined_ratio) if r.combined_ratio is not None else "",
            "reserve": _reserve(r),
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
        stress_rows=stress_rows(runs),
        payout_rows=payout_rows(payouts),
    )
