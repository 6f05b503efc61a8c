"""Bitunix's Merkle path files (BitunixOfficial/proof-of-reserves): Bitget's tree, full SHA-256.

Where it sits: a foreign format of `attestations/formats/` (registry in `__init__.py`);
pure, called by `verifier/external/check.py`. Balance fields are read as `bitget.py` reads
them; the Java map order is `java_hashmap.py`'s.

Rules (``MerkelTreeUtil``, ``MerKelTree``, ``TreeNode`` of Bitunix's verifier):
* ``balancesJSON`` is fastjson's ``{"K":"V",…}`` of a ``HashMap<String, String>``: keys in
  ``java.util.HashMap`` iteration order, values quoted strings exactly as published.
* Leaf: ``sha256hex(encryptUid + "," + nonce + "," + balancesJSON)`` (64 hex digits).
* Parent: ``sha256hex(leftLeaf + rightLeaf + "," + balancesJSON(sums) + "," + str(height))``,
  height = the left child's height − 1, the root at height 1. Each sum is
  ``(left + right).setScale(precision, DOWN).toPlainString()`` with the asset's precision from
  ``self.precisions``; the parent's map takes the left child's keys in its iteration order.
* ``type`` 1 = left child: each sibling's type decides its side; the first sibling's type must
  differ from the user's.

Invariants: the root's hash, height and balances equal the file's. Stricter than Bitunix's
verifier, never looser: a sibling whose asset set differs from the node's is refused (Bitunix's
code drops the sibling's extra assets or fails on a missing one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from attestations.formats.bitget import Balances, balances
from attestations.formats.common import (
    MAX_DIGITS,
    FormatResult,
    ProofInput,
    exact,
    hex_text,
    integer,
    load_json,
    mapping,
    need,
    path_result,
    round_down,
    sequence,
    sha256hex,
    text,
    try_json,
    whole,
)
from attestations.formats.java_hashmap import iteration_order
from verifier.base.errors import InvalidProof

NAME = "bitunix"
HASH_DIGITS = 64
WEAKNESSES = (
    "path[0] is the sibling leaf in full: it exposes another customer's encrypted uid, nonce "
    "and balances to everyone who receives this proof (a privacy weakness)",
    "sum-only parents: a parent hashes only the sum of its children, not each child's "
    "balances (the known attack on Maxwell's original tree)",
    "sums are rounded down to each asset's precision at every level, so totals can understate "
    "liabilities by up to one unit of that precision per node",
    "no check against negative balances: negative balances are accepted and reduce totals",
    "inclusion of one account only: the other leaves and the completeness of the tree are "
    "not checked",
)


@dataclass(frozen=True, slots=True)
class Node:
    """A node of the path: its hash, height, type and balance map (values as published)."""

    leaf: str
    height: int
    kind: int
    balances: Balances
    texts: Mapping[str, str]
    """The balance strings exactly as published (the leaf hashes them as they are)."""


def looks_like(inp: ProofInput) -> bool:
    doc = try_json(inp.data)
    if not isinstance(doc, dict) or not {"self", "path"} <= set(doc):
        return False
    me = doc["self"]
    return isinstance(me, dict) and "merkleLeaf" in me and "precisions" in me


def _node(value: object, where: str) -> Node:
    entry = mapping(value, where)
    raw = mapping(need(entry, "balances", where), f"{where}.balances")
    texts = {str(k): text(v, f"{where}.balances.{k}") for k, v in raw.items()}
    return Node(
        leaf=hex_text(need(entry, "merkleLeaf", where), f"{where}.merkleLeaf", HASH_DIGITS),
        height=integer(need(entry, "height", where), f"{where}.height"),
        kind=integer(need(entry, "type", where), f"{where}.type"),
        balances=balances(raw, f"{where}.balances"),
        texts=texts,
    )


def _precisions(value: object) -> dict[str, int]:
    obj = mapping(value, "self.precisions")
    out = {str(k): integer(v, f"self.precisions.{k}") for k, v in obj.items()}
    for key, places in out.items():
        if not 0 <= places <= MAX_DIGITS:
            raise InvalidProof("fields", f"self.precisions.{key}: {places} is out of range")
    return out


def balances_json(keys: tuple[str, ...], texts: Mapping[str, str]) -> str:
    """fastjson's text of a ``HashMap<String, String>`` into which `keys` were put in order."""
    return "{" + ",".join(f'"{k}":"{texts[k]}"' for k in iteration_order(keys)) + "}"


def parent_sums(
    left: Node, right: Node, precisions: Mapping[str, int], where: str
) -> tuple[Balances, dict[str, str]]:
    """Bitunix's ``getTotalBalances``: for each key of the left map in its iteration order,
    ``(left + right)`` rounded down to the asset's precision, as a plain string."""
    if set(left.balances.keys) != set(right.balances.keys):
        raise InvalidProof(
            "path",
            f"{where}: the sibling's assets {sorted(right.balances.keys)} differ from the "
            f"node's {sorted(left.balances.keys)}",
        )
    keys = tuple(iteration_order(left.balances.keys))
    values: dict[str, Decimal] = {}
    texts: dict[str, str] = {}
    for key in keys:
        if key not in precisions:
            raise InvalidProof("fields", f"self.precisions: no precision for {key!r}")
        with exact():
            total = left.balances.values[key] + right.balances.values[key]
        values[key] = round_down(total, precisions[key])
        texts[key] = format(values[key], "f")
    return Balances(keys, values), texts


def verify(inp: ProofInput) -> FormatResult:
    """Verify a Bitunix ``merkel_tree_path.json``-style file."""
    doc = mapping(load_json(inp.data, "the proof file", inp.name), "proof")
    me_raw = mapping(need(doc, "self", "proof"), "self")
    path = sequence(need(doc, "path", "proof"), "path")
    if len(path) < 2:
        raise InvalidProof("fields", "path: needs at least one sibling and the root")
    me = _node(me_raw, "self")
    uid = text(need(me_raw, "encryptUid", "self"), "self.encryptUid")
    nonce = text(need(me_raw, "nonce", "self"), "self.nonce")
    precisions = _precisions(need(me_raw, "precisions", "self"))
    siblings = [_node(raw, f"path[{i}]") for i, raw in enumerate(path[:-1])]
    root = _node(path[-1], "root")
    checks = [
        f"file well-formed: self at height {me.height}, {len(siblings)} siblings and the root"
    ]
    leaf = sha256hex(uid + "," + nonce + "," + balances_json(me.balances.keys, me.texts))
    if leaf != me.leaf:
        raise InvalidProof(
            "leaf hash", f"sha256(uid, nonce, balances) = {leaf}, the file states {me.leaf}"
        )
    checks.append("leaf recomputed from encryptUid, nonce and balances (Java HashMap key order)")
    if siblings[0].kind == me.kind:
        raise InvalidProof("path", "path[0]: the sibling has the user's own type")
    node = me
    for i, sib in enumerate(siblings):
        where = f"path[{i}]"
        if sib.height != node.height:
            raise InvalidProof(
                "path", f"{where}: height {sib.height}, the node is at {node.height}"
            )
        left, right = (sib, node) if sib.kind == 1 else (node, sib)
        sums, texts = parent_sums(left, right, precisions, where)
        height = left.height - 1
        digest = sha256hex(
            left.leaf + right.leaf + "," + balances_json(sums.keys, texts) + "," + str(height)
        )
        node = Node(digest, height, 0, sums, texts)
    checks.append(
        f"{len(siblings)} parents recomputed: both hashes, sums rounded down to each asset's "
        "precision, height"
    )
    if node.leaf != root.leaf:
        raise InvalidProof(
            "root hash", f"the path hashes to {node.leaf}, the file's root is {root.leaf}"
        )
    if node.height != 1 or root.height != 1:
        raise InvalidProof(
            "root level", f"the path ends at height {node.height}, the root must be 1"
        )
    if dict(node.balances.values) != dict(root.balances.values):
        raise InvalidProof(
            "root sums",
            f"the path sums to {whole(node.balances.values)}, the file's root states "
            f"{whole(root.balances.values)}",
        )
    checks.append(f"root {root.leaf} (height 1) and its totals match the file")
    details: dict[str, object] = {"precisions": precisions}
    sibling_leaf = _sibling_leaf(path[0])
    if sibling_leaf is not None:
        if sibling_leaf != siblings[0].leaf:
            raise InvalidProof(
                "sibling leaf",
                f"path[0]'s exposed uid, nonce and balances hash to {sibling_leaf}, its "
                f"merkleLeaf is {siblings[0].leaf}",
            )
        details["sibling_leaf_opens"] = True
        checks.append("path[0]'s own leaf recomputed from its exposed uid, nonce, balances")
    seen = [k for n in (me, *siblings) for k, v in n.balances.values.items() if v < 0]
    return path_result(
        NAME,
        checks,
        me.balances.values,
        root.leaf,
        root.balances.values,
        WEAKNESSES,
        sorted(set(seen)),
        details,
    )


def _sibling_leaf(raw: object) -> str | None:
    """path[0]'s leaf recomputed when it carries its uid and nonce (Bitunix's files do). Its
    verifier does not check it; a file whose exposed sibling does not open its own leaf is
    inconsistent, and refused (stricter than Bitunix, never looser)."""
    entry = mapping(raw, "path[0]")
    if "encryptUid" not in entry and "nonce" not in entry:
        return None
    uid = text(need(entry, "encryptUid", "path[0]"), "path[0].encryptUid")
    nonce = text(need(entry, "nonce", "path[0]"), "path[0].nonce")
    node = _node(entry, "path[0]")
    return sha256hex(uid + "," + nonce + "," + balances_json(node.balances.keys, node.texts))
