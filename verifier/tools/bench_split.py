"""`por bench split`: `por liabilities build --split 2` against BitMEX's generator, one run.

Issue 16 asks for `--split 2` on 1M single-asset accounts at least 10 x faster than BitMEX's
`generate_liabilities.py` (github.com/BitMEX/proof-of-reserves-liabilities) on the same
input. That script is not part of `por` (its licence, and `por` runs its own code): the
user passes its path. The benchmark writes ONE input in both formats — ours
(`account_id,asset,amount`, BTC in whole units with 8 decimals) and BitMEX's
(`account,amount`, integer ids and satoshi) — with the same accounts and the same amounts,
then runs both programs as a user runs them (each its own process: interpreter start,
read, split, hash, write; verifier/tools/bench_process.py), ALTERNATING, each run with the
load average before it, and reports every run, the medians and their ratio.

BitMEX's script runs with this interpreter, in a directory of its own (it writes
nonces.txt into its working directory; removed before each run, so every run draws fresh
nonces as a first publication does), its stdout (the whole tree as text) into a file there,
removed after each run once its first line is checked. Every account holds at least one
satoshi: BitMEX's generator drops zero balances, which would leave the two programs with
different leaf counts.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from attestations import hashing
from attestations.encoding import AssetSpec
from verifier.tools.bench import keep_dir, machine
from verifier.tools.bench_process import BenchFailed, Timed, median, por_argv, run_timed
from verifier.tools.sample import sample_table

SPLIT = 2
BLOCK_HEIGHT = 800_000
"""The --blockheight given to BitMEX's generator (it only salts its nonces)."""
TARGET_RATIO = 10
"""Issue 16: at least this many times faster than BitMEX's generator."""
AS_OF = "2026-11-21T00:00:00Z"
NO_GENERATOR = (
    "no --bitmex-generator given: BitMEX's generate_liabilities.py is not part of por "
    "(its licence, and por runs only its own code); pass the path of a copy from "
    "github.com/BitMEX/proof-of-reserves-liabilities to measure the ratio in the same run"
)


def write_inputs(work: Path, accounts: int) -> dict[str, Any]:
    """Write the same accounts and amounts as ours.csv (+ assets.toml) and bitmex.csv."""
    btc = AssetSpec("BTC", 8)
    table = sample_table(accounts, (btc,))
    # whole-unit strings back to satoshi ("0.05000000" -> 5000000), at least 1 sat each
    sats = pc.cast(pc.replace_substring(table.column("amount"), ".", ""), pa.int64())
    sats = pc.max_element_wise(sats, pa.scalar(1, pa.int64()))
    ids = pa.array(np.arange(1, accounts + 1, dtype=np.int64))
    whole = sample_whole_units(sats, btc.decimals)
    ours = pa.table({"account_id": pc.cast(ids, pa.string()), "asset": ["BTC"] * accounts})
    ours = ours.append_column("amount", whole)
    theirs = pa.table({"account": ids, "amount": sats})
    (work / "assets.toml").write_text("[assets.BTC]\ndecimals = 8\n")
    _write_csv(work / "ours.csv", ours, "account_id,asset,amount\n")
    _write_csv(work / "bitmex.csv", theirs, "account,amount\n")
    return {
        "accounts": accounts,
        "asset": "BTC",
        "total_units": int(pc.sum(sats).as_py() or 0),
        "ours_bytes": (work / "ours.csv").stat().st_size,
        "bitmex_bytes": (work / "bitmex.csv").stat().st_size,
    }


def sample_whole_units(sats: pa.Array, decimals: int) -> pa.Array:
    """Integer base units to whole-unit decimal strings (5000000, 8 -> "0.05000000")."""
    digits = pc.utf8_lpad(pc.cast(sats, pa.string()), width=decimals + 1, padding="0")
    whole = pc.utf8_slice_codeunits(digits, start=0, stop=-decimals)
    frac = pc.utf8_slice_codeunits(digits, start=-decimals)
    return pc.binary_join_element_wise(whole, frac, ".")


def _write_csv(path: Path, table: pa.Table, header: str) -> None:
    """The header as each program expects it (BitMEX's compares it unquoted), then the rows."""
    with path.open("wb") as handle:
        handle.write(header.encode())
        options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
        pa_csv.write_csv(table, handle, write_options=options)


def ours_argv(work: Path) -> list[str]:
    return [
        *por_argv(),
        "-q",
        "liabilities",
        "build",
        str(work / "ours.csv"),
        "--assets",
        str(work / "assets.toml"),
        "--attestation-id",
        "bench-split",
        "--as-of",
        AS_OF,
        "--out",
        str(work / "tree"),
        "--force",
        "--secret-file",
        str(work / "secret.key"),
        "--split",
        str(SPLIT),
    ]


def bitmex_argv(generator: Path, work: Path) -> list[str]:
    return [
        sys.executable,
        str(generator),
        "--liabilities",
        str(work / "bitmex.csv"),
        "--blockheight",
        str(BLOCK_HEIGHT),
        "--min-split",
        str(SPLIT),
    ]


def _run_ours(work: Path) -> Timed:
    timed = run_timed(ours_argv(work), label=f"por liabilities build --split {SPLIT}")
    if not (work / "tree" / "root.json").is_file():
        raise BenchFailed("por liabilities build --split 2 exited 0 without a root.json")
    shutil.rmtree(work / "tree", ignore_errors=True)
    return timed


def _run_bitmex(generator: Path, work: Path) -> Timed:
    cwd = work / "bitmex"
    cwd.mkdir(exist_ok=True)
    (cwd / "nonces.txt").unlink(missing_ok=True)  # fresh nonces, as a first publication
    tree = cwd / "tree.txt"
    timed = run_timed(bitmex_argv(generator, work), label=f"{generator.name}", cwd=cwd, stdout=tree)
    with tree.open("rb") as handle:
        first = handle.readline(64)
    tree.unlink()
    if not first.startswith(b"block_height:"):
        raise BenchFailed(
            f"{generator.name} exited 0 but its output does not start with block_height: "
            "(is it BitMEX's generate_liabilities.py?)"
        )
    return timed


def _side(runs: list[Timed], command: str) -> dict[str, Any]:
    return {
        "command": command,
        "runs": [t.to_json() for t in runs],
        "median_seconds": round(median([t.seconds for t in runs]), 3),
        "median_peak_rss_bytes": int(median([t.peak_rss_bytes for t in runs])),
    }


def run_split_bench(
    *,
    accounts: int,
    generator: Path | None,
    runs: int,
    keep: Path | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Write the input, run both programs `runs` times alternating; return the figures."""
    progress = progress or (lambda *a: None)
    # the generator runs in a work directory of its own: a relative path would name nothing
    # there (the CLI has refused a missing path or a directory, exit 2 naming the option)
    generator = None if generator is None else generator.resolve()
    work = keep_dir(keep, "split") if keep else Path(tempfile.mkdtemp(prefix="por-bench-split-"))
    try:
        progress("write the input in both formats (untimed)", 0, 1)
        inputs = write_inputs(work, accounts)
        progress("write the input in both formats (untimed)", 1, 1)
        load_start = os.getloadavg()
        ours: list[Timed] = []
        theirs: list[Timed] = []
        for i in range(runs):
            progress("alternating runs", 2 * i, 2 * runs)
            ours.append(_run_ours(work))
            if generator is not None:
                progress("alternating runs", 2 * i + 1, 2 * runs)
                theirs.append(_run_bitmex(generator, work))
        progress("alternating runs", 2 * runs, 2 * runs)
        mine = _side(
            ours,
            "por -q liabilities build ours.csv --assets assets.toml --attestation-id "
            f"bench-split --as-of {AS_OF} --out tree --force --secret-file secret.key "
            f"--split {SPLIT}",
        )
        result: dict[str, Any] = {
            "benchmark": "split",
            "machine": machine(),
            "hashing": hashing.backend_info(),
            "split": SPLIT,
            "runs": runs,
            "input": inputs,
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "ours": mine,
            "bitmex": None,
            "ratio": None,
            "pair_ratios": [],
            "target_ratio": TARGET_RATIO,
            "no_ratio_reason": NO_GENERATOR if generator is None else None,
        }
        if generator is not None:
            side = _side(
                theirs,
                f"{Path(sys.executable).name} {generator.name} --liabilities bitmex.csv "
                f"--blockheight {BLOCK_HEIGHT} --min-split {SPLIT}",
            )
            result["bitmex"] = {"script": str(generator), "python": sys.executable, **side}
            result["ratio"] = round(side["median_seconds"] / mine["median_seconds"], 2)
            # each pair ran back to back: under a changing load these are the fairer figures
            result["pair_ratios"] = [
                round(b["seconds"] / a["seconds"], 2)
                for a, b in zip(mine["runs"], side["runs"], strict=True)
            ]
        return result
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def render(result: dict[str, Any]) -> None:
    from rich.table import Table

    from verifier.base.console import out

    m = result["machine"]
    out.print(
        f"[bold]por bench split[/bold]: {result['input']['accounts']:,} accounts × BTC, "
        f"--split {result['split']}, {result['runs']} alternating runs; {m['cpu']}, "
        f"{m['cores']} cores, Python {m['python']}"
    )
    table = Table(show_header=True)
    for column in ("run", "program", "seconds", "peak RSS MiB", "load (1 min)"):
        table.add_column(column, justify="left" if column == "program" else "right")
    sides = [("por --split 2", result["ours"])]
    if result["bitmex"]:
        sides.append(("BitMEX generator", result["bitmex"]))
    for i in range(result["runs"]):
        for name, side in sides:
            run = side["runs"][i]
            table.add_row(
                str(i + 1),
                name,
                f"{run['seconds']:.3f}",
                f"{run['peak_rss_bytes'] / 2**20:,.0f}",
                f"{run['load_average_1m']:.2f}",
            )
    out.print(table)
    for name, side in sides:
        out.print(f"{name}: median {side['median_seconds']:.3f} s")
    if result["ratio"] is None:
        out.print(f"no ratio: {result['no_ratio_reason']}")
    else:
        pairs = ", ".join(f"{r:.2f}" for r in result["pair_ratios"])
        out.print(
            f"[bold]por is {result['ratio']:.2f} × faster[/bold] than BitMEX's generator "
            f"(medians; run by run {pairs}; target ≥ {result['target_ratio']} ×)"
        )
    out.print(f"load average {' '.join(str(x) for x in result['load_average'])}")
