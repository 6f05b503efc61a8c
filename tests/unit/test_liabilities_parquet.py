"""Parquet partitions (verifier/inputs/liabilities_parquet.py) and directory inputs
(`partition_files` of verifier/inputs/liabilities_cluster.py), on one machine.

The same rows as CSV, as Parquet with string amounts and as Parquet with decimal128 /
decimal256 amounts give the same accounts, balances and tree; what cannot be read exactly
(float or integer amounts, a digit beyond the asset's decimals) is refused naming the file,
the column or row, and the value. The cluster twin of the same-root test is in
tests/unit/test_build_cluster.py.
"""

from __future__ import annotations

import os
import zlib
from decimal import Context, Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attestations.build import build_tree
from attestations.encoding import AssetSpec
from verifier.base.errors import InputError
from verifier.inputs.liabilities import read_liabilities
from verifier.inputs.liabilities_cluster import partition_files, read_partitions
from verifier.inputs.liabilities_parquet import plain_decimals, read_parquet

ASSETS = (AssetSpec("BTC", 8), AssetSpec("ETH", 18), AssetSpec("USDT", 6))
SECRET = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
AS_OF = "2026-01-01T00:00:00Z"
STRING = pa.string()


def rows_of(accounts: int) -> list[tuple[str, str, str]]:
    """Rows with amounts of every scale up to 18 places (exact in decimal(38, 18))."""
    rng = np.random.default_rng(accounts)
    rows = []
    for i in range(accounts):
        name = f"acct-{i}-ü"
        rows.append((name, "BTC", f"{rng.integers(0, 10**9)}.{rng.integers(0, 10**8):08d}"))
        if i % 3:
            rows.append((name, "ETH", f"{rng.integers(0, 10**6)}.{rng.integers(0, 10**18):018d}"))
        if i % 5 == 0:
            rows.append((name, "USDT", f"{rng.integers(0, 10**6)}.5"))
    return rows


def write_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("account_id,asset,amount\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    return path


def write_parquet(
    path: Path, rows: list[tuple[str, str, str]], amount: pa.DataType = STRING
) -> Path:
    values: list[object] = [r[2] for r in rows]
    if pa.types.is_decimal(amount):
        values = [Decimal(v) for v in values]
    table = pa.table(
        {
            "region": ["eu"] * len(rows),  # a column por does not read
            "account_id": [r[0] for r in rows],
            "asset": pa.array([r[1] for r in rows]).dictionary_encode(),
            "amount": pa.array(values, amount),
        }
    )
    pq.write_table(table, path, row_group_size=max(1, len(rows) // 3))
    return path


def cut(rows: list[tuple[str, str, str]], parts: int) -> list[list[tuple[str, str, str]]]:
    out: list[list[tuple[str, str, str]]] = [[] for _ in range(parts)]
    for row in rows:
        out[zlib.crc32(row[0].encode()) % parts].append(row)
    return out


def root_of(data: object, out: Path, secret: Path) -> bytes:
    build_tree(data, out, attestation_id="p", as_of=AS_OF, secret_file=secret)  # type: ignore[arg-type]
    return (out / "root.json").read_bytes()


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.key"
    path.write_text(SECRET)
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    "amount", [pa.string(), pa.large_string(), pa.decimal128(38, 18), pa.decimal256(60, 20)]
)
def test_parquet_rows_read_as_the_same_csv_rows(tmp_path, amount) -> None:
    rows = rows_of(400)
    csv = read_liabilities(write_csv(tmp_path / "a.csv", rows), ASSETS)
    got = read_parquet(write_parquet(tmp_path / "a.parquet", rows, amount), ASSETS)
    assert got.account_ids.to_pylist() == csv.account_ids.to_pylist()
    assert got.balances.tobytes() == csv.balances.tobytes()
    assert got.stats == csv.stats


def test_csv_and_parquet_partitions_give_the_same_root(tmp_path, secret) -> None:
    rows = rows_of(900)
    whole = write_csv(tmp_path / "whole.csv", rows)
    flat, hive = tmp_path / "flat", tmp_path / "hive"
    flat.mkdir()
    for n, part in enumerate(cut(rows, 4)):
        write_parquet(flat / f"part-{n}.parquet", part, pa.decimal128(38, 18))
        sub = hive / f"year=202{n % 2}" / f"shard={n}"
        sub.mkdir(parents=True)
        write_parquet(sub / "part-0.parquet", part)
    (hive / "_SUCCESS").write_text("")
    (hive / "year=2020" / ".part-0.parquet.crc").write_text("x")
    expected = root_of(read_liabilities(whole, ASSETS), tmp_path / "t0", secret)
    assert root_of(read_partitions(flat, ASSETS), tmp_path / "t1", secret) == expected
    data = read_partitions(hive, ASSETS)
    assert root_of(data, tmp_path / "t2", secret) == expected
    # names are paths under the directory: two files may share a base name
    assert [f.relative_to(hive).as_posix() for f in partition_files(hive)] == [
        "year=2020/shard=0/part-0.parquet",
        "year=2020/shard=2/part-0.parquet",
        "year=2021/shard=1/part-0.parquet",
        "year=2021/shard=3/part-0.parquet",
    ]
    single = write_parquet(tmp_path / "whole.parquet", rows)
    assert root_of(read_partitions(single, ASSETS), tmp_path / "t3", secret) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 38),
    st.lists(st.integers(-(10**38) + 1, 10**38 - 1), min_size=1, max_size=20),
    st.integers(0, 5),
)
def test_plain_decimals_are_exact(scale, unscaled, offset) -> None:
    values = [Decimal(u).scaleb(-scale, Context(prec=80)) for u in unscaled]  # exact
    start = min(offset, len(values) - 1)  # a sliced array: its offset is honoured
    array = pa.array(values, pa.decimal128(38, scale)).slice(start)
    got = plain_decimals("f", pa.chunked_array([array])).to_pylist()
    assert got == [f"{v:f}" for v in values[start:]]  # plain notation, `scale` places
    assert [Decimal(g) for g in got] == values[start:]


def test_a_digit_beyond_the_asset_is_refused_naming_the_row(tmp_path) -> None:
    rows = [("a", "BTC", "1.000000000000000000"), ("b", "BTC", "0.000000001000000000")]
    path = write_parquet(tmp_path / "x.parquet", rows, pa.decimal128(38, 18))
    with pytest.raises(InputError) as caught:
        read_parquet(path, ASSETS)
    assert str(caught.value).startswith(f"{path}: row 2: more decimal places than BTC")
    assert "0.000000001000000000" in str(caught.value)


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("amount", pa.array([1.5], pa.float64()), "type double: a float cannot hold"),
        ("amount", pa.array([1.5], pa.float32()), "type float: a float cannot hold"),
        ("amount", pa.array([150], pa.int64()), "type int64: whole units or base units"),
        ("amount", pa.array([True]), "type bool: expected a string"),
        ("asset", pa.array([1], pa.int32()), "'asset' has type int32: expected a string"),
        ("account_id", pa.array([b"a"], pa.binary()), "'account_id' has type binary"),
    ],
)
def test_a_column_of_the_wrong_type_is_refused_naming_it(tmp_path, column, values, message):
    table = {"account_id": pa.array(["a"]), "asset": pa.array(["BTC"]), "amount": pa.array(["1"])}
    table[column] = values
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table(table), path)
    with pytest.raises(InputError, match=message) as caught:
        read_parquet(path, ASSETS)
    assert caught.value.file == str(path)


def test_integer_account_ids_are_their_decimal_text(tmp_path) -> None:
    path = tmp_path / "x.parquet"
    table = {"account_id": pa.array([7, 12], pa.int64()), "asset": ["BTC"] * 2, "amount": ["1"] * 2}
    pq.write_table(pa.table(table), path)
    assert sorted(read_parquet(path, ASSETS).account_ids.to_pylist()) == ["12", "7"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"PAR1 not really"), "not a readable Parquet file"),
        (lambda p: p.write_bytes(b""), "not a readable Parquet file"),
        (
            lambda p: pq.write_table(pa.table({"account_id": ["a"], "amount": ["1"]}), p),
            "without the column 'asset'",
        ),
        (
            lambda p: pq.write_table(
                pa.table({"account_id": ["a", None], "asset": ["BTC"] * 2, "amount": ["1"] * 2}),
                p,
            ),
            "row 2: missing account id",
        ),
        (
            lambda p: pq.write_table(
                pa.table({"account_id": ["a"], "asset": ["BTC"], "amount": ["1e5"]}), p
            ),
            "row 1: amount is not a decimal number",
        ),
        (
            lambda p: pq.write_table(
                pa.table({c: pa.array([], pa.string()) for c in ("account_id", "asset", "amount")}),
                p,
            ),
            "no rows",
        ),
    ],
)
def test_a_bad_parquet_file_is_refused_naming_it(tmp_path, make, message) -> None:
    path = tmp_path / "x.parquet"
    make(path)
    with pytest.raises(InputError, match=message) as caught:
        read_parquet(path, ASSETS)
    assert caught.value.file == str(path)


# ----------------------------------------------------------------------------- directories


def test_mixed_formats_are_refused(tmp_path) -> None:
    rows = rows_of(10)
    write_csv(tmp_path / "a.csv", rows[:5])
    write_parquet(tmp_path / "b.parquet", rows[5:])
    with pytest.raises(InputError, match=r"two formats \(.*a.csv is CSV, .*b.parquet is Parquet"):
        partition_files(tmp_path)


def test_a_fifo_partition_is_refused_without_opening_it(tmp_path) -> None:
    write_csv(tmp_path / "a.csv", rows_of(3))
    os.mkfifo(tmp_path / "b.csv")
    with pytest.raises(InputError, match="not a regular file") as caught:
        partition_files(tmp_path)
    assert caught.value.file == str(tmp_path / "b.csv")


def test_a_symlink_loop_is_refused(tmp_path) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    write_csv(tmp_path / "in" / "sub" / "a.csv", rows_of(3))
    (tmp_path / "in" / "sub" / "back").symlink_to(tmp_path / "in")
    with pytest.raises(InputError, match="directory reached twice"):
        partition_files(tmp_path / "in")
    (tmp_path / "in" / "sub" / "back").unlink()
    (tmp_path / "in" / "self.csv").symlink_to(tmp_path / "in" / "self.csv")
    with pytest.raises(InputError, match="cannot read partition"):
        partition_files(tmp_path / "in")


def test_a_nested_directory_is_read_not_skipped(tmp_path) -> None:
    (tmp_path / "in" / "more").mkdir(parents=True)
    write_csv(tmp_path / "in" / "a.csv", rows_of(3))
    write_csv(tmp_path / "in" / "more" / "b.csv", rows_of(4)[-1:])
    assert [p.name for p in partition_files(tmp_path / "in")] == ["a.csv", "b.csv"]
    (tmp_path / "in" / "_tmp").mkdir()
    write_csv(tmp_path / "in" / "_tmp" / "c.csv", rows_of(3))  # a writer's staging dir
    assert len(partition_files(tmp_path / "in")) == 2
