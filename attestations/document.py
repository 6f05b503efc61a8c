"""The attestation document `por-attestation-v1`: canonical encoding, build, sign, verify.

Where it sits: the last step of the attestation stage. The exchange assembles, from the
liabilities root document (`root.json`, attestations/build.py), the chain snapshots
(verifier/holdings/snapshot.py), its off-chain reserve statement, prices and the rule pack, one JSON
document; signs it with an Ed25519 key; and publishes it. An auditor reads it back with
`verify_attestation` (or `verify_attestation_signature`) before reconciling. docs/attestation.md
is the normative description of the schema and of the canonical encoding.

Pure apart from two edges: the signing key (its files are verifier/inputs/keys.py's job) and writing
the published files (`write_attestation`, `load_attestation`). No network, no asyncio.

Invariants:
  1. What is signed is ``b"por-attestation-v1\\n" || canonical_json(document without its
     "signature" member)``. The canonical encoding is a subset of RFC 8785 (JCS): UTF-8,
     object keys sorted by UTF-16 code units, no whitespace, minimal string escapes, integers
     only (``|n| <= 2**53 - 1``), serialised by the `rfc8785` package. Floats, NaN and
     non-JSON values are rejected before it, naming their path, never rounded. So any file
     layout (pretty, reordered) verifies alike.
  2. Amounts are decimal strings of integer base units; prices are decimal strings.
  3. Every field a verifier reads is checked, one check per line, raising `InvalidProof`
     whose ``check`` is ``"format"``, ``"signature"``, ``"public_key"`` (a pinned key that
     differs) or ``"field <path>"`` (e.g. ``"field chains[0].wallets[2].balances.BTC"``).
     Fields are checked before the signature, so the error names what is wrong.
  4. The document is closed: an unknown member at the top level, in a chain or in a wallet
     is an error. ``reserve``, ``report`` and each wallet's ``ownership`` are carried as given
     (signed, shape-checked; their content is checked by the reserve rules and the ownership
     verifiers), and ``liabilities`` is the root document verbatim. Inside ``ownership``, the
     members a verifier decides with (``message``, ``epoch``, ``age``, ``status``) and the
     top-level ``settings`` (the maximum proof age applied) are checked strictly: an epoch
     proof's message, age and staleness are recomputed from them (verifier/jobs/attest.py).
  5. The private key is never part of an error message.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from attestations.encoding import ASSET_CODE_RE, commitment
from attestations.proofs import RootDocument, parse_root_document
from chains.base import Attribution, BlockRef, Chain, ProofAge, ProofEpoch, WalletClass
from chains.btc_ownership import decode_address
from chains.challenge import challenge, epoch_challenge, line_problem
from verifier.base import safejson
from verifier.base.errors import InputError, InvalidProof, NotFound, PorError, StoreError

FORMAT = "por-attestation-v1"
SIGNING_TAG = b"por-attestation-v1\n"
"""Domain separation: prefixed to the canonical bytes before signing."""
ALGORITHM = "ed25519"
MAX_SAFE_INT = 2**53 - 1
"""Largest integer magnitude allowed (I-JSON, RFC 7493): every JCS implementation agrees."""
MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted (a hostile document cannot exhaust the stack)."""
MAX_BALANCE = 2**256
"""Balances are below 2**256 (an EVM word)."""
BITCOIN_NETWORKS = ("main", "test", "testnet4", "signet", "regtest")
"""The networks chains/btc_ownership.py decodes addresses for."""

TOP_REQUIRED = (
    "format",
    "attestation_id",
    "as_of",
    "exchange",
    "liabilities",
    "chains",
    "reserve",
    "prices",
    "rule_pack",
)
TOP_OPTIONAL = ("settings", "report", "signature")
CHAIN_KEYS = ("chain", "network", "height", "block_hash", "challenge", "wallets")
WALLET_KEYS = ("address", "label", "class", "attribution", "balances", "ownership")
PRICE_KEYS = ("value", "currency", "source", "time")
RULE_PACK_KEYS = ("id", "version")
SIGNATURE_KEYS = ("algorithm", "public_key", "value")
SETTINGS_KEYS = ("ownership_max_age",)
MAX_AGE_KEYS = ("days", "source", "blocks")
EPOCH_KEYS = ("id", "height", "hash", "expires")
AGE_KEYS = ("blocks", "seconds")
OWNERSHIP_STATUSES = ("proven", "unproven", "custodial", "stale")
"""An address's ownership verdict; "stale" (an epoch proof past the maximum age or its
expiry) counts as unproven everywhere."""
MAX_AGE_DAYS = 3660
"""Most days a maximum age may state: ten years, as `[ownership] max_age_days` allows
(verifier.inputs.config_schema.MAX_AGE_DAYS; a test keeps the two equal). A document stating more
is refused: such a limit would accept any old signature."""
RESERVE_LISTS = ("cash", "insurance", "guarantees")

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[A-Z0-9._-]{1,16}")
_DECIMAL_INT = re.compile(r"0|[1-9][0-9]*")
_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?")
_CURRENCY = re.compile(r"[A-Z]{3}|[A-Z0-9]{2,10}")
_HEX = re.compile(r"(?:[0-9a-f]{2})+")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
_ETH_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_ETH_CHAIN_ID = re.compile(r"[1-9][0-9]{0,19}")
_UTC_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


# ----------------------------------------------------------------------------- canonical JSON


def _child(path: str, key: str | int) -> str:
    """The path of a member or element, as error checks name it (``chains[0].height``)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _shown(value: Any) -> str:
    """`value` for a message, at most 80 characters (a hostile file may hold megabytes)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _bad(path: str, message: str) -> InvalidProof:
    return InvalidProof(f"field {path or 'document'}", message)


def _checked_string(value: str, path: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad(path, "a string with a lone surrogate is not valid Unicode") from None
    return value


def _checked(value: Any, path: str, depth: int) -> Any:
    """`value` as plain dicts, lists, str, int, bool and None, or the refusal naming its path.

    Our refusals, stricter than RFC 8785, come before the library sees the value: a float
    (which JCS would encode) is refused rather than rounded, NaN and non-JSON types are named
    by their path, and nesting is bounded. Members are visited in canonical (UTF-16) order so
    that, of several faults, the first in the canonical bytes is the one reported.
    """
    if depth > MAX_DEPTH:
        raise _bad(path, f"nested deeper than {MAX_DEPTH} levels")
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return _checked_string(value, path)
    if isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise _bad(path, f"integer {value} is beyond ±(2**53 - 1); write it as a string")
        return int(value)  # an IntEnum is written as its number
    if isinstance(value, float | Decimal):
        raise _bad(
            path,
            f"{value!r} is not an integer: floats (and NaN, Infinity) are not allowed; "
            "amounts and prices are decimal strings",
        )
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise _bad(path, f"object key {key!r} is not a string")
        try:
            keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        except UnicodeEncodeError:
            raise _bad(path, "an object key with a lone surrogate is not valid Unicode") from None
        # rfc8785 accepts only dict: any other mapping (MappingProxyType...) becomes one
        return {key: _checked(value[key], _child(path, key), depth + 1) for key in keys}
    if isinstance(value, list | tuple):
        return [_checked(item, _child(path, n), depth + 1) for n, item in enumerate(value)]
    raise _bad(path, f"a {type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> bytes:
    """The canonical encoding of a JSON value (a subset of RFC 8785, JCS).

    The bytes come from the `rfc8785` package (Trail of Bits; pure Python, tested against
    the RFC's vectors); this function is the gate in front of it, refusing what our format
    does not allow (see Raises) with the path of the offending value.

    Parameters
    ----------
    value
        None, bool, str, int (``|n| <= 2**53 - 1``), or lists/tuples and mappings (string
        keys) of these.

    Returns
    -------
    bytes
        UTF-8; keys sorted by UTF-16 code units; no insignificant whitespace; strings with
        only ``"``, ``\\`` and control characters escaped.

    Raises
    ------
    InvalidProof
        ``check = "field <path>"`` for a float, NaN, Decimal, an integer out of range, a
        non-string key, a lone surrogate, nesting deeper than 64, or any other type.
    """
    plain = _checked(value, "", 0)
    try:
        return rfc8785.dumps(plain)
    except rfc8785.CanonicalizationError as exc:  # refused above; kept so it is never a traceback
        raise _bad("", f"not encodable as RFC 8785 canonical JSON: {exc}") from None


def signing_payload(doc: Mapping[str, Any]) -> bytes:
    """The exact bytes an attestation signature covers.

    Parameters
    ----------
    doc
        The attestation document, signed or not.

    Returns
    -------
    bytes
        ``b"por-attestation-v1\\n" + canonical_json(doc without "signature")``.
    """
    return SIGNING_TAG + canonical_json({k: v for k, v in doc.items() if k != "signature"})


# ----------------------------------------------------------------------------- value objects


@dataclass(frozen=True, slots=True)
class WalletEntry:
    """One address of one chain as the attestation states it."""

    address: str
    """Bitcoin: an address of the chain's network. Ethereum: 0x + 40 hex digits."""
    label: str
    """The wallet's label in por.toml (may be empty)."""
    wallet_class: WalletClass
    """cold / hot / custodial / other."""
    attribution: Attribution
    """customer (backs liabilities) or own (the exchange's buffer)."""
    balances: Mapping[str, int]
    """Asset code -> integer base units at the chain's pinned block."""
    ownership: Mapping[str, Any] | None = None
    """The ownership proof as given: ``{"scheme", "message", "signature" | "signatures",
    "witness_script", "addresses"}`` (chains/btc_ownership.py, chains/eth_ownership.py);
    None when there is none (e.g. custodial). `verifier.jobs.attest.attestation_document` adds
    the verdict's ``epoch``, ``age`` and ``status``."""
    epoch: ProofEpoch | None = None
    """Parsed from ``ownership.epoch`` by `parse_attestation`: the ownership epoch whose
    challenge the proof signs; None for the point-in-time challenge. `to_json` does not
    write it (the ``ownership`` mapping carries it)."""
    age: ProofAge | None = None
    """Parsed from ``ownership.age``: the epoch proof's stated age at the pinned block."""
    status: str | None = None
    """Parsed from ``ownership.status``: the exchange's verdict (`OWNERSHIP_STATUSES`);
    None when the proof states none (a document written before it was recorded)."""

    def to_json(self) -> dict[str, Any]:
        """The wallet as a document member (balances as decimal strings)."""
        return {
            "address": self.address,
            "label": self.label,
            "class": str(self.wallet_class),
            "attribution": str(self.attribution),
            "balances": {code: _units_text(units) for code, units in self.balances.items()},
            "ownership": None if self.ownership is None else _plain(self.ownership),
        }


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """One chain's wallets, all read at one pinned block."""

    block: BlockRef
    """Chain, network, height and hash of the pinned block."""
    wallets: tuple[WalletEntry, ...]
    """Every attested address of this chain (at least one)."""
    challenge: str | None = None
    """The ownership challenge for `block` (chains/challenge.py). None when building: the
    builder computes it. Always set in a parsed document."""

    def to_json(self, exchange: str, attestation_id: str) -> dict[str, Any]:
        """The chain as a document member; computes the challenge when it is None."""
        text = self.challenge
        if text is None:
            text = challenge(exchange, attestation_id, self.block)
        return {
            "chain": str(self.block.chain),
            "network": self.block.network,
            "height": self.block.height,
            "block_hash": self.block.hash,
            "challenge": text,
            "wallets": [wallet.to_json() for wallet in self.wallets],
        }


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """One asset's price in the reporting currency (verifier/inputs/prices.py `Price`)."""

    value: Decimal
    """Price of one whole unit; written as a plain decimal string, never a float."""
    currency: str
    """Reporting currency, e.g. "JPY"; the same for every asset of a document."""
    source: str
    """Where the price comes from (a named reference rate or feed)."""
    time: str
    """When it applies, ISO 8601."""

    def to_json(self) -> dict[str, str]:
        """The quote as a document member."""
        return {
            "value": format(self.value, "f"),
            "currency": self.currency,
            "source": self.source,
            "time": self.time,
        }


@dataclass(frozen=True, slots=True)
class RulePackRef:
    """Which reserve rule pack the report applies (RULES.md)."""

    id: str
    """Pack identifier, e.g. "jp-fsa-proposal"."""
    version: str
    """Pack version, e.g. "2026.1"."""

    def to_json(self) -> dict[str, str]:
        """The reference as a document member."""
        return {"id": self.id, "version": self.version}


@dataclass(frozen=True, slots=True)
class OwnershipMaxAge:
    """The maximum age of an epoch ownership proof the exchange applied (``settings``), so
    a verifier recomputes staleness under the document's own limits."""

    days: int
    """A proof signed more than this many days before the pinned block is stale."""
    source: str
    """Where the day limit came from ("[ownership] max_age_days", a rule pack, "default")."""
    blocks: Mapping[str, int] = field(default_factory=dict)
    """Chain name -> most blocks from the epoch block to the pinned block (no entry: none)."""

    def to_json(self) -> dict[str, Any]:
        """``{"days", "source", "blocks"}`` (what `verifier.holdings.ownership.MaxAge.to_json`
        gives)."""
        return {
            "days": self.days,
            "source": self.source,
            "blocks": dict(sorted(self.blocks.items())),
        }


@dataclass(frozen=True, slots=True)
class SignatureBlock:
    """The exchange's signature over the canonical document."""

    algorithm: str
    """Always "ed25519" (RFC 8032)."""
    public_key: bytes
    """32-byte raw Ed25519 public key."""
    value: bytes
    """64-byte signature over `signing_payload(document)`."""

    def to_json(self) -> dict[str, str]:
        """The signature as a document member (lowercase hex)."""
        return {
            "algorithm": self.algorithm,
            "public_key": self.public_key.hex(),
            "value": self.value.hex(),
        }


@dataclass(frozen=True, slots=True)
class Attestation:
    """A parsed, fully checked attestation document."""

    attestation_id: str
    as_of: str
    """ISO 8601 time the attestation speaks for."""
    exchange: str
    liabilities: RootDocument
    """The liabilities root document (`root.json`, por-mst-v1)."""
    chains: tuple[ChainEntry, ...]
    reserve: Mapping[str, Any]
    """Off-chain reserve statement (cash, insurance policies, guarantees), as given."""
    prices: Mapping[str, PriceQuote]
    """Asset code -> price."""
    rule_pack: RulePackRef
    report: Mapping[str, Any] | None
    """Optional report summary, as given."""
    signature: SignatureBlock | None
    """None only for a document parsed with ``require_signature=False``."""
    max_age: OwnershipMaxAge | None = None
    """``settings.ownership_max_age``: present whenever a wallet's proof names an epoch."""

    @property
    def currency(self) -> str:
        """The reporting currency of the prices."""
        return next(iter(self.prices.values())).currency


# ----------------------------------------------------------------------------- field checks


def _units_text(units: Any) -> Any:
    # leave anything but an integer as it is, so the checks name its path and type
    if isinstance(units, int) and not isinstance(units, bool):
        return str(units)
    return units


def _plain(value: Any) -> Any:
    """A deep copy as plain dicts and lists, key order kept (floats kept, to be reported)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _object(
    value: Any, where: str, keys: Sequence[str] | None = None, optional: Sequence[str] = ()
) -> Mapping[str, Any]:
    """An object; with `keys`, exactly those members (plus any of `optional`)."""
    if not isinstance(value, Mapping):
        raise _bad(where, f"expected an object, got {_kind(value)}")
    if keys is not None:
        for key in keys:
            if key not in value:
                raise _bad(_child(where, key), "missing")
        allowed = set(keys) | set(optional)
        for key in value:
            if key not in allowed:
                raise _bad(_child(where, str(key)), "unknown member (the format is closed)")
    return value


def _list(value: Any, where: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise _bad(where, f"expected a list, got {_kind(value)}")
    if not value:
        raise _bad(where, "the list is empty")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _text(value: Any, where: str, max_bytes: int, *, empty: bool = False, line: bool = True) -> str:
    """A string of at most `max_bytes` UTF-8 bytes; one line unless `line` is False."""
    if not isinstance(value, str):
        raise _bad(where, f"expected a string, got {_kind(value)}")
    size = len(value.encode("utf-8", errors="surrogatepass"))
    if size == 0 and not empty:
        raise _bad(where, "empty")
    if size > max_bytes:
        raise _bad(where, f"{size} bytes, more than {max_bytes}")
    if line and ("\n" in value or "\r" in value):
        raise _bad(where, "must be one line")
    return value


def _signed_line(value: Any, where: str, max_bytes: int) -> str:
    """A one-line field that goes into a signed ownership message (the exchange, the
    attestation id, an epoch id): no control, invisible or line-breaking character of any
    kind (chains.challenge.line_problem), so it cannot forge or hide a line of the message."""
    text = _text(value, where, max_bytes)
    problem = line_problem(text)
    if problem is not None:
        raise _bad(where, problem)
    return text


def _time(value: Any, where: str) -> str:
    text = _text(value, where, 64)
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(where, f"{text!r} is not an ISO 8601 time") from None
    return text


def _integer(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(where, f"expected an integer, got {_kind(value)}")
    if not low <= value <= high:
        raise _bad(where, f"{value} not in {low}..{high}")
    return value


def _hex(value: Any, where: str, pattern: re.Pattern[str], what: str) -> bytes:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _bad(where, f"expected {what}, got {_shown(value)}")
    return bytes.fromhex(value)


def _choice(value: Any, where: str, options: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in options:
        raise _bad(where, f"{_shown(value)} is not one of {', '.join(options)}")
    return value


def _amount(value: Any, where: str) -> int:
    """A balance: a canonical decimal string of base units, 0 <= x < 2**256."""
    if not isinstance(value, str):
        raise _bad(where, f"expected a decimal string of base units, got {_kind(value)}")
    if not _DECIMAL_INT.fullmatch(value) or len(value) > 78:
        raise _bad(where, f"{_shown(value)} is not a canonical decimal string of base units")
    units = int(value)
    if units >= MAX_BALANCE:
        raise _bad(where, f"{value} reaches 2**256")
    return units


def _asset_code(code: str, where: str) -> str:
    if not ASSET_CODE_RE.fullmatch(code):
        raise _bad(where, f"asset code {_shown(code)} is not [A-Z0-9._-]{{1,16}}")
    return code


# ----------------------------------------------------------------------------- parsing


def _liabilities(value: Any, attestation_id: str) -> RootDocument:
    _object(value, "liabilities")
    try:
        root = parse_root_document(value)
        recomputed = commitment(
            root.attestation_id, root.assets, root.height, root.root.hash, root.root.sums
        )
    except PorError as exc:
        # the root parser names the field inside root.json in its message
        check = getattr(exc, "check", "")
        raise _bad("liabilities", exc.message.removeprefix(f"{check}: ")) from None
    if root.attestation_id != attestation_id:
        raise _bad(
            "liabilities.attestation_id",
            f"{root.attestation_id!r} is not this attestation's id {attestation_id!r}",
        )
    if recomputed != root.commitment:
        raise _bad(
            "liabilities.commitment",
            f"{root.commitment.hex()} is not the commitment of the root document's fields "
            f"({recomputed.hex()})",
        )
    return root


def _address(value: Any, where: str, block: BlockRef) -> str:
    address = _text(value, where, 128)
    if block.chain is Chain.ETHEREUM:
        if not _ETH_ADDRESS.fullmatch(address):
            raise _bad(where, f"{address!r} is not an Ethereum address (0x + 40 hex digits)")
        return address
    try:
        decode_address(address, block.network)
    except PorError as exc:
        check = getattr(exc, "check", "")
        raise _bad(where, exc.message.removeprefix(f"{check}: ")) from None
    return address


def _utc_time(value: Any, where: str) -> str:
    """An expiry: a UTC time written exactly as ``2027-03-31T00:00:00Z`` (as it is signed)."""
    text = _text(value, where, 64)
    if not _UTC_TIME.fullmatch(text):
        raise _bad(where, f"{_shown(text)} is not a UTC time such as 2027-03-31T00:00:00Z")
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(where, f"{text!r} is not a valid date and time") from None
    return text


def _epoch(value: Any, where: str) -> ProofEpoch | None:
    """``ownership.epoch``: null, or the epoch whose challenge the proof signs."""
    if value is None:
        return None
    obj = _object(value, where, EPOCH_KEYS)
    expires = obj["expires"]
    return ProofEpoch(
        id=_signed_line(obj["id"], _child(where, "id"), 256),
        height=_integer(obj["height"], _child(where, "height"), 0, MAX_SAFE_INT),
        hash=_hex(obj["hash"], _child(where, "hash"), _HEX64, "64 lowercase hex").hex(),
        expires=None if expires is None else _utc_time(expires, _child(where, "expires")),
    )


def _age(value: Any, where: str) -> ProofAge | None:
    """``ownership.age``: null, or blocks (and seconds, null when a block time is unknown)
    from the epoch block to the pinned block."""
    if value is None:
        return None
    obj = _object(value, where, AGE_KEYS)
    seconds = obj["seconds"]
    return ProofAge(
        blocks=_integer(obj["blocks"], _child(where, "blocks"), 0, MAX_SAFE_INT),
        # never negative: a signature made at or after the epoch block is not younger than
        # it (a Bitcoin block timed before its parent is measured as 0 by the writer); a
        # negative age would only pass a maximum age it does not meet
        seconds=None
        if seconds is None
        else _integer(seconds, _child(where, "seconds"), 0, MAX_SAFE_INT),
    )


@dataclass(frozen=True, slots=True)
class _Proof:
    """What `_ownership` checked: the proof as given and its parsed epoch, age and status."""

    proof: Mapping[str, Any] | None
    epoch: ProofEpoch | None = None
    age: ProofAge | None = None
    status: str | None = None


def _ownership(value: Any, where: str, expected: str, block: BlockRef, exchange: str) -> _Proof:
    if value is None:
        return _Proof(None)
    proof = _object(value, where)
    _text(proof.get("scheme"), _child(where, "scheme"), 64)
    epoch = _epoch(proof.get("epoch"), _child(where, "epoch"))
    age = _age(proof.get("age"), _child(where, "age"))
    status = None
    if "status" in proof:
        status = _choice(proof["status"], _child(where, "status"), OWNERSHIP_STATUSES)
    if epoch is None and age is not None:
        raise _bad(_child(where, "age"), "an age without an epoch (only epoch proofs have one)")
    if epoch is None and status == "stale":
        raise _bad(_child(where, "status"), "'stale' without an epoch (only epoch proofs age)")
    if epoch is not None and age is None and status in ("proven", "stale"):
        raise _bad(
            _child(where, "age"),
            f"missing: a {status} epoch proof states its age at the pinned block",
        )
    if epoch is not None:
        # the epoch's challenge on this chain: the epoch's block, not the pinned one
        epoch_block = BlockRef(block.chain, block.network, epoch.height, epoch.hash)
        expected = epoch_challenge(exchange, epoch.id, epoch_block, epoch.expires)
    if "message" in proof:
        message = _text(proof["message"], _child(where, "message"), 4096, line=False)
        if message != expected:
            what = f"epoch {epoch.id}'s challenge" if epoch is not None else "challenge"
            raise _bad(_child(where, "message"), f"is not this chain's {what}")
    if "signature" in proof:
        _text(proof["signature"], _child(where, "signature"), 16384)
    if "signatures" in proof:
        items = _list(proof["signatures"], _child(where, "signatures"))
        for n, item in enumerate(items):
            _text(item, _child(_child(where, "signatures"), n), 16384)
    if "witness_script" in proof:
        script_where = _child(where, "witness_script")
        _hex(proof["witness_script"], script_where, _HEX, "lowercase hex (whole bytes)")
    if "addresses" in proof:
        by_address = _object(proof["addresses"], _child(where, "addresses"))
        for address, signature in by_address.items():
            _text(signature, _child(_child(where, "addresses"), address), 16384)
    return _Proof(proof, epoch, age, status)


def _wallet(value: Any, where: str, block: BlockRef, expected: str, exchange: str) -> WalletEntry:
    obj = _object(value, where, WALLET_KEYS)
    address = _address(obj["address"], _child(where, "address"), block)
    label = _text(obj["label"], _child(where, "label"), 1024, empty=True, line=False)
    wallet_class = _choice(obj["class"], _child(where, "class"), [c.value for c in WalletClass])
    attribution = _choice(
        obj["attribution"], _child(where, "attribution"), [a.value for a in Attribution]
    )
    raw_balances = _object(obj["balances"], _child(where, "balances"))
    if not raw_balances:
        raise _bad(_child(where, "balances"), "no balances")
    balances = {
        _asset_code(code, _child(_child(where, "balances"), code)): _amount(
            units, _child(_child(where, "balances"), code)
        )
        for code, units in raw_balances.items()
    }
    checked = _ownership(obj["ownership"], _child(where, "ownership"), expected, block, exchange)
    return WalletEntry(
        address=address,
        label=label,
        wallet_class=WalletClass(wallet_class),
        attribution=Attribution(attribution),
        balances=balances,
        ownership=checked.proof,
        epoch=checked.epoch,
        age=checked.age,
        status=checked.status,
    )


def _chain(value: Any, where: str, exchange: str, attestation_id: str) -> ChainEntry:
    obj = _object(value, where, CHAIN_KEYS)
    name = Chain(_choice(obj["chain"], _child(where, "chain"), [c.value for c in Chain]))
    network = _text(obj["network"], _child(where, "network"), 32)
    if name is Chain.BITCOIN:
        _choice(network, _child(where, "network"), BITCOIN_NETWORKS)
    elif not _ETH_CHAIN_ID.fullmatch(network):
        raise _bad(_child(where, "network"), f"{network!r} is not a decimal Ethereum chain id")
    height = _integer(obj["height"], _child(where, "height"), 0, MAX_SAFE_INT)
    block_hash = _hex(obj["block_hash"], _child(where, "block_hash"), _HEX64, "64 lowercase hex")
    block = BlockRef(chain=name, network=network, height=height, hash=block_hash.hex())
    text = _text(obj["challenge"], _child(where, "challenge"), 4096, line=False)
    expected = challenge(exchange, attestation_id, block)
    if text != expected:
        raise _bad(
            _child(where, "challenge"),
            "is not the challenge for this exchange, attestation and block "
            f"(chains/challenge.py gives {expected!r})",
        )
    wallets_where = _child(where, "wallets")
    wallets = tuple(
        _wallet(raw, _child(wallets_where, n), block, expected, exchange)
        for n, raw in enumerate(_list(obj["wallets"], wallets_where))
    )
    seen: set[str] = set()
    for n, wallet in enumerate(wallets):
        # Ethereum addresses differ only in checksum case; count each account once
        key = wallet.address.lower() if name is Chain.ETHEREUM else wallet.address
        if key in seen:
            raise _bad(_child(_child(wallets_where, n), "address"), "listed twice on this chain")
        seen.add(key)
    return ChainEntry(block=block, wallets=wallets, challenge=text)


def _prices(value: Any) -> dict[str, PriceQuote]:
    obj = _object(value, "prices")
    if not obj:
        raise _bad("prices", "no prices")
    quotes: dict[str, PriceQuote] = {}
    for code, raw in obj.items():
        where = _child("prices", code)
        _asset_code(code, where)
        quote = _object(raw, where, PRICE_KEYS)
        text = quote["value"]
        if not isinstance(text, str) or not _DECIMAL.fullmatch(text) or len(text) > 80:
            raise _bad(
                _child(where, "value"),
                f"{_shown(text)} is not a plain decimal string (at most 80 characters)",
            )
        currency = quote["currency"]
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
            raise _bad(_child(where, "currency"), f"{_shown(currency)} is not a currency code")
        if quotes and currency != (first := next(iter(quotes.items())))[1].currency:
            raise _bad(
                _child(where, "currency"),
                f"{currency!r} differs from {first[1].currency!r} ({_child('prices', first[0])})",
            )
        quotes[code] = PriceQuote(
            value=Decimal(text),
            currency=currency,
            source=_text(quote["source"], _child(where, "source"), 256),
            time=_time(quote["time"], _child(where, "time")),
        )
    return quotes


def _reserve(value: Any) -> Mapping[str, Any]:
    obj = _object(value, "reserve")
    for key in RESERVE_LISTS:
        if key in obj:
            where = _child("reserve", key)
            items = obj[key]
            if not isinstance(items, list | tuple):
                raise _bad(where, f"expected a list, got {_kind(items)}")
            for n, item in enumerate(items):
                _object(item, _child(where, n))
    return obj


def _settings(value: Any) -> OwnershipMaxAge | None:
    """``settings``: the maximum proof age applied (null when no proof named an epoch)."""
    obj = _object(value, "settings", SETTINGS_KEYS)
    raw = obj["ownership_max_age"]
    if raw is None:
        return None
    where = "settings.ownership_max_age"
    limits = _object(raw, where, MAX_AGE_KEYS)
    blocks_where = _child(where, "blocks")
    blocks = {
        _choice(name, _child(blocks_where, str(name)), [c.value for c in Chain]): _integer(
            count, _child(blocks_where, str(name)), 1, MAX_SAFE_INT
        )
        for name, count in _object(limits["blocks"], blocks_where).items()
    }
    return OwnershipMaxAge(
        days=_integer(limits["days"], _child(where, "days"), 1, MAX_AGE_DAYS),
        source=_text(limits["source"], _child(where, "source"), 256),
        blocks=blocks,
    )


def _epochs_agree(chains: Sequence[ChainEntry], max_age: OwnershipMaxAge | None) -> None:
    """One epoch is one signing round: every proof naming it on a chain names the same block,
    and its expiry is the same on every chain. A proof naming an epoch needs the limits."""
    expiries: dict[str, tuple[str | None, str]] = {}
    for n, chain in enumerate(chains):
        blocks: dict[str, ProofEpoch] = {}
        for m, wallet in enumerate(chain.wallets):
            epoch = wallet.epoch
            if epoch is None:
                continue
            where = _child(_child(_child(_child("chains", n), "wallets"), m), "ownership")
            where = _child(where, "epoch")
            if max_age is None:
                raise _bad(
                    "settings.ownership_max_age",
                    f"missing: {where} names epoch {epoch.id!r}, so the document states the "
                    "maximum proof age it applied",
                )
            first = blocks.setdefault(epoch.id, epoch)
            if (first.height, first.hash) != (epoch.height, epoch.hash):
                raise _bad(
                    where,
                    f"epoch {epoch.id!r} names block {epoch.height} {epoch.hash} here and "
                    f"block {first.height} {first.hash} for another wallet of this chain",
                )
            seen = expiries.setdefault(epoch.id, (epoch.expires, where))
            if seen[0] != epoch.expires:
                raise _bad(
                    _child(where, "expires"),
                    f"{epoch.expires!r} differs from {seen[0]!r} for the same epoch at {seen[1]}",
                )


def _signature(value: Any) -> SignatureBlock:
    obj = _object(value, "signature", SIGNATURE_KEYS)
    algorithm = _choice(obj["algorithm"], "signature.algorithm", [ALGORITHM])
    public_key = _hex(obj["public_key"], "signature.public_key", _HEX64, "64 lowercase hex")
    signature = _hex(obj["value"], "signature.value", _HEX128, "128 lowercase hex")
    return SignatureBlock(algorithm=algorithm, public_key=public_key, value=signature)


def parse_attestation(doc: Any, *, require_signature: bool = True) -> Attestation:
    """Check every field of an attestation document and return it as values.

    Does not check the signature itself (`verify_attestation` does), only its shape.

    Parameters
    ----------
    doc
        The document as parsed from JSON (`load_attestation`) or built (`build_attestation`).
    require_signature
        When True (the default), a document without a ``"signature"`` member fails.

    Returns
    -------
    Attestation

    Raises
    ------
    InvalidProof
        ``"format"`` (not an object, or not por-attestation-v1), ``"signature"`` (unsigned)
        or ``"field <path>"`` naming the first field that is missing, unknown or wrong.
    """
    if not isinstance(doc, Mapping):
        raise InvalidProof("format", f"the document is {_kind(doc)}, not a JSON object")
    if doc.get("format") != FORMAT:
        raise InvalidProof("format", f"format is {_shown(doc.get('format'))}, expected {FORMAT!r}")
    canonical_json(doc)  # every value representable: no floats, safe integers, string keys
    _object(doc, "", TOP_REQUIRED, TOP_OPTIONAL)
    signature = None
    if "signature" in doc:
        signature = _signature(doc["signature"])
    elif require_signature:
        raise InvalidProof("signature", "the document is not signed (no 'signature' member)")
    attestation_id = _signed_line(doc["attestation_id"], "attestation_id", 256)
    as_of = _time(doc["as_of"], "as_of")
    exchange = _signed_line(doc["exchange"], "exchange", 256)
    liabilities = _liabilities(doc["liabilities"], attestation_id)
    chains = tuple(
        _chain(raw, _child("chains", n), exchange, attestation_id)
        for n, raw in enumerate(_list(doc["chains"], "chains"))
    )
    pinned: set[tuple[Chain, str]] = set()
    for n, entry in enumerate(chains):
        pair = (entry.block.chain, entry.block.network)
        if pair in pinned:
            raise _bad(_child("chains", n), f"a second entry for {pair[0]} {pair[1]}")
        pinned.add(pair)
    reserve = _reserve(doc["reserve"])
    prices = _prices(doc["prices"])
    pack = _object(doc["rule_pack"], "rule_pack", RULE_PACK_KEYS)
    rule_pack = RulePackRef(
        id=_text(pack["id"], "rule_pack.id", 128),
        version=_text(pack["version"], "rule_pack.version", 64),
    )
    max_age = _settings(doc["settings"]) if "settings" in doc else None
    _epochs_agree(chains, max_age)
    report = _object(doc["report"], "report") if "report" in doc else None
    return Attestation(
        attestation_id=attestation_id,
        as_of=as_of,
        exchange=exchange,
        liabilities=liabilities,
        chains=chains,
        reserve=reserve,
        prices=prices,
        rule_pack=rule_pack,
        report=report,
        signature=signature,
        max_age=max_age,
    )


# ----------------------------------------------------------------------------- build, sign, verify


def _price_json(quote: PriceQuote | Mapping[str, Any]) -> Any:
    if isinstance(quote, PriceQuote):
        return quote.to_json()
    if not isinstance(quote, Mapping):
        return quote  # reported by the checks, with its path
    out = _plain(quote)
    value = out.get("value")
    # an input edge: str(Decimal) may say "1E-7"; write the same number as a plain decimal
    if isinstance(value, str | Decimal) and not isinstance(value, bool):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return out
        if number.is_finite() and number >= 0:
            out["value"] = format(number, "f")
    return out


def build_attestation(
    *,
    attestation_id: str,
    as_of: str,
    exchange: str,
    liabilities: Mapping[str, Any],
    chains: Sequence[ChainEntry],
    reserve: Mapping[str, Any],
    prices: Mapping[str, PriceQuote | Mapping[str, Any]],
    rule_pack: RulePackRef,
    report: Mapping[str, Any] | None = None,
    max_age: OwnershipMaxAge | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble an unsigned `por-attestation-v1` document and check it as a verifier would.

    Parameters
    ----------
    attestation_id
        The id bound into the liabilities commitment and every ownership challenge.
    as_of
        ISO 8601 time the attestation speaks for.
    exchange
        The exchange's name, one line (it is part of the challenges).
    liabilities
        The root document (`root.json`) as a dict, copied verbatim.
    chains
        One entry per chain, each pinned to a block; a ``None`` challenge is computed.
    reserve
        The off-chain reserve statement as a JSON-able dict (``cash``, ``insurance``,
        ``guarantees`` lists of objects); amounts as decimal strings.
    prices
        Asset code -> `PriceQuote`, or a mapping ``{"value", "currency", "source", "time"}``
        (what ``verifier.inputs.prices.Price.to_json()`` gives).
    rule_pack
        Id and version of the reserve rule pack.
    report
        Optional report summary (a JSON-able dict).
    max_age
        The maximum age of epoch ownership proofs applied (`OwnershipMaxAge`, or its
        ``{"days", "source", "blocks"}`` mapping); written as ``settings.ownership_max_age``
        and required when any wallet's proof names an epoch. None: no ``settings`` member.

    Returns
    -------
    dict
        The document (no ``"signature"`` yet; see `sign_attestation`), plain dicts and lists.

    Raises
    ------
    InvalidProof
        ``"field <path>"`` for any field the verifier would reject (a float anywhere, a
        root document for another attestation id, a malformed address, ...).
    InputError
        If `exchange` or `attestation_id` is not one non-empty line (chains/challenge.py).
    """
    doc: dict[str, Any] = {
        "format": FORMAT,
        "attestation_id": attestation_id,
        "as_of": as_of,
        "exchange": exchange,
        "liabilities": _plain(liabilities),
        "chains": [entry.to_json(exchange, attestation_id) for entry in chains],
        "reserve": _plain(reserve),
        "prices": {code: _price_json(quote) for code, quote in prices.items()},
        "rule_pack": rule_pack.to_json(),
    }
    if max_age is not None:
        limits = max_age.to_json() if isinstance(max_age, OwnershipMaxAge) else _plain(max_age)
        doc["settings"] = {"ownership_max_age": limits}
    if report is not None:
        doc["report"] = _plain(report)
    parse_attestation(doc, require_signature=False)
    return doc


def sign_attestation(doc: Mapping[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """Check `doc` and return a copy carrying the exchange's Ed25519 signature.

    Parameters
    ----------
    doc
        An attestation document (an existing ``"signature"`` member is replaced).
    private_key
        The exchange's signing key (verifier/inputs/keys.py `load_signing_key`).

    Returns
    -------
    dict
        A deep copy of `doc` plus ``{"signature": {"algorithm": "ed25519", "public_key":
        hex, "value": hex}}``; the signature covers `signing_payload(doc)`.

    Raises
    ------
    InvalidProof
        If the document does not pass `parse_attestation`.
    """
    body = _plain({k: v for k, v in doc.items() if k != "signature"})
    parse_attestation(body, require_signature=False)
    value = private_key.sign(signing_payload(body))
    block = SignatureBlock(
        algorithm=ALGORITHM, public_key=_raw_public(private_key.public_key()), value=value
    )
    body["signature"] = block.to_json()
    return dict(body)


def _pinned_key(expected: bytes | str) -> bytes:
    if isinstance(expected, str):
        if not _HEX64.fullmatch(expected.lower()):
            raise InputError("the pinned public key is not 64 hex digits", value=expected)
        return bytes.fromhex(expected)
    if len(expected) != 32:
        raise InputError(f"the pinned public key has {len(expected)} bytes, not 32")
    return bytes(expected)


def verify_attestation(doc: Any, *, expected_public_key: bytes | str | None = None) -> Attestation:
    """Check every field of a signed document, then its signature.

    Parameters
    ----------
    doc
        The document as loaded from JSON (layout and key order do not matter).
    expected_public_key
        The exchange's public key as pinned by the auditor (32 bytes or 64 hex digits);
        None accepts whichever key signed (the caller should then show it).

    Returns
    -------
    Attestation
        The checked document; ``signature.public_key`` is the key that signed it.

    Raises
    ------
    InvalidProof
        ``"format"``, ``"field <path>"`` (see `parse_attestation`), ``"public_key"`` (signed
        by another key than the pinned one) or ``"signature"`` (unsigned, or the signature
        does not verify: the document was changed after signing).
    InputError
        If `expected_public_key` is malformed.
    """
    attestation = parse_attestation(doc, require_signature=True)
    block = attestation.signature
    assert block is not None  # parse_attestation(require_signature=True) guarantees it
    if expected_public_key is not None:
        pinned = _pinned_key(expected_public_key)
        if not hmac.compare_digest(pinned, block.public_key):
            raise InvalidProof(
                "public_key",
                f"signed by {block.public_key.hex()}, not by the pinned key {pinned.hex()}",
            )
    try:
        public_key = Ed25519PublicKey.from_public_bytes(block.public_key)
        public_key.verify(block.value, signing_payload(doc))
    except (InvalidSignature, ValueError):
        raise InvalidProof(
            "signature",
            f"the Ed25519 signature of key {block.public_key.hex()} does not verify over the "
            "canonical document: it was changed after signing, or signed by another key",
        ) from None
    return attestation


def verify_attestation_signature(doc: Any, expected_public_key: bytes | str | None = None) -> bytes:
    """Verify a signed attestation document; return the public key that signed it.

    Parameters
    ----------
    doc
        The document as loaded from JSON.
    expected_public_key
        Optional pinned key (32 bytes or 64 hex digits).

    Returns
    -------
    bytes
        The 32-byte Ed25519 public key of the signature.

    Raises
    ------
    InvalidProof
        As `verify_attestation`.
    """
    attestation = verify_attestation(doc, expected_public_key=expected_public_key)
    assert attestation.signature is not None
    return attestation.signature.public_key


# ----------------------------------------------------------------------------- keys


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte Ed25519 public key as 64 lowercase hex digits (what auditors pin).

    Parameters
    ----------
    key
        A private key (its public half is taken) or a public key.

    Returns
    -------
    str
    """
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return _raw_public(public).hex()


# ----------------------------------------------------------------------------- files


# safejson's refusals that make a document ambiguous rather than unreadable: a signed
# document must mean one thing, so they are a "format" failure of the attestation
_AMBIGUOUS = ("twice in one object", "which is not a JSON number")


def loads_attestation(data: bytes | str, *, source: str | None = None) -> Any:
    """Parse attestation JSON strictly (not yet checked: see `verify_attestation`).

    Decoded by `verifier.base.safejson`: nesting, integer literals and exponents are bounded (a
    100,000-level document is refused, not a crash). Non-integer numbers are kept as
    `Decimal` so the checks report them with their path; duplicate keys and NaN/Infinity
    are refused outright.

    Parameters
    ----------
    data
        UTF-8 JSON text.
    source
        File name for error messages.

    Returns
    -------
    Any
        The parsed value.

    Raises
    ------
    InputError
        Not UTF-8, not JSON, nested too deeply, or a number beyond the bounds.
    InvalidProof
        ``"format"`` for duplicate keys or NaN/Infinity.
    """
    name = source if source is not None else "attestation"
    try:
        return safejson.loads(
            data, source=name, parse_float=Decimal, strict_keys=True, what="attestation"
        )
    except InputError as exc:
        if source is None:  # no file name to give: say what it is instead
            where = f"{name}: line {exc.line}: " if exc.line is not None else f"{name}: "
            message = exc.message.removeprefix(where)
            error = InputError(message, line=exc.line)
        else:
            error = exc
        if any(reason in error.message for reason in _AMBIGUOUS):
            raise InvalidProof("format", error.message) from None
        raise error from None


def load_attestation(path: Path) -> Any:
    """Read an attestation file with `loads_attestation` (does not verify it).

    Parameters
    ----------
    path
        ``attestation.json``.

    Returns
    -------
    Any
        The parsed document.

    Raises
    ------
    NotFound, InputError, InvalidProof
        As `loads_attestation`, or the file is missing or unreadable.
    """
    if not path.exists():
        raise NotFound("attestation file not found", file=str(path))
    data = safejson.read_input(path, what="attestation file")
    return loads_attestation(data, source=str(path))


def _write_public(path: Path, data: bytes) -> None:
    """Write `path` atomically (temp file in the same directory, fsync, rename), mode 0644."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def pretty_json(doc: Mapping[str, Any]) -> bytes:
    """The published layout: 2-space indent, key order kept, UTF-8, final newline.

    Parameters
    ----------
    doc
        A JSON-able document.

    Returns
    -------
    bytes
    """
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_attestation(directory: Path, doc: Mapping[str, Any]) -> tuple[Path, Path]:
    """Publish a signed document: ``DIR/attestation.json`` and ``DIR/root.json`` (0644).

    ``attestation.json`` is pretty-printed (`pretty_json`), not canonical: verification
    recomputes the canonical form. ``root.json`` is the document's ``liabilities`` member,
    laid out as attestations/build.py writes it. Each file is written atomically; root.json
    first, so a reader never sees an attestation without its root document.

    Parameters
    ----------
    directory
        Output directory (created if needed).
    doc
        A signed attestation document; it is verified before anything is written.

    Returns
    -------
    tuple of Path
        (attestation.json, root.json).

    Raises
    ------
    InvalidProof
        If `doc` does not verify (nothing is written).
    StoreError
        If the files cannot be written.
    """
    verify_attestation(doc)
    attestation_path = directory / "attestation.json"
    root_path = directory / "root.json"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _write_public(root_path, (json.dumps(doc["liabilities"], indent=2) + "\n").encode())
        _write_public(attestation_path, pretty_json(doc))
    except OSError as exc:
        raise StoreError(f"{directory}: cannot write the attestation ({exc.strerror})") from exc
    return attestation_path, root_path
