"""Bitget's Merkle path files (BitgetLimited/proof-of-reserves) and their clones: 64-bit hashes.

Where it sits: a foreign format of `attestations/formats/` (registry in `__init__.py`);
pure, called by `verifier/external/check.py`. The Java map order and ``BigDecimal`` text it
needs are `java_hashmap.py`'s.

Rules (``MerkelTreeUtils``, ``MerKelTree``, ``TreeNode`` of Bitget's verifier and its clones):
* Leaf: ``sha256hex(encryptUid + "," + nonce + "," + balancesJSON)[:16]``.
* Parent: ``sha256hex(leftHash + rightHash + "," + balancesJSON(sums) + "," + str(level))[:16]``
  where the parent's level is its left child's level minus 1; the root is level 1. The
  parent's map is a new map into which the left child's entries are put, then the right
  child's (existing keys summed with ``BigDecimal.add``, which keeps the larger scale).
* ``balancesJSON`` is fastjson's ``{"K":V,…}`` of a ``Map<String, BigDecimal>``. Its form is
  one of the `VARIANTS`, tried in that order for the whole file; the one that verified is
  reported (``details["variant"]``):
    - ``hashmap-quoted``: keys in ``java.util.HashMap`` order, values quoted, trailing zeros
      stripped (Bitget's ``JSONUtils``; the November 2025 proof);
    - ``linked-quoted``: keys in insertion order (``LinkedHashMap`` with ``OrderedField``:
      the file's order, then left before right), values as above (Bitget's current verifier);
    - ``hashmap-bigdecimal``: ``HashMap`` order, values unquoted ``BigDecimal.toString()``
      with the published scale (``10.0000000000000000``, ``1.000000000E-7``): Bitget's 2022
      verifier and its clones (UZX).
* `role` 1 = the node is a left child; each sibling's role decides its side, and the first
  sibling's role must differ from the user's (as Bitget's ``validate``).

Invariants: sums are exact decimal sums (the format does not round); the computed root must
equal the file's root in hash, level and balances.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

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
from attestations.formats.java_hashmap import big_decimal_string, iteration_order
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
_KEY = re.compile(r'[^"\\\x00-\x1f\x7f]+')
"""An asset key fastjson writes as it is (no escape): anything else is refused, not guessed."""


@dataclass(frozen=True, slots=True)
class Variant:
    """One published form of ``balancesJSON``."""

    name: str
    hashmap: bool
    """Keys in ``java.util.HashMap`` order (else insertion order: ``LinkedHashMap``)."""
    quoted: bool
    """Values as quoted strings, trailing zeros stripped (else unquoted ``BigDecimal``)."""
    source: str


VARIANTS = (
    Variant("hashmap-quoted", True, True, "HashMap order, quoted values without trailing zeros"),
    Variant("linked-quoted", False, True, "file (insertion) order, quoted values"),
    Variant("hashmap-bigdecimal", True, False, "HashMap order, unquoted BigDecimal with scale"),
)


@dataclass(frozen=True, slots=True)
class Balances:
    """A node's map: its keys in insertion order and their exact values."""

    keys: tuple[str, ...]
    values: Mapping[str, Decimal]


@dataclass(frozen=True, slots=True)
class Sibling:
    digest: str
    level: int
    role: int
    balances: Balances


@dataclass(frozen=True, slots=True)
class Proof:
    """The file, read once; every variant walks the same values."""

    uid: str
    nonce: str
    leaf: str
    role: int
    level: int
    balances: Balances
    siblings: tuple[Sibling, ...]
    root: str
    root_level: int
    root_balances: Mapping[str, Decimal]


class _Failed(Exception):
    """One variant's failed check (the caller decides which variant's failure to report)."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(message)
        self.check = check
        self.message = message


def looks_like(inp: ProofInput) -> bool:
    doc = try_json(inp.data)
    if not isinstance(doc, dict) or not {"self", "path"} <= set(doc):
        return False
    me = doc["self"]
    return isinstance(me, dict) and "merkelLeaf" in me and "encryptUid" in me


def amount(value: object, where: str) -> Decimal:
    """A balance as fastjson reads it into a ``BigDecimal``: a decimal string or a JSON number,
    its scale kept (``10.0000`` stays four places; ``1.0E-7`` stays as written)."""
    if isinstance(value, str):
        return parse_amount(value, where)
    if isinstance(value, int) and not isinstance(value, bool):
        value = Decimal(value)
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidProof("fields", f"{where}: {shown(value)} is not a decimal")
    exponent = int(value.as_tuple().exponent)
    if len(value.as_tuple().digits) > MAX_DIGITS or not -MAX_DIGITS <= exponent <= MAX_DIGITS:
        raise InvalidProof("fields", f"{where}: {shown(value)} is out of range")
    return value


def balances(value: object, where: str) -> Balances:
    """A ``balances`` object in the file's key order (fastjson's insertion order)."""
    obj = mapping(value, where)
    if not obj:
        raise InvalidProof("fields", f"{where}: no balances")
    for key in obj:
        if not _KEY.fullmatch(key):
            raise InvalidProof("fields", f"{where}: asset key {shown(key)} needs JSON escaping")
    return Balances(tuple(obj), {k: amount(v, f"{where}.{k}") for k, v in obj.items()})


def read(inp: ProofInput) -> Proof:
    """Every field the checks use, validated (``InvalidProof("fields")`` naming the field)."""
    doc = mapping(load_json(inp.data, "the proof file", inp.name), "proof")
    me = mapping(need(doc, "self", "proof"), "self")
    path = sequence(need(doc, "path", "proof"), "path")
    if len(path) < 2:
        raise InvalidProof("fields", "path: needs at least one sibling and the root")
    siblings = []
    for i, raw in enumerate(path[:-1]):
        where = f"path[{i}]"
        entry = mapping(raw, where)
        siblings.append(
            Sibling(
                hex_text(need(entry, "merkelLeaf", where), f"{where}.merkelLeaf", HASH_DIGITS),
                integer(need(entry, "level", where), f"{where}.level"),
                integer(need(entry, "role", where), f"{where}.role"),
                balances(need(entry, "balances", where), f"{where}.balances"),
            )
        )
    root = mapping(path[-1], "root")
    return Proof(
        uid=text(need(me, "encryptUid", "self"), "self.encryptUid"),
        nonce=text(need(me, "nonce", "self"), "self.nonce"),
        leaf=hex_text(need(me, "merkelLeaf", "self"), "self.merkelLeaf", HASH_DIGITS),
        role=integer(need(me, "role", "self"), "self.role"),
        level=integer(need(me, "level", "self"), "self.level"),
        balances=balances(need(me, "balances", "self"), "self.balances"),
        siblings=tuple(siblings),
        root=hex_text(need(root, "merkelLeaf", "root"), "root.merkelLeaf", HASH_DIGITS),
        root_level=integer(need(root, "level", "root"), "root.level"),
        root_balances=balances(need(root, "balances", "root"), "root.balances").values,
    )


def balances_json(node: Balances, variant: Variant) -> str:
    """fastjson's text of the node's map under `variant` (the hashed string)."""
    keys = iteration_order(node.keys) if variant.hashmap else node.keys
    if variant.quoted:
        return "{" + ",".join(f'"{k}":"{plain(node.values[k])}"' for k in keys) + "}"
    return "{" + ",".join(f'"{k}":{big_decimal_string(node.values[k])}' for k in keys) + "}"


def merged(left: Balances, right: Balances, variant: Variant) -> Balances:
    """The parent's map: ``new Map``, then ``mergeAsset(left)``, then ``mergeAsset(right)``,
    each child's entries put in that child's iteration order."""
    values: dict[str, Decimal] = {}
    keys: list[str] = []
    with exact():
        for child in (left, right):
            order = iteration_order(child.keys) if variant.hashmap else child.keys
            for key in order:
                if key in values:
                    values[key] = values[key] + child.values[key]
                else:
                    keys.append(key)
                    values[key] = child.values[key]
    return Balances(tuple(keys), values)


def _digest(textual: str) -> str:
    return sha256hex(textual)[:HASH_DIGITS]


def walk(proof: Proof, variant: Variant) -> Balances:
    """The root's balances the path computes under `variant`.

    Raises
    ------
    _Failed
        The first check that fails (``leaf hash``, ``path``, ``root hash``, ``root level``,
        ``root sums``, ``key order``).
    """
    try:
        return _walk(proof, variant)
    except InvalidProof as exc:  # the key-order limit, for this variant only
        raise _Failed(exc.check, exc.message.removeprefix(f"{exc.check}: ")) from None


def _walk(proof: Proof, variant: Variant) -> Balances:
    leaf = _digest(proof.uid + "," + proof.nonce + "," + balances_json(proof.balances, variant))
    if leaf != proof.leaf:
        raise _Failed(
            "leaf hash", f"sha256(uid, nonce, balances)[:16] = {leaf}, the file states {proof.leaf}"
        )
    node, sums, level = leaf, proof.balances, proof.level
    for i, sib in enumerate(proof.siblings):
        if sib.level != level:
            raise _Failed("path", f"path[{i}]: level {sib.level}, the node is at {level}")
        if i == 0 and sib.role == proof.role:
            raise _Failed("path", "path[0]: the sibling has the user's own side")
        # Bitget's createParentTreeNode: the sibling is the left child iff its role is 1
        left, right = ((sib.digest, sib.balances), (node, sums))
        if sib.role != 1:
            left, right = right, left
        sums = merged(left[1], right[1], variant)
        level -= 1
        body = balances_json(sums, variant)
        node = _digest(left[0] + right[0] + "," + body + "," + str(level))
    if node != proof.root:
        raise _Failed("root hash", f"the path hashes to {node}, the file's root is {proof.root}")
    if level != 1 or proof.root_level != 1:
        raise _Failed("root level", f"the path ends at level {level}, the root must be 1")
    if dict(sums.values) != dict(proof.root_balances):
        raise _Failed(
            "root sums",
            f"the path sums to {whole(sums.values)}, the file's root states "
            f"{whole(proof.root_balances)}",
        )
    return sums


def verify_variants(inp: ProofInput, name: str, variants: Sequence[Variant]) -> FormatResult:
    """Verify `inp` under each of `variants` in order; the first that verifies is reported.

    When none does, the failure reported is that of the first variant that opened the leaf
    (its path is what fails), else the first variant's.
    """
    proof = read(inp)
    failures: list[tuple[Variant, _Failed]] = []
    for variant in variants:
        try:
            walk(proof, variant)
        except _Failed as exc:
            failures.append((variant, exc))
            continue
        return _result(name, proof, variant, [v.name for v, _ in failures])
    opened = [(v, f) for v, f in failures if f.check not in ("leaf hash", "key order")]
    first, why = (opened or failures)[0]
    tried = ", ".join(v.name for v in variants)
    raise InvalidProof(why.check, f"{why.message} (variant {first.name}; tried {tried})")


def _result(name: str, proof: Proof, variant: Variant, failed_first: list[str]) -> FormatResult:
    hops = len(proof.siblings)
    checks = [
        f"file well-formed: self at level {proof.level}, {hops} siblings and the root",
        f"leaf recomputed from encryptUid, nonce and balances (variant {variant.name}: "
        f"{variant.source})",
        f"{hops} parents recomputed: both hashes, sums and level",
        f"root {proof.root} (level 1) and its totals match the file",
    ]
    seen = [
        k
        for node in (proof.balances, *(s.balances for s in proof.siblings))
        for k, v in node.values.items()
        if v < 0
    ]
    details: dict[str, object] = {"variant": variant.name}
    if failed_first:
        details["variants_not_matching"] = failed_first
    return path_result(
        name,
        checks,
        proof.balances.values,
        proof.root,
        proof.root_balances,
        WEAKNESSES,
        sorted(set(seen)),
        details,
    )


def verify(inp: ProofInput) -> FormatResult:
    """Verify a Bitget ``merkel_tree_bg.json``-style file (or a clone's)."""
    return verify_variants(inp, NAME, VARIANTS)
