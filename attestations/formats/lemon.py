"""Lemon Cash's proof of liabilities (lemonatio/proof-of-liabilities): proof rows checked
against the published root file.

Where it sits: a foreign format of `attestations/formats/` (registry in `__init__.py`); pure,
called by `verifier/external/check.py`, which reads the proof CSV (`inp.data`) and
``--root root.json`` (`inp.root`: ``{root_hash, root_balances, hash_algorithm}``).

Rules (Lemon's ``verify.py`` and ``lib/merkle.py``):
* Rows ``id,balances,proof,audit_id`` (a header line, CSV quoting). Like Lemon's verifier,
  **every row** is checked against the one root (each row is one user's proof; the verifier
  takes no id to select one).
* Balances ``ASSET:amount|…``: a negative amount is refused, zero amounts are dropped, each
  amount is rounded half-even to 8 places in Python's default context (28 digits: a value
  that needs more fails, as Lemon's verifier does) and printed by ``str(Decimal)``.
* Leaf ``H(utf8(audit_id + id))`` with ``H`` = ``hash_algorithm`` (``sha256`` in Lemon's
  files): the balances are not in it.
* Proof ``[{SIDE,hexhash,balances},…]`` bottom-up, ``SIDE`` the sibling's side. Parent
  ``H(left_hash ‖ utf8(to_string(left)) ‖ right_hash ‖ utf8(to_string(right)))`` where
  ``to_string`` is ``ASSET:amount`` sorted by asset and joined by ``|``; parent balances are
  the per-asset sums, rounded again to 8 places. The empty leaf is 32 zero bytes, no balances.
* The last node must equal ``root_hash`` and ``root_balances`` (compared as numbers).

Invariants: stricter than Lemon's verifier, never looser (a malformed step, a duplicate asset
or an unknown side is refused where Lemon's would ignore text or crash); no float.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from typing import Any

from attestations.formats.common import (
    FormatResult,
    ProofInput,
    load_json,
    mapping,
    need,
    parse_amount,
    shown,
    text,
    whole,
)
from verifier.base.console import plural
from verifier.base.errors import InvalidProof, UsageError

NAME = "lemon"
HEADER = ("id", "balances", "proof", "audit_id")
ALGORITHMS = (
    "sha256",
    "sha224",
    "sha384",
    "sha512",
    "sha3_224",
    "sha3_256",
    "sha3_384",
    "sha3_512",
    "blake2b",
    "blake2s",
    "sha1",
    "md5",
)
"""``hashlib`` names Lemon's ``getattr(hashlib, hash_algorithm)`` can use without a length."""
BROKEN = ("sha1", "md5")
EMPTY_NODE = b"\x00" * 32
PYTHON_PRECISION = 28
"""Python's default Decimal context, in which Lemon's verifier rounds and adds."""
MAX_STEPS = 64
_STEP = re.compile(r"\{([^{}]*)\}")
_PROOF = re.compile(r"\[(\{[^{}]*\}(,\{[^{}]*\})*)?\]")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
WEAKNESSES = (
    "balances are not in the leaf hash (sha256(audit_id + id)): the leaf commits only to the "
    "account id; its balances are bound one level up, by the parent's hash",
    "the leaf has no secret salt: anyone who knows the audit id and an account id can compute "
    "that account's leaf and recognise it in a published tree",
    "balances are rounded half-even to 8 decimals before hashing and summing: a balance with "
    "more decimals is proven as its rounded value",
    "inclusion of the rows given only: the other leaves, the number of accounts and the "
    "completeness of the tree are not checked",
    "the root file is what was given with --root: compare its hash with the one Lemon published",
)


def looks_like(inp: ProofInput) -> bool:
    head = inp.data[:4096].lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].strip()
    fields = [f.strip() for f in head.decode("utf-8", "replace").split(",")]
    return set(HEADER) <= set(fields)


@dataclass(frozen=True, slots=True)
class Step:
    side: str
    digest: bytes
    balances: dict[str, Decimal]


# ----------------------------------------------------------------------------- amounts


def _rounded(value: Decimal, where: str) -> Decimal:
    """``round(value, 8)`` in Python's default context, as Lemon's verifier computes it."""
    with localcontext() as ctx:
        ctx.prec = PYTHON_PRECISION
        ctx.rounding = ROUND_HALF_EVEN
        try:
            return value.quantize(Decimal("1E-8"))
        except InvalidOperation:
            raise InvalidProof(
                "fields", f"{where}: {shown(str(value))} has more than 28 digits at 8 places"
            ) from None


def balances(raw: str, where: str) -> dict[str, Decimal]:
    """``to_decimal_balance(decode_balance(raw))``: zeros dropped, amounts at 8 places."""
    out: dict[str, Decimal] = {}
    if raw == "":
        return out
    for n, part in enumerate(raw.split("|")):
        pieces = part.split(":")
        if len(pieces) != 2 or not pieces[0]:
            raise InvalidProof("fields", f"{where}: {shown(part)} is not ASSET:amount")
        asset, amount = pieces
        value = parse_amount(amount, f"{where}[{n}] {asset}")
        if value < 0:
            raise InvalidProof("negative balance", f"{where}: {asset} {amount} is negative")
        if asset in out:
            raise InvalidProof("fields", f"{where}: {shown(asset)} twice")
        if value != 0:
            out[asset] = _rounded(value, f"{where} {asset}")
    return out


def to_string(values: Mapping[str, Decimal]) -> str:
    return "|".join(f"{asset}:{amount}" for asset, amount in sorted(values.items()))


def combine(
    left: Mapping[str, Decimal], right: Mapping[str, Decimal], where: str
) -> dict[str, Decimal]:
    """``combine_balances``: per-asset sums, added and rounded in Python's default context."""
    out = {}
    for asset in set(left) | set(right):
        with localcontext() as ctx:
            ctx.prec = PYTHON_PRECISION
            total = left.get(asset, Decimal(0)) + right.get(asset, Decimal(0))
        out[asset] = _rounded(total, f"{where} sum of {asset}")
    return out


# ----------------------------------------------------------------------------- reading


def _root(data: bytes, source: str) -> tuple[bytes, dict[str, Decimal], str]:
    doc = mapping(load_json(data, "the root file", source), "root file")
    root_hash = text(need(doc, "root_hash", "root file"), "root_hash")
    if not _HEX.fullmatch(root_hash):
        raise InvalidProof("fields", f"root_hash: {shown(root_hash)} is not hex")
    stated = balances(
        text(need(doc, "root_balances", "root file"), "root_balances"), "root_balances"
    )
    algorithm = text(need(doc, "hash_algorithm", "root file"), "hash_algorithm")
    if algorithm not in ALGORITHMS:
        raise InvalidProof(
            "fields", f"hash_algorithm: {shown(algorithm)} is not one of {', '.join(ALGORITHMS)}"
        )
    return bytes.fromhex(root_hash), stated, algorithm


def _steps(raw: str, where: str, size: int) -> list[Step]:
    if not _PROOF.fullmatch(raw):
        raise InvalidProof("fields", f"{where}: {shown(raw)} is not [{{SIDE,hash,balances}},…]")
    steps = []
    for n, body in enumerate(_STEP.findall(raw)):
        at = f"{where}[{n}]"
        parts = body.split(",")
        if len(parts) != 3:
            raise InvalidProof("fields", f"{at}: {shown(body)} is not SIDE,hash,balances")
        side, digest, amounts = parts
        if side not in ("LEFT", "RIGHT"):
            raise InvalidProof("fields", f"{at}: side {shown(side)} is not LEFT or RIGHT")
        if not _HEX.fullmatch(digest) or len(digest) // 2 not in (size, len(EMPTY_NODE)):
            raise InvalidProof("fields", f"{at}: {shown(digest)} is not a {size}-byte hex hash")
        steps.append(Step(side, bytes.fromhex(digest), balances(amounts, f"{at} balances")))
    if len(steps) > MAX_STEPS:
        raise InvalidProof("fields", f"{where}: {len(steps)} steps, at most {MAX_STEPS}")
    return steps


def _rows(data: bytes, name: str) -> list[tuple[int, dict[str, str]]]:
    try:
        body = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidProof("fields", f"{name}: not UTF-8 text") from None
    try:
        reader = csv.DictReader(io.StringIO(body, newline=""))
        fields = [f.strip() for f in reader.fieldnames or []]
        missing = [h for h in HEADER if h not in fields]
        if missing:
            raise InvalidProof("fields", f"header: missing column(s) {', '.join(missing)}")
        reader.fieldnames = fields
        rows = []
        for row in reader:
            values = {h: row.get(h) for h in HEADER}
            if None in values.values() or None in row:
                raise InvalidProof(
                    "fields", f"line {reader.line_num}: expected {len(fields)} columns"
                )
            rows.append((reader.line_num, {h: str(v) for h, v in values.items()}))
    except csv.Error as exc:
        raise InvalidProof("fields", f"{name}: not CSV ({exc})") from None
    if not rows:
        raise InvalidProof("fields", f"{name}: no proof rows")
    return rows


# ----------------------------------------------------------------------------- checking


def _walk(
    leaf: bytes,
    own: dict[str, Decimal],
    steps: list[Step],
    hasher: Callable[[bytes], Any],
    where: str,
) -> tuple[bytes, dict[str, Decimal]]:
    """``verify_merkle_proof_from_leaf``: the node the steps reach from the leaf."""
    node, sums = leaf, own
    for n, step in enumerate(steps):
        mine = node + to_string(sums).encode()
        theirs = step.digest + to_string(step.balances).encode()
        left, right = (mine, theirs) if step.side == "RIGHT" else (theirs, mine)
        node = hasher(left + right).digest()
        sums = combine(sums, step.balances, f"{where} step {n}")
    return node, sums


def verify(inp: ProofInput) -> FormatResult:
    """Verify every row of a Lemon ``proof.csv`` against ``--root root.json``.

    Raises
    ------
    UsageError
        No ``--root`` root file.
    InvalidProof
        A failed check, naming the row's line.
    """
    if inp.root is None:
        raise UsageError(
            f"--format {NAME} needs --root FILE (the published root.json: root_hash, "
            "root_balances, hash_algorithm)"
        )
    source = inp.root_name or "--root"
    root_hash, root_sums, algorithm = _root(inp.root, source)
    hash_fn = getattr(hashlib, algorithm)
    size = hash_fn().digest_size
    if len(root_hash) != size:
        raise InvalidProof("fields", f"root_hash: not a {size}-byte {algorithm} hash")
    rows = _rows(inp.data, inp.name)
    checks = [f"{plural(len(rows), 'proof row')} and {source} well-formed ({algorithm})"]
    accounts: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for line, row in rows:
        where = f"line {line}"
        account, audit_id = row["id"].strip(), row["audit_id"].strip()
        if (account, audit_id) in seen:
            # one account has one leaf: a repeated row proves nothing more
            raise InvalidProof(
                "fields", f"{where}: id {shown(account)} again (line {seen[account, audit_id]})"
            )
        seen[account, audit_id] = line
        own = balances(row["balances"].strip(), f"{where} balances")
        steps = _steps(row["proof"].strip(), f"{where} proof", size)
        leaf = hash_fn((audit_id + account).encode("utf-8")).digest()
        node, sums = _walk(leaf, own, steps, hash_fn, where)
        if node != root_hash:
            raise InvalidProof(
                "root hash",
                f"{where} (id {shown(account)}): the proof hashes to {node.hex()}, "
                f"{source} states {root_hash.hex()}",
            )
        if sums != root_sums:
            raise InvalidProof(
                "root balances",
                f"{where} (id {shown(account)}): the proof sums to {to_string(sums)}, "
                f"{source} states {to_string(root_sums)}",
            )
        accounts.append({"id": account, "leaf": leaf.hex(), "balances": _shown(own)})
    checks.append(
        f"every row's leaf {algorithm}(audit_id + id) recomputed (the balances are not in it)"
    )
    checks.append(
        "every path recomputed: each parent hashes both children's hashes and balances, sums "
        "rounded to 8 places"
    )
    checks.append(f"root {root_hash.hex()} and its balances match {source}")
    weaknesses: tuple[str, ...] = WEAKNESSES
    if algorithm in BROKEN:
        weaknesses += (f"hash_algorithm {algorithm} is broken: collisions can be found",)
    return FormatResult(
        format=NAME,
        valid=True,
        checks=tuple(checks),
        balances=accounts[0]["balances"] if len(accounts) == 1 else {},
        root=root_hash.hex(),
        totals=_shown(root_sums),
        weaknesses=weaknesses,
        details={
            "rows": len(accounts),
            "accounts": accounts,
            "hash_algorithm": algorithm,
            "root_matches": True,
        },
    )


def _shown(values: Mapping[str, Decimal]) -> dict[str, str]:
    """Balances for the result, in asset order, plain (trailing zeros dropped)."""
    return whole(dict(sorted(values.items())))
