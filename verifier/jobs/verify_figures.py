"""The attested figures as data `por verify` recomputes from: the snapshot the document
states, its coverage thresholds, and the comparison of the attested report with ours.

Where it sits: under the reserve and coverage recomputation of the verification
(verifier/jobs/verify.py `_recompute`), which runs the pipeline's own `figures` on the
document's balances, prices and statement. Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from attestations.document.model import Attestation
from chains.base import OwnershipCheck
from verifier.base.errors import InputError
from verifier.jobs.verification import Verification, short
from verifier.reconcile.parse import metadata_from_report


def snapshot_doc(
    doc: Attestation, verdicts: Mapping[str, OwnershipCheck], report: Any = None
) -> dict[str, Any]:
    """The attested balances with the auditor's own ownership verdicts, as a snapshot doc;
    with the signed `report`, its wallets' metadata (a mixed wallet's own coins split as the
    report split them, per address)."""
    metadata = metadata_from_report(report)
    chains: list[dict[str, Any]] = []
    for chain in doc.chains:
        addresses = []
        for wallet in chain.wallets:
            verdict = verdicts[f"{chain.block.chain.value}:{wallet.address}"]
            stated = metadata.get((chain.block.chain.value, wallet.address), {})
            # an address declaring own coins is its own wallet: its own_units are its own
            key = f"{wallet.label} {wallet.address}" if "own" in stated else wallet.label
            addresses.append(
                {
                    **stated,
                    "label": wallet.label,
                    "wallet": key,
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
        "ownership_max_age": None if doc.max_age is None else doc.max_age.to_json(),
        "warnings": [],
    }


def threshold(settings: Any, key: str) -> Decimal:
    """A coverage threshold from the signed report's settings (default 1), checked."""
    value = settings.get(key, "1") if isinstance(settings, Mapping) else "1"
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise InvalidOperation
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
        if not number.is_finite() or not 0 <= number <= 1000:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        raise InputError(
            "not a coverage threshold (a decimal from 0 to 1000)",
            key=f"report.settings.thresholds.{key}",
            value=short(value),
        ) from None
    return number


def compare_figures(
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
