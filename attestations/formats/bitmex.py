"""BitMEX's full liabilities tree (BitMEX/proof-of-reserves-liabilities): every node listed.

Where it sits: a foreign format of `attestations/formats/` (registry in `__init__.py`);
pure, called by `verifier/external/check.py`.

Rules (``liabilities-<height>-proof.csv``):
* Line 1 ``block_height:<h>``, then ``hexdigest,value`` for every node: the root first, then
  each level left to right; values are integer satoshi (XBt).
* Node: ``sha256(left_digest || u64le(left_value) || right_digest || u64le(right_value))``;
  a node's value is the sum of its children's.
* Leaf: ``HMAC-SHA256(key = sub_nonce, msg = u64le(value) || u64le(leaf_index))`` with
  ``sub_nonce = sha256(account_nonce || u64le(block_height) || u64le(account))``.

Invariants: the whole tree is checked (every internal node's hash and value), values fit
in 64 bits; with `--nonce ACCOUNT,NONCE_HEX` the account's leaves are those whose digest
the HMAC reproduces. A nonce that opens no leaf is a result (``valid=False``, "no leaf for
this account", the tree itself consistent), not a crash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from decimal import Decimal

from attestations.formats.common import FormatResult, ProofInput, exact, plain, shown
from verifier.base.errors import InvalidProof, UsageError

NAME = "bitmex"
U64 = 2**64
SATS = 10**8
# at most 20 digits (2**64 has 20): int() is never asked for more, and every value is
# checked against 2**64 before it is packed into 8 bytes
_HEADER = re.compile(r"block_height:([0-9]{1,20})")
_ROW = re.compile(r"([0-9a-f]{64}),([0-9]{1,20})")
_NONCE = re.compile(r"([0-9]{1,20})[,:]((?:[0-9a-fA-F]{2}){1,1024})")
WEAKNESSES = (
    "leaf values are unsigned 64-bit integers, so negative balances cannot occur, but the "
    "leaf set itself is the exchange's: without every customer's nonce nobody can tell a "
    "real account from a filler leaf",
    "a single asset (XBt) per tree: other liabilities are not committed",
    "an account's balance is split over leaves at known indices; a customer sees only the "
    "leaves their nonce opens",
    "the block height on line 1 is bound only through the leaves' HMACs: without --nonce "
    "nothing checks it",
)


def _u64(n: int) -> bytes:
    return n.to_bytes(8, "little")


def node_hash(left: bytes, left_value: int, right: bytes, right_value: int) -> bytes:
    return hashlib.sha256(left + _u64(left_value) + right + _u64(right_value)).digest()


def leaf_digest(nonce: bytes, height: int, account: int, value: int, index: int) -> bytes:
    sub_nonce = hashlib.sha256(nonce + _u64(height) + _u64(account)).digest()
    return hmac.new(sub_nonce, _u64(value) + _u64(index), hashlib.sha256).digest()


def looks_like(inp: ProofInput) -> bool:
    head = inp.data[:64].decode("ascii", "replace")
    return head.startswith("block_height:")


def parse(data: bytes) -> tuple[int, list[tuple[bytes, int]]]:
    """Block height and the nodes in file order (root first)."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        at = data[: exc.start].count(b"\n") + 1
        raise InvalidProof("fields", f"line {at}: the tree file is not ASCII text") from None
    # numbered as a reader counts them (blank lines included)
    lines = [(n, ln.strip()) for n, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    if not lines or not (m := _HEADER.fullmatch(lines[0][1])):
        found = shown(lines[0][1]) if lines else "an empty file"
        raise InvalidProof("fields", f"line 1 is not 'block_height:<n>': {found}")
    height = int(m.group(1))
    if height >= U64:
        raise InvalidProof("fields", f"line 1: block height {height} does not fit in 64 bits")
    nodes = []
    for number, line in lines[1:]:
        row = _ROW.fullmatch(line.lower())
        if not row:
            raise InvalidProof("fields", f"line {number}: not 'hexdigest,value': {shown(line)}")
        value = int(row.group(2))
        if value >= U64:
            raise InvalidProof("fields", f"line {number}: value {value} does not fit in 64 bits")
        nodes.append((bytes.fromhex(row.group(1)), value))
    return height, nodes


def parse_nonce(text: str) -> tuple[int, bytes]:
    m = _NONCE.fullmatch(text.strip())
    if not m or int(m.group(1)) >= U64:
        raise UsageError(
            "--nonce for bitmex is ACCOUNT,NONCE_HEX (as in nonces.txt; the account a "
            "64-bit number)"
        )
    return int(m.group(1)), bytes.fromhex(m.group(2))


def _btc(sats: int) -> str:
    with exact():
        return plain(Decimal(sats) / SATS)


def verify(inp: ProofInput) -> FormatResult:
    """Check every node of a BitMEX tree; with a nonce, find the account's leaves."""
    height, nodes = parse(inp.data)
    count = len(nodes)
    depth = (count + 1).bit_length() - 1
    if count == 0 or 2**depth - 1 != count:
        raise InvalidProof("tree shape", f"{count} nodes is not a complete binary tree (2**k - 1)")
    if count == 1:
        # a lone root is bound to nothing: its value could be any number at all
        raise InvalidProof("tree shape", "one node and no children: nothing to check the root by")
    checks = [f"block height {height}; {count} nodes, {2 ** (depth - 1)} leaves, depth {depth}"]
    for i in range(count // 2):
        (lh, lv), (rh, rv) = nodes[2 * i + 1], nodes[2 * i + 2]
        digest, value = nodes[i]
        if lv + rv != value:
            raise InvalidProof(
                "node value", f"node {i}: children sum to {lv + rv}, the file has {value}"
            )
        if node_hash(lh, lv, rh, rv) != digest:
            raise InvalidProof(
                "node hash",
                f"node {i}: sha256 of its children is {node_hash(lh, lv, rh, rv).hex()}, "
                f"the file has {digest.hex()}",
            )
    checks.append("every internal node recomputed: sha256 of both child digests and values")
    checks.append("every node's value equals the sum of its children's")
    root, total = nodes[0]
    details: dict[str, object] = {"block_height": height, "tree_consistent": True}
    balances: dict[str, str] = {}
    valid, reason, failed = True, None, None
    if inp.nonce is not None:
        account, nonce = parse_nonce(inp.nonce)
        first_leaf = count // 2
        mine = [
            (index, value)
            for index, (digest, value) in enumerate(nodes[first_leaf:])
            if hmac.compare_digest(leaf_digest(nonce, height, account, value, index), digest)
        ]
        details["account"] = account
        details["leaves"] = [index for index, _ in mine]
        if mine:
            sats = sum(v for _, v in mine)
            balances = {"XBT": _btc(sats)}
            checks.append(f"account {account}: the nonce opens leaves {details['leaves']}")
        else:
            valid, failed = False, "account not found"
            reason = (
                f"no leaf for this account: the nonce for account {account} opens none of the "
                f"{count - first_leaf} leaves at block height {height} (the tree itself is "
                "consistent)"
            )
    return FormatResult(
        format=NAME,
        valid=valid,
        checks=tuple(checks),
        balances=balances,
        root=root.hex(),
        totals={"XBT": _btc(total)},
        weaknesses=WEAKNESSES,
        reason=reason,
        failed_check=failed,
        details=details | {"total_base_units": str(total)},
    )
