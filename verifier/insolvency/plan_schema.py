"""plan.json (por-plan-v1) read strictly: every key, type and bound, before a figure is used.

Where it sits: the input edge of everything that reads a published plan — the customer's
check (verify.py), the payouts (payouts_files.py) and the site (verifier/site/insolvency.py)
— through `read_plan`. One pydantic model, field by field as docs/spec/por-insolvency-v1.md
§2.5 lists them: unknown keys, wrong types, floats and unbounded numbers are refused (exit 3)
naming the key, so no later arithmetic meets a megabyte integer or a decimals of 10**6
(a hostile ``fiat.decimals`` once made verify compute 10**1000000). Bounds: amounts are
integer strings below 2**128 (as por-mst-v1 sums), asset decimals 0..36 (por-mst-v1), the
currency's 0..18 (the estate's), counts below 2**53. Whether the figures agree with each
other is consistency.py's question, not this module's.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field

from verifier.base.errors import InputError
from verifier.inputs.file_schemas import (
    Check,
    FileModel,
    Flag,
    PlainText,
    fault,
    integer,
    pattern,
    validate,
)

PLAN_FORMAT = "por-plan-v1"
MAX_UNITS = 1 << 128
"""Every amount of a plan is below 2**128 base (or minor) units, as por-mst-v1 sums are."""
MAX_CUSTOMERS = (1 << 53) - 1
"""Counts are JSON numbers: exact in every JSON reader (and RFC 8785) up to 2**53 - 1."""
_UNITS = re.compile(r"0|[1-9][0-9]{0,38}")


def _units(value: object) -> str:
    if not isinstance(value, str) or not _UNITS.fullmatch(value) or int(value) >= MAX_UNITS:
        raise fault("must be a string of digits (base units) below 2**128", value)
    return value


Units = Annotated[str, Check(_units, {"type": "string", "pattern": f"^(?:{_UNITS.pattern})$"})]
"""An integer amount as plan.json writes it: digits, no sign or leading zero, below 2**128."""
AssetDecimals = Annotated[int, integer(0, 36)]
CurrencyDecimals = Annotated[int, integer(0, 18)]
Count = Annotated[int, integer(0, MAX_CUSTOMERS)]
Code = Annotated[str, pattern(re.compile(r"[A-Z0-9._-]{1,16}"), "must be [A-Z0-9._-]{1,16}")]
Hex64 = Annotated[str, pattern(re.compile(r"[0-9a-f]{64}"), "must be 64 lowercase hex digits")]
Price = Annotated[
    str,
    pattern(
        re.compile(r"(0|[1-9][0-9]{0,39})(\.[0-9]{1,40})?"),
        "must be a plain decimal price string (at most 40 digits each side of the point)",
    ),
]
Policy = Annotated[str, pattern(re.compile("in-kind|fiat|mixed"), "must be in-kind, fiat or mixed")]
Short = Annotated[
    str, pattern(re.compile(r"[^\x00-\x1f\x7f]{0,1000}"), "must be 0..1000 characters")
]
"""Any name or date text: bounded, no control characters (a message may quote it)."""


class Ratio(FileModel):
    exact: Annotated[str, pattern(re.compile(r"[0-9]{1,40}/[1-9][0-9]{0,39}"), "must be n/d")]
    percent: Short


class Cutoff(FileModel):
    remainder: Units
    leaf_hash: Hex64


class Remainder(FileModel):
    rule: Short
    units: Units
    cutoff: Cutoff | None


class AssetEntry(FileModel):
    code: Code
    decimals: AssetDecimals
    total_claims: Units
    available: Units
    distributable: Units
    ratio: Ratio | None
    in_kind: Flag
    remainder: Remainder
    distributed_total: Units
    surplus: Units
    sold_value: Units


class FiatEntry(FileModel):
    currency: Code
    decimals: CurrencyDecimals
    basis: Annotated[
        str, pattern(re.compile("value|unpaid value"), "must be value or unpaid value")
    ]
    cash: Units
    sold: Units
    deductions: Units
    pool: Units
    claims_value: Units
    distributable: Units
    ratio: Ratio | None
    remainder: Remainder
    distributed_total: Units


class ClaimsEntry(FileModel):
    attestation_id: Short
    commitment: Hex64
    as_of: Short
    customers: Count
    totals: dict[Code, Units]
    root: dict[str, Any]
    sha256: Hex64


class ValuationEntry(FileModel):
    date: Short
    currency: Code
    currency_decimals: CurrencyDecimals
    prices: dict[Code, Price]


class EstateAsset(FileModel):
    on_chain: Units
    recovered: Units
    available: Units


class EstateFiat(FileModel):
    recovered: Units
    reserve: Units
    insurance: Units


class Deduction(FileModel):
    label: Short
    kind: Annotated[str, pattern(re.compile("cost|priority"), "must be cost or priority")]
    amount: Units


class Source(FileModel):
    file: Short
    sha256: Hex64


class EstateEntry(FileModel):
    file: Short
    sha256: Hex64
    policy: Policy
    sell_surplus: Flag
    assets: dict[Code, EstateAsset]
    fiat: EstateFiat
    deductions: list[Deduction] = Field(max_length=10_000)
    deductions_total: Units
    sources: dict[Short, Source]


class DistributionEntry(FileModel):
    attestation_id: Short
    root: dict[str, Any]
    totals: dict[Code, Units]


class PlanFile(FileModel):
    """plan.json as `por insolvency plan` writes it (unknown keys refused)."""

    plan: Annotated[str, pattern(re.compile(re.escape(PLAN_FORMAT)), f"must be {PLAN_FORMAT}")]
    plan_id: Annotated[
        str, pattern(re.compile(r"sha256:[0-9a-f]{64}"), "must be sha256: and 64 hex digits")
    ]
    exchange: Short | None
    policy: Policy
    sell_surplus: Flag
    claims: ClaimsEntry
    valuation: ValuationEntry | None
    estate: EstateEntry
    assets: list[AssetEntry] = Field(min_length=1, max_length=255)
    fiat: FiatEntry | None
    distribution: DistributionEntry
    rules_text: list[PlainText] = Field(max_length=100)
    files: dict[Short, Hex64]


def read_plan(raw: Any, file: str | None = None) -> PlanFile:
    """`raw` (decoded plan.json) checked key by key; `InputError` naming the key (exit 3)."""
    if not isinstance(raw, dict):
        raise InputError("the plan is not a JSON object", file=file)
    _valid_text(raw, "", file)
    return validate(PlanFile, raw, file)


def _valid_text(node: Any, key: str, file: str | None) -> None:
    """Every key and string is valid Unicode (a JSON escape can hold a lone surrogate,
    which no message and no hash can encode): `InputError` naming the key."""
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for name, value in items:
        where = f"{key}[{name}]" if isinstance(name, int) else f"{key}.{name}" if key else str(name)
        for text in (name, value):
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    raise InputError(
                        "a string with a lone surrogate is not valid Unicode",
                        file=file,
                        key=where.encode("utf-8", "backslashreplace").decode(),
                    ) from None
        _valid_text(value, where, file)


__all__ = ["MAX_UNITS", "PLAN_FORMAT", "PlanFile", "read_plan"]
