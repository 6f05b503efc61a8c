"""SwissBorg's proof of liabilities (SwissBorg/proof-of-liabilities): one user's file, checked
against the published audit roots with the user's secret credential.

Where it sits: a foreign format of `attestations/formats/` (registry in `__init__.py`); pure,
called by `verifier/external/check.py`, which reads the user's ``userLiab.json`` (`inp.data`),
``--root auditRoots.json`` (`inp.root`) and the credential (`inp.credential`).

Rules (SwissBorg's ``merkle.ts``, ``validateUserLiabilities``):
* ``kdf(k, c) = hex(HMAC-SHA256(key=utf8(k), msg=utf8(c)))``; the audit nonce
  ``kdf(credential, "SB PoL - Audit nonce derivation," + audit_id)``, the currency tree's
  ``kdf(an, "SB PoL - Currency Merkle tree nonce derivation," + currency)``, the leaf's
  ``kdf(mt, "SB PoL - Leaf nonce derivation," + leaf_index)``.
* Leaf ``sha256hex("leaf," + nonce + "," + user_id + "," + liability)``; inner node
  ``sha256hex("inner," + leftLiability + "," + rightLiability + "," + leftHash + "," +
  rightHash)``: both children's sums are bound. Inner liabilities are printed as decimal.js
  prints them (plain, trailing zeros dropped).
* Heap indexing: with ``d`` witnesses the node index is ``leaf_index + 2^d - 1``; an odd index
  is a left child; the parent is ``(i - 1) // 2``. The last node must equal the partition's
  commitment (liability and digest) in the audit roots file.
* Audit commitment ``sha256hex("SB PoL - Audit commitment hash" + for each partition sorted by
  upper-case currency: "," + id + "," + liability + "," + digest)``.

Variants, tried in this order and reported (``details["variant"]``): the leaf and the audit
commitment hash the liability strings *as published* (SwissBorg's verifier passes the JSON
strings through), else *normalized* decimals (its library called with Decimals, as its tests
do, and as FORMATS.md states the rule). Inner nodes always use decimal.js's form.

Stricter than SwissBorg's verifier, never looser: the file's ``proof.nonce`` field (which
SwissBorg's verifier ignores) must equal the leaf nonce or the leaf digest derived from the
credential -- its December 2022 files hold the digest there, its January 2023 files the nonce;
which one is reported (``details["nonce_field"]``) -- so a wrong credential fails at check
``leaf nonce``; duplicate partitions or leaves are refused; a partition's id must be
``<audit id>-<currency>`` (as in every SwissBorg file), since the currency itself is hashed
nowhere and only the id binds it to the commitment.

Invariant: the credential is never in a message or a result, nor is the user id (SwissBorg's
own test data uses the user id as the credential).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from attestations.formats.common import (
    FormatResult,
    ProofInput,
    exact,
    integer,
    load_json,
    mapping,
    need,
    parse_amount,
    plain,
    sequence,
    sha256hex,
    shown,
    text,
    try_json,
)
from verifier.base.console import plural
from verifier.base.errors import InvalidProof, UsageError

NAME = "swissborg"
AUDIT_NONCE = "SB PoL - Audit nonce derivation"
TREE_NONCE = "SB PoL - Currency Merkle tree nonce derivation"
LEAF_NONCE = "SB PoL - Leaf nonce derivation"
COMMITMENT = "SB PoL - Audit commitment hash"
MAX_DEPTH = 64
"""Most witnesses accepted per leaf: 2**64 leaves is far beyond any published tree."""
VARIANTS = ("as published", "normalized")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_MASK = "<credential>"
WEAKNESSES = (
    "one Merkle sum tree per currency: each liability is proven in its own currency's tree; "
    "nothing ties the currencies together or values them",
    "the audit roots file is checked against its own commitment, not against what SwissBorg "
    "showed other users: compare the commitment digest with the one SwissBorg published",
    "inclusion of this user's leaves only: the other leaves, the number of users and the "
    "completeness of each tree are not checked (liabilities could be left out)",
    "a liability may be split over several leaves of one currency's tree and the file does not "
    "bind how many: a copy with a leaf left out still verifies and shows the smaller sum",
    "leaf and witness liabilities must be positive (SwissBorg's verifier refuses others), so "
    "a zero-balance user has no leaf to check",
    "liabilities only: nothing here says what SwissBorg holds",
)


def looks_like(inp: ProofInput) -> bool:
    doc = try_json(inp.data)
    return (
        isinstance(doc, dict)
        and {"user_id", "audit_id", "liabilities"} <= set(doc)
        and isinstance(doc["liabilities"], list)
    )


def kdf(key: str, context: str) -> str:
    """SwissBorg's key derivation: hex HMAC-SHA256 keyed by the UTF-8 `key`."""
    return hmac.new(key.encode("utf-8"), context.encode("utf-8"), hashlib.sha256).hexdigest()


def leaf_nonce(credential: str, audit_id: str, currency: str, leaf_index: int) -> str:
    """The leaf's nonce: audit nonce, then the currency tree's, then the leaf's."""
    audit_nonce = kdf(credential, f"{AUDIT_NONCE},{audit_id}")
    tree_nonce = kdf(audit_nonce, f"{TREE_NONCE},{currency}")
    return kdf(tree_nonce, f"{LEAF_NONCE},{leaf_index}")


def leaf_hash(
    credential: str, audit_id: str, currency: str, leaf_index: int, user_id: str, liability: str
) -> str:
    """``fullLeafHashDerive``: the leaf digest from the credential down (the FORMATS.md vector)."""
    nonce = leaf_nonce(credential, audit_id, currency, leaf_index)
    return sha256hex(f"leaf,{nonce},{user_id},{liability}")


def inner_hash(left: Decimal, right: Decimal, left_hash: str, right_hash: str) -> str:
    return sha256hex(f"inner,{plain(left)},{plain(right)},{left_hash},{right_hash}")


@dataclass(frozen=True, slots=True)
class Node:
    """A liability as published (its string) and as a number, with its digest."""

    text: str
    value: Decimal
    digest: str


@dataclass(frozen=True, slots=True)
class Partition:
    id: str
    currency: str
    root: Node


@dataclass(frozen=True, slots=True)
class Leaf:
    where: str
    partition: Partition
    leaf_index: int
    liability: Node
    """``digest`` is the file's ``proof.nonce`` ("" when the file has none)."""
    witnesses: tuple[Node, ...]


# ----------------------------------------------------------------------------- reading


def _digest(value: Any, where: str) -> str:
    # compared as strings, as SwissBorg's verifier does: upper-case hex would never match
    if not isinstance(value, str) or not _DIGEST.fullmatch(value):
        raise InvalidProof("fields", f"{where}: {shown(value)} is not 64 lower-case hex digits")
    return value


def _node(raw: Any, where: str, liability_key: str = "liability") -> Node:
    obj = mapping(raw, where)
    amount = need(obj, liability_key, where)
    value = parse_amount(amount, f"{where}.{liability_key}")
    return Node(amount, value, _digest(need(obj, "digest", where), f"{where}.digest"))


def _partitions(doc: Mapping[str, Any]) -> tuple[str, str, dict[str, Partition]]:
    """The audit roots file: its audit id, commitment digest and partitions by id."""
    audit = mapping(need(doc, "audit", "audit roots"), "audit")
    audit_id = text(need(audit, "id", "audit"), "audit.id")
    commitment = mapping(need(audit, "commitment", "audit"), "audit.commitment")
    digest = _digest(need(commitment, "digest", "audit.commitment"), "audit.commitment.digest")
    parts: dict[str, Partition] = {}
    currencies: set[str] = set()
    for n, raw in enumerate(sequence(need(audit, "partitions", "audit"), "audit.partitions")):
        where = f"audit.partitions[{n}]"
        part = mapping(raw, where)
        pid = text(need(part, "id", where), f"{where}.id")
        currency = text(need(part, "currency", where), f"{where}.currency")
        root = _node(need(part, "commitment", where), f"{where}.commitment")
        if pid in parts or currency.upper() in currencies:
            # SwissBorg's Map keeps one entry per id and its sort has no order for ties
            raise InvalidProof(
                "fields", f"{where}: partition {shown(pid)} ({shown(currency)}) twice"
            )
        parts[pid] = Partition(pid, currency, root)
        currencies.add(currency.upper())
    if not parts:
        raise InvalidProof("fields", "audit.partitions: empty")
    return audit_id, digest, parts


def _named(parts: Mapping[str, Partition], audit_id: str) -> None:
    """Each partition id is ``<audit id>-<currency>``: the currency is hashed nowhere, and the
    audit id is not in the commitment either; only the ids (which are) bind both."""
    for n, part in enumerate(parts.values()):
        if part.id != f"{audit_id}-{part.currency}":
            raise InvalidProof(
                "partition",
                f"audit.partitions[{n}]: id {shown(part.id)} does not name audit {audit_id} "
                f"and currency {shown(part.currency)}",
            )


def _leaves(doc: Mapping[str, Any], parts: Mapping[str, Partition]) -> list[Leaf]:
    leaves = []
    raw_list = sequence(need(doc, "liabilities", "user file"), "liabilities")
    if not raw_list:
        raise InvalidProof("fields", "liabilities: empty")
    for n, raw in enumerate(raw_list):
        where = f"liabilities[{n}]"
        entry = mapping(raw, where)
        pid = text(need(entry, "audit_partition_id", where), f"{where}.audit_partition_id")
        if pid not in parts:
            raise InvalidProof(
                "partition", f"{where}: partition {shown(pid)} is not in the audit roots file"
            )
        amount = need(entry, "liability", where)
        value = parse_amount(amount, f"{where}.liability")
        proof = mapping(need(entry, "proof", where), f"{where}.proof")
        index = integer(need(proof, "leaf_index", f"{where}.proof"), f"{where}.proof.leaf_index")
        stated = ""
        if "nonce" in proof:
            stated = _digest(proof["nonce"], f"{where}.proof.nonce")
        raw_wit = sequence(need(proof, "witnesses", f"{where}.proof"), f"{where}.proof.witnesses")
        if len(raw_wit) > MAX_DEPTH:
            raise InvalidProof("path", f"{where}: {len(raw_wit)} witnesses, at most {MAX_DEPTH}")
        witnesses = tuple(_node(w, f"{where}.proof.witnesses[{i}]") for i, w in enumerate(raw_wit))
        leaves.append(Leaf(where, parts[pid], index, Node(amount, value, stated), witnesses))
    seen: dict[tuple[str, int], str] = {}
    for leaf in leaves:
        # SwissBorg's verifier would count a repeated entry twice in the user's total
        key = (leaf.partition.id, leaf.leaf_index)
        if key in seen:
            raise InvalidProof(
                "fields", f"{leaf.where}: the same leaf as {seen[key]} ({key[0]}, index {key[1]})"
            )
        seen[key] = leaf.where
    return leaves


# ----------------------------------------------------------------------------- checking


def audit_commitment(parts: list[Partition], form: str) -> str:
    """``audCommHashCheck``: partitions sorted by upper-case currency (JavaScript compares
    UTF-16 code units, hence the key), liabilities in the variant's form."""
    ordered = sorted(parts, key=lambda p: p.currency.upper().encode("utf-16-be"))
    text_in = COMMITMENT
    for part in ordered:
        amount = part.root.text if form == VARIANTS[0] else plain(part.root.value)
        text_in += f",{part.id},{amount},{part.root.digest}"
    return sha256hex(text_in)


def _shape(leaf: Leaf) -> None:
    """``validateProof``'s checks of the path's shape, before any hash is computed."""
    depth = len(leaf.witnesses)
    if depth < 1:
        raise InvalidProof("path", f"{leaf.where}: no witnesses (SwissBorg requires at least one)")
    if not 0 <= leaf.leaf_index < 2**depth:
        raise InvalidProof(
            "path", f"{leaf.where}: leaf index {leaf.leaf_index} is outside a tree of depth {depth}"
        )
    if leaf.liability.value <= 0:
        raise InvalidProof(
            "liability", f"{leaf.where}: liability {leaf.liability.text} is not positive"
        )


def _walk(leaf: Leaf, digest: str) -> tuple[str, Decimal]:
    """``validateProof``: the node reached from the leaf digest, and its liability."""
    depth = len(leaf.witnesses)
    node, total, index = digest, leaf.liability.value, leaf.leaf_index + 2**depth - 1
    for i, wit in enumerate(leaf.witnesses):
        if wit.value <= 0:
            raise InvalidProof(
                "path", f"{leaf.where}.proof.witnesses[{i}]: liability {wit.text} is not positive"
            )
        if index % 2 == 1:
            node = inner_hash(total, wit.value, node, wit.digest)
        else:
            node = inner_hash(wit.value, total, wit.digest, node)
        with exact():
            total += wit.value
        index = (index - 1) // 2
    return node, total


def _check_leaf(leaf: Leaf, credential: str, audit_id: str, user_id: str) -> tuple[str, str]:
    """One liability's nonce, leaf, path and partition root.

    Returns the variant that verified and what the file's ``proof.nonce`` held: SwissBorg's
    December 2022 files put the leaf digest there, its January 2023 files the leaf nonce.
    """
    _shape(leaf)
    part, stated = leaf.partition, leaf.liability.digest
    nonce = leaf_nonce(credential, audit_id, part.currency, leaf.leaf_index)
    forms = [(VARIANTS[0], leaf.liability.text)]
    if plain(leaf.liability.value) != leaf.liability.text:
        forms.append((VARIANTS[1], plain(leaf.liability.value)))
    failure: InvalidProof | None = None
    for form, amount in forms:
        digest = sha256hex(f"leaf,{nonce},{user_id},{amount}")
        held = {"": "absent", nonce: "leaf nonce", digest: "leaf digest"}.get(stated)
        if held is None:
            failure = failure or InvalidProof(
                "leaf nonce",
                f"{leaf.where}: the nonce and the leaf derived from the credential, audit id, "
                f"currency {part.currency}, leaf index {leaf.leaf_index}, user id and liability "
                f"{leaf.liability.text} ({nonce}, {digest}) are not the file's proof.nonce "
                f"{stated}: a wrong credential, or a changed field",
            )
            continue
        node, total = _walk(leaf, digest)
        if node != part.root.digest:
            failure = failure or InvalidProof(
                "partition root",
                f"{leaf.where}: the path hashes to {node}, partition {part.id}'s root is "
                f"{part.root.digest}"
                + (" (or the credential is wrong)" if held == "absent" else ""),
            )
            continue
        if total != part.root.value:
            failure = failure or InvalidProof(
                "partition sum",
                f"{leaf.where}: the path sums to {plain(total)}, partition {part.id}'s "
                f"liability is {part.root.text}",
            )
            continue
        return form, held
    assert failure is not None
    raise failure


def _check(inp: ProofInput, credential: str) -> FormatResult:
    assert inp.root is not None
    user = mapping(load_json(inp.data, "the user liabilities file", inp.name), "user file")
    roots_name = inp.root_name or "--root"
    roots = mapping(load_json(inp.root, "the audit roots file", roots_name), "audit roots")
    user_id = text(need(user, "user_id", "user file"), "user_id")
    audit_id = text(need(user, "audit_id", "user file"), "audit_id")
    published_id, commitment, parts = _partitions(roots)
    leaves = _leaves(user, parts)
    checks = [
        f"files well-formed: {len(leaves)} liabilities, {len(parts)} partitions in {roots_name}"
    ]
    if audit_id != published_id:
        raise InvalidProof(
            "audit id",
            f"the user file is for audit {shown(audit_id)}, {roots_name} for {shown(published_id)}",
        )
    _named(parts, audit_id)
    checks.append(f"audit id {audit_id} matches the audit roots file and its partition ids")
    computed = {v: audit_commitment(list(parts.values()), v) for v in VARIANTS}
    variants = [v for v in VARIANTS if computed[v] == commitment]
    if not variants:
        raise InvalidProof(
            "audit commitment",
            f"{roots_name}: the partitions hash to {computed[VARIANTS[0]]}, the audit "
            f"commitment is {commitment}",
        )
    checks.append(
        f"audit commitment {commitment} recomputed from {len(parts)} partitions sorted by "
        f"currency (liabilities {variants[0]})"
    )
    used, held = {variants[0]}, set()
    balances: dict[str, Decimal] = {}
    for leaf in leaves:
        form, nonce_field = _check_leaf(leaf, credential, audit_id, user_id)
        used.add(form)
        held.add(nonce_field)
        with exact():
            currency = leaf.partition.currency
            balances[currency] = balances.get(currency, Decimal(0)) + leaf.liability.value
    stated = " and ".join(sorted(held - {"absent"}))
    checks.append(
        f"{plural(len(leaves), 'leaf', 'leaves')} derived from the credential (audit, currency "
        "and leaf nonces)" + (f"; the file's proof.nonce is the {stated}" if stated else "")
    )
    checks.append(
        f"{plural(len(leaves), 'path')} recomputed (heap index; every inner node binds both "
        "children's liabilities); each reaches its partition's root digest and liability"
    )
    variant = VARIANTS[1] if VARIANTS[1] in used else VARIANTS[0]
    return FormatResult(
        format=NAME,
        valid=True,
        checks=tuple(checks),
        balances={k: plain(v) for k, v in balances.items()},
        root=commitment,
        totals={p.currency: plain(p.root.value) for p in parts.values()},
        weaknesses=WEAKNESSES,
        details={
            "variant": f"liabilities {variant}",
            "audit_id": audit_id,
            "partitions": sorted({leaf.partition.id for leaf in leaves}),
            "leaves": len(leaves),
            "nonce_field": sorted(held - {"absent"}),
            "root_matches": True,
        },
    )


def verify(inp: ProofInput) -> FormatResult:
    """Verify a SwissBorg user liabilities file against ``--root`` with the credential.

    Raises
    ------
    UsageError
        No ``--root`` audit roots file, or no credential.
    InvalidProof
        A failed check, named; the message never holds the credential.
    """
    if inp.root is None:
        raise UsageError(f"--format {NAME} needs --root FILE (the published audit roots JSON)")
    if not inp.credential:
        raise UsageError(
            f"--format {NAME} needs the user's credential: --credential-file FILE or "
            "--credential-env VAR"
        )
    try:
        return _check(inp, inp.credential)
    except InvalidProof as exc:
        message = exc.message.removeprefix(f"{exc.check}: ")
        if inp.credential in message:
            # a field quoted in a message may hold it (the user id in SwissBorg's test data)
            raise InvalidProof(exc.check, message.replace(inp.credential, _MASK)) from None
        raise
