"""What a signed report must look like before the site's pages show it.

Where it sits: between verifier/site/bundle.py (which proves who signed the report) and
verifier/site/pages.py (which shows it). A signature proves who wrote a document, not that
it is well-formed: `check_report_shape` refuses a signed report whose fields the pages read
have another type than `verifier.report.document.build_report` writes, and `check_numbers`
refuses a decimal string too long to display exactly, each naming the file and the field
(exit 3), so a hostile or broken report is never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from verifier.base.errors import InputError
from verifier.site.bundle import field_name, shown

_NUMBER_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
MAX_NUMBER_DIGITS = 200
"""Longest decimal string a page shows as a number (a ratio has 28 digits; display
arithmetic works to 999 digits, so a longer figure could not be shown exactly)."""
_TEXT = (str, type(None))


def check_numbers(value: Any, field: str, source: Path) -> None:
    """Refuse a decimal string too long to display exactly, naming its field."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            check_numbers(item, field_name(field, str(key)), source)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            check_numbers(item, field_name(field, n), source)
    elif (
        isinstance(value, str) and len(value) > MAX_NUMBER_DIGITS and _NUMBER_TEXT.fullmatch(value)
    ):
        raise InputError(
            f"the signed document cannot be shown: a number of {len(value)} characters "
            f"(at most {MAX_NUMBER_DIGITS})",
            file=str(source),
            key=field,
        )


_OBJECT = (Mapping, type(None))
_LIST = (list, type(None))


def check_report_shape(report: Mapping[str, Any], source: Path) -> None:
    """Refuse a signed report whose fields the pages read have another type than
    `build_report` writes (a signature proves who wrote it, not that it is well-formed)."""

    def need(value: Any, field: str, kinds: tuple[type, ...], expected: str) -> None:
        if not isinstance(value, kinds):
            raise InputError(
                f"the signed report cannot be shown: {shown(value)} where {expected} is expected",
                file=str(source),
                key=field,
            )

    def each(value: Any, field: str) -> list[tuple[str, Mapping[str, Any]]]:
        need(value, field, _LIST, "a list")
        out = []
        for n, item in enumerate(value or []):
            need(item, f"{field}[{n}]", (Mapping,), "an object")
            out.append((f"{field}[{n}]", item))
        return out

    def obj(value: Any, field: str) -> Mapping[str, Any]:
        need(value, field, _OBJECT, "an object")
        return value or {}

    def texts(parent: Mapping[str, Any], field: str, keys: Sequence[str]) -> None:
        for key in keys:
            need(parent.get(key), f"{field}.{key}", _TEXT, "a decimal string")

    verdict = obj(report.get("verdict"), "verdict")
    each(verdict.get("breaches"), "verdict.breaches")
    totals = obj(report.get("totals"), "totals")
    obj(totals.get("value_by_class"), "totals.value_by_class")
    texts(totals, "totals", ["cold_share"])
    obj(report.get("settings"), "settings")
    combined = obj(report.get("combined"), "combined")
    texts(
        combined,
        "combined",
        ["ratio", "threshold", "capped_holdings_value", "eligible_reserve", "liabilities_value"],
    )
    for field, asset in each(report.get("assets"), "assets"):
        obj(asset.get("by_class"), f"{field}.by_class")
        texts(asset, field, ["coverage_ratio", "threshold", "cold_share"])
    reserve = report.get("reserve")
    if isinstance(reserve, Mapping):
        obj(reserve.get("pack"), "reserve.pack")
        required = obj(reserve.get("required"), "reserve.required")
        texts(required, "reserve.required", ["amount"])
        eligible = obj(reserve.get("eligible"), "reserve.eligible")
        texts(eligible, "reserve.eligible", ["total"])
        need(eligible.get("components"), "reserve.eligible.components", _LIST, "a list")
        for n, component in enumerate(eligible.get("components") or []):
            if isinstance(component, Mapping):
                field = f"reserve.eligible.components[{n}]"
                need(component.get("gates"), f"{field}.gates", _LIST, "a list")
        need(reserve.get("checks"), "reserve.checks", _LIST, "a list")
    for field, wallet in each(report.get("wallets"), "wallets"):
        obj(wallet.get("ownership"), f"{field}.ownership")
        obj(wallet.get("balances"), f"{field}.balances")
    statement = obj(report.get("statement"), "statement")
    for key in ("proves", "does_not_prove"):
        field = f"statement.{key}"
        need(statement.get(key), field, _LIST, "a list of strings")
        for n, line in enumerate(statement.get(key) or []):
            need(line, f"{field}[{n}]", (str,), "a string")
