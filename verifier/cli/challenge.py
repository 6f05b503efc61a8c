"""`por challenge`: print exactly what each configured address must sign, and how.

One job: turn `por.toml` and the node's blocks into the ownership challenge of each chain
(`chains.challenge`: today's point-in-time message, or an epoch's) and, per address, the
scheme that proves it and a command line that signs it (docs/signing.md says how each
tool signs). Nothing is signed and no key is read here: the exchange signs elsewhere, often
offline, and pastes the signatures into `por.toml`.

The message printed is byte for byte the one `por snapshot` checks: it is built by the same
function from the same block, read from the node (`verifier.holdings.plans` adapters). For an epoch
that `por.toml` already defines, the block is the configured one and its hash is checked
against the node; for a new epoch the block is the node's tip (or the given height) and the
`[[ownership.epochs]]` block to paste into `por.toml` is printed too.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from chains.base import BlockRef, Chain, WalletClass
from chains.challenge import challenge, epoch_challenge
from verifier.base.console import out, print_json
from verifier.base.errors import EXIT_OK, InputError, InvalidProof, UsageError
from verifier.inputs.config import EpochConfig, PorConfig, WalletConfig
from verifier.inputs.config_schema import EPOCH_ID

log = logging.getLogger(__name__)

FORMAT = "por-challenge-v1"
BEGIN = "-----BEGIN POR CHALLENGE-----"
END = "-----END POR CHALLENGE-----"
_NEW_EPOCH_ID = re.compile(EPOCH_ID)
"""Ids `por challenge` accepts for a new epoch: they go verbatim into TOML and messages
(the config's [[ownership.epochs]] id takes the same)."""
_UTC_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
DOCS = "docs/signing.md"


# ----------------------------------------------------------------------------- values


@dataclass
class AddressPlan:
    """One address to sign for: what proves it and how to produce the signature."""

    label: str
    wallet: str
    address: str
    scheme: str | None
    how: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "wallet": self.wallet,
            "address": self.address,
            "scheme": self.scheme,
            "how": self.how,
        }


@dataclass
class ChainChallenge:
    """The message to sign on one chain, and the addresses that sign it."""

    block: BlockRef
    message: str
    addresses: list[AddressPlan] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "chain": self.block.chain.value,
            "network": self.block.network,
            "height": self.block.height,
            "hash": self.block.hash,
            "message": self.message,
            "message_hex": self.message.encode("utf-8").hex(),
            "addresses": [a.to_json() for a in self.addresses],
            "notes": self.notes,
        }


# ----------------------------------------------------------------------------- shell quoting


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


def _toml_string(text: str) -> str:
    # a TOML basic string: escape what TOML requires (quote, backslash, control characters)
    escaped = []
    for c in text:
        if c in '"\\':
            escaped.append("\\" + c)
        elif c < " " or c == "\x7f":
            escaped.append(f"\\u{ord(c):04x}")
        else:
            escaped.append(c)
    return '"' + "".join(escaped) + '"'


def epoch_toml(epoch_id: str, blocks: Sequence[BlockRef], expires: str | None) -> str:
    """The `[[ownership.epochs]]` table that defines this epoch in `por.toml`."""
    lines = ["[[ownership.epochs]]", f"id = {_toml_string(epoch_id)}"]
    if expires is not None:
        lines.append(f"expires = {_toml_string(expires)}")
    for block in blocks:
        lines.append(f'{block.chain.value} = {{ height = {block.height}, hash = "{block.hash}" }}')
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- how to sign


def _bitcoin_how(scheme: str | None, address: str, kind: str, message: str) -> list[str]:
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


def _multisig_how(m: int, keys: Sequence[str], message: str) -> list[str]:
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


def _script_keys(wallet: WalletConfig) -> tuple[int, list[str]] | None:
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


def _default_btc_scheme(kind: str) -> str | None:
    if kind in {"P2PKH", "P2SH", "P2WPKH"}:
        return "bip137"
    if kind in {"P2TR", "P2WSH"}:
        return "bip322-simple"
    return None


def _ethereum_how(scheme: str | None, address: str, message: str) -> list[str]:
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


# ----------------------------------------------------------------------------- planning


def _proof_scheme(wallet: WalletConfig) -> str | None:
    scheme = wallet.ownership.get("scheme") if wallet.ownership is not None else None
    return scheme if isinstance(scheme, str) else None


def _custodial(wallet: WalletConfig, address: str) -> AddressPlan:
    return AddressPlan(
        wallet.label,
        wallet.key,
        address,
        None,
        ["custodial: held by a custodian; por reports it as custodial and checks no signature"],
    )


def _bitcoin_addresses(wallet: WalletConfig, network: str, message: str) -> list[AddressPlan]:
    from chains import btc_wallets
    from chains.btc_proof_checks import decode_address

    if wallet.kind == "multisig":
        assert wallet.multisig_m is not None
        address = btc_wallets.multisig_address(
            wallet.multisig_m,
            wallet.multisig_keys,
            script=wallet.script or "p2wsh",
            network=network,
            sort=wallet.sorted_keys,
            name=wallet.key,
        )
        if wallet.wallet_class is WalletClass.CUSTODIAL:
            return [_custodial(wallet, address)]
        scheme: str | None = _proof_scheme(wallet) or "p2wsh-multisig"
        if scheme == "p2wsh-multisig":
            how = _multisig_how(wallet.multisig_m, wallet.multisig_keys, message)
        else:
            how = _bitcoin_how(scheme, address, "P2WSH", message)
        return [AddressPlan(wallet.label, wallet.key, address, scheme, how)]
    if wallet.kind == "xpub":
        assert wallet.xpub is not None
        addresses = btc_wallets.xpub_addresses(
            wallet.xpub,
            script=wallet.script or "p2wpkh",
            network=network,
            count=wallet.gap_limit,
            name=wallet.key,
        )
    else:
        assert wallet.address is not None
        addresses = [wallet.address]
    plans = []
    for address in addresses:
        if wallet.wallet_class is WalletClass.CUSTODIAL:
            plans.append(_custodial(wallet, address))
            continue
        kind = str(decode_address(address, network).type)
        scheme = _proof_scheme(wallet) or _default_btc_scheme(kind)
        script_keys = _script_keys(wallet) if scheme == "p2wsh-multisig" else None
        if script_keys is not None:
            how = _multisig_how(script_keys[0], script_keys[1], message)
        else:
            how = _bitcoin_how(scheme, address, kind, message)
        if wallet.kind == "xpub":
            how.append(
                f'an xpub wallet lists one signature per address: ownership = {{ scheme = "'
                f'{scheme}", addresses = {{ "{address}" = "<signature>", ... }} }}'
            )
        plans.append(AddressPlan(wallet.label, wallet.key, address, scheme, how))
    return plans


async def _ethereum_addresses(
    wallets: Sequence[WalletConfig], adapter: Any, at: BlockRef, message: str
) -> list[AddressPlan]:
    plans = []
    for wallet in wallets:
        assert wallet.address is not None
        if wallet.wallet_class is WalletClass.CUSTODIAL:
            plans.append(_custodial(wallet, wallet.address))
            continue
        scheme = _proof_scheme(wallet)
        if scheme is None:
            # a contract wallet proves with EIP-1271, an ordinary account with EIP-191
            code = await adapter.code_at(wallet.address, at)
            scheme = "eip1271" if code else "eip191"
        how = _ethereum_how(scheme, wallet.address, message)
        plans.append(AddressPlan(wallet.label, wallet.key, wallet.address, scheme, how))
    return plans


PLACEHOLDER = "REPLACE:"
"""How `por init`'s templates mark a value to fill in (verifier/inputs/templates/por.toml)."""


def _has_placeholder(value: Any) -> bool:
    if isinstance(value, str):
        return value.startswith(PLACEHOLDER)
    if isinstance(value, dict):
        return any(_has_placeholder(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_placeholder(v) for v in value)
    return False


def load_for_epoch(path: Path) -> tuple[PorConfig, list[str]]:
    """por.toml as `por challenge --epoch` reads it: the exchange, the nodes and the wallets.

    The epoch challenge is what creates the epoch, so the config may not be finished yet:
    wallets' proofs may name the epoch being created (or a placeholder), and
    `[[ownership.epochs]]` entries may still hold `por init`'s placeholders. Here those are
    set aside (each named in a note) instead of refused; everything else is checked as
    `load_config` checks it (the schema, duplicates, URLs), and an epoch entry that is filled
    in but wrong is still an error. `load_config` itself is unchanged: snapshot, reconcile
    and `config check` refuse such a file.
    """
    from verifier.base import safetoml
    from verifier.inputs.config import semantic_problems, to_config, validate

    raw = safetoml.load_path(path, what="config file")
    relaxed = copy.deepcopy(raw)
    notes: list[str] = []
    stand_ins: set[str] = set()
    ownership = relaxed.get("ownership")
    found = ownership.get("epochs") if isinstance(ownership, dict) else None
    epochs: list[Any] = found if isinstance(found, list) else []
    for i, entry in enumerate(epochs):
        if _has_placeholder(entry):
            # a valid stand-in keeps every later entry at its index (messages name it);
            # it is dropped again below, so no request can find it
            key = f"ownership.epochs[{i}]"
            stand_in = f"placeholder.ownership.epochs.{i}"  # an epoch id (EPOCH_ID)
            epochs[i] = {"id": stand_in, "bitcoin": {"height": 0, "hash": "0" * 64}}
            stand_ins.add(key)
            notes.append(
                f"{path}: {key} still holds placeholders and is set aside: replace it with "
                "the [[ownership.epochs]] table printed here"
            )
    model, problems = validate(path, relaxed)
    if problems:
        raise problems[0][0]
    assert model is not None
    if model.exchange.name.startswith(PLACEHOLDER):
        raise InputError(
            "placeholder not filled in: the challenge names your exchange, fill it in first",
            file=str(path),
            key="exchange.name",
            value=model.exchange.name,
        )
    config = to_config(path, model, raw)
    kept = tuple(e for e in config.ownership.epochs if e.key not in stand_ins)
    config = replace(config, ownership=replace(config.ownership, epochs=kept))
    # no epoch references: proofs may name the epoch this command is about to print
    for problem in semantic_problems(
        path,
        bitcoin=config.bitcoin,
        ethereum=config.ethereum,
        alerts=config.alerts,
        ownership=config.ownership,
        references=False,
    ):
        raise problem
    return config, notes


@dataclass
class Request:
    """What the command line asked for."""

    epoch_id: str | None
    btc_height: int | None
    eth_block: int | None
    expires: str | None


def _check_request(config: PorConfig, request: Request) -> EpochConfig | None:
    """The configured epoch, if the request names one; usage errors for bad combinations."""
    if request.btc_height is not None and config.bitcoin is None:
        raise InputError("--btc-height given but no [bitcoin] section", file=str(config.path))
    if request.eth_block is not None and config.ethereum is None:
        raise InputError("--eth-block given but no [ethereum] section", file=str(config.path))
    if request.expires is not None:
        if request.epoch_id is None:
            raise UsageError("--expires applies to an epoch challenge: give --epoch ID too")
        valid = _UTC_TIME.fullmatch(request.expires) is not None
        if valid:
            try:
                datetime.fromisoformat(request.expires.replace("Z", "+00:00"))
            except ValueError:
                valid = False
        if not valid:
            raise UsageError(
                f"--expires must be a UTC time such as 2027-03-31T00:00:00Z, not "
                f"{request.expires!r}"
            )
        now = int(time.time())
        if _utc_seconds(request.expires) <= now:
            raise UsageError(
                f"--expires {request.expires} is not in the future (now: {_utc_text(now)}): "
                "the epoch's signatures would never count; give a later time"
            )
    if request.epoch_id is None:
        return None
    epoch = config.ownership.epoch(request.epoch_id)
    if epoch is None:
        if not _NEW_EPOCH_ID.fullmatch(request.epoch_id):
            raise UsageError(
                f"--epoch {request.epoch_id!r}: a new epoch id is 1 to 64 characters of "
                "letters, digits and . _ : + - (starting with a letter or digit)"
            )
        return None
    fixed = [
        flag
        for flag, value in (
            ("--btc-height", request.btc_height),
            ("--eth-block", request.eth_block),
            ("--expires", request.expires),
        )
        if value is not None
    ]
    if fixed:
        raise UsageError(
            f"epoch {epoch.id!r} is defined in {config.path} ({epoch.key}): its blocks and "
            f"expiry are fixed there, so {', '.join(fixed)} cannot change them"
        )
    return epoch


def _utc_seconds(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _utc_text(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expiry_warnings(config: PorConfig, expires: str, blocks: Sequence[BlockRef]) -> list[str]:
    """Check a new epoch's expiry against its blocks: refused (exit 2) when it is not after
    a block's time; a warning when the maximum age makes the proofs stale before it.

    The maximum age in days runs from the epoch block's time (verifier/holdings/ownership.py), so an
    expiry beyond it is never reached: not wrong, but likely not what the signer meant.
    """
    from verifier.base.errors import PorError
    from verifier.holdings.ownership import DAY, max_age_for, resolve_max_age

    at = _utc_seconds(expires)
    timed = [b for b in blocks if b.time is not None]
    for block in timed:
        assert block.time is not None
        if at <= block.time:
            raise UsageError(
                f"--expires {expires} is not after the epoch's {block.chain.value} block "
                f"{block.height} (its time: {_utc_text(block.time)}): the signatures would "
                "never count; give a later time"
            )
    if not timed:
        return []
    try:
        max_age = max_age_for(config)
    except PorError:  # the pack is `config check`'s business, not the challenge's
        max_age = resolve_max_age(config.ownership, None)
    first = min(timed, key=lambda b: b.time or 0)
    assert first.time is not None
    stale = first.time + max_age.days * DAY
    if at <= stale:
        return []
    return [
        f"--expires {expires} is later than the maximum age allows: proofs of this epoch "
        f"turn stale at {_utc_text(stale)} ({max_age.days} days, {max_age.source}, from the "
        f"{first.chain.value} block's time {_utc_text(first.time)}), before they expire; "
        "the maximum age makes them stale first"
    ]


async def _block(
    adapter: Any, config: PorConfig, chain: Chain, epoch: EpochConfig | None, height: int | None
) -> BlockRef | None:
    """The block this chain's message names; None if a configured epoch has none here."""
    if epoch is None:
        pinned: BlockRef = await (adapter.tip() if height is None else adapter.block_at(height))
        return pinned
    configured = epoch.blocks.get(chain.value)
    if configured is None:
        return None
    block: BlockRef = await adapter.block_at(configured.height)
    if block.hash != configured.hash:
        raise InputError(
            f"the node's block at height {configured.height} is {block.hash}: the epoch's "
            "block is not on this node's chain (a typo, another network, or a reorganisation)",
            file=str(config.path),
            key=f"{epoch.key}.{chain.value}.hash",
            value=configured.hash,
        )
    return block


async def build_challenges(config: PorConfig, request: Request) -> dict[str, Any]:
    """The `por-challenge-v1` document for `config` and `request` (reads the nodes)."""
    from verifier.holdings.plans import bitcoin_adapter, ethereum_adapter

    epoch = _check_request(config, request)
    epoch_id = epoch.id if epoch is not None else request.epoch_id
    expires = epoch.expires if epoch is not None else request.expires
    chains: list[ChainChallenge] = []
    skipped: list[str] = []

    def message_for(block: BlockRef) -> str:
        if epoch_id is None:
            return challenge(config.exchange, config.attestation_id, block)
        return epoch_challenge(config.exchange, epoch_id, block, expires)

    if config.bitcoin is not None:
        btc = config.bitcoin
        async with bitcoin_adapter(btc) as adapter:
            block = await _block(adapter, config, Chain.BITCOIN, epoch, request.btc_height)
        if block is None:
            skipped.append("bitcoin")
        else:
            text = message_for(block)
            entry = ChainChallenge(block, text)
            for wallet in btc.wallets:
                entry.addresses += _bitcoin_addresses(wallet, btc.network, text)
            if any(w.kind == "xpub" for w in btc.wallets):
                entry.notes.append(
                    "xpub wallets: the first gap_limit receive and change addresses are "
                    "listed; por challenge does not ask the node which are used, and a "
                    "snapshot may find used addresses beyond them"
                )
            chains.append(entry)
    if config.ethereum is not None:
        eth = config.ethereum
        async with ethereum_adapter(eth) as eth_adapter:
            block = await _block(eth_adapter, config, Chain.ETHEREUM, epoch, request.eth_block)
            if block is None:
                skipped.append("ethereum")
            else:
                text = message_for(block)
                entry = ChainChallenge(block, text)
                entry.addresses = await _ethereum_addresses(eth.wallets, eth_adapter, block, text)
                chains.append(entry)
    for name in skipped:
        log.info("epoch %s names no %s block; that chain is left out", epoch_id, name)
    toml = None
    warnings: list[str] = []
    if epoch_id is not None and epoch is None:
        if expires is not None:
            warnings = expiry_warnings(config, expires, [c.block for c in chains])
        toml = epoch_toml(epoch_id, [c.block for c in chains], expires)
    for warning in warnings:
        log.warning("%s", warning)
    kind = "point-in-time" if epoch_id is None else "epoch"
    return {
        "format": FORMAT,
        "exchange": config.exchange,
        "kind": kind,
        "attestation_id": config.attestation_id if epoch_id is None else None,
        "epoch": None
        if epoch_id is None
        else {
            "id": epoch_id,
            "expires": expires,
            "defined": epoch is not None,
            "chains_without_block": skipped,
        },
        "chains": [c.to_json() for c in chains],
        "toml": toml,
        "warnings": warnings,
        "notes": [],
    }


# ----------------------------------------------------------------------------- rendering


def printable(text: str) -> str:
    """`text` with every character a terminal would not show as itself (besides the line
    feeds that end its lines) written as a Python escape, ``\\u2028``: the config and
    chains.challenge refuse such characters in a message, so this is defence in depth."""
    return "\n".join(
        "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in line)
        for line in text.split("\n")
    )


def _say(text: str) -> None:
    # verbatim: no markup, no highlighting, no wrapping (a wrapped message is another message)
    out.print(printable(text), markup=False, highlight=False, soft_wrap=True)


def render(doc: dict[str, Any]) -> None:
    """The terminal form: each message verbatim between markers, then who signs and how."""
    if doc["kind"] == "epoch":
        epoch = doc["epoch"]
        state = "defined in por.toml" if epoch["defined"] else "NEW: add the TOML block below"
        expiry = f", expires {epoch['expires']}" if epoch["expires"] else ", no expiry"
        _say(f"Ownership epoch {epoch['id']} of {doc['exchange']} ({state}{expiry})")
        for name in epoch["chains_without_block"]:
            _say(f"(the epoch names no {name} block: {name} wallets cannot use it)")
    else:
        _say(
            f"Point-in-time challenge of {doc['exchange']} for attestation "
            f"{doc['attestation_id']}: valid only for a snapshot pinned at these blocks"
        )
    for chain in doc["chains"]:
        message = chain["message"]
        lines = message.count("\n") + 1
        _say("")
        _say(f"{chain['chain']} ({chain['network']}), block {chain['height']} {chain['hash']}")
        _say(
            f"Sign exactly the {lines} lines between the markers ({len(message.encode())} "
            "bytes, UTF-8, lines end with LF; the last line has no newline after it: a "
            "trailing newline or CRLF line ends make another message):"
        )
        _say(BEGIN)
        _say(message)
        _say(END)
        for row in chain["addresses"]:
            scheme = row["scheme"] or "-"
            _say(f"  {row['label'] or row['wallet']}  {row['address']}  [{scheme}]")
            for step in row["how"]:
                _say(f"      {step}")
        for note in chain["notes"]:
            _say(f"  note: {note}")
    for note in doc.get("notes", ()):
        _say("")
        _say(f"note: {note}")
    for warning in doc.get("warnings", ()):
        _say("")
        _say(f"warning: {warning}")
    if doc["toml"]:
        _say("")
        epoch_id = doc["epoch"]["id"]
        _say(f'Add this to por.toml; each proof then names it: epoch = "{epoch_id}"')
        _say(doc["toml"].rstrip("\n"))
    if doc["kind"] == "point-in-time":
        pins = " ".join(
            f"--{'btc-height' if c['chain'] == 'bitcoin' else 'eth-block'} {c['height']}"
            for c in doc["chains"]
        )
        _say("")
        _say(f"Then pin the snapshot at these blocks: por snapshot --config ... {pins}")


# ----------------------------------------------------------------------------- command


@click.command("challenge")
@click.option(
    "--epoch",
    "epoch_id",
    default=None,
    help="Print the epoch challenge of this epoch (one in [[ownership.epochs]], or a new one "
    "at the tip or the given heights) instead of today's point-in-time challenge.",
)
@click.option(
    "--btc-height",
    type=click.IntRange(0),
    default=None,
    help="The Bitcoin block the message names (default: the node's tip).",
)
@click.option(
    "--eth-block",
    type=click.IntRange(0),
    default=None,
    help="The Ethereum block the message names (default: the node's tip).",
)
@click.option(
    "--expires",
    default=None,
    help="A new epoch's expiry, signed with it (UTC, e.g. 2027-03-31T00:00:00Z).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def challenge_cmd(
    config_file: Path,
    epoch_id: str | None,
    btc_height: int | None,
    eth_block: int | None,
    expires: str | None,
    as_json: bool,
) -> int:
    """Print exactly what each address must sign (per chain), and how to sign it."""
    from verifier.inputs.config import load_config

    notes: list[str] = []
    if epoch_id is None:
        config = load_config(config_file)
    else:
        # an epoch challenge names no attestation, and it comes before the epoch is in
        # por.toml: it needs only the exchange, the nodes and the addresses
        config, notes = load_for_epoch(config_file)
    request = Request(epoch_id, btc_height, eth_block, expires)
    doc = asyncio.run(build_challenges(config, request))
    doc["notes"] = notes + doc["notes"]
    if as_json:
        print_json(doc)
    else:
        render(doc)
    return EXIT_OK


def _shared_config_option(command: click.Command) -> None:
    """Give `command` the one --config of every command (verifier.cli.main.CONFIG_OPTION: the
    flag, then POR_CONFIG, then ./por.toml), first in its --help.

    Added after the command exists, not as a decorator: importing verifier.cli.main registers
    this module's `challenge_cmd`, so when this module is imported first the name must
    already be bound when verifier.cli.main loads."""
    from verifier.cli.options import CONFIG_OPTION

    CONFIG_OPTION(command)  # click appends the option to a Command's params
    command.params.insert(0, command.params.pop())


_shared_config_option(challenge_cmd)


__all__ = [
    "FORMAT",
    "AddressPlan",
    "ChainChallenge",
    "Request",
    "build_challenges",
    "challenge_cmd",
    "epoch_toml",
    "shell_quote",
]
