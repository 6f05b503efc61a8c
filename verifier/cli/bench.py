"""`por bench liabilities|split|snapshot`: the benchmarks behind docs/performance.md.

The timed work is verifier/tools/bench.py, verifier/tools/bench_split.py and
verifier/tools/bench_snapshot.py; this module parses the options and prints their figures.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from verifier.base.console import out, print_json, print_table, progress_bar
from verifier.base.errors import EXIT_OK
from verifier.cli.options import JSON_OPTION, MAX_SAMPLE_ACCOUNTS, WORKERS_OPTION, check_text


@click.group()
def bench() -> None:
    """Benchmarks; figures go into docs/performance.md."""


@bench.command("liabilities")
@click.option(
    "--accounts",
    default=1_000_000,
    show_default=True,
    type=click.IntRange(1, MAX_SAMPLE_ACCOUNTS),
    help="Sample customers in the tree.",
)
@click.option(
    "--assets",
    "asset_count",
    default=3,
    show_default=True,
    type=click.IntRange(1, 255),
    help="Assets every customer holds.",
)
@click.option(
    "--split",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Leaves per account (as liabilities build --split).",
)
@WORKERS_OPTION
@click.option(
    "--proofs",
    "proof_count",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Proofs to cut and verify in the timed proof phases.",
)
@click.option(
    "--keep",
    type=click.Path(path_type=Path),
    default=None,
    help=(
        "Keep the work directory here instead of a temp dir (a new or empty directory, "
        "or one an earlier run of this benchmark kept)."
    ),
)
@click.option(
    "--whole-process/--no-whole-process",
    default=True,
    show_default=True,
    help="Also time `por liabilities build` in its own process (the issue's headline ratio).",
)
@click.option(
    "--openssl-speed/--no-openssl-speed",
    default=True,
    show_default=True,
    help="Also price the build's hash calls with `openssl speed -evp sha256 -multi N`.",
)
@click.option(
    "--openssl",
    "openssl_binary",
    default="openssl",
    show_default=True,
    help="The openssl program for the openssl speed floor (a name on PATH or a path).",
)
@click.option(
    "--openssl-seconds",
    default=3,
    show_default=True,
    type=click.IntRange(1, 60),
    help="Seconds `openssl speed` runs per message size (3: its own default).",
)
@click.option(
    "--runs",
    default=1,
    show_default=True,
    type=click.IntRange(1, 20),
    help="Rounds of the whole process and both OpenSSL floors, one after the other.",
)
@JSON_OPTION
def bench_liabilities(
    accounts: int,
    asset_count: int,
    split: int,
    workers: int,
    proof_count: int,
    keep: Path | None,
    whole_process: bool,
    openssl_speed: bool,
    openssl_binary: str,
    openssl_seconds: int,
    runs: int,
    as_json: bool,
) -> int:
    """Time build, proofs, verification and audit against a bare hashlib floor, and the
    whole `por liabilities build` process against the OpenSSL two-core floors."""
    from verifier.tools.bench import render, run_liabilities_bench

    check_text("--openssl", openssl_binary)

    with progress_bar() as progress:
        result = run_liabilities_bench(
            accounts=accounts,
            asset_count=asset_count,
            split=split,
            workers=workers,
            proof_count=proof_count,
            keep=keep,
            progress=progress,
            whole_process=whole_process,
            openssl=openssl_binary if openssl_speed else None,
            openssl_seconds=openssl_seconds,
            runs=runs,
        )
    if as_json:
        print_json(result)
    else:
        render(result)
    return EXIT_OK


@bench.command("split")
@click.option(
    "--accounts",
    default=1_000_000,
    show_default=True,
    type=click.IntRange(1, MAX_SAMPLE_ACCOUNTS),
    help="Single-asset (BTC) customers in the input.",
)
@click.option(
    "--bitmex-generator",
    "generator",
    type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
    default=None,
    help="BitMEX's generate_liabilities.py (not part of por): run on the same input, "
    "alternating with ours, for the ratio.",
)
@click.option(
    "--runs",
    default=3,
    show_default=True,
    type=click.IntRange(1, 100),
    help="Runs of each program.",
)
@click.option(
    "--keep",
    type=click.Path(path_type=Path),
    default=None,
    help=(
        "Keep the work directory here instead of a temp dir (a new or empty directory, "
        "or one an earlier run of this benchmark kept)."
    ),
)
@JSON_OPTION
def bench_split(
    accounts: int, generator: Path | None, runs: int, keep: Path | None, as_json: bool
) -> int:
    """Time `liabilities build --split 2` against BitMEX's generator, same input, alternating."""
    from verifier.tools.bench_split import render, run_split_bench

    with progress_bar() as progress:
        result = run_split_bench(
            accounts=accounts, generator=generator, runs=runs, keep=keep, progress=progress
        )
    if as_json:
        print_json(result)
    else:
        render(result)
    return EXIT_OK


@bench.command("snapshot")
@click.option(
    "--btc-addresses",
    default=2000,
    show_default=True,
    type=click.IntRange(1, 20000),
    help="Funded Bitcoin addresses to read on local bcoin.",
)
@click.option(
    "--eth-addresses",
    default=2000,
    show_default=True,
    type=click.IntRange(1, 20000),
    help="Funded Ethereum addresses to read on local anvil.",
)
@click.option(
    "--tokens",
    default=2,
    show_default=True,
    type=click.IntRange(0, 10),
    help="ERC-20 test tokens each Ethereum address holds.",
)
@JSON_OPTION
def bench_snapshot(btc_addresses: int, eth_addresses: int, tokens: int, as_json: bool) -> int:
    """Time the adapters against naive one-request-per-balance reads on local nodes."""
    from verifier.tools.bench_snapshot import run_snapshot_bench

    with progress_bar() as progress:
        result = run_snapshot_bench(
            btc_addresses=btc_addresses,
            eth_addresses=eth_addresses,
            tokens=tokens,
            progress=progress,
        )
    if as_json:
        print_json(result)
        return EXIT_OK
    table = Table(title="por bench snapshot (local bcoin and anvil)")
    for column in (
        "chain",
        "balances",
        "ours s",
        "ours requests",
        "naive s",
        "naive requests",
        "speedup",
    ):
        table.add_column(column, justify="left" if column == "chain" else "right")
    for chain in ("bitcoin", "ethereum"):
        row = result[chain]
        table.add_row(
            chain,
            str(row.get("balances", row["addresses"])),
            f"{row['ours']['seconds']:.3f}",
            str(row["ours"]["requests"]),
            f"{row['naive']['seconds']:.3f}",
            str(row["naive"]["requests"]),
            f"{row['speedup']}x",
        )
    print_table(out, table)
    out.print(
        f"overall speedup {result['speedup']}x; both chains concurrently "
        f"{result['both_chains_concurrently_seconds']} s"
    )
    return EXIT_OK
