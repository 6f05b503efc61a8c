"""`por attest` (exchange: sign the outcome) and `por verify` (auditor: check it).

attest reconciles (verifier/jobs/pipeline.py) and writes the signed por-attestation-v1
document with verifier/jobs/attest.py; verify checks such a document end to end with
verifier/jobs/verify.py and prints every check, warning and discrepancy, the verdict last.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from verifier.base.console import err, out, print_json, print_wrapped, progress_bar
from verifier.base.errors import EXIT_OK, EXIT_SHORTFALL, InputError, UsageError
from verifier.base.redact import mask_text
from verifier.cli.options import CONFIG_OPTION, JSON_OPTION, heights


def _reconcile(
    config_file: Path, btc_height: int | None, eth_block: int | None, quiet: bool
) -> tuple[Any, Any, Any]:
    """The reconciliation `por attest` signs: (config, inputs, outcome), at the pinned
    heights or the tips (a progress bar on stderr unless `quiet`)."""
    from verifier.holdings.plans import build_plans
    from verifier.inputs.config import load_config
    from verifier.jobs.pipeline import load_inputs, reconcile_now

    config = load_config(config_file)
    inputs = load_inputs(config)
    plans = build_plans(config, btc_height=btc_height, eth_block=eth_block)
    with progress_bar(not quiet) as progress:
        outcome = reconcile_now(config, plans, progress)
    return config, inputs, outcome


@click.command(
    "attest", short_help="Reconcile, then write the signed attestation (Ed25519) and its report."
)
@CONFIG_OPTION
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory for attestation.json, root.json, report.json and report.html.",
)
@heights
@JSON_OPTION
def attest_cmd(
    config_file: Path, out_dir: Path, btc_height: int | None, eth_block: int | None, as_json: bool
) -> int:
    """Exchange: reconcile, then write the signed por-attestation-v1 document (Ed25519; the
    key file is [attest] key_file, mode 0600, made by `por keys create`: never by attest).

    OUT is written whole (attestation.json, root.json, report.json, report.html) or not at
    all: a failure midway leaves the previous attestation directory as it was. OUT may not
    hold or lie inside any input the config names (exit 2), nor hold other files."""
    from verifier.base.outdir import guard_output
    from verifier.inputs.config import load_config
    from verifier.jobs.attest import attest, attest_inputs, check_attestation_dir

    # before the snapshot, and before anything is touched
    config = load_config(config_file)
    guard_output(out_dir, attest_inputs(config), flag="--out")
    check_attestation_dir(out_dir)
    if config.reconcile.key_file is None:
        raise InputError(
            "missing: the Ed25519 signing key file (then create it: `por keys create`)",
            file=str(config.path),
            key="attest.key_file",
        )
    from verifier.inputs.keys import load_signing_key

    load_signing_key(config.reconcile.key_file)  # missing or unsafe: say so before any node
    config, inputs, outcome = _reconcile(config_file, btc_height, eth_block, as_json)
    key_file = config.reconcile.key_file
    assert key_file is not None  # the same config file, checked above
    doc = attest(config, inputs, outcome, out_dir, key_file)
    summary = {
        "attestation": str(out_dir / "attestation.json"),
        "public_key": doc["signature"]["public_key"],
        "exit_code": outcome.exit_code,
        "verdict": outcome.report["verdict"],
    }
    if as_json:
        print_json(summary)
    else:
        out.print(
            f"attestation written to {out_dir / 'attestation.json'}, signed by public key "
            f"{doc['signature']['public_key']}: publish it, so auditors can pin it "
            "(por verify --public-key)"
        )
    return EXIT_OK


@click.command("verify")
@click.argument("attestation", type=click.Path(path_type=Path))
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Auditor config: the auditor's own nodes ([bitcoin], [ethereum]), the expected "
    "[exchange] name and attestation_id, and the pinned [attest] public_key.",
)
@click.option(
    "--public-key",
    default=None,
    help="The exchange's published public key (64 hex digits): the signer must be it.",
)
@click.option(
    "--public-key-file",
    default=None,
    type=click.Path(path_type=Path),
    help="The same, read from a .pub file (as `por keys create` writes it).",
)
@click.option(
    "--trust-embedded-key",
    is_flag=True,
    help="Accept whichever key the document carries (the result says signer_pinned false).",
)
@JSON_OPTION
def verify_cmd(
    attestation: Path,
    config_file: Path | None,
    public_key: str | None,
    public_key_file: Path | None,
    trust_embedded_key: bool,
    as_json: bool,
) -> int:
    """Check an attestation end to end and list every discrepancy. Exit 0 valid and
    covered, 1 valid but a shortfall, 3 a discrepancy or invalid document, 4 node failure.

    The signer must be pinned: --public-key, --public-key-file or [attest] public_key in the
    auditor config (a flag wins over the config). A signature checked only against the key
    the document carries proves nothing about who signed, so without a pinned key the
    result is "not verified" (exit 3) unless --trust-embedded-key is given."""
    from verifier.inputs.config import load_config
    from verifier.inputs.keys import read_public_key, read_public_key_file
    from verifier.jobs.verify import auditor_public_key, verify

    if public_key is not None and public_key_file is not None:
        raise UsageError("give either --public-key or --public-key-file, not both")
    # an auditor's config may leave out [exchange] attestation_id (checked when given)
    auditor = (
        load_config(config_file, need_attestation_id=False) if config_file is not None else None
    )
    pinned: str | None = None
    if public_key is not None:
        pinned = read_public_key(public_key, source="--public-key")
    elif public_key_file is not None:
        pinned = read_public_key_file(public_key_file)
    elif auditor is not None:
        pinned = auditor_public_key(auditor)
    if pinned is not None and trust_embedded_key:
        raise UsageError(
            "--trust-embedded-key contradicts a pinned public key (--public-key, "
            "--public-key-file or [attest] public_key): drop one"
        )
    result = verify(
        attestation,
        auditor=auditor,
        expected_public_key=pinned,
        trust_embedded_key=trust_embedded_key,
    )
    if result.node_error is not None:  # the run's error, as every command names it (exit 4)
        err.print(f"por: error: {mask_text(result.node_error.message)}", markup=False)
    if as_json:
        print_json(result.to_json())
        return result.exit_code
    _render_verification(result, trust_embedded_key)
    return result.exit_code


def _render_verification(result: Any, trust_embedded_key: bool) -> None:
    """`por verify` in text: what was checked (✓), what was not (!), every discrepancy (✗),
    the recomputed figures in words, and the verdict as the last line (what a log tail or
    a script reading the last line sees)."""
    signer = "the pinned key" if result.signer_pinned else "the document's own key"
    print_wrapped(
        out, f"attestation {result.attestation_id}, signed by {signer} {result.public_key}"
    )
    for check in result.checks:  # wrapped at spaces: no figure or hash is split
        print_wrapped(out, f"  ✓ {check}", subsequent="    ", style="green")
    for warning in result.warnings:  # not checked: neither a pass nor a discrepancy
        pinned = "signer_pinned false: " if warning.startswith("signer not pinned") else ""
        print_wrapped(out, f"  ! {pinned}{warning}", subsequent="    ", style="yellow")
    if result.node_error is not None:
        print_wrapped(
            out,
            f"  ! not re-read: {result.node_error.message}",
            subsequent="    ",
            style="yellow",
        )
    for problem in result.discrepancies:
        print_wrapped(out, f"  ✗ {problem}", subsequent="    ", style="red")
    if result.report is not None:
        verdict = result.report["verdict"]

        def said(key: str) -> str:
            return "yes" if verdict.get(key) is True else "no"

        out.print(
            f"recomputed: covered: {said('covered')}, reserve met: {said('reserve_met')}, "
            f"combined met: {said('combined_met')}",
            markup=False,
        )
    if result.node_error is not None and not result.discrepancies:
        state, colour = "NOT VERIFIED (the auditor's node failed)", "red"
    elif not result.discrepancies:
        state, colour = "VALID", "green"
        if result.exit_code == EXIT_SHORTFALL:
            state = "VALID, SHORTFALL"
        if result.verdict_note is not None:  # never a bare VALID for what was not re-checked
            state, colour = f"{state} ({result.verdict_note})", "yellow"
    elif not result.signer_pinned and not trust_embedded_key:
        state, colour = "NOT VERIFIED", "red"
    else:
        count = len(result.discrepancies)
        state, colour = f"DISCREPANCIES ({count})", "red"
    out.print(
        f"[bold {colour}]{state}[/bold {colour}] attestation {escape(result.attestation_id)}"
        f" (exit {result.exit_code})"
    )
