"""What reconciliation returns: per-asset coverage, the combined figure, the reserve, the verdict.

Where it sits: verifier/reconcile/coverage.py builds a `Reconciliation` of these values;
the report (verifier/report/document.py) turns it into the ``por-report-v1`` document.
Frozen values whose figures are properties, so a figure is computed one way wherever it is
read.

Invariants: coverage is per asset and a surplus never offsets another asset's shortfall
(`AssetCoverage.shortfall`, `Combined.capped_holdings_value`); every pass/fail
(`AssetCoverage.covered`, `Combined.met`) is decided on exact values in `EXACT`, never on a
rounded ratio; ratios are rounded toward zero (`RATIO`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Any

from verifier.base.errors import EXIT_OK, EXIT_SHORTFALL
from verifier.inputs.prices import Price
from verifier.reconcile.numbers import EXACT, RATIO, floor_ratio, unit_value
from verifier.reconcile.values import (
    CLASSES,
    ChainPin,
    Holding,
    Liabilities,
    OwnBufferRule,
    Thresholds,
)


@dataclass(frozen=True, slots=True)
class AssetCoverage:
    """One asset's liabilities, holdings by kind, coverage and shortfall."""

    code: str
    decimals: int
    liabilities: int
    """Owed base units (the liabilities tree's root sum for this asset)."""
    cold: int
    """Proven customer holdings in cold wallets, base units."""
    hot: int
    """Proven customer holdings in hot wallets, base units."""
    other: int
    """Proven customer holdings in wallets of class "other", base units."""
    custodial: int
    """Customer holdings declared custodial (counted only when `counted_custodial`)."""
    unproven: int
    """Customer holdings whose ownership proof is missing or fails (never counted)."""
    own_buffer: int
    """Own holdings the `OwnBufferRule` selects (the exchange's buffer; not backing)."""
    own_other: int
    """Own holdings not credited as buffer (unproven, outside the rule, or no rule)."""
    counted_custodial: bool
    threshold: Decimal
    """Minimum coverage ratio for this asset."""
    price: Price | None
    """None only for an asset without liabilities and without a price."""

    @property
    def holdings(self) -> int:
        """Holdings counted as customer backing, base units."""
        counted = self.cold + self.hot + self.other
        return counted + self.custodial if self.counted_custodial else counted

    @property
    def shortfall(self) -> int:
        """``max(0, liabilities - holdings)``, base units (never netted across assets)."""
        return max(0, self.liabilities - self.holdings)

    @property
    def surplus(self) -> int:
        """``max(0, holdings - liabilities)``, base units (never offsets another asset)."""
        return max(0, self.holdings - self.liabilities)

    @property
    def ratio(self) -> Decimal | None:
        """Holdings / liabilities, rounded toward zero; None when nothing is owed."""
        return floor_ratio(self.holdings, self.liabilities)

    @property
    def covered(self) -> bool:
        """Holdings >= threshold x liabilities, decided exactly."""
        with localcontext(EXACT):
            return Decimal(self.holdings) >= self.threshold * Decimal(self.liabilities)

    @property
    def cold_share(self) -> Decimal | None:
        """Cold / counted holdings (equal in units and value); None when nothing is held."""
        return floor_ratio(self.cold, self.holdings)

    def value(self, units: int) -> Decimal | None:
        """`units` of this asset in the reporting currency (exact); None without a price."""
        if self.price is None:
            return None
        return unit_value(units, self.decimals, self.price.value)


@dataclass(frozen=True, slots=True)
class Combined:
    """Combined coverage in the reporting currency (DESIGN.md, "Coverage")."""

    currency: str
    liabilities_value: Decimal
    """Σ_a liabilities_a · price_a."""
    capped_holdings_value: Decimal
    """Σ_a min(holdings_a, liabilities_a) · price_a: a surplus never offsets a shortfall."""
    eligible_reserve: Decimal
    """The eligible off-chain reserve from the rule pack's evaluation (0 without one)."""
    threshold: Decimal

    @property
    def numerator(self) -> Decimal:
        with localcontext(EXACT):
            return self.capped_holdings_value + self.eligible_reserve

    @property
    def ratio(self) -> Decimal | None:
        """(capped holdings + eligible reserve) / liabilities; None when nothing is owed."""
        if self.liabilities_value == 0:
            return None
        with localcontext(RATIO):
            return self.numerator / self.liabilities_value

    @property
    def met(self) -> bool:
        """Numerator >= threshold x liabilities value, decided exactly."""
        with localcontext(EXACT):
            return self.numerator >= self.threshold * self.liabilities_value


@dataclass(frozen=True, slots=True)
class Reserve:
    """The figures reconciliation reads from the rule pack's evaluation document."""

    pack_id: str
    pack_version: str
    currency: str
    required: Decimal
    eligible: Decimal
    shortfall: Decimal
    surplus: Decimal
    met: bool
    failed_checks: tuple[Mapping[str, Any], ...]
    document: Mapping[str, Any]
    """The evaluation document as given (embedded in the report unchanged)."""
    limits: Mapping[str, tuple[object, str]] = field(default_factory=dict)
    """The pack's concentration limits the document carries: name -> (value, status)
    (verifier/reconcile/concentration.py LIMITS)."""


@dataclass(frozen=True, slots=True)
class Breach:
    """One reason the verdict is not "covered", in words."""

    kind: str
    """asset | reserve | combined | check | concentration | segregation."""
    subject: str
    """The asset code, "reserve", "combined" or the check's name."""
    message: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "message": self.message}


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Everything the report shows: per-asset and combined coverage, reserve, verdict."""

    exchange: str
    currency: str
    liabilities: Liabilities
    snapshot_taken_at: str
    chains: tuple[ChainPin, ...]
    holdings: tuple[Holding, ...]
    prices: Mapping[str, Price]
    assets: tuple[AssetCoverage, ...]
    combined: Combined
    reserve: Reserve | None
    reserve_inputs: Mapping[str, Any]
    """What `reserve_inputs` gave the rule pack (so the report can be recomputed)."""
    thresholds: Thresholds
    count_custodial: bool
    own_buffer_rule: OwnBufferRule | None
    breaches: tuple[Breach, ...]
    warnings: tuple[str, ...]
    max_age: Mapping[str, Any] | None = None
    """The maximum ownership-proof age the snapshot applied ({"days", "source", "blocks"}),
    when any proof named an epoch; None otherwise."""
    concentration: Any = None
    """Customer holdings by vendor, custodian and wallet
    (verifier/reconcile/concentration.py `Concentration`; Any: that module imports this one)."""

    @property
    def covered(self) -> bool:
        """Every asset at or above its threshold."""
        return all(a.covered for a in self.assets)

    @property
    def reserve_met(self) -> bool | None:
        """The rule pack's verdict on the reserve; None when no pack was evaluated."""
        return None if self.reserve is None else self.reserve.met

    @property
    def exit_code(self) -> int:
        """0 when nothing breaches, 1 otherwise (DESIGN.md, "Exit codes")."""
        return EXIT_OK if not self.breaches else EXIT_SHORTFALL

    def decimals(self) -> dict[str, int]:
        return {a.code: a.decimals for a in self.assets}

    def value_by_class(self) -> dict[str, Decimal]:
        """Value of proven customer holdings per class (custodial: declared custodial)."""
        totals = {name: Decimal(0) for name in CLASSES}
        with localcontext(EXACT):
            for a in self.assets:
                for name, units in (
                    ("cold", a.cold),
                    ("hot", a.hot),
                    ("other", a.other),
                    ("custodial", a.custodial),
                ):
                    value = a.value(units)
                    if value is not None:
                        totals[name] += value
        return totals

    def cold_share(self) -> Decimal | None:
        """Cold value / value of counted holdings, over every priced asset."""
        by_class = self.value_by_class()
        with localcontext(EXACT):
            counted = by_class["cold"] + by_class["hot"] + by_class["other"]
            if self.count_custodial:
                counted += by_class["custodial"]
        if counted == 0:
            return None
        with localcontext(RATIO):
            return by_class["cold"] / counted
