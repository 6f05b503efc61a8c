"""Read a Parquet liabilities file (a warehouse export's partition) into `Liabilities`.

Where it sits: beside the CSV and JSON Lines reader (verifier/inputs/liabilities.py), for
the partitions of a directory input and the cluster build (liabilities_cluster.py). The
Parquet columns are turned into the three string columns the CSV reader produces, then
checked and converted by the same function (`validate_rows` of liabilities.py), so the
same rows give the same accounts and balances — and the same tree — whatever the format.
Refusals name the file and the row (1-based, as the rows are stored).

Column types (docs/liabilities.md "Parquet partitions"):

  account_id  string (also large_string, dictionary); an integer id is taken as its
              decimal text (the id a CSV export of the same row would hold)
  asset       string
  amount      a decimal string, as in CSV (also large_string, and a dictionary of either:
              decoded first); or decimal128/decimal256(p, s) (or a dictionary of them), converted
              exactly: written out in plain decimal notation with its s places, so a
              non-zero digit beyond the asset's decimals is refused as in CSV and
              trailing zeros are fine. Integer amounts are refused: whether 5 means 5 BTC
              or 5 satoshi is not in the file, and guessing wrong is a factor of 10**8.
              Floating-point amounts are refused: a float cannot hold most decimal
              amounts exactly.

Other columns (the partition keys of a hive layout, audit fields) are not read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from attestations.build import Liabilities
from attestations.encoding import AssetSpec
from verifier.base.errors import InputError
from verifier.inputs.liabilities import no_progress, validate_rows
from verifier.inputs.liabilities_columns import Progress, first
from verifier.inputs.liabilities_lines import COLUMNS, Source

PARQUET_SUFFIXES = (".parquet",)
DECIMAL_DIGITS = 76  # decimal256's precision: every decimal128/256 value fits at scale >= 0


@dataclass
class ParquetSource(Source):
    """A Parquet file: rows are named by number (a Parquet file has no lines)."""

    def line_of(self, row: int) -> int:
        return row + 1

    def error(self, message: str, row: int, value: Any = None) -> InputError:
        return InputError(
            f"row {row + 1}: {message}",
            file=str(self.path),
            value=None if value is None else str(value),
        )


def read_parquet(
    path: Path,
    assets: tuple[AssetSpec, ...],
    *,
    negative: str = "error",
    sum_duplicates: bool = False,
    progress: Progress = no_progress,
) -> Liabilities:
    """A Parquet file read and checked into one row per account (as `read_liabilities`)."""
    if negative not in {"error", "exclude"}:
        raise InputError("--negative must be 'error' or 'exclude'", value=negative)
    source = ParquetSource(path=path, kind="parquet")

    def read() -> tuple[pa.Table, str]:
        progress("read input", 0, 1)
        table = parquet_table(source)
        progress("read input", 1, 1)
        return table, file_sha256(path)

    # the steps after the read are the CSV reader's own: same refusals, same balances
    return validate_rows(source, read, assets, negative, sum_duplicates, progress)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None
    return digest.hexdigest()


def parquet_table(source: ParquetSource) -> pa.Table:
    """The file's three columns as strings (amounts in plain decimal notation)."""
    name = str(source.path)
    try:
        handle = pq.ParquetFile(source.path)
        schema = handle.schema_arrow
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"not a readable Parquet file ({_reason(exc)})", file=name) from None
    missing = [c for c in COLUMNS if c not in schema.names]
    if missing:
        raise InputError(
            f"Parquet file without the column {missing[0]!r} (it has: {', '.join(schema.names)})",
            file=name,
        )
    if len(set(schema.names)) != len(schema.names):
        raise InputError("Parquet file with a column name twice", file=name)
    for column in COLUMNS:
        _check_type(name, column, schema.field(column).type)
    try:
        table = handle.read(columns=list(COLUMNS))
        table.validate(full=True)  # e.g. invalid UTF-8 in a string column
        table = _decoded_amounts(table)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"damaged Parquet file ({_reason(exc)})", file=name) from None
    if table.num_rows == 0:
        raise InputError("empty file: no rows", file=name)
    for column in COLUMNS:
        values = table.column(column)
        if values.null_count:
            row = first(values.is_null().to_numpy(zero_copy_only=False))
            assert row is not None
            raise source.error(f"missing {column.replace('_', ' ')}", row)
    return pa.table({c: _text(name, c, table.column(c)) for c in COLUMNS})


def _reason(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        return _is_text(kind.value_type)
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _decoded_amounts(table: pa.Table) -> pa.Table:
    """The table with a dictionary-encoded amount column (pyarrow writes one for a
    categorical column) decoded to its values: the amount parsers read plain strings only,
    and a null among the dictionary's values becomes a null row the caller refuses."""
    kind = table.schema.field("amount").type
    if not pa.types.is_dictionary(kind):
        return table
    where = table.schema.get_field_index("amount")
    return table.set_column(where, "amount", table.column(where).cast(kind.value_type))


def _check_type(name: str, column: str, kind: pa.DataType) -> None:
    """Refuse a column type that could not be read exactly, saying what to export instead.

    A dictionary-encoded amount column is judged by its values' type (a dictionary of
    floats is refused as floats are); the other columns may be dictionaries of strings."""
    if column == "amount" and pa.types.is_dictionary(kind):
        _check_type(name, column, kind.value_type)
        return
    if _is_text(kind):
        return
    if column == "account_id" and pa.types.is_integer(kind):
        return
    if column == "amount" and pa.types.is_decimal(kind):
        return
    if column == "amount" and pa.types.is_integer(kind):
        why = "whole units or base units? The file does not say"
    elif column == "amount" and pa.types.is_floating(kind):
        why = "a float cannot hold decimal amounts exactly"
    else:
        why = "expected a string"
    hint = " (export amounts as decimal strings or decimal(p, s))" if column == "amount" else ""
    raise InputError(f"column {column!r} has type {kind}: {why}{hint}", file=name)


def _text(name: str, column: str, values: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = values.type
    if pa.types.is_dictionary(kind):
        return values.cast(pa.dictionary(kind.index_type, pa.string()))
    if pa.types.is_decimal(kind):
        return plain_decimals(name, values)
    return values.cast(pa.string())


def plain_decimals(name: str, values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Decimal values as exact plain decimal strings with the column's scale ("1.50000000",
    "-0.000000010"): Arrow's own decimal-to-string cast writes small values as "1E-7".

    The unscaled integers are widened to decimal256 (exact), read as integers (scale 0,
    which Arrow writes plainly) and the point is put back in with string kernels."""
    scale = max(values.type.scale, 0)
    try:
        wide = values.cast(pa.decimal256(DECIMAL_DIGITS, scale))
    except pa.ArrowException:  # a negative scale whose value needs over 76 digits
        raise InputError(
            f"column 'amount' of type {values.type}: a value does not fit {DECIMAL_DIGITS} digits",
            file=name,
        ) from None
    integers = pa.chunked_array(
        [
            pa.Array.from_buffers(
                pa.decimal256(DECIMAL_DIGITS, 0),
                len(chunk),
                chunk.buffers(),
                chunk.null_count,
                chunk.offset,
            ).cast(pa.string())
            for chunk in wide.chunks
        ],
        pa.string(),
    )
    if scale == 0:
        return integers
    negative = pc.starts_with(integers, "-")
    digits = pc.utf8_lpad(pc.utf8_ltrim(integers, "-"), scale + 1, "0")
    plain = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(digits, 0, -scale), pc.utf8_slice_codeunits(digits, -scale), "."
    )
    signed: pa.ChunkedArray = pc.if_else(
        negative, pc.binary_join_element_wise("-", plain, ""), plain
    )
    return signed
