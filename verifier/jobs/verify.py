"""`por verify` (auditor): check a signed attestation independently, listing every discrepancy.

Where it sits: after `por attest` (verifier/jobs/attest.py), on the document it wrote. In
order: the exchange's signature (against the pinned key) and every field
(attestations/document/), the auditor config's exchange and attestation id, every ownership
signature against the challenge of its stated block (verify_ownership.py), every balance
re-read on the auditor's own nodes at the stated heights and block hashes when an auditor
config names nodes (verify_nodes.py), the stated statuses and limits, and the reserve and
coverage recomputed from the document's own data under this tool's rule pack
(verify_figures.py). What was found goes into one `Verification` (verification.py); none is
fatal until the end, so the auditor sees them all.

The document is hostile input: bounded JSON (`verifier.base.safejson`), and whatever the
signed document holds that this tool cannot recompute from (a malformed statement,
threshold or status, an unknown rule pack) is a listed discrepancy (exit 3), never a crash.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from attestations.document.model import Attestation
from attestations.document.sign import verify_attestation
from chains.base import OwnershipCheck
from verifier.base import safejson, safetoml
from verifier.base.errors import InputError, PorError
from verifier.holdings.ownership import DEFAULT_MAX_AGE_DAYS, PACK_PARAMETER
from verifier.inputs.config_values import PorConfig
from verifier.inputs.prices import Price
from verifier.jobs.pipeline import Inputs, figures
from verifier.jobs.verification import Verification, document_limits, short
from verifier.jobs.verify_figures import compare_figures, snapshot_doc, threshold
from verifier.jobs.verify_nodes import reread
from verifier.jobs.verify_ownership import compare_statuses, epoch_checks, recheck_ownership
from verifier.report.document import build_report
from verifier.reserve.pack_file import known_packs, load_pack
from verifier.reserve.statement import parse_statement
from verifier.reserve.statement_model import ReserveStatement

NOT_PINNED = (
    "not verified: no pinned public key; the document's own key proves nothing about who "
    "signed — give --public-key (the exchange's published key) or --trust-embedded-key"
)


def auditor_public_key(auditor: PorConfig) -> str | None:
    """``[attest] public_key`` of an auditor config (64 hex digits), or None.

    Read from the raw table: the config schema only admits the key; its form is checked here.
    """
    from verifier.inputs.keys import read_public_key

    attest = auditor.raw.get("attest")
    if not isinstance(attest, Mapping) or "public_key" not in attest:
        return None
    value = attest["public_key"]
    if not isinstance(value, str):
        raise InputError(
            "must be 64 hex digits (a string)",
            file=str(auditor.path),
            key="attest.public_key",
            value=str(value),
        )
    try:
        return read_public_key(value, source="attest.public_key")
    except InputError:
        raise InputError(
            "must be 64 hex digits (the exchange's published public key)",
            file=str(auditor.path),
            key="attest.public_key",
            value=value,
        ) from None


def _check_auditor_names(doc: Attestation, auditor: PorConfig, verification: Verification) -> None:
    """The auditor config's ``[exchange] name`` and (when given) ``attestation_id`` must be
    the document's: an auditor checking another exchange's or period's document by mistake
    would otherwise see VALID."""
    where = str(auditor.path)
    if auditor.exchange != doc.exchange:
        verification.discrepancies.append(
            f"exchange: the attestation names {short(doc.exchange)!r}, the auditor config "
            f"{where} [exchange] name is {short(auditor.exchange)!r}"
        )
    section = auditor.raw.get("exchange")
    expected_id = section.get("attestation_id") if isinstance(section, Mapping) else None
    if expected_id is None:
        return
    if expected_id != doc.attestation_id:
        verification.discrepancies.append(
            f"attestation_id: the attestation is {short(doc.attestation_id)!r}, the auditor "
            f"config {where} [exchange] attestation_id is {short(str(expected_id))!r}"
        )
    else:
        verification.checks.append(
            f"exchange {doc.exchange!r} and attestation id {doc.attestation_id!r} are the "
            "auditor config's"
        )


def verify(
    path: Path,
    *,
    auditor: PorConfig | None = None,
    expected_public_key: str | None = None,
    trust_embedded_key: bool = False,
) -> Verification:
    """Verify an attestation; every discrepancy is collected, then returned.

    Without `expected_public_key` (the exchange's published key, pinned by the auditor) the
    result is never valid — a signature checked against the key the document carries proves
    nothing about who signed — unless `trust_embedded_key` is set; then it may be valid,
    with ``signer_pinned`` false and a warning naming the key to compare.
    """
    # bounded JSON: a deeply nested file segfaults the plain decoder once a dependency has
    # raised the recursion limit; numbers with a fraction stay Decimal for the field checks
    raw = safejson.load_path(path, what="attestation", parse_float=Decimal, strict_keys=True)
    doc = verify_attestation(raw, expected_public_key=expected_public_key)
    verification = _signer(raw, doc, expected_public_key, trust_embedded_key)
    if auditor is not None:
        _check_auditor_names(doc, auditor, verification)
    verification.checks.append(
        "every field well-formed; each challenge names the exchange, the "
        "attestation and its chain's pinned block"
    )
    verification.checks.append("the liabilities root document's commitment recomputes")
    verdicts = recheck_ownership(doc, verification)
    _check_max_age(raw, doc, verification)
    if auditor is not None:
        asyncio.run(reread(doc, auditor, verification, verdicts))
    compare_statuses(raw, doc, verdicts, verification)
    if verification.epoch_proofs:
        epoch_checks(doc, verdicts, verification, _limit_source(doc, verification))
    try:
        _recompute(raw, doc, verdicts, verification)
    except PorError as exc:
        verification.discrepancies.append(f"recomputing reserve and coverage failed: {exc.message}")
    except (ArithmeticError, ValueError, TypeError, LookupError) as exc:
        # the signed document is the exchange's word, not ours: data that the recomputation
        # cannot use is a discrepancy in the document, named by its type, not a crash
        verification.discrepancies.append(
            "recomputing reserve and coverage failed on the document's data "
            f"({type(exc).__name__}: {short(str(exc))})"
        )
    return verification


def _signer(
    raw: Mapping[str, Any],
    doc: Attestation,
    expected_public_key: str | None,
    trust_embedded_key: bool,
) -> Verification:
    """The verification begun with what its signature proves: by the pinned key, by the
    document's own key when it is trusted (a warning), or nothing (a discrepancy)."""
    verification = Verification(
        doc.attestation_id,
        raw["signature"]["public_key"],
        signer_pinned=expected_public_key is not None,
    )
    if expected_public_key is not None:
        verification.checks.append(
            "the exchange's Ed25519 signature over the canonical document, by the pinned key"
        )
    elif trust_embedded_key:
        verification.checks.append(
            "the Ed25519 signature over the canonical document, by the key the document "
            "carries (not pinned)"
        )
        verification.warnings.append(
            f"signer not pinned: the document's own key {verification.public_key} was "
            "trusted (--trust-embedded-key); compare it with the exchange's published key"
        )
    else:
        verification.discrepancies.append(NOT_PINNED)
    return verification


def _check_max_age(raw: Mapping[str, Any], doc: Attestation, verification: Verification) -> None:
    """The report's ``settings.ownership_max_age`` must be the document's own limits (the
    ones staleness is recomputed under), when the report states one."""
    report = raw.get("report")
    settings = report.get("settings") if isinstance(report, Mapping) else None
    if not isinstance(settings, Mapping) or "ownership_max_age" not in settings:
        return
    ours = None if doc.max_age is None else doc.max_age.to_json()
    stated = settings["ownership_max_age"]
    if isinstance(stated, Mapping) and isinstance(stated.get("blocks"), Mapping):
        stated = {**stated, "blocks": dict(sorted(stated["blocks"].items()))}
    if stated != ours:
        verification.discrepancies.append(
            f"report.settings.ownership_max_age is {short(stated)}, the document's "
            f"settings.ownership_max_age is {short(ours)}"
        )


_PACK_SOURCE = re.compile(r"rule pack (\S+) parameter (\S+)")
"""How `por attest` names a limit from the rule pack (verifier.holdings.ownership.resolve_max_age).
"""


def _limit_source(doc: Attestation, verification: Verification) -> str:
    """How far the document's maximum age in days is checked, in words for the check line:
    the default and a built-in rule pack's parameter are checked (another value is a
    discrepancy); the exchange's own `[ownership] max_age_days` or any other source can
    only be taken as the document states it."""
    limits = document_limits(doc)
    where = "settings.ownership_max_age"
    if limits.source == "default":
        if limits.days != DEFAULT_MAX_AGE_DAYS:
            verification.discrepancies.append(
                f"{where}: the source says the default, which is {DEFAULT_MAX_AGE_DAYS} days, "
                f"not {limits.days}"
            )
        return "checked as this tool's default"
    named = _PACK_SOURCE.fullmatch(limits.source)
    if named is None:
        return "as the document states it"
    pack_id, parameter = named.groups()
    if parameter != PACK_PARAMETER:
        verification.discrepancies.append(
            f"{where}.source names rule pack parameter {short(parameter)}; a maximum age "
            f"comes from {PACK_PARAMETER}"
        )
        return "as the document states it"
    if pack_id != doc.rule_pack.id:
        verification.discrepancies.append(
            f"{where}.source names rule pack {short(pack_id)}, the document applied "
            f"{short(doc.rule_pack.id)}"
        )
        return "as the document states it"
    if pack_id not in known_packs():  # _recompute names the unknown pack
        return "as the document states it"
    pack = load_pack(pack_id)
    if pack.version != doc.rule_pack.version:  # _recompute names the version
        return "as the document states it"
    value = pack.get(PACK_PARAMETER)
    if value is None:
        verification.discrepancies.append(
            f"{where}.source names rule pack {pack.id} {pack.version} parameter "
            f"{PACK_PARAMETER}, which that pack does not have"
        )
        return "as the document states it"
    if value.value != limits.days:
        verification.discrepancies.append(
            f"{where}.days is {limits.days}, rule pack {pack.id} {pack.version} sets "
            f"{PACK_PARAMETER} = {value.value}"
        )
    return f"checked against rule pack {pack.id} {pack.version}"


def _recompute(
    raw: Mapping[str, Any],
    doc: Attestation,
    verdicts: Mapping[str, OwnershipCheck],
    verification: Verification,
) -> None:
    """Reserve and coverage recomputed from the document's own balances (with the
    auditor's ownership verdicts), prices and statement, under this tool's copy of the
    document's rule pack, by the pipeline's own `figures`; attested figures that differ
    are discrepancies."""
    if doc.rule_pack.id not in known_packs():
        # never load a file a document names: only this tool's own packs are recomputed
        verification.discrepancies.append(
            f"rule pack {short(doc.rule_pack.id)} is not one of this tool's packs "
            f"({', '.join(known_packs())}); reserve and coverage not recomputed"
        )
        return
    pack = load_pack(doc.rule_pack.id)
    if pack.version != doc.rule_pack.version:
        verification.discrepancies.append(
            f"rule pack {pack.id}: the document used version {doc.rule_pack.version}, this tool "
            f"has {pack.version}"
        )
        return
    statement = _statement(doc, verification)
    if statement is None:
        return
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
        snapshot_doc(doc, verdicts, report),
        as_of=as_of,
        min_coverage=threshold(thresholds, "min_coverage"),
        min_combined=threshold(thresholds, "min_combined"),
    )
    verification.reconciliation = rec
    verification.report = build_report(rec, generated_at=doc.as_of, input_hashes={})
    verification.checks.append(
        f"reserve recomputed under {pack.id} {pack.version} and coverage recomputed from the "
        "attested balances, prices and statement"
    )
    compare_figures(report, verification.report, verification)


def _statement(doc: Attestation, verification: Verification) -> ReserveStatement | None:
    """The reserve statement the document carries (``reserve.statement_toml``), parsed;
    None (and a discrepancy) when it is missing or not TOML."""
    text = doc.reserve.get("statement_toml")
    if not isinstance(text, str):
        verification.discrepancies.append("the reserve statement is not in the document")
        return None
    try:
        parsed = safetoml.loads(text, source="attestation reserve.statement_toml")
    except InputError as exc:
        verification.discrepancies.append(
            f"the document's reserve.statement_toml is not TOML ({short(exc.message)})"
        )
        return None
    return parse_statement(parsed, "attestation reserve.statement_toml")


__all__: Sequence[str] = ("NOT_PINNED", "auditor_public_key", "verify")
