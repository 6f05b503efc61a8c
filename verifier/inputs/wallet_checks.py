"""What can be checked of a config's wallets without a node: addresses, xpubs, keys and the
form of every ownership signature.

Where it sits: inside `por config check` (verifier/inputs/config_check.py). Every address,
xpub and multisig key is checked for its network (chains/btc_wallets.py), EIP-55 checksums
are checked, and every signature must decode (base64 or hex, of the right length) — not
verify, which needs the pinned block (`por snapshot`). A private key is never involved and
every value shown is masked.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from verifier.base.console import plural
from verifier.base.errors import InputError
from verifier.inputs.config_values import TokenConfig, WalletConfig
from verifier.inputs.problems import Problem, bare_message, fail, problem_of


def bitcoin_problems(
    path: Path, network: str, wallets: Sequence[WalletConfig]
) -> Iterator[Problem]:
    """Each Bitcoin wallet's address, xpub or multisig keys for `network`, and its proof."""
    from chains.btc_wallets import XpubWallet, script_pubkey

    for wallet in wallets:
        if wallet.address is not None:
            yield from _guard(
                lambda w=wallet: script_pubkey(w.address, network), wallet, "address", path
            )
        elif wallet.xpub is not None:
            yield from _guard(
                lambda w=wallet: XpubWallet(
                    name=w.key,
                    network=network,
                    xpub=w.xpub,
                    script_type=w.script,
                    account_path=w.path or "",
                    gap_limit=w.gap_limit,
                ),
                wallet,
                "xpub",
                path,
            )
        else:
            yield from _multisig_keys(path, wallet)
        yield from _proof_problems(path, wallet, network)


def _guard(check: Any, wallet: WalletConfig, name: str, path: Path) -> Iterator[Problem]:
    """Run a chains/ check that raises InputError; name the wallet's key in our terms."""
    try:
        check()
    except InputError as exc:
        key = exc.key or f"{wallet.key}.{name}"
        # the wallet classes name their own fields: map them to por.toml's keys
        key = key.replace(".script_type", ".script").replace(".account_path", ".path")
        if not key.startswith(wallet.key):
            key = f"{wallet.key}.{name}"
        problem = problem_of(exc, key=key)
        if problem.file is None:  # the wallet classes know no file: the key is por.toml's
            problem = Problem(str(path), key, problem.message, problem.value)
        yield problem


def _multisig_keys(path: Path, wallet: WalletConfig) -> Iterator[Problem]:
    import coincurve

    seen: set[bytes] = set()
    for i, text in enumerate(wallet.multisig_keys):
        key = f"{wallet.key}.multisig.keys[{i}]"
        try:
            sec = bytes.fromhex(text)
        except ValueError:
            yield fail(path, key, "not hex", text)
            continue
        if len(sec) != 33 or sec[0] not in (2, 3):
            yield fail(path, key, "not a 33-byte compressed public key (02… or 03…)", text)
            continue
        try:
            coincurve.PublicKey(sec)
        except ValueError:
            yield fail(path, key, "not a point on secp256k1", text)
            continue
        if sec in seen:
            yield fail(path, key, "the same public key is listed twice", text)
        seen.add(sec)


_BTC_SCHEMES = ("bip137", "bip322-simple", "p2wsh-multisig")


_ETH_SCHEMES = ("eip191", "eip1271")


def _base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _bip137(path: Path, key: str, signature: str) -> Iterator[Problem]:
    raw = _base64(signature.strip())
    if raw is None:
        yield fail(path, key, "not base64", signature)
    elif len(raw) != 65 or not 27 <= raw[0] <= 42:
        yield fail(path, key, "not a signmessage signature (65 bytes, header 27..42)", signature)


def _proof_problems(path: Path, wallet: WalletConfig, network: str) -> Iterator[Problem]:
    """The proof's form: the scheme fits the chain and the wallet, and signatures decode."""
    from chains.btc_wallets import script_pubkey

    proof = wallet.ownership
    if proof is None:
        return
    where = f"{wallet.key}.ownership"
    scheme = str(proof["scheme"])
    if scheme in _ETH_SCHEMES:
        yield fail(path, f"{where}.scheme", "an Ethereum scheme on a Bitcoin wallet", scheme)
        return
    if scheme == "p2wsh-multisig":
        if wallet.kind == "xpub":
            yield fail(path, f"{where}.scheme", "p2wsh-multisig proves no xpub wallet", scheme)
        elif wallet.kind == "address" and proof.get("witness_script") is None:
            yield fail(
                path,
                f"{where}.witness_script",
                "missing: a multisig address needs its witness script (or give the wallet "
                "as multisig = { m, keys })",
            )
        signatures = proof.get("signatures") or []
        if not signatures:
            yield fail(path, f"{where}.signatures", "missing: one signature per cosigner")
        for i, signature in enumerate(signatures):
            yield from _bip137(path, f"{where}.signatures[{i}]", signature)
        if wallet.multisig_m is not None and 0 < len(signatures) < wallet.multisig_m:
            yield fail(
                path,
                f"{where}.signatures",
                f"{plural(len(signatures), 'signature')}, fewer than m = {wallet.multisig_m}",
            )
        script = proof.get("witness_script")
        if script is not None and (
            len(script) % 2 or re.fullmatch(r"[0-9a-fA-F]*", script) is None
        ):
            yield fail(path, f"{where}.witness_script", "not hex", script)
        return
    by_address = proof.get("addresses") or {}
    signature = proof.get("signature")
    if signature is None and not by_address:
        yield fail(path, f"{where}.signature", "missing: the wallet would be unproven")
    pairs = [(f"{where}.signature", signature)] if signature is not None else []
    pairs += [(f"{where}.addresses.{a}", s) for a, s in by_address.items()]
    for address in by_address:
        try:
            script_pubkey(address, network)
        except InputError as exc:
            yield fail(path, f"{where}.addresses.{address}", bare_message(exc), address)
    for key, text in pairs:
        if scheme == "bip137":
            yield from _bip137(path, key, text)
        elif _base64(text.strip().removeprefix("smp")) is None:
            yield fail(path, key, "not base64 (a BIP-322 simple signature)", text)


def ethereum_problems(
    path: Path, tokens: Sequence[TokenConfig], wallets: Sequence[WalletConfig]
) -> Iterator[Problem]:
    """Token contracts' and wallets' EIP-55 checksums, and each wallet's proof's form."""
    from eth_utils.address import is_checksum_address

    for i, token in enumerate(tokens):
        if _mixed_case(token.contract) and not is_checksum_address(token.contract):
            yield fail(
                path,
                f"ethereum.tokens[{i}].contract",
                "the EIP-55 checksum (the letters' case) does not match: a typo?",
                token.contract,
            )
    for wallet in wallets:
        assert wallet.address is not None  # Ethereum wallets are given by address
        if _mixed_case(wallet.address) and not is_checksum_address(wallet.address):
            yield fail(
                path,
                f"{wallet.key}.address",
                "the EIP-55 checksum (the letters' case) does not match: a typo?",
                wallet.address,
            )
        proof = wallet.ownership
        if proof is None:
            continue
        where = f"{wallet.key}.ownership"
        scheme = str(proof["scheme"])
        if scheme in _BTC_SCHEMES:
            yield fail(path, f"{where}.scheme", "a Bitcoin scheme on an Ethereum wallet", scheme)
            continue
        signature = proof.get("signature")
        if signature is None:
            yield fail(path, f"{where}.signature", "missing: the wallet would be unproven")
            continue
        digits = signature.removeprefix("0x")
        if len(digits) % 2 or not digits or re.fullmatch(r"[0-9a-fA-F]*", digits) is None:
            yield fail(path, f"{where}.signature", "not 0x-hex", signature)
        elif scheme == "eip191" and len(digits) != 130:
            yield fail(path, f"{where}.signature", "an EIP-191 signature is 65 bytes", signature)


def _mixed_case(address: str) -> bool:
    letters = address[2:]
    return letters != letters.lower() and letters != letters.upper()
