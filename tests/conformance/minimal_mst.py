"""A minimal, independent implementation of `por-mst-v1`, written only from the format's normative text (docs/spec/por-mst-v1.md).

It exists to cross-check the tool: it imports nothing from `attestations/` or `verifier/`,
favours obviousness over speed (plain Python integers, lists, one function per rule), and
reads like the spec. Nothing here is meant for production use.

    builder:  make_leaves(...) -> arrange(...) -> Tree(...) -> .root_document(), .proof(id)
    verifier: verify(proof_dict, root_document=None, published_commitment=None) -> {code: n}
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
from dataclasses import dataclass

FORMAT = "por-mst-v1"
LIMIT = 2**128  # every balance and sum component is < 2**128 (16 bytes)
CODE = re.compile(r"[A-Z0-9._-]{1,16}")
HEX32 = re.compile(r"[0-9a-f]{64}")
DECIMAL = re.compile(r"0|[1-9][0-9]*")


class Invalid(Exception):
    """The proof (or root document) does not verify."""


# ----------------------------------------------------------------------------- byte rules


def H(*parts: bytes) -> bytes:
    """`H` is SHA-256; `||` is concatenation."""
    return hashlib.sha256(b"".join(parts)).digest()


def u(n: int, size: int) -> bytes:
    """Unsigned big-endian integer of `size` bytes (raises OverflowError when it does not fit)."""
    return n.to_bytes(size, "big", signed=False)


def enc(v: list[int] | tuple[int, ...]) -> bytes:
    """`enc(v)`: each value as 16 bytes."""
    for x in v:
        if not 0 <= x < LIMIT:
            raise OverflowError(f"{x} is not in 0 .. 2**128-1")
    return b"".join(u(x, 16) for x in v)


def account_hash(account_id: str) -> bytes:
    return H(b"\x04", account_id.encode("utf-8"))


def leaf_hash(salt: bytes, account_id: str, balances: list[int] | tuple[int, ...]) -> bytes:
    assert len(salt) == 32
    return H(b"\x00", salt, account_hash(account_id), enc(balances))


def pad_hash(pad_salt: bytes) -> bytes:
    assert len(pad_salt) == 32
    return H(b"\x02", pad_salt)


Node = tuple[bytes, tuple[int, ...]]  # (hash, sums)


def parent(left: Node, right: Node) -> Node:
    """`H(0x01 || L.hash || enc(L.sums) || R.hash || enc(R.sums))`, sums added component-wise."""
    sums = tuple(a + b for a, b in zip(left[1], right[1], strict=True))
    if any(s >= LIMIT for s in sums):
        raise OverflowError("a node sum reaches 2**128")
    return H(b"\x01", left[0], enc(left[1]), right[0], enc(right[1])), sums


def height_for(leaf_count: int) -> int:
    """`max(1, ceil(log2(n)))`: the smallest h >= 1 with 2**h >= n."""
    h = 1
    while 2**h < leaf_count:
        h += 1
    return h


def commitment_preimage(attestation_id: str, assets: list[dict], height: int, root: Node) -> bytes:
    ident = attestation_id.encode("utf-8")
    out = b"\x03" + u(len(ident), 2) + ident + u(len(assets), 1)
    for asset in assets:
        code = asset["code"].encode("ascii")
        out += u(len(code), 1) + code + u(asset["decimals"], 1)
    return out + u(height, 1) + root[0] + enc(root[1])


def commitment(attestation_id: str, assets: list[dict], height: int, root: Node) -> bytes:
    return H(commitment_preimage(attestation_id, assets, height, root))


def recommended_salt(master_secret: bytes, account_id: str, part: int) -> bytes:
    """`HMAC-SHA256(master_secret, utf8(account_id) || u32(part))`."""
    return hmac.new(master_secret, account_id.encode("utf-8") + u(part, 4), hashlib.sha256).digest()


def check_assets(assets: list[dict]) -> None:
    codes = [a["code"] for a in assets]
    if not 1 <= len(assets) <= 255:
        raise Invalid("1..255 assets")
    for a in assets:
        if not isinstance(a["code"], str) or not CODE.fullmatch(a["code"]):
            raise Invalid(f"bad asset code {a['code']!r}")
        if type(a["decimals"]) is not int or not 0 <= a["decimals"] <= 36:
            raise Invalid(f"bad decimals {a['decimals']!r}")
    if codes != sorted(set(codes), key=lambda c: c.encode("ascii")):
        raise Invalid("asset codes not sorted (ASCII) and unique")


def whole_units(units: int, decimals: int) -> str:
    """Base units shown in whole units (exact; trailing zeros dropped)."""
    if decimals == 0:
        return str(units)
    text = str(units).rjust(decimals + 1, "0")
    whole, frac = text[:-decimals], text[-decimals:].rstrip("0")
    return f"{whole}.{frac}" if frac else whole


# ----------------------------------------------------------------------------- builder


@dataclass(frozen=True)
class Leaf:
    """An account leaf (account_id set) or a padding leaf (account_id None, zero balances)."""

    account_id: str | None
    salt: bytes  # the leaf's salt, or the padding leaf's pad_salt
    balances: tuple[int, ...]
    part: int = 0

    def node(self) -> Node:
        if self.account_id is None:
            assert not any(self.balances)
            return pad_hash(self.salt), self.balances
        return leaf_hash(self.salt, self.account_id, self.balances), self.balances


def random_split(value: int, parts: int, rng: random.Random) -> list[int]:
    """`parts` random non-negative integers adding up to `value`."""
    cuts = sorted(rng.randint(0, value) for _ in range(parts - 1))
    bounds = [0, *cuts, value]
    return [bounds[i + 1] - bounds[i] for i in range(parts)]


def make_leaves(
    accounts: dict[str, list[int]],
    master_secret: bytes,
    *,
    split: int = 1,
    rng: random.Random | None = None,
) -> list[Leaf]:
    """Account leaves: salts by the recommended derivation, balances optionally split."""
    rng = rng or random.Random(0)
    leaves = []
    for account_id, balances in accounts.items():
        columns = [random_split(v, split, rng) for v in balances]  # per asset, per part
        for part in range(split):
            leaves.append(
                Leaf(
                    account_id,
                    recommended_salt(master_secret, account_id, part),
                    tuple(column[part] for column in columns),
                    part,
                )
            )
    return leaves


def arrange(leaves: list[Leaf], asset_count: int, rng: random.Random) -> list[Leaf]:
    """Shuffle the leaves, then pad with padding leaves to 2**height."""
    ordered = list(leaves)
    rng.shuffle(ordered)
    size = 2 ** height_for(len(ordered))
    zero = (0,) * asset_count
    return ordered + [Leaf(None, rng.randbytes(32), zero) for _ in range(size - len(ordered))]


class Tree:
    """All levels of a tree over `leaves`, given in final order (len must be 2**height)."""

    def __init__(self, attestation_id: str, as_of: str, assets: list[dict], leaves: list[Leaf]):
        check_assets(assets)
        self.attestation_id, self.as_of, self.assets = attestation_id, as_of, assets
        self.leaves = leaves
        self.height = height_for(len(leaves))
        assert len(leaves) == 2**self.height, "pad the leaves first (arrange)"
        self.levels: list[list[Node]] = [[leaf.node() for leaf in leaves]]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([parent(below[i], below[i + 1]) for i in range(0, len(below), 2)])
        self.root = self.levels[-1][0]
        self.commitment = commitment(attestation_id, assets, self.height, self.root)

    def _header(self) -> dict:
        return {
            "format": FORMAT,
            "attestation_id": self.attestation_id,
            "as_of": self.as_of,
            "assets": [{"code": a["code"], "decimals": a["decimals"]} for a in self.assets],
            "height": self.height,
        }

    def root_document(self) -> dict:
        return {**self._header(), "root": node_json(self.root), "commitment": self.commitment.hex()}

    def proof(self, account_id: str) -> dict:
        leaves = []
        for index, leaf in enumerate(self.leaves):
            if leaf.account_id != account_id:
                continue
            path = [
                node_json(self.levels[level][(index >> level) ^ 1]) for level in range(self.height)
            ]
            leaves.append(
                {
                    "index": index,
                    "salt": leaf.salt.hex(),
                    "balances": [str(b) for b in leaf.balances],
                    "path": path,
                }
            )
        if not leaves:
            raise KeyError(account_id)
        return {
            **self._header(),
            "account_id": account_id,
            "leaves": leaves,
            "root": node_json(self.root),
            "commitment": self.commitment.hex(),
        }

    def account_ids(self) -> list[str]:
        return sorted({leaf.account_id for leaf in self.leaves if leaf.account_id is not None})


def node_json(node: Node) -> dict:
    return {"hash": node[0].hex(), "sums": [str(s) for s in node[1]]}


# ----------------------------------------------------------------------------- verifier


def _small_int(x: object, low: int, high: int) -> int:
    """index, height, decimals: a JSON integer (or a canonical decimal string)."""
    if isinstance(x, str) and DECIMAL.fullmatch(x):
        x = int(x)
    if type(x) is not int or not low <= x <= high:
        raise Invalid(f"expected an integer in {low}..{high}, got {x!r}")
    return x


def _amount(x: object) -> int:
    """Balances and sums: canonical decimal strings, 0 <= x < 2**128."""
    if not isinstance(x, str) or not DECIMAL.fullmatch(x) or int(x) >= LIMIT:
        raise Invalid(f"expected a decimal string below 2**128, got {x!r}")
    return int(x)


def _hex32(x: object) -> bytes:
    if not isinstance(x, str) or not HEX32.fullmatch(x):
        raise Invalid(f"expected 64 lowercase hex digits, got {x!r}")
    return bytes.fromhex(x)


def _text(x: object) -> str:
    if not isinstance(x, str):
        raise Invalid(f"expected a string, got {x!r}")
    try:
        x.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Invalid("not valid UTF-8 text") from exc
    return x


def _node(x: object, asset_count: int) -> Node:
    if not isinstance(x, dict):
        raise Invalid("a node must be an object")
    sums = x.get("sums")
    if not isinstance(sums, list) or len(sums) != asset_count:
        raise Invalid("a node needs one sum per asset")
    return _hex32(x.get("hash")), tuple(_amount(s) for s in sums)


def _header(doc: object) -> tuple[str, str, list[dict], int, Node, bytes]:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise Invalid("not a por-mst-v1 document")
    attestation_id, as_of = _text(doc.get("attestation_id")), _text(doc.get("as_of"))
    raw_assets = doc.get("assets")
    if not isinstance(raw_assets, list) or not all(
        isinstance(a, dict) and "code" in a and "decimals" in a for a in raw_assets
    ):
        raise Invalid("assets must be a list of {code, decimals}")
    assets = [{"code": a["code"], "decimals": _small_int(a["decimals"], 0, 36)} for a in raw_assets]
    check_assets(assets)
    height = _small_int(doc.get("height"), 1, 255)
    root = _node(doc.get("root"), len(assets))
    return attestation_id, as_of, assets, height, root, _hex32(doc.get("commitment"))


def check_root_document(doc: object) -> dict[str, int]:
    """Check a root document's shape and that its commitment recomputes; returns its sums."""
    attestation_id, _, assets, height, root, commit = _header(doc)
    if commitment(attestation_id, assets, height, root) != commit:
        raise Invalid("the root document's commitment does not recompute")
    return {a["code"]: s for a, s in zip(assets, root[1], strict=True)}


def verify(
    proof: object, root_document: object = None, published_commitment: bytes | None = None
) -> dict[str, int]:
    """Verify an inclusion proof dict; returns the account's balances {code: base units}."""
    attestation_id, as_of, assets, height, root, commit = _header(proof)
    assert isinstance(proof, dict)
    account_id, leaves = _text(proof.get("account_id")), proof.get("leaves")
    if not isinstance(leaves, list) or not leaves:
        raise Invalid("leaves must be a non-empty list")
    total = [0] * len(assets)
    seen = set()
    for leaf in leaves:
        if not isinstance(leaf, dict):
            raise Invalid("a leaf must be an object")
        index = _small_int(leaf.get("index"), 0, 2**height - 1)
        if index in seen:
            raise Invalid(f"leaf index {index} twice")
        seen.add(index)
        salt = _hex32(leaf.get("salt"))
        balances = leaf.get("balances")
        if not isinstance(balances, list) or len(balances) != len(assets):
            raise Invalid("one balance per asset")
        v = tuple(_amount(b) for b in balances)
        path = leaf.get("path")
        if not isinstance(path, list) or len(path) != height:
            raise Invalid("len(path) must equal height")
        node: Node = (leaf_hash(salt, account_id, v), v)
        for level, raw_sibling in enumerate(path):
            sibling = _node(raw_sibling, len(assets))
            try:
                is_right = (index >> level) & 1
                node = parent(sibling, node) if is_right else parent(node, sibling)
            except OverflowError as exc:
                raise Invalid(str(exc)) from exc
        if node != root:
            raise Invalid("leaf does not hash up to the stated root (hash and sums)")
        total = [t + b for t, b in zip(total, v, strict=True)]
    if commitment(attestation_id, assets, height, root) != commit:
        raise Invalid("commitment does not recompute")
    if root_document is not None:
        check_root_document(root_document)
        p_id, p_as_of, p_assets, p_height, p_root, p_commit = _header(root_document)
        if (p_id, p_as_of, p_assets, p_height, p_root, p_commit) != (
            attestation_id,
            as_of,
            assets,
            height,
            root,
            commit,
        ):
            raise Invalid("proof differs from the published root document")
    if published_commitment is not None and published_commitment != commit:
        raise Invalid("commitment differs from the published one")
    return {a["code"]: t for a, t in zip(assets, total, strict=True)}
