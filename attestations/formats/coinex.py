"""CoinEx's Merkle path files (coinexcom/proof-of-reserves): a spec-drift case.

Where it sits: a foreign format of `attestations/formats/` (registry in `__init__.py`);
pure, called by `verifier/external/check.py`.

Rules:
* ``json(balances)``: keys sorted, values quoted, trailing zeros trimmed, compact
  (``{"BTC":"1.5","USDT":"2"}``).
* Leaf: ``sha256hex(nonce + json(balances))``.
* Each step: ``sha256hex(left + right + json(running sums))``; ``pos`` "left" = the sibling is
  the left child. A path entry without a hash means "no sibling": CoinEx's code (the
  published rule) hashes ``sha256hex(h + h + json(sums))``.

Invariants: the published rule decides. If the root does not match under it, the result is
invalid and names the first variant (from a short fixed list) under which it would pass, so
a sample is never passed silently under a rule its publisher does not use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from attestations.formats.common import (
    FormatResult,
    ProofInput,
    add_maps,
    balance_map,
    hex_text,
    load_json,
    mapping,
    need,
    negatives,
    plain,
    sequence,
    sha256hex,
    shown,
    text,
    try_json,
    whole,
)
from verifier.base.errors import InvalidProof

NAME = "coinex"
PUBLISHED = "published rule: no-sibling step = sha256hex(h + h + json(sums))"
WEAKNESSES = (
    "sum-only parents: a node hashes only the running sum, not each child's balances "
    "(the known attack on Maxwell's original tree)",
    "no check against negative balances (no range proof)",
    "a missing sibling is handled by a rule that differs between CoinEx's code and its "
    "published files; a node without a sibling carries no separate commitment",
    "inclusion of one account only: the other leaves and the completeness of the tree are "
    "not checked",
)

_Step = Callable[[str, str], str]
"""How a step without a sibling hashes: (h, json(sums)) -> new hash."""
VARIANTS: tuple[tuple[str, _Step], ...] = (
    (PUBLISHED, lambda h, j: sha256hex(h + h + j)),
    ("no-sibling step = sha256hex(h + json(sums))", lambda h, j: sha256hex(h + j)),
    ("no-sibling step keeps h unchanged", lambda h, j: h),
)


def balances_json(balances: Mapping[str, Decimal]) -> str:
    return "{" + ",".join(f'"{k}":"{plain(balances[k])}"' for k in sorted(balances)) + "}"


def looks_like(inp: ProofInput) -> bool:
    doc = try_json(inp.data)
    if not isinstance(doc, dict) or not {"root", "self", "path"} <= set(doc):
        return False
    path = doc["path"]
    return isinstance(path, list) and all(isinstance(p, dict) for p in path)


_Sibling = tuple[str, dict[str, Decimal], bool]
"""A parsed path step with a sibling: its hash, its balances, whether it is the left child."""


def _steps(doc: Mapping[str, Any]) -> list[_Sibling | None]:
    """Every path entry checked before any is used: None for a step without a sibling."""
    steps: list[_Sibling | None] = []
    for i, raw in enumerate(sequence(need(doc, "path", "proof"), "path")):
        where = f"path[{i}]"
        entry = mapping(raw, where)
        if not entry:
            steps.append(None)
            continue
        sib_hash = hex_text(need(entry, "hash", where), f"{where}.hash", 64)
        sib = balance_map(need(entry, "balances", where), f"{where}.balances")
        pos = need(entry, "pos", where)
        if pos not in ("left", "right"):
            raise InvalidProof("fields", f"{where}.pos: {shown(pos)} is neither 'left' nor 'right'")
        steps.append((sib_hash, sib, pos == "left"))
    return steps


def _walk(
    leaf: str, sums: Mapping[str, Decimal], path: list[_Sibling | None], lonely: _Step
) -> tuple[str, dict[str, Decimal]]:
    node, running = leaf, dict(sums)
    for step in path:
        if step is None:
            node = lonely(node, balances_json(running))
            continue
        sib_hash, sib, sibling_left = step
        running = add_maps(running, sib)
        left, right = (sib_hash, node) if sibling_left else (node, sib_hash)
        node = sha256hex(left + right + balances_json(running))
    return node, running


def verify(inp: ProofInput) -> FormatResult:
    """Verify a CoinEx ``merkle_proof_file.json`` under the published rule."""
    doc = mapping(load_json(inp.data, "the proof file", inp.name), "proof")
    me = mapping(need(doc, "self", "proof"), "self")
    root = mapping(need(doc, "root", "proof"), "root")
    path = _steps(doc)
    amounts = balance_map(need(me, "balances", "self"), "self.balances")
    nonce = text(need(me, "nonce", "self"), "self.nonce")
    root_hash = hex_text(need(root, "hash", "root"), "root.hash", 64)
    stated = balance_map(need(root, "balances", "root"), "root.balances")
    leaf = sha256hex(nonce + balances_json(amounts))
    lonely = sum(1 for p in path if p is None)
    checks = [
        f"file well-formed: self, root, {len(path)} path steps ({lonely} without a sibling)",
        "leaf computed from nonce and sorted balances JSON",
    ]
    seen_negative = negatives(amounts) + [k for p in path if p for k in negatives(p[1])]
    weaknesses = list(WEAKNESSES)
    if seen_negative:
        weaknesses.append(f"negative balances appear in this path ({', '.join(seen_negative)})")
    results = [(name, *_walk(leaf, amounts, path, step)) for name, step in VARIANTS]
    _, computed, sums = results[0]
    if computed == root_hash and sums == stated:
        checks.append(f"path walked under the {PUBLISHED}; root hash and totals match")
        return FormatResult(
            format=NAME,
            valid=True,
            checks=tuple(checks),
            balances=whole(amounts),
            root=root_hash,
            totals=whole(stated),
            weaknesses=tuple(weaknesses),
            details={"rule": PUBLISHED},
        )
    passing = [name for name, h, s in results[1:] if h == root_hash and s == stated]
    if sums != stated:
        reason = f"the path sums to {whole(sums)}, the file's root states {whole(stated)}"
        failed = "root sums"
    else:
        reason = (
            f"under the {PUBLISHED} the path hashes to {computed}, the file's root is {root_hash}"
        )
        failed = "root hash"
    if passing:
        reason += f"; it would pass under another variant: {passing[0]}"
    details = {
        "rule": PUBLISHED,
        "computed_root": computed,
        "passes_under": passing[0] if passing else None,
    }
    return FormatResult(
        format=NAME,
        valid=False,
        checks=tuple(checks),
        balances=whole(amounts),
        root=root_hash,
        totals=whole(stated),
        weaknesses=tuple(weaknesses),
        reason=reason,
        failed_check=failed,
        details=details,
    )
