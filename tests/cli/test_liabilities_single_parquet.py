"""`por liabilities build FILE.parquet` on one machine: a single Parquet file is a
one-partition input (verifier/cli/liabilities.py sends it to the partition reader, as
`--cluster` and a directory do), so it gives the root of the same rows as CSV with the same
secret; a malformed one is exit 3 with one line naming the file."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from verifier.cli.main import main

AS_OF = "2026-12-05T00:00:00Z"
SECRET = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
ROWS = [("alice", "BTC", "1.5"), ("bob", "BTC", "2"), ("bob", "ETH", "0.000000000000000001"),
        ("carol", "ETH", "7.25")]  # fmt: skip


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    assets = tmp_path / "assets.toml"
    assets.write_text("[assets.BTC]\ndecimals = 8\n[assets.ETH]\ndecimals = 18\n")
    secret = tmp_path / "s.key"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    return assets, secret


def _build(source: Path, out: Path, assets: Path, secret: Path) -> int:
    return main(["-q", "liabilities", "build", str(source), "--assets", str(assets),
                 "--attestation-id", "x", "--as-of", AS_OF, "--out", str(out),
                 "--secret-file", str(secret)])  # fmt: skip


def _root(out: Path) -> dict[str, object]:
    doc: dict[str, object] = json.loads((out / "root.json").read_text())
    return doc


@pytest.mark.parametrize("amount", [pa.string(), pa.decimal128(38, 18)], ids=["string", "decimal"])
def test_a_single_parquet_file_builds_the_csv_root(tmp_path, inputs, amount) -> None:
    assets, secret = inputs
    csv = tmp_path / "l.csv"
    csv.write_text("account_id,asset,amount\n" + "".join(f"{a},{b},{c}\n" for a, b, c in ROWS))
    values = [Decimal(r[2]) if pa.types.is_decimal(amount) else r[2] for r in ROWS]
    parquet = tmp_path / "l.parquet"
    pq.write_table(
        pa.table(
            {
                "account_id": [r[0] for r in ROWS],
                "asset": [r[1] for r in ROWS],
                "amount": pa.array(values, amount),
            }
        ),
        parquet,
    )
    assert _build(csv, tmp_path / "from-csv", assets, secret) == 0
    assert _build(parquet, tmp_path / "from-parquet", assets, secret) == 0
    from_csv, from_parquet = _root(tmp_path / "from-csv"), _root(tmp_path / "from-parquet")
    assert from_parquet["root"] == from_csv["root"]
    assert from_parquet["commitment"] == from_csv["commitment"]
    assert (
        json.loads((tmp_path / "from-parquet" / "tree" / "meta.json").read_text())["accounts"] == 3
    )


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.write_bytes(b"PAR1" + b"x" * 40 + b"PAR1"), "not a readable Parquet file"),
        (
            lambda p: pq.write_table(
                pa.table({"account_id": ["a"], "asset": ["BTC"], "amount": [1.5]}), p
            ),
            "amount",
        ),
        (lambda p: pq.write_table(pa.table({"account_id": ["a"], "asset": ["BTC"]}), p), "amount"),
    ],
    ids=["garbage", "float-amount", "no-amount-column"],
)
def test_a_malformed_single_parquet_file_is_exit_3_in_one_line(
    tmp_path, inputs, capsys, write, message
) -> None:
    assets, secret = inputs
    source = tmp_path / "bad.PARQUET"  # the suffix in any case
    write(source)
    capsys.readouterr()
    assert _build(source, tmp_path / "out", assets, secret) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert str(source) in err[0] and message in err[0]
    assert "Traceback" not in err[0]
    assert not (tmp_path / "out").exists()
