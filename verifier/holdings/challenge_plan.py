"""The ownership challenge of each chain and, per configured address, what proves it.

Where it sits: between the config and the nodes, for `por challenge` (verifier/cli/challenge.py,
which prints the result). `build_challenges` turns `por.toml` and the node's blocks into the
`por-challenge-v1` document: the message of each chain (`chains.challenge`: today's
point-in-time message, or an epoch's), and for each address its scheme and how to sign
(verifier/holdings/signing_howto.py). Nothing is signed and no key is read here: the
exchange signs elsewhere, often offline, and pastes the signatures into `por.toml`.

The message is byte for byte the one `por snapshot` checks: it is built by the same
function from the same block, read from the node (verifier/holdings/plans.py adapters). For
an epoch that `por.toml` already defines, the block is the configured one and its hash is
checked against the node; for a new epoch the block is the node's tip (or the given height)
and the `[[ownership.epochs]]` block to paste into `por.toml` is returned too (`epoch_toml`),
with its expiry checked against the blocks and the maximum age (`expiry_warnings`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chains.base import BlockRef, Chain, WalletClass
from chains.challenge import challenge, epoch_challenge
from verifier.base.console import plural
from verifier.base.errors import InputError, UsageError
from verifier.holdings.signing_howto import (
    bitcoin_how,
    default_btc_scheme,
    ethereum_how,
    multisig_how,
    script_keys,
)
from verifier.inputs.config_schema import EPOCH_ID
from verifier.inputs.config_values import EpochConfig, PorConfig, WalletConfig

log = logging.getLogger(__name__)

FORMAT = "por-challenge-v1"


_NEW_EPOCH_ID = re.compile(EPOCH_ID)
"""Ids `por challenge` accepts for a new epoch: they go verbatim into TOML and messages
(the config's [[ownership.epochs]] id takes the same)."""


_UTC_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


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


@dataclass
class Request:
    """What the command line asked for."""

    epoch_id: str | None
    btc_height: int | None
    eth_block: int | None
    expires: str | None


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
            how = multisig_how(wallet.multisig_m, wallet.multisig_keys, message)
        else:
            how = bitcoin_how(scheme, address, "P2WSH", message)
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
        scheme = _proof_scheme(wallet) or default_btc_scheme(kind)
        cosigners = script_keys(wallet) if scheme == "p2wsh-multisig" else None
        if cosigners is not None:
            how = multisig_how(cosigners[0], cosigners[1], message)
        else:
            how = bitcoin_how(scheme, address, kind, message)
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
        how = ethereum_how(scheme, wallet.address, message)
        plans.append(AddressPlan(wallet.label, wallet.key, wallet.address, scheme, how))
    return plans


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
        f"turn stale at {_utc_text(stale)} ({plural(max_age.days, 'day')}, {max_age.source}, "
        "from the "
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
