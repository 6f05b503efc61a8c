"""`por verify-proof` and `por verify-ownership`: check what an exchange published.

verify-proof: a customer's inclusion proof, offline — our own por-mst-v1 proofs
(attestations/proofs.py) or another exchange's format (verifier/external/check.py), the
format detected from the file (verifier/external/detect.py) unless --format names it.
verify-ownership: an exchange's published address-ownership signatures, row by row.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from verifier.base.console import err, out, print_json, print_table
from verifier.base.errors import EXIT_OK, InputError, InvalidProof, UsageError
from verifier.cli.options import JSON_OPTION, load_json
from verifier.external.companions import MAX_ASSETS, Companions

FORMAT_HELP = (
    "auto (from the file's shape; a JSON file no other format fits is read as por), por, "
    "okx-v1, okx-v2, bybit, bitget, bitunix, mexc, bitmex, binance-2022, coinex, gate, htx-zk, "
    "swissborg or lemon (docs/formats.md says what each proves, what it reads beside the "
    "proof, and its weaknesses)."
)


@click.command("verify-proof")
@click.argument("proof_file", metavar="PROOF", type=click.Path(path_type=Path))
@click.option(
    "--root",
    "root_file",
    type=click.Path(path_type=Path),
    default=None,
    help="The exchange's published root: por's root.json; for other formats the root hash "
    "(alone, or in a JSON file under a root key) or the format's own root file "
    "(swissborg's audit roots, lemon's root.json).",
)
@click.option(
    "--commitment",
    "commitment_hex",
    default=None,
    help="The published commitment (64 hex digits) to check a por proof against.",
)
@click.option("--format", "proof_format", default="auto", show_default=True, help=FORMAT_HELP)
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
@click.option(
    "--credential-file",
    type=click.Path(path_type=Path),
    default=None,
    help="A file holding your secret credential (swissborg), alone on one line; keep it "
    "mode 0600. Never give the credential itself on the command line.",
)
@click.option(
    "--credential-env",
    metavar="VAR",
    default=None,
    help="The NAME of an environment variable holding your credential (instead of "
    "--credential-file).",
)
@click.option(
    "--batch-proof",
    "batch_proof_file",
    type=click.Path(path_type=Path),
    default=None,
    help="The published batch proofs (gate's proof.csv, htx-zk's proof0.csv): also check "
    "that the batches start from the empty tree and end at the proof's root.",
)
@click.option(
    "--assets",
    "asset_count",
    type=click.IntRange(1, MAX_ASSETS),
    default=None,
    help="zk trees (gate, htx-zk): the asset-list length N of the published version "
    "(default: try the known values and report which verified).",
)
@JSON_OPTION
def verify_proof_cmd(
    proof_file: Path,
    root_file: Path | None,
    commitment_hex: str | None,
    proof_format: str,
    tree_file: Path | None,
    nonce: str | None,
    credential_file: Path | None,
    credential_env: str | None,
    batch_proof_file: Path | None,
    asset_count: int | None,
    as_json: bool,
) -> int:
    """Verify an inclusion proof offline (no network): exit 0 with the balances, 3 if invalid.

    The format is detected from the file: our own por-mst-v1 proofs (from `por liabilities
    proof`) and other exchanges' published formats; --format names it when detection
    cannot. --root checks the proof against the exchange's published root (every format
    that publishes one); --commitment checks a por proof against its commitment.
    """
    companions = Companions(None, credential_file, credential_env, batch_proof_file, asset_count)
    detected = proof_format == "auto"
    if detected:
        from verifier.external.detect import detect_proof_format

        proof_format = detect_proof_format(proof_file)
    if proof_format != "por":
        if commitment_hex is not None:
            raise UsageError("--commitment applies to por proofs; give --root for this format")
        companions = replace(companions, root=root_file)
        return _verify_other(
            proof_file, proof_format, tree_file, nonce, companions, as_json, detected=detected
        )
    if tree_file is not None or nonce is not None:
        raise UsageError("--tree and --nonce apply to other exchanges' formats, not por")
    if companions != Companions():
        raise UsageError(
            "--credential-file, --credential-env, --batch-proof and --assets apply to other "
            "exchanges' formats, not por"
        )
    return _verify_por(proof_file, root_file, commitment_hex, as_json)


def _verify_other(
    proof_file: Path,
    proof_format: str,
    tree_file: Path | None,
    nonce: str | None,
    companions: Companions,
    as_json: bool,
    *,
    detected: bool = False,
) -> int:
    """Another exchange's format (verifier/external/check.py): print the document."""
    from verifier.external.check import render_proof, verify_external_proof

    doc, exit_code = verify_external_proof(
        proof_file, proof_format, tree_file, nonce, companions, detected=detected
    )
    if not as_json:
        for warning in doc.get("warnings", []):
            err.print(f"warning: {warning}", markup=False)
    if as_json:
        print_json(doc)
    else:
        out.print(render_proof(doc), markup=False)
    return exit_code


def _verify_por(
    proof_file: Path, root_file: Path | None, commitment_hex: str | None, as_json: bool
) -> int:
    """Our own por-mst-v1 proof, against root.json or the commitment when given."""
    from attestations.proofs import (
        PROOF_KEYS,
        parse_proof,
        unknown_keys,
        verify_proof,
    )
    from verifier.cli.proof_pins import read_pin

    pin = read_pin(root_file, commitment_hex)
    raw = load_json(proof_file, "proof file")
    try:
        proof = parse_proof(raw)
        warnings = [f"ignored unknown key {k!r}" for k in unknown_keys(raw, PROOF_KEYS)]
        result = verify_proof(
            proof,
            published_root=pin.root,
            published_commitment=pin.commitment,
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
