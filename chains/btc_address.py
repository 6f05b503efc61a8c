"""Bitcoin addresses: the one place an address string becomes what it pays to, and back.

Where it sits: every Bitcoin module that reads an address decodes it here — wallets
(chains/btc_wallets.py) and the bcoin adapter's index keys (chains/bitcoin_bcoin.py) call
`decode_address` directly; ownership proofs (BIP-137, BIP-322, multisig) go through
chains/btc_proof_checks.py `decode_address`, which wraps this one. Each turns an
`AddressError` into its own error (`InputError` naming the config key, or an UNPROVEN
ownership check), so all of them accept and refuse exactly the same strings. Pure: no I/O;
embit does bech32/bech32m and base58check.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from embit import base58 as _base58
from embit import bech32 as _bech32

from verifier.base.console import plural
from verifier.base.errors import InputError

__all__ = [
    "NETWORKS",
    "AddressError",
    "AddressFormat",
    "AddressType",
    "DecodedAddress",
    "address_format",
    "decode_address",
    "encode_address",
]

_OP_0 = 0x00
_OP_1 = 0x51


class AddressType(enum.StrEnum):
    """What a decoded address pays to."""

    P2PKH = "P2PKH"
    P2SH = "P2SH"
    P2WPKH = "P2WPKH"
    P2WSH = "P2WSH"
    P2TR = "P2TR"
    WITNESS_UNKNOWN = "witness v1+ (unknown)"


@dataclass(frozen=True, slots=True)
class AddressFormat:
    """How one network spells addresses (Bitcoin Core's chainparams)."""

    hrp: str
    """Bech32 human-readable part (BIP-173)."""
    p2pkh: int
    """Base58 version byte of P2PKH addresses."""
    p2sh: int
    """Base58 version byte of P2SH addresses."""


NETWORKS: dict[str, AddressFormat] = {
    "main": AddressFormat("bc", 0x00, 0x05),
    "test": AddressFormat("tb", 0x6F, 0xC4),
    "testnet4": AddressFormat("tb", 0x6F, 0xC4),
    "signet": AddressFormat("tb", 0x6F, 0xC4),
    "regtest": AddressFormat("bcrt", 0x6F, 0xC4),
}
"""Per network name (as Core's `getblockchaininfo.chain` gives it)."""


@dataclass(frozen=True, slots=True)
class DecodedAddress:
    """A Bitcoin address reduced to what it commits to."""

    type: AddressType
    payload: bytes
    """HASH160 (P2PKH, P2SH) or witness program (segwit)."""
    witness_version: int | None = None
    """Segwit version (BIP-141); None for base58 addresses."""

    def script_pubkey(self) -> bytes:
        """The output script this address pays to."""
        if self.type is AddressType.P2PKH:
            return b"\x76\xa9\x14" + self.payload + b"\x88\xac"
        if self.type is AddressType.P2SH:
            return b"\xa9\x14" + self.payload + b"\x87"
        assert self.witness_version is not None
        version_op = _OP_0 if self.witness_version == 0 else _OP_1 - 1 + self.witness_version
        return bytes([version_op, len(self.payload)]) + self.payload


class AddressError(ValueError):
    """The string is not an address of the network; `reason` says why, after the address.

    Not a `PorError`: each caller reports it in its own terms (a config key, a proof check).
    """

    def __init__(self, address: object, reason: str) -> None:
        shown = address if isinstance(address, str) and address else repr(address)
        super().__init__(f"{shown} {reason}")
        self.address = address
        self.reason = reason
        """A predicate: "is for another network (...)", "has version byte 0x..."."""


def address_format(network: str) -> AddressFormat:
    """The address format of `network`, or `InputError` for a name that is not a network."""
    try:
        return NETWORKS[network]
    except (KeyError, TypeError):
        raise InputError(
            f"unknown Bitcoin network (expected one of {', '.join(NETWORKS)})",
            value=str(network),
        ) from None


def decode_address(address: str, network: str | None) -> DecodedAddress:
    """Decode a Bitcoin address of `network` (of any known network if None).

    Parameters
    ----------
    address
        Base58check (P2PKH, P2SH) or bech32/bech32m (segwit, BIP-173/BIP-350), bech32 in
        one case (either).
    network
        "main", "test", "testnet4", "signet", "regtest", or None for any of them.

    Returns
    -------
    DecodedAddress

    Raises
    ------
    AddressError
        The string does not decode, or decodes for another network.
    InputError
        If `network` is not a known network.
    """
    formats = list(NETWORKS.values()) if network is None else [address_format(network)]
    if not isinstance(address, str) or not address:
        raise AddressError(address, "is not an address")
    separator = address.rfind("1")
    hrp = address[:separator].lower() if separator > 0 else ""
    if hrp in {f.hrp for f in NETWORKS.values()}:
        if hrp not in {f.hrp for f in formats}:
            raise AddressError(
                address,
                f"is for another network (prefix {hrp!r}, {network} uses {formats[0].hrp!r})",
            )
        return _decode_segwit(address, hrp)
    return _decode_base58(address, formats, network)


def _decode_segwit(address: str, hrp: str) -> DecodedAddress:
    if address not in {address.lower(), address.upper()}:
        raise AddressError(address, "mixes upper and lower case (bech32 allows either, not both)")
    version, program = _bech32.decode(hrp, address)
    if version is None or program is None:
        raise AddressError(
            address,
            "is not a valid segwit address (bech32/bech32m checksum, length or witness version)",
        )
    payload = bytes(program)
    if version == 0 and len(payload) == 20:
        return DecodedAddress(AddressType.P2WPKH, payload, 0)
    if version == 0:
        return DecodedAddress(AddressType.P2WSH, payload, 0)  # embit allows only 20 or 32
    if version == 1 and len(payload) == 32:
        return DecodedAddress(AddressType.P2TR, payload, 1)
    return DecodedAddress(AddressType.WITNESS_UNKNOWN, payload, int(version))


def _decode_base58(
    address: str, formats: list[AddressFormat], network: str | None
) -> DecodedAddress:
    try:
        raw = bytes(_base58.decode_check(address))
    except Exception:  # embit raises ValueError, IndexError or its own errors
        raise AddressError(
            address, "is not a valid address (base58check checksum or character)"
        ) from None
    if len(raw) != 21:
        raise AddressError(address, f"decodes to {plural(len(raw), 'byte')}, not 21")
    version, payload = raw[0], raw[1:]
    if any(version == f.p2pkh for f in formats):
        return DecodedAddress(AddressType.P2PKH, payload)
    if any(version == f.p2sh for f in formats):
        return DecodedAddress(AddressType.P2SH, payload)
    if network is None:
        raise AddressError(
            address, f"has version byte 0x{version:02x}, not a Bitcoin P2PKH or P2SH address"
        )
    params = formats[0]
    raise AddressError(
        address,
        f"has version byte 0x{version:02x}, not a {network} P2PKH "
        f"(0x{params.p2pkh:02x}) or P2SH (0x{params.p2sh:02x}) address",
    )


def encode_address(decoded: DecodedAddress, network: str) -> str:
    """The address string of `decoded` on `network` (lowercase bech32 for segwit).

    Parameters
    ----------
    decoded
        Address type and payload.
    network
        "main", "test", "testnet4", "signet" or "regtest".

    Returns
    -------
    str
    """
    params = address_format(network)
    if decoded.type is AddressType.P2PKH:
        return str(_base58.encode_check(bytes([params.p2pkh]) + decoded.payload))
    if decoded.type is AddressType.P2SH:
        return str(_base58.encode_check(bytes([params.p2sh]) + decoded.payload))
    assert decoded.witness_version is not None
    return str(_bech32.encode(params.hrp, decoded.witness_version, decoded.payload))
