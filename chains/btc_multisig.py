"""P2WSH multisig: parse and build ``OP_m <keys> OP_n OP_CHECKMULTISIG`` witness scripts, and
prove an m-of-n address by its cosigners' BIP-137 signatures.

Where it sits: the ``"scheme": "p2wsh-multisig"`` check that chains/btc_ownership.py
dispatches to; chains/btc_bip322.py reuses the script parsing and the script-to-address
check for a P2WSH multisig witness, and `multisig_witness_script` builds the script a
wallet's config names (verifier/holdings/plans.py). Pure: no I/O.

The scheme: one BIP-137-style signature per cosigner over the challenge, plus the witness
script, which must hash to the P2WSH (or P2SH-P2WSH) address; PROVEN iff at least m
distinct script keys signed. With ``legacy_p2sh`` (OKX's ownership files, whose verifier
derives a ``3…`` address as ``base58check(0x05 || hash160(script))``), a P2SH address is
plain P2SH of the script itself, the redeem script, instead of P2SH-P2WSH.
"""

from __future__ import annotations

from collections.abc import Sequence

import coincurve

from chains.btc_address import AddressType, DecodedAddress, encode_address
from chains.btc_bip137 import decode_compact_signature, recover_key
from chains.btc_proof_checks import (
    Check,
    bip137_message_hash,
    decode_address,
    hash160,
    same_address,
    sha256,
)
from verifier.base.console import plural
from verifier.base.errors import InputError, InvalidProof

__all__ = [
    "check_p2wsh_multisig",
    "checked_witness_script",
    "multisig_witness_script",
    "parse_multisig",
]

_OP_1 = 0x51
_OP_16 = 0x60
_OP_CHECKMULTISIG = 0xAE
_PUSH_33 = 0x21


def parse_multisig(script: bytes) -> tuple[int, tuple[bytes, ...]]:
    """Parse ``OP_m <33-byte key>... OP_n OP_CHECKMULTISIG``.

    Parameters
    ----------
    script
        The witness script.

    Returns
    -------
    tuple[int, tuple[bytes, ...]]
        m and the n compressed public keys, in script order.

    Raises
    ------
    InvalidProof
        ``Check.MULTISIG_SCRIPT`` if the script has another shape, an invalid or
        uncompressed key (segwit scripts use compressed keys, BIP-143), m > n, or a key
        listed twice.
    """

    def fail(detail: str) -> InvalidProof:
        return InvalidProof(
            Check.MULTISIG_SCRIPT,
            f"the witness script is not OP_m <keys> OP_n OP_CHECKMULTISIG: {detail}",
        )

    if len(script) < 3 or not _OP_1 <= script[0] <= _OP_16:
        raise fail("it does not start with OP_1..OP_16")
    m = script[0] - _OP_1 + 1
    keys: list[bytes] = []
    pos = 1
    while pos < len(script) and script[pos] == _PUSH_33:
        key = script[pos + 1 : pos + 34]
        if len(key) != 33:
            raise fail(f"the push at byte {pos} runs past the end of the script")
        try:
            coincurve.PublicKey(key)
        except ValueError:
            raise fail(f"key {len(keys) + 1} ({key.hex()}) is not a valid public key") from None
        if key[0] not in (2, 3):
            raise fail(f"key {len(keys) + 1} is not a compressed key")
        keys.append(key)
        pos += 34
    n = len(keys)
    if n == 0:
        raise fail("it pushes no 33-byte public keys")
    if script[pos:] != bytes([_OP_1 - 1 + n, _OP_CHECKMULTISIG]):
        raise fail(
            f"after {plural(n, 'key')} it must end with OP_{n} OP_CHECKMULTISIG "
            f"({_OP_1 - 1 + n:02x}ae), found {script[pos:].hex() or 'nothing'}"
        )
    if m > n:
        raise fail(f"it requires {plural(m, 'signature')} from only {plural(n, 'key')}")
    if len(set(keys)) != n:
        duplicate = next(k for k in keys if keys.count(k) > 1)
        raise fail(f"it lists key {duplicate.hex()} more than once")
    return m, tuple(keys)


def multisig_witness_script(m: int, keys: Sequence[str], *, sort: bool = True) -> str:
    """Build the witness script ``OP_m <keys> OP_n OP_CHECKMULTISIG`` as hex.

    Parameters
    ----------
    m
        Required signatures, 1 <= m <= n <= 16.
    keys
        Compressed public keys, hex.
    sort
        Sort the keys lexicographically first (BIP-67, descriptor ``sortedmulti``).

    Returns
    -------
    str
        The witness script, lowercase hex.

    Raises
    ------
    InputError
        If m, n or a key is out of range.
    """
    try:
        raw = [bytes.fromhex(k) for k in keys]
    except ValueError:
        raise InputError("multisig keys must be hex") from None
    if sort:
        raw.sort()
    if not 1 <= m <= len(raw) <= 16:
        raise InputError(f"multisig needs 1 <= m <= n <= 16, got m={m}, n={len(raw)}")
    script = bytes([_OP_1 - 1 + m])
    for key in raw:
        script += bytes([_PUSH_33]) + key
    script += bytes([_OP_1 - 1 + len(raw), _OP_CHECKMULTISIG])
    try:
        parse_multisig(script)
    except InvalidProof as exc:
        raise InputError(exc.message) from None
    return script.hex()


def _script_address(
    script: bytes, claimed: DecodedAddress, legacy_p2sh: bool = False
) -> DecodedAddress:
    """The address `script` hashes to, of the kind `claimed` is (P2WSH, P2SH-P2WSH, or plain
    P2SH with `legacy_p2sh`)."""
    if claimed.type is AddressType.P2SH and legacy_p2sh:
        return DecodedAddress(AddressType.P2SH, hash160(script))
    program = sha256(script)
    if claimed.type is AddressType.P2SH:
        return DecodedAddress(AddressType.P2SH, hash160(b"\x00\x20" + program))
    return DecodedAddress(AddressType.P2WSH, program, 0)


def checked_witness_script(
    address: str, claimed: DecodedAddress, text: str, network: str, legacy_p2sh: bool = False
) -> bytes:
    """The witness (or, `legacy_p2sh`, redeem) script `text` (hex) as bytes, if it hashes to
    the claimed address."""
    try:
        script = bytes.fromhex(text)
    except ValueError:
        raise InvalidProof(Check.WITNESS_SCRIPT, "the witness script is not hex") from None
    derived = _script_address(script, claimed, legacy_p2sh)
    if not same_address(derived, claimed):
        p2sh = claimed.type is AddressType.P2SH
        what = "redeem script" if p2sh and legacy_p2sh else "witness script"
        wrapped = " wrapped in P2SH" if p2sh and not legacy_p2sh else ""
        raise InvalidProof(
            Check.WITNESS_SCRIPT,
            f"the {what}{wrapped} hashes to {encode_address(derived, network)}, not {address}",
        )
    return script


def check_p2wsh_multisig(
    address: str,
    witness_script: str,
    signatures: Sequence[str],
    network: str,
    message: str,
    *,
    legacy_p2sh: bool = False,
) -> str:
    """Verify an m-of-n P2WSH (or P2SH-P2WSH) multisig address by script membership.

    Each cosigner signs `message` with the BIP-137 format; each signature's recovered
    (compressed) key must be one of the script's keys, no key may sign twice, and at least m
    distinct keys must sign.

    Parameters
    ----------
    address
        The claimed P2WSH or P2SH-P2WSH address.
    witness_script
        Hex of ``OP_m <keys> OP_n OP_CHECKMULTISIG``.
    signatures
        Base64 ``header || r || s`` signatures, one per cosigner; any compressed-key header
        (31-42) is accepted, since the header's address type refers to the cosigner's own
        wallet, not to the multisig address.
    network
        The address's network.
    message
        The text that must have been signed (the challenge).
    legacy_p2sh
        A P2SH address is plain P2SH of `witness_script` (a redeem script), as OKX's
        ownership files derive it, not P2SH-P2WSH.

    Returns
    -------
    str
        What was proven, in words.

    Raises
    ------
    InvalidProof
        The first check that failed; ``.check`` is a `Check`.
    """
    claimed = decode_address(address, network)
    if claimed.type not in {AddressType.P2WSH, AddressType.P2SH}:
        raise InvalidProof(
            Check.ADDRESS_TYPE,
            f"{address} is a {claimed.type} address; p2wsh-multisig proves P2WSH and "
            "P2SH-P2WSH addresses",
        )
    script = checked_witness_script(address, claimed, witness_script, network, legacy_p2sh)
    m, keys = parse_multisig(script)
    digest = bip137_message_hash(message)
    signer_of: dict[bytes, int] = {}
    for number, signature in enumerate(signatures, start=1):
        what = f"signature {number}"
        raw = decode_compact_signature(signature, what)
        if raw[0] < 31:
            raise InvalidProof(
                Check.HEADER,
                f"{what} has header byte {raw[0]} (uncompressed key); witness script keys "
                "are compressed",
            )
        key = recover_key(raw, digest, what).format(compressed=True)
        if key not in keys:
            raise InvalidProof(
                Check.COSIGNER,
                f"{what} recovers to key {key.hex()}, which is not in the witness script "
                "(another key signed, or another message was signed)",
            )
        if key in signer_of:
            raise InvalidProof(
                Check.DUPLICATE_KEY,
                f"signatures {signer_of[key]} and {number} both recover to key {key.hex()}",
            )
        signer_of[key] = number
    if len(signer_of) < m:
        raise InvalidProof(
            Check.THRESHOLD,
            f"only {len(signer_of)} of the {plural(m, 'required key')} of the {m}-of-{len(keys)} "
            "witness script signed the challenge",
        )
    what = "redeem" if legacy_p2sh and claimed.type is AddressType.P2SH else "witness"
    return (
        f"{plural(len(signer_of), 'distinct key')} of the {m}-of-{len(keys)} {what} script "
        f"signed the challenge; the script hashes to {address}"
    )
