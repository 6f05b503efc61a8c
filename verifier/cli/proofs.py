"""`por verify-proof` and `por verify-ownership`: check what an exchange published.

verify-proof: a customer's inclusion proof, offline — our own por-mst-v1 proofs
(attestations/proofs.py) or another exchange's format (verifier/external/check.py), the
format detected from the file (verifier/external/detect.py) unless --format names it.
verify-ownership: an exchange's published address-ownership signatures, row by row.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from verifier.base.console import out, print_json, print_table
from verifier.base.errors import EXIT_OK, InputError, InvalidProof, UsageError
from verifier.cli.options import JSON_OPTION, load_json


@click.command("verify-proof")
@click.argument("proof_file", metavar="PROOF", type=click.Path(path_type=Path))
@click.option(
    "--root",
    "root_file",
    type=click.Path(path_type=Path),
    default=None,
    help="The published root document (root.json) to check against.",
)
@click.option(
    "--commitment",
    "commitment_hex",
    default=None,
    help="The published commitment (64 hex digits) to check against.",
)
@click.option(
    "--format",
    "proof_format",
    default="auto",
    show_default=True,
    help="auto (from the file's shape; a JSON file no other format fits is read as por), "
    "por, okx-v1, okx-v2, bybit, bitget, bitmex, binance-2022 or coinex (docs/formats.md "
    "says what each proves and its weaknesses).",
)
@click.option(
    "--tree",
    "tree_file",
    type=click.Path(path_type=Path),
    default=None,
    help="The full liabilities tree file (okx-v2).",
)
@click.option(
    "--nonce",
    default=None,
    help="bitmex: ACCOUNT,NONCE_HEX to find an account's leaves; binance-2022: a "
    "leaf hash to look for.",
)
@JSON_OPTION
def verify_proof_cmd(
    proof_file: Path,
    root_file: Path | None,
    commitment_hex: str | None,
    proof_format: str,
    tree_file: Path | None,
    nonce: str | None,
    as_json: bool,
) -> int:
    """Verify an inclusion proof offline (no network): exit 0 with the balances, 3 if invalid.

    The format is detected from the file: our own por-mst-v1 proofs (from `por liabilities
    proof`) and other exchanges' published formats; --format names it when detection
    cannot. --root or --commitment checks a por proof against the published root.
    """
    if proof_format == "auto":
        from verifier.external.detect import detect_proof_format

        proof_format = detect_proof_format(proof_file)
        if proof_format != "por" and (root_file is not None or commitment_hex is not None):
            raise UsageError(
                f"--root and --commitment apply to por proofs; {proof_file} is a "
                f"{proof_format} proof"
            )
        if proof_format != "por":
            proof_format = "auto"  # the result then says it was detected
    if proof_format != "por":
        from verifier.external.check import render_proof, verify_external_proof

        if root_file is not None or commitment_hex is not None:
            raise UsageError("--root and --commitment apply to --format por only")
        doc, exit_code = verify_external_proof(proof_file, proof_format, tree_file, nonce)
        if as_json:
            print_json(doc)
        else:
            out.print(render_proof(doc), markup=False)
        return exit_code
    if tree_file is not None or nonce is not None:
        raise UsageError("--tree and --nonce apply to other exchanges' formats, not por")
    from attestations.proofs import (
        PROOF_KEYS,
        parse_proof,
        parse_root_document,
        unknown_keys,
        verify_proof,
    )

    if root_file is not None and commitment_hex is not None:
        raise UsageError("give --root or --commitment, not both")
    raw = load_json(proof_file, "proof file")
    published_root = None
    published_commitment = None
    if root_file is not None:
        try:
            published_root = parse_root_document(load_json(root_file, "root document"))
        except InvalidProof as exc:
            raise InputError(f"root document: {exc.message}", file=str(root_file)) from exc
    if commitment_hex is not None:
        text = commitment_hex.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", text):
            raise InputError("--commitment must be 64 hex digits", value=commitment_hex)
        published_commitment = bytes.fromhex(text)
    try:
        proof = parse_proof(raw)
        warnings = [f"ignored unknown key {k!r}" for k in unknown_keys(raw, PROOF_KEYS)]
        result = verify_proof(
            proof,
            published_root=published_root,
            published_commitment=published_commitment,
            warnings=warnings,
        )
    except InvalidProof as exc:
        # the check names the field; say which file it is in
        detail = exc.message.removeprefix(f"{exc.check}: ")
        raise InvalidProof(exc.check, f"{proof_file}: {detail}") from None
    if as_json:
        print_json(result.to_json())
        return EXIT_OK
    out.print(
        f"[bold green]VALID[/bold green] proof for account {escape(repr(result.account_id))} "
        f"in attestation {escape(repr(result.attestation_id))} as of {escape(result.as_of)}"
    )
    table = Table(show_header=True)
    table.add_column("asset")
    table.add_column("balance", justify="right")
    for code, amount in result.balances_whole().items():
        table.add_row(code, amount)
    print_table(out, table)
    out.print("checked:")
    for check in result.checks:
        out.print(f"  [green]✓[/green] {escape(check)}")
    for warning in result.warnings:
        out.print(f"  [yellow]![/yellow] {escape(warning)}")
    return EXIT_OK


@click.command(
    "verify-ownership",
    short_help="Check an exchange's published address-ownership signatures, row by row.",
)
@click.argument("ownership_file", metavar="FILE", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "file_format",
    required=True,
    type=click.Choice(["okx", "summa", "htx", "por"]),
    help="okx (test.csv), summa (chain;address;signature;message), htx, or por "
    "(our attestation's wallet list).",
)
@JSON_OPTION
def verify_ownership_cmd(ownership_file: Path, file_format: str, as_json: bool) -> int:
    """Check an exchange's published address-ownership signatures, row by row: valid,
    invalid (with the reason), unsigned, or unsupported chain; a summary per coin."""
    from verifier.external.check import render_ownership, verify_ownership

    try:
        doc, code = verify_ownership(ownership_file, file_format)
    except InputError as exc:
        if exc.file is not None:
            raise
        # the parsers know the line and column, not the file's name
        error = type(exc)(exc.message, file=str(ownership_file))
        error.line, error.key, error.value = exc.line, exc.key, exc.value
        raise error from None
    except InvalidProof as exc:
        detail = exc.message.removeprefix(f"{exc.check}: ")
        raise InvalidProof(exc.check, f"{ownership_file}: {detail}") from None
    if as_json:
        print_json(doc)
    else:
        out.print(render_ownership(doc), markup=False)
    return code
