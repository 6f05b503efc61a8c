"""`por snapshot`: every configured wallet's balance at one pinned block per chain, and
whether the exchange proved it controls each address.

Where it sits: after the config (verifier/inputs/config.py), before reconciliation. The chains are
read concurrently (one `asyncio.TaskGroup`); each adapter pins a block (the tip, or the
height asked for), reads every address at exactly that block and re-checks the block's hash
afterwards (the adapters raise `TipMoved` on a reorg). Ownership proofs are verified against
the challenge for that block (chains/challenge.py): signatures over anything else fail. A
proof that names an ownership epoch is checked against that epoch's message instead, and
verifier/holdings/ownership.py decides whether its epoch block is on this chain and how old it is
(too old: "stale", counted as unproven).

An address is read and counted once: two wallet entries that stand for the same address
(two spellings of one bech32 or Ethereum address, an xpub that derives a listed address)
are refused with both named (exit 3) before any balance is read, as `por attest` refuses
them in a document; the config already refuses what it can see without a node.

Nothing here holds raw JSON; amounts are integer base units.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chains.base import (
    BlockRef,
    Chain,
    ChainAdapter,
    ChainSnapshot,
    Ownership,
    OwnershipCheck,
    WalletClass,
)
from chains.challenge import challenge
from verifier.base.console import plural
from verifier.base.errors import InputError, PorError, TipMoved
from verifier.holdings.ownership import EpochJudge, MaxAge, max_age_for
from verifier.inputs.config import own_units
from verifier.inputs.config_values import (
    PorConfig,
    VendorConfig,
    WalletConfig,
    address_key,
    wallet_name,
)

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class AddressReading:
    """One address of one wallet at the pinned block."""

    wallet: WalletConfig
    address: str
    balances: Mapping[str, int]
    ownership: OwnershipCheck

    def to_json(self, decimals: Mapping[str, int] | None = None) -> dict[str, Any]:
        """The address entry; with the chain's `decimals`, the wallet's declared own coins
        in base units too (the same wallet-level amount on each address of the wallet:
        reconciliation takes it once per wallet)."""
        wallet = self.wallet
        own = own_units(wallet, decimals) if decimals is not None else {}
        return {
            "label": wallet.label,
            "wallet": wallet.key,
            "class": wallet.wallet_class.value,
            "attribution": wallet.attribution.value,
            "address": self.address,
            "balances": {code: str(units) for code, units in self.balances.items()},
            "ownership": self.ownership.to_json(),
            "vendor": wallet.vendor,
            "custodian": wallet.custodian,
            "signing": wallet.signing,
            "segregation": wallet.segregation_of,
            "own": {code: str(units) for code, units in own.items()},
        }


@dataclass(frozen=True)
class ChainReading:
    """All wallets of one chain at its pinned block."""

    block: BlockRef
    assets: tuple[tuple[str, int], ...]
    """(code, decimals) of every asset read on this chain."""
    addresses: tuple[AddressReading, ...]
    method: str
    requests: int
    challenge: str
    epochs: Mapping[str, str] = field(default_factory=dict)
    """Epoch id -> the exact message its proofs sign on this chain (the epochs used here)."""

    def totals(self, count_custodial: bool = False) -> dict[str, dict[str, int]]:
        """Per asset: proven, unproven and custodial base units (stale counts as unproven)."""
        out = {code: {"proven": 0, "unproven": 0, "custodial": 0} for code, _ in self.assets}
        for reading in self.addresses:
            status = reading.ownership.status
            bucket = "unproven" if status is Ownership.STALE else status.value
            if status is Ownership.CUSTODIAL and count_custodial:
                bucket = "proven"
            for code, units in reading.balances.items():
                out[code][bucket] += units
        return out


@dataclass(frozen=True)
class Snapshot:
    """The result of `por snapshot`."""

    exchange: str
    attestation_id: str
    taken_at: str
    chains: tuple[ChainReading, ...]
    count_custodial: bool = False
    warnings: tuple[str, ...] = field(default=())
    max_age: MaxAge | None = None
    """The maximum proof age applied, when any proof named an epoch (None otherwise)."""
    vendors: Mapping[str, VendorConfig] = field(default_factory=dict)
    """The config's [vendors.<id>], which wallets name (carried to the report)."""

    def to_json(self) -> dict[str, Any]:
        from attestations.proofs import format_units

        chains = []
        for reading in self.chains:
            decimals = dict(reading.assets)
            totals = reading.totals(self.count_custodial)
            chains.append(
                {
                    "chain": reading.block.chain.value,
                    "network": reading.block.network,
                    "height": reading.block.height,
                    "block_hash": reading.block.hash,
                    "method": reading.method,
                    "requests": reading.requests,
                    "challenge": reading.challenge,
                    "epochs": dict(sorted(reading.epochs.items())),
                    "addresses": [a.to_json(decimals) for a in reading.addresses],
                    "totals": {
                        code: {
                            kind: {
                                "base_units": str(units),
                                "amount": format_units(units, decimals[code]),
                            }
                            for kind, units in kinds.items()
                        }
                        for code, kinds in totals.items()
                    },
                }
            )
        return {
            "snapshot": "por-snapshot-v1",
            "exchange": self.exchange,
            "attestation_id": self.attestation_id,
            "taken_at": self.taken_at,
            "count_custodial": self.count_custodial,
            "chains": chains,
            "ownership_max_age": None if self.max_age is None else self.max_age.to_json(),
            "vendors": {v_id: v.to_json() for v_id, v in sorted(self.vendors.items())},
            "warnings": list(self.warnings),
        }


OwnershipVerifier = Callable[[WalletConfig, str, str, BlockRef], Awaitable[OwnershipCheck]]
"""(wallet, address, challenge text, block) -> verdict."""


@dataclass
class ChainPlan:
    """How to read one chain: its adapter, its assets, its addresses and how to verify them."""

    chain: Chain
    adapter: ChainAdapter
    assets: tuple[tuple[str, int], ...]
    expand: Callable[[WalletConfig], Awaitable[Sequence[str]]]
    """Wallet -> its addresses (an xpub wallet: those its gap-limit walk finds used)."""
    verify: OwnershipVerifier
    wallets: tuple[WalletConfig, ...]
    height: int | None = None


def _epoch_of(wallet: WalletConfig) -> str | None:
    """The epoch id the wallet's proof names (None: today's point-in-time challenge)."""
    proof = wallet.ownership
    epoch = proof.get("epoch") if proof is not None else None
    return epoch if isinstance(epoch, str) else None


def uses_epochs(config: PorConfig) -> bool:
    """Whether any wallet's proof names an ownership epoch."""
    sections = (config.bitcoin, config.ethereum)
    return any(_epoch_of(w) is not None for section in sections if section for w in section.wallets)


async def read_chain(
    plan: ChainPlan, config: PorConfig, progress: Progress, max_age: MaxAge | None = None
) -> ChainReading:
    """Pin a block, read every address at it, verify every ownership proof."""
    name = plan.chain.value
    async with plan.adapter as adapter:
        progress(f"{name}: pin block", 0, 1)
        block = await (adapter.tip() if plan.height is None else adapter.block_at(plan.height))
        progress(f"{name}: pin block", 1, 1)
        pairs = [(w, a) for w in plan.wallets for a in await plan.expand(w)]
        refuse_duplicates(plan.chain, pairs, config)
        addresses = [a for _, a in pairs]
        reading = f"{name}: read {plural(len(addresses), 'address')}"
        progress(reading, 0, 1)
        snapshot: ChainSnapshot = await adapter.holdings(addresses, block)
        progress(reading, 1, 1)
        if snapshot.block != block:
            raise TipMoved(
                f"{name}: the adapter read block {snapshot.block.hash}, not {block.hash}"
            )
        text = challenge(config.exchange, config.attestation_id, block)
        balances: dict[str, dict[str, int]] = {a: {c: 0 for c, _ in plan.assets} for a in addresses}
        for balance in snapshot.balances:
            balances.setdefault(balance.address, {})[balance.asset] = balance.units
        judge = (
            EpochJudge(
                config.exchange,
                config.ownership,
                max_age if max_age is not None else max_age_for(config),
                adapter,
                block,
            )
            if any(_epoch_of(w) is not None for w, _ in pairs)
            else None
        )
        readings = []
        for n, (wallet, address) in enumerate(pairs):
            epoch_id = _epoch_of(wallet)
            if wallet.wallet_class is WalletClass.CUSTODIAL:
                verdict = OwnershipCheck(
                    address,
                    Ownership.CUSTODIAL,
                    None,
                    "declared custodial: held by a custodian, not proven by signature",
                )
            elif epoch_id is not None and judge is not None:
                scheme = wallet.ownership.get("scheme") if wallet.ownership else None

                async def verify(
                    message: str, w: WalletConfig = wallet, a: str = address
                ) -> OwnershipCheck:
                    return await plan.verify(w, a, message, block)

                verdict = await judge.check(
                    address, epoch_id, scheme if isinstance(scheme, str) else None, verify
                )
            else:
                verdict = await plan.verify(wallet, address, text, block)
            readings.append(AddressReading(wallet, address, balances[address], verdict))
            progress(f"{name}: check ownership", n + 1, len(pairs))
        return ChainReading(
            block=block,
            assets=plan.assets,
            addresses=tuple(readings),
            method=snapshot.method,
            requests=snapshot.requests,
            challenge=text,
            epochs=dict(judge.messages) if judge is not None else {},
        )


def refuse_duplicates(
    chain: Chain, pairs: Sequence[tuple[WalletConfig, str]], config: PorConfig
) -> None:
    """Refuse an address that two wallet entries (or one, twice) stand for.

    Its balance would otherwise be counted once per entry: a reserve inflated by a copy.
    Addresses are compared in their canonical form (`verifier.inputs.config_values.address_key`).
    """
    seen: dict[str, WalletConfig] = {}
    for wallet, address in pairs:
        key = address_key(chain, address)
        first = seen.get(key)
        if first is not None:
            raise InputError(
                f"address {address} is listed twice, by {wallet_name(first)} and by "
                f"{wallet_name(wallet)}; its balance would be counted twice: list it once",
                file=str(config.path),
                key=wallet.key,
                value=address,
            )
        seen[key] = wallet


def _first_por_error(group: BaseExceptionGroup[Any]) -> PorError | None:
    for error in group.exceptions:
        if isinstance(error, PorError):
            return error
        if isinstance(error, BaseExceptionGroup):
            found = _first_por_error(error)
            if found is not None:
                return found
    return None


async def take_snapshot(
    config: PorConfig, plans: Sequence[ChainPlan], progress: Progress | None = None
) -> Snapshot:
    """Read every planned chain concurrently and gather the result."""
    report = progress or (lambda phase, done, total: None)
    max_age = max_age_for(config) if uses_epochs(config) else None
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(read_chain(plan, config, report, max_age)) for plan in plans]
    except BaseExceptionGroup as group_error:
        # one chain failing cancels the others; surface the typed error, not the group
        first = _first_por_error(group_error)
        if first is not None:
            raise first from group_error
        raise
    return Snapshot(
        exchange=config.exchange,
        attestation_id=config.attestation_id,
        taken_at=datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        chains=tuple(t.result() for t in tasks),
        count_custodial=config.count_custodial,
        max_age=max_age,
        vendors=config.vendors,
    )
