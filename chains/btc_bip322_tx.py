"""BIP-322's virtual transactions: ``to_spend`` and ``to_sign`` of a message and an address's
script, their txids, and the signature hashes a witness signs (BIP-143 ECDSA, BIP-341
taproot key path).

Where it sits: under chains/btc_bip322.py, which verifies a BIP-322 "simple" witness
against these digests; tests check the txids and sighashes against the BIP-322 vectors and
an independent construction (tests/unit/test_bip322_reference.py). The transactions and
sighash algorithms are embit's `Transaction`; this module only fills them in as BIP-322
defines them. Pure: no I/O.
"""

from __future__ import annotations

from embit.script import Script
from embit.transaction import SIGHASH, Transaction, TransactionInput, TransactionOutput

from chains.btc_proof_checks import bip322_message_hash

__all__ = ["bip322_sighash", "bip322_taproot_sighash", "bip322_txids"]

_OP_0 = 0x00
_OP_RETURN = 0x6A


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
