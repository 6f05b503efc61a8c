"""MEXC's Merkle path files (mexcmerkle/mexc-proof-of-reserves): 128-bit truncated hashes.

Where it sits: a foreign format of `attestations/formats/` (registry in `__init__.py`);
pure, called by `verifier/external/check.py`.

Rules (``MerkleProofValidator``, ``MerklePathNode``, ``MerkleSelfNode``, ``SignatureUtil`` of
MEXC's verifier; ``h(s) = sha256hex(s)[:32]``; maps are ``TreeMap``s, so every list of
balances is sorted by token in Java ``String`` order):
* Leaf: ``h(proofId + "," + accountId + "," + "TOK:bal,…")`` with the balances as published.
* The file lists ``pathList`` nodes by ``level``; the last is the root and its level is the
  depth. At each level ``i`` from 0 the computed node pairs with the file's node of level
  ``i``, or with an empty node (hash ``""``, no balances) when there is none. The computed
  node is the left child when its type is 1: at level 0 the user's own ``type``; above, the
  opposite of the file's node at that level (left when there is none).
* Parent: ``h(left + "," + right + "," + "TOK:sum,…")``. Its balances are the left child's;
  when the right child's hash is not blank, BTC, USDT, ETH and USDC are added as zero if
  absent (`DEFAULT_TOKENS`, hard-coded in MEXC's verifier) and the right child's balances
  are summed in. Sums are exact; in the hash they are written plain, trailing zeros stripped.
* The root is the parent computed at the last level; its hash must equal the file's root.
* Balances sit under ``balances`` (mexcmerkle's verifier) or, in the files of the older
  ``com.mxc`` verifier (fcitem/mexc-proof-of-reserves@98868b62, ``MerklePathNode.balance``),
  under ``balance``; the hashing is the same. One file uses one key throughout (each verifier
  reads only its own), and a node holding both is refused; the result names the key used.

Invariants: exact decimal sums; levels are distinct and within 0..depth. Stricter than MEXC's
verifier (which compares the hash only): the root's stated balances must equal the computed
sums (an absent token counting as zero).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from attestations.formats.common import (
    FormatResult,
    ProofInput,
    exact,
    integer,
    load_json,
    mapping,
    need,
    parse_amount,
    path_result,
    plain,
    sequence,
    sha256hex,
    shown,
    text,
    try_json,
    whole,
)
from verifier.base.errors import InvalidProof

NAME = "mexc"
HASH_DIGITS = 32
MAX_DEPTH = 256
"""Deepest tree accepted (the depth is a loop bound; 2**256 leaves is beyond any exchange)."""
DEFAULT_TOKENS = ("BTC", "USDT", "ETH", "USDC")
"""Tokens MEXC's ``initBalanceData`` puts as "0" into a parent whose right child is not empty."""
LEFT = 1
WEAKNESSES = (
    "hashes truncated to 128 bits (sha256 cut to 32 hex digits)",
    "sum-only parents: a parent hashes only the sum of its children, not each child's "
    "balances (the known attack on Maxwell's original tree)",
    "a missing sibling is an empty node: a path may skip levels, and nothing shows how many "
    "leaves the tree has",
    "no check against negative balances: negative balances are accepted and reduce totals",
    "MEXC's own verifier compares the root hash only; the root's stated balances are checked "
    "here, but the hash binds them only through the sums of the path",
    "inclusion of one account only: the other leaves and the completeness of the tree are "
    "not checked",
)
_TOKEN = re.compile(r"[^,:\x00-\x1f\x7f]+")
"""A token the hashed text can hold unambiguously (no separator, no control character)."""
_HASH = re.compile(r"([0-9a-f]{32})?")
BALANCE_KEYS = ("balances", "balance")
"""Where a node keeps its balances: mexcmerkle's ``balances``, the older ``com.mxc`` ``balance``."""


@dataclass(frozen=True, slots=True)
class Node:
    hash: str
    kind: int
    balances: dict[str, Decimal] = field(default_factory=dict)


def looks_like(inp: ProofInput) -> bool:
    doc = try_json(inp.data)
    if not isinstance(doc, dict) or not {"self", "pathList"} <= set(doc):
        return False
    me = doc["self"]
    return isinstance(me, dict) and "proofId" in me and "hash" in me


def java_sorted(keys: list[str]) -> list[str]:
    """``TreeMap`` order: Java's ``String.compareTo`` compares UTF-16 code units."""
    return sorted(keys, key=lambda k: k.encode("utf-16-be", "surrogatepass"))


def _balances(value: object, where: str) -> tuple[dict[str, Decimal], dict[str, str]]:
    obj = mapping(value, where)
    texts: dict[str, str] = {}
    for key, raw in obj.items():
        if not _TOKEN.fullmatch(key):
            raise InvalidProof(
                "fields", f"{where}: token {shown(key)} cannot be hashed unambiguously"
            )
        texts[key] = text(raw, f"{where}.{key}")
    return {k: parse_amount(v, f"{where}.{k}") for k, v in texts.items()}, texts


def balance_key(entry: Mapping[str, object], where: str) -> str:
    """The key holding this node's balances: exactly one of `BALANCE_KEYS`."""
    present = [key for key in BALANCE_KEYS if key in entry]
    if len(present) > 1:
        raise InvalidProof("fields", f"{where}: both 'balances' and 'balance' (one node, one key)")
    if not present:
        raise InvalidProof("fields", f"{where}: missing 'balances' (or 'balance')")
    return present[0]


def _hash(value: object, where: str) -> str:
    digest = text(value, where)
    if not _HASH.fullmatch(digest):
        raise InvalidProof(
            "fields", f"{where}: {shown(digest)} is not 32 lowercase hex digits or empty"
        )
    return digest


def _digest(content: str) -> str:
    return sha256hex(content)[:HASH_DIGITS]


def joined(values: Mapping[str, str]) -> str:
    return ",".join(f"{k}:{values[k]}" for k in java_sorted(list(values)))


def inner(left: Node, right: Node, kind: int) -> Node:
    """MEXC's ``createInnerNode``: the left child's balances, then (right not blank) the
    default tokens at zero and the right child's balances summed in."""
    sums = dict(left.balances)
    with exact():
        if right.hash.strip():
            for token in DEFAULT_TOKENS:
                sums.setdefault(token, Decimal(0))
            for token, value in right.balances.items():
                sums[token] = sums.get(token, Decimal(0)) + value
    body = joined({k: plain(v) for k, v in sums.items()})
    return Node(_digest(left.hash + "," + right.hash + "," + body), kind, sums)


def _levels(path: list[object], key: str) -> tuple[dict[int, Node], int, dict[str, Decimal], str]:
    """The file's nodes by level, the depth, the root's stated balances and hash; every
    node keeps its balances under `key`, the key of the file's ``self``."""
    nodes: dict[int, Node] = {}
    for i, raw in enumerate(path):
        where = f"pathList[{i}]"
        entry = mapping(raw, where)
        level = integer(need(entry, "level", where), f"{where}.level")
        if level in nodes:
            raise InvalidProof("path", f"{where}: a second node at level {level}")
        if balance_key(entry, where) != key:
            raise InvalidProof(
                "fields",
                f"{where}: balances under a key other than self's {key!r} (one file, one key)",
            )
        node = Node(
            _hash(need(entry, "hash", where), f"{where}.hash"),
            integer(need(entry, "type", where), f"{where}.type"),
            _balances(entry[key], f"{where}.{key}")[0],
        )
        if not node.hash and any(node.balances.values()):
            # MEXC's verifier ignores an empty right node's balances: they would prove nothing
            raise InvalidProof("path", f'{where}: an empty node (hash "") with non-zero balances')
        nodes[level] = node
    depth = integer(mapping(path[-1], "root")["level"], "root.level")
    if not 1 <= depth <= MAX_DEPTH:
        raise InvalidProof("path", f"root.level: {depth} is not between 1 and {MAX_DEPTH}")
    beyond = sorted(level for level in nodes if not 0 <= level <= depth)
    if beyond:
        raise InvalidProof("path", f"pathList: levels {beyond} lie outside 0..{depth}")
    root = nodes[depth]
    if not root.hash:
        raise InvalidProof("fields", "root.hash: empty")
    return nodes, depth, root.balances, root.hash


def verify(inp: ProofInput) -> FormatResult:
    """Verify a MEXC ``merkle_proof.json``-style file."""
    doc = mapping(load_json(inp.data, "the proof file", inp.name), "proof")
    me = mapping(need(doc, "self", "proof"), "self")
    path = sequence(need(doc, "pathList", "proof"), "pathList")
    if not path:
        raise InvalidProof("fields", "pathList: empty")
    key = balance_key(me, "self")
    amounts, texts = _balances(me[key], f"self.{key}")
    proof_id = text(need(me, "proofId", "self"), "self.proofId")
    account = text(need(me, "accountId", "self"), "self.accountId")
    own = _hash(need(me, "hash", "self"), "self.hash")
    kind = integer(need(me, "type", "self"), "self.type")
    nodes, depth, stated, root_hash = _levels(path, key)
    checks = [
        f"file well-formed: {len(path) - 1} path nodes and the root at level {depth}, "
        f"balances under {key!r}"
    ]
    leaf = _digest(proof_id + "," + account + "," + joined(texts))
    if leaf != own:
        raise InvalidProof(
            "leaf hash",
            f"sha256(proofId, accountId, balances)[:32] = {leaf}, the file states {own}",
        )
    checks.append("leaf recomputed from proofId, accountId and the sorted balances")
    node, empty = Node(own, kind, amounts), 0
    for level in range(depth):
        sibling = nodes.get(level)
        if sibling is None:
            sibling = Node("", LEFT + 1 if node.kind == LEFT else LEFT)
        empty += not sibling.hash
        left, right = (node, sibling) if node.kind == LEFT else (sibling, node)
        above = nodes.get(level + 1)
        parent_kind = LEFT if above is None or above.kind != LEFT else LEFT + 1
        node = inner(left, right, parent_kind)
    checks.append(
        f"{depth} parents recomputed ({empty} with an empty sibling), sums with "
        f"{'/'.join(DEFAULT_TOKENS)} defaulted to zero as MEXC's verifier does"
    )
    if node.hash != root_hash:
        raise InvalidProof(
            "root hash", f"the path hashes to {node.hash}, the file's root is {root_hash}"
        )
    differ = sorted(
        k
        for k in {*node.balances, *stated}
        if node.balances.get(k, Decimal(0)) != stated.get(k, Decimal(0))
    )
    if differ:
        raise InvalidProof(
            "root sums",
            f"the path sums to {whole(node.balances)}, the file's root states {whole(stated)} "
            f"(differ: {', '.join(differ)})",
        )
    checks.append(f"root {root_hash} (level {depth}) and its totals match the file")
    seen = [
        k for n in (amounts, *(n.balances for n in nodes.values())) for k, v in n.items() if v < 0
    ]
    return path_result(
        NAME,
        checks,
        amounts,
        root_hash,
        node.balances,
        WEAKNESSES,
        sorted(set(seen)),
        {"empty_siblings": empty, "variant": key},
    )
