"""The reserve statement: an exchange's off-chain liability reserve, read from TOML.

Where it sits: an input edge of the reconciliation flow (DESIGN.md, "Data flow":
``reserve.toml (cash, insurance, guarantees) · prices · rule pack``). `load_statement`
reads the file, checks it against `StatementFile` (whose rows are
verifier/reserve/statement_rows.py) and then between its fields (`file_problems`), and
builds the frozen values of verifier/reserve/statement_model.py
(verifier/reserve/statement_build.py); verifier/reserve/rules.py evaluates them against a
rule pack. The schema is documented in docs/reserve.md, with a commented example in
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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from verifier.base import safetoml
from verifier.base.errors import InputError
from verifier.inputs.file_schemas import Day, FileModel, Text, validate
from verifier.reserve import statement_build as build
from verifier.reserve.money import fmt_decimal, to_units
from verifier.reserve.statement_model import CURRENCY_RE, ReserveStatement, VolumeRecord
from verifier.reserve.statement_rows import (
    CashRow,
    Currency,
    EntityTable,
    GuaranteeRow,
    HoldingsTable,
    IncidentRow,
    InsuranceRow,
    OverheadsTable,
    Rate,
    VolumeRow,
)


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


# ----------------------------------------------------------------------------- checks


def _error(file: str, key: str, message: str, value: object = None) -> InputError:
    return InputError(message, file=file, key=key, value=None if value is None else str(value))


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
            records.append(build.volume_record(row, key))
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
    overheads = build.overheads(table)
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
            units[name] = to_units(build.or_zero(getattr(row, name)), row.decimals)
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


# ----------------------------------------------------------------------------- reading


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
        cash=tuple(
            build.cash_reserve(row, f"cash[{i}]", currency) for i, row in enumerate(doc.cash)
        ),
        insurance=tuple(
            build.insurance_policy(row, f"insurance[{i}]", currency)
            for i, row in enumerate(doc.insurance)
        ),
        guarantees=tuple(
            build.guarantee(row, f"guarantee[{i}]", currency) for i, row in enumerate(doc.guarantee)
        ),
        volume=tuple(build.volume_record(row, f"volume[{i}]") for i, row in enumerate(doc.volume)),
        incidents=tuple(
            build.incident(row, f"incident[{i}]") for i, row in enumerate(doc.incident)
        ),
        entity=build.entity(doc.entity),
        holdings=build.holdings(doc.holdings),
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
