r"""A liabilities file as lines: its kind, its one-pass scan, and data row → line number.

Where it sits: under the liabilities reader (verifier/inputs/liabilities.py) and its CSV and
JSON Lines readers (liabilities_csv.py, liabilities_jsonl.py); every refusal they raise names
a line through `Source`. Line numbers are those of ``grep -n`` and editors: lines end with
``\n`` (a ``\r\n`` pair counts once). A ``\r`` not followed by ``\n`` is found here by the
scan that also hashes the file, and refused naming its line (`bare_cr_error`). So is a line
longer than `MAX_LINE_BYTES` (`long_line_error`), on every reader alike.

Everything but `scan_file` and the `Source` fast path runs on the error path only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier.base.errors import InputError

COLUMNS = ("account_id", "asset", "amount")

MAX_LINE_BYTES = 1 << 20
"""The longest line a liabilities file may hold: 1,048,576 bytes (1 MiB) before its line end.

Why this figure: the longest valid row is under 2 KiB (an account id of at most 256 bytes,
6 bytes a character as JSON escapes at worst; an asset code; an amount of 39 digits plus
the asset's decimals), so 1 MiB leaves room for any quoting, blanks or zero padding, and
hostile rows of a few hundred KiB still reach the check that names their fault. Without
one limit, Arrow decided: a row must lie within two consecutive blocks of its reader, so a
line longer than a block was read or refused depending on the reader (1 MiB blocks in
memory, 8 MiB streamed) and on where it fell, with a "straddling object" message and no
line number. Every reader — in memory, streamed, each directory partition — now refuses a
longer line up front, naming it (`scan_file`), and reads every line up to it.
"""
READ_BLOCK_BYTES = MAX_LINE_BYTES + (64 << 10)
"""Arrow's block for the CSV and JSON readers: a line of `MAX_LINE_BYTES` with its line end
(and a byte order mark) fits in one, so Arrow reads it wherever it starts. Measured as fast
as Arrow's default of 1 MiB on 1M x 3 rows (2 MiB was slower)."""
STREAM_ABOVE = 2 << 30
"""Inputs larger than this (bytes) are built out of core even without --out-of-core
(verifier/inputs/liabilities_stream.py; here so that `prefetch_scan` knows it without
importing the streamed reader)."""


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
    r"""SHA-256 of the file, its number of lines and its first bare \r, in one pass.

    Raises `InputError` for the first line longer than `MAX_LINE_BYTES` unless the file has
    a bare \r (its caller refuses that first: it is what made the line long).
    """
    digest = hashlib.sha256()
    newlines = 0
    last = b""
    offset = 0
    bare_cr: int | None = None
    carried_cr = False  # the previous block ended with \r: this one must start with \n
    lengths = LineLengths()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            newlines += block.count(b"\n")
            lengths.feed(block)
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
    lengths.end()
    if bare_cr is None and lengths.first_long is not None:
        raise long_line_error(path, *lengths.first_long)
    lines = newlines + (1 if last and not last.endswith(b"\n") else 0)
    return Scan(digest.hexdigest(), lines, bare_cr)


_PREFETCHED: dict[str, tuple[Identity, Future[Scan]]] = {}


Identity = tuple[int, int, int, int, int]


def _identity(st: os.stat_result) -> Identity:
    # ctime too: a file rewritten in place with its mtime put back (cp -p, rsync --inplace
    # -t, touch -r) keeps device, inode, size and mtime; no call can set its ctime back
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def prefetch_scan(path: Path) -> None:
    """Start `scan_file(path)` now, on a background thread, for `prefetched_scan` to take.

    The build's command calls it before it imports numpy and Arrow (~0.15 s on one core):
    the scan (mostly SHA-256, which releases the GIL) runs beside those imports instead of
    beside Arrow's parse, which wants both cores. Only for a regular file the in-memory
    reader will read (not a FIFO, a directory, a Parquet file or one streamed for its
    size); anything else is left to the reader, as before. The thread is a daemon: a
    command that fails early does not wait for it.
    """
    try:
        st = os.stat(path)
    except OSError:
        return
    if (
        not stat.S_ISREG(st.st_mode)
        or not 0 < st.st_size <= STREAM_ABOVE
        or path.suffix.lower() == ".parquet"
    ):
        return
    future: Future[Scan] = Future()

    def run() -> None:
        try:
            future.set_result(scan_file(path))
        except BaseException as exc:  # handed to the reader, which raises it as before
            future.set_exception(exc)

    _PREFETCHED[str(path)] = (_identity(st), future)
    threading.Thread(target=run, name="por-scan", daemon=True).start()


def file_identity(path: Path) -> Identity | None:
    """The file's (device, inode, size, mtime, ctime), or None when it cannot be stat'ed:
    equal before and after a read, the file did not change while it was read."""
    try:
        return _identity(os.stat(path))
    except OSError:
        return None


def changed_while_read(path: Path) -> InputError:
    return InputError(
        "the file changed while it was read (its size or times moved); read it again once "
        "nothing writes to it",
        file=str(path),
    )


def prefetched_scan(path: Path) -> Future[Scan] | None:
    """The scan `prefetch_scan` started for `path`, if the file is still the one it
    scanned (same device, inode, size, modification and change times); else None."""
    entry = _PREFETCHED.pop(str(path), None)
    if entry is None:
        return None
    return entry[1] if file_identity(path) == entry[0] else None


class LineLengths:
    r"""Finds the first line longer than `limit` bytes, fed the file block by block.

    Cheap on any file: a block costs a few ``find`` calls (memchr), not one per line. A
    line ending in the block is measured exactly when it started in an earlier block;
    lines inside the block are only looked at when a window of half the limit (stepped
    from the block's first line end) holds no line end: a line over the limit always
    covers such a window. Lengths exclude the line end (\n, or \r\n).
    """

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        self.limit = limit
        self.window = max(1, limit // 2)
        self.offset = 0  # of the next block in the file
        self.open_start = 0  # where the line still open at the end of the last block starts
        self.last_byte = b""
        self.first_long: tuple[int, int] | None = None  # (start offset, length)

    def feed(self, block: bytes) -> None:
        first = block.find(b"\n")
        if first >= 0 and self.first_long is None:
            self._ended(
                self.open_start, self.offset + first, block[first - 1 : first] or self.last_byte
            )
            last = block.rfind(b"\n")
            if last - first > self.limit:
                self._inner(block, first, last)
        if first >= 0:
            self.open_start = self.offset + block.rfind(b"\n") + 1
        self.offset += len(block)
        self.last_byte = block[-1:]

    def end(self) -> None:
        """The last line, when the file does not end with a line end."""
        if self.first_long is None and self.offset > self.open_start:
            self._ended(self.open_start, self.offset, b"")

    def _inner(self, block: bytes, first: int, last: int) -> None:
        at = first + 1
        while at + self.window <= last and self.first_long is None:
            if block.find(b"\n", at, at + self.window) >= 0:
                at += self.window
                continue
            start = block.rfind(b"\n", 0, at) + 1
            stop = block.find(b"\n", at)  # <= last: a line end follows
            self._ended(self.offset + start, self.offset + stop, block[stop - 1 : stop])
            at = stop + 1

    def _ended(self, start: int, stop: int, before: bytes) -> None:
        """A line from byte `start` to its line end at `stop` (`before`: the byte before)."""
        length = stop - start - (before == b"\r")
        if length > self.limit:
            self.first_long = (start, length)


def first_long_line(path: Path) -> InputError | None:
    """The refusal of the file's first line over `MAX_LINE_BYTES`, if any (errors only:
    a reader whose Arrow call failed asks this before its slower diagnosis)."""
    lengths = LineLengths()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            lengths.feed(block)
            if lengths.first_long is not None:
                break
    lengths.end()
    return None if lengths.first_long is None else long_line_error(path, *lengths.first_long)


def long_line_error(path: Path, start: int, length: int) -> InputError:
    """The error for a line of `length` bytes starting at byte `start` (error path only)."""
    line, _ = line_at(path, start)
    with path.open("rb") as handle:
        handle.seek(start)
        head = handle.read(80)
    return InputError(
        f"line of {length:,} bytes, over the limit of {MAX_LINE_BYTES:,} (a valid row is a "
        "few hundred bytes: a line end missing, or not a liabilities file?)",
        file=str(path),
        line=line,
        value=head.decode("utf-8", "replace"),
    )


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
