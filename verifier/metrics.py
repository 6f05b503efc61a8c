"""Prometheus text-format gauges for node_exporter's textfile collector.

Where it sits: the last step of a scheduled run (verifier/schedule.py), after the run is
stored. `render` reads only stored runs (the latest and the latest successful one), so a
failed run keeps the last known coverage on the dashboard and flips
``por_last_run_success`` to 0. `write_metrics` replaces the file atomically (the collector
must never read half a file); a file that cannot be written is a `StoreError` naming it
(the scheduled run then stores itself as failed). Values are printed from exact decimals:
no float.
"""

from __future__ import annotations

import calendar
import os
import tempfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from verifier.errors import StoreError
from verifier.store import RunRecord


def _timestamp(iso: str) -> int:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return calendar.timegm(moment.utctimetuple())


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _ms(value: int) -> str:
    return str(Decimal(value) / 1000)


def render(last: RunRecord | None, last_success: RunRecord | None) -> str:
    """The metrics text (Prometheus exposition format 0.0.4)."""
    lines: list[str] = []

    def gauge(name: str, help_text: str, samples: list[tuple[str, str]]) -> None:
        if not samples:
            return
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        lines.extend(f"{name}{labels} {value}" for labels, value in samples)

    if last is not None:
        gauge(
            "por_last_run_success",
            "1 if the last reconciliation run completed, 0 if it failed.",
            [("", "0" if last.status == "failed" else "1")],
        )
        gauge(
            "por_last_run_timestamp_seconds",
            "When the last run finished (Unix time).",
            [("", str(_timestamp(last.finished_at)))],
        )
        gauge(
            "por_run_duration_seconds",
            "Duration of the last run.",
            [("", _ms(last.duration_ms))],
        )
        gauge(
            "por_last_run_exit_code",
            "Exit code of the last run (0 covered, 1 shortfall, 3 input, 4 infrastructure).",
            [("", str(last.exit_code))],
        )
    if last_success is not None:
        gauge(
            "por_last_success_timestamp_seconds",
            "When the last successful run finished (Unix time).",
            [("", str(_timestamp(last_success.finished_at)))],
        )
        gauge(
            "por_coverage_ratio",
            "Coverage per asset (proven holdings / liabilities) at the last successful run.",
            [
                (f'{{asset="{_label(code)}"}}', str(c.ratio))
                for code, c in sorted(last_success.coverage.items())
                if c.ratio is not None
            ],
        )
        gauge(
            "por_asset_covered",
            "1 if the asset was covered at the last successful run.",
            [
                (f'{{asset="{_label(code)}"}}', "1" if c.covered else "0")
                for code, c in sorted(last_success.coverage.items())
            ],
        )
        if last_success.reserve_required and last_success.reserve_eligible is not None:
            ratio = last_success.reserve_eligible / last_success.reserve_required
            gauge(
                "por_reserve_ratio",
                "Eligible reserve / required reserve at the last successful run.",
                [("", str(ratio))],
            )
        if last_success.combined_ratio is not None:
            gauge(
                "por_combined_ratio",
                "Combined coverage ratio (reporting currency) at the last successful run.",
                [("", str(last_success.combined_ratio))],
            )
    return "\n".join(lines) + "\n"


def write_metrics(path: Path, text: str) -> None:
    """Write the file under a temp name in the same directory, then rename it into place
    (its directory is created if needed). Raises `StoreError` when it cannot be written:
    a read-only or missing directory that cannot be made, a directory in the way; the
    previous file, if any, is left as it was."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(21, "a directory is in the way", str(path))
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise StoreError(f"cannot write the metrics file {path}: {exc.strerror or exc}") from exc
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise
