"""OKX's liabilities proofs: the Merkle path file ("v1") and the full-tree file ("v2").

Where it sits: one of the foreign formats of `attestations/formats/` (registry in
`__init__.py`); pure, called by `verifier/external/check.py` with the files already read.

Rules (okx/proof-of-reserves, `common/merkle.go`, `common/merklev2.go`, `common/validator.go`):

* Three fixed assets, BTC, ETH and USDT, written as decimal strings.
* v1 leaf: ``sha256hex(nonce + '{"BTC":"b","ETH":"e","USDT":"u"}')`` with the balance
  strings exactly as in the file.
* Parent: ``sha256hex(left + right + BTC + ETH + USDT + str(height))`` where each sum is the
  decimal sum of the children rounded down to 8 places, trailing zeros removed; the first
  parent has height 2. In a v1 path, the user's own `type` 1 means it is the left child;
  each later path node's `type` 1 means that sibling is the left one; `type` 3 is the root.
* v2 user file: ``hash = sha256hex(nonce + json(totalBalances))``; each sub-leaf
  ``sha256hex(hash + BTC + ETH + USDT)``; the sub-leaves sum to `totalBalances`.
* v2 tree file: lines ``hash,height,{"BTC":…}``, root first, each level listed right to
  left; a level with an odd number of nodes is padded with a copy of its rightmost node
  (same hash) carrying zero balances.

Invariants: every parent is recomputed from its children (hash and sums), the computed
root equals the file's root in hash, height and sums; the v2 user's sub-leaves must all be
found at the leaf level with the same balances.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from attestations.formats.common import (
    FormatResult,
    ProofInput,
    add_maps,
    exact,
    hex_text,
    integer,
    load_json,
    mapping,
    need,
    negatives,
    parse_amount,
    path_result,
    plain,
    round_down,
    sequence,
    sha256hex,
    shown,
    text,
    try_json,
    whole,
)
from verifier.base import safejson
from verifier.base.errors import InputError, InvalidProof

ASSETS = ("BTC", "ETH", "USDT")
MAX_TREE_HEIGHT = 256
"""Deepest tree accepted (2**256 leaves is far beyond any exchange)."""
_HEIGHT = re.compile(r"[0-9]{1,4}")
V1 = "okx-v1"
V2 = "okx-v2"

WEAKNESSES_COMMON = (
    "sum-only parents: a parent hashes only the rounded sum of its children, not each "
    "child's balances (the known attack on Maxwell's original tree: an exchange can shift "
    "liabilities between siblings so that a user's path still verifies)",
    "no check against negative balances: the format has no range proof, so a negative leaf "
    "elsewhere in the tree can cancel real liabilities",
    "sums are rounded down to 8 decimal places at every level, so totals can understate "
    "liabilities by up to 1e-8 per node",
    "only three assets (BTC, ETH, USDT) are committed; other liabilities are not in the tree",
)
WEAKNESSES_V1 = (
    *WEAKNESSES_COMMON,
    "inclusion of one account only: the other leaves and the completeness of the tree are "
    "not checked",
    "the root is not bound to a publication date or an audit id by the hash",
)
WEAKNESSES_V2 = (
    *WEAKNESSES_COMMON,
    "odd levels are padded with a zero-balance copy of the last node: the same hash appears "
    "twice, and the copy's balances are not bound by its hash",
    "other users' leaves cannot be recomputed (their nonces are secret): the tree proves the "
    "sums add up, not that each leaf is a real, non-negative account",
)


@dataclass(frozen=True, slots=True)
class _Node:
    hash: str
    sums: Mapping[str, Decimal]
    height: int


def balances_string(balances: Mapping[str, str]) -> str:
    """The Go ``Balances.String()``: ``{"BTC":"…","ETH":"…","USDT":"…"}``."""
    return "{" + ",".join(f'"{a}":"{balances[a]}"' for a in ASSETS) + "}"


def _balances(value: object, where: str) -> tuple[dict[str, str], dict[str, Decimal]]:
    obj = mapping(value, where)
    if set(obj) != set(ASSETS):
        raise InvalidProof("fields", f"{where}: assets {shown(sorted(obj))} are not {list(ASSETS)}")
    texts = {a: obj[a] for a in ASSETS}
    amounts = {a: parse_amount(texts[a], f"{where}.{a}") for a in ASSETS}
    return texts, amounts


def _sum_text(sums: Mapping[str, Decimal]) -> dict[str, str]:
    return {a: plain(round_down(sums[a])) for a in ASSETS}


def parent(left: _Node, right: _Node, height: int) -> _Node:
    """The parent of two nodes: rounded sums and ``sha256hex(l + r + sums + height)``."""
    with exact():
        sums = {a: round_down(left.sums[a] + right.sums[a]) for a in ASSETS}
    text = _sum_text(sums)
    digest = sha256hex(left.hash + right.hash + "".join(text[a] for a in ASSETS) + str(height))
    return _Node(digest, sums, height)


# ----------------------------------------------------------------------------- v1


def looks_like_v1(inp: ProofInput) -> bool:
    doc = try_json(inp.data)
    if not isinstance(doc, dict) or set(doc) != {"self", "path"}:
        return False
    me, path = doc["self"], doc["path"]
    return (
        isinstance(me, dict)
        and "balances" in me
        and "nonce" in me
        and "type" in me
        and "merkelLeaf" not in me
        and "merkleLeaf" not in me  # Bitunix's files (bitunix.py) have OKX's shape otherwise
        and isinstance(path, list)
        and bool(path)
        and all(isinstance(p, dict) and "type" in p and "balances" in p for p in path)
    )


def verify_v1(inp: ProofInput) -> FormatResult:
    """Verify an OKX Merkle path file (``merkle_proof_file.json``)."""
    doc = mapping(load_json(inp.data, "the proof file", inp.name), "proof")
    me = mapping(need(doc, "self", "proof"), "self")
    path = sequence(need(doc, "path", "proof"), "path")
    if len(path) < 2:
        raise InvalidProof("fields", "path: needs at least one sibling and the root")
    texts, amounts = _balances(need(me, "balances", "self"), "self.balances")
    nonce = text(need(me, "nonce", "self"), "self.nonce")
    own_hash = hex_text(need(me, "hash", "self"), "self.hash", 64)
    own_type = integer(need(me, "type", "self"), "self.type")
    if own_type not in (1, 2):
        raise InvalidProof("fields", f"self.type: {own_type} is neither 1 (left) nor 2 (right)")
    checks = ["file well-formed: self, path of siblings and root, three assets BTC/ETH/USDT"]
    leaf = sha256hex(nonce + balances_string(texts))
    if leaf != own_hash:
        raise InvalidProof(
            "leaf hash",
            f"sha256(nonce + balances) = {leaf}, the file states {own_hash} "
            "(a balance or the nonce was changed)",
        )
    checks.append("leaf recomputed from nonce and balances: sha256(nonce + balances JSON)")
    node = _Node(leaf, amounts, 1)
    seen_negative = negatives(amounts)
    for i, raw in enumerate(path[:-1]):
        where = f"path[{i}]"
        entry = mapping(raw, where)
        sib_hash = hex_text(need(entry, "hash", where), f"{where}.hash", 64)
        sib_type = integer(need(entry, "type", where), f"{where}.type")
        sib_height = integer(need(entry, "height", where), f"{where}.height")
        _, sib_sums = _balances(need(entry, "balances", where), f"{where}.balances")
        seen_negative += negatives(sib_sums)
        if sib_type not in (1, 2, 4):
            raise InvalidProof("path", f"{where}: type {sib_type} is not a sibling (1, 2 or 4)")
        if sib_height != node.height:
            raise InvalidProof(
                "path", f"{where}: sibling height {sib_height}, the node is at {node.height}"
            )
        sibling = _Node(sib_hash, sib_sums, sib_height)
        if i == 0:
            if sib_type == own_type:
                raise InvalidProof("path", "path[0]: the sibling has the user's own side")
            sibling_left = own_type != 1
        else:
            sibling_left = sib_type == 1
        left, right = (sibling, node) if sibling_left else (node, sibling)
        node = parent(left, right, node.height + 1)
    root_raw = mapping(path[-1], f"path[{len(path) - 1}]")
    where = "root"
    root_hash = hex_text(need(root_raw, "hash", where), "root.hash", 64)
    root_type = integer(need(root_raw, "type", where), "root.type")
    root_height = integer(need(root_raw, "height", where), "root.height")
    root_texts, root_sums = _balances(need(root_raw, "balances", where), "root.balances")
    if root_type != 3:
        raise InvalidProof("root", f"the last path entry has type {root_type}, not 3 (root)")
    checks.append(f"{len(path) - 1} parents recomputed: hash of both children, sums, height")
    if node.hash != root_hash:
        raise InvalidProof(
            "root hash", f"the path hashes to {node.hash}, the file's root is {root_hash}"
        )
    if node.height != root_height:
        raise InvalidProof(
            "root height", f"the path reaches height {node.height}, the root says {root_height}"
        )
    computed = _sum_text(node.sums)
    if computed != root_texts:
        raise InvalidProof(
            "root sums",
            f"the path sums to {computed}, the file's root states {dict(root_texts)}",
        )
    checks.append(f"root hash, height {root_height} and BTC/ETH/USDT totals match the file")
    return path_result(
        V1,
        checks,
        amounts,
        root_hash,
        root_sums,
        WEAKNESSES_V1,
        seen_negative,
        {"height": root_height},
    )


# ----------------------------------------------------------------------------- v2


def looks_like_v2(inp: ProofInput) -> bool:
    doc = try_json(inp.data)
    return isinstance(doc, dict) and {"hash", "nodes", "nonce", "totalBalances"} <= set(doc)


def _tree_lines(
    data: bytes, name: str
) -> list[tuple[str, int, dict[str, str], dict[str, Decimal]]]:
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = data[: exc.start].count(b"\n") + 1
        raise InvalidProof("tree", f"{name} line {at}: the tree file is not UTF-8 text") from None
    rows = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name} line {number}"
        parts = line.split(",", 2)
        if len(parts) != 3:
            raise InvalidProof("tree", f"{where}: not 'hash,height,balances': {shown(line)}")
        digest = hex_text(parts[0], f"{where} hash", 64)
        # ASCII digits only: str.isdigit() also takes '²', which int() refuses
        if not _HEIGHT.fullmatch(parts[1]) or not 1 <= int(parts[1]) <= MAX_TREE_HEIGHT:
            raise InvalidProof(
                "tree", f"{where}: height {shown(parts[1])} is not a number in 1..256"
            )
        try:
            raw = safejson.loads(parts[2], source=where, what="the balances")
        except InputError as exc:
            raise InvalidProof("tree", exc.message) from None
        texts, amounts = _balances(raw, where)
        rows.append((digest, int(parts[1]), texts, amounts))
    return rows


def _levels(
    rows: Sequence[tuple[str, int, dict[str, str], dict[str, Decimal]]],
) -> list[list[tuple[str, dict[str, str], dict[str, Decimal]]]]:
    """Levels bottom-up (index 0 = height 1), each left to right."""
    if not rows:
        raise InvalidProof("tree", "the tree file is empty")
    top = rows[0][1]
    by_height: dict[int, list[tuple[str, dict[str, str], dict[str, Decimal]]]] = {}
    previous = top
    for digest, height, texts, amounts in rows:
        if height > previous:
            raise InvalidProof("tree", f"height {height} listed after height {previous}")
        previous = height
        by_height.setdefault(height, []).append((digest, texts, amounts))
    if len(by_height) != top or min(by_height) != 1:
        raise InvalidProof("tree", f"levels {shown(sorted(by_height))} are not 1..{top}")
    if len(by_height[top]) != 1:
        raise InvalidProof("tree", f"the top level has {len(by_height[top])} nodes, not 1")
    # the file lists each level right to left
    return [list(reversed(by_height[h])) for h in range(1, top + 1)]


def verify_v2(inp: ProofInput) -> FormatResult:
    """Verify an OKX user info file against the full liabilities tree (`--tree`)."""
    if inp.tree is None:
        raise InvalidProof("tree", "okx-v2 needs the full liabilities tree file (--tree)")
    doc = mapping(load_json(inp.data, "the user info file", inp.name), "user info")
    user_hash = hex_text(need(doc, "hash", "user info"), "hash", 64)
    nonce = text(need(doc, "nonce", "user info"), "nonce")
    total_texts, total = _balances(need(doc, "totalBalances", "user info"), "totalBalances")
    nodes_raw = sequence(need(doc, "nodes", "user info"), "nodes")
    if not nodes_raw:
        raise InvalidProof("fields", "nodes: the user has no sub-leaves")
    checks = ["user info well-formed: hash, nonce, totalBalances, sub-leaves"]
    expected = sha256hex(nonce + balances_string(total_texts))
    if expected != user_hash:
        raise InvalidProof(
            "user hash",
            f"sha256(nonce + totalBalances) = {expected}, the file states {user_hash}",
        )
    checks.append("user hash recomputed from nonce and totalBalances")
    subs: list[tuple[str, dict[str, Decimal]]] = []
    running: dict[str, Decimal] = {a: Decimal(0) for a in ASSETS}
    for i, raw in enumerate(nodes_raw):
        where = f"nodes[{i}]"
        entry = mapping(raw, where)
        digest = hex_text(need(entry, "hash", where), f"{where}.hash", 64)
        texts, amounts = _balances(need(entry, "balances", where), f"{where}.balances")
        leaf = sha256hex(user_hash + "".join(texts[a] for a in ASSETS))
        if leaf != digest:
            raise InvalidProof(
                "sub-leaf hash", f"{where}: sha256(hash + balances) = {leaf}, file has {digest}"
            )
        running = {a: round_down(v) for a, v in add_maps(running, amounts).items()}
        subs.append((digest, amounts))
    checks.append(f"{len(subs)} sub-leaves recomputed from the user hash and their balances")
    if _sum_text(running) != {a: plain(total[a]) for a in ASSETS}:
        raise InvalidProof(
            "sub-leaf sums",
            f"the sub-leaves sum to {_sum_text(running)}, totalBalances is {dict(total_texts)}",
        )
    checks.append("sub-leaves sum to totalBalances")
    levels = _levels(_tree_lines(inp.tree, "the --tree file"))
    leaves = levels[0]
    at_leaf_level: dict[str, list[dict[str, Decimal]]] = {}
    for leaf_hash, _, leaf_amounts in leaves:  # one pass: sub-leaves x leaves could be 10**10
        at_leaf_level.setdefault(leaf_hash, []).append(leaf_amounts)
    for digest, amounts in subs:
        found = at_leaf_level.get(digest, [])
        if not found:
            raise InvalidProof("leaf not found", f"sub-leaf {digest} is not at the leaf level")
        if not any(n == amounts for n in found):
            raise InvalidProof(
                "leaf balances", f"sub-leaf {digest} is in the tree with other balances"
            )
    checks.append("every sub-leaf found at the leaf level with the same balances")
    seen_negative: list[str] = []
    padded = 0
    below = [_Node(d, a, 1) for d, _, a in leaves]
    for n in below:
        seen_negative += negatives(n.sums)
    for height, level in enumerate(levels[1:], start=2):
        if len(below) % 2:
            raise InvalidProof(
                "tree shape", f"height {height - 1} has an odd number ({len(below)}) of nodes"
            )
        computed = [parent(below[k], below[k + 1], height) for k in range(0, len(below), 2)]
        if len(level) not in (len(computed), len(computed) + 1):
            raise InvalidProof(
                "tree shape", f"height {height}: {len(level)} nodes for {len(computed)} parents"
            )
        for k, node in enumerate(computed):
            digest, texts, _ = level[k]
            if node.hash != digest:
                raise InvalidProof(
                    "node hash",
                    f"height {height} node {k} (from the left): children hash to {node.hash}, "
                    f"the tree file has {digest}",
                )
            if _sum_text(node.sums) != texts:
                raise InvalidProof(
                    "node sums",
                    f"height {height} node {k}: children sum to {_sum_text(node.sums)}, "
                    f"the tree file has {texts}",
                )
        below = computed
        if len(level) == len(computed) + 1:
            pad_hash, _, pad_sums = level[-1]
            if pad_hash != computed[-1].hash or any(pad_sums.values()):
                raise InvalidProof(
                    "padding",
                    f"height {height}: the extra node is not a zero-balance copy of the last",
                )
            padded += 1
            below = [*computed, _Node(pad_hash, pad_sums, height)]
    root_digest, _, root_sums = levels[-1][0]
    checks.append(
        f"whole tree rebuilt: {len(levels)} levels, {len(leaves)} leaf slots, every parent's "
        f"hash and sums recomputed ({padded} odd levels above the leaves padded with a "
        "zero-balance copy)"
    )
    checks.append(f"root {root_digest} and its BTC/ETH/USDT totals match the tree file")
    weaknesses = list(WEAKNESSES_V2)
    if seen_negative:
        weaknesses.append(f"negative balances at the leaf level ({', '.join(seen_negative)})")
    return FormatResult(
        format=V2,
        valid=True,
        checks=tuple(checks),
        balances=whole(total),
        root=root_digest,
        totals=whole(root_sums),
        weaknesses=tuple(weaknesses),
        details={"height": len(levels), "sub_leaves": [d for d, _ in subs]},
    )
