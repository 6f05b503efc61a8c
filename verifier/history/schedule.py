"""Scheduled reconciliation: one stored run (`run_once`), its outputs and its alerts.

Where it sits: under `por reconcile`. `run_once` opens the history database, takes the
run writer lock, reconciles (verifier/jobs/pipeline.py), stores the run (verifier/history/store.py)
— a failure is stored as a failed run with its error — then, with the lock released, sends
the alerts (verifier/history/alerts.py).

A run's outputs are part of the run: the HTML report (`--html`) and the metrics file
(`--metrics-file`) are written while the run's rows are still uncommitted, and a run whose
output cannot be written is stored as failed with the reason (exit 4, the file system is
infrastructure), alerted as a failure and shown as one in the metrics (when the metrics file
itself can be written). A run is therefore never stored as ok without its outputs.

Cron, systemd timers and Kubernetes CronJobs call `por reconcile` once: the exit code
is the run's. Containers use ``--every 1h``: the loop of verifier/history/loop.py calls
`run_once` every interval.

What a run leaves for machines: `run_summary` (``por-run-v1``, one compact line per run on
stdout under ``--every --json``), and with ``--report-dir`` the full report (or the failed
run's error document) as ``DIR/<started>-run-<id>.json`` plus ``DIR/latest.json``, each
replaced atomically (`write_report_files`). Diagnostics (run started and finished, alerts
and their delivery, the loop stopping) are log records (verifier/base/logs.py), never stdout.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chains.rpc import url_problem
from verifier.base.atomic import write_atomic
from verifier.base.console import plural
from verifier.base.errors import EXIT_INFRA, InputError, PorError, StoreError, UsageError
from verifier.base.logs import mask_document, register_secret
from verifier.base.outdir import guard_file
from verifier.base.redact import mask_text, mask_url
from verifier.base.safejson import open_regular
from verifier.history.alerts import (
    Alert,
    Webhook,
    alerts_for,
    parse_drift,
    render_payload,
    stress_alerts,
)
from verifier.history.db_url import database_url
from verifier.history.metrics import MetricsSnapshot, read_snapshot, write_metrics
from verifier.history.records import RunRecord, StressHistory
from verifier.history.store import Store
from verifier.history.writer import RunWriter
from verifier.inputs.config import load_config
from verifier.inputs.config_values import PorConfig
from verifier.jobs.stress_run import StressRun

log = logging.getLogger(__name__)

RUN_FORMAT = "por-run-v1"
LATEST = "latest.json"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class RunOptions:
    """What one scheduled run needs, gathered from flags, environment and config."""

    config_file: Path
    db: str | None = None
    btc_height: int | None = None
    eth_block: int | None = None
    webhook: str | None = None
    metrics_file: Path | None = None
    html_file: Path | None = None
    report_dir: Path | None = None
    """``--report-dir``: each run's report (or error document) and latest.json."""
    drift: str | None = None
    lock_timeout: int | None = None
    quiet: bool = False
    alert_format: str | None = None
    """The webhook payload's shape (`--alert-format`; default [alerts] format)."""
    on_metrics: Callable[[MetricsSnapshot], None] | None = None
    """Given the metrics after each run (`LiveMetrics.update` for `--metrics-port`)."""
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass
class RunResult:
    exit_code: int
    run: RunRecord | None
    report: dict[str, Any] | None
    error: PorError | None
    alerts: list[Alert]
    delivered: bool | None = None
    started_at: str | None = None
    report_file: Path | None = None
    """Where ``--report-dir`` put this run's document (None: no --report-dir, or not written)."""
    metrics: MetricsSnapshot | None = None
    """What the metrics show after this run (the loop's /metrics serves it)."""
    stress: StressRun | None = None
    """The run's ``[stress]`` scenarios (None: no [stress], or the run failed)."""


def _config_hash(path: Path) -> str | None:
    try:
        with open_regular(path, what="config file") as handle:  # never blocks on a FIFO
            return hashlib.sha256(handle.read()).hexdigest()
    except (OSError, PorError):
        return None


def open_store(options: RunOptions, config: PorConfig | None) -> Store:
    url = database_url(
        options.db,
        options.env,
        config.database.url if config is not None else None,
        options.config_file,
    )
    timeout = options.lock_timeout
    if timeout is None:
        timeout = config.database.lock_timeout if config is not None else 30
    return Store(url, lock_timeout=timeout)


# Long on purpose: one run start to finish (record, reconcile, write, alert) with one
# error path; the steps share the run record and its failure handling.
def run_once(options: RunOptions, reconcile: Callable[[PorConfig], Any] | None = None) -> RunResult:
    """One reconciliation, stored; then alerts and metrics. Never raises a `PorError` for
    the run itself (it is stored and returned); raises `StoreError` when the database
    cannot be used at all (the run could not be recorded)."""
    config: PorConfig | None = None
    config_error: PorError | None = None
    try:
        config = load_config(options.config_file)
    except PorError as exc:
        if not options.config_file.is_file():
            # no config at all (a typo in --config): nothing ran, so nothing is stored or
            # alerted, and no por.db appears beside a file that is not there (exit 3)
            raise
        config_error = exc  # a config that is there but wrong: a failed run, stored
    webhook = webhook_url(options, config)
    store = open_store(options, config)
    _refuse_overwriting_inputs(options, config, store)
    store.ensure_ready()
    drift = parse_drift(
        options.drift or (config.alerts.drift if config is not None else None) or None
    )
    report: dict[str, Any] | None = None
    error: PorError | None = config_error
    started = now_iso()
    clock = time.monotonic()
    written: list[Path] = []
    log.info("run started", extra={"started_at": started, "config": str(options.config_file)})
    config_hash = _config_hash(options.config_file)
    with store.writer() as writer:
        previous = writer.last_success()
        exit_code = EXIT_INFRA
        stress: StressRun | None = None
        if config is not None:
            try:
                outcome = (reconcile or _reconcile(options))(config)
                report, exit_code = outcome.report, int(outcome.exit_code)
                stress = getattr(outcome, "stress", None)
            except PorError as exc:
                error = exc
            except Exception as exc:  # a bug must still leave a failed run behind
                error = PorError(f"unexpected error: {type(exc).__name__}: {exc}")
        duration = int((time.monotonic() - clock) * 1000)
        run_id: int | None = None
        if error is None and report is not None:
            try:
                run_id = writer.record_success(
                    started_at=started,
                    finished_at=now_iso(),
                    duration_ms=duration,
                    report=report,
                    exit_code=exit_code,
                    config_hash=config_hash,
                    then=lambda run_id: written.extend(
                        _write_outputs(options, store, writer, report, config, run_id, started)
                    ),
                    stress=stress.outcomes if stress is not None else (),
                )
            except PorError as exc:  # stored as a failed run in the run's place
                error, run_id = exc, writer.failed_run_id
        if error is not None:
            # masked before it is stored or shown: the run's error goes to the database,
            # history, the NDJSON line, --report-dir and the alerts (node URLs read from
            # url_file/url_env, passwords, cookies and URL credentials never among them)
            error.message = store.mask(error.message)
        if run_id is None:
            assert error is not None
            run_id = writer.record_failure(
                started_at=started,
                finished_at=now_iso(),
                duration_ms=duration,
                error=f"{type(error).__name__}: {error.message}",
                exit_code=error.exit_code,
                config_hash=config_hash,
            )
        if error is not None:
            exit_code = error.exit_code
        records = store.runs(since=started, conn=writer.conn)
        earlier = _earlier_stress(store, writer, run_id, stress)
        snapshot = _snapshot(store, writer, config, report if error is None else None)
        if error is not None and options.metrics_file is not None and snapshot is not None:
            _failed_run_metrics(options.metrics_file, snapshot)
    run = next(r for r in records if r.id == run_id)
    log.info(
        "run %s %s (exit %s) in %s ms, stored in %s",
        run.id,
        run.status,
        exit_code,
        run.duration_ms,
        store.describe(),
        extra={"run_id": run.id, "exit_code": exit_code, "duration_ms": run.duration_ms},
    )
    alerts = alerts_for(run, report, previous, drift)
    if stress is not None and stress.alert and run.succeeded:
        alerts += stress_alerts(run.stress, earlier, run.currency)
    result = RunResult(exit_code, run, report, error, alerts)
    result.started_at = started
    result.stress = stress if run.succeeded else None
    if error is not None and options.report_dir is not None:
        # the failed run's error document takes the run's place (and latest.json's)
        try:
            written.extend(
                write_report_files(options.report_dir, error_document(result), run.id, started)
            )
        except StoreError as exc:
            log.error("%s", exc.message, extra={"run_id": run.id})
    result.report_file = written[0] if written else None
    result.metrics = snapshot
    if snapshot is not None and options.on_metrics is not None:
        options.on_metrics(snapshot)
    _alert(webhook, config, store, result, options.alert_format)
    return result


def report_name(started_at: str, run_id: int | None) -> str:
    """``20261205T003612.345Z-run-5.json``: sorts by time and names the stored run."""
    stamp = started_at.replace("-", "").replace(":", "")
    return f"{stamp}-run-{run_id if run_id is not None else 'unrecorded'}.json"


def write_report_files(
    directory: Path, document: Mapping[str, Any], run_id: int | None, started_at: str
) -> list[Path]:
    """Write `document` as the run's file in `directory`, then replace ``latest.json`` with
    it, each through a temporary file, fsync and a rename (a reader never sees half a file).
    Returns [the run's file, latest.json]; raises `StoreError` naming ``--report-dir``."""
    data = (json.dumps(document, indent=2) + "\n").encode("utf-8")
    written = []
    for target in (directory / report_name(started_at, run_id), directory / LATEST):
        write_atomic(target, data, error=functools.partial(_not_written, directory, target.name))
        written.append(target)
    return written


def _not_written(directory: Path, name: str, exc: OSError) -> StoreError:
    return StoreError(
        f"--report-dir {directory}: {name} was not written ({exc.strerror or type(exc).__name__})"
    )


def error_document(result: RunResult) -> dict[str, Any]:
    """A failed run's document: ``por-error-v1`` with the run's id and times."""
    error = result.error or PorError("the run produced no report")
    run = result.run
    document: dict[str, Any] = mask_document(  # also an error that was never stored
        {
            **error.to_json(),
            "run_id": run.id if run is not None else None,
            "started_at": run.started_at if run is not None else result.started_at,
            "finished_at": run.finished_at if run is not None else None,
        }
    )
    return document


def run_summary(result: RunResult) -> dict[str, Any]:
    """The compact ``por-run-v1`` document of one run (a line of ``--every --json``): what
    a log collector or a pager needs; the full report is in ``--report-dir``."""
    run, report = result.run, result.report or {}
    doc: dict[str, Any] = {
        "format": RUN_FORMAT,
        "run_id": run.id if run is not None else None,
        "started_at": run.started_at if run is not None else result.started_at,
        "finished_at": run.finished_at if run is not None else now_iso(),
        "status": run.status if run is not None else "failed",
        "exit_code": result.exit_code,
    }
    if result.error is not None or not report:
        doc["error"] = error_document(result)
    else:
        doc["verdict"] = report.get("verdict")
    doc["chains"] = [
        {"chain": c.get("chain"), "height": c.get("height"), "hash": c.get("block_hash")}
        for c in report.get("chains") or []
    ]
    doc["coverage"] = {a.get("code"): a.get("coverage_ratio") for a in report.get("assets") or []}
    doc["combined"] = (report.get("combined") or {}).get("ratio")
    doc["report"] = str(result.report_file) if result.report_file is not None else None
    doc["stress"] = result.stress.summary() if result.stress is not None else None
    return doc


def unrecorded_summary(error: PorError, started_at: str, report_dir: Path | None) -> dict[str, Any]:
    """The summary of a run that could not even be stored (the database is down), its error
    document also written to ``--report-dir`` when there is one."""
    result = RunResult(error.exit_code, None, None, error, [], started_at=started_at)
    if report_dir is not None:
        try:
            files = write_report_files(report_dir, error_document(result), None, started_at)
            result.report_file = files[0]
        except StoreError as exc:
            log.error("%s", exc.message)
    return run_summary(result)


def _refuse_overwriting_inputs(options: RunOptions, config: PorConfig | None, store: Store) -> None:
    """`--html` and `--metrics-file` must not replace the config, the database or any file
    the config names (a typo must not turn por.db into an HTML page): `UsageError`, exit 2,
    before anything runs."""
    # the config and the database first: the config's own path is among the paths it holds,
    # and the message names the first match
    inputs: list[tuple[str, Path | None]] = [("config file", options.config_file)]
    if store.path is not None and store.path.name:
        for suffix in ("", "-wal", "-shm", "-journal"):
            inputs.append(("database", store.path.with_name(store.path.name + suffix)))
    inputs += [("input (named in the config)", path) for path in _paths(config)]
    seen: dict[Path, str] = {}
    for flag, target in (("--html", options.html_file), ("--metrics-file", options.metrics_file)):
        if target is None:
            continue
        guard_file(target, inputs, flag=flag)
        resolved = target.resolve()
        if resolved in seen:
            raise UsageError(f"{flag} {target} is also {seen[resolved]}'s file")
        seen[resolved] = flag


def _paths(value: object, depth: int = 0) -> list[Path]:
    """Every path inside a config value (dataclasses, tuples, mappings)."""
    if depth > 8:
        return []
    if isinstance(value, Path):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [
            p for f in dataclasses.fields(value) for p in _paths(getattr(value, f.name), depth + 1)
        ]
    if isinstance(value, Mapping):
        return [p for item in value.values() for p in _paths(item, depth + 1)]
    if isinstance(value, (tuple, list)):
        return [p for item in value for p in _paths(item, depth + 1)]
    return []


def _earlier_stress(
    store: Store, writer: RunWriter, run_id: int | None, stress: StressRun | None
) -> StressHistory:
    """What the runs before `run_id` said of the scenarios (empty without [stress]); a
    database that cannot be read now is logged, and the stress alerts then compare with
    nothing."""
    if stress is None or run_id is None:
        return StressHistory()
    try:
        return store.stress_history(run_id, conn=writer.conn)
    except StoreError as exc:
        log.warning("stress alerts compare with no earlier run: %s", store.mask(exc.message))
        return StressHistory()


def _write_outputs(
    options: RunOptions,
    store: Store,
    writer: RunWriter,
    report: dict[str, Any],
    config: PorConfig | None = None,
    run_id: int | None = None,
    started: str = "",
) -> list[Path]:
    """The run's files, before its rows are kept: the HTML report, the ``--report-dir``
    files, then the metrics (rendered from the rows just written, so they show this run).
    Raises `StoreError` naming the flag and the file when one cannot be written; returns
    the ``--report-dir`` files written."""
    written: list[Path] = []
    if options.html_file is not None:
        from verifier.report.html import render_html, write_html

        try:
            write_html(options.html_file, render_html(report))
        except StoreError as exc:
            raise StoreError(
                f"--html {options.html_file}: the report was not written: {exc}"
            ) from exc
    if options.report_dir is not None:
        written = write_report_files(options.report_dir, report, run_id, started)
    if options.metrics_file is not None:
        try:
            snapshot = metrics_snapshot(store, writer.conn, config, report)
            write_metrics(options.metrics_file, snapshot)
        except StoreError as exc:
            raise StoreError(f"--metrics-file {options.metrics_file}: {exc.message}") from exc
    return written


def _failed_run_metrics(path: Path, snapshot: MetricsSnapshot) -> None:
    """Metrics after a failed run (last known coverage, ``por_last_run_success 0``); a
    metrics file that cannot be written is logged: the run has failed already."""
    try:
        write_metrics(path, snapshot)
    except StoreError as exc:
        log.error("--metrics-file %s: %s", path, exc.message)


def metrics_snapshot(
    store: Store, conn: Any, config: PorConfig | None, report: dict[str, Any] | None
) -> MetricsSnapshot:
    """The metrics of the runs stored so far (`report`: the run just recorded, when it
    succeeded), labelled with the config's exchange and attestation when it could be read.
    Raises `StoreError` when the database cannot be read."""
    days, blocks = _max_age(config)
    return read_snapshot(
        store,
        conn,
        exchange=config.exchange if config is not None else None,
        attestation=config.attestation_id if config is not None else None,
        report=report,
        max_age_seconds=days * 86400 if days is not None else None,
        max_age_blocks=blocks,
    )


def _max_age(config: PorConfig | None) -> tuple[int | None, dict[str, int]]:
    """The ownership proofs' maximum age (days, blocks per chain) the run applied: the
    config's, else its rule pack's, else the default (verifier/holdings/ownership.py)."""
    if config is None:
        return None, {}
    try:
        from verifier.holdings.ownership import max_age_for

        limit = max_age_for(config)
        return limit.days, dict(limit.blocks)
    except (ImportError, PorError):  # a pack that cannot be read failed the run already
        return config.ownership.max_age_days, dict(config.ownership.max_age_blocks)


def _snapshot(
    store: Store, writer: RunWriter, config: PorConfig | None, report: dict[str, Any] | None
) -> MetricsSnapshot | None:
    """`metrics_snapshot` inside the run's transaction; a database that cannot be read
    now is logged (the run is stored already, the metrics keep their last value)."""
    try:
        return metrics_snapshot(store, writer.conn, config, report)
    except StoreError as exc:
        log.warning("metrics not updated: %s", store.mask(exc.message))
        return None


def _reconcile(options: RunOptions) -> Callable[[PorConfig], Any]:
    def go(config: PorConfig) -> Any:
        from verifier.base.console import progress_bar
        from verifier.holdings.plans import build_plans
        from verifier.jobs.pipeline import reconcile_now

        plans = build_plans(config, btc_height=options.btc_height, eth_block=options.eth_block)
        with progress_bar(not options.quiet) as progress:
            return reconcile_now(config, plans, progress, with_stress=True)

    return go


def webhook_url(options: RunOptions, config: PorConfig | None) -> str | None:
    """The alert webhook: `--webhook`, then ``POR_WEBHOOK_URL``, then [alerts] webhook.

    Checked before the run (`InputError`, exit 3, naming the setting, the URL masked): a
    webhook that cannot be a URL would otherwise only be noticed when the first alert
    has nowhere to go. An empty `--webhook` is refused; an empty variable is unset."""
    sources = [
        (options.webhook, "--webhook", None),
        (options.env.get("POR_WEBHOOK_URL") or None, "POR_WEBHOOK_URL", None),
        (
            config.alerts.webhook if config is not None else None,
            "alerts.webhook",
            str(options.config_file),
        ),
    ]
    for value, key, file in sources:
        if value is None or (not value and key != "--webhook"):
            continue
        problem = url_problem(value) if value.strip() else "is blank"
        if problem is not None:
            shown = mask_url(value) if "://" in value else value
            raise InputError(
                f"not a usable webhook URL: it {problem}", file=file, key=key, value=shown
            )
        register_secret(value)  # a webhook URL is a capability (Slack's are): never logged
        return value
    return None


def _alert(
    url: str | None,
    config: PorConfig | None,
    store: Store,
    result: RunResult,
    options_format: str | None = None,
) -> None:
    for alert in result.alerts:
        log.warning(
            "alert %s %s: %s",
            alert.kind,
            alert.subject,
            alert.message,
            extra={"alert": alert.kind, "subject": alert.subject},
        )
    if not url or not result.alerts or result.run is None:
        return
    try:
        hook = Webhook(
            url,
            timeout=config.alerts.timeout if config is not None else 10,
            retries=config.alerts.retries if config is not None else 3,
        )
    except InputError as exc:
        log.error("alert webhook not used: %s", exc.message)
        return
    document = render_payload(
        options_format or (config.alerts.format if config is not None else "generic"),
        result.run,
        result.alerts,
        exchange=config.exchange if config is not None else None,
        attestation=config.attestation_id if config is not None else None,
        database=store.describe(),
    )
    delivery = hook.send(document)
    result.delivered = delivery.delivered
    if not delivery.delivered:
        log.error(
            "%s",
            mask_text(
                f"alert webhook failed after {plural(delivery.attempts, 'attempt')}: "
                f"{delivery.error}"
            ),
            extra={"attempts": delivery.attempts},
        )
    else:
        log.info(
            "%d alert(s) delivered to %s",
            len(result.alerts),
            mask_url(url),
            extra={"attempts": delivery.attempts},
        )
