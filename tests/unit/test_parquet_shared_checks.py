"""The Parquet reader shares the CSV reader's checks (`validate_rows` of
verifier/inputs/liabilities.py): the same rows as CSV and as Parquet give the same
refusal, naming the file and the row, or the same balances and excluded totals. Among
them the cap on the `--negative exclude` totals, which the Parquet reader's own copy of
the steps lacked the file and row for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from attestations.encoding import AssetSpec
from verifier.base.errors import InputError
from verifier.inputs.liabilities import read_liabilities
from verifier.inputs.liabilities_parquet import read_parquet

M = 2**128
ASSETS = (AssetSpec("BTC", 8), AssetSpec("ETH", 18))
BIG = f"-{(M - 1) // 10**8}.{(M - 1) % 10**8:08d}"  # -(2**128 - 1) satoshi


def _both(tmp_path: Path, rows: list[tuple[str, str, str]]) -> tuple[Path, Path]:
    csv = tmp_path / "l.csv"
    csv.write_text("account_id,asset,amount\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    parquet = tmp_path / "l.parquet"
    columns = zip(*rows, strict=True)
    pq.write_table(pa.table(dict(zip(("account_id", "asset", "amount"), columns, strict=True))),
                   parquet)  # fmt: skip
    return csv, parquet


def test_an_excluded_total_over_the_cap_names_the_parquet_file_and_row(tmp_path) -> None:
    rows = [("a", "BTC", "2"), ("b", "BTC", BIG), ("c", "ETH", "-1"), ("d", "BTC", "-0.00000001")]
    csv, parquet = _both(tmp_path, rows)
    with pytest.raises(InputError) as info:
        read_parquet(parquet, ASSETS, negative="exclude")
    exc = info.value
    assert exc.exit_code == 3 and exc.file == str(parquet) and exc.value == str(-M)
    assert "row 4" in exc.message  # the row where the total reaches 2**128, 1-based
    assert "BTC" in exc.message and "2**128" in exc.message
    with pytest.raises(InputError) as from_csv:  # the CSV names the same row as line 5
        read_liabilities(csv, ASSETS, negative="exclude")
    assert (from_csv.value.line, from_csv.value.value) == (5, str(-M))


@pytest.mark.parametrize(
    ("rows", "kwargs", "reason"),
    [
        ([("a", "BTC", "1"), ("b", "DOGE", "1")], {}, "DOGE"),
        ([("a", "BTC", "1"), ("b", "BTC", "0.000000001")], {}, "decimal places"),
        ([("a", "BTC", "1"), ("a", "BTC", "2")], {}, "duplicate (account, asset) row"),
        ([("a", "BTC", "1"), ("b", "BTC", "-2")], {}, "negative amount"),
        ([("a", "BTC", "-1")], {"negative": "exclude"}, "no rows left"),
        # an asset refusal comes before an account id one, as in CSV
        ([("", "BTC", "1"), ("b", "DOGE", "1")], {}, "DOGE"),
    ],
    ids=["asset", "digit", "duplicate", "negative", "all-excluded", "order"],
)
def test_the_same_rows_are_refused_alike(tmp_path, rows, kwargs, reason) -> None:
    csv, parquet = _both(tmp_path, rows)
    with pytest.raises(InputError) as from_csv:
        read_liabilities(csv, ASSETS, **kwargs)
    with pytest.raises(InputError) as from_parquet:
        read_parquet(parquet, ASSETS, **kwargs)
    assert reason in from_csv.value.message and reason in from_parquet.value.message
    assert from_parquet.value.file == str(parquet)
    # CSV says line N (the header is line 1), Parquet row N - 1
    line = from_csv.value.line
    if line is not None:
        assert f"row {line - 1}:" in from_parquet.value.message


def test_the_same_rows_give_the_same_balances_and_exclusions(tmp_path) -> None:
    rows = [("a", "BTC", "1.5"), ("b", "ETH", "-0.25"), ("b", "BTC", "3"), ("c", "ETH", "7")]
    csv, parquet = _both(tmp_path, rows)
    from_csv = read_liabilities(csv, ASSETS, negative="exclude")
    from_parquet = read_parquet(parquet, ASSETS, negative="exclude")
    assert from_parquet.account_ids.to_pylist() == from_csv.account_ids.to_pylist()
    assert np.array_equal(from_parquet.balances, from_csv.balances)
    assert from_parquet.excluded == from_csv.excluded
    assert from_parquet.excluded is not None
    assert from_parquet.excluded["assets"]["ETH"]["total_base_units"] == str(-(25 * 10**16))
    assert from_parquet.stats == from_csv.stats == {"rows": 4, "accounts": 3, "excluded_rows": 1}
