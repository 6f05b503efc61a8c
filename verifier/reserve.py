"""The reserve statement: an exchange's off-chain liability reserve, read from TOML.

Where it sits: an input edge of the reconciliation flow (DESIGN.md, "Data flow":
``reserve.toml (cash, insurance, guarantees) · prices · rule pack``). `load_statement`
reads the file into frozen values; `verifier.rules` evaluates them against a rule pack.
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
from datetime import MAXYEAR, MINYEAR, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path
from typing import Any

from attestations.encoding import ASSET_CODE_RE, MAX_DECIMALS
from verifier import safetoml
from verifier.errors import InputError

PRECISION = 60
"""Significant digits of every reserve computation (the default context has only 28)."""
MAX_DIGITS = 50
"""Longest amount accepted, in digits: far above any real amount, far below `PRECISION`."""
WALLET_CLASSES = ("cold", "hot", "other", "custodial")
LIMIT_TYPES = ("aggregate", "per_occurrence")
CURRENCY_RE = re.compile(r"[A-Z][A-Z0-9]{1,9}")
_DECIMAL_RE = re.compile(r"[+-]?[0-9](?:_?[0-9])*(?:\.[0-9](?:_?[0-9])*)?")
_MISSING: Any = object()


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
    if isinstance(value, bool):
        raise InputError(f"{what} must be a decimal string", file=file, key=key, value=str(value))
    if isinstance(value, float):  # float-ok: only to reject it
        raise InputError(
            f"{what} is a TOML float, which cannot hold decimal amounts exactly: "
            f'write amounts as strings (e.g. "0.05" or "5000000000")',
            file=file,
            key=key,
            value=repr(value),
        )
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _DECIMAL_RE.fullmatch(text):
            raise InputError(
                f"{what} is not a decimal number (digits, optional sign and point, no exponent)",
                file=file,
                key=key,
                value=value,
            )
    else:
        raise InputError(
            f"{what} must be a decimal string or an integer", file=file, key=key, value=str(value)
        )
    digits = sum(ch.isdigit() for ch in text)
    if digits > MAX_DIGITS:
        raise InputError(
            f"{what} has more than {MAX_DIGITS} digits", file=file, key=key, value=text
        )
    return Decimal(text.replace("_", ""))


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


# ----------------------------------------------------------------------------- reading


class _Table:
    """Typed access to one TOML table, with errors naming the file and the key."""

    def __init__(self, file: str, table: Mapping[str, Any], where: str) -> None:
        self.file, self.table, self.where = file, table, where

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def fail(self, name: str, message: str, value: object = None) -> InputError:
        return InputError(
            message, file=self.file, key=self.key(name), value=None if value is None else str(value)
        )

    def unknown(self, allowed: set[str]) -> None:
        extra = sorted(set(self.table) - allowed)
        if extra:
            raise self.fail(extra[0], f"unknown key (known: {', '.join(sorted(allowed))})")

    def raw(self, name: str, default: Any = _MISSING) -> Any:
        if name not in self.table:
            if default is _MISSING:
                raise self.fail(name, "missing")
            return default
        return self.table[name]

    def text(self, name: str, default: Any = _MISSING) -> Any:
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str) or not value.strip():
            raise self.fail(name, "must be a non-empty string", value)
        return value.strip()

    def currency(self, name: str, default: Any = _MISSING) -> Any:
        value = self.text(name, default)
        if value is default and default is not _MISSING:
            return value
        if not CURRENCY_RE.fullmatch(value):
            raise self.fail(name, "not a currency code (upper case, e.g. JPY, USD)", value)
        return value

    def boolean(self, name: str, default: Any = _MISSING) -> bool:
        value = self.raw(name, default)
        if not isinstance(value, bool):
            raise self.fail(name, "must be true or false", value)
        return value

    def integer(self, name: str, low: int, high: int, default: Any = _MISSING) -> int:
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, "must be an integer", value)
        if not low <= value <= high:
            raise self.fail(name, f"must be {low}..{high}", value)
        return value

    def decimal(self, name: str, default: Any = _MISSING, what: str = "amount") -> Any:
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return value
        return parse_decimal(value, file=self.file, key=self.key(name), what=what)

    def amount(self, name: str, default: Any = _MISSING) -> Any:
        value = self.decimal(name, default)
        if isinstance(value, Decimal) and value < 0:
            raise self.fail(name, "amount must not be negative", value)
        return value

    def share(self, name: str, default: Any = _MISSING) -> Any:
        value = self.decimal(name, default, what="share")
        if isinstance(value, Decimal) and not 0 <= value <= 1:
            raise self.fail(name, "share must be between 0 and 1", value)
        return value

    def day(self, name: str, default: Any = _MISSING) -> Any:
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, datetime) or not isinstance(value, date):
            raise self.fail(name, "must be a TOML date (e.g. 2026-03-31, unquoted)", value)
        return value

    def texts(self, name: str) -> tuple[str, ...]:
        value = self.raw(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(name, "must be a list of non-empty strings", value)
        return tuple(value)

    def sub(self, name: str, *, required: bool = False) -> _Table | None:
        if name not in self.table:
            if required:
                raise self.fail(name, "missing")
            return None
        value = self.table[name]
        if not isinstance(value, Mapping):
            raise self.fail(name, "must be a table", value)
        return _Table(self.file, value, self.key(name))

    def rows(self, name: str) -> list[_Table]:
        value = self.raw(name, [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.fail(name, f"must be an array of tables ([[{name}]])")
        return [_Table(self.file, v, f"{self.key(name)}[{i}]") for i, v in enumerate(value)]


def _cash(t: _Table, currency: str) -> CashReserve:
    t.unknown({"name", "amount", "currency", "holder", "on_trust", "maturity"})
    return CashReserve(
        key=t.where,
        name=t.text("name"),
        amount=t.amount("amount"),
        currency=t.currency("currency", currency),
        holder=t.text("holder"),
        on_trust=t.boolean("on_trust"),
        maturity=t.day("maturity", None),
    )


def _perils(t: _Table | None) -> dict[str, Decimal | tuple[str, ...]]:
    if t is None:
        return {}
    t.unknown(set(WALLET_CLASSES))
    perils: dict[str, Decimal | tuple[str, ...]] = {}
    for wallet_class in WALLET_CLASSES:
        if wallet_class not in t.table:
            continue
        if isinstance(t.table[wallet_class], list):
            perils[wallet_class] = t.texts(wallet_class)
        else:
            perils[wallet_class] = t.share(wallet_class)
    return perils


def _insurance(t: _Table, currency: str) -> InsurancePolicy:
    t.unknown(
        {
            "name",
            "insurer",
            "authorised",
            "limit",
            "limit_type",
            "deductible",
            "currency",
            "perils",
            "exclusions",
            "start",
            "end",
            "notice_days",
            "scope",
        }
    )
    insurer = t.text("insurer")
    start, end = t.day("start"), t.day("end")
    if end <= start:
        raise t.fail("end", f"must be after start ({start})", end)
    limit_type = t.text("limit_type")
    if limit_type not in LIMIT_TYPES:
        raise t.fail("limit_type", f"must be one of {', '.join(LIMIT_TYPES)}", limit_type)
    return InsurancePolicy(
        key=t.where,
        name=t.text("name", insurer),
        insurer=insurer,
        authorised=t.boolean("authorised"),
        limit=t.amount("limit"),
        limit_type=limit_type,
        deductible=t.amount("deductible", Decimal(0)),
        currency=t.currency("currency", currency),
        start=start,
        end=end,
        notice_days=t.integer("notice_days", 0, 36_500),
        scope=t.share("scope", Decimal(1)),
        perils=_perils(t.sub("perils")),
        exclusions=t.texts("exclusions"),
    )


def _guarantee(t: _Table, currency: str) -> Guarantee:
    t.unknown({"name", "issuer", "amount", "currency", "on_demand", "maturity"})
    issuer = t.text("issuer")
    return Guarantee(
        key=t.where,
        name=t.text("name", issuer),
        issuer=issuer,
        amount=t.amount("amount"),
        currency=t.currency("currency", currency),
        on_demand=t.boolean("on_demand"),
        maturity=t.day("maturity", None),
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


def _volume(t: _Table) -> VolumeRecord:
    t.unknown({"category", "year", "period_start", "amount"})
    if ("year" in t.table) == ("period_start" in t.table):
        raise t.fail("year", "give exactly one of year (calendar year) or period_start")
    if "year" in t.table:
        start = date(t.integer("year", 1970, 9998), 1, 1)
    else:
        start = t.day("period_start")
    return VolumeRecord(
        key=t.where,
        category=t.text("category"),
        start=start,
        end=add_years(start, 1),
        amount=t.amount("amount"),
    )


def _incident(t: _Table) -> Incident:
    t.unknown({"date", "loss", "recovered", "description"})
    loss = t.amount("loss")
    recovered = t.amount("recovered", Decimal(0))
    if recovered > loss:
        raise t.fail("recovered", f"exceeds the loss ({fmt_decimal(loss)})", recovered)
    return Incident(
        key=t.where,
        date=t.day("date"),
        loss=loss,
        recovered=recovered,
        description=t.text("description", ""),
    )


def _overheads(t: _Table | None) -> Overheads | None:
    if t is None:
        return None
    t.unknown(
        {"fixed", "total_expenses", "bonuses", "profit_shares", "discretionary", "non_recurring"}
    )
    if ("fixed" in t.table) == ("total_expenses" in t.table):
        raise t.fail("total_expenses", "give exactly one of fixed or total_expenses")
    if "fixed" in t.table:
        if len(t.table) > 1:
            raise t.fail("fixed", "deductions apply to total_expenses, not to fixed")
        return Overheads(total_expenses=t.amount("fixed"))
    overheads = Overheads(
        total_expenses=t.amount("total_expenses"),
        bonuses=t.amount("bonuses", Decimal(0)),
        profit_shares=t.amount("profit_shares", Decimal(0)),
        discretionary=t.amount("discretionary", Decimal(0)),
        non_recurring=t.amount("non_recurring", Decimal(0)),
    )
    if overheads.fixed < 0:
        raise t.fail(
            "total_expenses",
            "is smaller than the deductions",
            fmt_decimal(overheads.total_expenses),
        )
    return overheads


def _entity(t: _Table | None) -> Entity:
    if t is None:
        return Entity()
    t.unknown(
        {
            "jurisdiction",
            "licence_class",
            "overheads",
            "cet1",
            "paid_up_capital",
            "operational_risk",
        }
    )
    risk = OperationalRisk()
    ops = t.sub("operational_risk")
    if ops is not None:
        ops.unknown({"m_ops", "flags"})
        m_ops = ops.decimal("m_ops", None, what="multiplier")
        if m_ops is not None and m_ops <= 0:
            raise ops.fail("m_ops", "must be positive", m_ops)
        risk = OperationalRisk(m_ops=m_ops, flags=ops.texts("flags"))
    return Entity(
        jurisdiction=t.text("jurisdiction", ""),
        licence_class=t.text("licence_class", None),
        overheads=_overheads(t.sub("overheads")),
        cet1=t.amount("cet1", None),
        paid_up_capital=t.amount("paid_up_capital", None),
        operational_risk=risk,
    )


def _units(t: _Table, name: str, decimals: int, default: Any = _MISSING) -> int:
    value = t.decimal(name, default, what="quantity")
    if value < 0:
        raise t.fail(name, "quantity must not be negative", value)
    units = to_units(value, decimals)
    if units is None:
        raise t.fail(name, f"has more than the asset's {decimals} decimals", value)
    return units


def _held_asset(t: _Table) -> HeldAsset:
    t.unknown({"code", "decimals", "price", "owed", "held", "hot", "own_buffer"})
    code = t.text("code")
    if not ASSET_CODE_RE.fullmatch(code):
        raise t.fail("code", "not an asset code ([A-Z0-9._-]{1,16})", code)
    decimals = t.integer("decimals", 0, MAX_DECIMALS)
    asset = HeldAsset(
        key=t.where,
        code=code,
        decimals=decimals,
        price=t.amount("price"),
        owed_units=_units(t, "owed", decimals),
        held_units=_units(t, "held", decimals),
        hot_units=_units(t, "hot", decimals, Decimal(0)),
        own_buffer_units=_units(t, "own_buffer", decimals, Decimal(0)),
    )
    if asset.hot_units > asset.held_units:
        raise t.fail(
            "hot", "exceeds held (hot units are part of the customer holdings)", asset.hot_units
        )
    return asset


def _holdings(t: _Table | None) -> Holdings | None:
    if t is None:
        return None
    t.unknown({*WALLET_CLASSES, "own_buffer", "assets"})
    assets = tuple(_held_asset(row) for row in t.rows("assets"))
    seen: set[str] = set()
    for asset in assets:
        if asset.code in seen:
            raise InputError(
                "duplicate asset", file=t.file, key=f"{asset.key}.code", value=asset.code
            )
        seen.add(asset.code)
    return Holdings(
        cold=t.amount("cold", Decimal(0)),
        hot=t.amount("hot", Decimal(0)),
        other=t.amount("other", Decimal(0)),
        custodial=t.amount("custodial", Decimal(0)),
        own_buffer=t.amount("own_buffer", Decimal(0)),
        assets=assets,
    )


def _check_volume(file: str, records: tuple[VolumeRecord, ...]) -> None:
    """Periods of one category must not overlap (each year's volume is counted once)."""
    by_category: dict[str, list[VolumeRecord]] = {}
    for record in records:
        by_category.setdefault(record.category, []).append(record)
    for rows in by_category.values():
        rows.sort(key=lambda r: r.start)
        for before, after in itertools.pairwise(rows):
            if after.start < before.end:
                raise InputError(
                    f"period overlaps {before.key} ({before.start} to {before.end}) "
                    f"in category {after.category!r}",
                    file=file,
                    key=after.key,
                    value=str(after.start),
                )


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
        For any malformed, missing or unknown key, naming the file, key and value.
    """
    top = _Table(path, raw, "")
    top.unknown(
        {
            "currency",
            "exchange",
            "as_of",
            "fx",
            "cash",
            "insurance",
            "guarantee",
            "volume",
            "incident",
            "entity",
            "holdings",
        }
    )
    currency = top.currency("currency")
    fx: dict[str, Decimal] = {}
    fx_table = top.sub("fx")
    if fx_table is not None:
        for code in fx_table.table:
            if not CURRENCY_RE.fullmatch(code) or code == currency:
                raise fx_table.fail(code, "not a currency code other than the reporting one", code)
            rate = fx_table.decimal(code, what="rate")
            if rate <= 0:
                raise fx_table.fail(code, "rate must be positive", rate)
            fx[code] = rate
    volume = tuple(_volume(row) for row in top.rows("volume"))
    _check_volume(path, volume)
    return ReserveStatement(
        currency=currency,
        path=path,
        exchange=top.text("exchange", ""),
        as_of=top.day("as_of", None),
        fx=fx,
        cash=tuple(_cash(row, currency) for row in top.rows("cash")),
        insurance=tuple(_insurance(row, currency) for row in top.rows("insurance")),
        guarantees=tuple(_guarantee(row, currency) for row in top.rows("guarantee")),
        volume=volume,
        incidents=tuple(_incident(row) for row in top.rows("incident")),
        entity=_entity(top.sub("entity")),
        holdings=_holdings(top.sub("holdings")),
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
