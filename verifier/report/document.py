"""The coverage report document: a reconciliation as one ``por-report-v1`` JSON document.

Where it sits: the last step of the flow. `build_report` turns a
`verifier.reconcile.result.Reconciliation` (plus the hashes of the inputs and the time, which
the caller supplies: this module reads no clock and no file) into the report document
that docs/report.md specifies field by field. Its readers read only the document, so a
saved report renders exactly as a fresh one: verifier/report/terminal.py draws it with
rich tables, verifier/report/html.py as one HTML file; verifier/report/claims.py writes
its statement of what the check proves.

Invariants: amounts are decimal strings, base units integer strings, never floats; every
figure in the document comes from the reconciliation unchanged; every report carries the
statement of what the check proves and what it does not (DESIGN.md, "Coverage";
RULES.md: the PCAOB and SEC warnings that a proof of reserves is not an audit).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from decimal import Decimal, localcontext
from typing import Any

from verifier.base.errors import InputError
from verifier.reconcile.numbers import EXACT, dec_str, units_json
from verifier.reconcile.result import AssetCoverage, Reconciliation
from verifier.report.claims import statement

REPORT_FORMAT = "por-report-v1"
COMBINED_FORMULA = (
    "(sum over assets of min(holdings, liabilities) x price + eligible reserve)"
    " / (sum over assets of liabilities x price)"
)
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _amount(a: AssetCoverage, units: int) -> dict[str, str | None]:
    value = a.value(units)
    return {**units_json(units, a.decimals), "value": None if value is None else dec_str(value)}


def _ratio(value: Decimal | None) -> str | None:
    return None if value is None else dec_str(value)


def _asset(a: AssetCoverage) -> dict[str, Any]:
    return {
        "code": a.code,
        "decimals": a.decimals,
        "price": None if a.price is None else dec_str(a.price.value),
        "liabilities": _amount(a, a.liabilities),
        "holdings": _amount(a, a.holdings),
        "by_class": {
            "cold": _amount(a, a.cold),
            "hot": _amount(a, a.hot),
            "other": _amount(a, a.other),
        },
        "custodial": _amount(a, a.custodial),
        "custodial_counted": a.counted_custodial,
        "unproven": _amount(a, a.unproven),
        "own_buffer": _amount(a, a.own_buffer),
        "own_other": _amount(a, a.own_other),
        "coverage_ratio": _ratio(a.ratio),
        "coverage_note": "no liabilities" if a.liabilities == 0 else None,
        "threshold": dec_str(a.threshold),
        "covered": a.covered,
        "shortfall": _amount(a, a.shortfall),
        "surplus": _amount(a, a.surplus),
        "cold_share": _ratio(a.cold_share),
    }


def _totals(rec: Reconciliation) -> dict[str, Any]:
    by_class = rec.value_by_class()
    owed = Decimal(0)
    held = Decimal(0)
    buffer = Decimal(0)
    with localcontext(EXACT):
        for a in rec.assets:
            owed += a.value(a.liabilities) or Decimal(0)
            held += a.value(a.holdings) or Decimal(0)
            buffer += a.value(a.own_buffer) or Decimal(0)
    return {
        "liabilities_value": dec_str(owed),
        "holdings_value": dec_str(held),
        "value_by_class": {name: dec_str(v) for name, v in by_class.items()},
        "own_buffer_value": dec_str(buffer),
        "cold_share": _ratio(rec.cold_share()),
    }


def _combined(rec: Reconciliation) -> dict[str, Any]:
    c = rec.combined
    return {
        "currency": c.currency,
        "formula": COMBINED_FORMULA,
        "liabilities_value": dec_str(c.liabilities_value),
        "capped_holdings_value": dec_str(c.capped_holdings_value),
        "eligible_reserve": dec_str(c.eligible_reserve),
        "numerator": dec_str(c.numerator),
        "ratio": _ratio(c.ratio),
        "threshold": dec_str(c.threshold),
        "met": c.met,
    }


def _rule_pack(rec: Reconciliation) -> dict[str, Any] | None:
    if rec.reserve is None:
        return None
    pack = rec.reserve.document.get("pack", {})
    return {
        "id": rec.reserve.pack_id,
        "version": rec.reserve.pack_version,
        "name": str(pack.get("name", "")),
        "currency": rec.reserve.currency,
    }


def _jsonable(value: Any) -> Any:
    """A copy of the evaluation as plain JSON (Decimal as a string, never a float)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return dec_str(value)
    if isinstance(value, float):
        raise InputError("the reserve evaluation contains a float", value=repr(value))
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def build_report(
    rec: Reconciliation,
    *,
    generated_at: str,
    input_hashes: Mapping[str, str],
    report_id: str | None = None,
) -> dict[str, Any]:
    """The ``por-report-v1`` document of a reconciliation (docs/report.md).

    Parameters
    ----------
    rec
        The result of `verifier.reconcile.coverage.reconcile`.
    generated_at
        When the report was made, ISO 8601 (the caller reads the clock).
    input_hashes
        Input name -> SHA-256, lowercase hex (``por.toml``, ``prices``, ``statement``,
        ``pack``, ``root.json``, ...).
    report_id
        An id for the report; by default ``"sha256:"`` + the SHA-256 of the document's
        canonical JSON without it, so the same inputs give the same id.

    Returns
    -------
    dict
        The report document; `json.dumps` serialises it as it is.

    Raises
    ------
    InputError
        An input hash that is not 64 lowercase hex digits.
    """
    for name, digest in input_hashes.items():
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise InputError("expected a SHA-256 in lowercase hex", key=f"input_hashes.{name}")
    decimals = rec.decimals()
    doc: dict[str, Any] = {
        "report": REPORT_FORMAT,
        "report_id": "",
        "generated_at": generated_at,
        "exchange": rec.exchange,
        "attestation": {
            "id": rec.liabilities.attestation_id,
            "as_of": rec.liabilities.as_of,
            "commitment": rec.liabilities.commitment,
        },
        "snapshot_taken_at": rec.snapshot_taken_at,
        "input_hashes": {name: input_hashes[name] for name in sorted(input_hashes)},
        "currency": rec.currency,
        "prices": {
            code: {
                "value": dec_str(price.value),
                "currency": price.currency,
                "source": price.source,
                "time": price.time,
            }
            for code, price in sorted(rec.prices.items())
        },
        "chains": [pin.to_json() for pin in rec.chains],
        "rule_pack": _rule_pack(rec),
        "settings": {
            "thresholds": rec.thresholds.to_json(),
            "count_custodial": rec.count_custodial,
            "ownership_max_age": None if rec.max_age is None else dict(rec.max_age),
            "own_buffer_rule": None
            if rec.own_buffer_rule is None
            else rec.own_buffer_rule.to_json(),
        },
        "assets": [_asset(a) for a in rec.assets],
        "totals": _totals(rec),
        "combined": _combined(rec),
        "reserve": None if rec.reserve is None else _jsonable(rec.reserve.document),
        "reserve_inputs": _jsonable(rec.reserve_inputs),
        "wallets": [h.to_json(decimals) for h in rec.holdings],
        "concentration": None if rec.concentration is None else rec.concentration.to_json(),
        "verdict": {
            "covered": rec.covered,
            "reserve_met": rec.reserve_met,
            "combined_met": rec.combined.met,
            "exit_code": rec.exit_code,
            "breaches": [b.to_json() for b in rec.breaches],
        },
        "warnings": list(rec.warnings),
        "statement": statement(rec),
    }
    doc["report_id"] = report_digest(doc) if report_id is None else report_id
    return doc


def report_digest(doc: Mapping[str, Any]) -> str:
    """The ``report_id`` of a report: SHA-256 of the document with ``report_id`` empty,
    keys sorted, no whitespace, UTF-8.

    Not attestations.document.canonical.canonical_json, though the bytes are the same for
    the demo report: a rule pack's parameter value is any TOML integer, and JCS refuses an
    integer beyond 2**53 - 1 where this encoding writes it (and JCS sorts keys by UTF-16
    code units, Python by code points). Changing it would change or refuse report ids.
    """
    unsigned = {**doc, "report_id": ""}
    canonical = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
