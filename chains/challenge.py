"""The ownership challenge: the exact message an exchange signs for each chain.

Pure. A signature proves control of an address only if it signs *this* message, which
names the exchange, the attestation, the chain and network, and the pinned block (height
and hash). An old signature, another exchange's, or one for another block therefore fails.

Template (UTF-8, lines joined by a single "\\n", no trailing newline)::

    por ownership proof
    exchange: <exchange name>
    attestation: <attestation id>
    chain: <bitcoin|ethereum>
    network: <network: regtest, main, ... or the Ethereum chain id>
    block: <height> <block hash, lowercase hex without 0x>

Example::

    por ownership proof
    exchange: Example Exchange
    attestation: exch-2026-11
    chain: bitcoin
    network: regtest
    block: 432 0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206

The epoch challenge (`epoch_challenge`) is for repeated use: a scheduled reconciliation
reads balances at a new tip every hour, but cold keys sign a few times a year. The exchange
signs once per *epoch*; the message names the exchange, the epoch id, the chain and network
and a block the signer saw (so the signature was made at or after that block), and
optionally an expiry. A reconciliation at any later block accepts it within a maximum age
(verifier/ownership.py decides the age and staleness)::

    por ownership epoch
    exchange: <exchange name>
    epoch: <epoch id>
    chain: <bitcoin|ethereum>
    network: <network>
    block: <height> <block hash, lowercase hex without 0x>
    expires: <ISO 8601 UTC time>            (only when the epoch has an expiry)
"""

from __future__ import annotations

from chains.base import BlockRef
from verifier.errors import InputError

HEADER = "por ownership proof"
EPOCH_HEADER = "por ownership epoch"


def _one_line(name: str, value: str) -> None:
    if not value or "\n" in value or "\r" in value:
        raise InputError(f"{name} must be one non-empty line", value=value)


def challenge(exchange: str, attestation_id: str, block: BlockRef) -> str:
    """The message to sign for `block`'s chain in this attestation."""
    for name, value in (("exchange", exchange), ("attestation", attestation_id)):
        _one_line(name, value)
    return "\n".join(
        [
            HEADER,
            f"exchange: {exchange}",
            f"attestation: {attestation_id}",
            f"chain: {block.chain.value}",
            f"network: {block.network}",
            f"block: {block.height} {block.hash}",
        ]
    )


def epoch_challenge(exchange: str, epoch: str, block: BlockRef, expires: str | None = None) -> str:
    """The message to sign once for an ownership epoch on `block`'s chain.

    `block` is the epoch's block (the signer saw it), not the block a later reconciliation
    is pinned to; `expires` (ISO 8601 UTC) is signed too, so it cannot be extended.
    """
    for name, value in (("exchange", exchange), ("epoch", epoch)):
        _one_line(name, value)
    lines = [
        EPOCH_HEADER,
        f"exchange: {exchange}",
        f"epoch: {epoch}",
        f"chain: {block.chain.value}",
        f"network: {block.network}",
        f"block: {block.height} {block.hash}",
    ]
    if expires is not None:
        _one_line("expires", expires)
        lines.append(f"expires: {expires}")
    return "\n".join(lines)
