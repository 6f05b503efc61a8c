"""`por snapshot` and `por reconcile` (once, or `--every` as a service).

snapshot reads every wallet at one pinned block per chain (verifier/holdings/);
reconcile runs the whole job through verifier/history/schedule.py (pipeline, history
database, alerts, metrics, report files) and prints the report, or one por-run-v1 line per
run under `--every --json`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from verifier.base.console import (
    err,
    out,
    plural,
    print_json,
    print_json_line,
    print_table,
    print_wrapped,
    progress_bar,
)
from verifier.base.errors import EXIT_OK, PorError, UsageError
from verifier.base.redact import mask_text
from verifier.cli.options import CONFIG_OPTION, JSON_OPTION, heights, report_error

log = logging.getLogger(__name__)


@click.command("snapshot")
@CONFIG_OPTION
@click.option(
    "--btc-height",
    type=click.IntRange(0),
    default=None,
    help="Pin Bitcoin at this height (default: the node's tip).",
)
@click.option(
    "--eth-block",
    type=click.IntRange(0),
    default=None,
    help="Pin Ethereum at this block number (default: the node's tip).",
)
@JSON_OPTION
def snapshot_cmd(
    config_file: Path, btc_height: int | None, eth_block: int | None, as_json: bool
) -> int:
    """Read every wallet at one pinned block per chain and check its ownership proof."""
    import asyncio

    from verifier.holdings.plans import build_plans
    from verifier.holdings.snapshot import take_snapshot
    from verifier.inputs.config import load_config

    config = load_config(config_file)
    plans = build_plans(config, btc_height=btc_height, eth_block=eth_block)
    with progress_bar(not as_json) as progress:
        result = asyncio.run(take_snapshot(config, plans, progress))
    if as_json:
        print_json(result.to_json())
    else:
        _render_snapshot(result.to_json())
    return EXIT_OK


def _render_snapshot(doc: dict[str, Any]) -> None:
    out.print(
        f"[bold]Snapshot[/bold] of {escape(doc['exchange'])} for attestation "
        f"{escape(doc['attestation_id'])} at {doc['taken_at']}"
    )
    for chain in doc["chains"]:
        out.print()
        print_wrapped(  # wrapped at spaces: the block hash stays whole
            out,
            f"{chain['chain']} {chain['network']} at height {chain['height']}, block "
            f"{chain['block_hash']} ({chain['method']}, {plural(chain['requests'], 'request')})",
            subsequent="  ",
        )
        table = Table(show_header=True)
        for column in ("wallet", "class", "address", "balances", "ownership"):
            table.add_column(column)
        for row in chain["addresses"]:
            balances = ", ".join(f"{code} {units}" for code, units in row["balances"].items())
            status = row["ownership"]["status"]
            colour = {"proven": "green", "custodial": "yellow"}.get(status, "red")
            reason = row["ownership"]["reason"] or ""
            # a reason may open with its status ("proven; signed for epoch …", "stale,
            # counted as unproven: …"): the status is said once, then the reason
            rest = reason[len(status) :] if reason.startswith(status) else f"; {reason}"
            table.add_row(
                escape(row["label"] or row["wallet"]),
                row["class"],
                escape(row["address"]),
                balances + " (base units)",
                f"[{colour}]{status}[/{colour}]{escape(rest) if reason else ''}",
            )
        print_table(out, table)
        totals = Table(title="totals", show_header=True)
        for column in ("asset", "proven", "unproven", "custodial"):
            totals.add_column(column, justify="right" if column != "asset" else "left")
        for code, kinds in chain["totals"].items():
            totals.add_row(code, *(kinds[k]["amount"] for k in ("proven", "unproven", "custodial")))
        print_table(out, totals)


# ----------------------------------------------------------------------------- reconcile


# Long on purpose: a click command whose body is mostly its options handed on, in order;
# the steps themselves live in verifier/jobs/pipeline.py and verifier/history/schedule.py.
@click.command("reconcile")
@CONFIG_OPTION
@heights
@click.option(
    "--html",
    "html_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the self-contained HTML report here.",
)
@click.option(
    "--db",
    default=None,
    help="History database: a SQLite file or a postgresql:// URL (default: "
    "$POR_DATABASE_URL, then [database] url, then por.db beside the config).",
)
@click.option(
    "--every",
    default=None,
    help="Keep running: one run every INTERVAL (30s, 15m, 1h, 1d) until SIGTERM. With --json, "
    "one compact por-run-v1 JSON line per run on stdout (NDJSON; the full report goes to "
    "--report-dir).",
)
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write each run's full report (or a failed run's error document) to "
    "DIR/<started>-run-<id>.json and replace DIR/latest.json atomically.",
)
@click.option(
    "--webhook",
    default=None,
    help="POST alerts here (default: $POR_WEBHOOK_URL, then [alerts] webhook).",
)
@click.option(
    "--metrics-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Write Prometheus gauges here (node_exporter textfile collector).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="With --every: serve /metrics and /healthz on this port (0: a free port, printed).",
)
@click.option(
    "--metrics-addr",
    default="127.0.0.1",
    show_default=True,
    help="Address --metrics-port listens on.",
)
@click.option(
    "--alert-format",
    type=click.Choice(["generic", "alertmanager", "slack"]),
    default=None,
    help="Webhook payload: por-alert-v1, Alertmanager's /api/v2/alerts or a Slack message "
    "(default [alerts] format, then generic).",
)
@click.option(
    "--drift",
    default=None,
    help="Alert when an asset's coverage ratio falls by more than this between runs "
    "(e.g. 0.05; default [alerts] drift).",
)
@click.option(
    "--lock-timeout",
    type=click.IntRange(0, 86400),
    default=None,
    help="Seconds to wait for another run's database lock (default [database] lock_timeout, 30).",
)
@JSON_OPTION
def reconcile_cmd(
    config_file: Path,
    btc_height: int | None,
    eth_block: int | None,
    html_file: Path | None,
    db: str | None,
    every: str | None,
    report_dir: Path | None,
    webhook: str | None,
    metrics_file: Path | None,
    metrics_port: int | None,
    metrics_addr: str,
    alert_format: str | None,
    drift: str | None,
    lock_timeout: int | None,
    as_json: bool,
) -> int:
    """Snapshot, reserve and coverage: the combined report, stored in the history database.
    Exit 0 covered and reserve met, 1 shortfall or under a threshold, 3 invalid input,
    4 node, network or database failure (a failed run is stored with its error)."""
    from verifier.history.alerts import parse_drift
    from verifier.history.loop import LiveMetrics, Stop, parse_interval, run_loop
    from verifier.history.schedule import (
        RunOptions,
        now_iso,
        run_once,
        run_summary,
        unrecorded_summary,
    )

    parse_drift(drift)
    live = None
    if metrics_port is not None:
        if every is None:
            raise UsageError("--metrics-port serves the --every loop: give --every too")
        live = LiveMetrics(parse_interval(every), config_file)
    if report_dir is not None and report_dir.exists() and not report_dir.is_dir():
        raise UsageError(f"--report-dir {report_dir} exists and is not a directory")
    stream = every is not None and as_json  # NDJSON: one por-run-v1 line per run
    options = RunOptions(
        config_file=config_file,
        db=db,
        btc_height=btc_height,
        eth_block=eth_block,
        webhook=webhook,
        metrics_file=metrics_file,
        html_file=html_file,
        report_dir=report_dir,
        drift=drift,
        lock_timeout=lock_timeout,
        quiet=as_json or every is not None,
        alert_format=alert_format,
        on_metrics=live.update if live is not None else None,
    )

    def once() -> int:
        # run_once writes --html, --report-dir and --metrics-file before the run is kept: a
        # run whose files cannot be written is stored as failed (exit 4), never as ok
        started = now_iso()
        try:
            result = run_once(options)
        except PorError as exc:
            if stream:  # the run could not be stored: its line says so all the same
                exc.message = mask_text(exc.message)
                print_json_line(unrecorded_summary(exc, started, report_dir))
            raise
        if stream:
            if result.error is not None:
                log.error("%s", result.error.message, extra={"exit_code": result.exit_code})
            print_json_line(run_summary(result))
            return result.exit_code
        if result.error is not None:
            report_error(result.error, as_json)
            return result.exit_code
        _render_reconcile(result.report, html_file, as_json)
        if not as_json and result.run is not None and result.run.stress:
            from verifier.history.view import stress_line  # [stress]: the scenarios' outcome

            out.print(stress_line(result.run), markup=False)
        return result.exit_code

    if every is None:
        return once()
    interval = parse_interval(every)
    from verifier.jobs.preflight import check_reconcile_config

    check_reconcile_config(config_file)  # wrong at start is wrong every run: exit 3 now
    _loop_logging()
    stop = Stop()
    stop.install()
    if live is None:
        return run_loop(once, interval, stop)
    server = live.serve(metrics_addr, metrics_port or 0)  # exit 4 naming the port
    try:
        return run_loop(once, interval, stop, health=live.health)
    finally:
        server.close()


def _loop_logging() -> None:
    """The `--every` loop logs at INFO unless a level was chosen: a service's run lines
    (started, finished, alerts delivered, stopped) are what its operator reads."""
    from verifier.base import logs

    chosen = click.get_current_context().find_root().meta.get("por.log") or {}
    if not chosen.get("explicit"):
        logs.configure(logging.INFO, chosen.get("format", "text"))


def _render_reconcile(report: Any, html_file: Path | None, as_json: bool) -> None:
    from verifier.report.terminal import render_terminal

    if as_json:
        print_json(report)
    else:
        render_terminal(report, out)
        if html_file is not None:
            err.print(f"HTML report: {html_file}")
