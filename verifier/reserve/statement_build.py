"""A statement file's rows turned into the statement's values.

Where it sits: between the file's schema (verifier/reserve/statement_rows.py) and its values
(verifier/reserve/statement_model.py). verifier/reserve/statement.py calls these once the file
has passed its checks, which is why a few asserts below restate what those checks ensured.
Defaults the file leaves out are filled here: a row's currency is the statement's, a missing
deductible, recovery or quantity is zero, a policy's scope is one.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from verifier.reserve.money import add_years, to_units
from verifier.reserve.statement_model import (
    WALLET_CLASSES,
    CashReserve,
    Entity,
    Guarantee,
    HeldAsset,
    Holdings,
    Incident,
    InsurancePolicy,
    OperationalRisk,
    Overheads,
    VolumeRecord,
)
from verifier.reserve.statement_rows import (
    CashRow,
    EntityTable,
    GuaranteeRow,
    HoldingsTable,
    IncidentRow,
    InsuranceRow,
    OverheadsTable,
    VolumeRow,
)


def cash_reserve(row: CashRow, key: str, currency: str) -> CashReserve:
    """A ``[[cash]]`` row; `currency` is the statement's, the default."""
    return CashReserve(
        key=key,
        name=row.name,
        amount=row.amount,
        currency=row.currency or currency,
        holder=row.holder,
        on_trust=row.on_trust,
        maturity=row.maturity,
    )


def insurance_policy(row: InsuranceRow, key: str, currency: str) -> InsurancePolicy:
    """An ``[[insurance]]`` row, with its per-wallet-class perils."""
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
        claim_days=row.claim_days,
    )


def guarantee(row: GuaranteeRow, key: str, currency: str) -> Guarantee:
    """A ``[[guarantee]]`` row."""
    return Guarantee(
        key=key,
        name=row.name or row.issuer,
        issuer=row.issuer,
        amount=row.amount,
        currency=row.currency or currency,
        on_demand=row.on_demand,
        maturity=row.maturity,
        payment_days=row.payment_days,
    )


def volume_record(row: VolumeRow, key: str) -> VolumeRecord:
    """A ``[[volume]]`` row: a calendar year or the 12 months from ``period_start``."""
    start = date(row.year, 1, 1) if row.year is not None else row.period_start
    assert start is not None  # file_problems: exactly one of year, period_start
    return VolumeRecord(
        key=key, category=row.category, start=start, end=add_years(start, 1), amount=row.amount
    )


def incident(row: IncidentRow, key: str) -> Incident:
    """An ``[[incident]]`` row."""
    return Incident(
        key=key,
        date=row.day,
        loss=row.loss,
        recovered=row.recovered or Decimal(0),
        description=row.description or "",
    )


def or_zero(value: Decimal | None) -> Decimal:
    """An optional amount, zero when the file leaves it out."""
    return Decimal(0) if value is None else value


def overheads(table: OverheadsTable | None) -> Overheads | None:
    """``[entity.overheads]``: fixed overheads as given, or expenses less deductions."""
    if table is None:
        return None
    if table.fixed is not None:
        return Overheads(total_expenses=table.fixed)
    assert table.total_expenses is not None  # file_problems: exactly one of the two
    return Overheads(
        total_expenses=table.total_expenses,
        bonuses=or_zero(table.bonuses),
        profit_shares=or_zero(table.profit_shares),
        discretionary=or_zero(table.discretionary),
        non_recurring=or_zero(table.non_recurring),
    )


def entity(table: EntityTable | None) -> Entity:
    """``[entity]``, or an empty entity when the file has none."""
    if table is None:
        return Entity()
    ops = table.operational_risk
    return Entity(
        jurisdiction=table.jurisdiction or "",
        licence_class=table.licence_class,
        overheads=overheads(table.overheads),
        cet1=table.cet1,
        paid_up_capital=table.paid_up_capital,
        operational_risk=OperationalRisk()
        if ops is None
        else OperationalRisk(m_ops=ops.m_ops, flags=ops.flags),
    )


def base_units(quantity: Decimal | None, decimals: int) -> int:
    """A row's whole-unit quantity (missing: zero) as base units."""
    units = to_units(or_zero(quantity), decimals)
    assert units is not None  # file_problems: no digit beyond the decimals
    return units


def holdings(table: HoldingsTable | None) -> Holdings | None:
    """The what-if ``[holdings]``, or None when the file has none."""
    if table is None:
        return None
    return Holdings(
        cold=or_zero(table.cold),
        hot=or_zero(table.hot),
        other=or_zero(table.other),
        custodial=or_zero(table.custodial),
        own_buffer=or_zero(table.own_buffer),
        assets=tuple(
            HeldAsset(
                key=f"holdings.assets[{i}]",
                code=row.code,
                decimals=row.decimals,
                price=row.price,
                owed_units=base_units(row.owed, row.decimals),
                held_units=base_units(row.held, row.decimals),
                hot_units=base_units(row.hot, row.decimals),
                own_buffer_units=base_units(row.own_buffer, row.decimals),
            )
            for i, row in enumerate(table.assets)
        ),
    )
