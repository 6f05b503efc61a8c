"""EVM ownership signatures as exchanges publish them: which digest each scheme signs, and recovery.

Where it sits: used by the ownership layouts (`verifier/external/ownership_okx.py`,
`ownership_htx.py`, `ownership_files.py` for Summa). Each publisher signs a different digest
of its message; `EVM_SCHEMES` names them, `check_evm` checks one, `check_evm_in_order` tries
several in the publisher's own order and says which one recovered the address. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from eth_abi.abi import encode as abi_encode
from eth_keys.datatypes import Signature as EthSignature
from eth_keys.exceptions import BadSignature
from eth_utils.crypto import keccak

from verifier.base.errors import InvalidProof

EVM_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_HEX_STRICT = re.compile(r"0x[0-9a-fA-F]*", re.IGNORECASE)


def eip191_digest(payload: bytes) -> bytes:
    """keccak256("\\x19Ethereum Signed Message:\\n" + len + payload): personal_sign's hash."""
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(payload)).encode() + payload)


def web3_message_bytes(message: str) -> bytes:
    """The bytes web3.js's `accounts.recover(message, …)` signs: a ``0x…`` hex text is read as
    the bytes it spells (web3's `isHexStrict`, then `hexToBytes`, which reads an odd last
    digit alone), any other text as UTF-8. HTX's verifier falls back to this call."""
    if _HEX_STRICT.fullmatch(message):
        digits = message[2:]
        return bytes(int(digits[i : i + 2], 16) for i in range(0, len(digits), 2))
    return message.encode("utf-8")


EVM_SCHEMES: dict[str, Callable[[str], bytes]] = {
    "eip191": lambda m: eip191_digest(web3_message_bytes(m)),
    "eip191-keccak256": lambda m: eip191_digest(keccak(text=m)),
    "eip191-keccak256-abi": lambda m: eip191_digest(keccak(abi_encode(["string"], [m]))),
    "raw-keccak256": lambda m: keccak(text=m),
}
"""The digest each scheme signs, from the message text."""


def recover_evm(digest: bytes, signature: str) -> str:
    """The checksummed address whose key made `signature` (65 bytes r||s||v, hex) over `digest`.

    Raises
    ------
    InvalidProof
        Not hex, not 65 bytes, v not 0/1/27/28, or no key recovers.
    """
    text = signature.strip().removeprefix("0x")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise InvalidProof("signature encoding", "the signature is not hex") from None
    if len(raw) != 65:
        raise InvalidProof("signature encoding", f"the signature has {len(raw)} bytes, not 65")
    v = raw[64] - 27 if raw[64] >= 27 else raw[64]
    if v not in (0, 1):
        raise InvalidProof("signature encoding", f"v = {raw[64]} is not 27 or 28")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big")
    try:
        key = EthSignature(vrs=(v, r, s)).recover_public_key_from_msg_hash(digest)
    except (BadSignature, ValueError) as exc:
        raise InvalidProof("key recovery", f"no public key recovers ({exc})") from None
    return str(key.to_checksum_address())


def check_evm(address: str, signature: str, message: str, scheme: str) -> str:
    """Check an EVM signature under `scheme`; returns what was proven, raises `InvalidProof`."""
    if not EVM_ADDRESS.fullmatch(address):
        raise InvalidProof("address", f"{address!r} is not an EVM address (0x + 40 hex)")
    signer = recover_evm(EVM_SCHEMES[scheme](message), signature)
    if signer.lower() != address.lower():
        raise InvalidProof(
            "recovered key",
            f"the signature over {message!r} ({scheme}) recovers to {signer}, not {address}",
        )
    return f"{scheme} signature over {message!r} recovers to the address"


def check_evm_in_order(
    address: str, signature: str, message: str, schemes: Sequence[str]
) -> tuple[str, str]:
    """Try `schemes` in order (the publisher's own order); the first that recovers `address`.

    Returns
    -------
    tuple[str, str]
        The scheme that verified and what was proven.

    Raises
    ------
    InvalidProof
        None verifies: an encoding or address error at once, else "recovered key" naming
        what each scheme recovered to.
    """
    failures = []
    for scheme in schemes:
        try:
            return scheme, check_evm(address, signature, message, scheme)
        except InvalidProof as exc:
            if exc.check != "recovered key":
                raise
            failures.append(exc.message.removeprefix("recovered key: "))
    raise InvalidProof("recovered key", "; ".join(failures))
