"""`por bench split` end to end on tiny inputs, and its input in both formats.

BitMEX's generator is not in this repository and is not used here: a FAKE generator, written
by the test (FAKE_GENERATOR), stands in for it. It takes the same arguments, checks the
input header and that it starts without a nonces.txt in its own working directory, writes
one, and prints a `block_height:` line. No timing assertions."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from verifier.cli.main import main
from verifier.inputs.assets import read_assets
from verifier.inputs.liabilities import read_liabilities
from verifier.tools import bench_split
from verifier.tools.bench_process import Timed

FAKE_GENERATOR = """\
# FAKE stand-in for BitMEX's generate_liabilities.py, written by tests/cli/test_bench_split.py.
# It is not BitMEX's code: it only behaves like it where the benchmark looks.
import argparse, csv, os, sys
p = argparse.ArgumentParser()
p.add_argument("--liabilities", required=True)
p.add_argument("--blockheight", required=True, type=int)
p.add_argument("--min-split", type=int, default=2)
a = p.parse_args()
assert not os.path.exists("nonces.txt"), "a run must start with fresh nonces"
with open(a.liabilities) as f:
    rows = list(csv.reader(f))
assert rows[0] == ["account", "amount"], rows[0]
with open("nonces.txt", "w") as f:
    f.writelines(f"{r[0]},00\\n" for r in rows[1:])
with open(os.path.join(os.path.dirname(a.liabilities), "fake-calls.txt"), "a") as f:
    f.write(f"{a.min_split} {len(rows) - 1}\\n")
print(f"block_height:{a.blockheight}")
print("00" * 32 + "," + str(sum(int(r[1]) for r in rows[1:])))
"""


@pytest.fixture
def generator(tmp_path: Path) -> Path:
    path = tmp_path / "fake_generate_liabilities.py"
    path.write_text(FAKE_GENERATOR)
    return path


def test_the_same_accounts_and_amounts_in_both_formats(tmp_path: Path) -> None:
    figures = bench_split.write_inputs(tmp_path, 300)
    with (tmp_path / "bitmex.csv").open() as f:
        theirs = list(csv.reader(f))
    with (tmp_path / "ours.csv").open() as f:
        ours = list(csv.reader(f))
    assert theirs[0] == ["account", "amount"] and ours[0] == ["account_id", "asset", "amount"]
    assert len(theirs) == len(ours) == 301
    for (account, sats), (account_id, asset, amount) in zip(theirs[1:], ours[1:], strict=True):
        whole, frac = amount.split(".")
        assert account == account_id and asset == "BTC" and len(frac) == 8
        assert int(whole + frac) == int(sats) >= 1  # every account holds a satoshi at least
    assert [int(r[0]) for r in theirs[1:]] == list(range(1, 301))
    # ours reads back, exactly, to the same total
    data = read_liabilities(tmp_path / "ours.csv", read_assets(tmp_path / "assets.toml"))
    assert data.count == 300
    units = sum((int(hi) << 64) | int(lo) for hi, lo in data.balances[:, 0, :].tolist())
    assert figures["total_units"] == units == sum(int(r[1]) for r in theirs[1:])


def test_whole_unit_strings_by_hand() -> None:
    import pyarrow as pa

    got = bench_split.sample_whole_units(pa.array([1, 5_000_000, 123_456_789_012]), 8)
    assert got.to_pylist() == ["0.00000001", "0.05000000", "1234.56789012"]


def test_with_a_generator_runs_alternate_and_give_a_ratio(
    tmp_path: Path, generator: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = tmp_path / "work"
    args = ["bench", "split", "--accounts", "40", "--runs", "2", "--keep", str(keep)]
    assert main([*args, "--bitmex-generator", str(generator), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["benchmark"] == "split" and doc["split"] == 2 and doc["input"]["accounts"] == 40
    assert len(doc["ours"]["runs"]) == len(doc["bitmex"]["runs"]) == 2
    for side in (doc["ours"], doc["bitmex"]):
        for run in side["runs"]:
            assert run["seconds"] > 0 and run["peak_rss_bytes"] > 0
            assert run["load_average_1m"] >= 0
    assert doc["ratio"] == round(doc["bitmex"]["median_seconds"] / doc["ours"]["median_seconds"], 2)
    assert doc["no_ratio_reason"] is None and doc["target_ratio"] == 10
    assert doc["pair_ratios"] == [
        round(b["seconds"] / a["seconds"], 2)
        for a, b in zip(doc["ours"]["runs"], doc["bitmex"]["runs"], strict=True)
    ]
    assert doc["bitmex"]["script"] == str(generator)
    # the fake saw the --min-split 2 and 40 accounts, twice; its big output was removed
    assert (keep / "fake-calls.txt").read_text() == "2 40\n2 40\n"
    assert not (keep / "bitmex" / "tree.txt").exists()


def test_without_a_generator_ours_only_and_why_no_ratio(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "split", "--accounts", "30", "--runs", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["bitmex"] is None and doc["ratio"] is None
    assert "--bitmex-generator" in doc["no_ratio_reason"]
    assert len(doc["ours"]["runs"]) == 1


def test_text_output_names_the_ratio(generator: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", "split", "--accounts", "20", "--runs", "1"]
    assert main([*args, "--bitmex-generator", str(generator)]) == 0
    text = capsys.readouterr().out
    assert "faster than BitMEX's generator" in text and "BitMEX generator" in text
    assert main(args) == 0
    assert "no ratio: no --bitmex-generator given" in capsys.readouterr().out


def test_the_runs_alternate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fake(name: str, seconds: float):  # type: ignore[no-untyped-def]
        def run(*_: object) -> Timed:
            calls.append(name)
            return Timed(seconds, 1 << 20, 0.5)

        return run

    monkeypatch.setattr(bench_split, "_run_ours", fake("ours", 1.0))
    monkeypatch.setattr(bench_split, "_run_bitmex", fake("bitmex", 12.5))
    result = bench_split.run_split_bench(accounts=5, generator=tmp_path / "g.py", runs=3)
    assert calls == ["ours", "bitmex"] * 3
    assert result["ratio"] == 12.5 and result["pair_ratios"] == [12.5] * 3


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("import sys; print('boom', file=sys.stderr); sys.exit(5)", "exited 5: boom"),
        ("print('not a tree')", "does not start with block_height"),
    ],
)
def test_a_broken_generator_is_exit_4_naming_it(
    tmp_path: Path, script: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken_generator.py"
    bad.write_text(script + "\n")
    args = ["bench", "split", "--accounts", "10", "--runs", "1", "--bitmex-generator", str(bad)]
    assert main(args) == 4
    err = capsys.readouterr().err
    assert "broken_generator.py" in err and message in err


def test_a_missing_generator_is_a_usage_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.py")
    assert main(["bench", "split", "--accounts", "10", "--bitmex-generator", missing]) == 2
