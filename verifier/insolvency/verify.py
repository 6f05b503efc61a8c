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
  distribution proof   the distribution proof verifies to the plan's distribution root
  distribution rule    per asset, the distribution is the rule applied to the claim with the
                       plan's D, T and cutoff (fiat: the claim's value at the plan's prices)
  distribution totals  the distribution tree's root sums equal the plan's totals per asset
  account              both proofs carry the same account id

Pure apart from `make_bundle` and the loaders, which read files; nothing is written here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from attestations.document.canonical import canonical_json
from attestations.encoding import account_hash, leaf_hash
from attestations.proofs import (
    InclusionProof,
    VerifiedProof,
    parse_proof,
    parse_root_document,
    verify_proof,
)
from attestations.store import TreeStore
from verifier.base import safejson
from verifier.base.errors import InputError, InvalidProof, PorError, UsageError
from verifier.insolvency import rules
from verifier.reconcile.numbers import floor_ratio, percent_of

BUNDLE_FORMAT = "por-insolvency-proof-v1"
PLAN_FORMAT = "por-plan-v1"
BUNDLE_KEYS = frozenset({"insolvency_proof", "plan_id", "claim", "distribution"})
_PRICE = re.compile(r"(0|[1-9][0-9]{0,39})(\.[0-9]{1,40})?")
CHECKS = (
    "bundle",
    "plan_id",
    "claim proof",
    "claim leaf",
    "claims totals",
    "plan figures",
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


def _need(obj: Any, key: str, where: str) -> Any:
    if not isinstance(obj, Mapping):
        raise InputError(f"{where} is not an object", key=where)
    if key not in obj:
        raise InputError("missing key", key=f"{where}.{key}")
    return obj[key]


def _int(value: Any, where: str) -> int:
    text = value if isinstance(value, str) else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 80:
        raise InputError("expected a non-negative integer string", key=where, value=str(value))
    return int(text)


def _cutoff(value: Any, where: str) -> rules.Cutoff | None:
    if value is None:
        return None
    remainder = _int(_need(value, "remainder", where), f"{where}.remainder")
    leaf = _need(value, "leaf_hash", where)
    if not isinstance(leaf, str) or len(leaf) != 64:
        raise InputError("expected 64 hex digits", key=f"{where}.leaf_hash", value=str(leaf))
    return rules.Cutoff(remainder=remainder, leaf_hash=leaf)


def _price(value: Any, code: str) -> Decimal:
    """A price as the plan states it: a plain decimal string, taken exactly."""
    text = value if isinstance(value, str) else ""
    if not _PRICE.fullmatch(text):
        raise InputError(
            "expected a decimal price string", key=f"valuation.prices.{code}", value=str(value)
        )
    return Decimal(text)


def plan_figures(plan: Mapping[str, Any]) -> dict[str, AssetFigures]:
    """The per-asset figures of a plan; `InputError` naming the key for a malformed one."""
    if _need(plan, "plan", "plan") != PLAN_FORMAT:
        raise InputError(f"not a {PLAN_FORMAT} document", key="plan", value=str(plan.get("plan")))
    assets = _need(plan, "assets", "plan")
    if not isinstance(assets, list):
        raise InputError("expected a list", key="assets")
    out = {}
    for i, a in enumerate(assets):
        where = f"assets[{i}]"
        code = _need(a, "code", where)
        if not isinstance(code, str):
            raise InputError("expected a string", key=f"{where}.code", value=str(code))
        if code in out:
            raise InputError("asset listed twice", key=f"{where}.code", value=code)
        remainder = _need(a, "remainder", where)
        out[code] = AssetFigures(
            code=code,
            decimals=_int(_need(a, "decimals", where), f"{where}.decimals"),
            total=_int(_need(a, "total_claims", where), f"{where}.total_claims"),
            available=_int(_need(a, "available", where), f"{where}.available"),
            distributable=_int(_need(a, "distributable", where), f"{where}.distributable"),
            distributed=_int(_need(a, "distributed_total", where), f"{where}.distributed_total"),
            in_kind=_need(a, "in_kind", where) is not False,
            cutoff=_cutoff(
                _need(remainder, "cutoff", f"{where}.remainder"), f"{where}.remainder.cutoff"
            ),
        )
    return out


def load_plan(path: Path) -> dict[str, Any]:
    """plan.json, read strictly (duplicate keys, floats refused) and shape-checked."""
    plan = safejson.load_path(path, what="plan", strict_keys=True)
    if not isinstance(plan, dict):
        raise InputError("the plan is not a JSON object", file=str(path))
    try:
        plan_figures(plan)
        for key in ("plan_id", "claims", "distribution"):
            _need(plan, key, "plan")
    except InputError as exc:
        raise InputError(exc.message, file=str(path)) from None
    return plan


# ----------------------------------------------------------------------------- the bundle


def make_bundle(plan_path: Path, claims_dir: Path, account_id: str) -> dict[str, Any]:
    """One customer's bundle: their claim proof (D/tree) and distribution proof (P/tree),
    each verified against its tree's root first, and the trees checked to be the plan's."""
    plan = load_plan(plan_path)
    plan_dir = plan_path.parent
    claims = _need(plan, "claims", "plan")
    distribution = _need(plan, "distribution", "plan")
    with TreeStore(claims_dir / "tree") as store:
        if store.root.commitment.hex() != _need(claims, "commitment", "claims"):
            raise UsageError(
                f"--claims {claims_dir}: its claims tree (commitment "
                f"{store.root.commitment.hex()}) is not the one the plan {plan_path} names "
                f"({claims.get('commitment')})"
            )
        claim, _ = store.checked_proof(account_id)
    with TreeStore(plan_dir / "tree") as store:
        root = _need(distribution, "root", "distribution")
        if store.root.commitment.hex() != (
            root.get("commitment") if isinstance(root, dict) else None
        ):
            raise InputError(
                f"the distribution tree in {plan_dir / 'tree'} is not the one plan.json names",
                file=str(plan_path),
            )
        dist, _ = store.checked_proof(account_id)
    return {
        "insolvency_proof": BUNDLE_FORMAT,
        "plan_id": plan["plan_id"],
        "claim": claim.to_json(),
        "distribution": dist.to_json(),
    }


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


def _shown(amounts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(amounts.items())) or "nothing"


def expected_distribution(
    plan: Mapping[str, Any], claim: Mapping[str, int], claim_leaf_hash: str
) -> dict[str, int]:
    """What the rule gives this customer, by asset of the distribution tree: in kind per
    asset; the fiat pool by the claim's value (or, for a mixed plan, by the value left
    unpaid in kind) at the plan's prices."""
    figures = plan_figures(plan)
    out: dict[str, int] = {}
    in_kind: dict[str, int] = {}
    for code, f in figures.items():
        x = claim.get(code, 0)
        in_kind[code] = (
            rules.share(x, f.distributable, f.total, claim_leaf_hash, f.cutoff) if f.in_kind else 0
        )
        if f.in_kind:
            out[code] = in_kind[code]
    fiat = plan.get("fiat")
    if isinstance(fiat, Mapping):
        valuation = _need(plan, "valuation", "plan")
        prices = _need(valuation, "prices", "valuation")
        currency_decimals = _int(_need(fiat, "decimals", "fiat"), "fiat.decimals")
        unpaid = {code: claim.get(code, 0) - in_kind[code] for code in figures}
        owed = [code for code in sorted(unpaid) if unpaid[code]]
        rates = [
            rules.minor_per_unit(
                _price(_need(prices, code, "valuation.prices"), code),
                figures[code].decimals,
                currency_decimals,
            )
            for code in owed
        ]
        value = rules.values([[unpaid[code]] for code in owed], rates)[0] if owed else 0
        remainder = _need(fiat, "remainder", "fiat")
        out[str(_need(fiat, "currency", "fiat"))] = rules.share(
            value,
            _int(_need(fiat, "distributable", "fiat"), "fiat.distributable"),
            _int(_need(fiat, "claims_value", "fiat"), "fiat.claims_value"),
            claim_leaf_hash,
            _cutoff(_need(remainder, "cutoff", "fiat.remainder"), "fiat.remainder.cutoff"),
        )
    return out


def _ratio_problem(where: str, ratio: Any, distributable: int, total: int) -> str | None:
    """The published recovery ratio must be D/T: exactly ("n/d" in lowest terms) and as a
    percentage floored to two decimals (null when T is 0)."""
    expected = None
    if total:
        exact = Fraction(distributable, total)
        expected = {
            "exact": f"{exact.numerator}/{exact.denominator}",
            "percent": percent_of(floor_ratio(distributable, total) or Decimal(0)),
        }
    if ratio != expected:
        return f"{where}: ratio {ratio!r} is not D/T ({expected!r})"
    return None


def _asset_problems(plan: Mapping[str, Any], figures: Mapping[str, AssetFigures]) -> list[str]:
    problems = []
    for i, (code, f) in enumerate(figures.items()):
        raw = plan["assets"][i]
        wanted = min(f.available, f.total) if f.in_kind else 0
        if f.distributable != wanted:
            problems.append(f"{code}: distributable {f.distributable} is not {wanted}")
        if f.distributed != f.distributable:
            problems.append(f"{code}: distributed total {f.distributed} is not D")
        if "surplus" in raw and str(raw["surplus"]) != str(f.available - f.distributable):
            problems.append(f"{code}: surplus {raw['surplus']!r} is not available - D")
        ratio = _ratio_problem(code, raw.get("ratio"), f.distributable, f.total)
        if ratio:
            problems.append(ratio)
    return problems


def _fiat_problems(plan: Mapping[str, Any]) -> list[str]:
    fiat = plan.get("fiat")
    if not isinstance(fiat, Mapping):
        return []
    sold = sum(_int(a.get("sold_value", "0"), "sold_value") for a in plan["assets"])
    figures = {
        k: _int(_need(fiat, k, "fiat"), f"fiat.{k}")
        for k in ("cash", "sold", "deductions", "pool", "claims_value", "distributable")
    }
    distributed = _int(_need(fiat, "distributed_total", "fiat"), "fiat.distributed_total")
    problems = []
    if figures["sold"] != sold:
        problems.append(f"fiat: sold {figures['sold']} is not the assets' sold values {sold}")
    pool = max(0, figures["cash"] + figures["sold"] - figures["deductions"])
    if figures["pool"] != pool:
        problems.append(f"fiat: pool {figures['pool']} is not cash + sold - deductions ({pool})")
    wanted = min(figures["pool"], figures["claims_value"])
    if figures["distributable"] != wanted or distributed != wanted:
        problems.append(f"fiat: distributable and distributed total must be {wanted}")
    ratio = _ratio_problem("fiat", fiat.get("ratio"), wanted, figures["claims_value"])
    if ratio:
        problems.append(ratio)
    return problems


def _check_figures(
    out: Verification, plan: Mapping[str, Any], figures: Mapping[str, AssetFigures]
) -> None:
    """The plan's own figures agree with each other (a customer sees every pool's totals)."""
    problems = _asset_problems(plan, figures) + _fiat_problems(plan)
    out.add(
        "plan figures",
        not problems,
        "per asset: D = min(available, T) (0 when sold), distributed total = D, surplus = "
        "available - D, ratio = D/T; the fiat pool likewise"
        if not problems
        else "; ".join(problems),
    )


def _check_claim_totals(
    out: Verification,
    plan: Mapping[str, Any],
    figures: Mapping[str, AssetFigures],
    proof: InclusionProof,
) -> None:
    totals = _need(plan["claims"], "totals", "claims")
    sums = {a.code: s for a, s in zip(proof.assets, proof.root.sums, strict=True)}
    bad = [
        code
        for code, f in figures.items()
        if sums.get(code) is None or str(sums[code]) != totals.get(code) or f.total != sums[code]
    ]
    out.add(
        "claims totals",
        not bad,
        f"the claims tree's root sums equal the plan's totals ({_shown(sums)})"
        if not bad
        else f"differ for {', '.join(bad)}: the claims root sums {_shown(sums)}",
    )


def _check_distribution_totals(
    out: Verification,
    plan: Mapping[str, Any],
    figures: Mapping[str, AssetFigures],
    proof: InclusionProof,
) -> None:
    totals = _need(plan["distribution"], "totals", "distribution")
    sums = dict(zip((a.code for a in proof.assets), proof.root.sums, strict=True))
    codes = sorted(set(sums) | set(totals))
    bad = [
        c
        for c in codes
        if str(sums.get(c)) != totals.get(c)
        or (c in figures and figures[c].in_kind and sums.get(c) != figures[c].distributed)
    ]
    out.add(
        "distribution totals",
        not bad,
        f"the distribution tree's root sums equal the plan's totals ({_shown(sums)})"
        if not bad
        else f"differ for {', '.join(bad)}",
    )


# Long on purpose: every check in order, each recorded whatever the others found (the same
# order as insolvency.js, so a reader can hold the two side by side).
def verify_bundle(bundle: Any, plan: Mapping[str, Any]) -> Verification:
    """Every check of `bundle` against `plan` (a loaded plan.json); never raises for a bad
    bundle (each failure is a failed check), `InputError` for a malformed plan."""
    out = Verification()
    figures = plan_figures(plan)
    out.decimals = {code: f.decimals for code, f in figures.items()}
    if not isinstance(bundle, Mapping) or bundle.get("insolvency_proof") != BUNDLE_FORMAT:
        out.add("bundle", False, f"not a {BUNDLE_FORMAT} bundle")
        return out
    extra = sorted(set(bundle) - BUNDLE_KEYS)
    plan_id = plan.get("plan_id")
    same_plan = bundle.get("plan_id") == plan_id and not extra
    out.add(
        "bundle",
        same_plan,
        f"a {BUNDLE_FORMAT} bundle for plan {plan_id}"
        if same_plan
        else f"unknown keys {extra}"
        if extra
        else f"the bundle is for plan {bundle.get('plan_id')!r}, this plan is {plan_id}",
    )
    recomputed = compute_plan_id(plan)
    out.add(
        "plan_id",
        recomputed == plan_id,
        "recomputed from the plan's canonical JSON"
        if recomputed == plan_id
        else f"the plan's canonical JSON hashes to {recomputed}, the plan states {plan_id}",
    )
    claims = _need(plan, "claims", "plan")
    commitment = str(_need(claims, "commitment", "claims"))
    try:
        published_claims = bytes.fromhex(commitment)
    except ValueError:
        raise InputError("not hex", key="claims.commitment", value=commitment) from None
    claim_proof, claim_v, why = _tree(bundle.get("claim"), published_commitment=published_claims)
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
        _check_claim_totals(out, plan, figures, claim_proof)
    else:
        out.add("claims totals", False, "not checked: the claim proof does not verify")
    _check_figures(out, plan, figures)
    root = _need(_need(plan, "distribution", "plan"), "root", "distribution")
    try:
        published_root = parse_root_document(root)
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
    if claim_v is not None and claim_proof is not None and one_leaf and dist_v is not None:
        leaf = claim_proof.leaves[0]
        own_hash = leaf_hash(leaf.salt, account_hash(claim_proof.account_id), leaf.balances).hex()
        out.expected = expected_distribution(plan, out.claim, own_hash)
        out.distribution = _amounts(dist_v)
        codes = sorted(set(out.expected) | set(out.distribution))
        wrong = [c for c in codes if out.expected.get(c, 0) != out.distribution.get(c, 0)]
        out.add(
            "distribution rule",
            not wrong,
            f"the rule applied to the claim gives {_shown(out.expected)}"
            if not wrong
            else f"for {', '.join(wrong)} the rule gives {_shown(out.expected)}, the distribution "
            f"holds {_shown(out.distribution)}",
        )
    else:
        out.add("distribution rule", False, "not checked: a proof does not verify")
    if dist_v is not None and dist_proof is not None:
        _check_distribution_totals(out, plan, figures, dist_proof)
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
        raise InputError(exc.message, file=str(plan_path)) from None


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
    "compute_plan_id",
    "expected_distribution",
    "failure",
    "load_plan",
    "make_bundle",
    "plan_figures",
    "verify_bundle",
    "verify_files",
]
