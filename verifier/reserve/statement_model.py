"""The reserve statement's values: cash, insurance, guarantees, volume, incidents, entity.

Where it sits: the model of verifier/reserve/. verifier/reserve/statement.py reads a
statement file (checked against verifier/reserve/statement_rows.py) into these frozen
values; the evaluation (verifier/reserve/rules.py) reads nothing else of the statement.
Every amount is an exact `Decimal` in the row's currency (the statement's reporting
currency unless the row names another, converted with ``[fx]``); asset quantities are
integer base units.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from verifier.reserve.money import money_context

WALLET_CLASSES = ("cold", "hot", "other", "custodial")
CURRENCY_RE = re.compile(r"[A-Z][A-Z0-9]{1,9}")


@dataclass(frozen=True, slots=True)
class CashReserve:
    """Cash held as part of the reserve (``[[cash]]``)."""

    key: str
    """Where it is in the file, e.g. ``cash[0]`` (for messages)."""
    name: str
    amount: Decimal
    """In `currency`; converted with the statement's ``[fx]`` rates when it differs."""
    currency: str
    holder: str
    """The bank or trust company holding it."""
    on_trust: bool
    """Held on trust for the customers (bankruptcy-remote), not merely in the firm's name."""
    maturity: date | None = None
    """None for demand deposits; else the day a term deposit matures."""


@dataclass(frozen=True, slots=True)
class InsurancePolicy:
    """An insurance policy offered as part of the reserve (``[[insurance]]``)."""

    key: str
    name: str
    insurer: str
    authorised: bool
    """The insurer is authorised to write this business where the exchange is licensed."""
    limit: Decimal
    limit_type: str
    """``aggregate`` (all claims in the term) or ``per_occurrence`` (each event)."""
    deductible: Decimal
    currency: str
    start: date
    """First day of cover."""
    end: date
    """Expiry: cover ends at the start of this day; the term is ``end - start`` days."""
    notice_days: int
    """Days of notice the insurer must give to cancel."""
    scope: Decimal = Decimal(1)
    """The share of the reserve's risk the policy covers as declared (0..1)."""
    perils: Mapping[str, Decimal | tuple[str, ...]] = field(default_factory=dict)
    """Per wallet class: a covered share (0..1) or the list of perils covered there."""
    exclusions: tuple[str, ...] = ()
    """Perils the policy excludes everywhere."""
    claim_days: int | None = None
    """Days from a claim to payment, as the policy states; None: not stated (por stress
    then gives no time to pay for a loss this policy pays)."""


@dataclass(frozen=True, slots=True)
class Guarantee:
    """A guarantee (bank guarantee, standby letter of credit) in the reserve."""

    key: str
    name: str
    issuer: str
    amount: Decimal
    currency: str
    on_demand: bool
    """Payable on first demand, without proof of default."""
    maturity: date | None = None
    payment_days: int | None = None
    """Days from a demand to payment; None: not stated (see `InsurancePolicy.claim_days`)."""


@dataclass(frozen=True, slots=True)
class VolumeRecord:
    """Trading volume of one category over one 12-month period (``[[volume]]``)."""

    key: str
    category: str
    start: date
    """First day of the period (1 January for ``year = N``)."""
    end: date
    """First day after the period (exclusive)."""
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Incident:
    """A loss event (hack, leak, operational error) and what was recovered."""

    key: str
    date: date
    loss: Decimal
    recovered: Decimal = Decimal(0)
    description: str = ""

    @property
    def net_loss(self) -> Decimal:
        """Loss less recoveries, never below zero."""
        with money_context():
            return max(Decimal(0), self.loss - self.recovered)


@dataclass(frozen=True, slots=True)
class Overheads:
    """Previous year's expenses and the MiCA Art. 67(3) deductions giving fixed overheads."""

    total_expenses: Decimal
    bonuses: Decimal = Decimal(0)
    """Staff bonuses and other remuneration depending on net profit."""
    profit_shares: Decimal = Decimal(0)
    """Employees', directors' and partners' shares in profits."""
    discretionary: Decimal = Decimal(0)
    """Other appropriations of profits and other variable remuneration."""
    non_recurring: Decimal = Decimal(0)
    """Non-recurring expenses from non-ordinary activities."""

    @property
    def fixed(self) -> Decimal:
        """Fixed overheads: total expenses less the deductions."""
        with money_context():
            return (
                self.total_expenses
                - self.bonuses
                - self.profit_shares
                - self.discretionary
                - self.non_recurring
            )


@dataclass(frozen=True, slots=True)
class OperationalRisk:
    """Inputs of the operational-risk multiplier ``m_ops``."""

    m_ops: Decimal | None = None
    """An assessed multiplier; when None, the pack's base plus a step per flag."""
    flags: tuple[str, ...] = ()
    """Risk flags the pack may price (``m_ops_step.<flag>``)."""


@dataclass(frozen=True, slots=True)
class Entity:
    """The licensed entity (``[entity]``)."""

    jurisdiction: str = ""
    licence_class: str | None = None
    """For MiCA, ``class_1``, ``class_2`` or ``class_3`` (Annex IV)."""
    overheads: Overheads | None = None
    cet1: Decimal | None = None
    """Own funds: Common Equity Tier 1 items (MiCA Art. 67(4)(a))."""
    paid_up_capital: Decimal | None = None
    """Paid-up capital (VARA)."""
    operational_risk: OperationalRisk = field(default_factory=OperationalRisk)


@dataclass(frozen=True, slots=True)
class HeldAsset:
    """One asset's customer position for the same-type checks (``[[holdings.assets]]``)."""

    key: str
    code: str
    decimals: int
    price: Decimal
    """Reporting currency per whole unit."""
    owed_units: int
    """Customer liabilities, base units."""
    held_units: int
    """Customer holdings of this asset in every wallet class, base units."""
    hot_units: int = 0
    """The part of `held_units` outside cold storage (hot and other wallets)."""
    own_buffer_units: int = 0
    """The exchange's own coins of this asset kept as the buffer for the non-cold part."""


@dataclass(frozen=True, slots=True)
class Holdings:
    """What-if holdings (``[holdings]``), for evaluation without a snapshot."""

    cold: Decimal = Decimal(0)
    """Value of customer assets in cold wallets, reporting currency."""
    hot: Decimal = Decimal(0)
    other: Decimal = Decimal(0)
    custodial: Decimal = Decimal(0)
    own_buffer: Decimal = Decimal(0)
    """Value of the exchange's own buffer assets."""
    assets: tuple[HeldAsset, ...] = ()


@dataclass(frozen=True, slots=True)
class ReserveStatement:
    """A whole reserve statement file."""

    currency: str
    """The reporting currency: every amount of the evaluation is in it."""
    path: str = "<statement>"
    exchange: str = ""
    as_of: date | None = None
    """The statement's date; `por reserve evaluate --as-of` overrides it."""
    fx: Mapping[str, Decimal] = field(default_factory=dict)
    """Rates: reporting-currency units per one unit of the keyed currency."""
    cash: tuple[CashReserve, ...] = ()
    insurance: tuple[InsurancePolicy, ...] = ()
    guarantees: tuple[Guarantee, ...] = ()
    volume: tuple[VolumeRecord, ...] = ()
    incidents: tuple[Incident, ...] = ()
    entity: Entity = field(default_factory=Entity)
    holdings: Holdings | None = None

    def rate(self, currency: str) -> Decimal | None:
        """Reporting-currency units per unit of `currency` (1 for itself), or None."""
        if currency == self.currency:
            return Decimal(1)
        return self.fx.get(currency)
