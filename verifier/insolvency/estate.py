"""The estate file: what the administrator has to distribute (por insolvency plan --estate).

Where it sits: the input edge of the plan (verifier/insolvency/plan.py). One TOML file,
one pydantic model (`EstateFile`, published as docs/spec/schemas/por-estate.schema.json by
``python -m verifier.insolvency.estate docs/spec/schemas``), read strictly: unknown keys,
floats, negative or inexact amounts are refused naming the file, the key and the value
(exit 3). `read_estate` returns an `Estate` of exact integers once the claims' assets are
known: base units per asset, minor units of the currency for fiat. Files it names (a
por-report-v1 or por-snapshot-v1 for the holdings, a prices file, a reserve statement for
the cash reserve) are read through their own loaders and recorded with their sha256.

Keys (docs/spec/por-insolvency-v1.md, "The estate file"): policy, sell_surplus, exchange,
[valuation] (date, currency, decimals, prices | prices_file), [holdings] (report |
snapshot), [assets.CODE] (on_chain, recovered: whole units), [fiat] (recovered, reserve |
statement, insurance) and [[deductions]] (label, kind cost | priority, amount).
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, Field

from attestations.encoding import AssetSpec
from verifier.base import safejson, safetoml
from verifier.base.errors import InputError
from verifier.inputs.file_schemas import (
    SCHEMA_BASE,
    Amount,
    Day,
    FileModel,
    Flag,
    Text,
    integer,
    pattern,
    schema_text,
    validate,
)
from verifier.inputs.prices import Currency, load_prices
from verifier.insolvency.rules import POLICIES, Policy
from verifier.reconcile.numbers import EXACT
from verifier.reserve.statement import load_statement

SCHEMA_FILE = "por-estate.schema.json"
MAX_UNITS = 1 << 128
"""No amount of an estate reaches 2**128 base (or minor) units: a tree sum could not hold it."""
_CODE = re.compile(r"[A-Z0-9._-]{1,16}")
_POLICY = re.compile("|".join(re.escape(p) for p in POLICIES))
_KIND = re.compile("cost|priority")

Code = Annotated[str, pattern(_CODE, "an asset code is 1..16 of A-Z 0-9 . _ -")]


class ValuationTable(FileModel):
    """``[valuation]``: the reporting currency and the prices at the valuation date."""

    date: Day = Field(description="The valuation date (a TOML date)")
    currency: Currency = Field(description="The currency of fiat amounts and payouts")
    decimals: Annotated[int, integer(0, 18)] = Field(
        description="Minor units of the currency (JPY 0, USD 2): fiat is paid in them"
    )
    prices: dict[Code, Amount] | None = Field(
        None, description="Currency per whole unit of each asset (or prices_file)"
    )
    prices_file: Text | None = Field(
        None, description="A prices file (docs/files.md) instead of prices; path relative to here"
    )


class HoldingsTable(FileModel):
    """``[holdings]``: where the on-chain figures come from (instead of on_chain per asset)."""

    report: Text | None = Field(
        None, description="A por-report-v1 file: each asset's proven customer holdings"
    )
    snapshot: Text | None = Field(
        None, description="A por-snapshot-v1 file: each asset's proven units, summed over chains"
    )


class AssetRow(FileModel):
    """``[assets.CODE]``: what the estate holds of one asset, in whole units."""

    on_chain: Amount | None = Field(
        None, description="Held on chain for customers (whole units); or from [holdings]"
    )
    recovered: Amount = Field(Decimal(0), description="Recovered in kind since (whole units)")


class FiatTable(FileModel):
    """``[fiat]``: the estate's fiat for customers, in the valuation currency."""

    recovered: Amount = Field(Decimal(0), description="Cash recovered")
    reserve: Amount | None = Field(None, description="The liability reserve's cash (or statement)")
    statement: Text | None = Field(
        None, description="A reserve statement: its cash rows held on trust are the reserve"
    )
    insurance: Amount = Field(Decimal(0), description="Insurance proceeds received")


class DeductionRow(FileModel):
    """``[[deductions]]``: a cost of the administration or a claim ranking before customers."""

    label: Text = Field(description="What it is")
    kind: Annotated[str, pattern(_KIND, "kind must be cost or priority")] = Field(
        description="cost or priority"
    )
    amount: Amount = Field(description="In the valuation currency")


class EstateFile(FileModel):
    """The estate of a failed exchange, as its administrator states it."""

    model_config = ConfigDict(
        title="por estate",
        json_schema_extra={"description": "Read by por insolvency plan --estate."},
    )

    exchange: Text | None = Field(None, description="The exchange's name")
    policy: Annotated[str, pattern(_POLICY, "policy must be in-kind, fiat or mixed")] = Field(
        description="in-kind, fiat or mixed (--policy overrides it)"
    )
    sell_surplus: Flag = Field(
        False, description="mixed: sell each asset's surplus into the fiat pool"
    )
    valuation: ValuationTable | None = Field(None, description="Currency and prices")
    holdings: HoldingsTable | None = Field(None, description="Source of the on-chain figures")
    assets: dict[Code, AssetRow] = Field(default_factory=dict, description="Per asset")
    fiat: FiatTable | None = Field(None, description="The estate's fiat")
    deductions: list[DeductionRow] = Field(default_factory=list, description="Costs, priority")


# ----------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Estate:
    """An estate in exact integers, for the claims' assets."""

    path: str
    sha256: str
    exchange: str | None
    policy: Policy
    sell_surplus: bool
    available: dict[str, int]
    """Per asset: on chain + recovered, base units."""
    on_chain: dict[str, int]
    recovered: dict[str, int]
    currency: str | None
    currency_decimals: int | None
    valuation_date: str | None
    prices: dict[str, Decimal]
    cash: dict[str, int]
    """Fiat before deductions, minor units: recovered, reserve, insurance."""
    deductions: list[dict[str, str]]
    deductions_total: int
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    """{role: {"file", "sha256"}} of every file the estate names."""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def exact_units(amount: Decimal, decimals: int, *, file: str, key: str) -> int:
    """Whole units to base units, exactly; more digits than `decimals` is refused."""
    with localcontext(EXACT):  # the default 28 digits rounded a 31-digit amount silently
        scaled = amount.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise InputError(
            f"has more than {decimals} decimal places: not a whole number of base units",
            file=file,
            key=key,
            value=format(amount, "f"),
        )
    if scaled >= MAX_UNITS:
        raise InputError(
            "reaches 2**128 base units: beyond what a por-mst-v1 tree can hold",
            file=file,
            key=key,
            value=format(amount, "f"),
        )
    return int(scaled)


def _named(base: Path, text: str, *, file: str, key: str) -> Path:
    path = (base / text) if not Path(text).is_absolute() else Path(text)
    if not path.is_file():
        raise InputError("names a file that does not exist", file=file, key=key, value=text)
    return path


def _base_units(value: Any, *, file: str, key: str) -> int:
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 40:
        raise InputError(
            "expected base units as a string of digits", file=file, key=key, value=str(value)[:80]
        )
    return int(value)


def _from_report(path: Path, codes: Mapping[str, int]) -> dict[str, int]:
    """Each asset's proven customer holdings in a por-report-v1 (assets[].holdings)."""
    file = str(path)
    doc = safejson.load_path(path, what="report")
    if not isinstance(doc, dict) or doc.get("report") != "por-report-v1":
        raise InputError("not a por-report-v1 document", file=file, key="report")
    rows = doc.get("assets")
    if not isinstance(rows, list):
        raise InputError("expected a list", file=file, key="assets")
    out = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or row.get("code") not in codes:
            continue
        code = row["code"]
        if row.get("decimals") != codes[code]:
            raise InputError(
                f"{code} has other decimals than in the claims",
                file=file,
                key=f"assets[{i}].decimals",
                value=str(row.get("decimals")),
            )
        held = row.get("holdings")
        units = held.get("base_units") if isinstance(held, dict) else None
        out[code] = _base_units(units, file=file, key=f"assets[{i}].holdings.base_units")
    return out


def _from_snapshot(path: Path, codes: Mapping[str, int]) -> dict[str, int]:
    """Each asset's proven units in a por-snapshot-v1, summed over its chains."""
    file = str(path)
    doc = safejson.load_path(path, what="snapshot")
    if not isinstance(doc, dict) or doc.get("snapshot") != "por-snapshot-v1":
        raise InputError("not a por-snapshot-v1 document", file=file, key="snapshot")
    chains = doc.get("chains")
    if not isinstance(chains, list):
        raise InputError("expected a list", file=file, key="chains")
    out: dict[str, int] = {}
    for i, chain in enumerate(chains):
        totals = chain.get("totals") if isinstance(chain, dict) else None
        if not isinstance(totals, dict):
            raise InputError("expected an object", file=file, key=f"chains[{i}].totals")
        for code, kinds in totals.items():
            if code not in codes:
                continue
            proven = kinds.get("proven") if isinstance(kinds, dict) else None
            units = proven.get("base_units") if isinstance(proven, dict) else None
            key = f"chains[{i}].totals.{code}.proven.base_units"
            out[code] = out.get(code, 0) + _base_units(units, file=file, key=key)
    return out


def _holdings(
    doc: EstateFile, base: Path, codes: Mapping[str, int], file: str, sources: dict[str, Any]
) -> dict[str, int]:
    table = doc.holdings
    if table is None:
        return {}
    if (table.report is None) == (table.snapshot is None):
        raise InputError("name exactly one of report and snapshot", file=file, key="holdings")
    role, text = ("report", table.report) if table.report else ("snapshot", table.snapshot)
    assert text is not None
    path = _named(base, text, file=file, key=f"holdings.{role}")
    sources[role] = {"file": text, "sha256": sha256_of(path)}
    return _from_report(path, codes) if role == "report" else _from_snapshot(path, codes)


def _per_asset(
    doc: EstateFile, codes: Mapping[str, int], held: Mapping[str, int], file: str
) -> tuple[dict[str, int], dict[str, int]]:
    unknown = sorted(set(doc.assets) - set(codes))
    if unknown:
        raise InputError(
            "not an asset of the claims register", file=file, key=f"assets.{unknown[0]}"
        )
    on_chain: dict[str, int] = {}
    recovered: dict[str, int] = {}
    for code, decimals in codes.items():
        row = doc.assets.get(code) or AssetRow.model_validate({})
        if row.on_chain is not None and code in held:
            raise InputError(
                "on_chain is given here and by [holdings]: name one source",
                file=file,
                key=f"assets.{code}.on_chain",
            )
        if row.on_chain is not None:
            on_chain[code] = exact_units(
                row.on_chain, decimals, file=file, key=f"assets.{code}.on_chain"
            )
        elif code in held:
            on_chain[code] = held[code]
        else:
            raise InputError(
                f"no on-chain figure for {code}: give assets.{code}.on_chain or "
                "a [holdings] report or snapshot holding it",
                file=file,
                key=f"assets.{code}.on_chain",
            )
        recovered[code] = exact_units(
            row.recovered, decimals, file=file, key=f"assets.{code}.recovered"
        )
    return on_chain, recovered


def _prices(
    val: ValuationTable, base: Path, codes: Mapping[str, int], file: str, sources: dict[str, Any]
) -> dict[str, Decimal]:
    if val.prices is not None and val.prices_file is not None:
        raise InputError("give prices or prices_file, not both", file=file, key="valuation")
    if val.prices_file is not None:
        path = _named(base, val.prices_file, file=file, key="valuation.prices_file")
        currency, table = load_prices(path)
        if currency != val.currency:
            raise InputError(
                f"the prices file is in {currency}, the valuation in {val.currency}",
                file=file,
                key="valuation.prices_file",
                value=val.prices_file,
            )
        sources["prices"] = {"file": val.prices_file, "sha256": sha256_of(path)}
        prices = {code: p.value for code, p in table.items() if code in codes}
    else:
        prices = dict(val.prices or {})
        unknown = sorted(set(prices) - set(codes))
        if unknown:
            raise InputError(
                "not an asset of the claims register",
                file=file,
                key=f"valuation.prices.{unknown[0]}",
            )
    return prices


def _minor(amount: Decimal, decimals: int, file: str, key: str) -> int:
    return exact_units(amount, decimals, file=file, key=key)


def _reserve_of_statement(path: Path, currency: str, decimals: int, text: str) -> Decimal:
    """The cash rows held on trust, converted with the statement's [fx] rates."""
    statement = load_statement(path)
    if statement.currency != currency:
        raise InputError(
            f"the statement is in {statement.currency}, the valuation in {currency}",
            file=str(path),
            key="currency",
            value=statement.currency,
        )
    total = Decimal(0)
    with localcontext(EXACT):  # exact sums and products (an inexact one is an error)
        for row in statement.cash:
            if not row.on_trust:
                continue
            rate = Decimal(1) if row.currency == currency else statement.fx.get(row.currency)
            if rate is None:
                raise InputError(f"no [fx] rate for {row.currency}", file=str(path), key=row.key)
            total += row.amount * rate
    return total


def _fiat(
    doc: EstateFile,
    base: Path,
    currency: str,
    decimals: int,
    file: str,
    sources: dict[str, Any],
) -> dict[str, int]:
    table = doc.fiat or FiatTable.model_validate({})
    if table.reserve is not None and table.statement is not None:
        raise InputError("give reserve or statement, not both", file=file, key="fiat")
    reserve = table.reserve or Decimal(0)
    if table.statement is not None:
        path = _named(base, table.statement, file=file, key="fiat.statement")
        sources["statement"] = {"file": table.statement, "sha256": sha256_of(path)}
        reserve = _reserve_of_statement(path, currency, decimals, table.statement)
    return {
        "recovered": _minor(table.recovered, decimals, file, "fiat.recovered"),
        "reserve": _minor(
            reserve, decimals, file, "fiat.statement" if table.statement else "fiat.reserve"
        ),
        "insurance": _minor(table.insurance, decimals, file, "fiat.insurance"),
    }


def read_estate(path: Path, assets: Sequence[AssetSpec], policy: str | None = None) -> Estate:
    """Read the estate file for the claims' `assets`; `policy` (--policy) overrides its own.

    Raises
    ------
    InputError
        Any malformed, hostile or inexact value, naming the file, the key and the value.
    """
    file = str(path)
    raw = safetoml.load_path(path, what="estate file")
    doc = validate(EstateFile, raw, file)
    if doc.sell_surplus and doc.policy != "mixed":
        raise InputError(
            "sell_surplus applies to policy mixed only", file=file, key="sell_surplus", value="true"
        )
    chosen = policy or doc.policy
    if chosen not in POLICIES:
        raise InputError(f"policy must be one of {', '.join(POLICIES)}", value=chosen)
    codes = {a.code: a.decimals for a in assets}
    base = path.parent
    sources: dict[str, dict[str, str]] = {}
    held = _holdings(doc, base, codes, file, sources)
    on_chain, recovered = _per_asset(doc, codes, held, file)
    val = doc.valuation
    needs_currency = chosen != "in-kind" or doc.fiat is not None or bool(doc.deductions)
    if val is None and needs_currency:
        raise InputError(
            f"policy {chosen} and fiat amounts need a [valuation] (currency, decimals, prices)",
            file=file,
            key="valuation",
        )
    prices: dict[str, Decimal] = {}
    cash = {"recovered": 0, "reserve": 0, "insurance": 0}
    deductions: list[dict[str, str]] = []
    total = 0
    if val is not None:
        prices = _prices(val, base, codes, file, sources)
        if chosen != "in-kind":
            missing = [code for code in codes if code not in prices]
            if missing:
                raise InputError(
                    f"policy {chosen} values every asset: no price for {missing[0]}",
                    file=file,
                    key=f"valuation.prices.{missing[0]}",
                )
        cash = _fiat(doc, base, val.currency, val.decimals, file, sources)
        for i, row in enumerate(doc.deductions):
            units = _minor(row.amount, val.decimals, file, f"deductions[{i}].amount")
            total += units
            deductions.append({"label": row.label, "kind": row.kind, "amount": str(units)})
    return Estate(
        path=file,
        sha256=sha256_of(path),
        exchange=doc.exchange,
        policy=chosen,  # type: ignore[arg-type]  # checked against POLICIES above
        sell_surplus=doc.sell_surplus and chosen == "mixed",
        available={code: on_chain[code] + recovered[code] for code in codes},
        on_chain=on_chain,
        recovered=recovered,
        currency=None if val is None else val.currency,
        currency_decimals=None if val is None else val.decimals,
        valuation_date=None if val is None else val.date.isoformat(),
        prices=prices,
        cash=cash,
        deductions=deductions,
        deductions_total=total,
        sources=sources,
    )


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of the estate file (docs/spec/schemas/por-estate.schema.json)."""
    from verifier.inputs.file_schemas import _toml_only  # the same TOML view as the others

    schema = _toml_only(EstateFile.model_json_schema(mode="validation"))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_BASE + SCHEMA_FILE,
        **schema,
    }


def main(argv: Sequence[str]) -> int:
    """``python -m verifier.insolvency.estate DIR``: write DIR/por-estate.schema.json."""
    if len(argv) != 1:
        print("usage: python -m verifier.insolvency.estate DIR", file=sys.stderr)
        return 2
    (Path(argv[0]) / SCHEMA_FILE).write_text(schema_text(json_schema()), encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
