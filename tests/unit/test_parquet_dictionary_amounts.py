"""A Parquet `amount` column stored dictionary-encoded (what pyarrow writes for a
categorical column) reads like the plain column, on both amount parsers.

An outside tester wrote `pa.array(["1", "2", "3"]).dictionary_encode()` as the amount
column: the native parser died on the dictionary chunk's buffers ("internal error
(ValueError)", exit 4) and the Arrow path with ArrowNotImplementedError. The reader now
decodes the dictionary to its value type before the type rules: a dictionary of strings or
decimals reads and gives the CSV's balances; a dictionary of floats or integers is refused
as the plain column is. `convert_amounts` itself refuses any column that is not plain
strings, naming the file, so no other caller can reach the parser with one.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from attestations.encoding import AssetSpec
from verifier.base.errors import InputError
from verifier.inputs import liabilities_amounts as la
from verifier.inputs import native
from verifier.inputs.liabilities import read_liabilities
from verifier.inputs.liabilities_lines import Source
from verifier.inputs.liabilities_parquet import _check_type, read_parquet

ASSETS = (AssetSpec("BTC", 8), AssetSpec("USDT", 6))
ROWS = [("a", "BTC", "1"), ("b", "BTC", "2.5"), ("c", "USDT", "3"), ("d", "BTC", "2.5")]

BACKENDS = [
    pytest.param(None, id="POR_NATIVE=0"),
    pytest.param(
        native.AMOUNTS,
        id="native",
        marks=pytest.mark.skipif(native.AMOUNTS is None, reason="extension not built"),
    ),
]


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    monkeypatch.setattr(la, "NATIVE", request.param)
    return request.param


def _write(path: Path, amounts: pa.Array) -> Path:
    table = pa.table(
        {
            "account_id": [r[0] for r in ROWS],
            "asset": [r[1] for r in ROWS],
            "amount": amounts,
        }
    )
    pq.write_table(table, path)
    return path


def _csv(tmp_path: Path) -> object:
    path = tmp_path / "same.csv"
    path.write_text("account_id,asset,amount\n" + "".join(f"{a},{b},{c}\n" for a, b, c in ROWS))
    return read_liabilities(path, ASSETS)


@pytest.mark.parametrize(
    "amounts",
    [
        pa.array([r[2] for r in ROWS]).dictionary_encode(),
        pa.array([r[2] for r in ROWS], pa.large_string()).dictionary_encode(),
        pa.array([Decimal(r[2]) for r in ROWS], pa.decimal128(20, 4)).dictionary_encode(),
    ],
    ids=["string", "large_string", "decimal128"],
)
def test_a_dictionary_amount_column_reads_as_the_plain_one(tmp_path, backend, amounts):
    path = _write(tmp_path / "x.parquet", amounts)
    if not pa.types.is_decimal(amounts.type.value_type):  # pyarrow restores string ones only
        assert pa.types.is_dictionary(pq.read_schema(path).field("amount").type)
    got = read_parquet(path, ASSETS)
    csv = _csv(tmp_path)
    assert got.account_ids.to_pylist() == csv.account_ids.to_pylist()  # type: ignore[attr-defined]
    assert got.balances.tobytes() == csv.balances.tobytes()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("amounts", "message"),
    [
        (pa.array([1.0, 2.5, 3.0, 2.5]).dictionary_encode(), "a float cannot hold"),
        (pa.array([1, 2, 3, 2]).dictionary_encode(), "whole units or base units"),
    ],
    ids=["float", "integer"],
)
def test_a_dictionary_of_numbers_is_refused_as_the_plain_column(
    tmp_path, backend, amounts, message
):
    path = _write(tmp_path / "x.parquet", amounts)
    with pytest.raises(InputError, match=message) as caught:
        read_parquet(path, ASSETS)
    assert caught.value.file == str(path)
    assert "'amount'" in str(caught.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [(pa.float64(), "has type double: a float cannot hold"), (pa.int64(), "whole units")],
)
def test_the_type_rule_judges_a_dictionary_by_its_values(values, message):
    # pyarrow hands back dictionaries of strings only; another reader may keep these
    with pytest.raises(InputError, match=message):
        _check_type("x.parquet", "amount", pa.dictionary(pa.int32(), values))
    _check_type("x.parquet", "amount", pa.dictionary(pa.int32(), pa.decimal128(20, 4)))


def test_a_bad_amount_in_a_dictionary_column_names_its_row(tmp_path, backend):
    amounts = pa.array(["1", "2.5", "3", "2.5x"]).dictionary_encode()
    path = _write(tmp_path / "x.parquet", amounts)
    with pytest.raises(InputError, match="not a decimal number") as caught:
        read_parquet(path, ASSETS)
    assert str(caught.value).startswith(f"{path}: row 4:")


@pytest.mark.parametrize(
    "column",
    [
        pa.chunked_array([pa.array(["1", "2"]).dictionary_encode()]),
        pa.chunked_array([pa.array([b"1", b"2"])]),
    ],
    ids=["dictionary", "binary"],
)
def test_convert_amounts_refuses_a_column_that_is_not_plain_strings(backend, column):
    source = Source(path=Path("in.parquet"), kind="parquet")
    with ThreadPoolExecutor(1) as pool, pytest.raises(InputError) as caught:
        la.convert_amounts(source, pool, column, np.zeros(2, np.int16), ASSETS, lambda *_: None)
    assert caught.value.file == "in.parquet"
    assert str(column.type) in str(caught.value)
