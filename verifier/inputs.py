"""Read and validate liability files and asset lists into columnar values.

Where it sits: the first step of the liabilities flow. `read_assets` parses the asset TOML;
`read_liabilities` turns a long-form CSV or JSON Lines file (``account_id,asset,amount``)
into `attestations.build.Liabilities` — one row per account, balances as 128-bit integers
in base units — without a Python object per input row (Arrow reads and checks the
columns; numpy places the values).

Every rejected input names the file, the line (CSV: the header is line 1) and the value,
and raises `InputError` (exit 3). Decimal strings are converted exactly: a non-zero digit
beyond the asset's decimals is an error, never rounded; trailing zeros are exact and fine.
"""

from __future__ import annotations

import contextlib
import hashlib
import tomllib
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from attestations.build import Liabilities
from attestations.encoding import ASSET_CODE_RE, MAX_ASSETS, MAX_DECIMALS, MAX_SUM, AssetSpec
from attestations.proofs import format_units
from verifier.errors import InputError

COLUMNS = ("account_id", "asset", "amount")


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


MAX_ACCOUNT_ID_BYTES = 256
AMOUNT_RE = r"^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"
Progress = Callable[[str, int, int], None]


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


# ----------------------------------------------------------------------------- assets


def read_assets(path: Path) -> tuple[AssetSpec, ...]:
    """Parse an assets TOML file (``[assets.BTC] decimals = 8``), sorted by code."""
    name = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError("assets file not found", file=name) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read assets file: {exc}", file=name) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=name) from exc
    table = raw.get("assets")
    if not isinstance(table, dict) or not table:
        raise InputError("no [assets.CODE] tables", file=name, key="assets")
    if len(table) > MAX_ASSETS:
        raise InputError(f"{len(table)} assets; at most {MAX_ASSETS}", file=name, key="assets")
    specs = []
    for code, body in table.items():
        key = f"assets.{code}"
        if not ASSET_CODE_RE.fullmatch(code):
            raise InputError(
                "asset code must match [A-Z0-9._-]{1,16}", file=name, key=key, value=code
            )
        if not isinstance(body, dict) or "decimals" not in body:
            raise InputError("missing decimals", file=name, key=key)
        decimals = body["decimals"]
        if isinstance(decimals, bool) or not isinstance(decimals, int):
            raise InputError(
                "decimals must be an integer",
                file=name,
                key=f"{key}.decimals",
                value=repr(decimals),
            )
        if not 0 <= decimals <= MAX_DECIMALS:
            raise InputError(
                f"decimals must be 0..{MAX_DECIMALS}",
                file=name,
                key=f"{key}.decimals",
                value=str(decimals),
            )
        unknown = sorted(set(body) - {"decimals", "name"})
        if unknown:
            raise InputError(f"unknown key {unknown[0]!r}", file=name, key=key)
        specs.append(AssetSpec(code=code, decimals=decimals))
    return tuple(sorted(specs, key=lambda s: s.code.encode()))


# ----------------------------------------------------------------------------- rows → lines


@dataclass
class _Source:
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


def _record_lines(path: Path, kind: str) -> list[int]:
    """Start line of every data record, as the readers count records (errors only)."""
    import csv

    starts: list[int] = []
    if kind == "csv":
        with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
            reader = csv.reader(handle)
            previous_end = 0
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


def _scan_file(path: Path) -> tuple[str, int]:
    """SHA-256 of the file and its number of physical lines, in one pass."""
    digest = hashlib.sha256()
    newlines = 0
    last = b""
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            newlines += block.count(b"\n")
            last = block
    lines = newlines + (1 if last and not last.endswith(b"\n") else 0)
    return digest.hexdigest(), lines


def _detect(path: Path, head: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    return "jsonl" if head.lstrip().startswith(b"{") else "csv"


def _read_table(source: _Source) -> pa.Table:
    name = str(source.path)
    if source.kind == "csv":
        with source.path.open("rb") as handle:
            header = handle.readline().decode("utf-8-sig", errors="replace").strip("\r\n")
        import csv

        names = [h.strip() for h in next(csv.reader([header]), [])]
        if sorted(names) != sorted(COLUMNS):
            raise InputError(
                "header must name the columns account_id,asset,amount",
                file=name,
                line=1,
                value=header,
            )
        try:
            return pa_csv.read_csv(
                source.path,
                # the header's own names, trimmed (a header "account_id, asset, amount" is fine)
                read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1),
                parse_options=pa_csv.ParseOptions(newlines_in_values=False),
                convert_options=pa_csv.ConvertOptions(
                    column_types={c: pa.string() for c in COLUMNS},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowException) as exc:
            raise _diagnose_csv(source, exc) from exc
    schema = pa.schema([(c, pa.string()) for c in COLUMNS])
    try:
        return pa_json.read_json(
            source.path,
            parse_options=pa_json.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="error"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise _diagnose_jsonl(source, exc) from exc


def _check_one_object_per_line(source: _Source) -> None:
    """JSON Lines means one value per line; Arrow also accepts two on a line, or one
    spread over several lines, which would make every later line number wrong."""
    import json

    decoder = json.JSONDecoder()
    with source.path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            text = raw.decode("utf-8", errors="replace").strip()
            if not text:
                continue
            try:
                _, end = decoder.raw_decode(text)
            except ValueError:
                raise InputError(
                    "not one complete JSON object on this line",
                    file=str(source.path),
                    line=number,
                    value=text,
                ) from None
            if text[end:].strip():
                raise InputError(
                    "more than one JSON value on this line",
                    file=str(source.path),
                    line=number,
                    value=text,
                )


def _diagnose_csv(source: _Source, exc: Exception) -> InputError:
    """Find the line Arrow choked on (slow path, errors only)."""
    import csv

    with source.path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for row in reader:
            if row and len(row) != 3:
                return InputError(
                    f"expected 3 fields, found {len(row)}",
                    file=str(source.path),
                    line=reader.line_num,
                    value=",".join(row),
                )
    with source.path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                return InputError(
                    f"not valid UTF-8 (byte {err.start + 1} of the line)",
                    file=str(source.path),
                    line=number,
                    value=raw.decode("utf-8", "replace").strip(),
                )
    return InputError(f"cannot parse CSV: {exc}", file=str(source.path))


def _diagnose_jsonl(source: _Source, exc: Exception) -> InputError:
    import json
    from decimal import Decimal

    name = str(source.path)
    with source.path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            keys: list[str] = []

            def pairs(items: list[tuple[str, Any]], keys: list[str] = keys) -> dict[str, Any]:
                keys.extend(k for k, _ in items)
                return dict(items)

            try:
                obj = json.loads(raw, parse_float=Decimal, object_pairs_hook=pairs)
            except ValueError:
                return InputError(
                    "not a JSON object",
                    file=name,
                    line=number,
                    value=raw.decode("utf-8", "replace").strip(),
                )
            if not isinstance(obj, dict):
                return InputError(
                    "not a JSON object",
                    file=name,
                    line=number,
                    value=raw.decode("utf-8", "replace").strip(),
                )
            repeated = sorted({k for k in keys if keys.count(k) > 1})
            if repeated:
                return InputError("key appears twice", file=name, line=number, key=repeated[0])
            for key in obj:
                if key not in COLUMNS:
                    return InputError("unexpected key", file=name, line=number, key=key)
            for key in COLUMNS:
                value = obj.get(key)
                if value is not None and not isinstance(value, str):
                    what = "amount" if key == "amount" else key
                    return InputError(
                        f"{what} must be a JSON string (a decimal string, not a number)",
                        file=name,
                        line=number,
                        key=key,
                        value=str(value),
                    )
    return InputError(f"cannot parse JSON Lines: {exc}", file=name)


# ----------------------------------------------------------------------------- liabilities


def _dictionary(
    source: _Source, column: pa.ChunkedArray, label: str
) -> tuple[pa.Array, npt.NDArray[np.int32]]:
    """(distinct values, value index per row) of a string column, dictionary-encoded once."""
    if pa.types.is_dictionary(column.type):
        column = pa.table({"c": column}).unify_dictionaries().column("c")
        chunks = [c for c in column.chunks if len(c)] or list(column.chunks)
        values = chunks[0].dictionary if chunks else pa.array([], pa.string())
        indices = [c.indices for c in chunks]
    else:
        encoded = column.combine_chunks().dictionary_encode()
        values, indices = encoded.dictionary, [encoded.indices]
    for offset, part in zip(
        np.cumsum([0] + [len(i) for i in indices]).tolist(), indices, strict=False
    ):
        if part.null_count:
            row = _first(part.is_null().to_numpy(zero_copy_only=False))
            assert row is not None
            raise source.error(f"missing {label}", offset + row)
    rows = (
        np.concatenate([i.to_numpy(zero_copy_only=False) for i in indices])
        if indices
        else np.zeros(0, np.int32)
    )
    return values, rows


def _first(mask: npt.NDArray[np.bool_]) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def _decimal_limbs(values: pa.Array, decimals: int) -> npt.NDArray[np.uint64]:
    """Cast decimal strings to 256-bit two's-complement limbs (little-endian u64 x 4)."""
    cast = pc.cast(values, pa.decimal256(76, decimals))
    if isinstance(cast, pa.ChunkedArray):
        cast = cast.combine_chunks()
    buffer = cast.buffers()[1]
    limbs = np.frombuffer(buffer, dtype="<u8").reshape(-1, 4)
    return limbs[cast.offset : cast.offset + len(cast)]


def _cast_subset(
    amounts: pa.Array, where: npt.NDArray[np.int64], decimals: int
) -> npt.NDArray[np.uint64]:
    if not len(where):
        return np.zeros((0, 4), dtype=np.uint64)
    subset = amounts.take(pa.array(where))
    try:
        return _decimal_limbs(subset, decimals)
    except (pa.ArrowInvalid, pa.ArrowException):
        # trailing zeros are exact; past 76 digits the cast needs them gone to fit
        trimmed = pc.replace_substring_regex(subset, pattern=r"(\.[0-9]*?)0+$", replacement=r"\1")
        return _decimal_limbs(trimmed, decimals)


def _check_total(
    source: _Source,
    where: npt.NDArray[np.int64],
    limbs: npt.NDArray[np.uint64],
    negative: npt.NDArray[np.bool_],
    spec: AssetSpec,
) -> None:
    """The asset's total (of its non-negative rows) must stay below 2**128."""
    if negative.any():
        lo, hi = limbs[~negative, 0], limbs[~negative, 1]
    else:
        lo, hi = limbs[:, 0], limbs[:, 1]
    mask, shift = np.uint64(0xFFFFFFFF), np.uint64(32)
    total = 0
    for weight, column in ((0, lo), (64, hi)):
        total += int((column & mask).sum(dtype=np.uint64)) << weight
        total += int((column >> shift).sum(dtype=np.uint64)) << (weight + 32)
    if total < MAX_SUM:
        return
    running = 0  # error path only: find the row where the running total crosses 2**128
    rows = where[~negative].tolist()
    for row, h, v in zip(rows, hi.tolist(), lo.tolist(), strict=True):
        running += (h << 64) | v
        if running >= MAX_SUM:
            raise source.error(
                f"the total of {spec.code} reaches 2**128 base units at this row",
                row,
                str(running),
            )
    raise AssertionError("unreachable: the total crossed 2**128 somewhere")


def _explain_cast(
    source: _Source, amounts: pa.Array, where: npt.NDArray[np.int64], spec: AssetSpec
) -> InputError:
    """Find the first row of an asset whose amount failed the exact cast (errors only)."""
    import re

    pattern = re.compile(AMOUNT_RE)
    for row in where.tolist():
        text = amounts[row].as_py()
        if not pattern.match(text):
            return source.error("amount is not a decimal number", row, text)
        try:
            _cast_subset(pa.array([text]), np.zeros(1, np.int64), spec.decimals)
        except (pa.ArrowInvalid, pa.ArrowException):
            return source.error(_explain_amount(text, spec.decimals, spec.code), row, text)
    return InputError(f"cannot convert the {spec.code} amounts", file=str(source.path))


def _explain_amount(text: str, decimals: int, code: str) -> str:
    """Why a syntactically valid amount failed the exact cast."""
    body = text.lstrip("-")
    _, _, frac = body.partition(".")
    if frac.rstrip("0") and len(frac.rstrip("0")) > decimals:
        return f"more decimal places than {code} allows ({decimals}); amounts are never rounded"
    return "amount reaches 2**128 base units"


def read_liabilities(
    path: Path,
    assets: tuple[AssetSpec, ...],
    *,
    negative: str = "error",
    sum_duplicates: bool = False,
    progress: Progress = _no_progress,
) -> Liabilities:
    """Read, validate and aggregate a liabilities file into one row per account."""
    name = str(path)
    if not path.is_file():
        raise InputError("liabilities file not found", file=name)
    if negative not in {"error", "exclude"}:
        raise InputError("--negative must be 'error' or 'exclude'", value=negative)
    with path.open("rb") as handle:
        head = handle.read(4096)
    if not head.strip():
        raise InputError("empty file: no header and no rows", file=name)
    source = _Source(path=path, kind=_detect(path, head))
    _tune_allocator(path.stat().st_size)
    progress("read input", 0, 1)
    with ThreadPoolExecutor(max_workers=2) as pool:
        # hashing the file and parsing it both release the GIL
        scan = pool.submit(_scan_file, path)
        table = _read_table(source)
        input_sha256, source.physical_lines = scan.result()
    source.rows = table.num_rows
    if source.kind == "jsonl" and not source.simple:
        _check_one_object_per_line(source)
    progress("read input", 1, 1)
    rows = table.num_rows
    if rows == 0:
        raise InputError("empty file: a header but no rows", file=name)

    progress("validate", 0, 5)
    ids_column = table.column("account_id")
    asset_values, asset_rows = _dictionary(source, table.column("asset"), "asset")
    amounts = table.column("amount")
    del table
    if amounts.null_count:
        row = _first(amounts.is_null().to_numpy(zero_copy_only=False))
        assert row is not None
        raise source.error("missing amount", row)

    # The heavy column work runs on both cores: Arrow kernels release the GIL. At most two
    # assets are converted at a time, so a 256-bit column per asset never piles up.
    def convert(
        values: pa.ChunkedArray, which: npt.NDArray[np.int16], a: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]:
        where = np.flatnonzero(which == a)
        return where, _cast_subset(values, where, assets[a].decimals)

    hi = np.zeros(rows, dtype=np.uint64)
    lo = np.zeros(rows, dtype=np.uint64)
    is_negative = np.zeros(rows, dtype=bool)
    # Both cores: Arrow kernels release the GIL, so the account dictionary (the costliest
    # step) is built while the amounts are checked and converted.
    with ThreadPoolExecutor(max_workers=2) as pool:
        accounts_task = pool.submit(_dictionary, source, ids_column, "account id")
        del ids_column
        codes = pa.array([a.code for a in assets], type=pa.string())
        code_of_value = (
            pc.index_in(asset_values, value_set=codes)
            .fill_null(-1)
            .to_numpy(zero_copy_only=False)
            .astype(np.int64)
        )
        asset_index = code_of_value.astype(np.int16)[asset_rows]
        row = _first(asset_index < 0)
        if row is not None:
            raise source.error(
                "unknown asset (not in the assets file)",
                row,
                asset_values[int(asset_rows[row])].as_py(),
            )
        del asset_rows
        row = _first(pc.equal(pc.binary_length(amounts), 0).to_numpy(zero_copy_only=False))
        if row is not None:
            raise source.error("empty amount", row)
        progress("validate", 1, 5)
        syntax = pool.submit(pc.match_substring_regex, amounts, AMOUNT_RE)
        pending = deque([pool.submit(convert, amounts, asset_index, 0)])
        well_formed = syntax.result().to_numpy(zero_copy_only=False)
        row = _first(~well_formed)
        if row is not None:
            raise source.error("amount is not a decimal number", row, amounts[row].as_py())
        del well_formed
        progress("validate", 2, 5)
        for a, spec in enumerate(assets):
            if a + 1 < len(assets):
                pending.append(pool.submit(convert, amounts, asset_index, a + 1))
            try:
                where, limbs = pending.popleft().result()
            except (pa.ArrowInvalid, pa.ArrowException):
                raise _explain_cast(
                    source, amounts, np.flatnonzero(asset_index == a), spec
                ) from None
            if not len(where):
                continue
            neg = (limbs[:, 3] >> np.uint64(63)).astype(bool)
            ones = np.uint64(2**64 - 1)
            big = np.where(
                neg,  # a negative amount's magnitude must stay below 2**128 too
                (limbs[:, 2] != ones) | (limbs[:, 3] != ones) | ((limbs[:, 1] | limbs[:, 0]) == 0),
                (limbs[:, 2] != 0) | (limbs[:, 3] != 0),
            )
            bad = _first(big)
            if bad is not None:
                raise source.error(
                    "amount reaches 2**128 base units",
                    int(where[bad]),
                    amounts[int(where[bad])].as_py(),
                )
            _check_total(source, where, limbs, neg, spec)
            hi[where] = limbs[:, 1]
            lo[where] = limbs[:, 0]
            is_negative[where] = neg
            del where, limbs, neg, big
        id_values, account_rows = accounts_task.result()
    lengths = pc.binary_length(id_values).to_numpy(zero_copy_only=False)
    row = _first((lengths == 0)[account_rows])
    if row is not None:
        raise source.error("empty account id", row)
    row = _first((lengths > MAX_ACCOUNT_ID_BYTES)[account_rows])
    if row is not None:
        raise source.error(
            f"account id over {MAX_ACCOUNT_ID_BYTES} bytes ({int(lengths[account_rows[row]])})",
            row,
            id_values[int(account_rows[row])].as_py(),
        )
    progress("validate", 3, 5)

    if is_negative.any() and negative == "error":
        row = _first(is_negative)
        assert row is not None
        raise source.error(
            "negative amount (use --negative exclude to drop such rows)",
            row,
            amounts[row].as_py(),
        )
    del amounts  # the strings are no longer needed; at 50M rows they are ~1 GB

    excluded = None
    keep = np.ones(rows, dtype=bool)
    if is_negative.any():
        keep = ~is_negative
        per_asset: dict[str, Any] = {}
        for a, spec in enumerate(assets):
            hit = np.flatnonzero(is_negative & (asset_index == a))
            if not len(hit):
                continue
            # hi/lo hold the low 128 bits of the two's complement: |v| = 2**128 - that
            total = -sum(MAX_SUM - ((int(hi[r]) << 64) | int(lo[r])) for r in hit.tolist())
            per_asset[spec.code] = {
                "rows": len(hit),
                "total_base_units": str(total),
                "total": format_units(total, spec.decimals),
            }
        excluded = {
            "reason": "negative balances dropped by --negative exclude",
            "rows": int(is_negative.sum()),
            "assets": per_asset,
        }
    del is_negative

    unique_ids = id_values
    kept_rows = np.flatnonzero(keep) if not keep.all() else None
    excluded_rows = rows - int(keep.sum())
    del keep
    account_index: npt.NDArray[Any] = account_rows
    if kept_rows is not None:
        if not len(kept_rows):
            raise InputError("no rows left after excluding negative amounts", file=name)
        # accounts whose every row was excluded are not customers of this tree
        account_index = account_index[kept_rows]
        present = np.bincount(account_index, minlength=len(unique_ids)) > 0
        renumber = (np.cumsum(present) - 1).astype(np.int32)
        account_index = renumber[account_index]
        unique_ids = unique_ids.filter(pa.array(present))
        asset_index, hi, lo = asset_index[kept_rows], hi[kept_rows], lo[kept_rows]
    del account_rows
    count = len(unique_ids)
    progress("validate", 4, 5)

    def line_of_kept(i: int) -> int:
        return int(kept_rows[i]) if kept_rows is not None else i

    width = len(assets)
    # int32 positions while they fit (half the memory of int64 at 50M rows)
    index_type = np.int32 if count * width * 2 < 2**31 else np.int64
    key = cast(npt.NDArray[np.int64], account_index.astype(index_type))
    del account_index
    key *= width
    key += asset_index
    del asset_index
    seen = np.zeros(count * width, dtype=bool)
    seen[key] = True
    has_duplicates = int(np.count_nonzero(seen)) != len(key)
    del seen
    if has_duplicates:
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        duplicate = sorted_key[1:] == sorted_key[:-1]
        if not sum_duplicates:
            first_dup = int(np.flatnonzero(duplicate)[0])
            later = line_of_kept(int(order[first_dup + 1]))
            earlier = line_of_kept(int(order[first_dup]))
            raise source.error(
                f"duplicate (account, asset) row; first seen on line {source.line_of(earlier)} "
                "(use --sum-duplicates to add them up)",
                later,
                f"{unique_ids[int(key[order[first_dup + 1]]) // width].as_py()},"
                f"{assets[int(key[order[first_dup + 1]]) % width].code}",
            )
        # add up only the repeated keys, exactly, with Python integers; the group's total
        # goes to every member so that whichever write lands last is right
        starts = np.flatnonzero(np.concatenate(([True], ~duplicate)))
        ends = np.append(starts[1:], len(sorted_key))
        for g in np.flatnonzero(ends - starts > 1).tolist():
            members = order[starts[g] : ends[g]]
            total = sum((int(hi[m]) << 64) | int(lo[m]) for m in members.tolist())
            if total >= MAX_SUM:
                raise source.error(
                    "summed duplicate rows reach 2**128 base units",
                    line_of_kept(int(members[0])),
                    unique_ids[int(key[int(members[0])]) // width].as_py(),
                )
            hi[members] = total >> 64
            lo[members] = total & ((1 << 64) - 1)
        del order, sorted_key, duplicate
    # (hi, lo) pairs placed in one native array, then byte-swapped in place to the
    # big-endian enc() layout the tree hashes: no second copy of the matrix
    native = np.zeros(count * width * 2, dtype=np.uint64)
    key *= 2
    native[key] = hi
    key += 1
    native[key] = lo
    del key, hi, lo
    native.byteswap(inplace=True)
    balances = native.view(">u8").reshape(count, width, 2)
    progress("validate", 5, 5)
    return Liabilities(
        assets=assets,
        account_ids=unique_ids,
        balances=balances,
        excluded=excluded,
        input_sha256=input_sha256,
        stats={"rows": rows, "accounts": count, "excluded_rows": excluded_rows},
    )


def _signed_value(text: str, decimals: int) -> int:
    """Exact base units of a decimal string already known to be valid for `decimals`."""
    sign = -1 if text.startswith("-") else 1
    whole, _, frac = text.lstrip("-").partition(".")
    frac = frac.rstrip("0")
    return sign * int(
        int(whole or "0") * 10**decimals + int((frac or "0").ljust(decimals, "0")[:decimals] or "0")
    )
