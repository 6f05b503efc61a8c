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
    DistributionFile,
    PayoutResult,
    read_distribution_file,
    read_paid,
    reconcile,
    sha256_hex,
)
from verifier.insolvency.plan_schema import PlanFile
from verifier.insolvency.verify import checked, compute_plan_id, load_plan, plan_alone_problems

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
    problems = plan_alone_problems(plan)
    if problems:
        raise InvalidProof("plan consistency", f"{plan_path}: {'; '.join(problems)}")
    doc = checked(plan)
    assets = distribution_assets(plan, str(plan_path))
    dist_path = plan_dir / DISTRIBUTIONS
    data = safejson.read_input(dist_path, what="distributions file")
    bound = doc.files.get(DISTRIBUTIONS)
    if bound is None:
        raise InputError(
            f"the plan binds no {DISTRIBUTIONS} (files.{DISTRIBUTIONS})", file=str(plan_path)
        )
    if sha256_hex(data) != bound:
        raise InvalidProof(
            "distributions",
            f"{dist_path} is not the file the plan binds (SHA-256 {sha256_hex(data)}, the plan "
            f"states {bound})",
        )
    sold = [a.code for a in doc.assets if not a.in_kind]
    rows = read_distribution_file(data, str(dist_path), assets, sold)
    check_distributions(rows, doc, dist_path, plan_dir / "tree" / "root.json")
    paid_bytes = safejson.read_input(paid_file, what="paid file")
    payments = read_paid(paid_bytes, str(paid_file), assets)
    result = reconcile(doc.plan_id, sha256_hex(paid_bytes), assets, rows.due, payments)
    return result, doc.exchange


def check_distributions(
    rows: DistributionFile, plan: PlanFile, path: Path, tree_root: Path
) -> None:
    """distributions.csv must add up to the plan, per asset and the currency: the claims to
    each pool's T, the distributions to each pool's distributed total and distribution.totals
    (and to the distribution tree's root sums when P/tree/root.json is there), one customer
    per claims leaf. The sha256 binding alone let an administrator who rewrote the file and
    the binding pay from it; exit 3 naming the file and the asset."""
    claims = {a.code: int(a.total_claims) for a in plan.assets}
    paid = {a.code: int(a.distributed_total) for a in plan.assets if a.in_kind}
    if plan.fiat is not None:
        claims[plan.fiat.currency] = int(plan.fiat.claims_value)
        paid[plan.fiat.currency] = int(plan.fiat.distributed_total)
    sums = {code: int(units) for code, units in plan.distribution.totals.items()}
    if tree_root.is_file():
        root = safejson.load_path(tree_root, what="distribution tree root document")
        if root != plan.distribution.root:
            raise InvalidProof(
                "distributions", f"{tree_root} is not the distribution root plan.json names"
            )
    for code in sorted(set(claims) | set(rows.claimed) | set(rows.distributed)):
        if rows.claimed.get(code, 0) != claims.get(code):
            raise InvalidProof(
                "distributions",
                f"{path}: the claims of {code} add up to {rows.claimed.get(code, 0)}, the plan's "
                f"total is {claims.get(code)}",
            )
        wanted = paid.get(code, 0)
        if rows.distributed.get(code, 0) != wanted or sums.get(code, 0) != wanted:
            raise InvalidProof(
                "distributions",
                f"{path}: the distributions of {code} add up to {rows.distributed.get(code, 0)}, "
                f"the plan distributes {wanted} (distribution tree: {sums.get(code, 0)})",
            )
    if rows.accounts != plan.claims.customers:
        raise InvalidProof(
            "distributions",
            f"{path}: {rows.accounts} accounts, the plan has {plan.claims.customers} customers",
        )


__all__ = ["DISTRIBUTIONS", "check_distributions", "distribution_assets", "reconcile_files"]
