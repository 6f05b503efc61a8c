"""Bitcoin ownership proofs: does a signature over this attestation's challenge control an address?

Where it sits: `por snapshot` pins a block, reads each wallet address's balance at it, and
asks this module whether the address's configured ownership proof signs the challenge for
that block (`chains/challenge.py`). The verdict, an `OwnershipCheck`, decides whether the
address's coins count as *proven* or *unproven* holdings in the snapshot. Pure: no I/O, no
asyncio, no global chain parameters; the network is an argument.

Schemes (`proof["scheme"]`):

``bip137``
    The legacy ``signmessage`` format (BIP-137; Bitcoin Core, Electrum, Trezor, Sparrow):
    base64 of ``header || r || s`` over ``sha256d(varint(24) "Bitcoin Signed Message:\\n"
    varint(len(m)) m)``. The public key is recovered from the signature and must derive the
    claimed P2PKH, P2SH-P2WPKH or P2WPKH address. Headers 27-30 name an uncompressed P2PKH
    key, 31-34 a compressed key (Core and Electrum also use these for both segwit types),
    35-38 P2SH-P2WPKH and 39-42 P2WPKH (BIP-137 proper).
``p2wsh-multisig``
    One BIP-137-style signature per cosigner over the challenge plus the witness script
    ``OP_m <33-byte keys> OP_n OP_CHECKMULTISIG``, which must hash to the P2WSH (or
    P2SH-P2WSH) address; PROVEN iff at least m distinct script keys signed.
``bip322-simple``
    A BIP-322 "simple" signature: the witness stack that spends the virtual ``to_spend``
    output, for P2WPKH, P2WSH multisig and P2TR (key path, BIP-341/BIP-340 Schnorr; what
    Sparrow signs for a taproot wallet) addresses. The virtual transactions and their
    BIP-143/BIP-341 sighashes are embit's `Transaction`; the witness is parsed here.

A signature that fails but would verify over the challenge with a trailing newline or with
CRLF line ends (what a text editor or a Windows clipboard adds) is still UNPROVEN; its reason
says so, because the signer can fix it only by signing exactly the printed text.

Invariants:
  1. The message checked is always the `challenge` argument. A proof that carries its own
     message text must carry exactly the challenge, or it is UNPROVEN.
  2. A failed check is a *result* (UNPROVEN, with a reason that starts with the `Check` that
     failed), never an exception. Only a bad `network` argument raises (`InputError`): that
     is a configuration error, not a property of the proof.
  3. The claimed address is decoded for the given network only (by chains/btc_address.py,
     as wallets and the bcoin adapter decode it); an address of another network, or with a
     bad checksum, proves nothing.
  4. Signature verification follows Bitcoin Core: a BIP-137 signature may have a high S
     (Core's ``verifymessage`` accepts it: key recovery does not normalise S); a BIP-322
     witness must satisfy the script rules BIP-322 requires (SIGHASH_ALL, strict DER,
     low S, NULLDUMMY, exactly the stack the script consumes).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
from collections.abc import Callable, Mapping, Sequence

import coincurve
from embit import compact as _compact
from embit import hashes as _embit_hashes
from embit.script import Script
from embit.transaction import SIGHASH, Transaction, TransactionInput, TransactionOutput

from chains import btc_address
from chains.base import Ownership, OwnershipCheck
from chains.btc_address import AddressType, DecodedAddress, encode_address
from verifier.base.errors import InputError, InvalidProof

__all__ = [
    "SCHEMES",
    "AddressType",
    "Check",
    "DecodedAddress",
    "bip137_message_hash",
    "bip322_message_hash",
    "bip322_sighash",
    "bip322_taproot_sighash",
    "bip322_txids",
    "check_bip137",
    "check_bip322_simple",
    "check_p2wsh_multisig",
    "decode_address",
    "encode_address",
    "message_variants",
    "multisig_witness_script",
    "parse_multisig",
    "verify_bitcoin_ownership",
]

SCHEMES = ("bip137", "bip322-simple", "p2wsh-multisig")
"""The `proof["scheme"]` values this module verifies."""

_MAGIC = b"Bitcoin Signed Message:\n"
_BIP322_TAG = b"BIP0322-signed-message"
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_OP_0 = 0x00
_OP_1 = 0x51
_OP_16 = 0x60
_OP_RETURN = 0x6A
_OP_CHECKMULTISIG = 0xAE
_PUSH_33 = 0x21
_SIGHASH_ALL = 0x01
_MAX_WITNESS_ITEMS = 100
"""Far above any stack this module accepts (P2WPKH: 2, 16-of-16 multisig: 18)."""


class Check(enum.StrEnum):
    """The check that failed; every UNPROVEN reason starts with ``"<check>: "``."""

    NO_SIGNATURE = "no signature"
    """No proof, or a proof without the signature(s) its scheme needs."""
    SCHEME = "unsupported scheme"
    PROOF = "proof"
    """A proof field of the wrong type (e.g. `signatures` not a list of strings)."""
    MESSAGE = "message"
    """The proof's own message text is not this attestation's challenge."""
    ADDRESS = "address"
    """The claimed address does not decode for the network (checksum, network, length)."""
    ADDRESS_TYPE = "address type"
    """The scheme cannot prove this kind of address."""
    ENCODING = "signature encoding"
    """Not base64, wrong length, or not a witness stack."""
    HEADER = "header"
    """BIP-137 header byte out of range, or naming another address type."""
    RECOVERY = "key recovery"
    """No public key can be recovered from (r, s, recovery id)."""
    RECOVERED_KEY = "recovered key"
    """The recovered key does not derive the claimed address."""
    WITNESS_SCRIPT = "witness script"
    """The witness script is not hex, or does not hash to the claimed address."""
    MULTISIG_SCRIPT = "multisig script"
    """The witness script is not ``OP_m <keys> OP_n OP_CHECKMULTISIG``."""
    COSIGNER = "cosigner"
    """A signature recovers to a key that is not in the witness script."""
    DUPLICATE_KEY = "duplicate key"
    """Two signatures recover to the same cosigner key."""
    THRESHOLD = "threshold"
    """Fewer distinct cosigner keys signed than the script requires."""
    WITNESS = "witness"
    """A BIP-322 witness stack of the wrong shape for the address."""
    PUBKEY_HASH = "pubkey hash"
    """The BIP-322 witness public key does not hash to the P2WPKH program."""
    SIGHASH_TYPE = "sighash type"
    DER = "DER"
    """Not strictly DER-encoded (BIP-66)."""
    LOW_S = "low S"
    ECDSA = "ECDSA"
    """The ECDSA signature does not verify over the BIP-322 sighash."""
    SCHNORR = "Schnorr"
    """The BIP-340 signature of a P2TR key-path witness does not verify."""


# ----------------------------------------------------------------------------- hashing


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _sha256d(data: bytes) -> bytes:
    return _sha256(_sha256(data))


def _hash160(data: bytes) -> bytes:
    # embit falls back to a pure-Python RIPEMD-160 where OpenSSL 3 has dropped it
    return bytes(_embit_hashes.hash160(data))


def bip137_message_hash(message: str) -> bytes:
    """The digest a ``signmessage`` signature signs (Bitcoin Core ``MessageHash``).

    Parameters
    ----------
    message
        The message text; encoded as UTF-8.

    Returns
    -------
    bytes
        ``sha256d(varint(24) "Bitcoin Signed Message:\\n" varint(len(m)) m)``, 32 bytes.
    """
    data = message.encode("utf-8")
    return _sha256d(_compact.to_bytes(len(_MAGIC)) + _MAGIC + _compact.to_bytes(len(data)) + data)


def bip322_message_hash(message: str) -> bytes:
    """The BIP-340 tagged hash ``sha256_tag("BIP0322-signed-message", m)`` of BIP-322.

    Parameters
    ----------
    message
        The message text; encoded as UTF-8, no length prefix.

    Returns
    -------
    bytes
        32 bytes.
    """
    tag = _sha256(_BIP322_TAG)
    return _sha256(tag + tag + message.encode("utf-8"))


# ----------------------------------------------------------------------------- addresses


def decode_address(address: str, network: str) -> DecodedAddress:
    """Decode a Bitcoin address of `network` (`chains.btc_address.decode_address`).

    Parameters
    ----------
    address
        Base58check (P2PKH, P2SH) or bech32/bech32m (segwit, BIP-173/BIP-350).
    network
        "main", "test", "testnet4", "signet" or "regtest".

    Returns
    -------
    DecodedAddress

    Raises
    ------
    InvalidProof
        ``Check.ADDRESS`` if the address does not decode for this network.
    InputError
        If `network` is not a known network.
    """
    try:
        return btc_address.decode_address(address, network)
    except btc_address.AddressError as exc:
        raise InvalidProof(Check.ADDRESS, str(exc)) from None


def _same_address(a: DecodedAddress, b: DecodedAddress) -> bool:
    # compare what the addresses commit to, so bech32 case does not matter
    return a.script_pubkey() == b.script_pubkey()


# ----------------------------------------------------------------------------- decoding


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidProof(Check.ENCODING, f"{what} is not valid base64") from None


def _compressed_key(key: coincurve.PublicKey) -> bytes:
    return key.format(compressed=True)


def _recover(signature65: bytes, message_hash: bytes, what: str) -> coincurve.PublicKey:
    """Recover the signing key from ``header || r || s`` (header already range-checked)."""
    recovery_id = (signature65[0] - 27) & 3
    compact = signature65[1:65] + bytes([recovery_id])
    try:
        return coincurve.PublicKey.from_signature_and_message(compact, message_hash, hasher=None)
    except ValueError:
        raise InvalidProof(
            Check.RECOVERY,
            f"no public key can be recovered from {what} (r or s out of range, or no curve "
            f"point for recovery id {recovery_id})",
        ) from None


def _decode_compact_signature(signature: str, what: str) -> bytes:
    raw = _b64decode(signature, what)
    if len(raw) != 65:
        raise InvalidProof(
            Check.ENCODING, f"{what} decodes to {len(raw)} bytes, not 65 (header, r, s)"
        )
    header = raw[0]
    if not 27 <= header <= 42:
        raise InvalidProof(Check.HEADER, f"{what} has header byte {header}, outside 27-42")
    return raw


def _header_label(header: int) -> str:
    if header <= 30:
        return "P2PKH, uncompressed key"
    if header <= 34:
        return "compressed key"
    if header <= 38:
        return "P2SH-P2WPKH"
    return "P2WPKH"


def _header_fits(header: int, address_type: AddressType) -> bool:
    if header <= 30:
        return address_type is AddressType.P2PKH
    if header <= 34:
        # Core's signmessage and Electrum use 31-34 for P2PKH, P2SH-P2WPKH and P2WPKH alike
        return address_type in {AddressType.P2PKH, AddressType.P2SH, AddressType.P2WPKH}
    if header <= 38:
        return address_type is AddressType.P2SH
    return address_type is AddressType.P2WPKH


def _key_address(key: coincurve.PublicKey, compressed: bool, kind: AddressType) -> DecodedAddress:
    """The `kind` address of `key`: P2PKH, P2SH-P2WPKH (for P2SH) or P2WPKH."""
    key_hash = _hash160(key.format(compressed=compressed))
    if kind is AddressType.P2PKH:
        return DecodedAddress(AddressType.P2PKH, key_hash)
    if kind is AddressType.P2SH:
        return DecodedAddress(AddressType.P2SH, _hash160(b"\x00\x14" + key_hash))
    return DecodedAddress(AddressType.P2WPKH, key_hash, 0)


# ----------------------------------------------------------------------------- BIP-137


def check_bip137(address: str, signature: str, network: str, message: str) -> str:
    """Verify a BIP-137 / ``signmessage`` signature of `message` for `address`.

    Parameters
    ----------
    address
        The claimed P2PKH, P2SH-P2WPKH or P2WPKH address.
    signature
        Base64 of the 65 bytes ``header || r || s``.
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
    if claimed.type not in {AddressType.P2PKH, AddressType.P2SH, AddressType.P2WPKH}:
        raise InvalidProof(
            Check.ADDRESS_TYPE,
            f"{address} is a {claimed.type} address; a signmessage signature proves only "
            "P2PKH, P2SH-P2WPKH and P2WPKH addresses (use bip322-simple or p2wsh-multisig)",
        )
    raw = _decode_compact_signature(signature, "the signature")
    header = raw[0]
    if not _header_fits(header, claimed.type):
        raise InvalidProof(
            Check.HEADER,
            f"header byte {header} ({_header_label(header)}) does not match the "
            f"{claimed.type} address {address}",
        )
    key = _recover(raw, bip137_message_hash(message), "the signature")
    compressed = header >= 31
    derived = _key_address(key, compressed, claimed.type)
    if not _same_address(derived, claimed):
        raise InvalidProof(
            Check.RECOVERED_KEY,
            f"the key recovered from the signature over the challenge, "
            f"{key.format(compressed=compressed).hex()}, derives "
            f"{encode_address(derived, network)}, not {address} (another key signed, or "
            "another message was signed)",
        )
    return (
        f"signature over the challenge recovers key {key.format(compressed=compressed).hex()} "
        f"(header {header}), which derives {address} ({claimed.type})"
    )


# ----------------------------------------------------------------------------- multisig


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
            f"after {n} keys it must end with OP_{n} OP_CHECKMULTISIG "
            f"({_OP_1 - 1 + n:02x}ae), found {script[pos:].hex() or 'nothing'}"
        )
    if m > n:
        raise fail(f"it requires {m} signatures from only {n} keys")
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


def _script_address(script: bytes, claimed: DecodedAddress) -> DecodedAddress:
    """The address `script` hashes to, of the kind `claimed` is (P2WSH or P2SH-P2WSH)."""
    program = _sha256(script)
    if claimed.type is AddressType.P2SH:
        return DecodedAddress(AddressType.P2SH, _hash160(b"\x00\x20" + program))
    return DecodedAddress(AddressType.P2WSH, program, 0)


def _witness_script(address: str, claimed: DecodedAddress, text: str, network: str) -> bytes:
    try:
        script = bytes.fromhex(text)
    except ValueError:
        raise InvalidProof(Check.WITNESS_SCRIPT, "the witness script is not hex") from None
    derived = _script_address(script, claimed)
    if not _same_address(derived, claimed):
        wrapped = " wrapped in P2SH" if claimed.type is AddressType.P2SH else ""
        raise InvalidProof(
            Check.WITNESS_SCRIPT,
            f"the witness script{wrapped} hashes to {encode_address(derived, network)}, "
            f"not {address}",
        )
    return script


def check_p2wsh_multisig(
    address: str,
    witness_script: str,
    signatures: Sequence[str],
    network: str,
    message: str,
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
    script = _witness_script(address, claimed, witness_script, network)
    m, keys = parse_multisig(script)
    digest = bip137_message_hash(message)
    signer_of: dict[bytes, int] = {}
    for number, signature in enumerate(signatures, start=1):
        what = f"signature {number}"
        raw = _decode_compact_signature(signature, what)
        if raw[0] < 31:
            raise InvalidProof(
                Check.HEADER,
                f"{what} has header byte {raw[0]} (uncompressed key); witness script keys "
                "are compressed",
            )
        key = _compressed_key(_recover(raw, digest, what))
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
            f"only {len(signer_of)} of the {m} required keys of the {m}-of-{len(keys)} "
            "witness script signed the challenge",
        )
    return (
        f"{len(signer_of)} distinct keys of the {m}-of-{len(keys)} witness script signed the "
        f"challenge; the script hashes to {address}"
    )


# ----------------------------------------------------------------------------- BIP-322


def _to_spend(message: str, script_pubkey: bytes) -> Transaction:
    """BIP-322 ``to_spend``: spends a null outpoint, pays 0 to the address's script."""
    script_sig = Script(bytes([_OP_0, 32]) + bip322_message_hash(message))
    return Transaction(
        version=0,
        vin=[TransactionInput(b"\x00" * 32, 0xFFFFFFFF, script_sig, sequence=0)],
        vout=[TransactionOutput(0, Script(script_pubkey))],
        locktime=0,
    )


def _to_sign(message: str, script_pubkey: bytes) -> Transaction:
    """BIP-322 ``to_sign`` without its witness: spends ``to_spend:0``, pays 0 to OP_RETURN."""
    to_spend_txid = _to_spend(message, script_pubkey).txid()
    return Transaction(
        version=0,
        vin=[TransactionInput(to_spend_txid, 0, sequence=0)],
        vout=[TransactionOutput(0, Script(bytes([_OP_RETURN])))],
        locktime=0,
    )


def bip322_txids(message: str, script_pubkey: bytes) -> tuple[str, str]:
    """The txids of BIP-322 ``to_spend`` and ``to_sign`` (display byte order, hex).

    Parameters
    ----------
    message
        The signed message.
    script_pubkey
        The address's output script (``message_challenge``).

    Returns
    -------
    tuple[str, str]
        (to_spend txid, to_sign txid), as the BIP-322 test vectors print them.
    """
    to_spend = _to_spend(message, script_pubkey).txid().hex()
    to_sign = _to_sign(message, script_pubkey).txid().hex()
    return to_spend, to_sign


def bip322_sighash(message: str, script_pubkey: bytes, script_code: bytes) -> bytes:
    """The BIP-143 SIGHASH_ALL digest of ``to_sign`` input 0 (amount 0).

    Parameters
    ----------
    message
        The signed message.
    script_pubkey
        The address's output script (``message_challenge`` of ``to_spend``).
    script_code
        BIP-143 scriptCode without its length: ``76a914{h}88ac`` for P2WPKH, the witness
        script for P2WSH.

    Returns
    -------
    bytes
        The 32-byte digest an ECDSA signature in the witness signs.
    """
    to_sign = _to_sign(message, script_pubkey)
    return bytes(to_sign.sighash_segwit(0, Script(script_code), 0, SIGHASH.ALL))


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
            raise ValueError(f"{count} items")
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
            Check.ENCODING, f"the signature has {len(raw) - pos} bytes after the witness stack"
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


def _bip322_p2wpkh(address: str, claimed: DecodedAddress, stack: list[bytes], message: str) -> str:
    if len(stack) != 2:
        raise InvalidProof(
            Check.WITNESS,
            f"a P2WPKH witness is [signature, public key]; this one has {len(stack)} items",
        )
    sig, key = stack
    if len(key) != 33 or key[0] not in (2, 3):
        raise InvalidProof(
            Check.WITNESS, "the witness public key is not a 33-byte compressed key (BIP-143)"
        )
    if _hash160(key) != claimed.payload:
        raise InvalidProof(
            Check.PUBKEY_HASH,
            f"the witness public key {key.hex()} hashes to "
            f"{_hash160(key).hex()}, not the P2WPKH program {claimed.payload.hex()} of {address}",
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
            f"{len(stack)} items",
        )
    script = _witness_script(address, claimed, stack[-1].hex(), network)
    m, keys = parse_multisig(script)
    if stack[0]:
        raise InvalidProof(
            Check.WITNESS, "the CHECKMULTISIG dummy item is not empty (BIP-147 NULLDUMMY)"
        )
    sigs = stack[1:-1]
    if len(sigs) != m:
        raise InvalidProof(
            Check.WITNESS,
            f"the witness carries {len(sigs)} signatures; the {m}-of-{len(keys)} script "
            f"consumes exactly {m}",
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
        f"{m} signatures of the {m}-of-{len(keys)} witness script spend to_spend of {address} "
        "(P2WSH)"
    )


_SIGHASH_DEFAULT = 0x00


def bip322_taproot_sighash(message: str, script_pubkey: bytes, hash_type: int) -> bytes:
    """The BIP-341 key-path signature hash of BIP-322 ``to_sign`` input 0 (amount 0).

    Parameters
    ----------
    message
        The signed message.
    script_pubkey
        The P2TR output script (``OP_1 <32-byte output key>``) of ``to_spend``.
    hash_type
        SIGHASH_DEFAULT (0x00) or SIGHASH_ALL (0x01): both commit to every input and output.

    Returns
    -------
    bytes
        ``TaggedHash("TapSighash", 0x00 || SigMsg(hash_type, 0))``, 32 bytes.
    """
    to_sign = _to_sign(message, script_pubkey)
    digest = to_sign.sighash_taproot(0, [Script(script_pubkey)], [0], sighash=hash_type)
    return bytes(digest)


def _bip322_p2tr(address: str, claimed: DecodedAddress, stack: list[bytes], message: str) -> str:
    if len(stack) != 1:
        raise InvalidProof(
            Check.WITNESS,
            f"a P2TR key-path witness is [signature]; this one has {len(stack)} items "
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
            f"the witness signature has {len(sig)} bytes; a BIP-340 signature has 64 "
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
    stack = _parse_witness(_b64decode(text, "the signature"))
    if claimed.type is AddressType.P2WPKH:
        return _bip322_p2wpkh(address, claimed, stack, message)
    if claimed.type is AddressType.P2TR:
        return _bip322_p2tr(address, claimed, stack, message)
    return _bip322_p2wsh_multisig(address, claimed, stack, message, network)


# ----------------------------------------------------------------------------- entry point


def _string_field(proof: Mapping[str, object], name: str, missing: Check) -> str:
    value = proof.get(name)
    if value is None or value == "":
        raise InvalidProof(missing, f"the proof has no {name!r}")
    if not isinstance(value, str):
        raise InvalidProof(Check.PROOF, f"{name!r} is a {type(value).__name__}, not a string")
    return value


def _signature_for(proof: Mapping[str, object], address: str) -> str:
    # xpub wallets list one signature per derived address: {"addresses": {address: sig}}
    by_address = proof.get("addresses")
    if proof.get("signature") is None and isinstance(by_address, Mapping):
        if address not in by_address:
            raise InvalidProof(
                Check.NO_SIGNATURE, f"the proof's 'addresses' map has no signature for {address}"
            )
        return _string_field(by_address, address, Check.NO_SIGNATURE)
    return _string_field(proof, "signature", Check.NO_SIGNATURE)


def _signature_list(proof: Mapping[str, object]) -> list[str]:
    value = proof.get("signatures")
    if value is None or (isinstance(value, Sequence) and len(value) == 0):
        raise InvalidProof(Check.NO_SIGNATURE, "the proof has no 'signatures'")
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidProof(Check.PROOF, "'signatures' is not a list of strings")
    if not all(isinstance(item, str) for item in value):
        raise InvalidProof(Check.PROOF, "'signatures' is not a list of strings")
    return [str(item) for item in value]


def _verify(
    proof: Mapping[str, object], scheme: str, address: str, network: str, challenge: str
) -> str:
    message = proof.get("message")
    if message is not None and message != challenge:
        raise InvalidProof(Check.MESSAGE, "signed message is not this attestation's challenge")
    if scheme == "bip137":
        return check_bip137(address, _signature_for(proof, address), network, challenge)
    if scheme == "bip322-simple":
        return check_bip322_simple(address, _signature_for(proof, address), network, challenge)
    signatures = _signature_list(proof)
    script = _string_field(proof, "witness_script", Check.PROOF)
    return check_p2wsh_multisig(address, script, signatures, network, challenge)


def verify_bitcoin_ownership(
    proof: Mapping[str, object] | None, address: str, network: str, challenge: str
) -> OwnershipCheck:
    """Check one Bitcoin address's ownership proof against this attestation's challenge.

    Parameters
    ----------
    proof
        The configured proof: ``{"scheme": "bip137" | "bip322-simple" | "p2wsh-multisig",
        "signature": str, "signatures": [str, ...], "witness_script": hex,
        "message": optional text}``. For ``bip137`` and ``bip322-simple`` an
        ``"addresses": {address: signature}`` map may stand in for ``"signature"``. None or
        empty: no proof.
    address
        The claimed address.
    network
        "main", "test", "testnet4", "signet" or "regtest".
    challenge
        The exact text that must have been signed (`chains.challenge.challenge`).

    Returns
    -------
    OwnershipCheck
        PROVEN with what was shown, or UNPROVEN with a reason that starts with the failed
        `Check` (e.g. ``"recovered key: ..."``).

    Raises
    ------
    InputError
        If `network` is not a known Bitcoin network (a configuration error).
    """
    btc_address.address_format(network)
    if not proof:
        return OwnershipCheck(
            address,
            Ownership.UNPROVEN,
            None,
            f"{Check.NO_SIGNATURE}: no ownership proof is configured for this address",
        )
    scheme = proof.get("scheme")
    if not isinstance(scheme, str) or scheme not in SCHEMES:
        return OwnershipCheck(
            address,
            Ownership.UNPROVEN,
            scheme if isinstance(scheme, str) else None,
            f"{Check.SCHEME}: {scheme!r} (supported: {', '.join(SCHEMES)})",
        )
    try:
        reason = _verify(proof, scheme, address, network, challenge)
    except InvalidProof as exc:
        reason = exc.message
        if exc.check in _WRONG_SIGNER_CHECKS and proof.get("message") is None:
            hint = _near_miss(
                lambda text: _verify(proof, scheme, address, network, text), challenge
            )
            if hint is not None:
                reason += f"; {hint}"
        return OwnershipCheck(address, Ownership.UNPROVEN, scheme, reason)
    return OwnershipCheck(address, Ownership.PROVEN, scheme, reason)


_WRONG_SIGNER_CHECKS = frozenset(
    {Check.RECOVERED_KEY, Check.COSIGNER, Check.ECDSA, Check.SCHNORR, Check.THRESHOLD}
)
"""Failures that a signature over a slightly different text (a newline, CRLF) produces."""


def message_variants(message: str) -> list[tuple[str, str]]:
    """What tools often sign instead of `message`: (description, text) pairs.

    A text editor saves a final newline, `echo` and here-documents add one, a Windows
    clipboard or editor turns LF into CRLF. Used only to explain a failure, never to accept.
    """
    crlf = message.replace("\n", "\r\n")
    return [
        ("a trailing newline", message + "\n"),
        ("CRLF line ends", crlf),
        ("CRLF line ends and a trailing CRLF", crlf + "\r\n"),
        ("a trailing CRLF", message + "\r\n"),
    ]


def _near_miss(check: Callable[[str], object], message: str) -> str | None:
    for description, text in message_variants(message):
        try:
            check(text)
        except InvalidProof:
            continue
        return (
            f"it verifies over the challenge with {description} added: sign exactly the "
            "printed text, lines ending in LF and no newline after the last line"
        )
    return None


# ----------------------------------------------------------------------------- signing
# The exchange's side (the demo, tests and `por` users who hold keys in software): sign the
# challenge so that the checks above accept it. Hardware wallets produce the same format.

_HEADER_BASE = {"p2pkh": 31, "p2sh-p2wpkh": 35, "p2wpkh": 39}


def sign_bip137(secret: bytes, message: str, address_type: str = "p2wpkh") -> str:
    """A "Bitcoin Signed Message" signature with the strict BIP-137 header for the type.

    Parameters
    ----------
    secret
        The 32-byte private key.
    message
        The text to sign (the challenge).
    address_type
        "p2pkh" (compressed key), "p2sh-p2wpkh" or "p2wpkh".

    Returns
    -------
    str
        base64 of header || r || s, as `signmessage` prints it.
    """
    if address_type not in _HEADER_BASE:
        raise InputError("cannot sign for this address type", value=address_type)
    key = coincurve.PrivateKey(secret)
    recoverable = key.sign_recoverable(bip137_message_hash(message), hasher=None)
    header = _HEADER_BASE[address_type] + recoverable[64]
    return base64.b64encode(bytes([header]) + recoverable[:64]).decode("ascii")
