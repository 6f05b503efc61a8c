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

from verifier.base.console import err, out, print_json, print_table, progress_bar
from verifier.base.errors import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_SHORTFALL,
    UsageError,
)
from verifier.cli.options import (
    JSON_OPTION,
    WORKERS_OPTION,
    check_text,
    db_options,
    open_store,
)

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
@WORKERS_OPTION
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

    check_text("--attestation-id", attestation_id)
    check_text("--exchange", exchange)
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


# ----------------------------------------------------------------------------- the plan


@insolvency.command("plan")
@click.option(
    "--claims",
    "claims_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The claims directory (por insolvency claims --out).",
)
@click.option(
    "--estate",
    "estate_file",
    required=True,
    type=click.Path(path_type=Path),
    help="The estate TOML: what the administrator has (docs/spec/por-insolvency-v1.md).",
)
@click.option(
    "--policy",
    type=click.Choice(["in-kind", "fiat", "mixed"]),
    default=None,
    help="Override the estate's policy: in kind per asset, all in fiat, or in kind topped "
    "up in fiat.",
)
@click.option(
    "--attestation-id",
    default=None,
    help="The distribution tree's attestation id (default: the claims id + '/distribution').",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="The plan directory to create (plan.json is its public part).",
)
@click.option("--force", is_flag=True, help="Replace a non-empty plan directory.")
@JSON_OPTION
def plan_cmd(
    claims_dir: Path,
    estate_file: Path,
    policy: str | None,
    attestation_id: str | None,
    out_dir: Path,
    force: bool,
    as_json: bool,
) -> int:
    """Administrator: the distribution plan from the claims register and the estate.

    Per asset, D = min(available, total claims) is shared pro rata in base units, the
    remainder by a stated order (remainder, then claim-tree leaf hash), never netted
    across assets; fiat and mixed policies share a fiat pool by the same rule. Writes OUT:
    plan.json (public, with everything a customer needs to recompute their share), tree/
    (the distribution tree, por-mst-v1, a new secret) and distributions.csv / .parquet
    (private). Nothing is left in OUT on error."""
    from verifier.insolvency.plan import make_plan

    check_text("--attestation-id", attestation_id)
    with progress_bar(True) as progress:
        result = make_plan(
            claims_dir,
            estate_file,
            out_dir,
            policy=policy,
            attestation_id=attestation_id,
            force=force,
            progress=progress,
        )
    summary = _plan_summary(result.doc, out_dir)
    if as_json:
        print_json(summary)
    else:
        _print_plan(summary)
    return EXIT_OK


def _plan_summary(doc: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """`plan --json`: where the files are and plan.json's figures."""
    return {
        "plan_document": str(out_dir / "plan.json"),
        "distribution_tree": str(out_dir / "tree"),
        "plan_id": doc["plan_id"],
        "policy": doc["policy"],
        "claims": doc["claims"],
        "assets": doc["assets"],
        "fiat": doc["fiat"],
        "distribution": {
            "attestation_id": doc["distribution"]["attestation_id"],
            "commitment": doc["distribution"]["root"]["commitment"],
            "totals": doc["distribution"]["totals"],
        },
        "files": doc["files"],
    }


def _print_plan(summary: dict[str, Any]) -> None:
    from attestations.proofs import format_units

    def units(text: str, decimals: int) -> str:
        """Every digit (ETH 3.000000000000000001, never rounded to 8), thousands grouped."""
        whole, _, frac = text.partition(".")
        return f"{int(whole):,}" + (f".{frac}" if frac else "")

    table = Table(title=f"Distribution plan ({summary['policy']})")
    for name in ("asset", "claims", "available", "distributed", "ratio", "paid"):
        table.add_column(name, justify="left" if name == "asset" else "right")
    for a in summary["assets"]:
        d = a["decimals"]
        ratio = a["ratio"]["percent"] if a["ratio"] else "-"
        table.add_row(
            a["code"],
            units(format_units(int(a["total_claims"]), d), d),
            units(format_units(int(a["available"]), d), d),
            units(format_units(int(a["distributed_total"]), d), d),
            ratio,
            "in kind" if a["in_kind"] else "sold",
        )
    fiat = summary["fiat"]
    if fiat is not None:
        d = fiat["decimals"]
        table.add_row(
            fiat["currency"],
            units(format_units(int(fiat["claims_value"]), d), d),
            units(format_units(int(fiat["pool"]), d), d),
            units(format_units(int(fiat["distributed_total"]), d), d),
            fiat["ratio"]["percent"] if fiat["ratio"] else "-",
            "fiat",
        )
    print_table(out, table)
    out.print(f"plan id     {summary['plan_id']}", markup=False)
    out.print(f"commitment  {summary['distribution']['commitment']} (distribution tree)")
    out.print(f"plan document: {summary['plan_document']} (public)", markup=False)
    out.print(
        f"distribution tree: {summary['distribution_tree']} (private; proofs: por insolvency "
        "proof)",
        markup=False,
    )


# ----------------------------------------------------------------------------- customer's check


@insolvency.command("proof")
@click.option(
    "--plan",
    "plan_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The plan directory (plan.json and the distribution tree, tree/).",
)
@click.option(
    "--claims",
    "claims_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The claims directory the plan was made from (its claims tree, tree/).",
)
@click.option("--account", "account_id", required=True, help="The customer's account id.")
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The bundle to write (0600: it holds the customer's salts; give it to them only).",
)
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
@JSON_OPTION
def proof_cmd(
    plan_dir: Path, claims_dir: Path, account_id: str, out_file: Path, force: bool, as_json: bool
) -> int:
    """Administrator: one customer's proof bundle (por-insolvency-proof-v1).

    Their claim proof from the claims tree and their distribution proof from the
    distribution tree, each verified against its tree's root before it is written; the
    customer checks it with `por insolvency verify FILE --plan plan.json` or on the site's
    "Insolvency distribution" page."""
    import json

    from verifier.base.atomic import write_atomic
    from verifier.base.outdir import guard_output
    from verifier.insolvency.verify import make_bundle, verify_bundle

    for what, path in (("plan directory", plan_dir), ("claims directory", claims_dir)):
        guard_output(out_file, [(what, path)], flag="--out")
        if out_file.absolute().is_relative_to(path.absolute()):
            raise UsageError(f"--out {out_file} lies inside the {what} {path}; choose another")
    if (out_file.exists() or out_file.is_symlink()) and not force:
        raise UsageError(f"--out {out_file} exists (use --force to replace it)")
    plan_path = plan_dir / "plan.json"
    bundle = make_bundle(plan_path, claims_dir, account_id)
    from verifier.insolvency.verify import load_plan

    check = verify_bundle(bundle, load_plan(plan_path))
    if not check.valid:  # a plan whose own figures do not hold: never hand it out
        from verifier.insolvency.verify import failure

        raise failure(check)
    write_atomic(out_file, (json.dumps(bundle, indent=2) + "\n").encode(), mode=0o600)
    summary = {
        "bundle": str(out_file),
        "account_id": account_id,
        "plan_id": bundle["plan_id"],
        "claim": check.to_json()["claim"],
        "distribution": check.to_json()["distribution"],
    }
    if as_json:
        print_json(summary)
    else:
        out.print(
            f"proof bundle of {account_id} for plan {bundle['plan_id']} written to {out_file} "
            "(private: give it to that customer only)",
            markup=False,
        )
    return EXIT_OK


@insolvency.command("verify")
@click.argument("proof_file", type=click.Path(path_type=Path))
@click.option(
    "--plan",
    "plan_file",
    required=True,
    type=click.Path(path_type=Path),
    help="The published plan.json.",
)
@JSON_OPTION
def verify_cmd(proof_file: Path, plan_file: Path, as_json: bool) -> int:
    """Customer: check a distribution proof bundle against the published plan, offline.

    Every check is named: the plan's id recomputes; the claim is in the claims root, as one
    leaf; the plan's totals hold; the distribution equals the published rule applied to the
    claim with the plan's figures; the distribution is in the distribution root, whose
    totals equal the plan's; both proofs are for the same account. Exit 0 when every check
    passes, 3 naming the failed ones."""
    from verifier.insolvency.verify import failure, verify_files

    result = verify_files(proof_file, plan_file)
    if as_json:  # one document with every check, valid or not
        print_json(result.to_json())
    else:
        _print_verification(result)
    if result.valid:
        return EXIT_OK
    err.print(f"INVALID {failure(result).message}", markup=False)
    return EXIT_INVALID


def _print_verification(result: Any) -> None:
    from attestations.proofs import format_units

    for check in result.checks:
        mark = "ok  " if check.ok else "FAIL"
        out.print(f"{mark} {check.name}: {check.detail}", markup=False)
    if result.account_id is not None:
        out.print(f"account {result.account_id}", markup=False)
    for code in sorted(set(result.claim) | set(result.distribution)):
        decimals = result.decimals.get(code, 0)
        claim = result.claim.get(code)
        shown = "-" if claim is None else format_units(claim, decimals)
        paid = format_units(result.distribution.get(code, 0), decimals)
        out.print(f"  {code}: claim {shown}, distribution {paid}", markup=False)


# ----------------------------------------------------------------------------- payouts


@insolvency.command("payouts")
@click.option(
    "--plan",
    "plan_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The plan directory (plan.json and distributions.csv).",
)
@click.option(
    "--paid",
    "paid_file",
    required=True,
    type=click.Path(path_type=Path),
    help="CSV of payments made: account_id,asset,units,reference (units: base units; "
    "reference: the transaction id or bank reference).",
)
@db_options
@click.option("--no-store", is_flag=True, help="Reconcile only; store nothing.")
@JSON_OPTION
def payouts_cmd(
    plan_dir: Path,
    paid_file: Path,
    config_file: Path | None,
    db: str | None,
    no_store: bool,
    as_json: bool,
) -> int:
    """Administrator: reconcile the payouts made against the plan, and store the run.

    Per asset: due, paid, unpaid, overpaid and paid to unknown accounts; per account its
    status (paid, partial, unpaid, overpaid, unknown); duplicate references. Stored in the
    history database (one transaction) like reconciliation runs. Exit 0 when consistent
    (unpaid amounts are allowed, and counted), 1 on any overpayment, payment to an account
    the plan does not know or duplicate reference, 3 for a bad paid file or plan, 4 when
    the database cannot be written."""
    from verifier.insolvency.payouts_files import reconcile_files

    result, exchange = reconcile_files(plan_dir, paid_file)
    code = EXIT_OK if result.consistent else EXIT_SHORTFALL
    run_id = None
    database = None
    if not no_store:
        from verifier.history.payouts import record_payouts

        store = open_store(config_file, db, create=True)
        database = store.describe()
        run_id = record_payouts(
            store, result, paid_file=str(paid_file), exchange=exchange, exit_code=code
        )
    if as_json:
        print_json({**result.to_json(), "run_id": run_id, "database": database})
    else:
        _print_payouts(result, run_id, database)
    return code


def _print_payouts(result: Any, run_id: int | None, database: str | None) -> None:
    from attestations.proofs import format_units

    table = Table(title=f"Payouts against plan {result.plan_id}")
    for name in ("asset", "due", "paid", "unpaid", "overpaid", "to unknown accounts"):
        table.add_column(name, justify="left" if name == "asset" else "right")
    for a in result.assets:
        table.add_row(
            a.code,
            *(
                format_units(n, a.decimals)
                for n in (a.due, a.paid, a.unpaid, a.overpaid, a.paid_unknown)
            ),
        )
    print_table(out, table)
    counts = ", ".join(f"{n:,} {status}" for status, n in result.statuses.items())
    out.print(f"accounts: {counts}", markup=False)
    for row in result.exceptions[:20]:
        out.print(
            f"  {row.status}: {row.account_id} {row.asset} due {row.due} paid {row.paid} "
            "(base units)",
            markup=False,
        )
    for account, asset, reference, lines in result.duplicates[:20]:
        out.print(
            f"  duplicate: {account} {asset} reference {reference} on lines "
            f"{', '.join(map(str, lines))}",
            markup=False,
        )
    verdict = "consistent" if result.consistent else "NOT consistent"
    stored = f"; stored as payout run {run_id} in {database}" if run_id is not None else ""
    out.print(f"{verdict}{stored}", markup=False)
