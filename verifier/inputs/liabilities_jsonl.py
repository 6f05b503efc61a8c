r"""Read a long-form liabilities JSON Lines file into an Arrow table of three string columns.

Where it sits: called by the liabilities reader (verifier/inputs/liabilities.py) for a JSON
Lines file. Each row must be one object on one line with string values. Arrow reads the
file; around it: a ``null`` row is refused before Arrow sees the file (pyarrow's JSON reader
crashes the process on one), invalid UTF-8 that Arrow passes through is refused after, and
a file that is not one object per line is found by `check_one_object_per_line`. Lines are
parsed (on the error path) without unbounded recursion or ``int()``: numbers stay text.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.json as pa_json

from verifier.base import safejson
from verifier.base.errors import InputError
from verifier.inputs.liabilities_lines import (
    COLUMNS,
    READ_BLOCK_BYTES,
    Source,
    first_long_line,
    line_at,
    not_utf8,
)


def read_jsonl_table(source: Source) -> pa.Table:
    """The file's rows as string columns, or `InputError` naming a line."""
    _refuse_null_rows(source)
    schema = pa.schema([(c, pa.string()) for c in COLUMNS])
    try:
        table = pa_json.read_json(
            source.path,
            read_options=pa_json.ReadOptions(block_size=READ_BLOCK_BYTES),
            parse_options=pa_json.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="error"
            ),
        )
        # Arrow's JSON reader, unlike its CSV reader, passes invalid UTF-8 through; later
        # steps (and `proof --all`) would then fail on it. A full validation is ~40 ms at
        # 3M rows.
        table.validate(full=True)
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise (first_long_line(source.path) or _diagnose(source, exc)) from exc
    return table


def _refuse_null_rows(source: Source) -> None:
    """No JSON Lines row may be ``null``; refuse one before Arrow reads the file.

    Arrow's JSON reader (pyarrow 26) crashes the process (SIGSEGV) when a top-level
    ``null`` starts one of its 1 MiB blocks, e.g. as the file's first value or on a line
    that straddles a block boundary. A row is ``null`` where ``null`` follows a line start
    (Arrow's chunker splits at \\n and \\r) and nothing but blanks. Most blocks are
    cleared by one vectorised test (no \\r, every line starts with ``{``: ~30 ms for
    1M x 3 rows); only the others are searched.
    """
    offset = 0  # of `block` in the file
    carry = b""  # the tail of the previous block's last line, reduced (see below)
    scratch = (np.empty(1 << 20, dtype=bool), np.empty(1 << 20, dtype=bool))
    with source.path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            if _may_hold_null_row(block, carry, scratch):
                data = carry + block
                at = _null_row_in(data)
                if at >= 0:
                    # carry holds no \n, so this position is on the line of the null
                    line, start = line_at(source.path, offset - len(carry) + at)
                    with source.path.open("rb") as again:
                        again.seek(start)
                        text = again.read(400).split(b"\n")[0]
                    raise InputError(
                        "not a JSON object",
                        file=str(source.path),
                        line=line,
                        value=text.decode("utf-8", "replace").strip(),
                    )
            # what the next block needs of this one's last line: whether it is still
            # blank (then only a partial "nul" matters) or not (any other byte stands
            # for it); never a whole long line
            cut = max(block.rfind(b"\n"), block.rfind(b"\r"))
            if cut >= 0 or carry != b"x":
                tail = block[cut + 1 :] if cut >= 0 else carry + block
                tail = tail.removeprefix(_BOM).lstrip(b" \t")
                carry = tail if tail in (b"", b"n", b"nu", b"nul") else b"x"
            offset += len(block)


_BOM = b"\xef\xbb\xbf"


def _may_hold_null_row(
    block: bytes, carry: bytes, scratch: tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]
) -> bool:
    """False when no line of `block` can start with ``null`` (the usual case)."""
    if carry != b"x" and not block.startswith(b"{"):
        return True
    if b"\r" in block:
        return True
    raw = np.frombuffer(block, dtype=np.uint8)
    n = len(raw) - 1
    # into preallocated masks: fresh 1 MiB temporaries per block cost more in page
    # faults than the comparisons themselves
    line_start = np.equal(raw[:-1], 0x0A, out=scratch[0][:n])
    not_brace = np.not_equal(raw[1:], 0x7B, out=scratch[1][:n])
    return bool(np.logical_and(line_start, not_brace, out=line_start).any())


def _null_row_in(data: bytes) -> int:
    """Position of the first ``null`` preceded on its line only by blanks, or -1."""
    at = data.find(b"null")
    while at >= 0:
        start = max(data.rfind(b"\n", 0, at), data.rfind(b"\r", 0, at)) + 1
        if not data[start:at].removeprefix(_BOM).strip(b" \t"):
            return at
        at = data.find(b"null", at + 4)
    return -1


class _Number(str):
    """A JSON number kept as its text: never converted, so no int() of 5,000 digits."""

    __slots__ = ()


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(items)
    if len(result) != len(items):
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return result


# numbers stay text; the strict decoder also finds a repeated key (diagnosis only: its
# Python hook per object would slow the line check of a large file)
_LINE_DECODER = json.JSONDecoder(parse_int=_Number, parse_float=_Number, parse_constant=_Number)
_STRICT_LINE_DECODER = json.JSONDecoder(
    parse_int=_Number,
    parse_float=_Number,
    parse_constant=_Number,
    object_pairs_hook=_unique_pairs,
)


def _json_line(name: str, number: int, raw: bytes, *, strict: bool = False) -> Any:
    """The one JSON value on a line of a JSON Lines file, or `InputError` naming the line.

    Safe on hostile lines: numbers stay text, and a line with more brackets than
    `safejson.MAX_DEPTH` is first checked by `safejson` (the plain decoder recurses once
    per level, and a dependency raises the recursion limit far past the C stack).
    """
    try:
        text = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
    except UnicodeDecodeError as err:
        raise not_utf8(name, number, raw, err) from None
    if text.count("[") + text.count("{") > safejson.MAX_DEPTH:
        try:
            safejson.loads(text, source=name, parse_float=Decimal, what="the line")
        except InputError as exc:
            # safejson names the file and "line 1" of this one-line text; keep its reason
            reason = str(exc).removeprefix(f"{name}: ").removeprefix("line 1: ")
            raise InputError(reason, file=name, line=number, value=text) from None
    try:
        value, end = (_STRICT_LINE_DECODER if strict else _LINE_DECODER).raw_decode(text)
    except json.JSONDecodeError as err:
        raise InputError(
            f"not one complete JSON object on this line ({err.msg})",
            file=name,
            line=number,
            value=text,
        ) from None
    except _RepeatedKey as dup:
        raise InputError(
            "key appears twice", file=name, line=number, key=dup.key, value=text
        ) from None
    if text[end:].strip():
        raise InputError(
            "more than one JSON value on this line", file=name, line=number, value=text
        )
    return value


def check_one_object_per_line(source: Source) -> None:
    """JSON Lines means one value per line; Arrow also accepts two on a line, or one
    spread over several lines, which would make every later line number wrong."""
    name = str(source.path)
    decode = _LINE_DECODER.raw_decode
    with source.path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            # fast path for the usual short line (fewer bytes than MAX_DEPTH cannot nest
            # deeper); anything doubtful goes to _json_line, which names the problem
            if len(raw) <= safejson.MAX_DEPTH and number > 1:
                try:
                    text = raw.decode("utf-8").strip()
                    if not text or decode(text)[1] == len(text):
                        continue
                except ValueError:  # UnicodeDecodeError, JSONDecodeError
                    pass
            if raw.strip():
                _json_line(name, number, raw)


def _diagnose(source: Source, exc: Exception) -> InputError:
    """Find the line Arrow choked on (slow path, errors only)."""
    name = str(source.path)
    with source.path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                obj = _json_line(name, number, raw, strict=True)
            except InputError as error:
                return error
            problem = _row_problem(obj, name, number, raw)
            if problem is not None:
                return problem
    return InputError(f"cannot parse JSON Lines: {exc}", file=name)


def _row_problem(obj: Any, name: str, number: int, raw: bytes) -> InputError | None:
    """What is wrong with one decoded row, if anything: not an object, a key that is not a
    column, a value that is not a string, or a lone surrogate escape (errors only)."""
    if not isinstance(obj, dict):
        return InputError(
            "not a JSON object",
            file=name,
            line=number,
            value=raw.decode("utf-8", "replace").strip(),
        )
    for key in obj:
        if key not in COLUMNS:
            return InputError("unexpected key", file=name, line=number, key=key)
    for key in COLUMNS:
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or isinstance(value, _Number):
            what = "amount" if key == "amount" else key
            return InputError(
                f"{what} must be a JSON string (a decimal string, not a number)",
                file=name,
                line=number,
                key=key,
                value=str(value),
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return InputError(
                "not valid Unicode: a lone surrogate escape (\\ud800-\\udfff)",
                file=name,
                line=number,
                key=key,
                value=value.encode("utf-8", "backslashreplace").decode("ascii"),
            )
    return None
