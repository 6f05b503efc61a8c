"""Read a long-form liabilities CSV into an Arrow table of three string columns.

Where it sits: called by the liabilities reader (verifier/inputs/liabilities.py) for a CSV
file. The header (line 1) must name ``account_id,asset,amount`` in any order; Arrow reads
the rows; when it refuses the file, `_diagnose` re-reads it with Python's csv module to
name the line (the slow path, errors only).

Each row must be on one line. Arrow is told so (``newlines_in_values=False``: a quote-aware
chunker costs a fifth of the read), but then reads a quoted field over a line end one way
inside a block and another way across a block boundary, where it may even drop rows
silently (pyarrow 26). So `check_one_row_per_line` refuses such a field, naming its line,
whenever the rows do not match the lines one to one (never on a file without blank lines).
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv

from verifier.base.errors import InputError
from verifier.inputs.liabilities_lines import (
    COLUMNS,
    READ_BLOCK_BYTES,
    Source,
    csv_fields_unlimited,
    first_long_line,
    not_utf8,
)

# Arrow's own SIGINT/SIGTERM handler, put in place of por's during read_csv, can drop a
# signal: its self-pipe thread may see it after the read ended and the stop source was
# reset, and por's handler then never runs (1 of 30 and 3 of 40 SIGTERMs lost in a loop of
# reads; 0 of 40 with it off). Off, por's handler raises Terminated as soon as the read
# returns (at most ~0.26 s later at 1M x 3 rows). Process-wide: every Arrow read alike.
pa.enable_signal_handlers(False)


def read_csv_table(source: Source) -> pa.Table:
    """The file's rows as string columns, or `InputError` naming the header or a line."""
    read, parse, convert = csv_options(source)
    try:
        return pa_csv.read_csv(
            source.path, read_options=read, parse_options=parse, convert_options=convert
        )
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise (first_long_line(source.path) or _diagnose(source, exc)) from exc


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
        pa_csv.ReadOptions(column_names=names, skip_rows=1, block_size=READ_BLOCK_BYTES),
        pa_csv.ParseOptions(newlines_in_values=False),
        pa_csv.ConvertOptions(
            column_types={
                **{c: pa.string() for c in COLUMNS},
                # read dictionary-encoded: dictionary() then only unifies (0.002 s, not 0.05-0.2)
                "asset": pa.dictionary(pa.int32(), pa.string()),
            },
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def check_one_row_per_line(source: Source, *, counted: bool = True) -> None:
    """Refuse a quoted field that runs over a line end, naming the line where it starts.

    With the rows and lines `counted` (`Source.simple`), a file whose rows match its lines
    one to one has none; neither has a file without a quote (its extra lines are blank
    ones). Only the others are re-read with Python's csv module.
    """
    if (counted and source.simple) or not _has_quote(source.path):
        return
    problem = _multi_line_record(source)
    if problem is not None:
        raise problem


def _has_quote(path: Path) -> bool:
    with path.open("rb") as handle:
        return any(b'"' in block for block in iter(lambda: handle.read(1 << 20), b""))


def _multi_line_record(source: Source) -> InputError | None:
    """The first record Python's csv module reads over more than one line (errors only)."""
    name = str(source.path)
    with (
        csv_fields_unlimited(),
        source.path.open("r", encoding="utf-8", errors="replace", newline="") as handle,
    ):
        reader = csv.reader(handle)
        end = 0
        try:
            for record in reader:
                start, end = end + 1, reader.line_num
                if record and end > start:
                    return _spread(name, source.path, start)
        except csv.Error:  # the quote is never closed: the field runs to the end
            return _spread(name, source.path, end + 1)
    return None


def _spread(name: str, path: Path, line: int) -> InputError:
    with path.open("rb") as handle:
        text = next(itertools.islice(handle, line - 1, None), b"")
    return InputError(
        "a quoted field runs over the line end: each row must be on one line (a line break "
        "inside quotes, or a quote that is not closed)",
        file=name,
        line=line,
        value=text[:200].decode("utf-8", "replace").rstrip("\r\n"),
    )


def _diagnose(source: Source, exc: Exception) -> InputError:
    """Find the line Arrow choked on (slow path, errors only)."""
    name = str(source.path)
    spread = _multi_line_record(source) if _has_quote(source.path) else None
    if spread is not None:
        return spread
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
