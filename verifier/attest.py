"""`por attest` (exchange) and `por verify` (auditor) on top of the pipeline.

Where it sits: after reconciliation. `attest` turns an outcome into the signed
`por-attestation-v1` document (attestations/document.py). `verify` checks such a document
independently: the exchange's signature and every field, every ownership signature against
the challenge of its stated block, every balance re-read on the auditor's own nodes at the
stated heights and block hashes (when an auditor config names nodes), the liabilities root
document, and the reserve and coverage recomputed from the document's own data. Every
discrepancy is listed; none is fatal until the end, so the auditor sees them all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from attestations.document import (
    Attestation,
    ChainEntry,
    PriceQuote,
    RulePackRef,
    WalletEntry,
    build_attestation,
    load_attestation,
    load_or_create_signing_key,
    sign_attestation,
    verify_attestation,
    write_attestation,
)
from chains.base import Chain, Ownership, OwnershipCheck
from chains.btc_ownership import verify_bitcoin_ownership
from chains.eth_ownership import verify_eip191
from verifier.config import PorConfig
from verifier.errors import EXIT_INVALID, EXIT_OK, EXIT_SHORTFALL, ChainError, PorError
from verifier.pipeline import Inputs, Outcome, figures
from verifier.prices import Price
from verifier.reconcile import Reconciliation
from verifier.report import build_report
from verifier.reserve import parse_statement
from verifier.rules import load_pack

# ----------------------------------------------------------------------------- attest


def _proof_for(
    ownership: Mapping[str, Any] | None, address: str, witness_script: str | None
) -> dict[str, Any] | None:
    """The ownership proof of one address as the document states it."""
    if ownership is None:
        return None
    proof = dict(ownership)
    per_address = proof.pop("addresses", None)
    if isinstance(per_address, Mapping):  # an xpub wallet: keep this address's signature only
        if address not in per_address:
            return {"scheme": proof.get("scheme")}
        proof["signature"] = per_address[address]
    if witness_script is not None and proof.get("scheme") == "p2wsh-multisig":
        proof.setdefault("witness_script", witness_script)
    return proof


def attestation_document(config: PorConfig, inputs: Inputs, outcome: Outcome) -> dict[str, Any]:
    """The unsigned `por-attestation-v1` document of an outcome."""
    from chains.btc_ownership import multisig_witness_script

    chains = []
    for reading in outcome.snapshot.chains:
        wallets = []
        for item in reading.addresses:
            w = item.wallet
            script = None
            if w.kind == "multisig" and w.multisig_m is not None:
                script = multisig_witness_script(w.multisig_m, w.multisig_keys, sort=w.sorted_keys)
            wallets.append(
                WalletEntry(
                    address=item.address,
                    label=w.label,
                    wallet_class=w.wallet_class,
                    attribution=w.attribution,
                    balances=dict(item.balances),
                    ownership=_proof_for(w.ownership, item.address, script),
                )
            )
        chains.append(
            ChainEntry(block=reading.block, wallets=tuple(wallets), challenge=reading.challenge)
        )
    reserve = dict(inputs.statement_raw)
    if config.reconcile.statement is not None:
        reserve["statement_toml"] = config.reconcile.statement.read_text(encoding="utf-8")
    return build_attestation(
        attestation_id=config.attestation_id,
        as_of=outcome.snapshot.taken_at,
        exchange=config.exchange,
        liabilities=inputs.root_raw,
        chains=chains,
        reserve=reserve,
        prices={
            code: PriceQuote(p.value, p.currency, p.source, p.time)
            for code, p in inputs.prices.items()
        },
        rule_pack=RulePackRef(inputs.pack.id, inputs.pack.version),
        report=outcome.report,
    )


def attest(
    config: PorConfig, inputs: Inputs, outcome: Outcome, out_dir: Path, key_file: Path
) -> dict[str, Any]:
    """Sign and write the attestation (DIR/attestation.json and DIR/root.json)."""
    key = load_or_create_signing_key(key_file)
    doc = sign_attestation(attestation_document(config, inputs, outcome), key)
    write_attestation(out_dir, doc)
    return doc


# ----------------------------------------------------------------------------- verify

NOT_RECHECKED = "contract-wallet signature: re-checked on a node only"


@dataclass
class Verification:
    """What `por verify` found."""

    attestation_id: str
    public_key: str
    checks: list[str] = field(default_factory=list)
    discrepancies: list[str] = field(default_factory=list)
    reconciliation: Reconciliation | None = None
    report: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        if self.discrepancies:
            return EXIT_INVALID
        if self.reconciliation is not None and self.reconciliation.exit_code != EXIT_OK:
            return EXIT_SHORTFALL
        return EXIT_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "attestation_id": self.attestation_id,
            "public_key": self.public_key,
            "valid": not self.discrepancies,
            "checks": self.checks,
            "discrepancies": self.discrepancies,
            "exit_code": self.exit_code,
            "report": self.report,
        }


def _recheck_ownership(doc: Attestation, verification: Verification) -> dict[str, OwnershipCheck]:
    """Every ownership signature re-checked against its chain's challenge (no node needed,
    except EIP-1271 contract wallets, which are re-checked with the auditor's node)."""
    verdicts: dict[str, OwnershipCheck] = {}
    for chain in doc.chains:
        text = chain.challenge or ""
        for wallet in chain.wallets:
            proof = wallet.ownership
            if wallet.wallet_class.value == "custodial":
                verdict = OwnershipCheck(
                    wallet.address, Ownership.CUSTODIAL, None, "declared custodial"
                )
            elif chain.block.chain is Chain.BITCOIN:
                verdict = verify_bitcoin_ownership(proof, wallet.address, chain.block.network, text)
            elif proof is None:
                verdict = OwnershipCheck(wallet.address, Ownership.UNPROVEN, None, "no signature")
            elif proof.get("scheme") == "eip191":
                verdict = verify_eip191(wallet.address, text, str(proof.get("signature", "")))
            else:
                verdict = OwnershipCheck(
                    wallet.address,
                    Ownership.UNPROVEN,
                    str(proof.get("scheme")),
                    NOT_RECHECKED,
                )
            verdicts[f"{chain.block.chain.value}:{wallet.address}"] = verdict
    verification.checks.append(
        f"{len(verdicts)} ownership proofs re-checked against the challenges of their stated blocks"
    )
    return verdicts


async def _reread(
    doc: Attestation,
    auditor: PorConfig,
    verification: Verification,
    verdicts: dict[str, OwnershipCheck],
) -> None:
    """Re-read every balance on the auditor's nodes at the stated heights and hashes."""
    from chains.eth_ownership import check_eip1271
    from verifier.plans import bitcoin_adapter, ethereum_adapter

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
        name = chain.block.chain.value
        async with adapter:
            try:
                block = await adapter.block_at(chain.block.height)
            except ChainError as exc:
                verification.discrepancies.append(f"{name}: {exc.message}")
                continue
            if block.hash != chain.block.hash:
                verification.discrepancies.append(
                    f"{name}: block {chain.block.height} is {block.hash} on the auditor's node, "
                    f"not {chain.block.hash}"
                )
                continue
            addresses = [w.address for w in chain.wallets]
            snapshot = await adapter.holdings(addresses, block)
            seen = {(b.address, b.asset): b.units for b in snapshot.balances}
            for wallet in chain.wallets:
                for code, units in wallet.balances.items():
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
                proof = wallet.ownership
                if name == "ethereum" and proof is not None and proof.get("scheme") == "eip1271":
                    verdicts[f"{name}:{wallet.address}"] = await check_eip1271(
                        adapter,
                        wallet.address,
                        chain.challenge or "",
                        str(proof.get("signature", "")),
                        block,
                    )
            verification.checks.append(
                f"{name}: {len(addresses)} addresses re-read on the auditor's node at height "
                f"{block.height}, block {block.hash}"
            )


def _snapshot_doc(doc: Attestation, verdicts: Mapping[str, OwnershipCheck]) -> dict[str, Any]:
    """The attested balances with the auditor's own ownership verdicts, as a snapshot doc."""
    chains: list[dict[str, Any]] = []
    for chain in doc.chains:
        addresses = []
        for wallet in chain.wallets:
            verdict = verdicts[f"{chain.block.chain.value}:{wallet.address}"]
            addresses.append(
                {
                    "label": wallet.label,
                    "wallet": wallet.label,
                    "class": wallet.wallet_class.value,
                    "attribution": wallet.attribution.value,
                    "address": wallet.address,
                    "balances": {c: str(u) for c, u in wallet.balances.items()},
                    "ownership": verdict.to_json(),
                }
            )
        chains.append(
            {
                "chain": chain.block.chain.value,
                "network": chain.block.network,
                "height": chain.block.height,
                "block_hash": chain.block.hash,
                "method": "as attested",
                "requests": 0,
                "challenge": chain.challenge,
                "addresses": addresses,
                "totals": {},
            }
        )
    return {
        "snapshot": "por-snapshot-v1",
        "exchange": doc.exchange,
        "attestation_id": doc.attestation_id,
        "taken_at": doc.as_of,
        "count_custodial": False,
        "chains": chains,
        "warnings": [],
    }


def verify(
    path: Path, *, auditor: PorConfig | None = None, expected_public_key: str | None = None
) -> Verification:
    """Verify an attestation; every discrepancy is collected, then returned."""
    raw = load_attestation(path)
    doc = verify_attestation(raw, expected_public_key=expected_public_key)
    verification = Verification(doc.attestation_id, raw["signature"]["public_key"])
    verification.checks.append("the exchange's Ed25519 signature over the canonical document")
    verification.checks.append(
        "every field well-formed; each challenge names the exchange, the "
        "attestation and its chain's pinned block"
    )
    verification.checks.append("the liabilities root document's commitment recomputes")
    verdicts = _recheck_ownership(doc, verification)
    if auditor is not None:
        asyncio.run(_reread(doc, auditor, verification, verdicts))
    for key, verdict in verdicts.items():
        claimed = _attested_status(raw, key)
        if verdict.reason == NOT_RECHECKED:
            if claimed is not None:  # recompute with the attested status, and say so
                verdicts[key] = OwnershipCheck(
                    verdict.address,
                    Ownership(claimed),
                    verdict.scheme,
                    "taken from the attestation: not re-checked without a node",
                )
            verification.checks.append(
                f"{key}: contract-wallet signature not re-checked (no auditor node for this chain)"
            )
            continue
        if claimed is not None and claimed != verdict.status.value:
            verification.discrepancies.append(
                f"{key}: the report says {claimed}, the auditor finds {verdict.status.value} "
                f"({verdict.reason})"
            )
    try:
        _recompute(raw, doc, verdicts, verification)
    except PorError as exc:
        verification.discrepancies.append(f"recomputing reserve and coverage failed: {exc.message}")
    return verification


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


def _recompute(
    raw: Mapping[str, Any],
    doc: Attestation,
    verdicts: Mapping[str, OwnershipCheck],
    verification: Verification,
) -> None:
    import tomllib

    pack = load_pack(doc.rule_pack.id)
    if pack.version != doc.rule_pack.version:
        verification.discrepancies.append(
            f"rule pack {pack.id}: the document used version {doc.rule_pack.version}, this tool "
            f"has {pack.version}"
        )
        return
    text = doc.reserve.get("statement_toml")
    if not isinstance(text, str):
        verification.discrepancies.append("the reserve statement is not in the document")
        return
    statement = parse_statement(tomllib.loads(text), "attestation reserve.statement_toml")
    prices = {c: Price(q.value, q.currency, q.source, q.time) for c, q in doc.prices.items()}
    currency = next(iter(prices.values())).currency if prices else "USD"
    report = raw.get("report") if isinstance(raw.get("report"), Mapping) else {}
    settings = report.get("settings", {}) if isinstance(report, Mapping) else {}
    thresholds = settings.get("thresholds", {}) if isinstance(settings, Mapping) else {}
    inputs = Inputs(
        doc.liabilities,
        dict(raw["liabilities"]),
        currency,
        prices,
        statement,
        dict(doc.reserve),
        pack,
        {},
    )
    as_of = datetime.fromisoformat(doc.as_of.replace("Z", "+00:00")).astimezone(UTC).date()
    _, rec = figures(
        inputs,
        _snapshot_doc(doc, verdicts),
        as_of=as_of,
        min_coverage=Decimal(str(thresholds.get("min_coverage", "1"))),
        min_combined=Decimal(str(thresholds.get("min_combined", "1"))),
    )
    verification.reconciliation = rec
    verification.report = build_report(rec, generated_at=doc.as_of, input_hashes={})
    verification.checks.append(
        f"reserve recomputed under {pack.id} {pack.version} and coverage recomputed from the "
        "attested balances, prices and statement"
    )
    _compare(report, verification.report, verification)


def _compare(
    attested: Any, ours: Mapping[str, Any], verification: Verification, path: str = ""
) -> None:
    """Figures that differ between the attested report and the recomputed one."""
    if not isinstance(attested, Mapping) or not attested:
        return
    for key in ("assets", "combined", "reserve"):
        if key in attested and _figures(attested[key]) != _figures(ours.get(key)):
            verification.discrepancies.append(
                f"report.{key}: the attested figures differ from the recomputed ones"
            )


def _figures(value: Any) -> Any:
    """`value` without the rule pack's provenance text: the pack's ``sources`` and each
    parameter's ``source`` and ``verified_on`` say where a rule comes from, not what it
    computes, so a source added or reworded later does not fail an attestation signed
    before (the pack's id and version are compared on their own)."""
    if not isinstance(value, Mapping):
        return value
    out = dict(value)
    if isinstance(out.get("pack"), Mapping):
        out["pack"] = {k: v for k, v in out["pack"].items() if k != "sources"}
    if isinstance(out.get("parameters"), list):
        out["parameters"] = [
            {k: v for k, v in p.items() if k not in ("source", "verified_on")}
            if isinstance(p, Mapping)
            else p
            for p in out["parameters"]
        ]
    return out


__all__: Sequence[str] = ("Verification", "attest", "attestation_document", "verify")
