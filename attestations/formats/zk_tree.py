"""The zk account tree of Binance's design, as Gate.io and HTX (V2) publish it: one user's path.

Where it sits: shared by the `gate` and `htx-zk` formats of `attestations/formats/` (registry
in `__init__.py`); pure, bytes and values in, a `FormatResult` out. The hash is
`attestations/formats/poseidon.py`'s `poseidon_gnark` (called `P` below).

Rules, as the publishers' own verifiers apply them (gateio/proof-of-reserves
``service/verify_service/service.go`` and ``utils/account_tree.go``; huobiapi/Tool-Go-MerkleVerify
``merkle_groth16/src/verifier/main.go`` and ``src/utils/account_tree.go``):

* Every hash input is one field element read big-endian from bytes (Go ``big.Int.SetBytes``);
  a value at or above the field modulus is refused (their hasher refuses it too).
* Leaf ``P(idHash, totalEquity, totalDebt, assetCommitment)``. The totals are Go ``big.Int``
  values hashed through ``Bytes()``, which drops the sign: ``-x`` hashes like ``x``.
* Node ``P(left, right)``; bit i of the account index set = the node at level i is the right
  child; exactly 28 siblings, bottom-up (``AccountTreeDepth``).
* The asset commitment covers the full asset list of N entries (missing ones are zero); N is
  a parameter of the published version: tried in the format's known order (or `--assets N`),
  and the N that verified is reported.
* The empty tree: every leaf the nil leaf ``P(0, 0, 0, commitment of N zero assets)``, each
  level ``P(e, e)`` of the one below; its root at depth 28 is the first batch's "before" root.
* The batch file (Gate's ``proof.csv``, HTX's ``proof0.csv``): batch numbers 0..n-1; each
  batch starts where the previous ended (account tree root and exchange asset commitment);
  ``batch_commitment = P(rootBefore, rootAfter, assetsBefore, assetsAfter)``; the first batch
  starts from the empty tree and the all-zero asset list (``P`` over N zeros).

Invariants: a failed check raises `InvalidProof` naming it; no float (amounts are the
file's integers, reported as published); every size a file controls is bounded before work.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from attestations.formats.common import FormatResult, ProofInput, shown
from attestations.formats.poseidon import FIELD, poseidon_gnark
from verifier.base.console import plural
from verifier.base.errors import InvalidProof, UsageError

DEPTH = 28
"""``AccountTreeDepth`` of every published version."""
MAX_ASSETS = 1 << 16
"""Asset indexes are Go ``uint16``: N can never exceed this."""
MAX_BATCHES = 100_000
"""More batches than any published set (HTX: 19, Gate: 1 per 864 accounts): bounds the work."""
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def hex32(value: int) -> str:
    """A field element as the publishers print it: 64 lowercase hex digits."""
    return f"{value:064x}"


# ----------------------------------------------------------------------------- parsing


def field_hex(value: Any, where: str) -> int:
    """A 32-byte hex value (``hex.DecodeString``, length 32) as a field element."""
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise InvalidProof("fields", f"{where}: {shown(value)} is not 64 hex digits (32 bytes)")
    return _below_field(int(value, 16), where)


def field_b64(value: Any, where: str) -> int:
    """A base64 (standard, padded) 32-byte value as a field element."""
    if not isinstance(value, str) or len(value) != 44 or not _B64.fullmatch(value):
        raise InvalidProof("fields", f"{where}: {shown(value)} is not base64 of 32 bytes")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidProof("fields", f"{where}: {shown(value)} is not base64") from None
    if len(raw) != 32:
        raise InvalidProof("fields", f"{where}: {shown(value)} is not base64 of 32 bytes")
    return _below_field(int.from_bytes(raw, "big"), where)


def _below_field(number: int, where: str) -> int:
    if number >= FIELD:
        raise InvalidProof("fields", f"{where}: {hex32(number)} is not below the field modulus")
    return number


def json_int(value: Any, where: str, low: int, high: int) -> int:
    """A JSON integer (never a bool, a float or a string) with ``low <= value < high``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidProof("fields", f"{where}: {shown(value)} is not an integer")
    if not low <= value < high:
        raise InvalidProof("fields", f"{where}: {shown(value)} is out of range [{low}, {high})")
    return value


def big_int(value: Any, where: str) -> int:
    """A Go ``big.Int`` total: any sign (``Bytes()`` hashes its magnitude), below the field."""
    return json_int(value, where, -FIELD + 1, FIELD)


def account_index(value: Any, where: str) -> int:
    """A Go ``uint32`` index whose bits choose the sides; only 28 of them are read."""
    return json_int(value, where, 0, 1 << DEPTH)


def siblings(value: Any, where: str) -> tuple[int, ...]:
    """Exactly `DEPTH` base64 siblings, bottom-up (the verifiers refuse any other count)."""
    if not isinstance(value, list):
        raise InvalidProof("fields", f"{where}: expected a list, got {type(value).__name__}")
    if len(value) != DEPTH:
        raise InvalidProof("fields", f"{where}: {len(value)} siblings, the tree has {DEPTH} levels")
    return tuple(field_b64(item, f"{where}[{n}]") for n, item in enumerate(value))


def asset_list(
    value: Any, where: str, read: Callable[[Mapping[str, Any], str], tuple[int, ...]]
) -> dict[int, tuple[int, ...]]:
    """``[{Index, …}]`` as index -> the entry's values; an index appears once, below 2**16."""
    if not isinstance(value, list):
        raise InvalidProof("fields", f"{where}: expected a list, got {type(value).__name__}")
    if len(value) > MAX_ASSETS:
        raise InvalidProof("fields", f"{where}: {len(value)} entries, more than {MAX_ASSETS}")
    out: dict[int, tuple[int, ...]] = {}
    for n, raw in enumerate(value):
        at = f"{where}[{n}]"
        if not isinstance(raw, dict):
            raise InvalidProof("fields", f"{at}: expected an object, got {type(raw).__name__}")
        if "Index" not in raw:
            raise InvalidProof("fields", f"{at}: missing key 'Index'")
        index = json_int(raw["Index"], f"{at}.Index", 0, MAX_ASSETS)
        if index in out:
            raise InvalidProof("fields", f"{at}: asset index {index} appears twice")
        out[index] = read(raw, at)
    return out


# ----------------------------------------------------------------------------- the tree


def path_root(leaf: int, index: int, path: Sequence[int]) -> int:
    """The root `leaf` reaches at `index` via `path` (bit i set: the node is the right child)."""
    node = leaf
    for level, sibling in enumerate(path):
        pair = (sibling, node) if index >> level & 1 else (node, sibling)
        node = poseidon_gnark(pair)
    return node


def empty_root(nil_leaf: int, depth: int = DEPTH) -> int:
    """The root of a tree whose every leaf is `nil_leaf`."""
    node = nil_leaf
    for _ in range(depth):
        node = poseidon_gnark((node, node))
    return node


@dataclass(frozen=True, slots=True)
class Account:
    """One user's published path, read from the format's own field names."""

    index: int
    """The leaf's position: bit i chooses the side at level i."""
    id_hash: int
    """The account id hash as the field element the leaf hashes."""
    total_equity: int
    """As published (scaled integer, may carry a sign the leaf does not bind)."""
    total_debt: int
    assets: Mapping[int, tuple[int, ...]]
    """Asset index -> its published integers (Gate: equity, debt; HTX: balance)."""
    root: int
    """The root the file states."""
    path: tuple[int, ...]
    """`DEPTH` siblings, bottom-up."""


@dataclass(frozen=True, slots=True)
class Layout:
    """What differs between the publishers: names, the asset commitment, the known N."""

    name: str
    root_field: str
    """The user file's root key, for messages (``TreeRootHash`` / ``Root``)."""
    known_counts: tuple[int, ...]
    """Asset-list lengths of the published versions, tried in this order."""
    commitment: Callable[[Mapping[int, tuple[int, ...]], int], list[int]]
    """The asset list of N entries as the field elements its commitment hashes."""
    weaknesses: tuple[str, ...]
    units: str
    """What the published integers are, for the result."""
    balances: Callable[[Account], dict[str, str]]
    zero_start: bool
    """The first batch's asset commitment is ``P`` over N zeros (HTX); Gate's keeps each
    asset's base price in it, which the batch file does not carry: not checked there."""


def leaf_hash(account: Account, commitment: int) -> int:
    """``P(idHash, |equity|, |debt|, commitment)``: big.Int.Bytes() hashes the magnitude."""
    return poseidon_gnark(
        (account.id_hash, abs(account.total_equity), abs(account.total_debt), commitment)
    )


def _commit(layout: Layout, assets: Mapping[int, tuple[int, ...]], count: int) -> int | None:
    """The asset commitment for N = `count`, or None where the hash has no such width."""
    try:
        return poseidon_gnark(layout.commitment(assets, count))
    except ValueError:  # a length the published hash cannot absorb (it panics in Go)
        return None


def _counts(layout: Layout, account: Account, given: int | None) -> tuple[int, ...]:
    if given is None:
        return layout.known_counts
    if isinstance(given, bool) or not isinstance(given, int) or not 0 < given <= MAX_ASSETS:
        raise UsageError(f"--assets {shown(given)}: the asset count is 1 .. {MAX_ASSETS}")
    return (given,)


def find_count(layout: Layout, account: Account, given: int | None) -> tuple[int, int, int]:
    """The first N under which the path reaches the stated root: ``(N, commitment, leaf)``.

    Raises
    ------
    InvalidProof
        ``"root hash"``: under no N tried does the path reach the root (each N and the root
        it gives are named).
    UsageError
        `given` (``--assets``) is not an asset count.
    """
    top = max(account.assets, default=-1)
    tried: list[str] = []
    for count in _counts(layout, account, given):
        if count <= top:
            tried.append(f"N={count}: asset index {top} does not fit")
            continue
        commitment = _commit(layout, account.assets, count)
        if commitment is None:
            tried.append(f"N={count}: the hash takes no input of that length")
            continue
        leaf = leaf_hash(account, commitment)
        reached = path_root(leaf, account.index, account.path)
        if reached == account.root:
            return count, commitment, leaf
        tried.append(f"N={count}: {hex32(reached)}")
    source = "given by --assets" if given is not None else "the published versions' values"
    raise InvalidProof(
        "root hash",
        f"the path does not reach {layout.root_field} {hex32(account.root)} under any asset "
        f"count tried ({source}): {'; '.join(tried)}",
    )


# ----------------------------------------------------------------------------- batches


@dataclass(frozen=True, slots=True)
class Batch:
    number: int
    roots: tuple[int, int]
    """Account tree root before and after the batch."""
    assets: tuple[int, int]
    """Exchange asset-list commitment before and after."""
    commitment: int


_COLUMNS = ("batch_number", "account_tree_roots", "cex_asset_list_commitments", "batch_commitment")


def _pair(value: str, where: str) -> tuple[int, int]:
    try:
        items = json.loads(value)
    except (ValueError, RecursionError):
        raise InvalidProof("batch fields", f"{where}: {shown(value)} is not a JSON list") from None
    if not isinstance(items, list) or len(items) != 2:
        raise InvalidProof("batch fields", f"{where}: {shown(value)} is not a list of two")
    try:
        return field_b64(items[0], f"{where}[0]"), field_b64(items[1], f"{where}[1]")
    except InvalidProof as exc:
        raise InvalidProof("batch fields", exc.message.removeprefix("fields: ")) from None


def read_batches(data: bytes, name: str) -> list[Batch]:
    """The batch file's rows in batch order (the numbers must be exactly 0..n-1)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidProof("batch fields", f"{name}: not UTF-8 text") from None
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InvalidProof("batch fields", f"{name}: not a CSV file ({exc})") from None
    if not rows:
        raise InvalidProof("batch fields", f"{name}: no batches")
    if len(rows) > MAX_BATCHES:
        raise InvalidProof("batch fields", f"{name}: more than {MAX_BATCHES} batches")
    missing = [c for c in _COLUMNS if c not in rows[0]]
    if missing:
        raise InvalidProof("batch fields", f"{name}: missing column(s) {', '.join(missing)}")
    batches: dict[int, Batch] = {}
    for line, row in enumerate(rows, start=2):
        where = f"{name} line {line}"
        number_text = row.get("batch_number") or ""
        if not number_text.isascii() or not number_text.isdigit() or len(number_text) > 6:
            raise InvalidProof("batch fields", f"{where}: batch_number {shown(number_text)}")
        number = int(number_text)
        if number in batches:
            raise InvalidProof("batch fields", f"{where}: batch {number} appears twice")
        commitment = row.get("batch_commitment") or ""
        try:
            value = field_b64(commitment, f"{where}: batch_commitment")
        except InvalidProof as exc:
            raise InvalidProof("batch fields", exc.message.removeprefix("fields: ")) from None
        batches[number] = Batch(
            number,
            _pair(row.get("account_tree_roots") or "", f"{where}: account_tree_roots"),
            _pair(
                row.get("cex_asset_list_commitments") or "", f"{where}: cex_asset_list_commitments"
            ),
            value,
        )
    gaps = sorted(set(range(len(batches))) - set(batches))
    if gaps:
        raise InvalidProof("batch fields", f"{name}: batch numbers are not 0..{len(batches) - 1}")
    return [batches[n] for n in range(len(batches))]


def check_batches(
    batches: Sequence[Batch], empty_tree: int, empty_assets: int | None, user_root: int
) -> tuple[list[str], dict[str, Any], str | None]:
    """The publishers' chain checks over the batch file (not the Groth16 proofs themselves).

    Returns
    -------
    tuple
        The checks that passed, the facts for the result, and why the user's root is not a
        batch result (None when it is): a consistent batch file of another published set is
        a result, not a broken file.

    Raises
    ------
    InvalidProof
        ``"empty tree"``, ``"batch chain"`` or ``"batch commitment"``.
    """
    first = batches[0]
    if first.roots[0] != empty_tree:
        raise InvalidProof(
            "empty tree",
            f"batch 0 starts from root {hex32(first.roots[0])}, the empty tree's root is "
            f"{hex32(empty_tree)}",
        )
    if empty_assets is not None and first.assets[0] != empty_assets:
        raise InvalidProof(
            "empty tree",
            f"batch 0 starts from asset commitment {hex32(first.assets[0])}, the all-zero "
            f"asset list commits to {hex32(empty_assets)}",
        )
    for prev, batch in itertools.pairwise(batches):
        if batch.roots[0] != prev.roots[1] or batch.assets[0] != prev.assets[1]:
            raise InvalidProof(
                "batch chain",
                f"batch {batch.number} does not start where batch {prev.number} ended",
            )
    for batch in batches:
        expected = poseidon_gnark((*batch.roots, *batch.assets))
        if expected != batch.commitment:
            raise InvalidProof(
                "batch commitment",
                f"batch {batch.number}: P(roots, asset commitments) = {hex32(expected)}, the "
                f"file states {hex32(batch.commitment)}",
            )
    checks = [
        f"batch file: {plural(len(batches), 'batch')} numbered 0..{len(batches) - 1}, each "
        "starting where the previous ended; every batch_commitment = P(roots, asset "
        "commitments)",
        f"the first batch starts from the empty tree (root {hex32(empty_tree)})"
        + (
            " and the all-zero asset list"
            if empty_assets is not None
            else "; its starting asset commitment binds the exchange's prices (not in the "
            "batch file): not checked"
        ),
    ]
    afters = [b.roots[1] for b in batches]
    facts: dict[str, Any] = {
        "batches": len(batches),
        "empty_tree_root": hex32(empty_tree),
        "final_root": hex32(afters[-1]),
    }
    if user_root not in afters:
        why = (
            f"the user's root {hex32(user_root)} is no batch's resulting root: the batch file "
            "is consistent but proves another tree"
        )
        return checks, facts, why
    at = afters.index(user_root)
    checks.append(
        f"the user's root is the result of batch {at}"
        + (" (the final root)" if at == len(batches) - 1 else " (not the final root)")
    )
    facts["root_batch"] = at
    return checks, facts, None


def signed_values(account: Account, balances: Mapping[str, str]) -> list[str]:
    """The published values with a minus sign, which the leaf hashes without it."""
    names = [k for k, v in balances.items() if v.startswith("-")]
    totals = (("TotalEquity", account.total_equity), ("TotalDebt", account.total_debt))
    return names + [name for name, value in totals if value < 0]


# ----------------------------------------------------------------------------- verify


def verify(inp: ProofInput, layout: Layout, account: Account) -> FormatResult:
    """Verify `account`'s path under `layout`; the batch file and `--root` when given."""
    count, _commitment, leaf = find_count(layout, account, inp.assets)
    source = "--assets" if inp.assets is not None else "detected"
    tried = (
        "given" if inp.assets is not None else "tried " + ", ".join(map(str, layout.known_counts))
    )
    checks = [
        f"file well-formed: account index {account.index}, {DEPTH} siblings",
        f"asset commitment over N={count} assets ({source}; {tried})",
        f"leaf P(idHash, equity, debt, assets) = {hex32(leaf)}",
        f"{DEPTH} parents P(left, right) recomputed; {layout.root_field} {hex32(account.root)} "
        "reached",
    ]
    details: dict[str, Any] = {
        "variant": f"N={count}",
        "asset_count": count,
        "asset_count_source": source,
        "account_index": account.index,
        "leaf": hex32(leaf),
        "total_equity": str(account.total_equity),
        "total_debt": str(account.total_debt),
        "units": layout.units,
    }
    why = None
    if inp.batch_proof is not None:
        batches = read_batches(inp.batch_proof, "--batch-proof")
        nil_leaf = poseidon_gnark((0, 0, 0, poseidon_gnark(layout.commitment({}, count))))
        empty_assets = poseidon_gnark([0] * count) if layout.zero_start else None
        more, facts, why = check_batches(batches, empty_root(nil_leaf), empty_assets, account.root)
        checks.extend(more)
        details.update(facts)
    weaknesses = list(layout.weaknesses)
    balances = layout.balances(account)
    signed = signed_values(account, balances)
    if signed:
        weaknesses.append(
            f"negative values in this proof ({', '.join(signed)}): the leaf hashes their "
            "magnitude (big.Int.Bytes() drops the sign), so the sign shown is not proven"
        )
    return FormatResult(
        format=layout.name,
        valid=why is None,
        checks=tuple(checks),
        balances=balances,
        root=hex32(account.root),
        totals={},
        weaknesses=tuple(weaknesses),
        reason=None if why is None else f"batch root: {why}",
        failed_check=None if why is None else "batch root",
        details=details,
    )
