"""Decimal amount strings → exact 128-bit base units, column by column, never rounded.

Where it sits: the amount step of the liabilities reader (verifier/inputs/liabilities.py),
on the Arrow column it read. Invariants:

- a non-zero digit beyond the asset's decimals is refused however far out it is; leading
  and trailing zeros are exact and fine however many there are;
- an amount whose base units reach 2**128 in magnitude (negative ones too) is refused, and
  so is an asset whose total of non-negative rows reaches 2**128;
- that is decided on the text, before any cast that could wrap: Arrow's decimal256 cast
  silently wraps values of 77+ digits, so only amounts of at most `SHORT_AMOUNT` characters
  go to it directly; longer ones are first reduced, exactly and with bounded work, to a
  short canonical string (`_canonical_amount`).

No Python object per row on the usual path: Arrow casts, numpy checks the limbs. Python
integers appear only on the error path and for the rare amounts over `SHORT_AMOUNT`.

Two backends, same units and same refusals (tests/unit/test_amounts_native.py compares
them): the native extension `verifier.inputs._amounts` (verifier/inputs/_amounts.c, built
by setup.py when a C compiler is present) parses every row in one pass with the GIL
released; without it, or with `POR_NATIVE=0`, Arrow's regex and decimal casts do the work.
`backend_info()` says which one is in use (verifier/inputs/native.py loads the extension).
"""

from __future__ import annotations

import re
from collections import deque
from concurrent.futures import Executor, Future
from types import ModuleType
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from attestations.encoding import MAX_SUM, AssetSpec
from verifier.base.errors import InputError
from verifier.inputs import native
from verifier.inputs.liabilities_columns import Progress, first
from verifier.inputs.liabilities_lines import Source

AMOUNT_RE = r"^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"
SHORT_AMOUNT = 39
"""Amount strings of at most this many characters go straight to the decimal256(76, d)
cast: at most 39 digits at scale d <= 36 is at most 75 digits, so the cast cannot wrap
(past 76 digits it silently does). Longer ones go through `_canonical_amount` first."""
_UNITS_DIGITS = len(str(MAX_SUM - 1))  # 39: base units of more digits reach 2**128

Rows: TypeAlias = npt.NDArray[np.int64]
Limbs: TypeAlias = npt.NDArray[np.uint64]
"""256-bit two's-complement values, one row each: little-endian u64 x 4."""

# the native parser's row statuses (verifier/inputs/_amounts.c holds the same numbers)
OK, EMPTY, SYNTAX, PLACES, BIG, BIG_NEGATIVE = range(6)


NATIVE: ModuleType | None = native.AMOUNTS
"""The loaded amount parser (verifier/inputs/native.py), or None when it is missing or
POR_NATIVE=0; the tests set it to run either path."""


def backend_info() -> dict[str, Any]:
    """Which amount parser `convert_amounts` uses, and why (`native.amounts_info`)."""
    return native.amounts_info(NATIVE)


def convert_amounts(
    source: Source,
    pool: Executor,
    amounts: pa.ChunkedArray,
    asset_index: npt.NDArray[np.int16],
    assets: tuple[AssetSpec, ...],
    progress: Progress,
    *,
    check_totals: bool = True,
) -> tuple[Limbs, Limbs, npt.NDArray[np.bool_]]:
    """(high 64 bits, low 64 bits, is negative) of every row's amount in base units.

    For a negative amount, hi and lo hold the low 128 bits of its two's complement. The
    heavy column work runs on both cores (Arrow kernels release the GIL); at most two
    assets are converted at a time, so a 256-bit column per asset never piles up.
    `check_totals=False` leaves the per-asset totals to the caller (the streamed reader
    adds them up across batches).
    """
    if not (pa.types.is_string(amounts.type) or pa.types.is_large_string(amounts.type)):
        # both parsers read a plain string column's buffers: a dictionary chunk would be
        # misread (native) or fail in a kernel (Arrow); readers decode theirs first
        raise InputError(
            f"amount column of type {amounts.type}: expected plain strings", file=str(source.path)
        )
    native.notice_slow_path(len(amounts), NATIVE)
    if NATIVE is not None:
        return _convert_native(source, amounts, asset_index, assets, progress, check_totals)
    exact, pending = _checked_text(source, pool, amounts, asset_index, assets, progress)
    rows = len(amounts)
    hi = np.zeros(rows, dtype=np.uint64)
    lo = np.zeros(rows, dtype=np.uint64)
    is_negative = np.zeros(rows, dtype=bool)
    for a, spec in enumerate(assets):
        if a + 1 < len(assets):
            next_decimals = assets[a + 1].decimals
            pending.append(pool.submit(_convert, exact, asset_index, a + 1, next_decimals))
        try:
            where, limbs = pending.popleft().result()
        except (pa.ArrowInvalid, pa.ArrowException):
            raise _explain_cast(source, exact, np.flatnonzero(asset_index == a), spec) from None
        if not len(where):
            continue
        neg = _checked_range(source, amounts, where, limbs, spec, check_totals)
        hi[where] = limbs[:, 1]
        lo[where] = limbs[:, 0]
        is_negative[where] = neg
        del where, limbs, neg
    return hi, lo, is_negative


def _convert_native(
    source: Source,
    amounts: pa.ChunkedArray,
    asset_index: npt.NDArray[np.int16],
    assets: tuple[AssetSpec, ...],
    progress: Progress,
    check_totals: bool,
) -> tuple[Limbs, Limbs, npt.NDArray[np.bool_]]:
    """`convert_amounts` through the native parser: one pass per Arrow chunk, the GIL
    released; the per-asset totals are added up in the same pass."""
    rows = len(amounts)
    hi = np.empty(rows, dtype=np.uint64)
    lo = np.empty(rows, dtype=np.uint64)
    is_negative = np.empty(rows, dtype=bool)
    status = np.empty(rows, dtype=np.uint8)
    totals = np.zeros((len(assets), 3), dtype=np.uint64)  # lo, hi, overflowed
    decimals = bytes(spec.decimals for spec in assets)
    which = np.ascontiguousarray(asset_index, dtype=np.int16)
    progress("validate", 1, 5)
    refused = 0
    start = 0
    for chunk in amounts.chunks:
        end = start + len(chunk)
        if chunk.null_count:  # the callers refuse missing amounts first; never guessed
            raise source.error("missing amount", start + _first_null(chunk))
        if len(chunk):
            _, offsets, data = chunk.buffers()
            wide = pa.types.is_large_string(chunk.type) or pa.types.is_large_binary(chunk.type)
            refused += NATIVE.convert(  # type: ignore[union-attr]
                offsets,
                b"" if data is None else data,
                chunk.offset,
                len(chunk),
                wide,
                which[start:end],
                decimals,
                hi[start:end],
                lo[start:end],
                is_negative[start:end].view(np.uint8),
                status[start:end],
                totals,
            )
        start = end
    progress("validate", 2, 5)
    if refused or (check_totals and totals[:, 2].any()):
        raise _native_refusal(
            source,
            amounts,
            status,
            which,
            assets,
            hi,
            lo,
            is_negative,
            totals if check_totals else None,
        )
    return hi, lo, is_negative


def _first_null(chunk: pa.Array) -> int:
    row = first(chunk.is_null().to_numpy(zero_copy_only=False))
    assert row is not None
    return row


def _native_refusal(
    source: Source,
    amounts: pa.ChunkedArray,
    status: npt.NDArray[np.uint8],
    asset_index: npt.NDArray[np.int16],
    assets: tuple[AssetSpec, ...],
    hi: Limbs,
    lo: Limbs,
    is_negative: npt.NDArray[np.bool_],
    totals: npt.NDArray[np.uint64] | None,
) -> InputError:
    """The error the Arrow path raises for the same column (error path only), in its
    order: an empty amount, then one not a decimal number, then a refused amount over
    `SHORT_AMOUNT` characters, then asset by asset: too many places, 2**128 or more, the
    asset's total."""
    row = first(status == EMPTY)
    if row is not None:
        return source.error("empty amount", row)
    row = first(status == SYNTAX)
    if row is not None:
        return source.error("amount is not a decimal number", row, amounts[row].as_py())
    refused = status >= PLACES
    long = pc.greater(pc.binary_length(amounts), SHORT_AMOUNT).to_numpy(zero_copy_only=False)
    row = first(refused & long)
    if row is None:
        for a in range(len(assets)):
            of_asset = asset_index == a
            row = first(of_asset & (status == PLACES))
            if row is None:
                row = first(of_asset & refused)
            if row is None and totals is not None and totals[a, 2]:
                where = np.flatnonzero(of_asset)
                _check_total(source, where, hi[where], lo[where], is_negative[where], assets[a])
            if row is not None:
                break
    assert row is not None
    spec, text = assets[int(asset_index[row])], amounts[row].as_py()
    if status[row] == PLACES:
        return source.error(_too_many_places(spec.decimals, spec.code), row, text)
    return source.error(_too_big(status[row] == BIG_NEGATIVE), row, text)


def _checked_text(
    source: Source,
    pool: Executor,
    amounts: pa.ChunkedArray,
    asset_index: npt.NDArray[np.int16],
    assets: tuple[AssetSpec, ...],
    progress: Progress,
) -> tuple[pa.ChunkedArray, deque[Future[tuple[Rows, Limbs]]]]:
    """The amounts the cast may read (every one non-empty, well-formed and short), and the
    first asset's conversion already started.

    While the syntax check runs, the first asset is converted already when no amount is
    long (the usual case); a refusal of the syntax check wins over that cast's error.
    """
    lengths = pc.binary_length(amounts)
    row = first(pc.equal(lengths, 0).to_numpy(zero_copy_only=False))
    if row is not None:
        raise source.error("empty amount", row)
    # Only amounts of at most SHORT_AMOUNT characters may reach the cast (longer ones
    # can wrap); a file with longer ones has them shortened exactly first.
    has_long = pc.max(lengths).as_py() > SHORT_AMOUNT
    progress("validate", 1, 5)
    syntax = pool.submit(pc.match_substring_regex, amounts, AMOUNT_RE)
    exact = amounts  # what the cast reads
    pending: deque[Future[tuple[Rows, Limbs]]] = deque()
    if not has_long:
        pending.append(pool.submit(_convert, exact, asset_index, 0, assets[0].decimals))
    well_formed = syntax.result().to_numpy(zero_copy_only=False)
    row = first(~well_formed)
    if row is not None:
        raise source.error("amount is not a decimal number", row, amounts[row].as_py())
    del well_formed
    if has_long:
        exact = _shorten_amounts(source, amounts, lengths, asset_index, assets)
        pending.append(pool.submit(_convert, exact, asset_index, 0, assets[0].decimals))
    progress("validate", 2, 5)
    return exact, pending


def _convert(
    values: pa.ChunkedArray, which: npt.NDArray[np.int16], a: int, decimals: int
) -> tuple[Rows, Limbs]:
    """(rows of asset number `a`, their amounts cast to limbs)."""
    where = np.flatnonzero(which == a)
    return where, _cast_subset(values, where, decimals)


def _checked_range(
    source: Source,
    amounts: pa.ChunkedArray,
    where: Rows,
    limbs: Limbs,
    spec: AssetSpec,
    check_total: bool = True,
) -> npt.NDArray[np.bool_]:
    """Which of an asset's rows are negative, once each amount and the asset's total are
    found below 2**128 in magnitude (else `InputError` naming the row)."""
    neg = (limbs[:, 3] >> np.uint64(63)).astype(bool)
    ones = np.uint64(2**64 - 1)
    big = np.where(
        neg,  # a negative amount's magnitude must stay below 2**128 too
        (limbs[:, 2] != ones) | (limbs[:, 3] != ones) | ((limbs[:, 1] | limbs[:, 0]) == 0),
        (limbs[:, 2] != 0) | (limbs[:, 3] != 0),
    )
    bad = first(big)
    if bad is not None:
        raise source.error(
            _too_big(bool(neg[bad])),
            int(where[bad]),
            amounts[int(where[bad])].as_py(),
        )
    if check_total:
        _check_total(source, where, limbs[:, 1], limbs[:, 0], neg, spec)
    return neg


def _decimal_limbs(values: pa.Array, decimals: int) -> Limbs:
    """Cast decimal strings to 256-bit two's-complement limbs (little-endian u64 x 4)."""
    cast = pc.cast(values, pa.decimal256(76, decimals))
    if isinstance(cast, pa.ChunkedArray):
        cast = cast.combine_chunks()
    buffer = cast.buffers()[1]
    limbs = np.frombuffer(buffer, dtype="<u8").reshape(-1, 4)
    return limbs[cast.offset : cast.offset + len(cast)]


def _cast_subset(amounts: pa.Array | pa.ChunkedArray, where: Rows, decimals: int) -> Limbs:
    if not len(where):
        return np.zeros((0, 4), dtype=np.uint64)
    return _decimal_limbs(amounts.take(pa.array(where)), decimals)


class _AmountRefused(ValueError):
    """Why a well-formed amount has no exact 128-bit value (the message of the error)."""


def _too_many_places(decimals: int, code: str) -> str:
    return f"more decimal places than {code} allows ({decimals}); amounts are never rounded"


def _too_big(negative: bool) -> str:
    return "amount reaches 2**128 base units" + (" in magnitude" if negative else "")


def _canonical_amount(text: str, decimals: int, code: str) -> str:
    """The shortest exact spelling of a well-formed amount, short enough for the cast.

    Linear in ``len(text)``; ``int()`` never sees more than 39 digits. Raises
    `_AmountRefused` for a non-zero digit past `decimals` or base units of 2**128 or more
    (in magnitude). The result has at most 41 characters: at most 39 digits in all, a sign
    and a point; the decimal256(76, d) cast of it cannot wrap.
    """
    negative = text.startswith("-")
    whole, _, frac = text.removeprefix("-").partition(".")
    whole = whole.lstrip("0")
    frac = frac.rstrip("0")
    if len(frac) > decimals:
        raise _AmountRefused(_too_many_places(decimals, code))
    # a non-empty `whole` (no leading zero now) makes base units of exactly
    # len(whole) + decimals digits; 2**128 has 39
    if len(whole) + decimals > _UNITS_DIGITS:
        raise _AmountRefused(_too_big(negative))
    units = int(whole + frac.ljust(decimals, "0") or "0")
    if units >= MAX_SUM:
        raise _AmountRefused(_too_big(negative))
    if not units:
        return "0"
    return ("-" if negative else "") + (whole or "0") + ("." + frac if frac else "")


def _shorten_amounts(
    source: Source,
    amounts: pa.ChunkedArray,
    lengths: pa.ChunkedArray,
    asset_index: npt.NDArray[np.int16],
    assets: tuple[AssetSpec, ...],
) -> pa.ChunkedArray:
    """`amounts` with every string over `SHORT_AMOUNT` characters replaced by its exact
    canonical spelling, or `InputError` for the first that has none (the rare path: only
    files with such long amounts pay for it)."""
    long_rows = np.flatnonzero(
        pc.greater(lengths, SHORT_AMOUNT).to_numpy(zero_copy_only=False)
    ).astype(np.int64)
    short: list[str] = []
    for begin in range(0, len(long_rows), 1 << 16):  # batches bound the Python strings held
        batch = long_rows[begin : begin + (1 << 16)]
        for row, text in zip(
            batch.tolist(), amounts.take(pa.array(batch)).to_pylist(), strict=True
        ):
            spec = assets[int(asset_index[row])]
            try:
                short.append(_canonical_amount(text, spec.decimals, spec.code))
            except _AmountRefused as why:
                raise source.error(str(why), row, text) from None
    # replaced chunk by chunk: one combined string array could pass Arrow's 2 GiB limit
    chunks = []
    start = 0
    for chunk in amounts.chunks:
        end = start + len(chunk)
        begin_at, end_at = np.searchsorted(long_rows, [start, end])
        if end_at > begin_at:
            mask = np.zeros(len(chunk), dtype=bool)
            mask[long_rows[begin_at:end_at] - start] = True
            replacements = pa.array(short[begin_at:end_at], pa.string())
            chunks.append(pc.replace_with_mask(chunk, pa.array(mask), replacements))
        else:
            chunks.append(chunk)
        start = end
    return pa.chunked_array(chunks, pa.string())


def _check_total(
    source: Source,
    where: Rows,
    hi: Limbs,
    lo: Limbs,
    negative: npt.NDArray[np.bool_],
    spec: AssetSpec,
) -> None:
    """The asset's total (of its non-negative rows, `where` in the file) must stay below
    2**128; `hi` and `lo` are the halves of those rows' amounts."""
    if negative.any():
        lo, hi = lo[~negative], hi[~negative]
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
    source: Source, amounts: pa.ChunkedArray, where: Rows, spec: AssetSpec
) -> InputError:
    """Find the first row of an asset whose amount failed the exact cast (errors only)."""
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
        return _too_many_places(decimals, code)
    return _too_big(text.startswith("-"))
