"""A customer's check of their distribution: the proof bundle, made and verified offline.

Where it sits: after the plan (verifier/insolvency/plan.py). `make_bundle` cuts one
customer's claim proof from the claims tree (D/tree) and their distribution proof from the
distribution tree (P/tree) into one por-insolvency-proof-v1 bundle (`por insolvency proof`);
`verify_bundle` checks a bundle against the published plan.json (`por insolvency verify`),
the same checks the site's page runs in the browser (verifier/site/assets/insolvency.js).
The rule itself is verifier/insolvency/rules.py's: this module only applies it.

Every check runs and is reported by name (`CHECKS`); the bundle is valid when all pass:

  bundle               a por-insolvency-proof-v1 bundle naming this plan's id
  plan_id              the plan's id recomputes (SHA-256 of its canonical JSON, RFC 8785)
  claim proof          the claim proof verifies (por-mst-v1) to the plan's claims commitment
  claim leaf           the claim is one leaf (split 1): its leaf hash orders the remainder
  claims totals        the claims tree's root sums equal the plan's claim totals per asset
  plan figures         the plan's figures agree: per asset D = min(available, T) (0 when
                       sold), distributed total = D, surplus = available - D, ratio = D/T;
                       the fiat pool = cash + sold - deductions, its D = min(pool, claims)
  plan consistency     every other figure the plan derives recomputes from its own inputs
                       (consistency.py): the claims root it carries, the estate, the policy,
                       the prices, the distribution root's columns and sums, the rule's text
  distribution proof   the distribution proof verifies to the plan's distribution root
  distribution rule    per asset, the distribution is the rule applied to the claim with the
                       plan's D, T and cutoff (fiat: the claim's value at the plan's prices)
  distribution totals  the distribution tree's root sums equal the plan's totals and each
                       pool's distributed total, for every column (in kind and the currency)
  account              both proofs carry the same account id

plan.json is read by plan_schema.py first (every key, type and bound: exit 3 naming the
key); amounts are shown in whole units with the decimals of the proofs' root documents
(bound by their commitments), never the plan's. Pure apart from `make_bundle` and the
loaders, which read files; nothing is written here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from attestations.document.canonical import canonical_json
from attestations.encoding import account_hash, leaf_hash
from attestations.proofs import (
    InclusionProof,
    VerifiedProof,
    format_units,
    parse_proof,
    parse_root_document,
    verify_proof,
)
from attestations.store import TreeStore
from verifier.base import safejson
from verifier.base.errors import InputError, InvalidProof, PorError, UsageError
from verifier.insolvency import consistency, rules
from verifier.insolvency.plan_schema import PlanFile, Remainder, read_plan

BUNDLE_FORMAT = "por-insolvency-proof-v1"
PLAN_FORMAT = "por-plan-v1"
BUNDLE_KEYS = frozenset({"insolvency_proof", "plan_id", "claim", "distribution"})
CHECKS = (
    "bundle",
    "plan_id",
    "claim proof",
    "claim leaf",
    "claims totals",
    "plan figures",
    "plan consistency",
    "distribution proof",
    "distribution rule",
    "distribution totals",
    "account",
)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(slots=True)
class Verification:
    """Every check of one bundle, and the figures a customer reads."""

    checks: list[Check] = field(default_factory=list)
    account_id: str | None = None
    claim: dict[str, int] = field(default_factory=dict)
    distribution: dict[str, int] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)
    decimals: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]

    @property
    def valid(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "por-insolvency-verification-v1",
            "valid": self.valid,
            "failed": self.failed,
            "account_id": self.account_id,
            "claim": {k: str(v) for k, v in sorted(self.claim.items())},
            "distribution": {k: str(v) for k, v in sorted(self.distribution.items())},
            "decimals": dict(sorted(self.decimals.items())),
            "checks": [c.to_json() for c in self.checks],
        }


# ----------------------------------------------------------------------------- the plan


def compute_plan_id(plan: Mapping[str, Any]) -> str:
    """``sha256:`` + hex SHA-256 of the plan's canonical JSON without its ``plan_id``."""
    body = {k: v for k, v in plan.items() if k != "plan_id"}
    try:
        data = canonical_json(body)
    except InvalidProof as exc:
        raise InvalidProof("plan_id", f"the plan cannot be hashed: {exc.message}") from None
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class AssetFigures:
    """One asset of the plan, as the rule needs it."""

    code: str
    decimals: int
    total: int
    available: int
    distributable: int
    distributed: int
    in_kind: bool
    cutoff: rules.Cutoff | None


def _cutoff(remainder: Remainder) -> rules.Cutoff | None:
    c = remainder.cutoff
    return None if c is None else rules.Cutoff(int(c.remainder), c.leaf_hash)


def checked(plan: Mapping[str, Any] | PlanFile) -> PlanFile:
    """The plan read by its schema (`InputError` naming the key for a malformed one)."""
    return plan if isinstance(plan, PlanFile) else read_plan(plan)


def plan_figures(plan: Mapping[str, Any] | PlanFile) -> dict[str, AssetFigures]:
    """The per-asset figures of a plan; `InputError` naming the key for a malformed one."""
    doc = checked(plan)
    out: dict[str, AssetFigures] = {}
    for i, a in enumerate(doc.assets):
        if a.code in out:
            raise InputError("asset listed twice", key=f"assets[{i}].code", value=a.code)
        out[a.code] = AssetFigures(
            code=a.code,
            decimals=a.decimals,
            total=int(a.total_claims),
            available=int(a.available),
            distributable=int(a.distributable),
            distributed=int(a.distributed_total),
            in_kind=a.in_kind,
            cutoff=_cutoff(a.remainder),
        )
    return out


def load_plan(path: Path) -> dict[str, Any]:
    """plan.json, read strictly (duplicate keys, floats refused) and checked key by key
    (plan_schema.py: types and bounds); exit 3 naming the file and the key."""
    plan = safejson.load_path(path, what="plan", strict_keys=True)
    if not isinstance(plan, dict):
        raise InputError("the plan is not a JSON object", file=str(path))
    try:
        plan_figures(plan)
    except InputError as exc:
        raise in_file(exc, path) from None
    return plan


def in_file(exc: InputError, path: Path | str) -> InputError:
    """`exc` (which names the key) naming the file too."""
    named = InputError(exc.message, file=str(path))
    named.key = exc.key
    return named


def plan_alone_problems(plan: Mapping[str, Any]) -> list[str]:
    """What is wrong with a plan on its own (no bundle): its id, its figures, its
    consistency. `por publish --plan` and `por insolvency payouts` refuse a plan with any."""
    doc = checked(plan)
    out = []
    if compute_plan_id(plan) != doc.plan_id:
        out.append("plan_id: the plan's id does not recompute from its content")
    return out + consistency.plan_problems(doc)


# ----------------------------------------------------------------------------- the bundle


def make_bundle(plan_path: Path, claims_dir: Path, account_id: str) -> dict[str, Any]:
    """One customer's bundle: their claim proof (D/tree) and distribution proof (P/tree),
    each verified against its tree's root first, and the trees checked to be the plan's."""
    plan = checked(load_plan(plan_path))
    plan_dir = plan_path.parent
    with TreeStore(claims_dir / "tree") as store:
        if store.root.commitment.hex() != plan.claims.commitment:
            raise UsageError(
                f"--claims {claims_dir}: its claims tree (commitment "
                f"{store.root.commitment.hex()}) is not the one the plan {plan_path} names "
                f"({plan.claims.commitment})"
            )
        claim, _ = _proof_of(store, account_id, claims_dir / "tree")
    with TreeStore(plan_dir / "tree") as store:
        if store.root.commitment.hex() != plan.distribution.root.get("commitment"):
            raise InputError(
                f"the distribution tree in {plan_dir / 'tree'} is not the one plan.json names",
                file=str(plan_path),
            )
        dist, _ = _proof_of(store, account_id, plan_dir / "tree")
    return {
        "insolvency_proof": BUNDLE_FORMAT,
        "plan_id": plan.plan_id,
        "claim": claim.to_json(),
        "distribution": dist.to_json(),
    }


def _proof_of(store: TreeStore, account_id: str, tree: Path) -> Any:
    """The account's checked proof; an account the tree does not hold names the tree."""
    try:
        return store.checked_proof(account_id)
    except InputError as exc:
        raise InputError(f"{tree}: {exc.message}") from None


def _tree(data: Any, **published: Any) -> tuple[InclusionProof | None, VerifiedProof | None, str]:
    """(parsed proof, verification, detail): a proof that fails is (…, None, why)."""
    try:
        proof = parse_proof(data)
    except InvalidProof as exc:
        return None, None, f"{exc.check}: {exc.message}"
    try:
        return proof, verify_proof(proof, **published), ""
    except InvalidProof as exc:
        return proof, None, f"{exc.check}: {exc.message}"


def _amounts(v: VerifiedProof) -> dict[str, int]:
    return {a.code: n for a, n in zip(v.assets, v.balances, strict=True)}


def _shown(amounts: Mapping[str, int], decimals: Mapping[str, int]) -> str:
    """Amounts in whole units, every digit (the decimals are the proofs' own)."""
    return (
        ", ".join(
            f"{k} {format_units(v, decimals[k]) if k in decimals else v}"
            for k, v in sorted(amounts.items())
        )
        or "nothing"
    )


def expected_distribution(
    plan: Mapping[str, Any] | PlanFile, claim: Mapping[str, int], claim_leaf_hash: str
) -> dict[str, int]:
    """What the rule gives this customer, by asset of the distribution tree: in kind per
    asset; the fiat pool by the claim's value (or, for a mixed plan, by the value left
    unpaid in kind) at the plan's prices."""
    doc = checked(plan)
    figures = plan_figures(doc)
    out: dict[str, int] = {}
    in_kind: dict[str, int] = {}
    for code, f in figures.items():
        x = claim.get(code, 0)
        in_kind[code] = (
            rules.share(x, f.distributable, f.total, claim_leaf_hash, f.cutoff) if f.in_kind else 0
        )
        if f.in_kind:
            out[code] = in_kind[code]
    fiat = doc.fiat
    if fiat is not None:
        prices = {} if doc.valuation is None else doc.valuation.prices
        unpaid = {code: claim.get(code, 0) - in_kind[code] for code in figures}
        owed = [code for code in sorted(unpaid) if unpaid[code]]
        for code in owed:
            if code not in prices:
                raise InputError("no price for an asset the fiat pool values", key=code)
        rates = [
            rules.minor_per_unit(Decimal(prices[code]), figures[code].decimals, fiat.decimals)
            for code in owed
        ]
        value = rules.values([[unpaid[code]] for code in owed], rates)[0] if owed else 0
        out[fiat.currency] = rules.share(
            value,
            int(fiat.distributable),
            int(fiat.claims_value),
            claim_leaf_hash,
            _cutoff(fiat.remainder),
        )
    return out


def _check_claim_totals(
    out: Verification, plan: PlanFile, figures: Mapping[str, AssetFigures], proof: InclusionProof
) -> None:
    sums = {a.code: s for a, s in zip(proof.assets, proof.root.sums, strict=True)}
    totals = plan.claims.totals
    bad = sorted(
        code
        for code in set(figures) | set(sums) | set(totals)
        if sums.get(code) is None
        or totals.get(code) != str(sums[code])
        or code not in figures
        or figures[code].total != sums[code]
    )
    out.add(
        "claims totals",
        not bad,
        f"the claims tree's root sums equal the plan's totals ({_shown(sums, out.decimals)})"
        if not bad
        else f"differ for {', '.join(bad)}: the claims root sums {_shown(sums, out.decimals)}",
    )


def _pool_totals(plan: PlanFile) -> dict[str, int]:
    """What each column of the distribution tree must add up to: every asset paid in kind
    its distributed total, the currency the fiat pool's."""
    pools = {a.code: int(a.distributed_total) for a in plan.assets if a.in_kind}
    if plan.fiat is not None:
        pools[plan.fiat.currency] = int(plan.fiat.distributed_total)
    return pools


def _check_distribution_totals(out: Verification, plan: PlanFile, proof: InclusionProof) -> None:
    """Every column of the distribution tree (each asset in kind and the currency): its root
    sum is the plan's total and the pool's distributed total, and no column is missing or
    extra (a forged plan paying everyone half, or a phantom creditor, cannot pass)."""
    totals = plan.distribution.totals
    sums = dict(zip((a.code for a in proof.assets), proof.root.sums, strict=True))
    pools = _pool_totals(plan)
    codes = sorted(set(sums) | set(totals) | set(pools))
    bad = [
        c
        for c in codes
        if sums.get(c) is None or totals.get(c) != str(sums[c]) or pools.get(c) != sums[c]
    ]
    out.add(
        "distribution totals",
        not bad,
        f"the distribution tree's root sums equal the plan's totals and distributed totals "
        f"({_shown(sums, out.decimals)})"
        if not bad
        else f"differ for {', '.join(bad)}: the distribution root sums "
        f"{_shown(sums, out.decimals)}, the pools distribute {_shown(pools, out.decimals)}",
    )


def _check_rule(
    out: Verification, plan: PlanFile, claim: InclusionProof, dist: VerifiedProof
) -> None:
    """The customer's distribution, per column, is the rule applied to their claim."""
    leaf = claim.leaves[0]
    own_hash = leaf_hash(leaf.salt, account_hash(claim.account_id), leaf.balances).hex()
    out.distribution = _amounts(dist)
    try:
        out.expected = expected_distribution(plan, out.claim, own_hash)
    except InputError as exc:  # e.g. no price for an asset the pool values
        out.add("distribution rule", False, f"the rule cannot be applied: {exc.message}")
        return
    codes = sorted(set(out.expected) | set(out.distribution))
    wrong = [c for c in codes if out.expected.get(c, 0) != out.distribution.get(c, 0)]
    out.add(
        "distribution rule",
        not wrong,
        f"the rule applied to the claim gives {_shown(out.expected, out.decimals)}"
        if not wrong
        else f"for {', '.join(wrong)} the rule gives {_shown(out.expected, out.decimals)}, "
        f"the distribution holds {_shown(out.distribution, out.decimals)}",
    )


def _problems_check(out: Verification, name: str, problems: list[str], passed: str) -> None:
    out.add(name, not problems, passed if not problems else "; ".join(problems))


# Long on purpose: every check in order, each recorded whatever the others found (the same
# order as insolvency.js, so a reader can hold the two side by side).
def verify_bundle(bundle: Any, plan: Mapping[str, Any]) -> Verification:
    """Every check of `bundle` against `plan` (a loaded plan.json); never raises for a bad
    bundle (each failure is a failed check), `InputError` for a malformed plan."""
    out = Verification()
    doc = checked(plan)
    figures = plan_figures(doc)
    if not isinstance(bundle, Mapping) or bundle.get("insolvency_proof") != BUNDLE_FORMAT:
        out.add("bundle", False, f"not a {BUNDLE_FORMAT} bundle")
        return out
    extra = sorted(set(bundle) - BUNDLE_KEYS)
    same_plan = bundle.get("plan_id") == doc.plan_id and not extra
    out.add(
        "bundle",
        same_plan,
        f"a {BUNDLE_FORMAT} bundle for plan {doc.plan_id}"
        if same_plan
        else f"unknown keys {extra}"
        if extra
        else f"the bundle is for plan {bundle.get('plan_id')!r}, this plan is {doc.plan_id}",
    )
    recomputed = compute_plan_id(plan)
    out.add(
        "plan_id",
        recomputed == doc.plan_id,
        "recomputed from the plan's canonical JSON"
        if recomputed == doc.plan_id
        else f"the plan's canonical JSON hashes to {recomputed}, the plan states {doc.plan_id}",
    )
    commitment = doc.claims.commitment
    claim_proof, claim_v, why = _tree(
        bundle.get("claim"), published_commitment=bytes.fromhex(commitment)
    )
    out.add(
        "claim proof",
        claim_v is not None,
        f"verifies to the plan's claims commitment {commitment}" if claim_v is not None else why,
    )
    one_leaf = claim_proof is not None and len(claim_proof.leaves) == 1
    out.add(
        "claim leaf",
        one_leaf,
        "the claim is one leaf" if one_leaf else "a claim must be exactly one leaf (split 1)",
    )
    if claim_v is not None and claim_proof is not None:
        out.account_id = claim_v.account_id
        out.claim = _amounts(claim_v)
        out.decimals.update({a.code: a.decimals for a in claim_v.assets})
        _check_claim_totals(out, doc, figures, claim_proof)
    else:
        out.add("claims totals", False, "not checked: the claim proof does not verify")
    _problems_check(
        out,
        "plan figures",
        consistency.figure_problems(doc),
        "per asset: D = min(available, T) (0 when sold), distributed total = D, surplus = "
        "available - D, ratio = D/T; the fiat pool likewise",
    )
    _problems_check(
        out,
        "plan consistency",
        consistency.consistency_problems(doc),
        "every derived figure recomputes from the plan's own inputs: the claims root, the "
        "estate, the policy and prices, the distribution root's columns and sums, the rule",
    )
    try:
        published_root = parse_root_document(doc.distribution.root)
    except InvalidProof as exc:
        raise InputError(
            f"not a por-mst-v1 root document ({exc.message})", key="distribution.root"
        ) from None
    dist_proof, dist_v, why = _tree(bundle.get("distribution"), published_root=published_root)
    out.add(
        "distribution proof",
        dist_v is not None,
        f"verifies to the plan's distribution root (commitment {published_root.commitment.hex()})"
        if dist_v is not None
        else why,
    )
    if dist_v is not None:
        out.decimals.update({a.code: a.decimals for a in dist_v.assets})
    if claim_v is not None and claim_proof is not None and one_leaf and dist_v is not None:
        _check_rule(out, doc, claim_proof, dist_v)
    else:
        out.add("distribution rule", False, "not checked: a proof does not verify")
    if dist_v is not None and dist_proof is not None:
        _check_distribution_totals(out, doc, dist_proof)
    else:
        out.add("distribution totals", False, "not checked: the distribution proof does not verify")
    same = claim_v is not None and dist_v is not None and claim_v.account_id == dist_v.account_id
    out.add(
        "account",
        same,
        f"both proofs are for account {claim_v.account_id}"
        if same and claim_v is not None
        else f"the claim is for {claim_v.account_id if claim_v else None!r}, the distribution "
        f"for {dist_v.account_id if dist_v else None!r}",
    )
    return out


def verify_files(proof_path: Path, plan_path: Path) -> Verification:
    """`por insolvency verify`: read both files (exit 3 naming the file when unreadable)."""
    plan = load_plan(plan_path)
    bundle = safejson.load_path(proof_path, what="proof bundle", strict_keys=True)
    try:
        return verify_bundle(bundle, plan)
    except InputError as exc:
        raise in_file(exc, plan_path) from None


def failure(v: Verification) -> PorError:
    """The error a failed verification exits with (3), naming every failed check."""
    first = next(c for c in v.checks if not c.ok)
    names = ", ".join(v.failed)
    return InvalidProof(first.name, f"{first.detail} (failed: {names})")


__all__ = [
    "BUNDLE_FORMAT",
    "CHECKS",
    "Check",
    "Verification",
    "checked",
    "compute_plan_id",
    "expected_distribution",
    "failure",
    "in_file",
    "load_plan",
    "make_bundle",
    "plan_alone_problems",
    "plan_figures",
    "verify_bundle",
    "verify_files",
]
