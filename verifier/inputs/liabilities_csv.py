"""Read a long-form liabilities CSV into an Arrow table of three string columns.

Where it sits: called by the liabilities reader (verifier/inputs/liabilities.py) for a CSV
file. The header (line 1) must name ``account_id,asset,amount`` in any order; Arrow reads
the rows; when it refuses the file, `_diagnose` re-reads it with Python's csv module to
name the line (the slow path, errors only).
"""

from __future__ import annotations

import csv

import pyarrow as pa
import pyarrow.csv as pa_csv

from verifier.base.errors import InputError
from verifier.inputs.liabilities_lines import COLUMNS, Source, csv_fields_unlimited, not_utf8


def read_csv_table(source: Source) -> pa.Table:
    """The file's rows as string columns, or `InputError` naming the header or a line."""
    read, parse, convert = csv_options(source)
    try:
        return pa_csv.read_csv(
            source.path, read_options=read, parse_options=parse, convert_options=convert
        )
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise _diagnose(source, exc) from exc


def csv_options(
    source: Source,
) -> tuple[pa_csv.ReadOptions, pa_csv.ParseOptions, pa_csv.ConvertOptions]:
    """Arrow's options for the rows, once the header (line 1) is found to name the three
    columns; shared by the whole-file and the streamed (liabilities_stream.py) readers."""
    name = str(source.path)
    with source.path.open("rb") as handle:
        # bounded: a file without \n (CR-only line ends) must not be read whole here
        first = handle.readline(1 << 16)
    header = first.decode("utf-8-sig", errors="replace").strip("\r\n")
    try:
        names = [h.strip() for h in next(csv.reader([header]), [])]
    except csv.Error:  # e.g. a \r in it: the header is not the three names either
        names = []
    if sorted(names) != sorted(COLUMNS):
        raise InputError(
            "header must name the columns account_id,asset,amount",
            file=name,
            line=1,
            value=header,
        )
    return (
        # the header's own names, trimmed (a header "account_id, asset, amount" is fine)
        pa_csv.ReadOptions(column_names=names, skip_rows=1),
        pa_csv.ParseOptions(newlines_in_values=False),
        pa_csv.ConvertOptions(
            column_types={c: pa.string() for c in COLUMNS},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _diagnose(source: Source, exc: Exception) -> InputError:
    """Find the line Arrow choked on (slow path, errors only)."""
    name = str(source.path)
    with (
        csv_fields_unlimited(),
        source.path.open("r", encoding="utf-8", errors="replace", newline="") as handle,
    ):
        reader = csv.reader(handle)
        try:
            next(reader, None)
            for row in reader:
                if row and len(row) != 3:
                    return InputError(
                        f"expected 3 fields, found {len(row)}",
                        file=name,
                        line=reader.line_num,
                        value=",".join(row),
                    )
        except csv.Error as err:
            return InputError(f"cannot parse CSV: {err}", file=name, line=reader.line_num)
    with source.path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                return not_utf8(name, number, raw, err)
    return InputError(f"cannot parse CSV: {exc}", file=name)
