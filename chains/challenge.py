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
(verifier/holdings/ownership.py decides the age and staleness)::

    por ownership epoch
    exchange: <exchange name>
    epoch: <epoch id>
    chain: <bitcoin|ethereum>
    network: <network>
    block: <height> <block hash, lowercase hex without 0x>
    expires: <ISO 8601 UTC time>            (only when the epoch has an expiry)
"""

from __future__ import annotations

import unicodedata

from chains.base import BlockRef
from verifier.base.errors import InputError

HEADER = "por ownership proof"
EPOCH_HEADER = "por ownership epoch"

REFUSED_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "an invisible formatting character",
    "Cs": "a lone surrogate",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
    "Zs": "a space other than U+0020",
}
"""Unicode categories no line of a signed message may hold: str.splitlines() (and many
viewers) break lines at U+0085, U+2028 and U+2029 as at LF, so one field could forge the
next line; invisible and bidirectional characters (U+200B, U+202E) make the text a person
reads differ from the bytes signed."""


def line_problem(value: str) -> str | None:
    """Why `value` cannot be one line of a signed message (None: it can): empty, or the
    first character of a refused category, named by code point and position."""
    if not value:
        return "empty"
    for position, char in enumerate(value, 1):
        category = unicodedata.category(char)
        if category in REFUSED_CATEGORIES and char != " ":
            return (
                f"character {position} is U+{ord(char):04X}, {REFUSED_CATEGORIES[category]}: "
                "a line of a signed message holds visible characters and plain spaces only"
            )
    return None


def _one_line(name: str, value: str) -> None:
    # the last line of defence: the config and the attestation parser refuse these first
    problem = line_problem(value)
    if problem is not None:
        raise InputError(f"{name} must be one line: {problem}", value=value)


def challenge(exchange: str, attestation_id: str, block: BlockRef) -> str:
    """The message to sign for `block`'s chain in this attestation."""
    for name, value in (
        ("exchange", exchange),
        ("attestation", attestation_id),
        ("network", block.network),
    ):
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
    for name, value in (("exchange", exchange), ("epoch", epoch), ("network", block.network)):
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
