"""The sample writer past one block: streamed block by block, same seed same file.

`por liabilities sample --accounts 100000000` built one 300M-row table and ended in an
internal error (Arrow's 2 GiB string column) after using 9.8 GB; files over
`BLOCK_ACCOUNTS` accounts are now written block by block. Small blocks stand in for 1M here.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from verifier.tools import sample


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sample, "BLOCK_ACCOUNTS", 7)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_blocks_hold_every_account_and_asset_once(
    small_blocks: None, tmp_path: Path, suffix: str
) -> None:
    assets = sample.sample_assets(3)
    out = tmp_path / f"s{suffix}"
    rows = sample.write_sample(out, 23, assets, seed=5)
    assert rows == 23 * 3
    if suffix == ".csv":
        with out.open(newline="") as handle:
            lines = list(csv.reader(handle))
        assert lines[0] == ["account_id", "asset", "amount"]  # one header only
        body = lines[1:]
    else:
        body = [list(json.loads(line).values()) for line in out.read_text().splitlines()]
    assert len(body) == 69
    pairs = {(r[0], r[1]) for r in body}
    assert pairs == {(f"acct-{i:08d}", a.code) for i in range(23) for a in assets}
    # rows by asset, then by account, as the one-table file
    assert [r[1] for r in body] == [a.code for a in assets for _ in range(23)]
    assert not list(tmp_path.glob(".*.tmp"))


def test_same_seed_same_file_other_seed_other_file(small_blocks: None, tmp_path: Path) -> None:
    assets = sample.sample_assets(2)
    a, b, c = (tmp_path / n for n in ("a.csv", "b.csv", "c.csv"))
    sample.write_sample(a, 30, assets, seed=1)
    sample.write_sample(b, 30, assets, seed=1)
    sample.write_sample(c, 30, assets, seed=2)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_one_block_is_the_one_table_file(tmp_path: Path) -> None:
    """Up to a block the file is sample_table's, byte for byte (files written before)."""
    import pyarrow.csv as pa_csv

    assets = sample.sample_assets(3)
    sample.write_sample(tmp_path / "n.csv", 500, assets)
    pa_csv.write_csv(
        sample.sample_table(500, assets),
        tmp_path / "o.csv",
        write_options=pa_csv.WriteOptions(quoting_style="needed"),
    )
    assert (tmp_path / "n.csv").read_bytes() == (tmp_path / "o.csv").read_bytes()


def test_blocked_file_reads_and_builds(small_blocks: None, tmp_path: Path) -> None:
    from verifier.inputs.liabilities import read_liabilities

    assets = sample.sample_assets(3)
    sample.write_sample(tmp_path / "s.csv", 40, assets)
    liabilities = read_liabilities(tmp_path / "s.csv", assets)
    assert len(liabilities.account_ids) == 40
