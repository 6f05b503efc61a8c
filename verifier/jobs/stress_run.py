"""The scenarios of one stored run: ``[stress] scenarios`` evaluated against the run's report.

Where it sits: called by the pipeline (verifier/jobs/pipeline.py `run_reconcile`) right
after the report is built, when por.toml has a ``[stress]`` table; the run writer
(verifier/history/writer.py) stores `StressRun.outcomes` in the run's transaction, the
alerts (verifier/history/alerts.py) compare them with the previous run's, and the demo
writes `StressRun.document`. The engine itself is verifier/stress/ (pure).

Invariant: scenarios never fail a run. A scenario file that cannot be read or checked is one
outcome with no scenario id and the error; a scenario the engine refuses (a selector that
matches no wallet of this run) is that scenario's outcome with the error. The run's exit
code is the reconciliation's, whatever the scenarios say.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from verifier.base.errors import PorError
from verifier.inputs.config_values import StressConfig
from verifier.reconcile.numbers import dec_str
from verifier.reserve.statement_model import ReserveStatement


@dataclass(frozen=True)
class StressOutcome:
    """One scenario's result in one run (a row of the history's ``stress_outcomes``)."""

    scenario_id: str | None
    """None: the scenario file itself could not be evaluated (`error` says why)."""
    title: str | None
    made_whole: bool | None
    uncovered_value: Decimal | None
    """Reporting currency, exact (None with an error)."""
    time_to_pay_days: int | None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario_id": self.scenario_id,
            "title": self.title,
            "made_whole": self.made_whole,
            "uncovered_value": None
            if self.uncovered_value is None
            else dec_str(self.uncovered_value),
            "time_to_pay_days": self.time_to_pay_days,
            "error": self.error,
        }


@dataclass(frozen=True)
class StressRun:
    """Every scenario of the config's file against one run's report."""

    file: str
    outcomes: tuple[StressOutcome, ...]
    alert: bool
    """[stress] alert: raise the stress alerts."""
    currency: str | None = None
    document: dict[str, Any] | None = None
    """The por-stress-v1 document of the scenarios that evaluated (None: the file failed)."""

    @property
    def file_error(self) -> str | None:
        """Why the file could not be evaluated at all (None: it was)."""
        return next((o.error for o in self.outcomes if o.scenario_id is None), None)

    @property
    def made_whole(self) -> bool | None:
        """True: every scenario made every customer whole; False: one did not; None: it
        cannot be said (the file, or a scenario, could not be evaluated)."""
        if any(o.made_whole is False for o in self.outcomes):
            return False
        return None if any(o.error is not None for o in self.outcomes) else True

    def summary(self) -> dict[str, Any]:
        """The ``stress`` member of a por-run-v1 line (docs/history.md)."""
        document = self.document or {}
        return {
            "file": self.file,
            "currency": self.currency,
            "error": self.file_error,
            "made_whole": self.made_whole,
            "scenarios": [o.to_json() for o in self.outcomes if o.scenario_id is not None],
            "weakest": _weakest(document.get("sweep")),
        }


def _weakest(sweep: Any) -> dict[str, Any] | None:
    """The sweep's weakest wallet and vendor (its first entries), or None without a sweep."""
    if not isinstance(sweep, dict):
        return None
    wallets, vendors = sweep.get("wallets") or [], sweep.get("vendors") or []
    return {
        "wallet": wallets[0] if wallets else None,
        "vendor": vendors[0] if vendors else None,
    }


def _message(exc: PorError) -> str:
    """An error as one line of at most 500 characters: its text names file, key and value."""
    line = (exc.message.splitlines() or [type(exc).__name__])[0]
    return line if len(line) <= 500 else line[:499] + "…"


def scheduled_stress(
    stress: StressConfig,
    report: dict[str, Any],
    statement: ReserveStatement | None,
    *,
    statement_sha256: str | None,
    generated_at: str,
) -> StressRun:
    """Evaluate ``[stress] scenarios`` against `report` (and the run's `statement`).

    Never raises a `PorError`: a file that cannot be evaluated is one outcome with no
    scenario id and the error; a scenario the engine refuses is that scenario's error.
    """
    from verifier.stress.base import stress_base
    from verifier.stress.document import stress_document
    from verifier.stress.engine import StressResult, evaluate
    from verifier.stress.scenario import load_scenarios
    from verifier.stress.sweep import sweep

    file = str(stress.scenarios)
    try:
        scenarios = load_scenarios(stress.scenarios).scenarios
        base = stress_base(report, statement, source="this run", statement_sha256=statement_sha256)
    except PorError as exc:
        failed = StressOutcome(None, None, None, None, None, _message(exc))
        return StressRun(file, (failed,), stress.alert)
    outcomes, results = [], []
    for scenario in scenarios:
        try:
            result = evaluate(base, scenario)
        except PorError as exc:
            outcomes.append(
                StressOutcome(scenario.id, scenario.title, None, None, None, _message(exc))
            )
            continue
        results.append(result)
        outcomes.append(
            StressOutcome(
                scenario.id,
                scenario.title,
                result.made_whole,
                result.uncovered_value,
                result.time_to_pay_days,
            )
        )
    swept = None
    if stress.sweep:
        try:
            swept = sweep(base)
        except PorError as exc:  # the scenarios stand; the sweep's problem is a warning
            base = _with_warning(base, f"sweep: {_message(exc)}")
    document = stress_document(
        StressResult(base=base, results=tuple(results)), swept, generated_at=generated_at
    )
    return StressRun(file, tuple(outcomes), stress.alert, base.currency, document)


def _with_warning(base: Any, warning: str) -> Any:
    import dataclasses

    return dataclasses.replace(base, warnings=(*base.warnings, warning))
