"""Dogecoin and Litecoin signed messages: Bitcoin's ``signmessage`` with their magic and addresses.

Where it sits: ownership schemes of other exchanges' ownership files
(verifier/external/ownership_files.py calls `verify_dogecoin` / `verify_litecoin` per row
and reports the returned variant). Pure: no I/O. The compact-signature decoding and key
recovery are chains/btc_bip137.py's; what differs per coin is in a `Coin`.

The scheme is Bitcoin's (BIP-137; Dogecoin Core and Litecoin Core ``signmessage`` /
``verifymessage``): base64 of ``header || r || s`` over
``sha256d(varint(len(magic)) magic varint(len(m)) m)`` with the coin's magic,
``"Dogecoin Signed Message:\\n"`` or ``"Litecoin Signed Message:\\n"``. The key recovered
from the signature must derive the claimed address:

- Dogecoin: P2PKH (version 0x1e, ``D…``) only. Dogecoin has no segwit, so a P2SH
  (0x16) address "derived" as P2SH-P2WPKH would be an output anyone can spend: no
  signature proves one, and a P2SH address is refused as an address type.
- Litecoin: P2PKH (0x30, ``L…``), P2SH-P2WPKH (0x32 ``M…``, and the legacy 0x05 ``3…``)
  and P2WPKH (bech32, hrp ``ltc``). Headers as chains/btc_bip137.py reads them: 27-30 an
  uncompressed key (P2PKH), 31-34 a compressed key (any of the three, as Core and
  Electrum sign), 35-38 P2SH-P2WPKH, 39-42 P2WPKH.

The variant returned names what was proven: "p2pkh", "p2pkh-uncompressed", "p2sh-p2wpkh"
or "p2wpkh".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from embit import base58 as _base58
from embit import bech32 as _bech32
from embit import compact as _compact

from chains.btc_address import AddressType
from chains.btc_bip137 import decode_compact_signature, recover_key
from chains.btc_proof_checks import Check, hash160
from verifier.base.errors import InvalidProof

__all__ = [
    "DOGECOIN",
    "LITECOIN",
    "Coin",
    "message_hash",
    "verify_dogecoin",
    "verify_litecoin",
    "verify_message",
]

_MAX_TEXT = 256
"""Addresses and signatures longer than this are refused before decoding."""


@dataclass(frozen=True, slots=True)
class Coin:
    """How one Bitcoin-derived coin spells signed messages and addresses (its chainparams)."""

    name: str
    magic: bytes
    """The signed-message magic (``strMessageMagic``), without its length prefix."""
    p2pkh: int
    """Base58 version byte of P2PKH addresses."""
    p2sh: tuple[int, ...]
    """Base58 version bytes of P2SH addresses that a signature may prove (P2SH-P2WPKH)."""
    refused_p2sh: tuple[int, ...] = ()
    """P2SH version bytes recognised but never provable by a message signature."""
    hrp: str | None = None
    """Bech32 human-readable part (P2WPKH), None for a coin without segwit."""


DOGECOIN = Coin("Dogecoin", b"Dogecoin Signed Message:\n", 0x1E, (), refused_p2sh=(0x16,))
LITECOIN = Coin("Litecoin", b"Litecoin Signed Message:\n", 0x30, (0x32, 0x05), hrp="ltc")


def message_hash(coin: Coin, message: str) -> bytes:
    """The digest a ``signmessage`` signature of `coin` signs (UTF-8 message), 32 bytes."""
    data = message.encode("utf-8")
    payload = _compact.to_bytes(len(coin.magic)) + coin.magic
    payload += _compact.to_bytes(len(data)) + data
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()


def _decode_address(coin: Coin, address: str) -> tuple[AddressType, bytes]:
    """(type, 20-byte hash) of a `coin` address; ``Check.ADDRESS`` / ``ADDRESS_TYPE`` if not."""
    if not 0 < len(address) <= _MAX_TEXT:
        raise InvalidProof(Check.ADDRESS, f"the {coin.name} address is empty or too long")
    if coin.hrp is not None and address.lower().startswith(coin.hrp + "1"):
        return _decode_segwit(coin, address)
    try:
        raw = bytes(_base58.decode_check(address))
    except Exception:  # embit raises ValueError, IndexError or its own errors
        raise InvalidProof(
            Check.ADDRESS,
            f"{address} is not a valid {coin.name} address (base58check checksum or character)",
        ) from None
    if len(raw) != 21:
        raise InvalidProof(
            Check.ADDRESS, f"{address} decodes to {len(raw)} bytes, not 21 (version, hash)"
        )
    if raw[0] == coin.p2pkh:
        return AddressType.P2PKH, raw[1:]
    if raw[0] in coin.p2sh:
        return AddressType.P2SH, raw[1:]
    if raw[0] in coin.refused_p2sh:
        raise InvalidProof(
            Check.ADDRESS_TYPE,
            f"{address} is a {coin.name} P2SH address; a signed message proves only P2PKH "
            f"addresses on {coin.name} (no segwit: a P2SH-P2WPKH script is spendable by anyone)",
        )
    raise InvalidProof(
        Check.ADDRESS,
        f"{address} has version byte 0x{raw[0]:02x}, not a {coin.name} address",
    )


def _decode_segwit(coin: Coin, address: str) -> tuple[AddressType, bytes]:
    assert coin.hrp is not None
    if address not in {address.lower(), address.upper()}:
        raise InvalidProof(Check.ADDRESS, f"{address} mixes upper and lower case")
    try:
        version, program = _bech32.decode(coin.hrp, address.lower())
    except Exception:  # embit's decoder may raise on malformed data
        version, program = None, None
    if version is None or program is None:
        raise InvalidProof(
            Check.ADDRESS, f"{address} is not a valid {coin.name} segwit address (bech32)"
        )
    if version != 0 or len(program) != 20:
        raise InvalidProof(
            Check.ADDRESS_TYPE,
            f"{address} is a witness v{version} program of {len(program)} bytes; a signed "
            "message proves only P2WPKH among segwit addresses",
        )
    return AddressType.P2WPKH, bytes(program)


def _header_fits(header: int, kind: AddressType) -> bool:
    """chains/btc_bip137.py's reading of the header byte, per claimed address type."""
    if header <= 30:
        return kind is AddressType.P2PKH
    if header <= 34:
        return True  # Core's and Electrum's compressed-key headers sign every type
    if header <= 38:
        return kind is AddressType.P2SH
    return kind is AddressType.P2WPKH


def verify_message(coin: Coin, address: str, message: str, signature: str) -> str:
    """Verify a `coin` signed message of `message` by `address`; return what was proven.

    Parameters
    ----------
    coin
        `DOGECOIN` or `LITECOIN` (or another `Coin`).
    address
        The claimed address.
    message
        The text the exchange says it signed.
    signature
        base64 of the 65 bytes ``header || r || s``.

    Returns
    -------
    str
        "p2pkh", "p2pkh-uncompressed", "p2sh-p2wpkh" or "p2wpkh".

    Raises
    ------
    InvalidProof
        ``.check`` is "address", "address type", "signature encoding", "header",
        "key recovery" or "recovered key".
    """
    if not all(isinstance(value, str) for value in (address, message, signature)):
        raise InvalidProof(Check.PROOF, "address, message and signature must be text")
    kind, claimed = _decode_address(coin, address)
    if len(signature) > _MAX_TEXT:
        raise InvalidProof(Check.ENCODING, f"the {coin.name} signature is too long")
    raw = decode_compact_signature(signature, f"the {coin.name} signature")
    header = raw[0]
    if not _header_fits(header, kind):
        raise InvalidProof(
            Check.HEADER, f"header byte {header} does not fit the {kind} address {address}"
        )
    key = recover_key(raw, message_hash(coin, message), f"the {coin.name} signature")
    compressed = header >= 31
    key_hash = hash160(key.format(compressed=compressed))
    derived = hash160(b"\x00\x14" + key_hash) if kind is AddressType.P2SH else key_hash
    if derived != claimed:
        raise InvalidProof(
            Check.RECOVERED_KEY,
            f"the key recovered from the {coin.name} signature, "
            f"{key.format(compressed=compressed).hex()}, does not derive {address} (another "
            "key signed, or another message was signed)",
        )
    if kind is AddressType.P2SH:
        return "p2sh-p2wpkh"
    if kind is AddressType.P2WPKH:
        return "p2wpkh"
    return "p2pkh" if compressed else "p2pkh-uncompressed"


def verify_dogecoin(address: str, message: str, signature: str) -> str:
    """`verify_message` for Dogecoin (P2PKH ``D…`` addresses)."""
    return verify_message(DOGECOIN, address, message, signature)


def verify_litecoin(address: str, message: str, signature: str) -> str:
    """`verify_message` for Litecoin (``L…``, ``M…``/``3…``, ``ltc1…`` P2WPKH)."""
    return verify_message(LITECOIN, address, message, signature)
