"""Root documents and inclusion proofs of `por-mst-v1`: parse, serialise, verify.

Pure: values in, values out; no network, no files (the CLI reads and writes them).

Verification follows DESIGN.md step by step, one check per line, raising `InvalidProof`
with the name of the failed check:
  1. every field well-formed (types, lengths, ranges, lowercase hex, decimal strings,
     ``len(path) == height``, ``index < 2**height``, distinct leaf indices);
  2. each leaf recomputed from salt, account id and balances, then walked to the root;
  3. the computed root hash and sums equal the proof's root;
  4. the recomputed commitment equals the proof's;
  5. when a published root document or commitment is given, the proof matches it too.
Anything a check reads is checked; unknown extra keys are reported, not trusted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from attestations.encoding import (
    FORMAT,
    HASH_LEN,
    MAX_SUM,
    SALT_LEN,
    AssetSpec,
    account_hash,
    add_sums,
    check_assets,
    commitment,
    leaf_hash,
    node_hash,
)
from verifier.base.errors import InvalidProof, SumOverflow

_HEX64 = re.compile(r"[0-9a-f]{64}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
MAX_DECIMAL_DIGITS = 80
"""Longest decimal string read as an integer (2**256 has 78 digits): a longer one is refused
before ``int()``, which would be refused or quadratic on thousands of digits."""
MAX_PROOF_HEIGHT = 255
MAX_ACCOUNT_ID_BYTES = 65535

ROOT_KEYS = frozenset(
    {"format", "attestation_id", "as_of", "assets", "height", "root", "commitment"}
)
PROOF_KEYS = ROOT_KEYS | {"account_id", "leaves"}


# ----------------------------------------------------------------------------- value objects


@dataclass(frozen=True, slots=True)
class SumNode:
    """A tree node as it appears in documents: its hash and its per-asset sums."""

    hash: bytes
    """32-byte SHA-256 node hash."""
    sums: tuple[int, ...]
    """One sum per asset, in asset order, each ``0 <= s < 2**128``."""

    def to_json(self) -> dict[str, Any]:
        return {"hash": self.hash.hex(), "sums": [str(s) for s in self.sums]}


@dataclass(frozen=True, slots=True)
class RootDocument:
    """The public `root.json`."""

    attestation_id: str
    as_of: str
    assets: tuple[AssetSpec, ...]
    height: int
    root: SumNode
    commitment: bytes
    excluded: Mapping[str, Any] | None = None
    """Rows dropped by `--negative exclude`: count and total per asset (informative)."""

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "format": FORMAT,
            "attestation_id": self.attestation_id,
            "as_of": self.as_of,
            "assets": [{"code": a.code, "decimals": a.decimals} for a in self.assets],
            "height": self.height,
            "root": self.root.to_json(),
            "commitment": self.commitment.hex(),
        }
        if self.excluded is not None:
            doc["excluded"] = dict(self.excluded)
        return doc


@dataclass(frozen=True, slots=True)
class ProofLeaf:
    """One leaf of an account in a proof, with its authentication path."""

    index: int
    """Position among the ``2**height`` leaves; bit ``i`` set = right child at level ``i``."""
    salt: bytes
    """32-byte salt, secret to the exchange and this customer."""
    balances: tuple[int, ...]
    """This leaf's part of the account's balances, base units, asset order."""
    path: tuple[SumNode, ...]
    """Siblings from the leaf level up; ``height`` entries."""

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "salt": self.salt.hex(),
            "balances": [str(b) for b in self.balances],
            "path": [node.to_json() for node in self.path],
        }


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """One account's inclusion proof (one file per account)."""

    attestation_id: str
    as_of: str
    assets: tuple[AssetSpec, ...]
    height: int
    account_id: str
    leaves: tuple[ProofLeaf, ...]
    root: SumNode
    commitment: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "attestation_id": self.attestation_id,
            "as_of": self.as_of,
            "assets": [{"code": a.code, "decimals": a.decimals} for a in self.assets],
            "height": self.height,
            "account_id": self.account_id,
            "leaves": [leaf.to_json() for leaf in self.leaves],
            "root": self.root.to_json(),
            "commitment": self.commitment.hex(),
        }


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    """What a successful verification established."""

    account_id: str
    attestation_id: str
    as_of: str
    assets: tuple[AssetSpec, ...]
    balances: tuple[int, ...]
    """Sum over the account's leaves, base units, asset order."""
    commitment: bytes
    checks: tuple[str, ...]
    """Every check that passed, in order, in words."""
    warnings: tuple[str, ...] = field(default=())

    def balances_whole(self) -> dict[str, str]:
        return {
            a.code: format_units(v, a.decimals)
            for a, v in zip(self.assets, self.balances, strict=True)
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": True,
            "format": FORMAT,
            "account_id": self.account_id,
            "attestation_id": self.attestation_id,
            "as_of": self.as_of,
            "commitment": self.commitment.hex(),
            "balances": self.balances_whole(),
            "balances_base_units": {
                a.code: str(v) for a, v in zip(self.assets, self.balances, strict=True)
            },
            "checks": list(self.checks),
            "warnings": list(self.warnings),
        }


def format_units(units: int, decimals: int) -> str:
    """Base units as an exact whole-unit decimal string (``150000000``, 8 -> ``"1.5"``)."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**decimals)
    if decimals == 0 or frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{str(frac).rjust(decimals, '0').rstrip('0')}"


# ----------------------------------------------------------------------------- field parsing


def _shown(value: Any) -> str:
    """`value` for a message, at most 80 characters (a hostile file may hold megabytes)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 400:
        return f"<an integer of {value.bit_length()} bits>"  # str() of it may be refused
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _need(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise InvalidProof("fields", f"{where}: missing key {key!r}")
    return obj[key]


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidProof("fields", f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidProof("fields", f"{where}: expected a list, got {type(value).__name__}")
    return value


def _hash(value: Any, where: str) -> bytes:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise InvalidProof(
            "fields", f"{where}: expected 64 lowercase hex digits, got {_shown(value)}"
        )
    return bytes.fromhex(value)


def _small_int(value: Any, where: str, low: int, high: int) -> int:
    """A small integer: a JSON number or a canonical decimal string, within [low, high]."""
    if isinstance(value, bool):
        raise InvalidProof("fields", f"{where}: expected an integer, got {value!r}")
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        if len(value) > MAX_DECIMAL_DIGITS:
            raise InvalidProof("fields", f"{where}: {_shown(value)} not in {low}..{high}")
        value = int(value)
    if not isinstance(value, int):
        raise InvalidProof("fields", f"{where}: expected an integer, got {_shown(value)}")
    if not low <= value <= high:
        raise InvalidProof("fields", f"{where}: {_shown(value)} not in {low}..{high}")
    return value


def _amount(value: Any, where: str) -> int:
    """A balance or sum: a canonical decimal string (or a JSON integer), 0 <= x < 2**128."""
    if isinstance(value, bool):
        raise InvalidProof("fields", f"{where}: expected a decimal string, got {value!r}")
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value) or len(value) > 40:
            raise InvalidProof(
                "fields", f"{where}: not a canonical decimal string below 2**128: {_shown(value)}"
            )
        value = int(value)
    if not isinstance(value, int):
        raise InvalidProof("fields", f"{where}: expected a decimal string, got {_shown(value)}")
    if value < 0:
        raise InvalidProof("fields", f"{where}: negative amount {_shown(value)}")
    if value >= MAX_SUM:
        raise InvalidProof("fields", f"{where}: {_shown(value)} reaches 2**128")
    return value


def _amounts(value: Any, where: str, count: int) -> tuple[int, ...]:
    items = _list(value, where)
    if len(items) != count:
        raise InvalidProof("fields", f"{where}: {len(items)} values for {count} assets")
    return tuple(_amount(v, f"{where}[{i}]") for i, v in enumerate(items))


def _text(value: Any, where: str, max_bytes: int, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidProof("fields", f"{where}: expected a string, got {type(value).__name__}")
    size = len(value.encode("utf-8", errors="surrogatepass"))
    if (size == 0 and not allow_empty) or size > max_bytes:
        raise InvalidProof("fields", f"{where}: length {size} bytes not in 1..{max_bytes}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidProof("fields", f"{where}: not valid UTF-8 text") from exc
    return value


def _node(value: Any, where: str, count: int) -> SumNode:
    obj = _mapping(value, where)
    return SumNode(
        hash=_hash(_need(obj, "hash", where), f"{where}.hash"),
        sums=_amounts(_need(obj, "sums", where), f"{where}.sums", count),
    )


def _assets(value: Any) -> tuple[AssetSpec, ...]:
    items = _list(value, "assets")
    specs = []
    for i, item in enumerate(items):
        obj = _mapping(item, f"assets[{i}]")
        code = _need(obj, "code", f"assets[{i}]")
        if not isinstance(code, str) or not 1 <= len(code) <= 16:
            raise InvalidProof(
                "assets", f"assets[{i}].code: {_shown(code)} is not [A-Z0-9._-]{{1,16}}"
            )
        decimals = _small_int(
            _need(obj, "decimals", f"assets[{i}]"), f"assets[{i}].decimals", 0, 36
        )
        specs.append(AssetSpec(code=code, decimals=decimals))
    return check_assets(specs)


def _header(obj: Mapping[str, Any]) -> tuple[str, str, tuple[AssetSpec, ...], int, SumNode, bytes]:
    fmt = _need(obj, "format", "document")
    if fmt != FORMAT:
        raise InvalidProof("format", f"format is {_shown(fmt)}, expected {FORMAT!r}")
    attestation_id = _text(_need(obj, "attestation_id", "document"), "attestation_id", 65535)
    as_of = _text(_need(obj, "as_of", "document"), "as_of", 256, allow_empty=True)
    assets = _assets(_need(obj, "assets", "document"))
    height = _small_int(_need(obj, "height", "document"), "height", 1, MAX_PROOF_HEIGHT)
    root = _node(_need(obj, "root", "document"), "root", len(assets))
    commit = _hash(_need(obj, "commitment", "document"), "commitment")
    return attestation_id, as_of, assets, height, root, commit


def parse_root_document(data: Any) -> RootDocument:
    """Parse and check the shape of a root document (`root.json`)."""
    obj = _mapping(data, "root document")
    attestation_id, as_of, assets, height, root, commit = _header(obj)
    excluded = obj.get("excluded")
    return RootDocument(
        attestation_id=attestation_id,
        as_of=as_of,
        assets=assets,
        height=height,
        root=root,
        commitment=commit,
        excluded=_excluded(excluded, assets) if excluded is not None else None,
    )


_NEGATIVE_DECIMAL = re.compile(r"-[1-9][0-9]*")
MAX_EXCLUDED_ROWS = 2**64 - 1


def _excluded(value: Any, assets: tuple[AssetSpec, ...]) -> Mapping[str, Any]:
    """The informative `excluded` member, checked like every other figure of the document:
    per listed asset a row count and an exact negative total whose magnitude stays below
    2**128 (the cap of every sum), its whole-unit spelling, and rows adding up."""
    obj = _mapping(value, "excluded")
    if "reason" in obj:
        _text(obj["reason"], "excluded.reason", 1024)
    rows = _small_int(_need(obj, "rows", "excluded"), "excluded.rows", 0, MAX_EXCLUDED_ROWS)
    decimals = {a.code: a.decimals for a in assets}
    counted = 0
    for code, entry in _mapping(_need(obj, "assets", "excluded"), "excluded.assets").items():
        if code not in decimals:
            raise InvalidProof(
                "fields", f"excluded.assets: {_shown(code)} is not one of the document's assets"
            )
        where = f"excluded.assets.{code}"
        item = _mapping(entry, where)
        counted += _small_int(_need(item, "rows", where), f"{where}.rows", 1, MAX_EXCLUDED_ROWS)
        raw = _need(item, "total_base_units", where)
        if not isinstance(raw, str) or not _NEGATIVE_DECIMAL.fullmatch(raw) or len(raw) > 41:
            raise InvalidProof(
                "fields",
                f"{where}.total_base_units: not a canonical negative decimal string above "
                f"-2**128: {_shown(raw)}",
            )
        total = int(raw)
        if total <= -MAX_SUM:
            raise InvalidProof("fields", f"{where}.total_base_units: {_shown(raw)} reaches 2**128")
        expected = format_units(total, decimals[code])
        if _need(item, "total", where) != expected:
            raise InvalidProof(
                "fields",
                f"{where}.total: {_shown(item['total'])} is not total_base_units in whole "
                f"units ({expected!r})",
            )
    if counted != rows:
        raise InvalidProof(
            "fields", f"excluded.rows: {rows} is not the sum of the assets' rows ({counted})"
        )
    return obj


def parse_proof(data: Any) -> InclusionProof:
    """Parse and check the shape of an inclusion proof; raises `InvalidProof` naming the field."""
    obj = _mapping(data, "proof")
    attestation_id, as_of, assets, height, root, commit = _header(obj)
    account_id = _text(_need(obj, "account_id", "proof"), "account_id", MAX_ACCOUNT_ID_BYTES)
    raw_leaves = _list(_need(obj, "leaves", "proof"), "leaves")
    if not raw_leaves:
        raise InvalidProof("fields", "leaves: a proof needs at least one leaf")
    leaves = []
    seen: set[int] = set()
    for i, raw in enumerate(raw_leaves):
        where = f"leaves[{i}]"
        leaf = _mapping(raw, where)
        index = _small_int(_need(leaf, "index", where), f"{where}.index", 0, 2**height - 1)
        if index in seen:
            raise InvalidProof("fields", f"{where}.index: leaf {index} appears twice")
        seen.add(index)
        salt = _hash(_need(leaf, "salt", where), f"{where}.salt")
        balances = _amounts(_need(leaf, "balances", where), f"{where}.balances", len(assets))
        path_items = _list(_need(leaf, "path", where), f"{where}.path")
        if len(path_items) != height:
            raise InvalidProof(
                "fields", f"{where}.path: {len(path_items)} entries, height is {height}"
            )
        path = tuple(_node(p, f"{where}.path[{j}]", len(assets)) for j, p in enumerate(path_items))
        leaves.append(ProofLeaf(index=index, salt=salt, balances=balances, path=path))
    return InclusionProof(
        attestation_id=attestation_id,
        as_of=as_of,
        assets=assets,
        height=height,
        account_id=account_id,
        leaves=tuple(leaves),
        root=root,
        commitment=commit,
    )


def unknown_keys(data: Mapping[str, Any], allowed: frozenset[str]) -> list[str]:
    """Top-level keys a verifier does not read (reported as warnings)."""
    return sorted(k for k in data if k not in allowed)


# ----------------------------------------------------------------------------- verification


def walk_to_root(
    index: int, leaf_node_hash: bytes, leaf_sums: Sequence[int], path: Sequence[SumNode]
) -> SumNode:
    """Hash a leaf up its path; bit `i` of `index` set means the level-`i` node is a right child."""
    current_hash, current_sums = leaf_node_hash, tuple(leaf_sums)
    for level, sibling in enumerate(path):
        if (index >> level) & 1:
            new_hash = node_hash(sibling.hash, sibling.sums, current_hash, current_sums)
            current_sums = add_sums(sibling.sums, current_sums)
        else:
            new_hash = node_hash(current_hash, current_sums, sibling.hash, sibling.sums)
            current_sums = add_sums(current_sums, sibling.sums)
        current_hash = new_hash
    return SumNode(hash=current_hash, sums=current_sums)


# Long on purpose: every check of a proof, in order, each refusing with its own message;
# the chain of checks is easiest to review as one sequence.
def verify_proof(
    proof: InclusionProof,
    *,
    published_root: RootDocument | None = None,
    published_commitment: bytes | None = None,
    warnings: Sequence[str] = (),
) -> VerifiedProof:
    """Verify a parsed proof; returns what was established or raises `InvalidProof`."""
    checks = [
        f"format {FORMAT}; all fields well-formed; {len(proof.assets)} assets sorted and unique",
        f"height {proof.height}; every path has {proof.height} entries; "
        f"indices < 2**{proof.height}",
    ]
    acct = account_hash(proof.account_id)
    total = [0] * len(proof.assets)
    for n, leaf in enumerate(proof.leaves):
        leaf_node = leaf_hash(leaf.salt, acct, leaf.balances)
        try:
            top = walk_to_root(leaf.index, leaf_node, leaf.balances, leaf.path)
        except SumOverflow as exc:
            raise InvalidProof("sums", f"leaf {n} (index {leaf.index}): {exc.message}") from exc
        if top.hash != proof.root.hash:
            raise InvalidProof(
                "root hash",
                f"leaf {n} (index {leaf.index}) hashes to root {top.hash.hex()}, "
                f"the proof states {proof.root.hash.hex()}",
            )
        if top.sums != proof.root.sums:
            raise InvalidProof(
                "root sums", f"leaf {n} (index {leaf.index}) sums to {top.sums}, not the root's"
            )
        total = [t + b for t, b in zip(total, leaf.balances, strict=True)]
        checks.append(
            f"leaf {n} at index {leaf.index} recomputed from salt, account id and balances, "
            f"and hashed up {proof.height} levels to the stated root (hash and sums)"
        )
    expected = commitment(
        proof.attestation_id, proof.assets, proof.height, proof.root.hash, proof.root.sums
    )
    if expected != proof.commitment:
        raise InvalidProof(
            "commitment",
            f"recomputed commitment {expected.hex()} differs from the proof's "
            f"{proof.commitment.hex()}",
        )
    checks.append("commitment recomputed from attestation id, assets, height and root")
    if published_root is not None:
        if published_root.commitment != proof.commitment:
            raise InvalidProof(
                "published commitment",
                f"the proof's commitment {proof.commitment.hex()} is not the published "
                f"{published_root.commitment.hex()} (a proof for another attestation?)",
            )
        mismatches = [
            name
            for name, mine, theirs in (
                ("attestation_id", proof.attestation_id, published_root.attestation_id),
                ("as_of", proof.as_of, published_root.as_of),
                ("assets", proof.assets, published_root.assets),
                ("height", proof.height, published_root.height),
                ("root", proof.root, published_root.root),
            )
            if mine != theirs
        ]
        if mismatches:
            raise InvalidProof(
                "published root", f"proof differs from the root document in {', '.join(mismatches)}"
            )
        recomputed = commitment(
            published_root.attestation_id,
            published_root.assets,
            published_root.height,
            published_root.root.hash,
            published_root.root.sums,
        )
        if recomputed != published_root.commitment:
            raise InvalidProof(
                "published root", "the root document's own commitment does not recompute"
            )
        checks.append("matches the published root document (commitment, root, assets, as_of)")
    if published_commitment is not None:
        if published_commitment != proof.commitment:
            raise InvalidProof(
                "published commitment",
                f"the proof's commitment {proof.commitment.hex()} is not the published "
                f"{published_commitment.hex()} (a proof for another attestation?)",
            )
        checks.append("commitment equals the published commitment")
    extra = list(warnings)
    if published_root is None and published_commitment is None:
        extra.append(
            "no published root or commitment given: the proof is self-consistent, but compare "
            f"its commitment {proof.commitment.hex()} with the one the exchange published"
        )
    if published_root is None:
        extra.append("as_of is not bound by the commitment; it is checked only against root.json")
    return VerifiedProof(
        account_id=proof.account_id,
        attestation_id=proof.attestation_id,
        as_of=proof.as_of,
        assets=proof.assets,
        balances=tuple(total),
        commitment=proof.commitment,
        checks=tuple(checks),
        warnings=tuple(extra),
    )


def check_root_document(doc: RootDocument) -> None:
    """The root document's commitment recomputes from its own fields."""
    expected = commitment(doc.attestation_id, doc.assets, doc.height, doc.root.hash, doc.root.sums)
    if expected != doc.commitment:
        raise InvalidProof("commitment", "root document commitment does not recompute")


__all__ = [
    "HASH_LEN",
    "PROOF_KEYS",
    "ROOT_KEYS",
    "SALT_LEN",
    "InclusionProof",
    "ProofLeaf",
    "RootDocument",
    "SumNode",
    "VerifiedProof",
    "check_root_document",
    "format_units",
    "parse_proof",
    "parse_root_document",
    "unknown_keys",
    "verify_proof",
    "walk_to_root",
]
