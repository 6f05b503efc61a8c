r"""A liabilities file as lines: its kind, its one-pass scan, and data row → line number.

Where it sits: under the liabilities reader (verifier/inputs/liabilities.py) and its CSV and
JSON Lines readers (liabilities_csv.py, liabilities_jsonl.py); every refusal they raise names
a line through `Source`. Line numbers are those of ``grep -n`` and editors: lines end with
``\n`` (a ``\r\n`` pair counts once). A ``\r`` not followed by ``\n`` is found here by the
scan that also hashes the file, and refused naming its line (`bare_cr_error`).

Everything but `scan_file` and the `Source` fast path runs on the error path only.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier.base.errors import InputError

COLUMNS = ("account_id", "asset", "amount")


@dataclass
class Source:
    """A liabilities file and how its data rows map back to line numbers.

    When the file has exactly one physical line per row (plus the CSV header), row r is on
    line r + 2 (CSV) or r + 1 (JSONL). Otherwise — blank lines, quoted newlines — the map
    is built once, on the error path only, by re-reading the file.
    """

    path: Path
    kind: str  # "csv" or "jsonl"
    physical_lines: int = -1
    rows: int = -1
    _lines: list[int] | None = None

    @property
    def simple(self) -> bool:
        return self.physical_lines == self.rows + (1 if self.kind == "csv" else 0)

    def line_of(self, row: int) -> int:
        """1-based line where a 0-based data row starts."""
        offset = 2 if self.kind == "csv" else 1
        if self.simple:
            return row + offset
        if self._lines is None:
            self._lines = _record_lines(self.path, self.kind)
        if row < len(self._lines):
            return self._lines[row]
        return row + offset

    def error(self, message: str, row: int, value: Any = None) -> InputError:
        return InputError(
            message,
            file=str(self.path),
            line=self.line_of(row),
            value=None if value is None else str(value),
        )


def detect(path: Path, head: bytes) -> str:
    """ "csv" or "jsonl": by the file's suffix, else by its first bytes."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    return "jsonl" if head.lstrip().startswith(b"{") else "csv"


def _record_lines(path: Path, kind: str) -> list[int]:
    """Start line of every data record, as the readers count records (errors only)."""
    import csv

    starts: list[int] = []
    if kind == "csv":
        with (
            csv_fields_unlimited(),
            path.open("r", encoding="utf-8", errors="replace", newline="") as handle,
        ):
            reader = csv.reader(handle)
            previous_end = 0
            # a csv.Error (not expected once bare \r is refused) ends the map early: rows
            # past it fall back to "row + 2" rather than the error escaping
            with contextlib.suppress(csv.Error):
                for record in reader:
                    start = previous_end + 1
                    previous_end = reader.line_num
                    if record:  # the CSV reader skips empty lines, as csv.reader gives []
                        starts.append(start)
        return starts[1:]  # the header
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                starts.append(number)
    return starts


@contextlib.contextmanager
def csv_fields_unlimited() -> Iterator[None]:
    """Let Python's csv module read fields of any length (its default limit is 128 KiB,
    and a longer field, which Arrow reads fine, would raise csv.Error mid-diagnosis)."""
    import csv

    old = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(old)


@dataclass(frozen=True)
class Scan:
    """What the one pass over the file found (`scan_file`)."""

    sha256: str
    lines: int  # physical lines: \n-terminated, plus a last one without \n
    bare_cr: int | None  # byte offset of the first \r not followed by \n, if any


def scan_file(path: Path) -> Scan:
    r"""SHA-256 of the file, its number of lines and its first bare \r, in one pass."""
    digest = hashlib.sha256()
    newlines = 0
    last = b""
    offset = 0
    bare_cr: int | None = None
    carried_cr = False  # the previous block ended with \r: this one must start with \n
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            newlines += block.count(b"\n")
            if bare_cr is None:
                if carried_cr and not block.startswith(b"\n"):
                    bare_cr = offset - 1
                elif b"\r" in block:  # memchr: free on files without any \r
                    ends_cr = block.endswith(b"\r")
                    if block.count(b"\r") - block.count(b"\r\n") - ends_cr:
                        bare_cr = offset + _first_bare_cr(block)
                    carried_cr = ends_cr
                else:
                    carried_cr = False
            offset += len(block)
            last = block
    if carried_cr and bare_cr is None:
        bare_cr = offset - 1  # the file ends with \r
    lines = newlines + (1 if last and not last.endswith(b"\n") else 0)
    return Scan(digest.hexdigest(), lines, bare_cr)


def _first_bare_cr(block: bytes) -> int:
    r"""Index of the first \r in `block` followed by something else than \n (not the end)."""
    at = block.find(b"\r")
    while at + 1 < len(block) and block[at + 1] == 0x0A:
        at = block.find(b"\r", at + 2)
    return at


def bare_cr_error(path: Path, offset: int) -> InputError:
    r"""The error for a \r at byte `offset` that no \n follows (error path only)."""
    line, start = line_at(path, offset)
    with path.open("rb") as handle:
        handle.seek(start)
        text = handle.read(min(offset - start + 1 + 80, 400)).split(b"\n")[0]
    return InputError(
        "a carriage return (\\r) without a line feed: CR-only (classic Mac) line ends or a "
        "stray \\r in a field; save the file with \\n or \\r\\n line ends",
        file=str(path),
        line=line,
        value=text.decode("utf-8", "replace"),
    )


def line_at(path: Path, offset: int) -> tuple[int, int]:
    """(1-based line, byte offset where it starts) of byte `offset` (error path only)."""
    line = 1
    start = 0
    done = 0
    with path.open("rb") as handle:
        while done < offset:
            block = handle.read(min(1 << 20, offset - done))
            if not block:
                break
            found = block.count(b"\n")
            if found:
                line += found
                start = done + block.rindex(b"\n") + 1
            done += len(block)
    return line, start


def not_utf8(name: str, number: int, raw: bytes, err: UnicodeDecodeError) -> InputError:
    """The error for a line whose bytes are not UTF-8, with the line shown repaired."""
    return InputError(
        f"not valid UTF-8 (byte {err.start + 1} of the line)",
        file=name,
        line=number,
        value=raw.decode("utf-8", "replace").strip(),
    )
