"""The CSV files exchanges publish their ownership signatures in, read as records with lines.

Where it sits: below the layouts of `verifier/external/ownership_files.py` (okx, summa, htx),
which find their header and columns in these records. Pure.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence

from verifier.base.errors import InputError

_STRAY_CR = re.compile(r"\r(?!\n)(?!\Z)")


def csv_rows(text: str, delimiter: str = ",") -> list[tuple[int, list[str]]]:
    """The records of a CSV file with the line each starts on (1-based).

    Line ends may be LF, CRLF or CR alone (a file saved by an old Mac tool); a carriage
    return inside a line of an LF or CRLF file is refused rather than guessed at, since it
    would silently cut a row in two.
    """
    if "\n" in text:
        stray = _STRAY_CR.search(text)
        if stray is not None:
            line = text.count("\n", 0, stray.start()) + 1
            start = text.rfind("\n", 0, stray.start()) + 1
            end = text.find("\n", stray.start())
            raise InputError(
                "a carriage return (\\r) inside a line",
                line=line,
                value=text[start : end if end >= 0 else len(text)].rstrip("\r"),
            )
    # newline="": the csv module sees the line ends as they are and splits on all three
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"not CSV ({exc})", line=reader.line_num or 1) from None
    return rows


def shown(cells: Sequence[str], delimiter: str = ",") -> str:
    """A row as the file has it, for a message."""
    return delimiter.join(cells)


def blank(cells: Sequence[str]) -> bool:
    """A record with nothing in it (an empty line, or only separators)."""
    return not any(c.strip() for c in cells)
