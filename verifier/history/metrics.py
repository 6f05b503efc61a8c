"""Prometheus metrics of scheduled runs: the gauges, the textfile and the scrape endpoint.

Where it sits: after a run is stored (verifier/history/schedule.py) and beside `por serve`
(verifier/cli/site.py). `read_snapshot` reads what the metrics show from the history store —
the latest run, the latest successful run and its report, the count of runs per outcome —
so a failed run keeps the last known coverage on the dashboard and flips
``por_last_run_success`` to 0. `PorCollector` turns a `MetricsSnapshot` into metric
families of a per-process `CollectorRegistry` (prometheus_client); `write_metrics` writes
them for node_exporter's textfile collector with `prometheus_client.write_to_textfile`
(a temp file renamed into place: the collector never reads half a file); `MetricsServer`
serves ``/metrics`` and ``/healthz`` from a thread.

Every series carries the labels ``exchange`` and ``attestation``. Values are float64, as
Prometheus stores them: metrics are for dashboards and alerting, never the record — the
report and the history database keep every amount exactly (integer base units, decimal
strings).
"""

from __future__ import annotations

import calendar
import contextlib
import logging
import platform
import selectors
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, make_wsgi_app, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector
from sqlalchemy.engine import Connection

from verifier.base import safejson
from verifier.base.errors import PorError, StoreError
from verifier.history.records import RunRecord, tool_version
from verifier.history.store import Store
from verifier.history.tables import REPORTS, RUNS

log = logging.getLogger(__name__)

OUTCOMES = ("ok", "shortfall", "failed")
"""The outcomes of `por_runs_total` (a stored run's status)."""
OWNERSHIP_STATUSES = ("proven", "unproven", "stale", "custodial")
"""The statuses of `por_ownership_addresses` (every one is exported, zero included)."""


@dataclass(frozen=True)
class MetricsSnapshot:
    """What the metrics show, read from the history store (and the config)."""

    exchange: str = ""
    attestation: str = ""
    last: RunRecord | None = None
    last_success: RunRecord | None = None
    report: Mapping[str, Any] | None = None
    """The last successful run's report (ownership and wallets come from it)."""
    outcomes: Mapping[str, int] = field(default_factory=dict)
    """Stored runs per status (ok, shortfall, failed)."""
    max_age_seconds: int | None = None
    """[ownership] max_age_days, in seconds (an epoch proof older than this is stale)."""
    max_age_blocks: Mapping[str, int] = field(default_factory=dict)
    """[ownership] max_age_blocks per chain."""


def _timestamp(iso: str) -> int:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return calendar.timegm(moment.utctimetuple())


def _float(value: Decimal | int) -> float:  # float-ok: Prometheus values are float64
    return float(value)  # float-ok: metrics only, never the record


def _whole_units(base_units: int, decimals: int) -> float:  # float-ok: metrics only
    return _float(Decimal(base_units).scaleb(-decimals))


# ----------------------------------------------------------------------------- reading


def run_outcomes(conn: Connection) -> dict[str, int]:
    """Stored runs per status, counted by the database (the history may be long)."""
    table = RUNS
    query = sa.select(table.c.status, sa.func.count()).group_by(table.c.status)
    counts = dict.fromkeys(OUTCOMES, 0)
    for status, count in conn.execute(query).all():
        if status in counts:
            counts[status] = int(count)
    return counts


def stored_report(store: Store, conn: Connection, run_id: int) -> dict[str, Any] | None:
    """The report stored with run `run_id`, read on `conn` (inside a run's transaction the
    store's own connection would not see it). None when there is none or it is not an
    object; a document that is not JSON is a `StoreError`."""
    table = REPORTS
    row = conn.execute(sa.select(table.c.document).where(table.c.run_id == run_id)).first()
    if row is None:
        return None
    try:
        document = safejson.loads(row[0], source=f"{store.describe()} run {run_id} report")
    except PorError as exc:
        raise StoreError(f"not a por database: {store.describe()} ({exc.message})") from exc
    return document if isinstance(document, dict) else None


def read_snapshot(
    store: Store,
    conn: Connection,
    *,
    exchange: str | None = None,
    attestation: str | None = None,
    report: Mapping[str, Any] | None = None,
    max_age_seconds: int | None = None,
    max_age_blocks: Mapping[str, int] | None = None,
) -> MetricsSnapshot:
    """The snapshot of the runs stored in `store`, read on `conn`.

    `report` is the last successful run's report when the caller holds it (the run just
    recorded); otherwise it is read from the store. `exchange` and `attestation` default
    to the report's. Raises `StoreError` when the database cannot be read."""
    last = store.last_run(conn)
    last_success = store.last_success(conn)
    if report is None and last_success is not None:
        report = stored_report(store, conn, last_success.id)
    try:
        outcomes = run_outcomes(conn)
    except sa.exc.DBAPIError as exc:
        raise StoreError(store.mask(f"cannot count runs in {store.describe()}: {exc}")) from exc
    reported = report or {}
    attested = reported.get("attestation")
    return MetricsSnapshot(
        exchange=exchange or _text(reported.get("exchange")),
        attestation=attestation
        or (_text(attested.get("id")) if isinstance(attested, Mapping) else ""),
        last=last,
        last_success=last_success,
        report=report,
        outcomes=outcomes,
        max_age_seconds=max_age_seconds,
        max_age_blocks=dict(max_age_blocks or {}),
    )


def read_store(
    store: Store, *, exchange: str | None = None, attestation: str | None = None
) -> MetricsSnapshot:
    """`read_snapshot` on a connection of its own (a reader such as `por serve`); the
    database errors are a `StoreError` naming the database, masked."""
    try:
        with store.engine.connect() as conn:
            return read_snapshot(store, conn, exchange=exchange, attestation=attestation)
    except (sa.exc.SQLAlchemyError, sqlite3.Error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StoreError(store.mask(f"database {store.describe()}: {reason}")) from exc


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


# ----------------------------------------------------------------------------- the collector


class PorCollector(Collector):
    """The metric families of the snapshot `source` returns (called on every collection:
    the loop hands it the snapshot of its latest run, `por serve` reads the store)."""

    def __init__(self, source: Callable[[], MetricsSnapshot]) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        return list(families(self.source()))


def families(snap: MetricsSnapshot) -> Iterator[Metric]:
    """Every metric family of `snap` (families without a sample are left out)."""
    base = ["exchange", "attestation"]
    ids = [snap.exchange, snap.attestation]

    def gauge(name: str, doc: str, extra: list[str] | None = None) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, doc, labels=[*base, *(extra or [])])

    info = gauge("por_build_info", "por's version and Python's; always 1.", ["version", "python"])
    info.add_metric([*ids, tool_version(), platform.python_version()], 1)
    yield info

    if snap.outcomes:  # no history database: no count
        runs = CounterMetricFamily(
            "por_runs",
            "Runs stored in the history database, by outcome.",
            labels=[*base, "outcome"],
        )
        for outcome in OUTCOMES:
            runs.add_metric([*ids, outcome], snap.outcomes.get(outcome, 0))
        yield runs

    last = snap.last
    if last is not None:
        for name, doc, value in (
            (
                "por_last_run_success",
                "1 if the last reconciliation run completed (covered or not), 0 if it failed.",
                0 if last.status == "failed" else 1,
            ),
            (
                "por_last_run_timestamp_seconds",
                "When the last run finished (Unix time).",
                _timestamp(last.finished_at),
            ),
            (
                "por_last_run_exit_code",
                "Exit code of the last run (0 covered, 1 shortfall, 3 input, 4 infrastructure).",
                last.exit_code,
            ),
        ):
            family = gauge(name, doc)
            family.add_metric(ids, value)
            yield family
        duration = gauge("por_last_run_duration_seconds", "Duration of the last run.")
        duration.add_metric(ids, _float(Decimal(last.duration_ms) / 1000))
        yield duration

    success = snap.last_success
    if success is None:
        return
    yield from _run_families(snap, success, gauge, ids)
    yield from _ownership_families(snap, gauge, ids)
    yield from _stress_families(success, gauge, ids)


def _stress_families(
    success: RunRecord, gauge: Callable[..., GaugeMetricFamily], ids: list[str]
) -> Iterator[Metric]:
    """The ``[stress]`` scenarios of the last successful run: made whole or not, the value
    left uncovered, the time to pay, and how many could not be evaluated."""
    if not success.stress:
        return
    made_whole = gauge(
        "por_stress_made_whole",
        "1 if the scenario made every customer whole at the last successful run, 0 if not.",
        ["scenario"],
    )
    uncovered = gauge(
        "por_stress_uncovered_value",
        "The scenario's uncovered loss in the reporting currency (a float: alerting only).",
        ["scenario", "currency"],
    )
    days = gauge(
        "por_stress_time_to_pay_days",
        "Days until the scenario's loss is paid (absent when a payer states no period).",
        ["scenario"],
    )
    errors = gauge(
        "por_stress_errors",
        "Scenarios (or the scenario file: 1) that could not be evaluated at the last "
        "successful run.",
    )
    failed = 0
    for o in success.stress:
        if o.error is not None or o.scenario_id is None:
            failed += 1
            continue
        labels = [*ids, o.scenario_id]
        made_whole.add_metric(labels, 1 if o.made_whole else 0)
        if o.uncovered_value is not None:
            uncovered.add_metric([*labels, success.currency or ""], _float(o.uncovered_value))
        if o.time_to_pay_days is not None:
            days.add_metric(labels, o.time_to_pay_days)
    errors.add_metric(ids, failed)
    yield from (f for f in (made_whole, uncovered, days, errors) if f.samples)


def _run_families(
    snap: MetricsSnapshot,
    success: RunRecord,
    gauge: Callable[..., GaugeMetricFamily],
    ids: list[str],
) -> Iterator[Metric]:
    finished = gauge(
        "por_last_success_timestamp_seconds", "When the last successful run finished (Unix time)."
    )
    finished.add_metric(ids, _timestamp(success.finished_at))
    yield finished

    coverage = success.coverage
    ratio = gauge(
        "por_coverage_ratio",
        "Coverage per asset (proven holdings / liabilities) at the last successful run.",
        ["asset"],
    )
    covered = gauge(
        "por_asset_covered", "1 if the asset was covered at the last successful run.", ["asset"]
    )
    shortfall = gauge(
        "por_shortfall",
        "Shortfall per asset in whole units of the asset (0 when covered) at the last "
        "successful run.",
        ["asset"],
    )
    for code, c in sorted(coverage.items()):
        if c.ratio is not None:
            ratio.add_metric([*ids, code], _float(c.ratio))
        covered.add_metric([*ids, code], 1 if c.covered else 0)
        shortfall.add_metric([*ids, code], _whole_units(c.shortfall, c.decimals))
    yield from (f for f in (ratio, covered, shortfall) if f.samples)

    if success.combined_ratio is not None:
        combined = gauge(
            "por_combined_coverage_ratio",
            "Combined coverage ratio (reporting currency, reserve included) at the last "
            "successful run.",
        )
        combined.add_metric(ids, _float(success.combined_ratio))
        yield combined
    currency = success.currency or ""
    for name, doc, value in (
        (
            "por_reserve_required",
            "Required liability reserve in the reporting currency (a float: alerting only).",
            success.reserve_required,
        ),
        (
            "por_reserve_eligible",
            "Eligible liability reserve in the reporting currency (a float: alerting only).",
            success.reserve_eligible,
        ),
    ):
        if value is not None:
            family = gauge(name, doc, ["currency"])
            family.add_metric([*ids, currency], _float(value))
            yield family
    if success.reserve_required and success.reserve_eligible is not None:
        reserve = gauge(
            "por_reserve_ratio", "Eligible reserve / required reserve at the last successful run."
        )
        reserve.add_metric(ids, _float(success.reserve_eligible / success.reserve_required))
        yield reserve

    heights = gauge(
        "por_pinned_height",
        "The block height each chain was read at in the last successful run.",
        ["chain", "network"],
    )
    for chain in success.chains:
        heights.add_metric([*ids, str(chain["chain"]), str(chain["network"])], chain["height"])
    if heights.samples:
        yield heights


def _ownership_families(
    snap: MetricsSnapshot, gauge: Callable[..., GaugeMetricFamily], ids: list[str]
) -> Iterator[Metric]:
    wallets = (snap.report or {}).get("wallets")
    counts: dict[str, dict[str, int]] = {}
    age_seconds = gauge(
        "por_ownership_proof_age_seconds",
        "Age of each address's ownership proof: from its epoch's block to the pinned block "
        "(epoch proofs only).",
        ["chain", "wallet", "address"],
    )
    age_blocks = gauge(
        "por_ownership_proof_age_blocks",
        "Blocks from each address's ownership epoch block to the pinned block (epoch proofs only).",
        ["chain", "wallet", "address"],
    )
    seen: set[tuple[str, str]] = set()
    for wallet in wallets if isinstance(wallets, list) else []:
        if not isinstance(wallet, Mapping):
            continue
        chain, address = _text(wallet.get("chain")), _text(wallet.get("address"))
        ownership = wallet.get("ownership")
        if not chain or not isinstance(ownership, Mapping) or (chain, address) in seen:
            continue
        seen.add((chain, address))
        status = _text(ownership.get("status"))
        per_chain = counts.setdefault(chain, dict.fromkeys(OWNERSHIP_STATUSES, 0))
        if status in per_chain:
            per_chain[status] += 1
        age = ownership.get("age")
        if not isinstance(age, Mapping):
            continue
        labels = [*ids, chain, _text(wallet.get("label")), address]
        blocks, seconds = age.get("blocks"), age.get("seconds")
        if isinstance(blocks, int) and not isinstance(blocks, bool):
            age_blocks.add_metric(labels, blocks)
        if isinstance(seconds, int) and not isinstance(seconds, bool):
            age_seconds.add_metric(labels, seconds)
    if counts:
        addresses = gauge(
            "por_ownership_addresses",
            "Addresses by ownership status at the last successful run (stale counts as "
            "unproven in coverage).",
            ["chain", "status"],
        )
        for chain, per_status in sorted(counts.items()):
            for status, count in per_status.items():
                addresses.add_metric([*ids, chain, status], count)
        yield addresses
    yield from (f for f in (age_seconds, age_blocks) if f.samples)
    if snap.max_age_seconds is not None:
        limit = gauge(
            "por_ownership_max_age_seconds",
            "[ownership] max_age_days in seconds: an epoch proof older than this is stale.",
        )
        limit.add_metric(ids, snap.max_age_seconds)
        yield limit
    if snap.max_age_blocks:
        limit_blocks = gauge(
            "por_ownership_max_age_blocks",
            "[ownership] max_age_blocks: an epoch proof more blocks old than this is stale.",
            ["chain"],
        )
        for chain, blocks in sorted(snap.max_age_blocks.items()):
            limit_blocks.add_metric([*ids, chain], blocks)
        yield limit_blocks


def registry(source: Callable[[], MetricsSnapshot]) -> CollectorRegistry:
    """A registry of its own (not prometheus_client's global one, which would add the
    process and platform collectors) holding the por collector."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(PorCollector(source))
    return reg


# ----------------------------------------------------------------------------- the textfile


def write_metrics(path: Path, snapshot: MetricsSnapshot) -> None:
    """Write `snapshot` to `path` for node_exporter's textfile collector, atomically
    (prometheus_client writes a temp file beside it and renames it; the directory is
    created if needed). Raises `StoreError` when it cannot be written: a read-only or
    missing directory that cannot be made, a directory in the way; the previous file, if
    any, is left as it was."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(21, "a directory is in the way", str(path))
        write_to_textfile(str(path), registry(lambda: snapshot))
        path.chmod(0o644)  # node_exporter often runs as another user
    except OSError as exc:  # prometheus_client removes its temp file itself
        raise StoreError(f"cannot write the metrics file {path}: {exc.strerror or exc}") from exc


# ----------------------------------------------------------------------------- the endpoint


Health = Callable[[], tuple[bool, str]]
"""Says whether the process is healthy, and why not."""


class _QuietHandler(WSGIRequestHandler):
    """Request lines go to the debug log, not to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("metrics endpoint: " + format, *args)


class MetricsServer:
    """``/metrics`` (prometheus_client's WSGI app over `reg`) and ``/healthz`` (`health`:
    200 ``ok``, or 503 with the reason) served from a daemon thread on `host`:`port`
    (0: a free port, see `port`). `close` stops it."""

    def __init__(self, reg: CollectorRegistry, health: Health, host: str, port: int) -> None:
        metrics_app = make_wsgi_app(reg)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path = environ.get("PATH_INFO") or "/"
            if path == "/metrics":
                return metrics_app(environ, start_response)  # type: ignore[no-any-return]
            if path == "/healthz":
                ok, reason = health()
                status = "200 OK" if ok else "503 Service Unavailable"
                body = ("ok" if ok else reason).encode() + b"\n"
            else:
                status, body = "404 Not Found", b"not found: try /metrics or /healthz\n"
            start_response(
                status,
                [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")],
            )
            return [body]

        family = _family(host, port)

        class _Server(ThreadingWSGIServer):
            address_family = family

        try:
            self.server: WSGIServer = _Server((host, port), _QuietHandler)
        except (OSError, OverflowError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise PorError(
                f"--metrics-port {port}: cannot listen on {_show(host)}:{port} ({reason})"
            ) from None
        self.server.set_app(app)
        self.server.timeout = 1  # handle_request never blocks longer once woken
        self.host = host
        self.port = int(self.server.server_address[1])
        self._wake, self._woken = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name="por-metrics", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        # not serve_forever: its shutdown() waits for a 0.5 s poll, which a service stopping
        # on SIGTERM would sit out; here `close` wakes the select at once
        with selectors.DefaultSelector() as selector:
            selector.register(self.server, selectors.EVENT_READ)
            selector.register(self._woken, selectors.EVENT_READ)
            while True:
                ready = selector.select()
                if any(key.fileobj is self._woken for key, _ in ready):
                    return
                self.server.handle_request()

    @property
    def url(self) -> str:
        return f"http://{_show(self.host)}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and close the socket (waits for the serving thread)."""
        with contextlib.suppress(OSError):
            self._wake.send(b"\0")
        self._thread.join(timeout=10)
        self.server.server_close()
        self._wake.close()
        self._woken.close()


def _family(host: str, port: int) -> socket.AddressFamily:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError, OverflowError):
        return socket.AF_INET  # the bind names the address
    return infos[0][0] if infos else socket.AF_INET


def _show(host: str) -> str:
    return f"[{host}]" if ":" in host else host


__all__ = [
    "Health",
    "MetricsServer",
    "MetricsSnapshot",
    "PorCollector",
    "families",
    "read_snapshot",
    "read_store",
    "registry",
    "run_outcomes",
    "write_metrics",
]
