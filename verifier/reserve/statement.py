"""The reserve statement: an exchange's off-chain liability reserve, read from TOML.

Where it sits: an input edge of the reconciliation flow (DESIGN.md, "Data flow":
``reserve.toml (cash, insurance, guarantees) · prices · rule pack``). `load_statement`
reads the file into frozen values; `verifier.reserve.rules` evaluates them against a rule pack.
The schema is documented in docs/reserve.md, with a commented example in
fixtures/reserve/example.toml.

Invariants:

1. Every amount is a `Decimal` parsed from a decimal string or a TOML integer, never from a
   float: a TOML float is an input error ("write amounts as strings"), because a binary
   float cannot hold most decimal amounts exactly.
2. Every malformed field raises `InputError` (exit 3) naming the file, the key
   (``insurance[0].notice_days``) and the value.
3. Amounts are never negative; shares lie in 0..1; dates are TOML dates (not date-times).
4. Asset quantities in ``[[holdings.assets]]`` are whole-unit decimal strings converted
   exactly to integer base units; a digit beyond the asset's ``decimals`` is an error,
   never rounded (DESIGN.md, "Money").
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import MAXYEAR, MINYEAR, date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, Field
from pydantic_core import PydanticCustomError

from attestations.encoding import ASSET_CODE_RE, MAX_DECIMALS
from verifier.base import safetoml
from verifier.base.errors import InputError
from verifier.inputs.file_schemas import (
    DECIMAL_PATTERN,
    MAX_DIGITS,  # noqa: F401 - re-exported: the digit limit of every amount
    Amount,
    Check,
    Day,
    FileModel,
    Flag,
    Share,
    Text,
    decimal_value,
    fault,
    integer,
    pattern,
    validate,
)

PRECISION = 60
"""Significant digits of every reserve computation (the default context has only 28)."""
WALLET_CLASSES = ("cold", "hot", "other", "custodial")
LIMIT_TYPES = ("aggregate", "per_occurrence")
CURRENCY_RE = re.compile(r"[A-Z][A-Z0-9]{1,9}")


@contextmanager
def money_context() -> Iterator[None]:
    """Run the enclosed `Decimal` arithmetic with `PRECISION` digits, half-even rounding.

    Every reserve computation runs inside this context (STYLE.md, "Money": never the
    default 28-digit context). Division by zero and invalid operations trap (raise).
    """
    with localcontext() as ctx:
        ctx.prec = PRECISION
        ctx.rounding = ROUND_HALF_EVEN
        yield


def fmt_decimal(value: Decimal) -> str:
    """A `Decimal` as a plain decimal string without exponent or trailing zeros.

    Parameters
    ----------
    value:
        A finite decimal.

    Returns
    -------
    str
        For example ``Decimal("5061000000.0")`` -> ``"5061000000"``, ``Decimal("0.0412500")``
        -> ``"0.04125"``.
    """
    with money_context():
        if value == value.to_integral_value():
            return f"{value.quantize(Decimal(1)):f}"
        return f"{value.normalize():f}"


def parse_decimal(value: object, *, file: str | None, key: str, what: str = "amount") -> Decimal:
    """Parse a decimal string or a TOML integer exactly; refuse floats and anything else.

    Parameters
    ----------
    value:
        The raw TOML value.
    file, key:
        Where it was read, for the error message.
    what:
        What the value is ("amount", "share", ...), for the error message.

    Returns
    -------
    Decimal
        The exact value (sign allowed; callers check ranges).

    Raises
    ------
    InputError
        For a TOML float ("write amounts as strings"), a boolean, a malformed string, or
        more than `MAX_DIGITS` digits.
    """
    try:
        return decimal_value(value, what)
    except PydanticCustomError as exc:
        # the same check as a file's fields (verifier.inputs.file_schemas), raised as ours
        ctx = exc.context or {}
        raise InputError(
            str(ctx.get("message", exc.message())),
            file=file,
            key=key,
            value=None if ctx.get("value") is None else str(ctx["value"]),
        ) from None


def to_units(amount: Decimal, decimals: int) -> int | None:
    """Whole units as exact integer base units.

    Parameters
    ----------
    amount:
        A quantity in whole units (``Decimal("1.5")`` BTC).
    decimals:
        The asset's decimals (8 for BTC).

    Returns
    -------
    int or None
        The base units (150000000), or None when a non-zero digit lies beyond `decimals`
        (never rounded).
    """
    with money_context():
        scaled = amount.scaleb(decimals)
        if scaled != scaled.to_integral_value():
            return None
        return int(scaled)


# ----------------------------------------------------------------------------- values


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


# ----------------------------------------------------------------------------- schema
# The file's one definition (pydantic models, verifier.inputs.file_schemas): field types, ranges
# and descriptions; published as docs/spec/schemas/por-reserve-statement.schema.json.


def _rate(value: object) -> Decimal:
    return decimal_value(value, "rate")


def _multiplier(value: object) -> Decimal:
    return decimal_value(value, "multiplier")


def _quantity(value: object) -> Decimal:
    quantity = decimal_value(value, "quantity")
    if quantity < 0:
        raise fault("quantity must not be negative", quantity)
    return quantity


def _names(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise fault("must be a list of non-empty strings", value)
    return tuple(value)


def _cover(value: object) -> Decimal | tuple[str, ...]:
    if isinstance(value, list):
        return _names(value)
    share = decimal_value(value, "share")
    if not 0 <= share <= 1:
        raise fault("share must be between 0 and 1", share)
    return share


def _limit_type(value: object) -> str:
    text = value.strip() if isinstance(value, str) else value
    if text not in LIMIT_TYPES:
        raise fault(f"must be one of {', '.join(LIMIT_TYPES)}", value)
    return str(text)


_NAMES_SCHEMA = {"type": "array", "items": {"type": "string", "minLength": 1}}
Names = Annotated[tuple[str, ...], Check(_names, _NAMES_SCHEMA)]
Currency = Annotated[str, pattern(CURRENCY_RE, "not a currency code (upper case, e.g. JPY, USD)")]
AssetCode = Annotated[str, pattern(ASSET_CODE_RE, "not an asset code ([A-Z0-9._-]{1,16})")]
Rate = Annotated[
    Decimal,
    Check(
        _rate,
        {
            "description": "A positive decimal string or integer",
            "anyOf": [{"type": "string", "pattern": DECIMAL_PATTERN}, {"type": "integer"}],
        },
    ),
]
Multiplier = Annotated[
    Decimal,
    Check(
        _multiplier,
        {
            "description": "A positive decimal string or integer",
            "anyOf": [{"type": "string", "pattern": DECIMAL_PATTERN}, {"type": "integer"}],
        },
    ),
]
Quantity = Annotated[
    Decimal,
    Check(
        _quantity,
        {
            "description": "Whole units as a decimal string (at most the asset's decimals)",
            "anyOf": [
                {"type": "string", "pattern": DECIMAL_PATTERN.replace("[+-]?", r"\+?")},
                {"type": "integer", "minimum": 0},
            ],
        },
    ),
]
Cover = Annotated[
    Decimal | tuple[str, ...],
    Check(
        _cover,
        {
            "description": 'A covered share ("0".."1") or the list of perils covered',
            "anyOf": [
                {"type": "string", "pattern": DECIMAL_PATTERN.replace("[+-]?", r"\+?")},
                {"type": "integer", "minimum": 0, "maximum": 1},
                _NAMES_SCHEMA,
            ],
        },
    ),
]
LimitType = Annotated[str, Check(_limit_type, {"type": "string", "enum": list(LIMIT_TYPES)})]
_CCY = "Currency code; default: the statement's reporting currency"


class CashRow(FileModel):
    """``[[cash]]``: cash set aside for the reserve."""

    name: Text = Field(description="Your label for this deposit")
    amount: Amount = Field(description="Amount in `currency`")
    currency: Currency | None = Field(None, description=_CCY)
    holder: Text = Field(description="The bank or trust company holding it")
    on_trust: Flag = Field(description="Held on trust for the customers (bankruptcy-remote)")
    maturity: Day | None = Field(
        None, description="The day a term deposit matures; omit for demand deposits"
    )


class PerilsTable(FileModel):
    """``[insurance.perils]``: per wallet class, a covered share or the perils covered."""

    cold: Cover | None = Field(None, description="Cold wallets")
    hot: Cover | None = Field(None, description="Hot wallets")
    other: Cover | None = Field(None, description="Other wallets")
    custodial: Cover | None = Field(None, description="Assets with a custodian")


class InsuranceRow(FileModel):
    """``[[insurance]]``: a policy offered as part of the reserve."""

    name: Text | None = Field(None, description="Your label; default: the insurer")
    insurer: Text = Field(description="The insurer")
    authorised: Flag = Field(description="Insurer authorised to write this business where licensed")
    limit: Amount = Field(description="The policy limit")
    limit_type: LimitType = Field(
        description="aggregate (all claims in the term) or per_occurrence"
    )
    deductible: Amount | None = Field(None, description="Deductible; default 0")
    currency: Currency | None = Field(None, description=_CCY)
    perils: PerilsTable | None = Field(None, description="Cover per wallet class")
    exclusions: Names = Field((), description="Perils excluded everywhere")
    start: Day = Field(description="First day of cover")
    end: Day = Field(description="Expiry: cover ends at the start of this day (after start)")
    notice_days: Annotated[int, integer(0, 36_500)] = Field(
        description="Days of notice the insurer must give to cancel"
    )
    scope: Share | None = Field(
        None, description="Declared share of the reserve's risk covered; default 1"
    )


class GuaranteeRow(FileModel):
    """``[[guarantee]]``: a bank guarantee or standby letter of credit."""

    name: Text | None = Field(None, description="Your label; default: the issuer")
    issuer: Text = Field(description="The issuing bank")
    amount: Amount = Field(description="Amount in `currency`")
    currency: Currency | None = Field(None, description=_CCY)
    on_demand: Flag = Field(description="Payable on first demand, without proof of default")
    maturity: Day | None = Field(None, description="Expiry; omit if open-ended")


class VolumeRow(FileModel):
    """``[[volume]]``: trading volume of one category over one 12-month period."""

    category: Text = Field(description="Volume category (spot, derivatives, ...; packs rate each)")
    year: Annotated[int, integer(1970, 9998)] | None = Field(
        None, description="A calendar year (exactly one of year, period_start)"
    )
    period_start: Day | None = Field(None, description="First day of a 12-month period (or year)")
    amount: Amount = Field(description="Volume over the period, reporting currency")


class IncidentRow(FileModel):
    """``[[incident]]``: a loss event and what was recovered."""

    day: Day = Field(description="The day of the loss", alias="date")
    loss: Amount = Field(description="The loss")
    recovered: Amount | None = Field(
        None, description="Recovered so far (at most the loss); default 0"
    )
    description: Text | None = Field(None, description="What happened")


class OverheadsTable(FileModel):
    """``[entity.overheads]``: fixed overheads, or the year's expenses less deductions."""

    fixed: Amount | None = Field(
        None, description="Fixed overheads (alone; or give total_expenses)"
    )
    total_expenses: Amount | None = Field(None, description="Previous year's total expenses")
    bonuses: Amount | None = Field(None, description="Bonuses depending on net profit")
    profit_shares: Amount | None = Field(
        None, description="Employees', directors' and partners' profit shares"
    )
    discretionary: Amount | None = Field(
        None, description="Other appropriations and variable remuneration"
    )
    non_recurring: Amount | None = Field(None, description="Non-recurring expenses")


class OperationalRiskTable(FileModel):
    """``[entity.operational_risk]``: inputs of the multiplier m_ops."""

    m_ops: Multiplier | None = Field(None, description="An assessed multiplier (positive)")
    flags: Names = Field((), description="Risk flags the pack may price (m_ops_step.<flag>)")


class EntityTable(FileModel):
    """``[entity]``: the licensed entity."""

    jurisdiction: Text | None = Field(None, description="Jurisdiction code")
    licence_class: Text | None = Field(
        None, description="MiCA class_1, class_2 or class_3 (Annex IV)"
    )
    overheads: OverheadsTable | None = Field(
        None, description="Fixed overheads (capital-model packs)"
    )
    cet1: Amount | None = Field(None, description="Own funds: Common Equity Tier 1 items")
    paid_up_capital: Amount | None = Field(None, description="Paid-up capital")
    operational_risk: OperationalRiskTable | None = Field(
        None, description="Operational-risk multiplier"
    )


class HeldAssetRow(FileModel):
    """``[[holdings.assets]]``: one asset's customer position for the same-type checks."""

    code: AssetCode = Field(description="Asset code")
    decimals: Annotated[int, integer(0, MAX_DECIMALS)] = Field(description="The asset's decimals")
    price: Amount = Field(description="Reporting currency per whole unit")
    owed: Quantity = Field(description="Customer liabilities, whole units")
    held: Quantity = Field(description="Customer holdings in every wallet class, whole units")
    hot: Quantity | None = Field(
        None, description="The part of held outside cold storage; default 0"
    )
    own_buffer: Quantity | None = Field(
        None, description="The exchange's own buffer of this asset; default 0"
    )


class HoldingsTable(FileModel):
    """``[holdings]``: customer holdings by wallet class (when no snapshot gives them)."""

    cold: Amount | None = Field(None, description="Customer value in cold wallets; default 0")
    hot: Amount | None = Field(None, description="Customer value in hot wallets; default 0")
    other: Amount | None = Field(None, description="Customer value in other wallets; default 0")
    custodial: Amount | None = Field(None, description="Customer value with custodians; default 0")
    own_buffer: Amount | None = Field(
        None, description="Value of the exchange's own buffer; default 0"
    )
    assets: tuple[HeldAssetRow, ...] = Field((), description="Per-asset positions")


class StatementFile(FileModel):
    """A reserve statement (docs/reserve.md): the off-chain liability reserve."""

    model_config = ConfigDict(
        title="por reserve statement",
        json_schema_extra={
            "description": "Read by por reserve evaluate --statement and by "
            "por reconcile / por attest through [reserve] statement."
        },
    )

    currency: Currency = Field(description="Reporting currency: every result is in it")
    exchange: Text | None = Field(
        None, description="The exchange's name (free text, shown in reports)"
    )
    as_of: Day | None = Field(None, description="The day evaluated (`--as-of` overrides it)")
    fx: dict[str, Rate] | None = Field(
        None, description="Rates: reporting-currency units per one unit of the keyed currency"
    )
    cash: tuple[CashRow, ...] = Field((), description="Cash in the reserve")
    insurance: tuple[InsuranceRow, ...] = Field((), description="Insurance policies")
    guarantee: tuple[GuaranteeRow, ...] = Field((), description="Guarantees")
    volume: tuple[VolumeRow, ...] = Field((), description="Trading volume per category and period")
    incident: tuple[IncidentRow, ...] = Field((), description="Loss events")
    entity: EntityTable | None = Field(None, description="The licensed entity")
    holdings: HoldingsTable | None = Field(None, description="Customer holdings")


# ----------------------------------------------------------------------------- reading


def _error(file: str, key: str, message: str, value: object = None) -> InputError:
    return InputError(message, file=file, key=key, value=None if value is None else str(value))


def _cash(row: CashRow, key: str, currency: str) -> CashReserve:
    return CashReserve(
        key=key,
        name=row.name,
        amount=row.amount,
        currency=row.currency or currency,
        holder=row.holder,
        on_trust=row.on_trust,
        maturity=row.maturity,
    )


def _insurance(row: InsuranceRow, key: str, currency: str) -> InsurancePolicy:
    perils: dict[str, Decimal | tuple[str, ...]] = {}
    if row.perils is not None:
        for wallet_class in WALLET_CLASSES:
            cover = getattr(row.perils, wallet_class)
            if cover is not None:
                perils[wallet_class] = cover
    return InsurancePolicy(
        key=key,
        name=row.name or row.insurer,
        insurer=row.insurer,
        authorised=row.authorised,
        limit=row.limit,
        limit_type=row.limit_type,
        deductible=Decimal(0) if row.deductible is None else row.deductible,
        currency=row.currency or currency,
        start=row.start,
        end=row.end,
        notice_days=row.notice_days,
        scope=Decimal(1) if row.scope is None else row.scope,
        perils=perils,
        exclusions=row.exclusions,
    )


def _guarantee(row: GuaranteeRow, key: str, currency: str) -> Guarantee:
    return Guarantee(
        key=key,
        name=row.name or row.issuer,
        issuer=row.issuer,
        amount=row.amount,
        currency=row.currency or currency,
        on_demand=row.on_demand,
        maturity=row.maturity,
    )


def add_years(day: date, years: int) -> date:
    """`day` moved by whole calendar years.

    Parameters
    ----------
    day:
        The starting day.
    years:
        Years to add (negative to go back).

    Returns
    -------
    date
        The same day and month `years` later; 29 February becomes 28 February.
    """
    year = day.year + years
    if not MINYEAR <= year <= MAXYEAR:
        raise InputError(f"{years} years from {day} is past the calendar's range", value=str(years))
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)


def _volume(row: VolumeRow, key: str) -> VolumeRecord:
    start = date(row.year, 1, 1) if row.year is not None else row.period_start
    assert start is not None  # file_problems: exactly one of year, period_start
    return VolumeRecord(
        key=key, category=row.category, start=start, end=add_years(start, 1), amount=row.amount
    )


def _incident(row: IncidentRow, key: str) -> Incident:
    return Incident(
        key=key,
        date=row.day,
        loss=row.loss,
        recovered=row.recovered or Decimal(0),
        description=row.description or "",
    )


def _zero(value: Decimal | None) -> Decimal:
    return Decimal(0) if value is None else value


def _overheads(table: OverheadsTable | None) -> Overheads | None:
    if table is None:
        return None
    if table.fixed is not None:
        return Overheads(total_expenses=table.fixed)
    assert table.total_expenses is not None  # file_problems: exactly one of the two
    return Overheads(
        total_expenses=table.total_expenses,
        bonuses=_zero(table.bonuses),
        profit_shares=_zero(table.profit_shares),
        discretionary=_zero(table.discretionary),
        non_recurring=_zero(table.non_recurring),
    )


def _entity(table: EntityTable | None) -> Entity:
    if table is None:
        return Entity()
    ops = table.operational_risk
    return Entity(
        jurisdiction=table.jurisdiction or "",
        licence_class=table.licence_class,
        overheads=_overheads(table.overheads),
        cet1=table.cet1,
        paid_up_capital=table.paid_up_capital,
        operational_risk=OperationalRisk()
        if ops is None
        else OperationalRisk(m_ops=ops.m_ops, flags=ops.flags),
    )


def _units(quantity: Decimal | None, decimals: int) -> int:
    units = to_units(_zero(quantity), decimals)
    assert units is not None  # file_problems: no digit beyond the decimals
    return units


def _holdings(table: HoldingsTable | None) -> Holdings | None:
    if table is None:
        return None
    return Holdings(
        cold=_zero(table.cold),
        hot=_zero(table.hot),
        other=_zero(table.other),
        custodial=_zero(table.custodial),
        own_buffer=_zero(table.own_buffer),
        assets=tuple(
            HeldAsset(
                key=f"holdings.assets[{i}]",
                code=row.code,
                decimals=row.decimals,
                price=row.price,
                owed_units=_units(row.owed, row.decimals),
                held_units=_units(row.held, row.decimals),
                hot_units=_units(row.hot, row.decimals),
                own_buffer_units=_units(row.own_buffer, row.decimals),
            )
            for i, row in enumerate(table.assets)
        ),
    )


def _volume_problems(file: str, doc: StatementFile) -> list[InputError]:
    """Periods of one category must not overlap (each year's volume is counted once)."""
    out = []
    records = []
    for i, row in enumerate(doc.volume):
        key = f"volume[{i}]"
        if (row.year is None) == (row.period_start is None):
            out.append(
                _error(
                    file, f"{key}.year", "give exactly one of year (calendar year) or period_start"
                )
            )
            continue
        try:
            records.append(_volume(row, key))
        except InputError as exc:
            out.append(_error(file, f"{key}.period_start", exc.message))
    by_category: dict[str, list[VolumeRecord]] = {}
    for record in records:
        by_category.setdefault(record.category, []).append(record)
    for rows in by_category.values():
        rows.sort(key=lambda r: r.start)
        for before, after in itertools.pairwise(rows):
            if after.start < before.end:
                out.append(
                    _error(
                        file,
                        after.key,
                        f"period overlaps {before.key} ({before.start} to {before.end}) "
                        f"in category {after.category!r}",
                        after.start,
                    )
                )
    return out


def _overheads_problems(file: str, table: OverheadsTable) -> list[InputError]:
    key = "entity.overheads"
    if (table.fixed is None) == (table.total_expenses is None):
        return [
            _error(file, f"{key}.total_expenses", "give exactly one of fixed or total_expenses")
        ]
    deductions = (table.bonuses, table.profit_shares, table.discretionary, table.non_recurring)
    if table.fixed is not None:
        if any(d is not None for d in deductions):
            return [
                _error(file, f"{key}.fixed", "deductions apply to total_expenses, not to fixed")
            ]
        return []
    overheads = _overheads(table)
    assert overheads is not None
    if overheads.fixed < 0:
        return [
            _error(
                file,
                f"{key}.total_expenses",
                "is smaller than the deductions",
                fmt_decimal(overheads.total_expenses),
            )
        ]
    return []


def _holdings_problems(file: str, table: HoldingsTable) -> list[InputError]:
    out = []
    seen: set[str] = set()
    for i, row in enumerate(table.assets):
        key = f"holdings.assets[{i}]"
        units = {}
        for name in ("owed", "held", "hot", "own_buffer"):
            units[name] = to_units(_zero(getattr(row, name)), row.decimals)
            if units[name] is None:
                out.append(
                    _error(
                        file,
                        f"{key}.{name}",
                        f"has more than the asset's {row.decimals} decimals",
                        getattr(row, name),
                    )
                )
        hot, held = units["hot"], units["held"]
        if hot is not None and held is not None and hot > held:
            out.append(
                _error(
                    file,
                    f"{key}.hot",
                    "exceeds held (hot units are part of the customer holdings)",
                    hot,
                )
            )
        if row.code in seen:
            out.append(_error(file, f"{key}.code", "duplicate asset", row.code))
        seen.add(row.code)
    return out


def file_problems(doc: StatementFile, file: str) -> list[InputError]:
    """Every problem of a schema-valid statement between its fields, in file order.

    Insurance ends after it starts, recoveries within the loss, exactly one of year and
    period_start and no overlapping periods per category, overheads consistent, a positive
    m_ops, other-currency rates positive, asset quantities within their decimals, hot within
    held, no asset twice.
    """
    out = []
    for code, rate in (doc.fx or {}).items():
        if not CURRENCY_RE.fullmatch(code) or code == doc.currency:
            out.append(
                _error(file, f"fx.{code}", "not a currency code other than the reporting one", code)
            )
        elif rate <= 0:
            out.append(_error(file, f"fx.{code}", "rate must be positive", rate))
    for i, policy in enumerate(doc.insurance):
        if policy.end <= policy.start:
            out.append(
                _error(
                    file, f"insurance[{i}].end", f"must be after start ({policy.start})", policy.end
                )
            )
    out += _volume_problems(file, doc)
    for i, incident in enumerate(doc.incident):
        if incident.recovered is not None and incident.recovered > incident.loss:
            out.append(
                _error(
                    file,
                    f"incident[{i}].recovered",
                    f"exceeds the loss ({fmt_decimal(incident.loss)})",
                    incident.recovered,
                )
            )
    if doc.entity is not None:
        if doc.entity.overheads is not None:
            out += _overheads_problems(file, doc.entity.overheads)
        ops = doc.entity.operational_risk
        if ops is not None and ops.m_ops is not None and ops.m_ops <= 0:
            out.append(_error(file, "entity.operational_risk.m_ops", "must be positive", ops.m_ops))
    if doc.holdings is not None:
        out += _holdings_problems(file, doc.holdings)
    return out


def parse_statement(raw: Mapping[str, Any], path: str = "<statement>") -> ReserveStatement:
    """Check a decoded reserve statement and build its values.

    Parameters
    ----------
    raw:
        The decoded TOML document.
    path:
        The file name used in error messages.

    Returns
    -------
    ReserveStatement

    Raises
    ------
    InputError
        For the first malformed, missing or unknown key (`StatementFile`) or the first
        inconsistency between fields (`file_problems`), naming the file, key and value.
    """
    doc = validate(StatementFile, raw, path)
    problems = file_problems(doc, path)
    if problems:
        raise problems[0]
    currency = doc.currency
    return ReserveStatement(
        currency=currency,
        path=path,
        exchange=doc.exchange or "",
        as_of=doc.as_of,
        fx=dict(doc.fx or {}),
        cash=tuple(_cash(row, f"cash[{i}]", currency) for i, row in enumerate(doc.cash)),
        insurance=tuple(
            _insurance(row, f"insurance[{i}]", currency) for i, row in enumerate(doc.insurance)
        ),
        guarantees=tuple(
            _guarantee(row, f"guarantee[{i}]", currency) for i, row in enumerate(doc.guarantee)
        ),
        volume=tuple(_volume(row, f"volume[{i}]") for i, row in enumerate(doc.volume)),
        incidents=tuple(_incident(row, f"incident[{i}]") for i, row in enumerate(doc.incident)),
        entity=_entity(doc.entity),
        holdings=_holdings(doc.holdings),
    )


def load_statement(path: Path | str) -> ReserveStatement:
    """Read and check a reserve statement TOML file (schema: docs/reserve.md).

    Parameters
    ----------
    path:
        The statement file.

    Returns
    -------
    ReserveStatement

    Raises
    ------
    InputError
        When the file is missing, unreadable, not TOML, or any field is malformed.
    """
    path = Path(path)
    name = str(path)
    raw = safetoml.load_path(path, what="reserve statement")
    return parse_statement(raw, name)
