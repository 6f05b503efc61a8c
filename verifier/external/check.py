"""`por verify-proof --format F` and `por verify-ownership`: other exchanges' published files.

Where it sits: the CLI edge for `attestations/formats/` (liabilities proofs) and
`verifier/external/ownership_files.py` (ownership signatures). It reads the files, calls the pure
verifiers, and returns ``(document, exit_code)``; `verifier/cli/proofs.py` prints the document
(``--json``) or renders it with `render_proof` / `render_ownership`. What a proof is read
with (--root, the credential, --batch-proof, --assets) is `verifier/external/companions.py`.

Exit codes (DESIGN.md): 0 valid; 3 invalid (a failed check, a published root that differs,
an account with no leaf, a sample that passes only under another rule, an invalid ownership
row); 2 usage (unknown format, ``--tree`` missing for okx-v2, a malformed ``--nonce``, an
option the format does not read, a required --root or credential missing). Bad input files
raise `InputError` (3) as everywhere else. The user's credential is masked in every document
and error that leaves this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attestations.formats import FORMATS, ProofInput, check_options, detect
from attestations.formats import verify as verify_format
from verifier.base import safejson
from verifier.base.errors import (
    EXIT_INVALID,
    EXIT_OK,
    InputError,
    InvalidProof,
    PorError,
    UsageError,
)
from verifier.external.companions import Companions, given_placeholders, load_companions
from verifier.external.credential import scrub
from verifier.external.ownership_files import verify_ownership_file

PROOF_FORMATS = (*FORMATS, "auto")
OWNERSHIP_FORMATS = ("okx", "summa", "htx", "por")


def _read(path: Path, what: str) -> bytes:
    return safejson.read_input(path, what=what)


def _level_files(path: Path) -> dict[str, bytes]:
    """Binance 2022: every ``tree-levelK.csv`` beside (or in) `path`."""
    folder = path if path.is_dir() else path.parent
    files = sorted(folder.glob("tree-level*.csv"))
    return {f.name: _read(f, "level file") for f in files}


def load_proof_input(proof_file: Path, tree_file: Path | None, nonce: str | None) -> ProofInput:
    """Read what one `verify-proof` call needs (the formats themselves never open files)."""
    tree = None if tree_file is None else _read(tree_file, "tree file")
    if proof_file.is_dir():
        levels = _level_files(proof_file)
        if not levels:
            raise InputError("no tree-levelK.csv files in this directory", file=str(proof_file))
        return ProofInput(proof_file.name, b"", tree, nonce, levels)
    data = _read(proof_file, "proof file")
    levels = _level_files(proof_file) if proof_file.name.startswith("tree-level") else {}
    return ProofInput(proof_file.name, data, tree, nonce, levels)


def verify_external_proof(
    proof_file: Path,
    fmt: str = "por",
    tree_file: Path | None = None,
    nonce: str | None = None,
    companions: Companions | None = None,
    *,
    detected: bool = False,
) -> tuple[dict[str, Any], int]:
    """Verify a liabilities proof in format `fmt` (``auto`` detects it; `detected` says the
    caller already did, so the result says so without detecting twice).

    Parameters
    ----------
    proof_file
        The proof file; for binance-2022 a ``tree-levelK.csv`` file or their directory.
    fmt
        One of `PROOF_FORMATS`.
    tree_file
        `--tree`: okx-v2's full liabilities tree file.
    nonce
        `--nonce`: BitMEX ``ACCOUNT,NONCE_HEX``; binance-2022 a leaf hash to look for.
    companions
        `--root`, the credential, `--batch-proof`, `--assets`: what the format reads beside.

    Returns
    -------
    tuple[dict, int]
        The result document (``valid``, ``format``, ``checks``, ``balances``, ``root``,
        ``totals``, ``weaknesses``, ``root_matches`` (null without --root), ``warnings``; when
        invalid also ``reason`` and ``check``) and the exit code: 0 valid, 3 invalid. The
        credential appears nowhere in it, nor in any error raised.

    Raises
    ------
    UsageError
        Unknown format; a file or value the format needs is missing (okx-v2's tree, a
        required --root or credential); an option the format does not read; a malformed
        BitMEX nonce; --assets out of range (exit 2).
    InputError
        A file that cannot be read, or `auto` finding no format or several (exit 3).
    """
    if fmt != "auto" and fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r} (one of: {', '.join(FORMATS)}, auto)")
    if fmt != "auto" and FORMATS[fmt].needs_tree and tree_file is None:
        raise UsageError(f"--format {fmt} needs --tree FILE (the full liabilities tree)")
    inp = load_proof_input(proof_file, tree_file, nonce)
    name = detect(inp) if fmt == "auto" else fmt
    given = companions or Companions()
    # usage errors first: a companion the format does not read is refused unread
    check_options(FORMATS[name], given_placeholders(inp, given))
    inp, warnings = load_companions(inp, given)
    try:
        doc, code = _verified(name, inp)
    except PorError as exc:
        raise _scrubbed(exc, inp.credential) from None
    if fmt == "auto" or detected:
        doc["detected"] = True
    if warnings:
        doc["warnings"] = [*doc.get("warnings", []), *warnings]
    return scrub(doc, inp.credential), code


def _verified(name: str, inp: ProofInput) -> tuple[dict[str, Any], int]:
    """The result document of one format and its exit code (a failed check is a document)."""
    try:
        result = verify_format(name, inp)
    except InvalidProof as exc:
        doc: dict[str, Any] = {
            "valid": False,
            "format": name,
            "checks": [],
            "balances": {},
            "root": None,
            "totals": {},
            "weaknesses": list(FORMATS[name].weaknesses),
            "reason": exc.message,
            "check": exc.check,
            # a format that reads its own root file reports a mismatch under this check too
            "root_matches": False if exc.check == "published root" else None,
        }
        return doc, EXIT_INVALID
    doc = result.to_json()
    doc.setdefault("root_matches", None)
    return doc, EXIT_OK if result.valid else EXIT_INVALID


def _scrubbed(exc: PorError, credential: str | None) -> PorError:
    """`exc` with the credential masked in its message (a format must never quote it;
    this makes sure)."""
    if credential and credential in exc.message:
        exc.message = scrub(exc.message, credential)
        exc.args = (exc.message,)
    return exc


def verify_ownership(ownership_file: Path, fmt: str) -> tuple[dict[str, Any], int]:
    """Check every row of a published ownership file.

    Parameters
    ----------
    ownership_file
        The CSV (okx, summa, htx) or our attestation.json (por).
    fmt
        One of `OWNERSHIP_FORMATS`.

    Returns
    -------
    tuple[dict, int]
        ``{"valid", "format", "counts", "rows": [{coin, chain, address, status, scheme,
        variant, reason, ...}], "summary": {coin: {...}}, "summary_by_chain": {chain: {coin:
        {...}}}, "weaknesses": [...]}`` and the exit code: 0 if no row is invalid, else 3.
        Each summary entry counts the rows per status and sums the proven, unsigned,
        invalid and unsupported balances and their total (None when the file states none).
    """
    if fmt not in OWNERSHIP_FORMATS:
        raise UsageError(f"unknown --format {fmt!r} (one of: {', '.join(OWNERSHIP_FORMATS)})")
    report = verify_ownership_file(
        _read(ownership_file, "ownership file"), fmt, str(ownership_file)
    )
    return report.to_json(), EXIT_OK if report.valid else EXIT_INVALID


def render_proof(doc: dict[str, Any]) -> str:
    """Human-readable text of a `verify_external_proof` document (no markup)."""
    head = "VALID" if doc["valid"] else "INVALID"
    lines = [f"{head} {doc['format']} proof"]
    if not doc["valid"]:
        lines.append(f"  reason: {doc.get('reason')}")
        if doc.get("passes_under"):
            lines.append(f"  would pass under: {doc['passes_under']}")
    if doc.get("root"):
        lines.append(f"root: {doc['root']}")
    matches = doc.get("root_matches")
    if matches is not None:
        lines.append(f"published root: {'matches' if matches else 'DOES NOT MATCH'}")
    elif doc["valid"] and FORMATS.get(doc["format"]) and FORMATS[doc["format"]].published_root:
        lines.append("published root: not checked (give --root FILE)")
    if doc.get("variant") is not None:
        lines.append(f"variant: {doc['variant']}")
    for title, key in (("balances", "balances"), ("totals", "totals")):
        if doc.get(key):
            lines.append(f"{title}:")
            lines += [f"  {asset:>8} {amount}" for asset, amount in doc[key].items()]
    if doc.get("checks"):
        lines.append("checked:")
        lines += [f"  + {check}" for check in doc["checks"]]
    lines.append("does not prove (weaknesses):")
    lines += [f"  ! {w}" for w in doc["weaknesses"]]
    return "\n".join(lines)


def render_ownership(doc: dict[str, Any]) -> str:
    """Human-readable text of a `verify_ownership` document (no markup)."""
    counts = doc["counts"]
    lines = [
        f"{'VALID' if doc['valid'] else 'INVALID'} {doc['format']} ownership file: "
        + ", ".join(f"{n} {status}" for status, n in counts.items())
    ]
    for row in doc["rows"]:
        how = row.get("scheme") or ""
        if row.get("variant"):
            how += f" ({row['variant']})"
        lines.append(
            f"  line {row['line']:>4} {row['coin']:<8} {row.get('chain') or '?':<10} "
            f"{row['address']}  {row['status']}{' ' + how if how else ''}: {row['reason']}"
        )
    lines.append("summary by coin:")
    for coin, entry in doc["summary"].items():
        lines.append(f"  {coin}: {_summary_parts(entry)}")
    if doc.get("summary_by_chain"):
        lines.append("summary by chain:")
        for chain, coins in doc["summary_by_chain"].items():
            lines.append(f"  {chain}:")
            lines += [f"    {coin}: {_summary_parts(entry)}" for coin, entry in coins.items()]
    if doc.get("weaknesses"):
        lines.append("does not prove (weaknesses):")
        lines += [f"  ! {w}" for w in doc["weaknesses"]]
    return "\n".join(lines)


def _summary_parts(entry: dict[str, Any]) -> str:
    """``valid=2, proven_balance=1.5, …``: the non-empty figures of a summary entry."""
    return ", ".join(
        f"{k}={v}"
        for k, v in entry.items()
        if v is not None and v != 0 and (v != "0" or k == "reported_balance")
    )
