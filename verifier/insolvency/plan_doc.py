"""plan.json (por-plan-v1) and the private distribution exports, from a computed plan.

Where it sits: the output half of `por insolvency plan` (verifier/insolvency/plan.py calls
it after rules.py has computed the shares). It decides which assets the distribution tree
holds (every asset paid in kind, plus the currency when fiat is paid), lays out plan.json
field by field as docs/spec/por-insolvency-v1.md states it, says the rule in sentences
(`rules_text`), and writes distributions.csv / .parquet (0600). plan_id is the SHA-256 of
the document's RFC 8785 canonical JSON without plan_id (every amount is a string, so the
canonical form never meets a number beyond 2**53).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from attestations.document.canonical import canonical_json
from attestations.encoding import AssetSpec
from attestations.proofs import RootDocument
from verifier.base.errors import InputError
from verifier.insolvency import consistency
from verifier.insolvency.claims_files import Claims, sha256_file
from verifier.insolvency.consistency import ratio_of
from verifier.insolvency.estate import Estate
from verifier.insolvency.rules import REMAINDER_RULE, Allocation, DistributionPlan

PLAN_FORMAT = "por-plan-v1"
PLAN_JSON = "plan.json"
EXPORT_CSV = "distributions.csv"
EXPORT_PARQUET = "distributions.parquet"
UNITS_TYPE = pa.decimal256(39, 0)
"""Exact integers below 2**128 in Parquet."""
EXPORT_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("asset", pa.string()),
        ("claim_units", UNITS_TYPE),
        ("distribution_units", UNITS_TYPE),
    ]
)


def distribution_assets(
    plan: DistributionPlan, estate: Estate
) -> tuple[tuple[AssetSpec, ...], list[list[int]]]:
    """The distribution tree's assets (sorted by code) and each one's column of shares."""
    pairs: list[tuple[AssetSpec, list[int]]] = [
        (AssetSpec(a.code, a.decimals), list(a.allocation.shares)) for a in plan.assets if a.in_kind
    ]
    if plan.fiat is not None:
        assert estate.currency is not None and estate.currency_decimals is not None
        if any(spec.code == estate.currency for spec, _ in pairs):
            raise InputError(
                "the currency has the code of an asset: the distribution tree needs them apart",
                file=estate.path,
                key="valuation.currency",
                value=estate.currency,
            )
        fiat = AssetSpec(estate.currency, estate.currency_decimals)
        pairs.append((fiat, list(plan.fiat.allocation.shares)))
    pairs.sort(key=lambda pair: pair[0].code.encode())
    return tuple(spec for spec, _ in pairs), [column for _, column in pairs]


def _units(values: list[int]) -> pa.Array:
    """Exact decimal(39, 0) from Python integers (through int64 when they fit, else text)."""
    if max(values, default=0) < 1 << 63:
        return pa.array(values, pa.int64()).cast(UNITS_TYPE)
    return pa.array([str(v) for v in values]).cast(UNITS_TYPE)


def distribution_table(
    account_ids: pa.Array, columns: list[list[int]], plan: DistributionPlan, estate: Estate
) -> pa.Table:
    """One row per (account, asset) with a claim or a distribution, sorted by account, asset."""
    parts = []
    ids = account_ids.cast(pa.string())
    pools: list[tuple[str, list[int], tuple[int, ...]]] = [
        (a.code, column, a.allocation.shares)
        for a, column in zip(plan.assets, columns, strict=True)
    ]
    if plan.fiat is not None:
        pools.append((str(estate.currency), list(plan.fiat.claims), plan.fiat.allocation.shares))
    for code, claim, shares in pools:
        keep = [i for i, (x, d) in enumerate(zip(claim, shares, strict=True)) if x or d]
        if not keep:
            continue
        parts.append(
            pa.table(
                {
                    "account_id": ids.take(pa.array(keep, pa.int64())),
                    "asset": pa.array([code] * len(keep), pa.string()),
                    "claim_units": _units([claim[i] for i in keep]),
                    "distribution_units": _units([shares[i] for i in keep]),
                },
                schema=EXPORT_SCHEMA,
            )
        )
    table = pa.concat_tables(parts) if parts else EXPORT_SCHEMA.empty_table()
    return table.sort_by([("account_id", "ascending"), ("asset", "ascending")])


def write_exports(table: pa.Table, directory: Path) -> dict[str, str]:
    """distributions.csv and .parquet, created 0600 before a byte is written; {name: sha256}."""
    paths = [directory / EXPORT_CSV, directory / EXPORT_PARQUET]
    for path in paths:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    pa_csv.write_csv(table, str(paths[0]))
    pq.write_table(table, str(paths[1]))
    return {path.name: sha256_file(path) for path in paths}


# ----------------------------------------------------------------------------- plan.json


def _ratio(distributable: int, total: int) -> dict[str, str] | None:
    """D/T exactly ("n/d", lowest terms) and as a percentage floored to 2 decimals."""
    return ratio_of(distributable, total)


def _remainder(allocation: Allocation) -> dict[str, Any]:
    cutoff = allocation.cutoff
    return {
        "rule": REMAINDER_RULE,
        "units": str(allocation.remainder_units),
        "cutoff": None
        if cutoff is None
        else {"remainder": str(cutoff.remainder), "leaf_hash": cutoff.leaf_hash},
    }


def _assets(plan: DistributionPlan) -> list[dict[str, Any]]:
    out = []
    for a in plan.assets:
        alloc = a.allocation
        out.append(
            {
                "code": a.code,
                "decimals": a.decimals,
                "total_claims": str(alloc.total),
                "available": str(alloc.distributable + a.surplus),
                "distributable": str(alloc.distributable),
                "ratio": _ratio(alloc.distributable, alloc.total),
                "in_kind": a.in_kind,
                "remainder": _remainder(alloc),
                "distributed_total": str(sum(alloc.shares)),
                "surplus": str(a.surplus),
                "sold_value": str(a.sold_value),
            }
        )
    return out


def _fiat(plan: DistributionPlan, estate: Estate) -> dict[str, Any] | None:
    fiat = plan.fiat
    if fiat is None:
        return None
    alloc = fiat.allocation
    return {
        "currency": estate.currency,
        "decimals": estate.currency_decimals,
        "basis": fiat.basis,
        "cash": str(fiat.cash),
        "sold": str(fiat.sold),
        "deductions": str(fiat.deductions),
        "pool": str(fiat.pool),
        "claims_value": str(alloc.total),
        "distributable": str(alloc.distributable),
        "ratio": _ratio(alloc.distributable, alloc.total),
        "remainder": _remainder(alloc),
        "distributed_total": str(sum(alloc.shares)),
    }


def _estate(estate: Estate) -> dict[str, Any]:
    return {
        "file": Path(estate.path).name,
        "sha256": estate.sha256,
        "policy": estate.policy,
        "sell_surplus": estate.sell_surplus,
        "assets": {
            code: {
                "on_chain": str(estate.on_chain[code]),
                "recovered": str(estate.recovered[code]),
                "available": str(estate.available[code]),
            }
            for code in estate.available
        },
        "fiat": {name: str(units) for name, units in estate.cash.items()},
        "deductions": estate.deductions,
        "deductions_total": str(estate.deductions_total),
        "sources": estate.sources,
    }


def rules_text(plan: DistributionPlan, estate: Estate) -> list[str]:
    """The rule of this plan in plain sentences (consistency.rules_text: verify regenerates
    it from the plan and compares)."""
    return consistency.rules_text(
        plan.policy, plan.sell_surplus, estate.currency, estate.currency_decimals
    )


def plan_document(
    claims: Claims,
    estate: Estate,
    plan: DistributionPlan,
    root: RootDocument,
    files: dict[str, str],
) -> dict[str, Any]:
    """plan.json's document, plan_id included."""
    totals = dict(zip((a.code for a in root.assets), root.root.sums, strict=True))
    doc: dict[str, Any] = {
        "plan": PLAN_FORMAT,
        "exchange": estate.exchange or claims.doc.exchange,
        "policy": plan.policy,
        "sell_surplus": plan.sell_surplus,
        "claims": {
            "attestation_id": claims.doc.attestation_id,
            "commitment": claims.root.commitment.hex(),
            "as_of": claims.doc.as_of,
            "customers": claims.doc.customers,
            "totals": {code: str(units) for code, units in claims.totals.items()},
            "root": claims.doc.root,
            "sha256": claims.sha256,
        },
        "valuation": None
        if estate.currency is None
        else {
            "date": estate.valuation_date,
            "currency": estate.currency,
            "currency_decimals": estate.currency_decimals,
            "prices": {code: format(p, "f") for code, p in sorted(estate.prices.items())},
        },
        "estate": _estate(estate),
        "assets": _assets(plan),
        "fiat": _fiat(plan, estate),
        "distribution": {
            "attestation_id": root.attestation_id,
            "root": root.to_json(),
            "totals": {code: str(units) for code, units in totals.items()},
        },
        "rules_text": rules_text(plan, estate),
        "files": files,
    }
    return {
        "plan": PLAN_FORMAT,
        "plan_id": plan_id(doc),
        **{k: v for k, v in doc.items() if k != "plan"},
    }


def plan_id(doc: dict[str, Any]) -> str:
    """``sha256:`` + hex SHA-256 of the canonical JSON of `doc` without its plan_id."""
    body = {k: v for k, v in doc.items() if k != "plan_id"}
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()


def write_plan(doc: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.chmod(path, 0o644)
