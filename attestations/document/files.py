"""Read attestation files strictly and publish them atomically.

Where it sits: attestations/document/, the file edge of the package. `loads_attestation` and
`load_attestation` decode JSON through `verifier.base.safejson` (bounded nesting and numbers,
duplicate keys refused) but do not check the document: sign.py `verify_attestation` does.
`write_attestation` verifies a signed document, then writes ``attestation.json`` (pretty,
`pretty_json`) and ``root.json`` (its liabilities member), each atomically, root first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from attestations.document.sign import verify_attestation
from verifier.base import safejson
from verifier.base.atomic import write_atomic
from verifier.base.errors import InputError, InvalidProof, NotFound, StoreError

# safejson's refusals that make a document ambiguous rather than unreadable: a signed
# document must mean one thing, so they are a "format" failure of the attestation
_AMBIGUOUS = ("twice in one object", "which is not a JSON number")


def loads_attestation(data: bytes | str, *, source: str | None = None) -> Any:
    """Parse attestation JSON strictly (not yet checked: see `verify_attestation`).

    Decoded by `verifier.base.safejson`: nesting, integer literals and exponents are bounded (a
    100,000-level document is refused, not a crash). Non-integer numbers are kept as
    `Decimal` so the checks report them with their path; duplicate keys and NaN/Infinity
    are refused outright.

    Parameters
    ----------
    data
        UTF-8 JSON text.
    source
        File name for error messages.

    Returns
    -------
    Any
        The parsed value.

    Raises
    ------
    InputError
        Not UTF-8, not JSON, nested too deeply, or a number beyond the bounds.
    InvalidProof
        ``"format"`` for duplicate keys or NaN/Infinity.
    """
    name = source if source is not None else "attestation"
    try:
        return safejson.loads(
            data, source=name, parse_float=Decimal, strict_keys=True, what="attestation"
        )
    except InputError as exc:
        if source is None:  # no file name to give: say what it is instead
            where = f"{name}: line {exc.line}: " if exc.line is not None else f"{name}: "
            message = exc.message.removeprefix(where)
            error = InputError(message, line=exc.line)
        else:
            error = exc
        if any(reason in error.message for reason in _AMBIGUOUS):
            raise InvalidProof("format", error.message) from None
        raise error from None


def load_attestation(path: Path) -> Any:
    """Read an attestation file with `loads_attestation` (does not verify it).

    Parameters
    ----------
    path
        ``attestation.json``.

    Returns
    -------
    Any
        The parsed document.

    Raises
    ------
    NotFound, InputError, InvalidProof
        As `loads_attestation`, or the file is missing or unreadable.
    """
    if not path.exists():
        raise NotFound("attestation file not found", file=str(path))
    data = safejson.read_input(path, what="attestation file")
    return loads_attestation(data, source=str(path))


def pretty_json(doc: Mapping[str, Any]) -> bytes:
    """The published layout: 2-space indent, key order kept, UTF-8, final newline.

    Parameters
    ----------
    doc
        A JSON-able document.

    Returns
    -------
    bytes
    """
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_attestation(directory: Path, doc: Mapping[str, Any]) -> tuple[Path, Path]:
    """Publish a signed document: ``DIR/attestation.json`` and ``DIR/root.json`` (0644).

    ``attestation.json`` is pretty-printed (`pretty_json`), not canonical: verification
    recomputes the canonical form. ``root.json`` is the document's ``liabilities`` member,
    laid out as attestations/build.py writes it. Each file is written atomically; root.json
    first, so a reader never sees an attestation without its root document.

    Parameters
    ----------
    directory
        Output directory (created if needed).
    doc
        A signed attestation document; it is verified before anything is written.

    Returns
    -------
    tuple of Path
        (attestation.json, root.json).

    Raises
    ------
    InvalidProof
        If `doc` does not verify (nothing is written).
    StoreError
        If the files cannot be written.
    """
    verify_attestation(doc)
    attestation_path = directory / "attestation.json"
    root_path = directory / "root.json"

    def refused(exc: OSError) -> StoreError:
        return StoreError(f"{directory}: cannot write the attestation ({exc.strerror})")

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise refused(exc) from exc
    write_atomic(
        root_path, (json.dumps(doc["liabilities"], indent=2) + "\n").encode(), error=refused
    )
    write_atomic(attestation_path, pretty_json(doc), error=refused)
    return attestation_path, root_path
