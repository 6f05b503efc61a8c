"""The liabilities reader's column checks: assets and account ids, exclusions, duplicates,
and the balance matrix the tree is built from.

Where it sits: the steps of the liabilities reader (verifier/inputs/liabilities.py) around
the amount conversion (liabilities_amounts.py). Every step works on whole columns (Arrow
dictionaries, numpy masks and index arrays); Python looks at single rows only to name the
first one refused, or for the few (account, asset) keys that repeat under
``--sum-duplicates``. At 50M rows every column is hundreds of MB, so the reader drops each
one as soon as its step is done; the steps here keep no column longer than they need.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeAlias, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from attestations.build import totals
from attestations.encoding import MAX_SUM, AssetSpec
from attestations.proofs import format_units
from verifier.base.errors import InputError
from verifier.inputs import native
from verifier.inputs.liabilities_lines import Source

MAX_ACCOUNT_ID_BYTES = 256

Progress = Callable[[str, int, int], None]
"""progress(phase, done, total): how far the reader is, for a progress bar."""

Rows: TypeAlias = npt.NDArray[np.int64]
Units: TypeAlias = npt.NDArray[np.uint64]
"""One 64-bit half (hi or lo) of every row's 128-bit amount."""


def first(mask: npt.NDArray[np.bool_]) -> int | None:
    """The first row where `mask` is set, or None."""
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def dictionary(
    source: Source, column: pa.ChunkedArray, label: str
) -> tuple[pa.Array, npt.NDArray[np.int32]]:
    """(distinct values, value index per row) of a string column, dictionary-encoded once.

    Values come in first-occurrence order, as Arrow's dictionary_encode gives them; a plain
    string column (the account ids) is encoded by the native encoder when it is loaded
    (verifier/inputs/_ids.c: chunk by chunk, no combined copy), else by Arrow.
    """
    if pa.types.is_dictionary(column.type):
        column = pa.table({"c": column}).unify_dictionaries().column("c")
        chunks = [c for c in column.chunks if len(c)] or list(column.chunks)
        values = chunks[0].dictionary if chunks else pa.array([], pa.string())
        indices = [c.indices for c in chunks]
    elif (
        native.IDS is not None
        and len(column)
        and (pa.types.is_string(column.type) or pa.types.is_large_string(column.type))
    ):
        return _native_dictionary(native.IDS, source, column, label)
    else:
        encoded = column.combine_chunks().dictionary_encode()
        values, indices = encoded.dictionary, [encoded.indices]
    for offset, part in zip(
        np.cumsum([0] + [len(i) for i in indices]).tolist(), indices, strict=False
    ):
        if part.null_count:
            row = first(part.is_null().to_numpy(zero_copy_only=False))
            assert row is not None
            raise source.error(f"missing {label}", offset + row)
    rows = (
        np.concatenate([i.to_numpy(zero_copy_only=False) for i in indices])
        if indices
        else np.zeros(0, np.int32)
    )
    return values, rows


def _native_dictionary(
    ids: ModuleType, source: Source, column: pa.ChunkedArray, label: str
) -> tuple[pa.Array, npt.NDArray[np.int32]]:
    """`dictionary` of a non-empty string or large_string column by the native encoder."""
    at = 0
    for chunk in column.chunks:  # the first missing value, as the Arrow path names it
        if chunk.null_count:
            row = first(chunk.is_null().to_numpy(zero_copy_only=False))
            assert row is not None
            raise source.error(f"missing {label}", at + row)
        at += len(chunk)
    wide = pa.types.is_large_string(column.type)
    rows = np.empty(len(column), np.int32)
    # a fresh secret seed per column: collisions cannot be crafted into the file
    encoder = ids.Encoder(len(column) // 2, int.from_bytes(os.urandom(8), "little"))
    at = 0
    try:
        for chunk in column.chunks:
            _, offsets, data = chunk.buffers()
            if len(chunk):
                part = rows[at : at + len(chunk)]
                encoder.add(offsets, data or b"", chunk.offset, len(chunk), wide, part)
            at += len(chunk)
        value_offsets, value_bytes = encoder.values(wide)
    except OverflowError:
        raise InputError(
            f"more than {ids.LIMIT} distinct {label}s (or their bytes over 2**31 - 1)",
            file=str(source.path),
        ) from None
    values = pa.Array.from_buffers(
        column.type,
        encoder.distinct,
        [None, pa.py_buffer(value_offsets), pa.py_buffer(value_bytes)],
    )
    return values, rows


def asset_indices(
    source: Source,
    asset_values: pa.Array,
    asset_rows: npt.NDArray[np.int32],
    assets: tuple[AssetSpec, ...],
) -> npt.NDArray[np.int16]:
    """Each row's asset as its position in `assets`, or `InputError` for the first row of an
    asset the assets file does not list."""
    codes = pa.array([a.code for a in assets], type=pa.string())
    code_of_value = (
        pc.index_in(asset_values, value_set=codes)
        .fill_null(-1)
        .to_numpy(zero_copy_only=False)
        .astype(np.int64)
    )
    asset_index: npt.NDArray[np.int16] = code_of_value.astype(np.int16)[asset_rows]
    row = first(asset_index < 0)
    if row is not None:
        raise source.error(
            "unknown asset (not in the assets file)",
            row,
            asset_values[int(asset_rows[row])].as_py(),
        )
    return asset_index


def check_account_ids(
    source: Source, id_values: pa.Array, account_rows: npt.NDArray[np.int32]
) -> None:
    """No account id may be empty, longer than `MAX_ACCOUNT_ID_BYTES` or hold a NUL (it could
    not be named on a command line, e.g. to cut its proof). Checked on the distinct ids."""
    lengths = pc.binary_length(id_values).to_numpy(zero_copy_only=False)
    nul = pc.match_substring(id_values, "\x00").to_numpy(zero_copy_only=False)
    if not ((lengths == 0) | (lengths > MAX_ACCOUNT_ID_BYTES) | nul).any():
        return  # the usual file: no row lookups (each is a gather over every row)
    row = first((lengths == 0)[account_rows])
    if row is not None:
        raise source.error("empty account id", row)
    row = first((lengths > MAX_ACCOUNT_ID_BYTES)[account_rows])
    if row is not None:
        raise source.error(
            f"account id over {MAX_ACCOUNT_ID_BYTES} bytes ({int(lengths[account_rows[row]])})",
            row,
            id_values[int(account_rows[row])].as_py(),
        )
    if nul.any():
        row = first(nul[account_rows])
        assert row is not None
        raise source.error(
            "account id contains a NUL character", row, id_values[int(account_rows[row])].as_py()
        )


def excluded_summary(
    is_negative: npt.NDArray[np.bool_],
    asset_index: npt.NDArray[np.int16],
    hi: Units,
    lo: Units,
    assets: tuple[AssetSpec, ...],
    *,
    source: Source | None = None,
    carried: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What ``--negative exclude`` drops: rows and exact totals per asset, for the report.

    `carried` is the summary of the rows before these (the streamed reader's earlier
    batches), added in. Each total is capped like every other sum: its magnitude stays
    below 2**128, else `InputError` naming `source`'s file, the row where it gets there and
    the running total.
    """
    before: dict[str, Any] = {} if carried is None else carried["assets"]
    per_asset: dict[str, Any] = {}
    for a, spec in enumerate(assets):
        hit = np.flatnonzero(is_negative & (asset_index == a))
        old = before.get(spec.code)
        if not len(hit):
            if old is not None:
                per_asset[spec.code] = old
            continue
        # hi/lo hold the low 128 bits of the two's complement: |v| = 2**128 - that, i.e.
        # ~v + 1 on the 128-bit halves (with the carry), summed exactly by limbs
        mag_lo = ~lo[hit] + np.uint64(1)
        mag_hi = ~hi[hit] + (mag_lo == 0).astype(np.uint64)
        magnitudes = np.stack([mag_hi, mag_lo], axis=1).reshape(-1, 1, 2)
        start = 0 if old is None else -int(old["total_base_units"])
        magnitude = start + totals(magnitudes)[0]
        if magnitude >= MAX_SUM:
            raise _excluded_too_big(source, spec, hit, mag_hi, mag_lo, start)
        total = -magnitude
        per_asset[spec.code] = {
            "rows": len(hit) + (0 if old is None else int(old["rows"])),
            "total_base_units": str(total),
            "total": format_units(total, spec.decimals),
        }
    return {
        "reason": "negative balances dropped by --negative exclude",
        "rows": int(is_negative.sum()) + (0 if carried is None else int(carried["rows"])),
        "assets": per_asset,
    }


def _excluded_too_big(
    source: Source | None, spec: AssetSpec, hit: Rows, mag_hi: Units, mag_lo: Units, start: int
) -> InputError:
    """The refusal of an excluded total reaching 2**128 in magnitude, at the row where the
    running total gets there (error path only: one Python integer per excluded row)."""
    message = (
        f"the total of the {spec.code} rows excluded as negative reaches 2**128 base units "
        "in magnitude at this row (every total stays below 2**128)"
    )
    running = start
    for row, high, low in zip(hit.tolist(), mag_hi.tolist(), mag_lo.tolist(), strict=True):
        running += (high << 64) | low
        if running >= MAX_SUM:
            if source is None:
                return InputError(message, value=str(-running))
            return source.error(message, row, str(-running))
    raise AssertionError("unreachable: the excluded total crossed 2**128 somewhere")


def keep_rows(
    kept_rows: Rows,
    account_rows: npt.NDArray[np.int32],
    id_values: pa.Array,
    asset_index: npt.NDArray[np.int16],
    hi: Units,
    lo: Units,
) -> tuple[npt.NDArray[Any], pa.Array, npt.NDArray[np.int16], Units, Units]:
    """The columns of the kept rows only: (account index, distinct ids, asset index, hi, lo).

    Accounts whose every row was excluded are not customers of this tree: they are dropped
    from the ids and the others renumbered.
    """
    account_index = account_rows[kept_rows]
    present = np.bincount(account_index, minlength=len(id_values)) > 0
    renumber = (np.cumsum(present) - 1).astype(np.int32)
    return (
        renumber[account_index],
        id_values.filter(pa.array(present)),
        asset_index[kept_rows],
        hi[kept_rows],
        lo[kept_rows],
    )


def cell_keys(
    account_index: npt.NDArray[Any], asset_index: npt.NDArray[np.int16], count: int, width: int
) -> npt.NDArray[np.int64]:
    """Each row's cell in the (account, asset) matrix: account * width + asset."""
    # int32 positions while they fit (half the memory of int64 at 50M rows)
    index_type = np.int32 if count * width * 2 < 2**31 else np.int64
    key = cast(npt.NDArray[np.int64], account_index.astype(index_type))
    key *= width
    key += asset_index
    return key


@dataclass(frozen=True)
class DuplicateFault:
    """A repeated (account, asset) key found but not raised yet, so that readers which look
    at the keys in parts (the streamed reader's buckets) can name the same one as a reader
    that sees them all: the fault met first reading the file top to bottom, i.e. the
    smallest `at`.

    Refused duplicates: `at` is the row that repeats a key seen on an earlier row (the
    earliest such row of the file), `first_seen` that earlier row. Summed duplicates
    reaching 2**128: `at` is the row where the group's running sum gets there, and the
    refusal names the group's first row (`first_seen`), as it always has.
    """

    at: int
    first_seen: int
    value: str
    summed: bool

    def error(self, source: Source) -> InputError:
        if self.summed:
            return source.error(
                "summed duplicate rows reach 2**128 base units", self.first_seen, self.value
            )
        unit = "row" if source.kind == "parquet" else "line"
        return source.error(
            f"duplicate (account, asset) row; first seen on {unit} "
            f"{source.line_of(self.first_seen)} (use --sum-duplicates to add them up)",
            self.at,
            self.value,
        )


def merge_duplicates(
    source: Source,
    key: npt.NDArray[np.int64],
    hi: Units,
    lo: Units,
    unique_ids: pa.Array,
    assets: tuple[AssetSpec, ...],
    kept_rows: Rows | None,
    *,
    sum_duplicates: bool,
) -> None:
    """Refuse a repeated (account, asset) row, naming both lines; or, with
    `sum_duplicates`, give every member of a repeated key the group's exact total (in
    `hi` and `lo`, in place) so that whichever write of the group lands last is right.
    Of several faults, the one `find_duplicates` names."""
    fault = find_duplicates(
        key, hi, lo, unique_ids, assets, kept_rows, sum_duplicates=sum_duplicates
    )
    if fault is not None:
        raise fault.error(source)


def find_duplicates(
    key: npt.NDArray[np.int64],
    hi: Units,
    lo: Units,
    unique_ids: pa.Array,
    assets: tuple[AssetSpec, ...],
    kept_rows: Rows | None,
    *,
    sum_duplicates: bool,
) -> DuplicateFault | None:
    """`merge_duplicates` without the raise: the fault met first in the file (smallest
    `DuplicateFault.at`), or None once every repeated key is summed (`sum_duplicates`) or
    when no key repeats. `kept_rows` (the input row of each row of `key`, ascending; None:
    the identity) numbers the rows."""
    count, width = len(unique_ids), len(assets)
    seen = np.zeros(count * width, dtype=bool)
    seen[key] = True
    has_duplicates = int(np.count_nonzero(seen)) != len(key)
    del seen
    if not has_duplicates:
        return None

    def row_of(i: int) -> int:  # the input row of kept row i
        return int(kept_rows[i]) if kept_rows is not None else i

    def named(i: int) -> str:  # the key of kept row i, as the refusal shows it
        return f"{unique_ids[int(key[i]) // width].as_py()},{assets[int(key[i]) % width].code}"

    # stable: a group's members stay in input order, its first member the first occurrence
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    duplicate = sorted_key[1:] == sorted_key[:-1]
    starts = np.flatnonzero(np.concatenate(([True], ~duplicate)))
    if not sum_duplicates:
        repeats = np.flatnonzero(duplicate) + 1  # every member but a group's first
        at = int(repeats[np.argmin(order[repeats])])  # the earliest repeat in the file
        start = int(starts[np.searchsorted(starts, at, side="right") - 1])
        later, earlier = int(order[at]), int(order[start])
        return DuplicateFault(row_of(later), row_of(earlier), named(later), summed=False)
    # add up only the repeated keys, exactly, with Python integers
    ends = np.append(starts[1:], len(sorted_key))
    fault: DuplicateFault | None = None
    for g in np.flatnonzero(ends - starts > 1).tolist():
        members = order[starts[g] : ends[g]]
        total = sum((int(hi[m]) << 64) | int(lo[m]) for m in members.tolist())
        if total >= MAX_SUM:
            crossing = _summed_crossing(members, hi, lo)
            if fault is None or row_of(crossing) < fault.at:
                head = int(members[0])
                fault = DuplicateFault(
                    row_of(crossing),
                    row_of(head),
                    unique_ids[int(key[head]) // width].as_py(),
                    summed=True,
                )
            continue
        hi[members] = total >> 64
        lo[members] = total & ((1 << 64) - 1)
    return fault


def _summed_crossing(members: Rows, hi: Units, lo: Units) -> int:
    """The member (in input order) at which a group's running sum reaches 2**128."""
    running = 0
    for m in members.tolist():
        running += (int(hi[m]) << 64) | int(lo[m])
        if running >= MAX_SUM:
            return int(m)
    raise AssertionError("unreachable: the group's sum reaches 2**128 somewhere")


def balance_matrix(
    key: npt.NDArray[np.int64], hi: Units, lo: Units, count: int, width: int
) -> npt.NDArray[Any]:
    """The (count, width, 2) big-endian u64 matrix of balances the tree hashes.

    The (hi, lo) pairs are placed in one native array, then byte-swapped in place to the
    big-endian enc() layout: no second copy of the matrix. `key` is changed in place.
    """
    native = np.zeros(count * width * 2, dtype=np.uint64)
    key *= 2
    native[key] = hi
    key += 1
    native[key] = lo
    native.byteswap(inplace=True)
    return native.view(">u8").reshape(count, width, 2)
