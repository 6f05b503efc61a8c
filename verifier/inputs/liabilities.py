r"""Read and validate a liabilities file into columnar values: `read_liabilities`.

Where it sits: the first step of the liabilities flow, after the asset list
(verifier/inputs/assets.py). `read_liabilities` turns a long-form CSV or JSON Lines file
(``account_id,asset,amount``) into `attestations.build.Liabilities` — one row per account,
balances as 128-bit integers in base units — without a Python object per input row (Arrow
reads and checks the columns; numpy places the values). It runs the steps in order; each
lives beside it:

  liabilities_lines.py    the file as lines: its kind, the one-pass scan, row → line number
  liabilities_csv.py      CSV → three string columns
  liabilities_jsonl.py    JSON Lines → three string columns
  liabilities_amounts.py  decimal strings → exact 128-bit base units
  liabilities_columns.py  assets, account ids, exclusions, duplicates, the balance matrix

Every rejected input names the file, the line (CSV: the header is line 1) and the value,
and raises `InputError` (exit 3). Decimal strings are converted exactly: a non-zero digit
beyond the asset's decimals is an error however far out it is, never rounded; an amount
whose base units reach 2**128 in magnitude is an error, decided on the text before any
cast that could wrap.

Line numbers are those of ``grep -n`` and editors: lines end with ``\n`` (a ``\r\n`` pair
counts once, so CRLF, LF and a mix of the two read alike). A ``\r`` not followed by ``\n``
— CR-only (classic Mac) line ends, or a stray ``\r`` in a field — is refused naming its
line: readers disagree about whether it ends a line, so no line number after it could be
trusted. A UTF-8 byte order mark at the start is skipped. Text must be valid UTF-8 (JSON
escapes too: a lone surrogate such as ``\ud800`` is refused), and an account id may not
hold a NUL character (it could not be named on a command line, e.g. to cut its proof).
Each JSON Lines row must be one object on one line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa

from attestations.build import Liabilities
from attestations.encoding import AssetSpec
from verifier.base.errors import InputError
from verifier.inputs.liabilities_amounts import convert_amounts
from verifier.inputs.liabilities_columns import (
    Progress,
    asset_indices,
    balance_matrix,
    cell_keys,
    check_account_ids,
    dictionary,
    excluded_summary,
    first,
    keep_rows,
    merge_duplicates,
)
from verifier.inputs.liabilities_csv import check_one_row_per_line, read_csv_table
from verifier.inputs.liabilities_jsonl import check_one_object_per_line, read_jsonl_table
from verifier.inputs.liabilities_lines import (
    Source,
    bare_cr_error,
    changed_while_read,
    detect,
    file_identity,
    prefetched_scan,
    scan_file,
)

# Return freed memory to the system promptly. A build at exchange scale frees large columns
# as it goes; Arrow's default pool (mimalloc) and glibc's dynamic mmap threshold keep such
# memory (+40% peak measured at 2M x 5 rows). So Arrow uses the system allocator, and glibc
# mmaps (and unmaps on free) blocks above a fixed threshold: 128 KiB for inputs over
# 256 MiB, where memory is the limit; 16 MiB for smaller ones, where the page faults of a
# low threshold cost a quarter of the build time (measured at 1M x 3).
with contextlib.suppress(AttributeError, NotImplementedError, pa.ArrowException):
    pa.set_memory_pool(pa.system_memory_pool())


def _tune_allocator(input_bytes: int) -> None:
    threshold = 128 << 10 if input_bytes > 256 << 20 else 16 << 20
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, threshold)  # M_MMAP_THRESHOLD, fixed: no dynamic raise
        libc.mallopt(-1, threshold)  # M_TRIM_THRESHOLD


def no_progress(phase: str, done: int, total: int) -> None:
    return None


def read_liabilities(
    path: Path,
    assets: tuple[AssetSpec, ...],
    *,
    negative: str = "error",
    sum_duplicates: bool = False,
    progress: Progress = no_progress,
) -> Liabilities:
    """Read, validate and aggregate a liabilities file into one row per account.

    The steps, in the order their refusals come: the file (`_open`, `_read`), then
    `validate_rows`: the assets, the amounts, the account ids, negative amounts (refused,
    or excluded with `negative="exclude"`), duplicate (account, asset) rows (refused, or
    summed with `sum_duplicates`), then the balance matrix.
    """
    source, size = _open(path, negative)
    _tune_allocator(size)

    def read() -> tuple[pa.Table, str]:
        progress("read input", 0, 1)
        table, input_sha256 = _read(source)
        progress("read input", 1, 1)
        if table.num_rows == 0:
            raise InputError("empty file: a header but no rows", file=str(path))
        return table, input_sha256

    return validate_rows(source, read, assets, negative, sum_duplicates, progress)


Read = Callable[[], tuple[pa.Table, str]]
"""Reads the input: (its rows as the three string columns of `COLUMNS`, at least one row;
the input's SHA-256). `validate_rows` calls it, so it holds the only reference to the table."""


def validate_rows(
    source: Source,
    read: Read,
    assets: tuple[AssetSpec, ...],
    negative: str,
    sum_duplicates: bool,
    progress: Progress,
) -> Liabilities:
    """The rows `read` returns, checked and aggregated into one row per account: what
    every reader shares after its own read (CSV, JSON Lines; Parquet in
    verifier/inputs/liabilities_parquet.py), so the same rows give the same refusals, in the
    same order, and the same balances whatever the format.

    Each column is dropped (``del``) as soon as no later step needs it: at 50M rows each one
    is hundreds of MB. That is why the table comes from `read` and not as an argument: a
    caller's reference would keep every column alive to the end.
    """
    # Longer than a screen on purpose: it is the list of steps, and it owns every column's
    # lifetime. A step split further would hold its columns as arguments, and this frame's
    # `del` could no longer free them before the next step allocates.
    table, input_sha256 = read()
    rows = table.num_rows
    progress("validate", 0, 5)
    ids_column = table.column("account_id")
    asset_column = table.column("asset")
    amounts = table.column("amount")
    del table
    # Both cores: Arrow kernels and the native amount parser release the GIL, so the
    # account dictionary (the costliest step: the critical path) starts first and is built
    # while the assets and amounts are checked and converted. Refusals keep their order:
    # its own are raised only once the asset and amount checks have passed.
    with ThreadPoolExecutor(max_workers=2) as pool:
        accounts_task = pool.submit(dictionary, source, ids_column, "account id")
        del ids_column
        asset_values, asset_rows = dictionary(source, asset_column, "asset")
        del asset_column
        if amounts.null_count:
            row = first(amounts.is_null().to_numpy(zero_copy_only=False))
            assert row is not None
            raise source.error("missing amount", row)
        asset_index = asset_indices(source, asset_values, asset_rows, assets)
        del asset_rows
        hi, lo, is_negative = convert_amounts(source, pool, amounts, asset_index, assets, progress)
        id_values, account_rows = accounts_task.result()
    check_account_ids(source, id_values, account_rows)
    progress("validate", 3, 5)

    if is_negative.any() and negative == "error":
        row = first(is_negative)
        assert row is not None
        raise source.error(
            "negative amount (use --negative exclude to drop such rows)",
            row,
            amounts[row].as_py(),
        )
    del amounts  # the strings are no longer needed; at 50M rows they are ~1 GB
    excluded = None
    kept_rows = None
    if is_negative.any():
        excluded = excluded_summary(is_negative, asset_index, hi, lo, assets, source=source)
        kept_rows = np.flatnonzero(~is_negative)
    del is_negative
    account_index, unique_ids = account_rows, id_values
    if kept_rows is not None:
        if not len(kept_rows):
            raise InputError("no rows left after excluding negative amounts", file=str(source.path))
        account_index, unique_ids, asset_index, hi, lo = keep_rows(
            kept_rows, account_rows, id_values, asset_index, hi, lo
        )
    del account_rows, id_values
    count, width = len(unique_ids), len(assets)
    progress("validate", 4, 5)

    key = cell_keys(account_index, asset_index, count, width)
    del account_index, asset_index
    merge_duplicates(
        source, key, hi, lo, unique_ids, assets, kept_rows, sum_duplicates=sum_duplicates
    )
    balances = balance_matrix(key, hi, lo, count, width)
    del key, hi, lo
    progress("validate", 5, 5)
    return Liabilities(
        assets=assets,
        account_ids=unique_ids,
        balances=balances,
        excluded=excluded,
        input_sha256=input_sha256,
        stats={
            "rows": rows,
            "accounts": count,
            "excluded_rows": 0 if kept_rows is None else rows - len(kept_rows),
        },
    )


def _open(path: Path, negative: str) -> tuple[Source, int]:
    """The file as a `Source` of its kind (CSV or JSON Lines), and its size; or
    `InputError` for a missing, unreadable or empty file, or an unknown `negative`."""
    name = str(path)
    if not path.is_file():
        if path.exists():  # a FIFO, socket, device or /dev/stdin from a pipe
            raise InputError(
                "liabilities file is not a regular file (a FIFO, socket, device or "
                "directory?): give a file",
                file=name,
            )
        raise InputError("liabilities file not found", file=name)
    if negative not in {"error", "exclude"}:
        raise InputError("--negative must be 'error' or 'exclude'", value=negative)
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(
            f"cannot read liabilities file: {exc.strerror or exc}", file=name
        ) from None
    if not head.strip():
        raise InputError("empty file: no header and no rows", file=name)
    return Source(path=path, kind=detect(path, head)), size


def _read(source: Source) -> tuple[pa.Table, str]:
    """(the rows as three string columns, the file's SHA-256); `source` learns its lines.

    A bare ``\\r`` anywhere in the file is refused first: it explains (and would have
    misplaced) whatever the reader tripped on.
    """
    # the scan (maybe started early) and Arrow's parse read the file apart: equal
    # identities at both ends show both read the same bytes
    before = file_identity(source.path)
    with ThreadPoolExecutor(max_workers=2) as pool:
        # hashing the file and parsing it both release the GIL
        scanning = prefetched_scan(source.path) or pool.submit(scan_file, source.path)
        try:
            table = read_csv_table(source) if source.kind == "csv" else read_jsonl_table(source)
        except InputError:
            bare_cr = scanning.result().bare_cr
            if bare_cr is not None:
                raise bare_cr_error(source.path, bare_cr) from None
            raise
        scan = scanning.result()
    if before is None or file_identity(source.path) != before:
        raise changed_while_read(source.path)
    if scan.bare_cr is not None:
        raise bare_cr_error(source.path, scan.bare_cr)
    source.physical_lines = scan.lines
    source.rows = table.num_rows
    if source.kind == "jsonl" and not source.simple:
        check_one_object_per_line(source)
    if source.kind == "csv":  # free when rows and lines match one to one (the usual file)
        check_one_row_per_line(source)
    return table, scan.sha256
