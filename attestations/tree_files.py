"""Bounded-memory reads of a stored tree's files, for the passes that walk a whole tree.

Where it sits: under the out-of-core audit (attestations/audit_stream.py) and the
`proof --all` container writer (attestations/proof_container.py). `TreeStore`
(attestations/store.py) memory-maps whole files and validates `accounts.arrow` in one go,
which is right for one proof but keeps every touched page of a 100M-account tree resident;
here every file is read in ranges, and the one map kept open (`AccountIds`) gives its pages
back after each range, so what a pass holds is one range, whatever the tree's size.

The checks and their messages are `TreeStore`'s (`account_ids`, `bulk_index`), made range
by range.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from verifier.base.errors import InputError, InvalidProof, StoreError

CHUNK = 1 << 20
"""Records per read of a level, positions.bin or index.bin."""
ID_TYPES = (pa.string(), pa.large_string(), pa.binary(), pa.large_binary())


def read_records(path: Path, start: int, count: int, width: int) -> npt.NDArray[np.uint8]:
    """Records [start, start + count) of a fixed-width file (fewer at its end)."""
    with path.open("rb") as handle:
        handle.seek(start * width)
        data = handle.read(count * width)
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, width)


def read_array(path: Path, dtype: Any, start: int, count: int) -> npt.NDArray[Any]:
    """Items [start, start + count) of a file of fixed-size items (fewer at its end)."""
    kind = np.dtype(dtype)
    with path.open("rb") as handle:
        return np.fromfile(handle, dtype=kind, count=count, offset=start * kind.itemsize)


def blocks(path: Path, dtype: Any, count: int = CHUNK) -> Iterator[npt.NDArray[Any]]:
    """The file as consecutive blocks of `count` items."""
    with path.open("rb") as handle:
        while True:
            block = np.fromfile(handle, dtype=np.dtype(dtype), count=count)
            if not len(block):
                return
            yield block


class RowsSeen:
    """Which account rows an index named: O(1) memory while they come in order 0, 1, 2...
    (every tree `por` builds in salt order), one byte per account once they do not."""

    def __init__(self, accounts: int) -> None:
        self.accounts = accounts
        self.next = 0  # rows 0 .. next-1 seen, in order, while `seen` is None
        self.seen: npt.NDArray[np.bool_] | None = None

    def add(self, rows: npt.NDArray[Any]) -> None:
        if self.seen is None:
            expect = np.arange(self.next, self.next + len(rows), dtype=np.uint64)
            if np.array_equal(rows, expect):
                self.next += len(rows)
                return
            self.seen = np.zeros(self.accounts, dtype=bool)
            self.seen[: self.next] = True
        self.seen[rows.astype(np.int64)] = True

    def all(self) -> bool:
        return self.next == self.accounts if self.seen is None else bool(self.seen.all())


class AccountIds:
    """`tree/accounts.arrow` by row ranges: one read-only map whose pages are released after
    each range (`release`), so a pass over 100M ids holds one range of them.

    Every id is checked before it is used (`validate`, with `TreeStore.account_ids`'s
    messages): one non-null UTF-8 `account_id` column, one entry per account.
    """

    def __init__(self, path: Path, accounts: int) -> None:
        self.path = path
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise InputError("tree file missing", file=str(path)) from None
        except OSError as exc:
            raise StoreError(f"{path}: cannot open the tree file ({exc.strerror})") from None
        try:
            self._map = mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if os.fstat(fd).st_size else None
        finally:
            os.close(fd)
        if self._map is None:
            raise self._damaged("not a readable Arrow IPC file (empty)")
        try:
            reader = pa.ipc.open_file(pa.BufferReader(pa.py_buffer(self._map)))
            if "account_id" not in reader.schema.names:
                raise self._damaged("has no account_id column")
            field = reader.schema.field("account_id")
            self.columns = [
                reader.get_batch(i).column("account_id") for i in range(reader.num_record_batches)
            ]
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise self._damaged(f"not a readable Arrow IPC file ({type(exc).__name__})") from None
        if field.type not in ID_TYPES:
            raise self._damaged(f"account_id is of type {field.type}, not a string")
        held = sum(len(c) for c in self.columns)
        if held != accounts:
            raise self._damaged(f"holds {held} account ids, the tree has {accounts}")
        self.accounts = accounts
        self.starts = np.cumsum([0] + [len(c) for c in self.columns]).tolist()

    def _damaged(self, why: str) -> InvalidProof:
        return InvalidProof("accounts", f"{self.path}: {why}")

    def release(self) -> None:
        """Give the mapped pages back (they are re-read from the page cache if needed)."""
        if self._map is not None:
            self._map.madvise(mmap.MADV_DONTNEED)

    def validate(self) -> None:
        """Every id checked, range by range: the file's structure, no null, valid UTF-8."""
        for column in self.columns:
            for start in range(0, len(column), CHUNK):
                part = column.slice(start, CHUNK)
                try:
                    part.validate(full=True)
                except (pa.ArrowException, ValueError) as exc:
                    raise self._damaged(
                        f"not a readable Arrow IPC file ({type(exc).__name__})"
                    ) from None
                if part.null_count:
                    raise self._damaged("an account id is null")
                try:
                    _as_text(part).validate(full=True)
                except pa.ArrowException:
                    raise self._damaged("an account id is not valid UTF-8") from None
                self.release()

    def slice(self, start: int, stop: int) -> pa.Array:
        """The ids of rows [start, stop) as one string array (validated beforehand)."""
        pieces = []
        for i, column in enumerate(self.columns):
            a, b = max(start, self.starts[i]), min(stop, self.starts[i + 1])
            if a < b:
                pieces.append(_as_text(column.slice(a - self.starts[i], b - a)))
        return _combine(pieces)

    def take(self, rows: npt.NDArray[Any]) -> pa.Array:
        """The ids of the given rows, in that order (validated beforehand)."""
        rows = rows.astype(np.int64)
        if len(self.columns) == 1:
            return _as_text(self.columns[0]).take(pa.array(rows))
        # record batch by record batch: a take over the whole chunked column would first
        # concatenate every batch (all ids in memory)
        batch = np.searchsorted(np.asarray(self.starts), rows, side="right") - 1
        order = np.argsort(batch, kind="stable")
        pieces = []
        for i in np.unique(batch).tolist():
            wanted = rows[order][batch[order] == i] - self.starts[i]
            pieces.append(_as_text(self.columns[i]).take(pa.array(wanted)))
        gathered = _combine(pieces)
        if np.array_equal(order, np.arange(len(order))):
            return gathered
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        return gathered.take(pa.array(back))


def _as_text(column: pa.Array) -> pa.Array:
    """A binary column viewed as UTF-8 text (no copy; validation checks the encoding)."""
    if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
        kind = pa.string() if pa.types.is_binary(column.type) else pa.large_string()
        return pa.Array.from_buffers(
            kind, len(column), column.buffers(), null_count=0, offset=column.offset
        )
    return column


def _combine(pieces: list[pa.Array]) -> pa.Array:
    if len(pieces) == 1:
        return pieces[0]
    if not pieces:
        return pa.array([], pa.large_string())
    return pa.chunked_array([p.cast(pa.large_string()) for p in pieces]).combine_chunks()
