"""An attestation directory, read and checked before anything of it is published.

Where it sits: the first step of `por publish` (verifier/site/publish.py), after `por attest`
wrote ``attestation.json``, ``root.json`` and (optionally) ``report.json``. `load_bundle`
returns an `AttestationBundle` whose every figure comes from the signed document; the pages
(verifier/site/pages.py) render only what it holds.

Invariants: the attestation verifies (signature and structure) and its root document's
commitment recomputes; ``root.json`` and ``report.json`` are published only when they are
exactly (as JSON values, types included) the attestation's signed ``liabilities`` and
``report`` members; a refusal names the file and the first differing field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from attestations.document.sign import verify_attestation
from attestations.proofs import check_root_document, parse_root_document
from verifier.base import safejson
from verifier.base.errors import InputError, NotFound
from verifier.site.files import read_input, read_json

REPORT_FORMAT = "por-report-v1"


@dataclass(frozen=True, slots=True)
class AttestationBundle:
    """What `build_site` reads from an attestation directory, checked."""

    attestation: Mapping[str, Any]
    """The signed ``por-attestation-v1`` document (verified)."""
    attestation_bytes: bytes
    """``attestation.json`` exactly as published."""
    root: Mapping[str, Any]
    """The root document (``por-mst-v1``): the attestation's ``liabilities`` member."""
    root_bytes: bytes
    """``root.json`` as published (or the ``liabilities`` member, serialised)."""
    report: Mapping[str, Any] | None
    """The ``por-report-v1`` report: ``report.json``, else the attestation's ``report``."""
    report_bytes: bytes | None


# ----------------------------------------------------------------------------- comparing


def field_name(path: str, key: str | int) -> str:
    """``assets[0].coverage_ratio``: where a value sits, for messages."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) is not None
    shown = key if plain else json.dumps(key)
    if not plain:
        return f"{path}[{shown}]"
    return f"{path}.{shown}" if path else shown


def _first_difference(ours: Any, signed: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first field where `ours` differs from `signed` (types compared too: ``1`` is not
    ``true``), as (field, our value, signed value); None when they are the same JSON."""
    if type(ours) is not type(signed):
        return path, ours, signed
    if isinstance(ours, dict):
        for key in [*ours, *(k for k in signed if k not in ours)]:
            if key not in signed or key not in ours:
                return field_name(path, key), ours.get(key, _MISSING), signed.get(key, _MISSING)
            found = _first_difference(ours[key], signed[key], field_name(path, key))
            if found is not None:
                return found
        return None
    if isinstance(ours, list):
        for n, (a, b) in enumerate(zip(ours, signed, strict=False)):
            found = _first_difference(a, b, field_name(path, n))
            if found is not None:
                return found
        if len(ours) != len(signed):
            n = min(len(ours), len(signed))
            return (
                field_name(path, n),
                ours[n] if n < len(ours) else _MISSING,
                signed[n] if n < len(signed) else _MISSING,
            )
        return None
    return None if ours == signed else (path, ours, signed)


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


_MISSING: Any = _Missing()


def shown(value: Any) -> str:
    """A JSON value for a message, cut to 60 characters."""
    if value is _MISSING:
        return "missing"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _require_signed(path: Path, ours: Any, signed: Any, what: str) -> None:
    """Refuse a published file whose content is not exactly the signed `what`."""
    found = _first_difference(ours, signed)
    if found is None:
        return
    field, here, there = found
    raise InputError(
        f"differs from the {what} signed in attestation.json (a site shows only signed "
        f"content): {shown(here)} here, {shown(there)} signed",
        file=str(path),
        key=field or "(the whole document)",
    )


def _plain(value: Any) -> Any:
    """A verified attestation as plain dicts and lists (a deep copy: nothing shared)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _bound_commitment(report: Mapping[str, Any]) -> Any:
    binding = report.get("attestation")
    return binding.get("commitment") if isinstance(binding, Mapping) else None


def load_bundle(attestation_dir: Path) -> AttestationBundle:
    """Read and check an attestation directory (``attestation.json``, ``root.json``, ...).

    Everything the site will show comes from the signed document: ``root.json`` and
    ``report.json`` are published only when they are exactly (as JSON values) the
    attestation's ``liabilities`` and ``report`` members.

    Parameters
    ----------
    attestation_dir
        What `por attest` wrote: ``attestation.json``, ``root.json``, optionally
        ``report.json``.

    Returns
    -------
    AttestationBundle

    Raises
    ------
    NotFound
        No ``attestation.json``.
    InvalidProof
        The attestation does not verify (signature, structure), or its root document's
        commitment does not recompute.
    InputError
        A file is not acceptable JSON; ``root.json`` is not the attestation's
        ``liabilities`` member; ``report.json`` is for another attestation, is not the
        attestation's signed ``report`` member (the message names the first differing
        field), or there is no signed report to compare it with.
    """
    if not attestation_dir.is_dir():
        raise NotFound("attestation directory not found", file=str(attestation_dir))
    att_path = attestation_dir / "attestation.json"
    attestation_bytes = read_input(att_path, what="attestation file")
    doc = safejson.loads(
        attestation_bytes,
        source=str(att_path),
        parse_float=Decimal,
        strict_keys=True,
        what="attestation",
    )
    verify_attestation(doc)
    plain = _plain(doc)
    liabilities = plain["liabilities"]
    check_root_document(parse_root_document(liabilities))
    root_path = attestation_dir / "root.json"
    if root_path.exists() or root_path.is_symlink():
        root_bytes = read_input(root_path, what="root document")
        ours = read_json(root_bytes, root_path, "root document")
        _require_signed(root_path, ours, liabilities, "root document")
    else:
        root_bytes = (json.dumps(liabilities, indent=2) + "\n").encode()
    signed = plain.get("report")
    signed_report = signed if isinstance(signed, Mapping) and "report" in signed else None
    report: Mapping[str, Any] | None = None
    report_bytes: bytes | None = None
    report_path = attestation_dir / "report.json"
    if report_path.exists() or report_path.is_symlink():
        report_bytes = read_input(report_path, what="report")
        ours = read_json(report_bytes, report_path, "report")
        if not isinstance(ours, Mapping) or ours.get("report") != REPORT_FORMAT:
            raise InputError(f"the report is not a {REPORT_FORMAT} document", file=str(report_path))
        committed = _bound_commitment(ours)
        if committed is not None and committed != liabilities["commitment"]:
            raise InputError(
                "the report is for another attestation (its liabilities commitment differs)",
                file=str(report_path),
            )
        if signed is None:
            raise InputError(
                "the report is not signed: attestation.json carries no report, so its figures "
                "cannot be shown as the exchange's (remove report.json, or attest again)",
                file=str(report_path),
            )
        _require_signed(report_path, ours, signed, "report")
        report = ours
    elif signed_report is not None:
        if signed_report.get("report") != REPORT_FORMAT:
            raise InputError(
                f"the signed report is not a {REPORT_FORMAT} document", file=str(att_path)
            )
        committed = _bound_commitment(signed_report)
        if committed is not None and committed != liabilities["commitment"]:
            raise InputError(
                "the signed report is for another attestation (its liabilities commitment differs)",
                file=str(att_path),
            )
        report = signed_report
        report_bytes = (json.dumps(report, indent=2) + "\n").encode()
    return AttestationBundle(
        attestation=plain,
        attestation_bytes=attestation_bytes,
        root=liabilities,
        root_bytes=root_bytes,
        report=report,
        report_bytes=report_bytes,
    )
