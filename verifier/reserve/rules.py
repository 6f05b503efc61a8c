"""The reserve evaluation: a rule pack applied to a reserve statement and customer holdings.

Where it sits: the pure core of the reserve half of reconciliation (DESIGN.md, "Coverage").
`evaluate` takes the pack (verifier/reserve/pack_file.py `load_pack`), a reserve statement
(verifier/reserve/statement.py `load_statement`) and the customer holdings (`ReserveInputs`,
verifier/reserve/positions.py, from a snapshot or from the statement's ``[holdings]``) and
returns a `ReserveEvaluation`, whose ``to_json`` is the evaluation document; it does no I/O.
Its steps, in order: the required reserve (verifier/reserve/required.py), the eligible
components (verifier/reserve/components.py, verifier/reserve/insurance.py), the insurance
cap, and the pack's checks (verifier/reserve/checks.py). The formulas are RULES.md,
"Rule-pack model".

Invariants:

1. All arithmetic is `Decimal` inside `money_context()` (60 digits); no float anywhere.
2. ``R`` is verifier/reserve/required.py's: Japan-style ``clamp(floor, cap, m_ops · (…))``
   for ``reserve`` packs, ``max(minimum, overheads_share · fixed overheads)`` for
   ``capital`` packs.
3. Eligible = eligible cash + eligible guarantees + capital (capital-style packs) +
   insurance credit, where insurance credit
   ``= min(θ·R, Σ_j gate_j · scope_j · max(0, limit_j − deductible_j))``. A component
   whose kind the pack does not accept, or that fails any gate, counts zero; every gate is
   reported with its reason.
4. ``shortfall = max(0, R − eligible)``, ``surplus = max(0, eligible − R)``; met iff the
   shortfall is zero. Per-asset checks are never netted across assets.
5. Under-coverage and failed checks are results, not exceptions; only bad input raises
   (`InputError`, exit 3).
6. The document is exact, the formula and every reason included (a value times a price
   may have 25 digits); pages and terminals round them for reading
   (`verifier.report.figures.readable_text`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from verifier.base.errors import InputError
from verifier.reserve.checks import pack_checks
from verifier.reserve.components import capital_component, cash_components, guarantee_components
from verifier.reserve.context import Context
from verifier.reserve.insurance import insurance_components
from verifier.reserve.money import ONE, ZERO, fmt_decimal, money_context, round_down
from verifier.reserve.pack import RulePack
from verifier.reserve.positions import ReserveInputs
from verifier.reserve.required import required_capital, required_reserve
from verifier.reserve.results import Check, Component
from verifier.reserve.statement_model import ReserveStatement


@dataclass(frozen=True, slots=True)
class ReserveEvaluation:
    """Required reserve, eligible reserve by component, shortfall or surplus, checks."""

    pack: RulePack
    as_of: date
    currency: str
    required: Decimal
    formula: str
    """The formula with every value filled in."""
    terms: tuple[tuple[str, Decimal], ...]
    components: tuple[Component, ...]
    insurance_cap: Decimal
    """θ·R: the most insurance may contribute."""
    insurance_before_cap: Decimal
    insurance_credit: Decimal
    eligible: Decimal
    shortfall: Decimal
    surplus: Decimal
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def met(self) -> bool:
        """The eligible reserve covers the required reserve."""
        return self.shortfall == 0

    @property
    def checks_passed(self) -> bool:
        """Every check of the pack passed."""
        return all(c.passed for c in self.checks)

    @property
    def ok(self) -> bool:
        """Met and every check passed (exit 0; else exit 1)."""
        return self.met and self.checks_passed

    def to_json(self) -> dict[str, object]:
        """The evaluation document (amounts as decimal strings in the reporting currency)."""
        return {
            "pack": {
                "id": self.pack.id,
                "version": self.pack.version,
                "name": self.pack.name,
                "currency": self.pack.currency,
                "sources": [source.to_json() for source in self.pack.sources],
            },
            "required": {
                "amount": fmt_decimal(self.required),
                "formula": self.formula,
                "terms": {name: fmt_decimal(value) for name, value in self.terms},
            },
            "eligible": {
                "total": fmt_decimal(self.eligible),
                "insurance_cap": fmt_decimal(self.insurance_cap),
                "components": [c.to_json() for c in self.components],
            },
            "currency": self.currency,
            "shortfall": fmt_decimal(self.shortfall),
            "surplus": fmt_decimal(self.surplus),
            "met": self.met,
            "checks": [c.to_json() for c in self.checks],
            "parameters": [
                {
                    "name": p.name,
                    "value": p.value_json(),
                    "status": str(p.status),
                    "source": p.source,
                    "verified_on": p.verified_on.isoformat(),
                }
                for p in self.pack.parameters
            ],
        }


@dataclass(frozen=True, slots=True)
class _Eligible:
    """The eligible side of one evaluation."""

    components: tuple[Component, ...]
    insurance_cap: Decimal
    before_cap: Decimal
    credit: Decimal
    total: Decimal


def _eligible(ctx: Context, required: Decimal) -> _Eligible:
    """Every component with its gates, and the total with insurance capped at θ·R."""
    components: list[Component] = []
    capital = capital_component(ctx)
    if capital is not None:
        components.append(capital)
    components += cash_components(ctx)
    components += guarantee_components(ctx)
    components += insurance_components(ctx)
    theta = ctx.pack.decimal_or("theta", ONE)
    insurance_cap = round_down(theta * required)
    before_cap = sum((c.eligible for c in components if c.kind == "insurance"), ZERO)
    credit = min(insurance_cap, before_cap)
    others = sum((c.eligible for c in components if c.kind != "insurance"), ZERO)
    return _Eligible(tuple(components), insurance_cap, before_cap, credit, others + credit)


def evaluate(
    pack: RulePack, statement: ReserveStatement, inputs: ReserveInputs, *, as_of: date
) -> ReserveEvaluation:
    """Evaluate a reserve statement and customer holdings against a rule pack.

    Parameters
    ----------
    pack:
        From `verifier.reserve.pack_file.load_pack` (possibly with overrides).
    statement:
        The reserve statement (cash, insurance, guarantees, volume, incidents, entity).
    inputs:
        Customer holdings by wallet class and per asset, in the statement's currency.
    as_of:
        The day the reserve is evaluated at: it fixes the policy gates and the 3-year
        windows of volume and incidents.

    Returns
    -------
    ReserveEvaluation
        Required reserve with its terms and formula, eligible reserve by component with
        every gate, shortfall or surplus, and the pack's checks.

    Raises
    ------
    InputError
        When the holdings' currency is not the statement's, or the pack needs an input the
        statement lacks (overheads, licence class, an FX rate for the pack's amounts).
    """
    if inputs.currency != statement.currency:
        raise InputError(
            f"the holdings are valued in {inputs.currency}, the statement reports in "
            f"{statement.currency}",
            file=statement.path,
            key="currency",
            value=statement.currency,
        )
    ctx = Context(pack, statement, inputs, as_of)
    try:
        with money_context():
            if pack.model == "capital":
                required, formula, terms = required_capital(ctx)
            else:
                required, formula, terms = required_reserve(ctx)
            eligible = _eligible(ctx, required)
            shortfall = max(ZERO, required - eligible.total)
            surplus = max(ZERO, eligible.total - required)
            checks = pack_checks(ctx)
    except InvalidOperation as exc:
        # a quantize beyond PRECISION digits: only absurdly large amounts get here
        raise InputError(
            "amounts too large to evaluate exactly",
            file=statement.path,
            key="amounts",
        ) from exc
    return ReserveEvaluation(
        pack=pack,
        as_of=as_of,
        currency=statement.currency,
        required=required,
        formula=formula,
        terms=terms,
        components=eligible.components,
        insurance_cap=eligible.insurance_cap,
        insurance_before_cap=eligible.before_cap,
        insurance_credit=eligible.credit,
        eligible=eligible.total,
        shortfall=shortfall,
        surplus=surplus,
        checks=tuple(checks),
    )
