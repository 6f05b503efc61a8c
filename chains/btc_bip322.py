"""BIP-322 "simple" signatures: the witness stack that would spend the virtual ``to_spend``
output of an address, verified for P2WPKH, P2WSH multisig and P2TR (key path) addresses.

Where it sits: the ``"scheme": "bip322-simple"`` check that chains/btc_ownership.py
dispatches to. The virtual transactions and their sighashes come from
chains/btc_bip322_tx.py; this module parses the witness (consensus encoding), applies the
script rules BIP-322 requires (SIGHASH_ALL, strict DER, low S, NULLDUMMY, exactly the stack
the script consumes) and verifies the ECDSA or BIP-340 Schnorr signatures over the digest —
what Sparrow signs for a taproot wallet, and Bitcoin Core for a segwit one. Pure: no I/O.
"""

from __future__ import annotations

import coincurve

from chains.btc_address import AddressType, DecodedAddress
from chains.btc_bip322_tx import bip322_sighash, bip322_taproot_sighash
from chains.btc_multisig import checked_witness_script, parse_multisig
from chains.btc_proof_checks import Check, b64decode, decode_address, hash160
from verifier.base.console import plural
from verifier.base.errors import InvalidProof

__all__ = ["check_bip322_simple"]

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_SIGHASH_DEFAULT = 0x00
_SIGHASH_ALL = 0x01
_MAX_WITNESS_ITEMS = 100
"""Far above any stack this module accepts (P2WPKH: 2, 16-of-16 multisig: 18)."""


# ----------------------------------------------------------------------------- encodings


def _read_compact_size(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position); canonical encodings only, as Core's ReadCompactSize."""
    if pos >= len(data):
        raise ValueError("truncated length")
    first = data[pos]
    if first < 0xFD:
        return first, pos + 1
    width = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
    if pos + 1 + width > len(data):
        raise ValueError("truncated length")
    value = int.from_bytes(data[pos + 1 : pos + 1 + width], "little")
    if value < {2: 0xFD, 4: 0x10000, 8: 0x100000000}[width]:
        raise ValueError("non-canonical length")
    return value, pos + 1 + width


def _parse_witness(raw: bytes) -> list[bytes]:
    """A consensus-encoded witness stack: count, then each item length-prefixed."""
    try:
        count, pos = _read_compact_size(raw, 0)
        if count > _MAX_WITNESS_ITEMS:
            raise ValueError(plural(count, "item"))
        items = []
        for _ in range(count):
            size, pos = _read_compact_size(raw, pos)
            if pos + size > len(raw):
                raise ValueError("an item runs past the end")
            items.append(raw[pos : pos + size])
            pos += size
    except ValueError as exc:
        raise InvalidProof(
            Check.ENCODING, f"the signature is not a witness stack ({exc})"
        ) from None
    if pos != len(raw):
        raise InvalidProof(
            Check.ENCODING,
            f"the signature has {plural(len(raw) - pos, 'byte')} after the witness stack",
        )
    return items


def _is_strict_der(sig: bytes) -> bool:
    """BIP-66 ``IsValidSignatureEncoding`` (Bitcoin Core), `sig` including its hash type."""
    if not 9 <= len(sig) <= 73:
        return False
    if sig[0] != 0x30 or sig[1] != len(sig) - 3:
        return False
    len_r = sig[3]
    if 5 + len_r >= len(sig):
        return False
    len_s = sig[5 + len_r]
    if len_r + len_s + 7 != len(sig):
        return False
    if sig[2] != 0x02 or len_r == 0 or sig[4] & 0x80:
        return False
    if len_r > 1 and sig[4] == 0x00 and not sig[5] & 0x80:
        return False
    if sig[len_r + 4] != 0x02 or len_s == 0 or sig[len_r + 6] & 0x80:
        return False
    return not (len_s > 1 and sig[len_r + 6] == 0x00 and not sig[len_r + 7] & 0x80)


def _check_ecdsa_encoding(sig: bytes, what: str) -> bytes:
    """Apply BIP-322's required rules to one witness signature; return its DER part."""
    if not sig:
        raise InvalidProof(Check.ECDSA, f"{what} is empty (a failed signature, NULLFAIL)")
    if sig[-1] != _SIGHASH_ALL:
        raise InvalidProof(
            Check.SIGHASH_TYPE,
            f"{what} has sighash type 0x{sig[-1]:02x}; BIP-322 requires SIGHASH_ALL (0x01)",
        )
    if not _is_strict_der(sig):
        raise InvalidProof(Check.DER, f"{what} is not strictly DER-encoded (BIP-66)")
    len_r = sig[3]
    s = int.from_bytes(sig[6 + len_r : -1], "big")
    if s > _SECP256K1_N // 2:
        raise InvalidProof(Check.LOW_S, f"{what} has a high S value (BIP-146 LOW_S)")
    return sig[:-1]


def _ecdsa_verifies(der: bytes, key: bytes, digest: bytes) -> bool:
    try:
        return bool(coincurve.PublicKey(key).verify(der, digest, hasher=None))
    except ValueError:
        return False


# ----------------------------------------------------------------------------- address kinds


def _bip322_p2wpkh(address: str, claimed: DecodedAddress, stack: list[bytes], message: str) -> str:
    if len(stack) != 2:
        raise InvalidProof(
            Check.WITNESS,
            "a P2WPKH witness is [signature, public key]; this one has "
            f"{plural(len(stack), 'item')}",
        )
    sig, key = stack
    if len(key) != 33 or key[0] not in (2, 3):
        raise InvalidProof(
            Check.WITNESS, "the witness public key is not a 33-byte compressed key (BIP-143)"
        )
    if hash160(key) != claimed.payload:
        raise InvalidProof(
            Check.PUBKEY_HASH,
            f"the witness public key {key.hex()} hashes to "
            f"{hash160(key).hex()}, not the P2WPKH program {claimed.payload.hex()} of {address}",
        )
    der = _check_ecdsa_encoding(sig, "the witness signature")
    script_code = b"\x76\xa9\x14" + claimed.payload + b"\x88\xac"
    digest = bip322_sighash(message, claimed.script_pubkey(), script_code)
    if not _ecdsa_verifies(der, key, digest):
        raise InvalidProof(
            Check.ECDSA,
            f"the witness signature does not verify under key {key.hex()} over the BIP-322 "
            "to_sign sighash for the challenge (another message was signed, or the signature "
            "was altered)",
        )
    return f"the witness [signature, key {key.hex()}] spends to_spend of {address} (P2WPKH)"


def _bip322_p2wsh_multisig(
    address: str, claimed: DecodedAddress, stack: list[bytes], message: str, network: str
) -> str:
    if len(stack) < 3:
        raise InvalidProof(
            Check.WITNESS,
            f"a P2WSH multisig witness is [empty, signatures..., witness script]; this one has "
            f"{plural(len(stack), 'item')}",
        )
    script = checked_witness_script(address, claimed, stack[-1].hex(), network)
    m, keys = parse_multisig(script)
    if stack[0]:
        raise InvalidProof(
            Check.WITNESS, "the CHECKMULTISIG dummy item is not empty (BIP-147 NULLDUMMY)"
        )
    sigs = stack[1:-1]
    if len(sigs) != m:
        raise InvalidProof(
            Check.WITNESS,
            f"the witness carries {plural(len(sigs), 'signature')}; the {m}-of-{len(keys)} "
            f"script consumes exactly {m}",
        )
    ders = [_check_ecdsa_encoding(sig, f"witness signature {i}") for i, sig in enumerate(sigs, 1)]
    digest = bip322_sighash(message, claimed.script_pubkey(), script)
    # OP_CHECKMULTISIG: signatures must match keys in script order, each key used once
    key_index = 0
    for number, der in enumerate(ders, start=1):
        while key_index < len(keys) and not _ecdsa_verifies(der, keys[key_index], digest):
            key_index += 1
        if key_index == len(keys):
            raise InvalidProof(
                Check.ECDSA,
                f"witness signature {number} verifies under none of the script's remaining "
                "keys over the BIP-322 to_sign sighash for the challenge (another message was "
                "signed, a key is not in the script, or the signatures are out of key order)",
            )
        key_index += 1
    return (
        f"{plural(m, 'signature')} of the {m}-of-{len(keys)} witness script spend to_spend of "
        f"{address} "
        "(P2WSH)"
    )


def _bip322_p2tr(address: str, claimed: DecodedAddress, stack: list[bytes], message: str) -> str:
    if len(stack) != 1:
        raise InvalidProof(
            Check.WITNESS,
            f"a P2TR key-path witness is [signature]; this one has {plural(len(stack), 'item')} "
            "(script-path spends are not verified here)",
        )
    sig = stack[0]
    if len(sig) == 64:
        hash_type = _SIGHASH_DEFAULT
    elif len(sig) == 65 and sig[64] == _SIGHASH_ALL:
        hash_type = _SIGHASH_ALL
    elif len(sig) == 65:
        raise InvalidProof(
            Check.SIGHASH_TYPE,
            f"the witness signature has sighash type 0x{sig[64]:02x}; BIP-322 needs one that "
            "commits to the whole to_sign (SIGHASH_DEFAULT or SIGHASH_ALL)",
        )
    else:
        raise InvalidProof(
            Check.WITNESS,
            f"the witness signature has {plural(len(sig), 'byte')}; a BIP-340 signature has 64 "
            "(65 with a sighash byte)",
        )
    digest = bip322_taproot_sighash(message, claimed.script_pubkey(), hash_type)
    try:
        valid = coincurve.PublicKeyXOnly(claimed.payload).verify(sig[:64], digest)
    except ValueError:
        valid = False  # the program is not an x coordinate on the curve: nobody can sign
    if not valid:
        raise InvalidProof(
            Check.SCHNORR,
            f"the BIP-340 signature does not verify under the output key "
            f"{claimed.payload.hex()} of {address} over the BIP-322 to_sign sighash for the "
            "challenge (another message was signed, or the signature was altered)",
        )
    return f"the key-path witness [Schnorr signature] spends to_spend of {address} (P2TR)"


def check_bip322_simple(address: str, signature: str, network: str, message: str) -> str:
    """Verify a BIP-322 "simple" signature of `message` for a P2WPKH, P2WSH-multisig or P2TR
    address.

    The signature is the base64 witness stack (optionally prefixed ``smp``) that spends
    output 0 of ``to_spend`` in ``to_sign``; both virtual transactions are built from
    `message` and the address's scriptPubKey as BIP-322 defines them.

    Parameters
    ----------
    address
        The claimed P2WPKH, P2WSH (``OP_m <keys> OP_n OP_CHECKMULTISIG``) or P2TR (key
        path) address.
    signature
        Base64 of the consensus-encoded witness stack.
    network
        The address's network.
    message
        The text that must have been signed (the challenge).

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
    if claimed.type not in {AddressType.P2WPKH, AddressType.P2WSH, AddressType.P2TR}:
        raise InvalidProof(
            Check.ADDRESS_TYPE,
            f"{address} is a {claimed.type} address; bip322-simple is verified here for "
            "P2WPKH, P2WSH multisig and P2TR addresses only (a P2SH-P2WPKH or P2PKH address "
            "signs with bip137)",
        )
    text = signature.strip()
    # BIP-322 prefixes: "smp" simple, "ful" full, "pof" proof of funds. A bare witness stack
    # cannot start with any of them: they decode to a count of 126 or more items.
    if text.startswith(("ful", "pof")):
        raise InvalidProof(
            Check.ENCODING,
            "a BIP-322 full or proof-of-funds signature; only the simple form is verified",
        )
    text = text.removeprefix("smp")
    stack = _parse_witness(b64decode(text, "the signature"))
    if claimed.type is AddressType.P2WPKH:
        return _bip322_p2wpkh(address, claimed, stack, message)
    if claimed.type is AddressType.P2TR:
        return _bip322_p2tr(address, claimed, stack, message)
    return _bip322_p2wsh_multisig(address, claimed, stack, message, network)
