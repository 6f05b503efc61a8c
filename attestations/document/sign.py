"""Build an attestation document, sign it with the exchange's Ed25519 key, verify a signature.

Where it sits: attestations/document/, the writer's and the auditor's entry points.
verifier/jobs/attest.py builds and signs with `build_attestation` and `sign_attestation`
(the key file is verifier/inputs/keys.py's job); `por verify`, the site and the tests check
with `verify_attestation`. Every function here runs parse.py's checks first, so a document
that a verifier would refuse is never built or signed, and a refused one is refused by the
field that is wrong before its signature is tried.

The signature covers canonical.py's `signing_payload` (the tag and the canonical bytes of the
document without its ``signature``), so any layout of the same document verifies alike.
The private key never appears in a message.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from attestations.document.canonical import signing_payload
from attestations.document.fields import _HEX64
from attestations.document.model import (
    ALGORITHM,
    FORMAT,
    Attestation,
    ChainEntry,
    OwnershipMaxAge,
    PriceQuote,
    RulePackRef,
    SignatureBlock,
    _plain,
)
from attestations.document.parse import parse_attestation
from verifier.base.errors import InputError, InvalidProof


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
