"""Bitget's Merkle path files (BitgetLimited/proof-of-reserves): 64-bit truncated hashes.

Where it sits: a foreign format of `attestations/formats/` (registry in `__init__.py`);
pure, called by `verifier/external/check.py`.

Rules:
* ``balancesJSON`` is ``{"K":"V",…}``: values plain decimals with trailing zeros removed,
  keys in Java ``HashMap`` iteration order (Bitget's verifier is Java): bucket index of the
  spread ``String.hashCode`` ascending, ties in insertion (file) order.
* Leaf: ``sha256hex(encryptUid + "," + nonce + "," + balancesJSON)[:16]``.
* Parent: ``sha256hex(leftHash + rightHash + "," + balancesJSON(sums) + "," + str(level))[:16]``
  where the parent's level is its children's level minus 1; the root is level 1.
* `role` 1 = the sibling is the left child (for `self`: the user is the left child).

Invariants: sums are exact decimal sums (the format does not round); the computed root
must equal the file's root in hash, level and balances.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from attestations.formats.common import (
    FormatResult,
    ProofInput,
    add_maps,
    balance_map,
    hex_text,
    integer,
    load_json,
    mapping,
    need,
    negatives,
    path_result,
    plain,
    sequence,
    sha256hex,
    text,
    try_json,
    whole,
)
from verifier.base.errors import InvalidProof

NAME = "bitget"
HASH_DIGITS = 16
WEAKNESSES = (
    "hashes truncated to 64 bits: a second preimage or a colliding sibling is within reach "
    "of a determined prover (2**64 work, and far less for a birthday collision)",
    "sum-only parents: a parent hashes only the sum of its children, not each child's "
    "balances (the known attack on Maxwell's original tree)",
    "no check against negative balances: negative balances are accepted and reduce totals",
    "inclusion of one account only: the other leaves and the completeness of the tree are "
    "not checked",
)


def java_hash(text: str) -> int:
    """Java's ``String.hashCode`` over UTF-16 code units, as a signed 32-bit int."""
    h = 0
    for unit in text.encode("utf-16-be").hex(" ", 2).split():
        h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
    return h


def hashmap_order(keys: list[str]) -> list[str]:
    """The iteration order of a default ``java.util.HashMap`` holding `keys` (inserted in order)."""
    capacity = 16
    while len(keys) > capacity * 3 // 4:
        capacity *= 2

    def bucket(key: str) -> int:
        h = java_hash(key)
        return (h ^ (h >> 16)) & (capacity - 1)

    position = {key: n for n, key in reversed(list(enumerate(keys)))}  # first insertion
    return sorted(keys, key=lambda k: (bucket(k), position[k]))


def balances_json(balances: Mapping[str, Decimal]) -> str:
    order = hashmap_order(list(balances))
    return "{" + ",".join(f'"{k}":"{plain(balances[k])}"' for k in order) + "}"


def looks_like(inp: ProofInput) -> bool:
    doc = try_json(inp.data)
    if not isinstance(doc, dict) or not {"self", "path"} <= set(doc):
        return False
    me = doc["self"]
    return isinstance(me, dict) and "merkelLeaf" in me and "encryptUid" in me


def _short_hash(text: str) -> str:
    return sha256hex(text)[:HASH_DIGITS]


def verify(inp: ProofInput) -> FormatResult:
    """Verify a Bitget ``merkel_tree_bg.json``-style file."""
    doc = mapping(load_json(inp.data, "the proof file", inp.name), "proof")
    me = mapping(need(doc, "self", "proof"), "self")
    path = sequence(need(doc, "path", "proof"), "path")
    if not path:
        raise InvalidProof("fields", "path: empty")
    amounts = balance_map(need(me, "balances", "self"), "self.balances")
    uid = text(need(me, "encryptUid", "self"), "self.encryptUid")
    nonce = text(need(me, "nonce", "self"), "self.nonce")
    own = hex_text(need(me, "merkelLeaf", "self"), "self.merkelLeaf", HASH_DIGITS)
    role = integer(need(me, "role", "self"), "self.role")
    level = integer(need(me, "level", "self"), "self.level")
    checks = [f"file well-formed: self at level {level}, {len(path) - 1} siblings and the root"]
    leaf = _short_hash(uid + "," + nonce + "," + balances_json(amounts))
    if leaf != own:
        raise InvalidProof(
            "leaf hash", f"sha256(uid, nonce, balances)[:16] = {leaf}, the file states {own}"
        )
    checks.append("leaf recomputed from encryptUid, nonce and balances (Java HashMap key order)")
    node, sums = leaf, dict(amounts)
    seen_negative = negatives(amounts)
    for i, raw in enumerate(path[:-1]):
        where = f"path[{i}]"
        entry = mapping(raw, where)
        sib_hash = hex_text(need(entry, "merkelLeaf", where), f"{where}.merkelLeaf", HASH_DIGITS)
        sib_level = integer(need(entry, "level", where), f"{where}.level")
        sib_role = integer(need(entry, "role", where), f"{where}.role")
        sib = balance_map(need(entry, "balances", where), f"{where}.balances")
        seen_negative += negatives(sib)
        if sib_level != level:
            raise InvalidProof("path", f"{where}: level {sib_level}, the node is at {level}")
        if i == 0 and sib_role == role:
            raise InvalidProof("path", "path[0]: the sibling has the user's own side")
        sibling_left = role != 1 if i == 0 else sib_role == 1
        sums = add_maps(sums, sib)
        level -= 1
        left, right = (sib_hash, node) if sibling_left else (node, sib_hash)
        node = _short_hash(left + right + "," + balances_json(sums) + "," + str(level))
    root = mapping(path[-1], "root")
    root_hash = hex_text(need(root, "merkelLeaf", "root"), "root.merkelLeaf", HASH_DIGITS)
    root_level = integer(need(root, "level", "root"), "root.level")
    stated = balance_map(need(root, "balances", "root"), "root.balances")
    checks.append(f"{len(path) - 1} parents recomputed: both hashes, sums and level")
    if node != root_hash:
        raise InvalidProof(
            "root hash", f"the path hashes to {node}, the file's root is {root_hash}"
        )
    if level != 1 or root_level != 1:
        raise InvalidProof("root level", f"the path ends at level {level}, the root must be 1")
    if stated != sums:
        raise InvalidProof(
            "root sums", f"the path sums to {whole(sums)}, the file's root states {whole(stated)}"
        )
    checks.append(f"root {root_hash} (level 1) and its totals match the file")
    return path_result(
        NAME, checks, amounts, root_hash, stated, WEAKNESSES, sorted(set(seen_negative))
    )
