r"""Read a liabilities file in chunks straight into an out-of-core tree build: `stream_build`.

Where it sits: the bounded-memory twin of `read_liabilities` (verifier/inputs/liabilities.py)
followed by `build_tree`; `por liabilities build --out-of-core` (and inputs over
`STREAM_ABOVE` bytes, verifier/inputs/liabilities_lines.py) take it. Memory holds one
batch of rows or one bucket of accounts, never the whole input, so 100M accounts build in
a few GiB (docs/performance.md).

  1. Batches. Arrow's streaming CSV (or JSON Lines) reader yields about `BATCH_BYTES` of
     rows at a time; each batch goes through the very checks of the whole-file reader
     (liabilities_columns.py, liabilities_amounts.py) with its rows numbered from the
     file's start, so a refusal names the same file, line and value. Per asset, the
     running total across batches must stay below 2**128 (named at the row that crosses),
     checked inside the batch's amount conversion as the whole-file reader checks its
     totals (`_Reading._amounts`).
     Each kept row — account id, input row, asset, amount (hi, lo) — is appended to one of
     B bucket files by the top bits of its account hash (account ids are hashed once per
     distinct id per batch).
  2. Buckets, in ascending hash order. Each bucket's rows are grouped into accounts ordered
     by account hash (`attestations.build.account_order`), duplicates refused (naming both
     lines; of all the buckets' repeats, the one earliest in the file) or summed, and the
     balance matrix handed to `attestations.build_stream` — so the accounts arrive in the
     order `build_tree` numbers them, and the tree, the index and every proof are
     byte-identical to the whole-file build of the same rows (tested).

Which fault is named when a file has several: the whole-file reader checks by kind (the
parse, then assets, amounts with each asset's total, account ids, signs, and duplicates
last), and so does each batch here. So faults that all sit in one batch get the whole-file
reader's refusal (message, line and value; tested for every pair of kinds). Faults in
different batches: the earliest faulty batch's is named, with two exceptions. A parse fault
(wrong field count, invalid UTF-8, a quoted field over a line end) is met when Arrow parses
its read block (`READ_BLOCK_BYTES` or more, cut into batches afterwards), so it comes
before the faults of every batch of its block, after those of earlier blocks. A duplicate
(account, asset) row is seen only once every batch is read, so it is named only in a file
without any other fault, and then as the whole-file reader names it: the earliest line
that repeats a key of an earlier line (`liabilities_columns.find_duplicates`).

What else differs from the whole-file reader: every row passes through a bucket file on
disk (about 50 bytes a row, in the build's private temp dir, removed as it is read).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.ipc
import pyarrow.json as pa_json

from attestations.build import BuildResult, Liabilities, binary_ids, totals
from attestations.build_stream import StreamedTree
from attestations.encoding import TAG_ACCOUNT, AssetSpec
from attestations.hashing import hash_varlen
from attestations.ordering import account_order
from attestations.proofs import format_units
from verifier.base.errors import InputError
from verifier.inputs.liabilities import _open, _tune_allocator
from verifier.inputs.liabilities_amounts import convert_amounts
from verifier.inputs.liabilities_columns import (
    DuplicateFault,
    Progress,
    asset_indices,
    balance_matrix,
    cell_keys,
    check_account_ids,
    dictionary,
    excluded_summary,
    find_duplicates,
    first,
)
from verifier.inputs.liabilities_csv import _diagnose as _diagnose_csv
from verifier.inputs.liabilities_csv import check_one_row_per_line, csv_options
from verifier.inputs.liabilities_jsonl import _diagnose as _diagnose_jsonl
from verifier.inputs.liabilities_jsonl import _refuse_null_rows, check_one_object_per_line
from verifier.inputs.liabilities_lines import (
    COLUMNS,
    READ_BLOCK_BYTES,
    Source,
    bare_cr_error,
    changed_while_read,
    file_identity,
    scan_file,
)

BATCH_BYTES = 8 << 20  # Arrow's streaming reader holds about ten blocks (measured)
BUCKET_ROWS = 1 << 21  # rows per account bucket aimed at
MAX_BUCKETS = 256
ROW_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("row", pa.int64()),
        ("asset", pa.int16()),
        ("hi", pa.uint64()),
        ("lo", pa.uint64()),
    ]
)


def no_progress(phase: str, done: int, total: int) -> None:
    return None


@dataclass
class _Shifted(Source):
    """A batch of `parent`: row r of the batch is row `base + r` of the file."""

    parent: Source | None = None
    base: int = 0

    def line_of(self, row: int) -> int:
        assert self.parent is not None
        _settle_lines(self.parent)
        return self.parent.line_of(self.base + row)


def _settle_lines(source: Source) -> None:
    """Before the rows are counted (an error met while reading): one physical line per row
    when the file has no blank line (Arrow reads no CSV value over two lines), else the
    exact re-read of `Source.line_of`. Error path only: one pass over the file."""
    if source.rows != -2:
        return
    # as the whole-file reader: a file that is not one row per line is refused as such,
    # before any column fault (whose line could not be trusted)
    if source.kind == "jsonl":
        check_one_object_per_line(source)
    else:
        check_one_row_per_line(source, counted=False)
    marks = (b"\n\n", b"\n\r\n", b"\n ", b"\n\t", b"\r\n ", b"\r\n\t")
    previous = b""
    with source.path.open("rb") as handle:
        head = handle.read(4)
        if head[:1] in (b"\n", b"\r", b" ", b"\t"):
            return
        handle.seek(0)
        for block in iter(lambda: handle.read(1 << 20), b""):
            window = previous + block
            if any(mark in window for mark in marks):
                return
            previous = block[-3:]
    source.rows = source.physical_lines - (1 if source.kind == "csv" else 0)


def stream_build(
    path: Path,
    assets: tuple[AssetSpec, ...],
    out_dir: Path,
    *,
    attestation_id: str,
    as_of: str,
    split: int = 1,
    secret_file: Path | None = None,
    force: bool = False,
    negative: str = "error",
    sum_duplicates: bool = False,
    progress: Progress = no_progress,
    batch_bytes: int = BATCH_BYTES,
) -> tuple[BuildResult, Liabilities]:
    """Read, check and build in one streamed pass plus one pass over the buckets.

    Returns the build and the input's summary (exclusions, SHA-256, row count; no columns).
    """
    source, size = _open(path, negative)
    _tune_allocator(size)
    progress("scan input", 0, 1)
    before = file_identity(path)  # the scan and the batches read the file one after another
    scan = scan_file(path)
    if scan.bare_cr is not None:
        raise bare_cr_error(path, scan.bare_cr)
    progress("scan input", 1, 1)
    # Line numbers: row r is on line r + header + 1 unless the file has blank lines or
    # records over several lines; that is decided once the rows are counted, and until then
    # (an error met while reading) by `Source.line_of`'s exact re-read.
    source.physical_lines = scan.lines
    source.rows = -2  # not counted yet: see _settle_lines
    expected_rows = max(1, size // 24)
    bits = max(0, (expected_rows - 1).bit_length() - BUCKET_ROWS.bit_length() + 1)
    buckets = _Buckets(min(bits, MAX_BUCKETS.bit_length() - 1))
    shell = Liabilities(
        assets=assets,
        account_ids=pa.array([], pa.string()),
        balances=np.zeros((0, len(assets), 2), ">u8"),
        input_sha256=scan.sha256,
    )
    tree = StreamedTree(
        shell,
        out_dir,
        attestation_id=attestation_id,
        as_of=as_of,
        split=split,
        secret_file=secret_file,
        force=force,
        expected_accounts=expected_rows // max(1, len(assets)),
        progress=progress,
    )
    try:
        buckets.open(tree.work)
        with ThreadPoolExecutor(max_workers=2) as pool:
            reading = _Reading(source, assets, negative, buckets, pool)
            for number, batch in enumerate(_batches(source, batch_bytes)):
                reading.add(batch)
                progress("read and check input", min(size, (number + 1) * batch_bytes), size)
        if before is None or file_identity(path) != before:
            raise changed_while_read(path)
        buckets.close()
        rows = reading.rows
        if rows == 0:
            raise InputError("empty file: a header but no rows", file=str(path))
        source.rows = rows
        if source.kind == "jsonl" and not source.simple:
            check_one_object_per_line(source)
        if source.kind == "csv":
            check_one_row_per_line(source)
        if reading.kept == 0:
            raise InputError("no rows left after excluding negative amounts", file=str(path))
        tree.liabilities = _with_exclusions(shell, reading.excluded, rows)
        fault: DuplicateFault | None = None  # the earliest in the file of every bucket's
        for number, table in buckets.tables():
            ids, balances, found = _accounts(source, table, assets, sum_duplicates, fault is None)
            if found is not None and (fault is None or found.at < fault.at):
                fault = found
            if fault is None:
                tree.add(ids, balances)
            progress("group accounts", number + 1, buckets.count)
        if fault is not None:
            raise fault.error(source)
        return tree.finish(), tree.liabilities
    except BaseException:
        buckets.close()
        tree.abandon()
        raise


def _with_exclusions(shell: Liabilities, excluded: dict[str, Any] | None, rows: int) -> Liabilities:
    return Liabilities(
        assets=shell.assets,
        account_ids=shell.account_ids,
        balances=shell.balances,
        excluded=excluded,
        input_sha256=shell.input_sha256,
        stats={"rows": rows},
    )


def _batches(source: Source, batch_bytes: int) -> Iterator[pa.RecordBatch]:
    """The file's rows as record batches of three string columns (errors name a line)."""
    # Arrow's block is never below READ_BLOCK_BYTES, which holds any line the scan let
    # through wherever it starts; a smaller batch_bytes (tests) cuts its batches instead
    block = max(batch_bytes, READ_BLOCK_BYTES)
    if source.kind == "csv":
        read, parse, convert = csv_options(source)
        read.block_size = block
        try:
            reader = pa_csv.open_csv(
                source.path, read_options=read, parse_options=parse, convert_options=convert
            )
            for batch in reader:
                yield from _cut(batch, batch_bytes)
        except (pa.ArrowInvalid, pa.ArrowException) as exc:
            raise _diagnose_csv(source, exc) from exc
        return
    _refuse_null_rows(source)
    schema = pa.schema([(c, pa.string()) for c in COLUMNS])
    try:
        json_reader = pa_json.open_json(
            source.path,
            read_options=pa_json.ReadOptions(block_size=block),
            parse_options=pa_json.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="error"
            ),
        )
        for batch in json_reader:
            batch.validate(full=True)  # Arrow's JSON reader passes invalid UTF-8 through
            yield from _cut(batch, batch_bytes)
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise _diagnose_jsonl(source, exc) from exc


def _cut(batch: pa.RecordBatch, batch_bytes: int) -> Iterator[pa.RecordBatch]:
    """`batch` in slices of about `batch_bytes` of values (at least one row each)."""
    if batch_bytes >= READ_BLOCK_BYTES or batch.num_rows <= 1:
        yield batch
        return
    step = max(1, batch.num_rows * batch_bytes // max(1, batch.nbytes))
    for start in range(0, batch.num_rows, step):
        yield batch.slice(start, step)


class _Buckets:
    """2**bits append-only Arrow IPC streams of kept rows, by the account hash's top bits."""

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.count = 1 << bits
        self.dir: Path | None = None
        self.writers: list[Any] = []
        self.files: list[Any] = []

    def open(self, work: Path) -> None:
        self.dir = work
        for b in range(self.count):
            sink = pa.OSFile(str(work / f"rows-{b:04d}.arrows"), "wb")
            self.files.append(sink)
            self.writers.append(pa.ipc.new_stream(sink, ROW_SCHEMA))

    def add(self, prefix: npt.NDArray[np.uint64], table: pa.Table) -> None:
        if self.bits == 0:
            self.writers[0].write_table(table)
            return
        bucket = (prefix >> np.uint64(64 - self.bits)).astype(np.int64)
        order = np.argsort(bucket, kind="stable")  # input order within a bucket
        ends = np.cumsum(np.bincount(bucket, minlength=self.count)).tolist()
        table = table.take(pa.array(order))
        start = 0
        for b, end in enumerate(ends):
            if end > start:
                self.writers[b].write_table(table.slice(start, end - start))
            start = end

    def close(self) -> None:
        """Close every stream (again after an error: then only the files are closed)."""
        writers, files = self.writers, self.files
        self.writers, self.files = [], []
        for writer, sink in zip(writers, files, strict=True):
            try:
                writer.close()
            finally:
                sink.close()

    def tables(self) -> Iterator[tuple[int, pa.Table]]:
        assert self.dir is not None
        for b in range(self.count):
            path = self.dir / f"rows-{b:04d}.arrows"
            with pa.OSFile(str(path)) as handle:
                table = pa.ipc.open_stream(handle).read_all()
            path.unlink()
            yield b, table


class _Reading:
    """Stage 1: every batch checked as the whole-file reader checks the file, kept rows
    appended to the buckets; counts, running totals and exclusions carried across."""

    def __init__(
        self,
        source: Source,
        assets: tuple[AssetSpec, ...],
        negative: str,
        buckets: _Buckets,
        pool: ThreadPoolExecutor,
    ) -> None:
        self.source, self.assets, self.negative, self.buckets = source, assets, negative, buckets
        self.pool = pool
        self.rows = 0
        self.kept = 0
        self.totals = [0] * len(assets)
        self.excluded: dict[str, Any] | None = None

    def add(self, batch: pa.RecordBatch) -> None:
        source = _Shifted(
            path=self.source.path, kind=self.source.kind, parent=self.source, base=self.rows
        )
        rows = batch.num_rows
        ids_column = pa.chunked_array([batch.column("account_id")])
        asset_values, asset_rows = dictionary(
            source, pa.chunked_array([batch.column("asset")]), "asset"
        )
        amounts = pa.chunked_array([batch.column("amount")])
        if amounts.null_count:
            row = first(amounts.is_null().to_numpy(zero_copy_only=False))
            assert row is not None
            raise source.error("missing amount", row)
        asset_index = asset_indices(source, asset_values, asset_rows, self.assets)
        hi, lo, is_negative = self._amounts(amounts, asset_index)
        # after the assets and amounts, as the whole-file reader raises its refusals
        id_values, account_rows = dictionary(source, ids_column, "account id")
        check_account_ids(source, id_values, account_rows)
        if is_negative.any():
            if self.negative == "error":
                row = first(is_negative)
                assert row is not None
                raise source.error(
                    "negative amount (use --negative exclude to drop such rows)",
                    row,
                    amounts[row].as_py(),
                )
            self.excluded = excluded_summary(
                is_negative, asset_index, hi, lo, self.assets, source=source, carried=self.excluded
            )
        kept = np.flatnonzero(~is_negative)
        offsets, data = binary_ids(id_values)
        hashes = hash_varlen(TAG_ACCOUNT, offsets, data)
        prefix = np.ascontiguousarray(hashes[:, :8]).view(">u8").reshape(-1).astype(np.uint64)
        table = pa.table(
            {
                "account_id": ids_column.take(pa.array(kept)),
                "row": pa.array(kept + self.rows, pa.int64()),
                "asset": pa.array(asset_index[kept]),
                "hi": pa.array(hi[kept]),
                "lo": pa.array(lo[kept]),
            },
            schema=ROW_SCHEMA,
        )
        self.buckets.add(prefix[account_rows[kept]], table)
        self.rows += rows
        self.kept += len(kept)

    def _amounts(
        self, amounts: pa.ChunkedArray, asset_index: npt.NDArray[np.int16]
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
        """`convert_amounts` of the batch with the running totals checked inside it, where
        the whole-file reader checks its totals: each asset's right after that asset's
        amounts, before the next asset's and before any account id or sign.

        The totals of the earlier batches enter as one leading row per asset holding that
        total (below 2**128, so a valid amount, never named): the running total then
        reaches 2**128 at the same row, with the same value, as the whole file's total.
        """
        carried = [a for a, total in enumerate(self.totals) if total]
        source = _Shifted(
            path=self.source.path,
            kind=self.source.kind,
            parent=self.source,
            base=self.rows - len(carried),
        )
        if carried:
            lead = pa.array(
                [format_units(self.totals[a], self.assets[a].decimals) for a in carried],
                amounts.type,
            )
            amounts = pa.chunked_array([lead, *amounts.chunks], amounts.type)
            asset_index = np.concatenate([np.array(carried, np.int16), asset_index])
        hi, lo, is_negative = convert_amounts(
            source, self.pool, amounts, asset_index, self.assets, no_progress
        )
        skip = len(carried)
        hi, lo, is_negative, asset_index = (
            hi[skip:],
            lo[skip:],
            is_negative[skip:],
            asset_index[skip:],
        )
        for a in range(len(self.assets)):
            rows = np.flatnonzero((asset_index == a) & ~is_negative)
            if len(rows):
                column = np.stack([hi[rows], lo[rows]], axis=1).reshape(-1, 1, 2)
                self.totals[a] += totals(column)[0]
        return hi, lo, is_negative


def _accounts(
    source: Source,
    table: pa.Table,
    assets: tuple[AssetSpec, ...],
    sum_duplicates: bool,
    matrix: bool,
) -> tuple[pa.Array, npt.NDArray[Any], DuplicateFault | None]:
    """One bucket's rows as accounts in account-hash order: (ids, balance matrix, the
    bucket's duplicate fault met first in the file or None). The caller names the earliest
    fault of all buckets; the matrix (an empty one when `matrix` is false, or with a
    fault) is only built while none was found."""
    empty = np.zeros((0, len(assets), 2), ">u8")
    if table.num_rows == 0:
        return pa.array([], pa.string()), empty, None
    id_values, account_rows = dictionary(source, table.column("account_id"), "account id")
    offsets, data = binary_ids(id_values)
    order = account_order(hash_varlen(TAG_ACCOUNT, offsets, data), offsets, data)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    unique_ids = id_values.take(pa.array(order))
    asset_index = table.column("asset").to_numpy().astype(np.int16)
    hi = table.column("hi").to_numpy().copy()
    lo = table.column("lo").to_numpy().copy()
    input_rows = table.column("row").to_numpy()
    count, width = len(unique_ids), len(assets)
    key = cell_keys(rank[account_rows], asset_index, count, width)
    fault = find_duplicates(
        key, hi, lo, unique_ids, assets, input_rows, sum_duplicates=sum_duplicates
    )
    if fault is not None or not matrix:
        return unique_ids, empty, fault
    return unique_ids, balance_matrix(key, hi, lo, count, width), None
