"""The files of `por insolvency payouts`: the plan directory and the paid file, read and checked.

Where it sits: between the CLI (verifier/cli/insolvency.py) and the pure reconciliation
(verifier/insolvency/payouts.py). It reads P/plan.json (its id must recompute), P's
``distributions.csv`` (its SHA-256 must be the one plan.json binds, so the amounts due are
the plan's) and the paid file, then reconciles. The assets paid and their decimals are the
distribution tree's (plan.json ``distribution.root.assets``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from verifier.base import safejson
from verifier.base.errors import InputError, InvalidProof
from verifier.insolvency.payouts import (
    PayoutResult,
    read_distributions,
    read_paid,
    reconcile,
    sha256_hex,
)
from verifier.insolvency.verify import compute_plan_id, load_plan

DISTRIBUTIONS = "distributions.csv"


def distribution_assets(plan: dict[str, Any], source: str) -> dict[str, int]:
    """code -> decimals of what the plan pays (the distribution tree's assets)."""
    try:
        assets = plan["distribution"]["root"]["assets"]
        found = {str(a["code"]): int(a["decimals"]) for a in assets}
    except (KeyError, TypeError, ValueError):
        raise InputError(
            "the plan has no distribution.root.assets list of {code, decimals}",
            file=source,
            key="distribution.root.assets",
        ) from None
    if not found:
        raise InputError("the plan pays no asset", file=source, key="distribution.root.assets")
    return found


def reconcile_files(plan_dir: Path, paid_file: Path) -> tuple[PayoutResult, str | None]:
    """The reconciliation of `paid_file` against the plan in `plan_dir`, and the exchange."""
    plan_path = plan_dir / "plan.json"
    plan = load_plan(plan_path)
    if compute_plan_id(plan) != plan.get("plan_id"):
        raise InvalidProof(
            "plan_id",
            f"{plan_path}: the plan's id does not recompute from its content (changed since "
            "it was made)",
        )
    assets = distribution_assets(plan, str(plan_path))
    dist_path = plan_dir / DISTRIBUTIONS
    data = safejson.read_input(dist_path, what="distributions file")
    bound = (
        (plan.get("files") or {}).get(DISTRIBUTIONS)
        if isinstance(plan.get("files"), dict)
        else None
    )
    if bound is None:
        raise InputError(
            f"the plan binds no {DISTRIBUTIONS} (files.{DISTRIBUTIONS})", file=str(plan_path)
        )
    if sha256_hex(data) != str(bound).removeprefix("sha256:"):
        raise InvalidProof(
            "distributions",
            f"{dist_path} is not the file the plan binds (SHA-256 {sha256_hex(data)}, the plan "
            f"states {bound})",
        )
    due = read_distributions(data, str(dist_path), assets)
    paid_bytes = safejson.read_input(paid_file, what="paid file")
    payments = read_paid(paid_bytes, str(paid_file), assets)
    result = reconcile(str(plan["plan_id"]), sha256_hex(paid_bytes), assets, due, payments)
    exchange = plan.get("exchange")
    return result, exchange if isinstance(exchange, str) else None


__all__ = ["DISTRIBUTIONS", "distribution_assets", "reconcile_files"]
