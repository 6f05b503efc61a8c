"""How each address signs a challenge: the command line or the wallet steps, per scheme.

Where it sits: inside the challenge plan (verifier/holdings/challenge_plan.py), which gives
each configured address its scheme and these instructions; `por challenge` prints them.
docs/signing.md says how each tool signs. Nothing is signed here: the message is quoted
into a shell word (`shell_quote`) so that a pasted command signs exactly those bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from verifier.base.errors import InvalidProof
from verifier.inputs.config_values import WalletConfig

DOCS = "docs/signing.md"


def shell_quote(text: str) -> str:
    """`text` as one bash/zsh word that expands to exactly `text`, newlines included.

    ANSI-C quoting (``$'...'``) writes a newline as ``\\n``, so a multi-line message fits
    on one command line and no trailing newline sneaks in. Plain single quotes when the
    text has no control character, quote or backslash.
    """
    if text and not any(c < " " or c in "'\\\x7f" for c in text):
        return f"'{text}'"
    escaped = []
    for c in text:
        if c == "\\":
            escaped.append("\\\\")
        elif c == "'":
            escaped.append("\\'")
        elif c == "\n":
            escaped.append("\\n")
        elif c == "\r":
            escaped.append("\\r")
        elif c == "\t":
            escaped.append("\\t")
        elif c < " " or c == "\x7f":
            escaped.append(f"\\x{ord(c):02x}")
        else:
            escaped.append(c)
    return "$'" + "".join(escaped) + "'"


def bitcoin_how(scheme: str | None, address: str, kind: str, message: str) -> list[str]:
    """Instructions for one single-key Bitcoin address (kind: P2PKH, P2SH, P2WPKH, P2TR...)."""
    quoted = shell_quote(message)
    if scheme == "bip137":
        how = [f"electrum signmessage {address} {quoted}"]
        if kind == "P2PKH":
            how.append(f"bitcoin-cli signmessage {address} {quoted}")
        # not Coldcard: its message signing takes one line of printable ASCII (at most 240
        # characters), and every por challenge has several lines (docs/signing.md)
        how.append(
            "or Sparrow (Tools > Sign/Verify Message, format Electrum or BIP137/Trezor), "
            f"Trezor or Ledger: see {DOCS}#bip-137-signmessage (not Coldcard: it signs one "
            "line of printable ASCII only, and this message has several)"
        )
        return how
    if scheme == "bip322-simple":
        how = [
            "Sparrow: Tools > Sign/Verify Message, format 'BIP322 Simple', paste the message "
            f"exactly (see {DOCS}#bip-322-simple)"
        ]
        if kind == "P2WSH":
            how.append(
                "a multisig address can instead be proven by its cosigners' own signatures: "
                'give ownership = { scheme = "p2wsh-multisig", witness_script = "<hex>" } '
                "(or configure the wallet as multisig) and run por challenge again"
            )
        return how
    return [f"no signing scheme proves a {kind} address here; see {DOCS}"]


def multisig_how(m: int, keys: Sequence[str], message: str) -> list[str]:
    """Instructions for the cosigners of a P2WSH multisig (one BIP-137 signature each)."""
    quoted = shell_quote(message)
    how = [
        f"{m} of these {len(keys)} cosigners each sign the message with their own key "
        "(BIP-137 format, any header); the signatures go in ownership.signatures, in any order:"
    ]
    for number, key in enumerate(keys, start=1):
        how.append(
            f"cosigner {number} (key {key}): trezorctl btc sign-message -n <path of this "
            f"key> {quoted}   (or another tool: {DOCS}#p2wsh-multisig)"
        )
    return how


def script_keys(wallet: WalletConfig) -> tuple[int, list[str]] | None:
    """m and the keys of a multisig wallet, or of an address wallet's witness script."""
    from chains.btc_multisig import parse_multisig

    if wallet.multisig_m is not None:
        return wallet.multisig_m, list(wallet.multisig_keys)
    script = wallet.ownership.get("witness_script") if wallet.ownership is not None else None
    if not isinstance(script, str):
        return None
    try:
        m, keys = parse_multisig(bytes.fromhex(script))
    except (ValueError, InvalidProof):
        return None  # `por snapshot` says what is wrong with it; here: no cosigner list
    return m, [k.hex() for k in keys]


def default_btc_scheme(kind: str) -> str | None:
    """The scheme that proves a single-key address of this kind when the config names none."""
    if kind in {"P2PKH", "P2SH", "P2WPKH"}:
        return "bip137"
    if kind in {"P2TR", "P2WSH"}:
        return "bip322-simple"
    return None


def ethereum_how(scheme: str | None, address: str, message: str) -> list[str]:
    """Instructions for an Ethereum account (EIP-191) or contract wallet (EIP-1271)."""
    quoted = shell_quote(message)
    if scheme == "eip1271":
        return [
            f"the contract wallet's owners sign the EIP-191 hash of the message the way the "
            f"wallet checks it (a Safe: its owners' signatures over the SafeMessage), see "
            f"{DOCS}#safe-and-other-eip-1271-wallets"
        ]
    return [
        f"cast wallet sign --interactive {quoted}",
        "or ethers wallet.signMessage(message), web3.py Account.sign_message("
        f"encode_defunct(text=message)), a hardware wallet: {DOCS}#ethereum-eip-191",
    ]
