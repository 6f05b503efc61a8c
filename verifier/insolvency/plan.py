"""`por insolvency plan`: from the claims register and the estate to the distribution plan.

Where it sits: after the claims (verifier/insolvency/claims_files.py writes D) and before a
customer's check (verify.py) and the payouts. In: the claims directory D (claims.json
checked by `read_claims`; the claims tree D/tree read leaf by leaf) and the estate file
(estate.py). The rule is rules.py's; the document is plan_doc.py's. Out: the plan
directory P, written under a temporary name and renamed into place when complete:

    plan.json                the public plan (por-plan-v1), plan_id = SHA-256 of its JCS
    tree/                    the distribution tree (por-mst-v1, split 1, a NEW secret 0600)
    distributions.csv        PRIVATE (0600): account_id, asset, claim_units, distribution_units
    distributions.parquet    the same rows

Invariants:
  1. Every claim is read from the claims tree's leaf level, and that level is hashed up
     to the root again here: the plan shares out exactly what the published claims root
     commits to, and each customer's leaf hash (the remainder order's tie-break) is the
     one their claim proof shows.
  2. The claims tree has one leaf per customer (split 1), or exit 3.
  3. Nothing secret (either tree's secret, account ids) reaches plan.json or a message.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from attestations.build import Liabilities, build_tree
from attestations.encoding import HASH_LEN, MAX_SUM, AssetSpec
from attestations.levels import parent_level, split_sums
from attestations.store import TreeStore
from verifier.base.errors import InputError, InvalidProof
from verifier.base.outdir import guard_output
from verifier.insolvency.claims_files import Claims, read_claims
from verifier.insolvency.estate import Estate, read_estate
from verifier.insolvency.plan_doc import (
    PLAN_JSON,
    distribution_assets,
    distribution_table,
    plan_document,
    write_exports,
    write_plan,
)
from verifier.insolvency.rules import DistributionPlan, PoolAsset, minor_per_unit, plan_distribution

Progress = Callable[[str, int, int], None]


def no_progress(phase: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class ClaimLeaves:
    """The claims tree read leaf by leaf, in the tree's account-row order."""

    assets: tuple[AssetSpec, ...]
    account_ids: pa.Array
    leaf_hashes: list[str]
    columns: list[list[int]]
    """Per asset, each customer's claim in base units."""


@dataclass(frozen=True)
class PlanResult:
    doc: dict[str, Any]
    out_dir: Path
    plan: DistributionPlan


def _rehash_to_root(level: np.ndarray[Any, Any], store: TreeStore) -> None:
    """Hash the leaf level up to the root; it must be the root the claims publish."""
    assets = len(store.meta.assets)
    for _ in range(store.meta.height):
        level = parent_level(level, assets)
    root = store.root.root
    if level.shape[0] != 1 or bytes(level[0, :HASH_LEN]) != root.hash:
        raise InvalidProof(
            "claims tree", f"{store.dir / 'tree'}: the leaf level does not hash to root.json"
        )


def _column(hi: np.ndarray[Any, Any], lo: np.ndarray[Any, Any]) -> list[int]:
    """Python integers from (hi, lo) 64-bit halves (the common case, hi = 0, at numpy speed)."""
    if not hi.any():
        return [int(v) for v in lo.tolist()]
    return [(h << 64) | low for h, low in zip(hi.tolist(), lo.tolist(), strict=True)]


def read_claim_leaves(claims: Claims, progress: Progress = no_progress) -> ClaimLeaves:
    """Every customer's leaf hash and claims from D/tree (invariants 1 and 2)."""
    tree_dir = claims.directory / "tree"
    with TreeStore(tree_dir) as store:
        if store.meta.split != 1:
            raise InputError(
                "the claims tree splits accounts into several leaves: the remainder rule "
                "needs one leaf per customer (build the claims with split 1)",
                file=str(tree_dir / "tree" / "meta.json"),
                key="split",
                value=str(store.meta.split),
            )
        if store.root.commitment != claims.root.commitment:
            raise InvalidProof("claims tree", f"{tree_dir}: not the tree claims.json names")
        progress("read claims", 0, 1)
        levels, by_row = store._bulk_views()  # the store's checked index (every row once)
        leaves = np.asarray(levels[0])
        _rehash_to_root(leaves, store)
        records = leaves[by_row[:, 0]]
        text = np.ascontiguousarray(records[:, :HASH_LEN]).tobytes().hex()
        step = 2 * HASH_LEN
        leaf_hashes = [text[i : i + step] for i in range(0, len(text), step)]
        hi, lo = split_sums(records, len(store.meta.assets))
        columns = [_column(hi[:, a], lo[:, a]) for a in range(len(store.meta.assets))]
        account_ids = store.account_ids()
        progress("read claims", 1, 1)
        return ClaimLeaves(store.meta.assets, account_ids, leaf_hashes, columns)


def _check_counts(claims: Claims, leaves: ClaimLeaves) -> None:
    """claims.json's customer counts must be the claims tree's: one leaf per customer, and
    per asset the leaves with a non-zero claim (an edited count is refused)."""
    path = str(claims.directory / "claims.json")
    if claims.doc.customers != len(leaves.leaf_hashes):
        raise InvalidProof(
            "customers",
            f"{path}: 'customers' is {claims.doc.customers}, the claims tree has "
            f"{len(leaves.leaf_hashes)} leaves",
        )
    for i, (entry, column) in enumerate(zip(claims.doc.assets, leaves.columns, strict=True)):
        held = sum(1 for x in column if x)
        if entry.customers != held:
            raise InvalidProof(
                "customers",
                f"{path}: assets[{i}].customers of {entry.code} is {entry.customers}, the claims "
                f"tree has {held} customers with a claim in it",
            )


def _check_prices(leaves: ClaimLeaves, estate: Estate) -> None:
    """fiat and mixed value every claimed asset: a price of 0 would value a claim at nothing
    and pay its customers nothing from the pool, so it is refused (docs/insolvency.md)."""
    if estate.policy == "in-kind":
        return
    for asset, column in zip(leaves.assets, leaves.columns, strict=True):
        if estate.prices.get(asset.code) == 0 and any(column):
            raise InputError(
                f"a price of 0 for {asset.code}, which customers claim: policy {estate.policy} "
                "would value their claims at nothing",
                file=estate.path,
                key=f"valuation.prices.{asset.code}",
                value="0",
            )


def compute_plan(leaves: ClaimLeaves, estate: Estate) -> DistributionPlan:
    """The rule applied to the claims and the estate (pure past this point)."""
    decimals = estate.currency_decimals
    pool = []
    for asset in leaves.assets:
        price = estate.prices.get(asset.code)
        rate: Fraction | None = None
        if price is not None and decimals is not None:
            rate = minor_per_unit(price, asset.decimals, decimals)
        pool.append(PoolAsset(asset.code, asset.decimals, estate.available[asset.code], rate))
    return plan_distribution(
        leaves.leaf_hashes,
        leaves.columns,
        pool,
        policy=estate.policy,
        sell_surplus=estate.sell_surplus,
        cash=sum(estate.cash.values()),
        deductions=estate.deductions_total,
    )


def _balances(
    columns: list[list[int]], specs: tuple[AssetSpec, ...], estate: Estate
) -> np.ndarray[Any, Any]:
    """Shape (accounts, assets, 2) '>u8' (hi, lo) halves, as Liabilities holds them."""
    count = len(columns[0]) if columns else 0
    out = np.zeros((count, len(columns), 2), dtype=">u8")
    for a, column in enumerate(columns):
        top = max(column, default=0)
        if top >= MAX_SUM or sum(column) >= MAX_SUM:
            raise InputError(
                f"the distribution of {specs[a].code} reaches 2**128 base units (a por-mst-v1 "
                "tree cannot hold it): the valuation's prices and decimals are too large",
                file=estate.path,
                key="valuation" if specs[a].code == estate.currency else f"assets.{specs[a].code}",
            )
        if top < 1 << 64:  # the common case at numpy speed
            out[:, a, 1] = np.array(column, dtype=np.uint64)
            continue
        out[:, a, 0] = [v >> 64 for v in column]
        out[:, a, 1] = [v & 0xFFFFFFFFFFFFFFFF for v in column]
    return out


def _install(tmp: Path, out_dir: Path) -> None:
    """Rename the finished `tmp` into place; an old `out_dir` is removed only after."""
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}") if out_dir.exists() else None
    if old is not None:
        out_dir.rename(old)
    try:
        tmp.rename(out_dir)
    except BaseException:
        if old is not None:
            old.rename(out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _check_out(out_dir: Path, claims_dir: Path, estate_path: Path, force: bool) -> None:
    guard_output(
        out_dir, [("claims directory", claims_dir), ("estate file", estate_path)], flag="--out"
    )
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("output path exists and is not a directory", file=str(out_dir))
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise InputError(
            "output directory exists and is not empty (use --force to replace it)",
            file=str(out_dir),
        )


def make_plan(
    claims_dir: Path,
    estate_path: Path,
    out_dir: Path,
    *,
    policy: str | None = None,
    attestation_id: str | None = None,
    force: bool = False,
    progress: Progress = no_progress,
) -> PlanResult:
    """Read D and the estate, compute the plan, write P atomically; return plan.json's doc."""
    _check_out(out_dir, claims_dir, estate_path, force)
    claims = read_claims(claims_dir)
    leaves = read_claim_leaves(claims, progress)
    _check_counts(claims, leaves)
    estate = read_estate(estate_path, leaves.assets, policy)
    _check_prices(leaves, estate)
    plan = compute_plan(leaves, estate)
    dist_id = attestation_id or f"{claims.doc.attestation_id}/distribution"
    specs, columns = distribution_assets(plan, estate)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        os.chmod(tmp, 0o700)
        built = build_tree(
            Liabilities(specs, leaves.account_ids, _balances(columns, specs, estate)),
            tmp / "tree",
            attestation_id=dist_id,
            as_of=claims.doc.as_of,
            split=1,
            progress=progress,
        )
        progress("write exports", 0, 1)
        files = write_exports(
            distribution_table(leaves.account_ids, leaves.columns, plan, estate), tmp
        )
        progress("write exports", 1, 1)
        doc = plan_document(claims, estate, plan, built.root, files)
        write_plan(doc, tmp / PLAN_JSON)
        _install(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return PlanResult(doc, out_dir, plan)
