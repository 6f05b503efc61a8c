"""`por liabilities build|proof|audit|sample`: the exchange's side of the liabilities tree.

Parses options, calls attestations/ (build, store, proof_files, proof_container, audit) and
verifier/inputs/liabilities.py (the input reader) or verifier/tools/sample.py, and prints
the result as a table or one --json document. The tree format is docs/spec/por-mst-v1.md.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from verifier.base.atomic import write_atomic
from verifier.base.console import err, out, plural, print_json, print_table, progress_bar
from verifier.base.errors import EXIT_OK, UsageError
from verifier.cli.options import (
    JSON_OPTION,
    MAX_SAMPLE_ACCOUNTS,
    WORKERS_OPTION,
    check_as_of,
    check_text,
    now,
)


@click.group()
def liabilities() -> None:
    """Build the liabilities tree, cut customer proofs, audit a tree, make sample data."""


def _size(path: Path) -> int:
    """The input's size in bytes, 0 when it cannot be read (the reader names the problem)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


@liabilities.command("build")
@click.argument("input_file", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "--assets",
    "assets_file",
    required=True,
    type=click.Path(path_type=Path),
    help="Assets TOML: [assets.BTC] decimals = 8.",
)
@click.option("--attestation-id", required=True, help="Identifier bound into the commitment.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Tree directory to create (root.json is its public part).",
)
@click.option("--as-of", default=None, help="Time of the balances, ISO 8601 (default: now, UTC).")
@click.option(
    "--split",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Split every account into K leaves with random parts (privacy).",
)
@click.option(
    "--secret-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Master secret file (hex, mode 0600): read if it exists, else created. "
    "Default: OUT/secret.key.",
)
@click.option(
    "--negative",
    type=click.Choice(["error", "exclude"]),
    default="error",
    show_default=True,
    help="Reject negative amounts, or drop them and record them.",
)
@click.option("--sum-duplicates", is_flag=True, help="Add up repeated (account, asset) rows.")
@click.option("--force", is_flag=True, help="Replace a non-empty output directory.")
@WORKERS_OPTION
@click.option(
    "--out-of-core",
    is_flag=True,
    help="Stream the input and build on disk in bounded memory (same tree; automatic for "
    "inputs over 2 GiB).",
)
@click.option(
    "--cluster",
    default=None,
    metavar="ADDRESS",
    help="Build on Dask: tcp://HOST:8786 (a running scheduler) or local:N (N worker "
    "processes here); the same tree. Needs the 'cluster' extra.",
)
@JSON_OPTION
def liabilities_build(
    input_file: Path,
    assets_file: Path,
    attestation_id: str,
    out_dir: Path,
    as_of: str | None,
    split: int,
    secret_file: Path | None,
    negative: str,
    sum_duplicates: bool,
    force: bool,
    workers: int,
    out_of_core: bool,
    cluster: str | None,
    as_json: bool,
) -> int:
    """Build the Merkle sum tree of INPUT (CSV or JSON Lines: account_id,asset,amount).

    INPUT may be a directory of partitions (*.csv, *.jsonl, *.parquet; nested key=value
    directories too), each account in one partition. A single .parquet file is a
    one-partition input.

    Writes OUT/root.json (public), the tree files for O(log n) proofs, and the master
    secret (mode 0600, never in public output). Nothing is left in OUT on error.
    """
    from verifier.inputs import liabilities_lines

    if cluster is None and not out_of_core:
        liabilities_lines.prefetch_scan(input_file)  # read-only; runs beside the imports below

    from attestations.build import build_tree
    from verifier.base.outdir import guard_output
    from verifier.inputs.assets import read_assets
    from verifier.inputs.liabilities import read_liabilities

    check_text("--attestation-id", attestation_id)
    # before anything is read or replaced: --force must never delete an input
    guard_output(
        out_dir,
        [("input file", input_file), ("assets file", assets_file), ("secret file", secret_file)],
        flag="--out",
    )
    as_of = check_as_of(as_of) if as_of else now()
    assets = read_assets(assets_file)
    # streamed: the same tree in bounded memory (verifier/inputs/liabilities_stream.py)
    streamed = out_of_core or _size(input_file) > liabilities_lines.STREAM_ABOVE
    if cluster is not None and out_of_core:
        raise UsageError("--cluster and --out-of-core do not go together")
    with progress_bar(True) as progress:
        if cluster is not None or input_file.is_dir() or input_file.suffix.lower() == ".parquet":
            result, data = _partitioned_build(
                input_file,
                assets,
                out_dir,
                cluster=cluster,
                attestation_id=attestation_id,
                as_of=as_of,
                split=split,
                secret_file=secret_file,
                force=force,
                negative=negative,
                sum_duplicates=sum_duplicates,
                workers=workers,
                progress=progress,
            )
        elif streamed:
            from verifier.inputs.liabilities_stream import stream_build

            result, data = stream_build(
                input_file,
                assets,
                out_dir,
                attestation_id=attestation_id,
                as_of=as_of,
                split=split,
                secret_file=secret_file,
                force=force,
                negative=negative,
                sum_duplicates=sum_duplicates,
                progress=progress,
            )
        else:
            data = read_liabilities(
                input_file,
                assets,
                negative=negative,
                sum_duplicates=sum_duplicates,
                progress=progress,
            )
            result = build_tree(
                data,
                out_dir,
                attestation_id=attestation_id,
                as_of=as_of,
                split=split,
                secret_file=secret_file,
                force=force,
                workers=workers,
                progress=progress,
            )
    doc = {
        "root_document": str(out_dir / "root.json"),
        "attestation_id": attestation_id,
        "accounts": result.accounts,
        "leaves": result.leaves,
        "padding": result.padding,
        "height": result.root.height,
        "root": result.root.root.to_json(),
        "commitment": result.root.commitment.hex(),
        "totals": _totals(result.root.assets, result.root.root.sums),
        "excluded": data.excluded,
        "input_sha256": data.input_sha256,
    }
    if as_json:
        print_json(doc)
    else:
        table = Table(title=f"Liabilities tree {attestation_id}", show_header=True)
        table.add_column("asset")
        table.add_column("total", justify="right")
        for code, total in _totals(result.root.assets, result.root.root.sums).items():
            table.add_row(code, total)
        print_table(out, table)
        out.print(
            f"accounts {result.accounts:,}  leaves {result.leaves:,}  padding "
            f"{result.padding:,}  height {result.root.height}"
        )
        out.print(f"root        {result.root.root.hash.hex()}")
        out.print(f"commitment  {result.root.commitment.hex()}")
        out.print(f"public root document: {out_dir / 'root.json'}")
        if data.excluded:
            rows = plural(int(data.excluded["rows"]), "row", thousands=True)
            out.print(f"excluded (negative): {rows}, see root.json")
    return EXIT_OK


def _partitioned_build(
    input_path: Path, assets: Any, out_dir: Path, *, cluster: str | None, workers: int, **kw: Any
) -> tuple[Any, Any]:
    """A directory of partitions or a --cluster build (verifier/inputs/liabilities_cluster.py):
    on the cluster, or read here into one input for the one-machine build."""
    from attestations.build import build_tree
    from verifier.inputs.liabilities_cluster import cluster_build, read_partitions

    if cluster is not None:
        return cluster_build(input_path, assets, out_dir, cluster=cluster, **kw)
    data = read_partitions(
        input_path,
        assets,
        negative=kw.pop("negative"),
        sum_duplicates=kw.pop("sum_duplicates"),
    )
    return build_tree(data, out_dir, workers=workers, **kw), data


def _totals(assets: Sequence[Any], sums: Sequence[int]) -> dict[str, str]:
    from attestations.proofs import format_units

    return {a.code: format_units(s, a.decimals) for a, s in zip(assets, sums, strict=True)}


@liabilities.command("proof")
@click.argument("args", nargs=-1, metavar="[DIR] [ACCOUNT_ID]")
@click.option(
    "--tree",
    "tree_opt",
    type=click.Path(path_type=Path),
    default=None,
    help="Tree directory (instead of DIR; then a lone argument is the ACCOUNT_ID).",
)
@click.option("--account", "account_opt", default=None, help="Account id (instead of ACCOUNT_ID).")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the proof here (mode 0600) instead of stdout.",
)
@click.option("--all", "all_accounts", is_flag=True, help="Write every account's proof.")
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path),
    default=None,
    help="With --all: the one container file (por-proofs-v1, Arrow IPC, mode 0600; the "
    "default layout), or the directory with --layout files.",
)
@click.option(
    "--layout",
    type=click.Choice(["container", "files"]),
    default="container",
    show_default=True,
    help="With --all: one container file, or one file per account plus manifest.csv.",
)
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="With --all: one file per account plus manifest.csv in this directory (the same "
    "as --layout files --out DIR).",
)
@click.option(
    "--from",
    "from_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Read the account's proof from a container written by --all --out (no tree "
    "needed; verified against the root document the container carries).",
)
@click.option(
    "--root",
    "root_file",
    type=click.Path(path_type=Path),
    default=None,
    help="The exchange's published root.json: refuse (exit 3) a proof of any other tree, "
    "e.g. from a swapped container (as for `por verify-proof --root`).",
)
@click.option(
    "--commitment",
    "commitment_hex",
    default=None,
    help="The published commitment (64 hex digits): refuse (exit 3) a proof of any other tree.",
)
@click.option(
    "--secret-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Master secret, if not where the build put it.",
)
@JSON_OPTION
def liabilities_proof(
    args: tuple[str, ...],
    tree_opt: Path | None,
    account_opt: str | None,
    output: Path | None,
    all_accounts: bool,
    out_path: Path | None,
    layout: str,
    out_dir: Path | None,
    from_file: Path | None,
    root_file: Path | None,
    commitment_hex: str | None,
    secret_file: Path | None,
    as_json: bool,
) -> int:
    """Produce ACCOUNT_ID's inclusion proof from tree DIR (O(log n) reads), or --all of them.

    A proof holds the account's salt: hand it to that customer only. Every proof is
    verified against DIR/root.json before it is written; one that does not verify (a
    damaged tree, a wrong secret) is refused with exit 3 and nothing is written.
    --all --out FILE writes every proof into one container (docs/liabilities.md); --from
    FILE --account ID prints one proof from it, as this command prints it from the tree.
    --root root.json or --commitment HEX (what the exchange published) pins the tree: a
    proof of any other tree (a swapped container or directory) is refused with exit 3.
    """
    from verifier.cli.proof_pins import check_pin, read_pin

    tree_dir, account_id = _proof_operands(args, tree_opt, account_opt, from_file)
    pin = read_pin(root_file, commitment_hex)
    if all_accounts:
        if account_id is not None or output is not None or from_file is not None:
            raise UsageError("--all takes no ACCOUNT_ID, -o or --from; use --out FILE")
        if pin.kind is not None:
            raise UsageError("--root and --commitment pin one proof; not with --all")
        if out_dir is not None and out_path is not None:
            raise UsageError("--out-dir and --out exclude each other")
        if tree_dir is None:
            raise UsageError("--all needs a tree DIR (or --tree DIR)")
        if out_dir is not None or layout == "files":
            target = out_dir if out_dir is not None else out_path
            if target is None:
                raise UsageError("--all --layout files needs --out DIR (or --out-dir DIR)")
            return _all_proofs(tree_dir, target, secret_file, as_json)
        if out_path is None:
            raise UsageError("--all needs --out FILE (one container) or --out-dir DIR")
        return _proof_container(tree_dir, out_path, secret_file, as_json)
    if out_path is not None or out_dir is not None:
        raise UsageError("--out and --out-dir go with --all; one proof is written with -o")
    if account_id is None:
        raise UsageError("give an ACCOUNT_ID (or --account), or --all --out FILE")
    if from_file is not None:
        if secret_file is not None:
            raise UsageError("--from needs no --secret-file: the container holds the salts")
        proof, text, sources = _proof_from_container(from_file, account_id)
        check_pin(proof, pin, from_file)
    elif tree_dir is None:
        raise UsageError("give a tree DIR (or --tree DIR, or --from FILE)")
    else:
        proof, text, sources = _proof_from_tree(tree_dir, account_id, secret_file, output)
        check_pin(proof, pin, tree_dir)
    if output is None:
        sys.stdout.write(text)
        return EXIT_OK
    from verifier.base.outdir import guard_output

    guard_output(output, sources, flag="-o")
    write_atomic(output, text.encode(), mode=0o600)
    if as_json:
        print_json(
            {
                "account_id": account_id,
                "file": str(output),
                "leaves": len(proof["leaves"]),
                "commitment": proof["commitment"],
                "pinned": pin.kind,
            }
        )
    else:
        err.print(f"proof for {account_id!r} written to {output}")
    return EXIT_OK


def _proof_operands(
    args: tuple[str, ...], tree_opt: Path | None, account_opt: str | None, from_file: Path | None
) -> tuple[Path | None, str | None]:
    """(tree directory, account id) from DIR/ACCOUNT_ID or --tree/--from and --account."""
    if tree_opt is not None and from_file is not None:
        raise UsageError("--tree and --from exclude each other")
    if tree_opt is not None or from_file is not None:
        if len(args) > 1:
            raise UsageError(
                f"unexpected arguments {' '.join(args[1:])!r}: with --tree or --from, the "
                "only argument is the ACCOUNT_ID"
            )
        tree_dir, positional = tree_opt, (args[0] if args else None)
    else:
        if not args:
            raise UsageError("give a tree DIR (or --tree DIR, or --from FILE)")
        if len(args) > 2:
            raise UsageError(f"unexpected arguments {' '.join(args[2:])!r}")
        tree_dir, positional = Path(args[0]), (args[1] if len(args) > 1 else None)
    if positional is not None and account_opt is not None and positional != account_opt:
        raise UsageError("give the account once: ACCOUNT_ID or --account")
    return tree_dir, account_opt if account_opt is not None else positional


def _proof_from_tree(
    tree_dir: Path, account_id: str, secret_file: Path | None, output: Path | None
) -> tuple[dict[str, Any], str, list[tuple[str, Path | None]]]:
    from attestations.store import TreeStore

    with TreeStore(tree_dir, secret_file=secret_file) as store:
        sources: list[tuple[str, Path | None]] = [
            ("root document", store.root_path),
            ("tree files", tree_dir / "tree"),
            ("secret file", store.secret_path),
        ]
        if output is not None:  # before anything is cut: -o must never name an input
            from verifier.base.outdir import guard_output

            guard_output(output, sources, flag="-o")
        proof, text = store.checked_proof(account_id)
    return proof.to_json(), text, sources


def _proof_from_container(
    from_file: Path, account_id: str
) -> tuple[dict[str, Any], str, list[tuple[str, Path | None]]]:
    import json

    from attestations.proof_container import ProofContainer

    text = ProofContainer(from_file).proof_text(account_id)
    return json.loads(text), text, [("proofs container", from_file)]


def _proof_container(
    tree_dir: Path, out_path: Path, secret_file: Path | None, as_json: bool
) -> int:
    from attestations.proof_container import CONTAINER_FORMAT, write_container

    with progress_bar() as progress:
        result = write_container(tree_dir, out_path, secret_file, progress)
    if as_json:
        print_json(
            {
                "out": str(out_path),
                "layout": "container",
                "format": CONTAINER_FORMAT,
                "proofs": result.proofs,
                "bytes": result.bytes,
            }
        )
    else:
        proofs = plural(result.proofs, "proof", thousands=True)
        err.print(
            f"{proofs} written to {out_path} (one {CONTAINER_FORMAT} container, "
            f"{result.bytes:,} bytes; one proof: por liabilities proof --from {out_path} "
            "--account ID)"
        )
    return EXIT_OK


def _all_proofs(tree_dir: Path, out_dir: Path, secret_file: Path | None, as_json: bool) -> int:
    from attestations.proof_files import write_all_proofs

    with progress_bar() as progress:
        count = write_all_proofs(tree_dir, out_dir, secret_file, progress)
    if as_json:
        print_json({"out_dir": str(out_dir), "layout": "files", "proofs": count})
    else:
        proofs = plural(count, "proof", thousands=True)
        err.print(f"{proofs} written to {out_dir} (one file per account; manifest.csv)")
    return EXIT_OK


@liabilities.command("audit")
@click.argument("tree_dir", metavar="DIR", type=click.Path(path_type=Path))
@click.option(
    "--secret-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Master secret, to recompute the leaves too (default: where the build put it).",
)
@click.option(
    "--no-secret",
    is_flag=True,
    help="Audit without the master secret (an auditor who was not given it): every node is "
    "recomputed from the stored leaves, the leaves themselves are not.",
)
@WORKERS_OPTION
@JSON_OPTION
def liabilities_audit(
    tree_dir: Path, secret_file: Path | None, no_secret: bool, workers: int, as_json: bool
) -> int:
    """Recompute every node of tree DIR from its leaves and check it.

    Checks sums, overflow, padding, the root and the commitment, and prints the totals per
    asset. A damaged tree, a missing or wrong secret (unless --no-secret) exits 3 naming
    the file and the check."""
    from attestations.audit import audit_tree

    if no_secret and secret_file is not None:
        raise UsageError("--no-secret and --secret-file exclude each other")
    with progress_bar() as progress:
        result = audit_tree(
            tree_dir,
            secret_file=secret_file,
            require_secret=not no_secret,
            skip_secret=no_secret,
            workers=workers,
            progress=progress,
        )
    from attestations.store import TreeStore

    with TreeStore(tree_dir) as store:
        assets = store.root.assets
    totals = _totals(assets, result.totals)
    if as_json:
        print_json(
            {
                "valid": True,
                "attestation_id": result.attestation_id,
                "accounts": result.accounts,
                "leaves": result.leaves,
                "padding": result.padding,
                "height": result.height,
                "commitment": result.commitment,
                "leaves_recomputed": result.leaves_recomputed,
                "totals": totals,
                "totals_base_units": {
                    a.code: str(s) for a, s in zip(assets, result.totals, strict=True)
                },
                "checks": list(result.checks),
            }
        )
    else:
        table = Table(title=f"Audit of {result.attestation_id}: OK")
        table.add_column("asset")
        table.add_column("total liabilities", justify="right")
        for code, total in totals.items():
            table.add_row(code, total)
        print_table(out, table)
        for check in result.checks:
            out.print(f"  [green]✓[/green] {check}")
        if not result.leaves_recomputed:
            out.print(
                "  [yellow]![/yellow] leaves not recomputed: audited without the master secret"
            )
    return EXIT_OK


@liabilities.command("sample")
@click.option(
    "--accounts",
    default=100_000,
    show_default=True,
    type=click.IntRange(1, MAX_SAMPLE_ACCOUNTS),
    help="Customers to generate.",
)
@click.option(
    "--assets",
    "asset_count",
    default=3,
    show_default=True,
    type=click.IntRange(1, 255),
    help="Assets every customer holds (BTC, ETH, USDT, then made-up codes).",
)
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="CSV (or .jsonl) file to write; ASSETS.toml is written beside it.",
)
@click.option(
    "--seed",
    default=7,
    show_default=True,
    type=click.IntRange(0, 2**32 - 1),
    help="Random seed: the same seed writes the same file.",
)
@JSON_OPTION
def liabilities_sample(
    accounts: int, asset_count: int, out_file: Path, seed: int, as_json: bool
) -> int:
    """Generate a sample liabilities file (every account holds every asset) and its assets TOML."""
    from verifier.tools.sample import assets_toml, sample_assets, write_sample

    if not out_file.name or out_file.is_dir():
        raise UsageError(f"--out must name a file, not a directory: {str(out_file)!r}")
    assets = sample_assets(asset_count)
    rows = write_sample(out_file, accounts, assets, seed)
    assets_path = out_file.with_name(out_file.stem + ".assets.toml")
    write_atomic(assets_path, assets_toml(assets).encode())
    doc = {
        "file": str(out_file),
        "assets_file": str(assets_path),
        "rows": rows,
        "accounts": accounts,
    }
    if as_json:
        print_json(doc)
    else:
        err.print(
            f"{plural(rows, 'row', thousands=True)} written to {out_file}; assets in {assets_path}"
        )
    return EXIT_OK
