"""Bitcoin ownership proofs: does a signature over this attestation's challenge control an address?

Where it sits: `por snapshot` pins a block, reads each wallet address's balance at it, and
asks this module whether the address's configured ownership proof signs the challenge for
that block (`chains/challenge.py`). The verdict, an `OwnershipCheck`, decides whether the
address's coins count as *proven* or *unproven* holdings in the snapshot. This module reads
the proof's fields and dispatches on its scheme; each scheme is verified in its own module.
Pure: no I/O, no asyncio, no global chain parameters; the network is an argument.

Schemes (`proof["scheme"]`):

``bip137``
    The legacy ``signmessage`` format: chains/btc_bip137.py.
``p2wsh-multisig``
    One BIP-137-style signature per cosigner plus the witness script that hashes to the
    P2WSH (or P2SH-P2WSH) address; PROVEN iff at least m distinct script keys signed:
    chains/btc_multisig.py.
``bip322-simple``
    A BIP-322 "simple" witness for P2WPKH, P2WSH multisig and P2TR (key path) addresses:
    chains/btc_bip322.py, over the virtual transactions of chains/btc_bip322_tx.py.

The `Check` vocabulary, message hashes and address decoding they share are in
chains/btc_proof_checks.py.

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

from collections.abc import Callable, Mapping, Sequence

from chains import btc_address
from chains.base import Ownership, OwnershipCheck
from chains.btc_bip137 import check_bip137
from chains.btc_bip322 import check_bip322_simple
from chains.btc_multisig import check_p2wsh_multisig
from chains.btc_proof_checks import Check
from verifier.base.errors import InvalidProof

__all__ = ["SCHEMES", "message_variants", "verify_bitcoin_ownership"]

SCHEMES = ("bip137", "bip322-simple", "p2wsh-multisig")
"""The `proof["scheme"]` values this module verifies."""


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
