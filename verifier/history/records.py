"""A stored run as the readers see it: `RunRecord` with its per-asset `Coverage`.

Where it sits: between the run store and its readers. The queries
(verifier/history/queries.py) build these values from the tables, checked; `por history`
(verifier/history/view.py), the alerts (verifier/history/alerts.py) and the metrics
(verifier/history/metrics.py) read them. Amounts are int base units, ratios and fiat
amounts exact `Decimal`s; `to_json` writes both as strings, never as floats.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from importlib import metadata
from typing import Any

from verifier.jobs.stress_run import StressOutcome


@dataclass(frozen=True)
class Coverage:
    """One asset's coverage in one run."""

    asset: str
    decimals: int
    liabilities: int
    holdings: int
    shortfall: int
    ratio: Decimal | None
    threshold: Decimal
    covered: bool


@dataclass(frozen=True)
class RunRecord:
    """One stored run, as history, alerts and metrics see it."""

    id: int
    started_at: str
    finished_at: str
    status: str
    exit_code: int
    error: str | None
    duration_ms: int
    tool_version: str
    config_hash: str | None
    report_id: str | None
    currency: str | None
    combined_ratio: Decimal | None
    reserve_required: Decimal | None
    reserve_eligible: Decimal | None
    reserve_met: bool | None
    coverage: dict[str, Coverage] = field(default_factory=dict)
    chains: list[dict[str, Any]] = field(default_factory=list)
    stress: tuple[StressOutcome, ...] = ()
    """The run's scenario outcomes (``[stress]``), in file order; empty without one."""

    @property
    def succeeded(self) -> bool:
        """The run completed (covered or not); a failed run has no figures."""
        return self.status != "failed"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "exit_code": self.exit_code,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "tool_version": self.tool_version,
            "config_hash": self.config_hash,
            "report_id": self.report_id,
            "currency": self.currency,
            "combined_ratio": _str(self.combined_ratio),
            "reserve": {
                "required": _str(self.reserve_required),
                "eligible": _str(self.reserve_eligible),
                "met": self.reserve_met,
            },
            "chains": self.chains,
            "assets": {
                code: {
                    "decimals": c.decimals,
                    "liabilities": str(c.liabilities),
                    "holdings": str(c.holdings),
                    "shortfall": str(c.shortfall),
                    "coverage_ratio": _str(c.ratio),
                    "threshold": str(c.threshold),
                    "covered": c.covered,
                }
                for code, c in sorted(self.coverage.items())
            },
            "stress": [o.to_json() for o in self.stress],
        }


@dataclass(frozen=True)
class StressHistory:
    """What the runs before one run said of its scenarios (for the stress alerts)."""

    last_made_whole: dict[str, bool] = field(default_factory=dict)
    """Scenario id -> its latest evaluated outcome before the run (rows with an error skipped)."""
    previous_errors: frozenset[str | None] = frozenset()
    """The errors of the previous run with scenario rows: scenario ids, None for the file."""


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def tool_version() -> str:
    """The version of por that writes a run (stored with it)."""
    try:
        return metadata.version("por")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"
