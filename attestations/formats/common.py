"""Shared value objects and helpers for verifying other exchanges' published proofs.

Where it sits: `attestations/formats/` holds one pure module per foreign proof format
(OKX, Bybit, Bitget, BitMEX, Binance's 2022 auditor, CoinEx) beside our own `por-mst-v1`
(`attestations/proofs.py`). Each module takes a `ProofInput` (bytes already read by the CLI
edge, `verifier/external/check.py`) and returns a `FormatResult` or raises `InvalidProof`.

Invariants:
  1. No float anywhere: amounts are `Decimal`, parsed from the file's strings with a strict
     pattern, and every sum is computed inside `exact()` (a local context wide enough that
     no addition rounds). Rounding happens only where a format defines it (`round_down`).
  2. A failed check raises `InvalidProof(check, message)`; a *result* that is not a pass
     but is not a broken file either (an account with no leaf in a consistent tree, a
     sample that passes only under another rule) is a `FormatResult` with ``valid=False``.
  3. Every result lists the format's weaknesses: what passing does *not* prove.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any

from verifier.base import safejson
from verifier.base.errors import InputError, InvalidProof

PRECISION = 200
"""Digits of the local Decimal context: far above any balance these formats carry."""
MAX_DIGITS = 80
"""Longest decimal string accepted from a file (sign and point excluded)."""
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_HEX = re.compile(r"[0-9a-fA-F]*")


@dataclass(frozen=True, slots=True)
class ProofInput:
    """What the CLI read for one `verify-proof` call; the format modules never open files."""

    name: str
    """The file's name (or the directory's, for level files), for messages and detection."""
    data: bytes
    """The proof file's bytes (empty when only level files were given)."""
    tree: bytes | None = None
    """`--tree`: the full liabilities tree file (okx-v2)."""
    nonce: str | None = None
    """`--nonce`: the account's nonce (BitMEX: ``ACCOUNT,NONCE_HEX``; Binance 2022: a leaf hash)."""
    level_files: Mapping[str, bytes] = field(default_factory=dict)
    """Binance 2022: ``tree-levelK.csv`` name -> bytes, every level of the tree."""
    root: bytes | None = None
    """`--root FILE`: the exchange's published root (a hash, or its root/audit-roots file),
    compared with the root the proof computes; None when not given."""
    root_name: str | None = None
    """The `--root` file's name, for messages."""
    credential: str | None = None
    """SwissBorg: the user's credential (`--credential-file` or `--credential-env`); a secret:
    never shown in a message or a result."""
    batch_proof: bytes | None = None
    """Gate/HTX zk trees: `--batch-proof FILE`, the published batch proofs (CSV)."""
    assets: int | None = None
    """zk trees: `--assets N`, the asset-list length of the published version (detected
    from the known values when None)."""


@dataclass(frozen=True, slots=True)
class FormatResult:
    """What verifying one foreign proof established (or, with ``valid=False``, why not)."""

    format: str
    valid: bool
    checks: tuple[str, ...]
    """Every check that passed, in order, in words."""
    balances: Mapping[str, str]
    """The account's balances in whole units, decimal strings (empty if the format has none)."""
    root: str
    """The root hash found (as the format writes it)."""
    totals: Mapping[str, str]
    """The root's totals in whole units, decimal strings (empty for a tree without sums)."""
    weaknesses: tuple[str, ...]
    """What a pass does not prove, for this format."""
    reason: str | None = None
    """Why the result is not valid (None when valid)."""
    failed_check: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    """Format-specific facts (e.g. ``tree_consistent``, ``passes_under``)."""

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "valid": self.valid,
            "format": self.format,
            "checks": list(self.checks),
            "balances": dict(self.balances),
            "root": self.root,
            "totals": dict(self.totals),
            "weaknesses": list(self.weaknesses),
        }
        if not self.valid:
            doc["reason"] = self.reason
            doc["check"] = self.failed_check
        doc.update(self.details)
        return doc


# ----------------------------------------------------------------------------- decimals


@contextmanager
def exact() -> Iterator[None]:
    """A local Decimal context in which additions of file balances never round."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        yield


def shown(value: Any, limit: int = 80) -> str:
    """`value` for a message: its repr, cut to `limit` characters (a file may hold megabytes)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 400:
        return f"<an integer of {value.bit_length()} bits>"  # str() of it may be refused
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_amount(value: Any, where: str, *, negative: bool = True) -> Decimal:
    """A balance string of the file as an exact Decimal.

    Parameters
    ----------
    value
        The JSON or CSV value; must be a string of digits with an optional sign and point.
    where
        Where it was read, for the error.
    negative
        Whether the format allows a minus sign at all (it is then reported, not trusted).

    Returns
    -------
    Decimal
        The exact value.
    """
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise InvalidProof("fields", f"{where}: {shown(value)} is not a decimal string")
    if len(value.lstrip("-").replace(".", "")) > MAX_DIGITS:
        raise InvalidProof("fields", f"{where}: {shown(value)} has more than {MAX_DIGITS} digits")
    if value.startswith("-") and not negative:
        raise InvalidProof("fields", f"{where}: negative balance {shown(value)}")
    with exact():
        return Decimal(value)


def round_down(value: Decimal, places: int = 8) -> Decimal:
    """Truncate toward zero to `places` decimals (Go shopspring's ``RoundDown``)."""
    with exact():
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)


def plain(value: Decimal) -> str:
    """Plain notation, trailing zeros (and a bare point) removed: ``1.50`` -> ``"1.5"``."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


def fixed(value: Decimal, places: int = 8) -> str:
    """Plain notation with exactly `places` decimals, rounded down: ``1.5`` -> ``"1.50000000"``."""
    return format(round_down(value, places), "f")


def sha256hex(text: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 string."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------------------- parsing


def load_json(data: bytes, what: str, source: str | None = None) -> Any:
    """The file as JSON (object key order kept; numbers never become floats).

    Decoded by `verifier.base.safejson`: nesting, integer length and exponents are bounded, so
    no hostile file can exhaust the stack or ask for an unbounded ``int()``.

    Raises
    ------
    InvalidProof
        ``"fields"``: not UTF-8, not JSON, or beyond those bounds; the message names
        `source` (the file) and the line where the decoder knows it.
    """
    name = source or what
    try:
        doc = safejson.loads(data, source=name, parse_float=Decimal, what=what)
    except InputError as exc:
        raise InvalidProof("fields", exc.message) from None
    _refuse_lone_surrogates(doc, name)
    return doc


_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_lone_surrogates(doc: Any, name: str) -> None:
    """JSON may escape half of a UTF-16 pair (``"\\ud800"``); such a string is not text and
    cannot be hashed as UTF-8, so it is refused where it is, before any check reads it."""
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:  # iterative: safejson bounds the depth, this bounds nothing else
        value, where = stack.pop()
        if isinstance(value, str):
            strings = [value]
        elif isinstance(value, dict):
            strings = list(value)
            stack.extend((item, f"{where}.{key}") for key, item in value.items())
        elif isinstance(value, list):
            strings = []
            stack.extend((item, f"{where}[{n}]") for n, item in enumerate(value))
        else:
            continue
        for text in strings:
            if _SURROGATE.search(text):
                raise InvalidProof(
                    "fields",
                    f"{name}: {where.lstrip('.') or 'document'}: {shown(text)} holds a lone "
                    "UTF-16 surrogate, which is not text",
                )


def try_json(data: bytes) -> Any:
    """The file as JSON, or None if it is not acceptable JSON (for detection)."""
    try:
        return safejson.loads(data, source="", parse_float=Decimal)
    except InputError:
        return None


def text(value: Any, where: str) -> str:
    """A string field (a nonce, a user hash), or the named error."""
    if not isinstance(value, str):
        raise InvalidProof("fields", f"{where}: {shown(value)} is not a string")
    return value


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidProof("fields", f"{where}: expected an object, got {type(value).__name__}")
    return value


def sequence(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidProof("fields", f"{where}: expected a list, got {type(value).__name__}")
    return value


def need(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise InvalidProof("fields", f"{where}: missing key {key!r}")
    return obj[key]


def hex_text(value: Any, where: str, length: int | None = None) -> str:
    """A hex string (lowercased); `length` in hex digits when the format fixes it."""
    if not isinstance(value, str) or not _HEX.fullmatch(value) or not value:
        raise InvalidProof("fields", f"{where}: {shown(value)} is not hex")
    if length is not None and len(value) != length:
        raise InvalidProof("fields", f"{where}: {shown(value)} is not {length} hex digits")
    return value.lower()


MAX_INTEGER = 2**63
"""Largest |integer| a format field (a type, height, level, role) may hold."""


def integer(value: Any, where: str) -> int:
    """A small JSON integer (types, heights, levels): never a bool, |value| < 2**63."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidProof("fields", f"{where}: {shown(value)} is not an integer")
    if not -MAX_INTEGER < value < MAX_INTEGER:
        raise InvalidProof("fields", f"{where}: {shown(value)} is out of range")
    return value


def balance_map(value: Any, where: str) -> dict[str, Decimal]:
    """``{"ASSET": "decimal string", ...}`` in the file's key order."""
    obj = mapping(value, where)
    return {str(k): parse_amount(v, f"{where}.{k}") for k, v in obj.items()}


def add_maps(a: Mapping[str, Decimal], b: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Key-wise sum, keys in `a`'s order then `b`'s new keys."""
    with exact():
        out = dict(a)
        for key, value in b.items():
            out[key] = out.get(key, Decimal(0)) + value
        return out


def whole(values: Mapping[str, Decimal]) -> dict[str, str]:
    """Decimal values as plain strings (the output's whole-unit balances)."""
    return {k: plain(v) for k, v in values.items()}


def negatives(values: Mapping[str, Decimal]) -> list[str]:
    return [k for k, v in values.items() if v < 0]


def path_result(
    name: str,
    checks: list[str],
    amounts: Mapping[str, Decimal],
    root: str,
    totals: Mapping[str, Decimal],
    weaknesses: Sequence[str],
    negative: Sequence[str],
    details: Mapping[str, Any] | None = None,
) -> FormatResult:
    """The valid result of a Merkle-path format, naming any negative balance on the path."""
    found = list(weaknesses)
    if negative:
        found.append(
            f"negative balances appear in this path ({', '.join(dict.fromkeys(negative))})"
        )
    return FormatResult(
        format=name,
        valid=True,
        checks=tuple(checks),
        balances=whole(amounts),
        root=root,
        totals=whole(totals),
        weaknesses=tuple(found),
        details=dict(details or {}),
    )
