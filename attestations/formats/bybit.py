"""Bybit's Merkle path files (bybit-exchange/merkle-proof): one user's path, many assets.

Where it sits: a foreign format of `attestations/formats/` (registry in `__init__.py`);
pure, called by `verifier/external/check.py`.

Rules:
* Leaf: ``sha256hex(userHash + concat(balance strings in the file's key order))``.
* Parent: ``sha256hex(left + right + concat(sum_i to 8 places, rounded down, plain) +
  str(height))``; the first parent has height 2. `self.type` 1 = the user's leaf is the left
  child; a path node's `type` 1 = that sibling is the left child; `type` 3 = the root.

Invariants: every asset's sum is recomputed at every level and written with exactly 8
decimals, as the format does; the computed root must equal the file's root in hash and
height. The root's balances, when the file lists them, must equal the computed totals.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from attestations.formats.common import (
    FormatResult,
    ProofInput,
    balance_map,
    exact,
    fixed,
    hex_text,
    integer,
    load_json,
    mapping,
    need,
    negatives,
    path_result,
    round_down,
    sequence,
    sha256hex,
    text,
    try_json,
)
from verifier.base.errors import InvalidProof

NAME = "bybit"
WEAKNESSES = (
    "sum-only parents: a parent hashes only the sum of its children, not each child's "
    "balances (the known attack on Maxwell's original tree)",
    "no check against negative balances (no range proof)",
    "sums are rounded down to 8 decimal places at every level",
    "userHash is taken as given: without your UID the tool cannot check that it is yours",
    "inclusion of one account only: the other leaves and the completeness of the tree are "
    "not checked",
)


def looks_like(inp: ProofInput) -> bool:
    doc = try_json(inp.data)
    if not isinstance(doc, dict) or not {"self", "path"} <= set(doc):
        return False
    me = doc["self"]
    return isinstance(me, dict) and "userHash" in me and "balance" in me


def _balances(entry: Mapping[str, object], where: str) -> tuple[list[str], dict[str, Decimal]]:
    raw = mapping(need(entry, "balance", where), f"{where}.balance")
    amounts = balance_map(raw, f"{where}.balance")  # every value checked to be a string
    return [str(v) for v in raw.values()], amounts


def _parent(left: str, right: str, sums: Mapping[str, Decimal], height: int) -> str:
    return sha256hex(left + right + "".join(fixed(v) for v in sums.values()) + str(height))


def verify(inp: ProofInput) -> FormatResult:
    """Verify a Bybit ``mock_user_merkle_tree_path_*.json``-style file."""
    doc = mapping(load_json(inp.data, "the proof file", inp.name), "proof")
    me = mapping(need(doc, "self", "proof"), "self")
    path = sequence(need(doc, "path", "proof"), "path")
    if len(path) < 2:
        raise InvalidProof("fields", "path: needs at least one sibling and the root")
    texts, amounts = _balances(me, "self")
    assets = list(amounts)
    user_hash = text(need(me, "userHash", "self"), "self.userHash")
    own_hash = hex_text(need(me, "hash", "self"), "self.hash", 64)
    own_type = integer(need(me, "type", "self"), "self.type")
    checks = [
        f"file well-formed: self, {len(path) - 1} siblings and the root, {len(assets)} assets"
    ]
    leaf = sha256hex(user_hash + "".join(texts))
    if leaf != own_hash:
        raise InvalidProof(
            "leaf hash", f"sha256(userHash + balances) = {leaf}, the file states {own_hash}"
        )
    checks.append("leaf recomputed from userHash and the balance strings in file order")
    node, sums, height = leaf, dict(amounts), 1
    seen_negative = negatives(amounts)
    for i, raw in enumerate(path[:-1]):
        where = f"path[{i}]"
        entry = mapping(raw, where)
        sib_hash = hex_text(need(entry, "hash", where), f"{where}.hash", 64)
        sib_type = integer(need(entry, "type", where), f"{where}.type")
        sib_height = integer(need(entry, "height", where), f"{where}.height")
        _, sib = _balances(entry, where)
        seen_negative += negatives(sib)
        if list(sib) != assets:
            raise InvalidProof("fields", f"{where}: assets differ from the user's")
        if sib_height != height:
            raise InvalidProof("path", f"{where}: height {sib_height}, the node is at {height}")
        if i == 0 and sib_type == own_type:
            raise InvalidProof("path", "path[0]: the sibling has the user's own side")
        sibling_left = own_type != 1 if i == 0 else sib_type == 1
        with exact():
            sums = {a: round_down(sums[a] + sib[a]) for a in assets}
        height += 1
        left, right = (sib_hash, node) if sibling_left else (node, sib_hash)
        node = _parent(left, right, sums, height)
    root = mapping(path[-1], "root")
    root_hash = hex_text(need(root, "hash", "root"), "root.hash", 64)
    root_height = integer(need(root, "height", "root"), "root.height")
    if integer(need(root, "type", "root"), "root.type") != 3:
        raise InvalidProof("root", "the last path entry is not the root (type 3)")
    checks.append(f"{len(path) - 1} parents recomputed: both hashes, 8-place sums, height")
    if node != root_hash:
        raise InvalidProof(
            "root hash", f"the path hashes to {node}, the file's root is {root_hash}"
        )
    if height != root_height:
        raise InvalidProof("root height", f"the path reaches {height}, the root says {root_height}")
    if "balance" in root:
        _, stated = _balances(root, "root")
        if stated != sums:
            raise InvalidProof("root sums", "the root's balances are not the computed totals")
    checks.append(f"root hash {root_hash} and height {root_height} match the file")
    return path_result(
        NAME, checks, amounts, root_hash, sums, WEAKNESSES, seen_negative, {"height": root_height}
    )
