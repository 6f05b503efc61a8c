"""`por verify`'s re-reads on the auditor's own nodes (when an auditor config names them).

Where it sits: a step of the verification (verifier/jobs/verify.py), after the offline
ownership re-checks (verify_ownership.py), whose verdicts it replaces where a node decides:
each chain's pinned block is read at the stated height (its hash must be the document's),
every attested balance is re-read at it, an epoch proof's epoch block, block times and
expiry are read there, and an EIP-1271 contract wallet is asked at the pinned block. A
failure of the auditor's own node is no discrepancy in the document: the run ends "not
verified" (exit 4) unless the document was already found wrong (exit 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attestations.document.model import Attestation, ChainEntry, WalletEntry
from chains.base import BlockRef, Chain, Ownership, OwnershipCheck
from chains.eth_ownership import check_eip1271
from verifier.base.console import plural
from verifier.base.errors import ChainError
from verifier.holdings.ownership import epoch_message, judged, on_chain_problem, proof_age
from verifier.inputs.config_values import PorConfig
from verifier.jobs.verification import Verification, document_limits, short, wallet_key
from verifier.jobs.verify_ownership import signature_verdict


async def reread(
    doc: Attestation,
    auditor: PorConfig,
    verification: Verification,
    verdicts: dict[str, OwnershipCheck],
) -> None:
    """Re-read every balance on the auditor's nodes at the stated heights and hashes."""
    from verifier.holdings.plans import bitcoin_adapter, ethereum_adapter

    for chain in doc.chains:
        if chain.block.chain is Chain.BITCOIN and auditor.bitcoin is not None:
            adapter: Any = bitcoin_adapter(auditor.bitcoin)
        elif chain.block.chain is Chain.ETHEREUM and auditor.ethereum is not None:
            adapter = ethereum_adapter(auditor.ethereum)
        else:
            verification.discrepancies.append(
                f"{chain.block.chain.value}: the auditor config names no node; balances not re-read"
            )
            continue
        async with adapter:
            await _reread_chain(doc, chain, adapter, auditor, verification, verdicts)


async def _reread_chain(
    doc: Attestation,
    chain: ChainEntry,
    adapter: Any,
    auditor: PorConfig,
    verification: Verification,
    verdicts: dict[str, OwnershipCheck],
) -> None:
    """One chain on the auditor's node: its pinned block (the hash must be the document's),
    every attested balance at it, and the ownership proofs only a node can decide."""
    name = chain.block.chain.value
    try:
        block = await adapter.block_at(chain.block.height)
    except ChainError as exc:
        # the auditor's own node failed (down, behind, another network): nothing
        # about the document is known from it, so no discrepancy but exit 4
        _auditor_node_error(verification, name, exc)
        return
    if block.hash != chain.block.hash:
        verification.discrepancies.append(
            f"{name}: block {chain.block.height} is {block.hash} on the auditor's node, "
            f"not {chain.block.hash}"
        )
        return
    addresses = [w.address for w in chain.wallets]
    epoch_blocks: dict[int, BlockRef | None] = {}
    try:
        snapshot = await adapter.holdings(addresses, block)
    except ChainError as exc:
        _auditor_node_error(verification, name, exc)
        return
    seen = {(b.address, b.asset): b.units for b in snapshot.balances}
    unlisted = _unlisted_tokens(chain, auditor)
    for code in sorted(unlisted):
        # the auditor's config, not the exchange's document, lacks it: said once,
        # with what to add, rather than as "the node reads None" for every wallet
        verification.discrepancies.append(
            f"{name}: the auditor config lists no token {short(code)} "
            "([[ethereum.tokens]]): its balances cannot be re-read"
        )
    for wallet in chain.wallets:
        _compare_balances(name, wallet, seen, unlisted, block, verification)
        await _recheck_on_node(
            doc, chain, wallet, adapter, block, epoch_blocks, verification, verdicts
        )
    verification.checks.append(
        f"{name}: {plural(len(addresses), 'address')} re-read on the auditor's node "
        f"at height "
        f"{block.height}, block {block.hash}"
    )


def _compare_balances(
    name: str,
    wallet: WalletEntry,
    seen: Mapping[tuple[str, str], int],
    unlisted: set[str],
    block: BlockRef,
    verification: Verification,
) -> None:
    """Each attested balance of `wallet` against what the node reads (`seen`)."""
    for code, units in wallet.balances.items():
        if code in unlisted:
            continue
        found = seen.get((wallet.address, code))
        if found is None:
            found = next(
                (
                    u
                    for (a, c), u in seen.items()
                    if a.lower() == wallet.address.lower() and c == code
                ),
                None,
            )
        if found != units:
            verification.discrepancies.append(
                f"{name} {wallet.address} {code}: attested {units}, the auditor's "
                f"node reads {found} at height {block.height}"
            )


async def _recheck_on_node(
    doc: Attestation,
    chain: ChainEntry,
    wallet: WalletEntry,
    adapter: Any,
    block: BlockRef,
    epoch_blocks: dict[int, BlockRef | None],
    verification: Verification,
    verdicts: dict[str, OwnershipCheck],
) -> None:
    """What only a node decides of `wallet`'s proof: an epoch proof (its epoch block, block
    times, expiry), or an EIP-1271 contract wallet's signature over the chain's challenge."""
    name = chain.block.chain.value
    proof = wallet.ownership
    if wallet.epoch is not None and wallet.wallet_class.value != "custodial":
        on_node = await _node_epoch_verdict(
            doc, chain, wallet, adapter, block, epoch_blocks, verification
        )
        if on_node is not None:
            verdicts[wallet_key(chain, wallet)] = on_node
            verification.epochs_on_node.add(wallet_key(chain, wallet))
    elif name == "ethereum" and proof is not None and proof.get("scheme") == "eip1271":
        verdicts[f"{name}:{wallet.address}"] = await check_eip1271(
            adapter,
            wallet.address,
            chain.challenge or "",
            str(proof.get("signature", "")),
            block,
        )


def _unlisted_tokens(chain: ChainEntry, auditor: PorConfig) -> set[str]:
    """The Ethereum assets the document attests that the auditor config does not list (its
    native asset or a [[ethereum.tokens]] code): its node is never asked for them."""
    if chain.block.chain is not Chain.ETHEREUM or auditor.ethereum is None:
        return set()
    listed = {auditor.ethereum.asset, *(t.code for t in auditor.ethereum.tokens)}
    return {code for w in chain.wallets for code in w.balances} - listed


def _auditor_node_error(verification: Verification, where: str, exc: ChainError) -> None:
    """Keep the auditor's node failure (the first): the verification is incomplete, exit 4
    unless the document was already found wrong (exit 3)."""
    if verification.node_error is None:
        verification.node_error = exc
        exc.message = f"{where}: the auditor's node: {exc.message}"


async def _node_epoch_verdict(
    doc: Attestation,
    chain: ChainEntry,
    wallet: WalletEntry,
    adapter: Any,
    pinned: BlockRef,
    epoch_blocks: dict[int, BlockRef | None],
    verification: Verification,
) -> OwnershipCheck | None:
    """An epoch proof judged on the auditor's node: the epoch block read there (its hash must
    be the document's), the age from the node's block times, the expiry against the pinned
    block's time, the signature over the epoch's challenge (an EIP-1271 wallet asked at the
    pinned block, as the snapshot does) and staleness under the document's limits."""
    epoch = wallet.epoch
    assert epoch is not None
    key = wallet_key(chain, wallet)
    proof = wallet.ownership or {}
    scheme = proof.get("scheme") if isinstance(proof.get("scheme"), str) else None
    node_block = None
    if epoch.height <= pinned.height:
        if epoch.height not in epoch_blocks:
            try:
                epoch_blocks[epoch.height] = await adapter.block_at(epoch.height)
            except ChainError as exc:  # the auditor's node, not the document (exit 4)
                where = f"{key}: epoch {short(epoch.id)} block {epoch.height}"
                _auditor_node_error(verification, where, exc)
                return None  # the offline verdict stands; the run ends "not verified"
        node_block = epoch_blocks[epoch.height]
    problem = on_chain_problem(epoch, pinned, node_block)
    if problem is not None:
        if wallet.age is not None:  # the document measured an age from that block
            verification.discrepancies.append(f"{key}: on the auditor's node, {problem}")
        return OwnershipCheck(wallet.address, Ownership.UNPROVEN, scheme, problem, epoch=epoch)
    assert node_block is not None
    age = proof_age(node_block, pinned)
    stated = wallet.age
    if (
        stated is not None
        and stated.seconds is not None
        and age.seconds is not None
        and stated.seconds != age.seconds
    ):
        verification.discrepancies.append(
            f"{key}: ownership.age.seconds is {stated.seconds}, the auditor's node's block "
            f"times give {age.seconds} (epoch {short(epoch.id)} block {epoch.height} to the "
            f"pinned block {pinned.height})"
        )
    message = epoch_message(doc.exchange, epoch, pinned)
    if pinned.chain is Chain.ETHEREUM and scheme == "eip1271":
        signature = await check_eip1271(
            adapter, wallet.address, message, str(proof.get("signature", "")), pinned
        )
    else:
        signature = signature_verdict(chain, wallet, message)
    return judged(signature, epoch, age, pinned.time, pinned.chain.value, document_limits(doc))
