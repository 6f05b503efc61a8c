"""`por verify`'s ownership re-checks from the document alone: no node needed.

Where it sits: a step of the verification (verifier/jobs/verify.py), before the re-reads on
the auditor's nodes (verify_nodes.py), which re-decide what only a node can tell. Every
ownership signature is re-checked against the challenge of its chain's stated block; an
epoch proof's against its epoch's challenge, with its stated age checked against the
heights and staleness recomputed under the document's own limits. An EIP-1271 contract
wallet is asked on a node only (`NOT_RECHECKED` here). `compare_statuses` then holds each
verdict against the status the document states.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from attestations.document.model import Attestation, ChainEntry, WalletEntry
from chains.base import Chain, Ownership, OwnershipCheck, ProofAge
from chains.btc_ownership import verify_bitcoin_ownership
from chains.eth_ownership import verify_eip191
from verifier.base.console import plural
from verifier.holdings.ownership import epoch_message, judged, on_chain_problem, staleness
from verifier.jobs.verification import (
    NOT_RECHECKED,
    Verification,
    document_limits,
    short,
    wallet_key,
)


def signature_verdict(chain: ChainEntry, wallet: WalletEntry, message: str) -> OwnershipCheck:
    """The wallet's ownership signature checked over `message`, offline (an EIP-1271
    contract wallet is asked on a node: NOT_RECHECKED here)."""
    proof = wallet.ownership
    if chain.block.chain is Chain.BITCOIN:
        return verify_bitcoin_ownership(proof, wallet.address, chain.block.network, message)
    if proof is None:
        return OwnershipCheck(wallet.address, Ownership.UNPROVEN, None, "no signature")
    if proof.get("scheme") == "eip191":
        return verify_eip191(wallet.address, message, str(proof.get("signature", "")))
    return OwnershipCheck(
        wallet.address, Ownership.UNPROVEN, str(proof.get("scheme")), NOT_RECHECKED
    )


def recheck_ownership(doc: Attestation, verification: Verification) -> dict[str, OwnershipCheck]:
    """Every ownership signature re-checked against its chain's challenge, or an epoch
    proof's against its epoch's challenge (no node needed, except EIP-1271 contract wallets,
    which are re-checked with the auditor's node)."""
    verdicts: dict[str, OwnershipCheck] = {}
    epochs = 0
    for chain in doc.chains:
        text = chain.challenge or ""
        for wallet in chain.wallets:
            if wallet.wallet_class.value == "custodial":
                verdict = OwnershipCheck(
                    wallet.address, Ownership.CUSTODIAL, None, "declared custodial"
                )
            elif wallet.epoch is not None:
                verdict = _epoch_verdict(doc, chain, wallet, verification)
                epochs += 1
            else:
                verdict = signature_verdict(chain, wallet, text)
            verdicts[wallet_key(chain, wallet)] = verdict
    verification.checks.append(
        f"{len(verdicts)} ownership proofs re-checked against the challenges of their stated blocks"
    )
    verification.epoch_proofs = epochs
    return verdicts


def _epoch_verdict(
    doc: Attestation, chain: ChainEntry, wallet: WalletEntry, verification: Verification
) -> OwnershipCheck:
    """An epoch proof judged from the document alone: the epoch's message rebuilt and the
    signature re-checked over it; the stated age checked against the heights; staleness
    recomputed under the document's own limits with the stated age in seconds.

    What only a node can show is taken as attested and re-decided by `reread`: whether the
    epoch block is on the chain, block times (the expiry is compared with the pinned block's
    time, which the document does not carry), and EIP-1271 contract wallets."""
    epoch = wallet.epoch
    assert epoch is not None
    pinned = chain.block
    key = wallet_key(chain, wallet)
    scheme = wallet.ownership.get("scheme") if wallet.ownership is not None else None
    scheme = scheme if isinstance(scheme, str) else None
    if epoch.height > pinned.height:
        problem = on_chain_problem(epoch, pinned, None)
        return OwnershipCheck(wallet.address, Ownership.UNPROVEN, scheme, str(problem), epoch=epoch)
    blocks = pinned.height - epoch.height
    stated = wallet.age
    if stated is not None and stated.blocks != blocks:
        verification.discrepancies.append(
            f"{key}: ownership.age.blocks is {stated.blocks}, but epoch {short(epoch.id)} block "
            f"{epoch.height} is {plural(blocks, 'block')} below the pinned block {pinned.height}"
        )
    if stated is None:  # parse_attestation: only a proof the exchange found unproven
        return OwnershipCheck(
            wallet.address,
            Ownership.UNPROVEN,
            scheme,
            f"as attested: the exchange's node does not have epoch {epoch.id} block "
            f"{epoch.height} {epoch.hash} (re-checked only on the auditor's node)",
            epoch=epoch,
        )
    age = ProofAge(blocks, stated.seconds)
    limits = document_limits(doc)
    signature = signature_verdict(chain, wallet, epoch_message(doc.exchange, epoch, pinned))
    if signature.reason == NOT_RECHECKED:
        stale = staleness(epoch, age, None, pinned.chain.value, limits)
        if stale is not None and wallet.status == Ownership.PROVEN.value:
            verification.discrepancies.append(
                f"{key}: the document says proven, but under its own limits the epoch "
                f"{short(epoch.id)} proof is stale: {stale}"
            )
        return dataclasses.replace(signature, epoch=epoch, age=age)
    verdict = judged(signature, epoch, age, None, pinned.chain.value, limits)
    unknown = epoch.expires is not None or age.seconds is None
    if verdict.status is Ownership.PROVEN and wallet.status == Ownership.STALE.value and unknown:
        # stale by a fact the document cannot show (the expiry against the pinned block's
        # time, or an age in seconds): counting it as unproven is the cautious reading
        return dataclasses.replace(
            verdict,
            status=Ownership.STALE,
            reason=f"stale as attested: epoch {epoch.id}'s expiry or age in seconds is "
            "re-checked only with the auditor's node (the document has no block times)",
        )
    return verdict


def epoch_checks(
    doc: Attestation,
    verdicts: Mapping[str, OwnershipCheck],
    verification: Verification,
    source: str,
) -> None:
    """The check line of the epoch proofs, claiming only what was decided here, and a
    warning per epoch whose proven proofs rest on what only a node can tell (the document
    carries no block times and nothing shows its epoch block is on the chain). `source` says
    how far the day limit was checked (verify.py's `_limit_source`)."""
    if not verification.epoch_proofs:
        return
    limits = document_limits(doc)
    count = plural(verification.epoch_proofs, "epoch proof")
    if verification.epochs_rechecked_on_node:
        verification.checks.append(
            f"{count}: each epoch's challenge rebuilt and the signature re-checked over it, the "
            "epoch block read on the auditor's node, the ages checked against its heights and "
            "block times and staleness (expiry included) recomputed under the document's "
            f"limits ({limits.describe()}; the day limit {source})"
        )
    else:
        blocks = ", ".join(f"{c} {plural(n, 'block')}" for c, n in sorted(limits.blocks.items()))
        verification.checks.append(
            f"{count}: each epoch's challenge rebuilt and the signature re-checked over it, the "
            "ages in blocks checked against the heights and the document's block limits "
            f"applied ({blocks or 'none stated'})"
        )
    for chain in doc.chains:
        _check_epoch_ages(chain, verification)
    _warn_taken_on_trust(doc, verdicts, verification, source)


def _check_epoch_ages(chain: ChainEntry, verification: Verification) -> None:
    """The proofs of one epoch on one chain must state one age in seconds: one epoch
    block, one pinned block."""
    ages: dict[str, set[int]] = {}
    for wallet in chain.wallets:
        if wallet.epoch is not None and wallet.age is not None and wallet.age.seconds is not None:
            ages.setdefault(wallet.epoch.id, set()).add(wallet.age.seconds)
    for epoch_id, seconds in ages.items():
        if len(seconds) > 1:
            verification.discrepancies.append(
                f"{chain.block.chain.value}: the proofs of epoch {short(epoch_id)} state "
                f"different ages in seconds ({', '.join(map(str, sorted(seconds)))}) from "
                "the same epoch block to the same pinned block"
            )


def _warn_taken_on_trust(
    doc: Attestation,
    verdicts: Mapping[str, OwnershipCheck],
    verification: Verification,
    source: str,
) -> None:
    """A warning per epoch whose proofs count as proven on facts only a node can tell (the
    epoch block's hash, the expiry, the age in seconds), taken from the document; each
    such proof is listed in `epochs_on_trust`."""
    limits = document_limits(doc)
    trusted: dict[tuple[str, str], list[WalletEntry]] = {}
    for chain in doc.chains:
        for wallet in chain.wallets:
            key = wallet_key(chain, wallet)
            verdict = verdicts.get(key)
            if (
                wallet.epoch is None
                or key in verification.epochs_on_node
                or verdict is None
                or verdict.status is not Ownership.PROVEN
            ):
                continue
            verification.epochs_on_trust.append(key)
            trusted.setdefault((chain.block.chain.value, wallet.epoch.id), []).append(wallet)
    for (name, epoch_id), wallets in trusted.items():
        epoch = wallets[0].epoch
        assert epoch is not None
        facts = [f"block hash (block {epoch.height} {epoch.hash})"]
        if epoch.expires is not None:
            facts.append(f"expiry ({epoch.expires})")
        stated_ages = sorted({w.age.seconds for w in wallets if w.age is not None}, key=str)
        stated = ", ".join("not stated" if s is None else str(s) for s in stated_ages)
        facts.append(
            f"age in seconds ({stated}, against {plural(limits.days, 'day')}: the day limit "
            f"{source})"
        )
        verification.warnings.append(
            f"{name}: not re-checked without an auditor node: epoch {short(epoch_id)}'s "
            f"{', '.join(facts[:-1])} and {facts[-1]} taken from the document, for "
            f"{plural(len(wallets), 'proof')} counted proven"
        )


def compare_statuses(
    raw: Mapping[str, Any],
    doc: Attestation,
    verdicts: dict[str, OwnershipCheck],
    verification: Verification,
) -> None:
    """Each wallet's status as the signed report and the document's ownership.status state
    it, against the auditor's own verdict. A contract wallet not re-checked (no auditor
    node) keeps its attested status in `verdicts`, with a warning saying so."""
    stated = {wallet_key(c, w): w.status for c in doc.chains for w in c.wallets}
    for key, verdict in verdicts.items():
        claimed = _attested_status(raw, key)
        own = stated.get(key)  # the wallet's ownership.status in the signed document
        if claimed is not None and own is not None and claimed != own:
            verification.discrepancies.append(
                f"{key}: the report says {short(claimed)}, the document's ownership.status "
                f"says {own}"
            )
        says = "the report says"
        if claimed is None and own is not None:
            claimed, says = own, "the document's ownership.status says"
        if verdict.reason == NOT_RECHECKED:
            known = {o.value for o in Ownership}
            if claimed is not None and claimed not in known:
                verification.discrepancies.append(
                    f"{key}: the report states ownership status {short(claimed)}, which is "
                    f"none of {', '.join(sorted(known))}"
                )
            elif claimed is not None:  # recompute with the attested status, and say so
                verdicts[key] = OwnershipCheck(
                    verdict.address,
                    Ownership(claimed),
                    verdict.scheme,
                    "taken from the attestation: not re-checked without a node",
                    epoch=verdict.epoch,
                    age=verdict.age,
                )
            # not a check: listed apart (a warning), never with a check mark
            verification.warnings.append(
                f"{key}: contract-wallet signature not re-checked (no auditor node for this "
                "chain); its attested status was used"
            )
            continue
        if claimed is not None and claimed != verdict.status.value:
            verification.discrepancies.append(
                f"{key}: {says} {short(claimed)}, the auditor finds "
                f"{verdict.status.value} ({verdict.reason})"
            )


def _attested_status(raw: Mapping[str, Any], key: str) -> str | None:
    report = raw.get("report") or {}
    for wallet in report.get("wallets", []) if isinstance(report, Mapping) else []:
        if isinstance(wallet, Mapping) and f"{wallet.get('chain')}:{wallet.get('address')}" == key:
            status = (
                wallet.get("ownership", {}).get("status")
                if isinstance(wallet.get("ownership"), Mapping)
                else wallet.get("status")
            )
            return str(status) if status is not None else None
    return None
