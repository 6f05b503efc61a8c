"""Decide an epoch ownership proof's message, age and staleness at a pinned block.

Where it sits: between the snapshot (verifier/holdings/snapshot.py), which pins a block per chain
and checks each wallet's signature, and the epoch challenge (chains/challenge.py). A proof that
names no `epoch` signs today's point-in-time challenge of the pinned block; nothing here
touches it. A proof that names an epoch signed `epoch_challenge(exchange, epoch, block,
expires)` once, and a reconciliation at any later block accepts it while it is young enough:

1. The epoch's block for this chain must be at or below the pinned height, and the node's
   block at that height must have the epoch's hash (read once per epoch per chain); else
   the proof is unproven: it names a block this chain does not have.
2. The signature is checked over the epoch message by the usual verifiers (the caller's);
   an EIP-1271 wallet is asked at the pinned block.
3. Age = pinned height - epoch height blocks, and pinned time - epoch block time seconds.
   A valid proof older than the maximum age in days or in blocks, or whose epoch expired
   before the pinned block's time, is "stale": counted as unproven everywhere.

The maximum age in days is `[ownership] max_age_days`, else the rule pack's
`ownership_max_age_days` parameter, else DEFAULT_MAX_AGE_DAYS (a quarter). The block limit
(`[ownership] max_age_blocks`, per chain) has no default.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from chains.base import BlockRef, ChainAdapter, Ownership, OwnershipCheck, ProofAge, ProofEpoch
from chains.challenge import epoch_challenge
from verifier.base.console import plural
from verifier.base.errors import InputError
from verifier.inputs.config_schema import MAX_AGE_DAYS
from verifier.inputs.config_values import EpochConfig, OwnershipConfig, PorConfig

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE_DAYS = 92
"""A quarter: exchanges sign with cold keys a few times a year, so a proof signed at the start
of a quarter stays valid through it (and a day more for the largest quarter)."""

PACK_PARAMETER = "ownership_max_age_days"
"""The rule-pack parameter (a count of days) that sets the maximum age when the config does
not."""

DAY = 86_400


@dataclass(frozen=True)
class MaxAge:
    """The limits a proof's age is checked against, and where the day limit comes from."""

    days: int
    source: str
    """"[ownership] max_age_days", "rule pack <id> parameter ownership_max_age_days" or
    "default"."""
    blocks: Mapping[str, int] = field(default_factory=dict)
    """Chain name -> most blocks from the epoch block to the pinned block."""

    def describe(self) -> str:
        """In words, for the report: "92 days (default); bitcoin 13248 blocks"."""
        parts = [f"{plural(self.days, 'day')} ({self.source})"]
        parts += [f"{chain} {plural(n, 'block')}" for chain, n in sorted(self.blocks.items())]
        return "; ".join(parts)

    def to_json(self) -> dict[str, object]:
        return {
            "days": self.days,
            "source": self.source,
            "blocks": dict(sorted(self.blocks.items())),
        }


def resolve_max_age(config: OwnershipConfig, pack_days: int | None, pack_id: str = "") -> MaxAge:
    """The maximum age: config first, then the rule pack's parameter, then the default."""
    blocks = dict(config.max_age_blocks)
    if config.max_age_days is not None:
        return MaxAge(config.max_age_days, "[ownership] max_age_days", blocks)
    if pack_days is not None:
        return MaxAge(pack_days, f"rule pack {pack_id} parameter {PACK_PARAMETER}".strip(), blocks)
    return MaxAge(DEFAULT_MAX_AGE_DAYS, "default", blocks)


def pack_max_age_days(pack_name: str | None) -> tuple[int | None, str]:
    """The `ownership_max_age_days` of the rule pack the config names (None: it has none)."""
    if pack_name is None:
        return None, ""
    from verifier.reserve.pack_file import load_pack

    pack = load_pack(pack_name)
    parameter = pack.get(PACK_PARAMETER)
    if parameter is None:
        return None, pack.id
    value = parameter.value
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_AGE_DAYS:
        # the same range as [ownership] max_age_days: a document carries no other
        raise InputError(
            f"must be a whole number of days from 1 to {MAX_AGE_DAYS}",
            key=f"rule pack {pack.id} parameter {PACK_PARAMETER}",
            value=str(value),
        )
    return value, pack.id


def max_age_for(config: PorConfig) -> MaxAge:
    """The maximum age `config` applies (reads its rule pack only when the config sets no
    `max_age_days`)."""
    if config.ownership.max_age_days is not None:
        return resolve_max_age(config.ownership, None)
    days, pack_id = pack_max_age_days(config.reconcile.pack)
    return resolve_max_age(config.ownership, days, pack_id)


def utc_seconds(text: str) -> int:
    """An ISO 8601 UTC time ("2027-03-31T00:00:00Z", checked by the config) as unix seconds."""
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def duration(seconds: int) -> str:
    """A short human duration: "2 h 20 min", "3 d 4 h", "45 s"."""
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    days, rest = divmod(s, DAY)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        text = f"{days} d {hours} h" if hours else f"{days} d"
    elif hours:
        text = f"{hours} h {minutes} min" if minutes else f"{hours} h"
    elif minutes:
        text = f"{minutes} min"
    else:
        text = f"{secs} s"
    return sign + text


def age_words(age: ProofAge) -> str:
    """ "14 blocks (2 h 20 min)" or "14 blocks" when the seconds are unknown."""
    blocks = f"{age.blocks} block{'' if age.blocks == 1 else 's'}"
    return blocks if age.seconds is None else f"{blocks} ({duration(age.seconds)})"


def epoch_ref(epoch: EpochConfig, pinned: BlockRef) -> ProofEpoch | None:
    """The epoch's block on `pinned`'s chain (None if the epoch names none there)."""
    block = epoch.blocks.get(pinned.chain.value)
    if block is None:
        return None
    return ProofEpoch(epoch.id, block.height, block.hash, epoch.expires)


def epoch_message(exchange: str, epoch: ProofEpoch, pinned: BlockRef) -> str:
    """The exact text the epoch's signatures sign on `pinned`'s chain and network."""
    block = BlockRef(pinned.chain, pinned.network, epoch.height, epoch.hash)
    return epoch_challenge(exchange, epoch.id, block, epoch.expires)


def on_chain_problem(
    epoch: ProofEpoch, pinned: BlockRef, node_block: BlockRef | None
) -> str | None:
    """Why the epoch's block is not usable at `pinned` (None: it is on this chain)."""
    if epoch.height > pinned.height:
        return (
            f"epoch {epoch.id} block {epoch.height} is above the pinned block {pinned.height}: "
            "a signature for a later block cannot back an earlier one"
        )
    if node_block is None or node_block.hash != epoch.hash:
        found = node_block.hash if node_block is not None else "no block"
        return (
            f"epoch {epoch.id} block {epoch.height} is not on this chain: the node has "
            f"{found} at that height, the epoch names {epoch.hash}"
        )
    return None


def proof_age(epoch_block: BlockRef, pinned: BlockRef) -> ProofAge:
    """From the epoch block to the pinned block, in blocks and (when both times are known)
    seconds, never negative: a Bitcoin block may be timed before an earlier one, but a
    signature made at or after the epoch block is not younger than it (a signed document
    refuses a negative age)."""
    seconds = (
        max(0, pinned.time - epoch_block.time)
        if pinned.time is not None and epoch_block.time is not None
        else None
    )
    return ProofAge(pinned.height - epoch_block.height, seconds)


def staleness(
    epoch: ProofEpoch, age: ProofAge, pinned_time: int | None, chain: str, limits: MaxAge
) -> str | None:
    """Which limit a valid proof is past, and by how much (None: it is fresh enough)."""
    problems = []
    if age.seconds is not None and age.seconds > limits.days * DAY:
        over = age.seconds - limits.days * DAY
        problems.append(
            f"signed {duration(age.seconds)} before the pinned block, past the maximum age of "
            f"{plural(limits.days, 'day')} ({limits.source}) by {duration(over)}"
        )
    most_blocks = limits.blocks.get(chain)
    if most_blocks is not None and age.blocks > most_blocks:
        problems.append(
            f"{plural(age.blocks, 'block')} before the pinned block, past the maximum of "
            f"{plural(most_blocks, 'block')} ([ownership] max_age_blocks.{chain}) by "
            f"{age.blocks - most_blocks}"
        )
    if epoch.expires is not None and pinned_time is not None:
        expiry = utc_seconds(epoch.expires)
        if pinned_time > expiry:
            problems.append(
                f"epoch {epoch.id} expired at {epoch.expires}, {duration(pinned_time - expiry)} "
                "before the pinned block's time"
            )
    return "; ".join(problems) or None


def judged(
    check: OwnershipCheck,
    epoch: ProofEpoch,
    age: ProofAge,
    pinned_time: int | None,
    chain: str,
    limits: MaxAge,
) -> OwnershipCheck:
    """The signature check's verdict with the epoch, the age and the staleness applied."""
    with_epoch = replace(check, epoch=epoch, age=age)
    signed = epoch_reason(check.reason, epoch.id)
    if check.status is not Ownership.PROVEN:
        return replace(with_epoch, reason=f"{signed} (epoch {epoch.id} message)")
    stale = staleness(epoch, age, pinned_time, chain, limits)
    if stale is not None:
        stale = stale.removeprefix(f"epoch {epoch.id} ")  # "expired at …": named once
        return replace(
            with_epoch,
            status=Ownership.STALE,
            reason=f"stale, counted as unproven: epoch {epoch.id} proof {stale}",
        )
    return replace(
        with_epoch,
        reason=(
            f"proven; signed for epoch {epoch.id} at block {epoch.height}, {age_words(age)} "
            f"before the pinned block ({signed})"
        ),
    )


def epoch_reason(reason: str, epoch_id: str) -> str:
    """A signature check's reason about an epoch proof: the chains' texts name "this
    attestation's challenge" or "the challenge"; an epoch proof signed the epoch's."""
    named = f"epoch {epoch_id}'s challenge"
    return reason.replace("this attestation's challenge", named).replace(
        "over the challenge", f"over {named}"
    )


Verify = Callable[[str], Awaitable[OwnershipCheck]]
"""Check the wallet's signature over the given message (at the pinned block)."""


class EpochJudge:
    """Epoch decisions for one chain at one pinned block (reads each epoch block once)."""

    def __init__(
        self,
        exchange: str,
        ownership: OwnershipConfig,
        limits: MaxAge,
        adapter: ChainAdapter,
        pinned: BlockRef,
    ) -> None:
        self.exchange = exchange
        self.ownership = ownership
        self.limits = limits
        self.adapter = adapter
        self.pinned = pinned
        self._blocks: dict[str, BlockRef | None] = {}
        self.messages: dict[str, str] = {}
        """Epoch id -> the exact message its proofs sign on this chain (those used)."""

    async def _node_block(self, epoch: ProofEpoch) -> BlockRef | None:
        if epoch.id not in self._blocks:
            self._blocks[epoch.id] = (
                await self.adapter.block_at(epoch.height)
                if epoch.height <= self.pinned.height
                else None
            )
        return self._blocks[epoch.id]

    async def check(
        self, address: str, epoch_id: str, scheme: str | None, verify: Verify
    ) -> OwnershipCheck:
        """The verdict on `address`'s proof for epoch `epoch_id` (the config checked it
        exists and names a block for this chain)."""
        config = self.ownership.epoch(epoch_id)
        epoch = epoch_ref(config, self.pinned) if config is not None else None
        if epoch is None:  # the config refuses this; a hand-built config may not
            return OwnershipCheck(
                address, Ownership.UNPROVEN, scheme, f"epoch {epoch_id!r} names no block here"
            )
        self.messages[epoch.id] = epoch_message(self.exchange, epoch, self.pinned)
        node_block = await self._node_block(epoch)
        problem = on_chain_problem(epoch, self.pinned, node_block)
        if problem is not None:
            log.info("%s: %s", address, problem)
            return OwnershipCheck(address, Ownership.UNPROVEN, scheme, problem, epoch=epoch)
        assert node_block is not None
        verdict = await verify(self.messages[epoch.id])
        age = proof_age(node_block, self.pinned)
        return judged(verdict, epoch, age, self.pinned.time, self.pinned.chain.value, self.limits)
