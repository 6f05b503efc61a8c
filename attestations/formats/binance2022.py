"""The auditor tool of Binance's November 2022 proof (silversixpence-crypto/merkletree-verify).

Where it sits: a foreign format of `attestations/formats/` (registry in `__init__.py`);
pure, called by `verifier/external/check.py` with every ``tree-levelK.csv`` already read.

Rules: ``tree-levelK.csv`` rows ``parent,K,left,right`` with
``parent = sha256(bytes.fromhex(left + right))``. Level 1's children are the leaves
(``sha256hex(user_id + salt + audit_id + "BTC=…|ETH=…")``, which only the user can
recompute). The nodes of level K, in order, are level K's parents followed by an odd last
node of level K-1, which is promoted unchanged; level K+1's children must be exactly that
sequence. The top level has one row: the root.

Invariants: every parent is recomputed; the children of each level are the previous level's
nodes in order, with nothing dropped, added or reordered. With `--nonce LEAF_HASH` the leaf
must be among level 1's children.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from attestations.formats.common import FormatResult, ProofInput, shown
from verifier.base.errors import InvalidProof

NAME = "binance-2022"
# a level number has at most 4 digits (a tree of 2**9999 leaves does not exist), so int()
# is never asked for thousands of digits
_ROW = re.compile(r"([0-9a-f]{64}),([0-9]{1,4}),([0-9a-f]{64}),([0-9a-f]{64})")
_LEVEL_FILE = re.compile(r"tree-level([0-9]{1,4})\.csv")
WEAKNESSES = (
    "no sums at all: the tree proves that a leaf is included, not any total; the liabilities "
    "figure cannot be checked from it",
    "odd nodes are promoted unchanged, so leaves sit at different depths and a path's length "
    "does not reveal the tree's size",
    "leaves cannot be recomputed without the user's id, salt and audit id; nobody can check "
    "that other leaves are real accounts or that balances are non-negative",
)


def level_number(name: str) -> int | None:
    m = _LEVEL_FILE.fullmatch(name.rsplit("/", 1)[-1])
    return int(m.group(1)) if m else None


def looks_like(inp: ProofInput) -> bool:
    if inp.level_files:
        return all(level_number(n) is not None for n in inp.level_files)
    first = inp.data[:300].decode("ascii", "replace").splitlines()[:1]
    return bool(first) and _ROW.fullmatch(first[0].strip().lower()) is not None


def _rows(name: str, data: bytes, level: int) -> list[tuple[str, str, str]]:
    rows = []
    for number, line in enumerate(data.decode("ascii", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        m = _ROW.fullmatch(line.strip().lower())
        if not m:
            raise InvalidProof(
                "fields", f"{name} line {number}: not 'parent,K,left,right': {shown(line)}"
            )
        if int(m.group(2)) != level:
            raise InvalidProof("fields", f"{name} line {number}: level {m.group(2)}, not {level}")
        rows.append((m.group(1), m.group(3), m.group(4)))
    return rows


def verify(inp: ProofInput) -> FormatResult:
    """Rebuild a Binance-2022 tree from all its level files and check every parent."""
    files: Mapping[str, bytes] = inp.level_files or {inp.name: inp.data}
    by_level: dict[int, tuple[str, bytes]] = {}
    for name, data in files.items():
        level = level_number(name)
        if level is None or level == 0:
            raise InvalidProof("fields", f"{name}: not a tree-levelK.csv file (K from 1)")
        by_level[level] = (name, data)
    top = max(by_level)
    if len(by_level) != top or min(by_level) != 1:
        # levels are distinct, so at most len(by_level) of 1..top are there: list a few gaps
        missing = [k for k in range(1, min(top, len(by_level) + 10) + 1) if k not in by_level]
        raise InvalidProof(
            "missing level", f"level files {missing[:10]} are missing (need 1..{top})"
        )
    levels = {k: _rows(*by_level[k], k) for k in by_level}
    leaves = [child for _, left, right in levels[1] for child in (left, right)]
    nodes = leaves  # the sequence the next level pairs up
    promoted = 0
    for k in range(1, top + 1):
        rows = levels[k]
        children = [c for _, left, right in rows for c in (left, right)]
        expected = nodes[: len(nodes) - len(nodes) % 2]
        if children != expected:
            bad = next(
                (i for i, (a, b) in enumerate(zip(children, expected, strict=False)) if a != b),
                None,
            )
            raise InvalidProof(
                "tree shape",
                f"level {k}: its children are not the level below's nodes in order "
                f"({len(children)} children for {len(nodes)} nodes; first difference at "
                f"{bad if bad is not None else min(len(children), len(expected))})",
            )
        for i, (digest, left, right) in enumerate(rows):
            computed = hashlib.sha256(bytes.fromhex(left + right)).hexdigest()
            if computed != digest:
                raise InvalidProof(
                    "node hash",
                    f"level {k} row {i + 1}: sha256(left||right) is {computed}, "
                    f"the file has {digest}",
                )
        parents = [digest for digest, _, _ in rows]
        if len(nodes) % 2:
            parents.append(nodes[-1])
            promoted += 1
        nodes = parents
    if len(nodes) != 1:
        raise InvalidProof("root", f"the top level {top} leaves {len(nodes)} nodes, not one root")
    root = nodes[0]
    checks = [
        f"{top} level files; {len(leaves)} leaves; "
        f"{sum(len(r) for r in levels.values())} parents recomputed as sha256(left || right)",
        f"each level's children are the level below's nodes in order ({promoted} odd nodes "
        "promoted unchanged)",
        f"one root at level {top}: {root}",
    ]
    details: dict[str, object] = {"leaves": len(leaves), "levels": top}
    valid, reason, failed = True, None, None
    if inp.nonce is not None:
        leaf = inp.nonce.strip().lower()
        if leaf in leaves:
            checks.append(f"leaf {leaf} is at position {leaves.index(leaf)} of level 1")
            details["leaf_index"] = leaves.index(leaf)
        else:
            valid, failed = False, "leaf not found"
            reason = f"leaf {leaf} is not among the {len(leaves)} leaves (the tree is consistent)"
            details["tree_consistent"] = True
    return FormatResult(
        format=NAME,
        valid=valid,
        checks=tuple(checks),
        balances={},
        root=root,
        totals={},
        weaknesses=WEAKNESSES,
        reason=reason,
        failed_check=failed,
        details=details,
    )
