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
"""

from __future__ import annotations

from chains.base import BlockRef
from verifier.errors import InputError

HEADER = "por ownership proof"


def challenge(exchange: str, attestation_id: str, block: BlockRef) -> str:
    """The message to sign for `block`'s chain in this attestation."""
    for name, value in (("exchange", exchange), ("attestation", attestation_id)):
        if not value or "\n" in value or "\r" in value:
            raise InputError(f"{name} must be one non-empty line", value=value)
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
