"""The chain adapter contract and the value objects that cross the `chains/` boundary.

Where it sits: `chains/` is the only place that talks to nodes. Adapters decode replies into
these frozen values at once — raw JSON never leaves `chains/`, amounts are integer base
units — and every read is pinned to one block (`BlockRef`) per chain.

Invariants:
  1. A `BlockRef` names the chain, the network, the height and the block hash; a snapshot
     is valid only for that exact block.
  2. Amounts are `int` base units (satoshi, wei, token units), never float.
  3. An adapter raises the typed `ChainError`s of `verifier.base.errors`: `NodeUnavailable`,
     `NetworkMismatch`, `StaleNode`, `TipMoved`, `MalformedReply`, `RpcError`.
  4. A node reply is read up to a cap (`DEFAULT_MAX_REPLY_BYTES`, or the endpoint's
     `max_reply_bytes`) and decoded with bounded nesting and number sizes; node URLs appear
     in messages only masked (`verifier.base.redact.mask_url`): they may carry an API key.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, Self

from verifier.base.errors import MalformedReply

_HEX32 = re.compile(r"[0-9a-f]{64}")

DEFAULT_MAX_REPLY_BYTES = 64 * 1024 * 1024
"""The largest node reply an adapter reads (64 MiB), unless `max_reply_bytes` says otherwise.

A reply is refused while it is read (never buffered whole): a hostile or broken node could
otherwise make `por` hold gigabytes. 64 MiB is a JSON-RPC batch of 500 balances many times
over; a `scantxoutset` of more than ~200,000 unspent outputs needs a larger cap.
"""

MAX_BLOCK_TIME = 1 << 40
"""The latest block time accepted (unix seconds, ~36,800 years): a header time past it is a
malformed reply, not a date any later arithmetic should have to hold."""


class Chain(enum.StrEnum):
    """The chains `por` reads."""

    BITCOIN = "bitcoin"
    ETHEREUM = "ethereum"


class WalletClass(enum.StrEnum):
    """How an address is held (docs/spec/por-attestation-v1.md)."""

    COLD = "cold"
    HOT = "hot"
    CUSTODIAL = "custodial"
    OTHER = "other"


class Attribution(enum.StrEnum):
    """Whose coins: customers' (they back liabilities) or the exchange's own buffer."""

    CUSTOMER = "customer"
    OWN = "own"


@dataclass(frozen=True, slots=True)
class BlockRef:
    """One block of one chain: what a snapshot is pinned to."""

    chain: Chain
    network: str
    """Bitcoin: "main", "test", "signet", "regtest". Ethereum: the chain id as a decimal string."""
    height: int
    """Block height (Bitcoin) or number (Ethereum)."""
    hash: str
    """Block hash, lowercase hex without 0x (Bitcoin: display byte order, as RPC shows it)."""
    time: int | None = field(default=None, compare=False)
    """The block's timestamp (header time), unix seconds; None where it was not read.

    Not part of equality or hash: a block is named by chain, network, height and hash; the
    time is what the header says, used to tell a proof's age in seconds."""

    def __post_init__(self) -> None:
        if not isinstance(self.height, int) or self.height < 0:
            raise MalformedReply(f"block height {self.height!r} is not a non-negative integer")
        if not isinstance(self.hash, str) or not _HEX32.fullmatch(self.hash):
            raise MalformedReply(f"block hash {self.hash!r} is not 64 lowercase hex digits")
        if self.time is not None and (
            isinstance(self.time, bool)
            or not isinstance(self.time, int)
            or not 0 <= self.time <= MAX_BLOCK_TIME
        ):
            raise MalformedReply(f"block time {self.time!r} is not a unix time in seconds")

    def to_json(self) -> dict[str, object]:
        return {
            "chain": self.chain.value,
            "network": self.network,
            "height": self.height,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class Token:
    """An asset on a chain: the native coin (contract None) or an ERC-20 token."""

    code: str
    """Asset code as in the assets list (BTC, ETH, USDT, ...)."""
    decimals: int
    contract: str | None = None
    """ERC-20 contract address (0x + 40 hex, checksummed or lowercase); None = native."""


@dataclass(frozen=True, slots=True)
class Balance:
    """One address's balance of one asset at the pinned block."""

    address: str
    asset: str
    units: int
    """Integer base units."""

    def __post_init__(self) -> None:
        if not isinstance(self.units, int) or isinstance(self.units, bool) or self.units < 0:
            raise MalformedReply(f"balance {self.units!r} of {self.address} is not a count")


@dataclass(frozen=True, slots=True)
class ChainSnapshot:
    """Balances of a set of addresses, all read at one pinned block."""

    block: BlockRef
    balances: tuple[Balance, ...]
    requests: int = 0
    """HTTP requests made for this snapshot (batches count once)."""
    method: str = ""
    """How balances were obtained, e.g. "scantxoutset", "address history", "eth_getProof"."""
    notes: tuple[str, ...] = field(default=())

    def total(self, asset: str) -> int:
        return sum(b.units for b in self.balances if b.asset == asset)


class ChainAdapter(Protocol):
    """What every chain adapter provides. Each is an async context manager.

    Every call has a timeout; transient failures are retried with backoff; everything
    else raises a typed `ChainError` at once.
    """

    chain: Chain

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def tip(self) -> BlockRef:
        """The node's current best block."""
        ...

    async def block_at(self, height: int) -> BlockRef:
        """The block at `height` on the node's best chain; `StaleNode` if it has not got there."""
        ...

    async def holdings(self, addresses: Sequence[str], at: BlockRef) -> ChainSnapshot:
        """Every address's balance of every configured asset at exactly block `at`.

        Raises `TipMoved` if `at` is no longer on the node's best chain (or, for adapters
        that can only read the tip, if the tip is not `at`) before or after the reads.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class Ownership(enum.StrEnum):
    """Where an address ends up after its ownership proof is checked."""

    PROVEN = "proven"
    """A valid signature over this attestation's challenge (or enough of them, multisig)."""
    UNPROVEN = "unproven"
    """No signature, or one that fails; `reason` says which check failed."""
    CUSTODIAL = "custodial"
    """Declared as held by a custodian; excluded from proven holdings unless configured."""
    STALE = "stale"
    """A valid epoch signature older than the maximum age (or past its expiry): counted as
    unproven everywhere; `reason` says which limit and by how much."""


@dataclass(frozen=True, slots=True)
class ProofEpoch:
    """The ownership epoch a proof signed (chains/challenge.py `epoch_challenge`)."""

    id: str
    height: int
    """The epoch's block on this chain: the signature was made at or after it."""
    hash: str
    expires: str | None = None
    """ISO 8601 UTC, signed with the epoch; None: no expiry."""

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "height": self.height, "hash": self.hash, "expires": self.expires}


@dataclass(frozen=True, slots=True)
class ProofAge:
    """How old an epoch proof is at the pinned block: from the epoch block to it."""

    blocks: int
    seconds: int | None
    """Pinned block time minus epoch block time; None when a block time is unknown."""

    def to_json(self) -> dict[str, object]:
        return {"blocks": self.blocks, "seconds": self.seconds}


@dataclass(frozen=True, slots=True)
class OwnershipCheck:
    """The verdict on one address's ownership proof."""

    address: str
    status: Ownership
    scheme: str | None
    """e.g. "bip137", "bip322-simple", "p2wsh-multisig", "eip191", "eip1271"; None if unsigned."""
    reason: str
    """Why, in words: what was checked, or which check failed."""
    epoch: ProofEpoch | None = None
    """The epoch the proof names; None for today's point-in-time challenge."""
    age: ProofAge | None = None
    """The epoch proof's age at the pinned block; None when not an epoch proof (or its
    epoch block is not on the chain)."""

    def to_json(self) -> dict[str, object]:
        return {
            "address": self.address,
            "status": self.status.value,
            "scheme": self.scheme,
            "reason": self.reason,
            "epoch": self.epoch.to_json() if self.epoch is not None else None,
            "age": self.age.to_json() if self.age is not None else None,
        }
