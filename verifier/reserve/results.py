"""What an evaluation finds: a component's gates, the component, and the pack's checks.

Where it sits: the values verifier/reserve/components.py, verifier/reserve/insurance.py and
verifier/reserve/checks.py return, collected by verifier/reserve/rules.py into a
`ReserveEvaluation`. Each has its exact JSON member (``to_json``, part of the evaluation
document); pages and terminals round the decimals in a reason for reading
(`verifier.report.figures.readable_text`), the document keeps them exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from verifier.reserve.money import fmt_decimal
from verifier.reserve.pack import Status


@dataclass(frozen=True, slots=True)
class Gate:
    """One eligibility condition of a reserve component."""

    gate: str
    passed: bool
    reason: str

    def to_json(self) -> dict[str, object]:
        """``{"gate", "passed", "reason"}``."""
        return {"gate": self.gate, "passed": self.passed, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Component:
    """One reserve component (cash, guarantee, insurance policy, capital) and what counts."""

    kind: str
    name: str
    amount: Decimal
    """Face amount in the reporting currency (a policy's limit; zero without an FX rate)."""
    eligible: Decimal
    """What counts before the insurance cap (a policy: scope · (limit − deductible))."""
    gates: tuple[Gate, ...] = ()

    @property
    def failed(self) -> tuple[Gate, ...]:
        """The gates that failed."""
        return tuple(g for g in self.gates if not g.passed)

    def to_json(self) -> dict[str, object]:
        """``{"kind", "name", "amount", "eligible", "gates"}``, amounts as decimal strings."""
        return {
            "kind": self.kind,
            "name": self.name,
            "amount": fmt_decimal(self.amount),
            "eligible": fmt_decimal(self.eligible),
            "gates": [g.to_json() for g in self.gates],
        }


@dataclass(frozen=True, slots=True)
class Check:
    """A pass/fail rule of the pack other than the reserve amount (shares, per-asset)."""

    check: str
    passed: bool
    value: str
    limit: str
    status: Status
    """The status of the parameter the check applies."""
    reason: str

    def to_json(self) -> dict[str, object]:
        """``{"check", "passed", "value", "limit", "status", "reason"}``."""
        return {
            "check": self.check,
            "passed": self.passed,
            "value": self.value,
            "limit": self.limit,
            "status": str(self.status),
            "reason": self.reason,
        }
