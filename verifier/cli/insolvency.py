"""`por insolvency …`: an administrator's distribution of customer assets after a failure.

Where it sits: the CLI layer. Each command parses its options, calls verifier/insolvency/
(claims register, distribution plan, verification, payouts) and prints the result as text
or one --json document. The formats are docs/spec/por-insolvency-v1.md.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from verifier.base.console import out, print_json, print_table, progress_bar
from verifier.base.errors import EXIT_OK, InputError
from verifier.cli.options import JSON_OPTION

log = logging.getLogger(__name__)


@click.group()
def insolvency() -> None:
    """An administrator's distribution of customer assets after a failure.

    The claims register at the commencement date (committed as a por-mst-v1 tree, so each
    customer can check their claim), the distribution plan, each customer's check of their
    distribution, and the payouts made against the plan."""


@insolvency.command("claims")
@click.option(
    "--tree",
    "tree_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="The exchange's liabilities tree directory (with its secret) at the commencement date.",
)
@click.option(
    "--as-of",
    required=True,
    help="The commencement date (2026-11-21) or time with its zone (2026-11-21T00:00:00Z); "
    "the tree's as_of must fall on the same UTC date.",
)
@click.option(
    "--prices",
    "prices_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Prices TOML at the valuation date (docs/files.md): values every claim exactly; "
    "it must price every asset that has claims.",
)
@click.option(
    "--attestation-id",
    default=None,
    help="The claims tree's attestation id (default: the source tree's id + '/claims').",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="The claims directory to create (claims.json is its public part).",
)
@click.option("--exchange", default=None, help="The failed exchange's name, for claims.json.")
@click.option(
    "--not-covered",
    "notes",
    multiple=True,
    help="A further statement of what the register does not cover (repeatable).",
)
@click.option(
    "--secret-file",
    type=click.Path(path_type=Path),
    default=None,
    help="The source tree's master secret, if not where its build put it.",
)
@click.option("--force", is_flag=True, help="Replace a non-empty claims directory.")
@click.option(
    "--workers",
    default=0,
    type=click.IntRange(0, 64),
    help="Worker processes (default: one per core).",
)
@JSON_OPTION
def claims_cmd(
    tree_dir: Path,
    as_of: str,
    prices_file: Path | None,
    attestation_id: str | None,
    out_dir: Path,
    exchange: str | None,
    notes: tuple[str, ...],
    secret_file: Path | None,
    force: bool,
    workers: int,
    as_json: bool,
) -> int:
    """Draw the claims register at the commencement date from the liabilities tree.

    Audits the tree in full with its secret, then writes OUT: claims.json (public: totals
    per asset, values with --prices, what the register does not cover), register.csv and
    register.parquet (private: one row per customer and asset), and tree/, the claims tree
    (por-mst-v1, one leaf per customer, a new secret) from which `por liabilities proof
    OUT/tree ID` cuts each customer's claim proof. Nothing is left in OUT on error.
    """
    from attestations.store import TreeStore
    from verifier.base.outdir import guard_output
    from verifier.insolvency.claims import check_commencement, read_register, read_valuation
    from verifier.insolvency.claims_files import write_claims

    for name, text in (("--attestation-id", attestation_id), ("--exchange", exchange)):
        if text is not None:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise InputError(f"{name} is not valid UTF-8 text", key=name) from None
    guard_output(
        out_dir,
        [("source tree", tree_dir), ("prices file", prices_file), ("secret file", secret_file)],
        flag="--out",
    )
    with TreeStore(tree_dir, secret_file=secret_file) as store:  # cheap checks first
        commencement = check_commencement(as_of, store.root.as_of, str(store.root_path))
        source_id = store.root.attestation_id
    with progress_bar(True) as progress:
        register = read_register(
            tree_dir, secret_file=secret_file, workers=workers, progress=progress
        )
        valuation = (
            None if prices_file is None else read_valuation(prices_file, register, commencement)
        )
        if valuation is not None and valuation.date != commencement.isoformat():
            log.warning(
                "the prices are of %s, not the commencement date %s", valuation.date, commencement
            )
        doc = write_claims(
            register,
            valuation,
            out_dir,
            attestation_id=attestation_id or f"{source_id}/claims",
            as_of=as_of,
            exchange=exchange,
            notes=notes,
            force=force,
            workers=workers,
            progress=progress,
        )
    summary = _claims_summary(doc, out_dir)
    if as_json:
        print_json(summary)
    else:
        _print_claims(summary)
    return EXIT_OK


def _claims_summary(doc: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """`claims --json`: where the files are and claims.json's public facts."""
    root = doc["root"]
    return {
        "claims_document": str(out_dir / "claims.json"),
        "claims_tree": str(out_dir / "tree"),
        "attestation_id": doc["attestation_id"],
        "commitment": root["commitment"],
        "as_of": doc["as_of"],
        "source": doc["source"],
        "customers": doc["customers"],
        "assets": doc["assets"],
        "valuation": doc["valuation"],
        "total_value": doc["total_value"],
        "not_covered": doc["not_covered"],
        "files": doc["files"],
    }


def _print_claims(summary: dict[str, Any]) -> None:
    from attestations.proofs import format_units
    from verifier.report.figures import money, number, units

    valued = summary["valuation"] is not None
    table = Table(title=f"Claims register {summary['attestation_id']} at {summary['as_of']}")
    for name in ("asset", "customers", "claims") + (("price", "value") if valued else ()):
        table.add_column(name, justify="left" if name == "asset" else "right")
    for asset in summary["assets"]:
        row = [
            asset["code"],
            f"{asset['customers']:,}",
            units(format_units(int(asset["total_units"]), asset["decimals"]), asset["decimals"]),
        ]
        if valued:
            row += [number(asset["price"]), money(asset["total_value"])]
        table.add_row(*row)
    print_table(out, table)
    out.print(f"customers   {summary['customers']:,}")
    if valued:
        currency = summary["valuation"]["currency"]
        out.print(f"total value {money(summary['total_value'])} {currency}")
    out.print(f"commitment  {summary['commitment']}")
    out.print(f"claims document: {summary['claims_document']} (public)")
    out.print(f"claims tree: {summary['claims_tree']} (private; proofs: por liabilities proof)")
    out.print("not covered:")
    for line in summary["not_covered"]:
        out.print(f"  - {line}", markup=False)
