r"""Read and validate liability files and asset lists into columnar values.

Where it sits: the first step of the liabilities flow. `read_assets` parses the asset TOML;
`read_liabilities` turns a long-form CSV or JSON Lines file (``account_id,asset,amount``)
into `attestations.build.Liabilities` — one row per account, balances as 128-bit integers
in base units — without a Python object per input row (Arrow reads and checks the
columns; numpy places the values).

Every rejected input names the file, the line (CSV: the header is line 1) and the value,
and raises `InputError` (exit 3). Decimal strings are converted exactly: a non-zero digit
beyond the asset's decimals is an error however far out it is, never rounded; leading and
trailing zeros are exact and fine however many there are; an amount whose base units reach
2**128 in magnitude (negative ones too) is an error. That is decided on the text, before
any cast that could wrap: Arrow's decimal256 cast silently wraps values of 77+ digits, so
only amounts of at most `SHORT_AMOUNT` characters (which cannot wrap) go to it directly;
longer ones are first reduced, exactly and with bounded work, to a short canonical string.

Line numbers are those of ``grep -n`` and editors: lines end with ``\n`` (a ``\r\n`` pair
counts once, so CRLF, LF and a mix of the two read alike). A ``\r`` not followed by ``\n``
— CR-only (classic Mac) line ends, or a stray ``\r`` in a field — is refused naming its
line: readers disagree about whether it ends a line, so no line number after it could be
trusted. A UTF-8 byte order mark at the start is skipped. Text must be valid UTF-8 (JSON
escapes too: a lone surrogate such as ``\ud800`` is refused), and an account id may not
hold a NUL character (it could not be named on a command line, e.g. to cut its proof).
Each JSON Lines row must be one object on one line; its lines are parsed (on the error
path) without unbounded recursion or ``int()``, and a ``null`` row is refused before Arrow
sees the file (pyarrow's JSON reader crashes the process on one).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
from pydantic import ConfigDict, Field

from attestations.build import Liabilities
from attestations.encoding import ASSET_CODE_RE, MAX_ASSETS, MAX_DECIMALS, MAX_SUM, AssetSpec
from attestations.proofs import format_units
from verifier.base import safejson, safetoml
from verifier.base.errors import InputError
from verifier.inputs.file_schemas import Check, FileModel, OpenModel, PlainText, fault, validate

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
SHORT_AMOUNT = 39
"""Amount strings of at most this many characters go straight to the decimal256(76, d)
cast: at most 39 digits at scale d <= 36 is at most 75 digits, so the cast cannot wrap
(past 76 digits it silently does). Longer ones go through `_canonical_amount` first."""
_UNITS_DIGITS = len(str(MAX_SUM - 1))  # 39: base units of more digits reach 2**128
Progress = Callable[[str, int, int], None]


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


# ----------------------------------------------------------------------------- assets


def _asset_code(value: object) -> str:
    if not isinstance(value, str) or not ASSET_CODE_RE.fullmatch(value):
        raise fault("asset code must match [A-Z0-9._-]{1,16}", value)
    return value


def _decimals(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fault("decimals must be an integer", repr(value))
    if not 0 <= value <= MAX_DECIMALS:
        raise fault(f"decimals must be 0..{MAX_DECIMALS}", value)
    return value


class AssetEntry(FileModel):
    """``[assets.BTC]``: one asset of the liabilities tree."""

    decimals: Annotated[
        int,
        Check(_decimals, {"type": "integer", "minimum": 0, "maximum": MAX_DECIMALS}),
    ] = Field(description="Base units per whole unit are 10**decimals (BTC 8, ETH 18)")
    name: PlainText | None = Field(None, description="A display name (not in the tree)")


class AssetsFile(OpenModel):
    """The asset list of the liabilities (``--assets assets.toml``)."""

    model_config = ConfigDict(
        title="por assets",
        json_schema_extra={
            "description": "Read by por liabilities build --assets (docs/files.md). Other "
            "top-level tables are ignored."
        },
    )

    assets: dict[
        Annotated[str, Check(_asset_code, {"type": "string", "pattern": "^[A-Z0-9._-]{1,16}$"})],
        AssetEntry,
    ] = Field(
        description=f"One [assets.CODE] table per asset, 1..{MAX_ASSETS}; the tree orders "
        "them by code (ASCII)"
    )


def file_problems(doc: AssetsFile, file: str) -> list[InputError]:
    """An empty asset list, or more assets than the tree format allows."""
    if not doc.assets:
        return [InputError("no [assets.CODE] tables", file=file, key="assets")]
    if len(doc.assets) > MAX_ASSETS:
        return [
            InputError(f"{len(doc.assets)} assets; at most {MAX_ASSETS}", file=file, key="assets")
        ]
    return []


def read_assets(path: Path) -> tuple[AssetSpec, ...]:
    """Parse an assets TOML file (``[assets.BTC] decimals = 8``), sorted by code.

    The schema is `AssetsFile` (published as docs/spec/schemas/por-assets.schema.json).
    """
    name = str(path)
    raw = safetoml.load_path(path, what="assets file")
    if not isinstance(raw.get("assets"), dict):
        raise InputError("no [assets.CODE] tables", file=name, key="assets")
    doc = validate(AssetsFile, raw, name)
    problems = file_problems(doc, name)
    if problems:
        raise problems[0]
    specs = [AssetSpec(code=code, decimals=entry.decimals) for code, entry in doc.assets.items()]
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
        with (
            _csv_fields_unlimited(),
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
def _csv_fields_unlimited() -> Iterator[None]:
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
class _Scan:
    sha256: str
    lines: int  # physical lines: \n-terminated, plus a last one without \n
    bare_cr: int | None  # byte offset of the first \r not followed by \n, if any


def _scan_file(path: Path) -> _Scan:
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
    return _Scan(digest.hexdigest(), lines, bare_cr)


def _first_bare_cr(block: bytes) -> int:
    r"""Index of the first \r in `block` followed by something else than \n (not the end)."""
    at = block.find(b"\r")
    while at + 1 < len(block) and block[at + 1] == 0x0A:
        at = block.find(b"\r", at + 2)
    return at


def _bare_cr_error(path: Path, offset: int) -> InputError:
    r"""The error for a \r at byte `offset` that no \n follows (error path only)."""
    line, start = _line_at(path, offset)
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
            # bounded: a file without \n (CR-only line ends) must not be read whole here
            first = handle.readline(1 << 16)
        header = first.decode("utf-8-sig", errors="replace").strip("\r\n")
        import csv

        try:
            names = [h.strip() for h in next(csv.reader([header]), [])]
        except csv.Error:  # e.g. a \r in it: the header is not the three names either
            names = []
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
    _refuse_null_rows(source)
    schema = pa.schema([(c, pa.string()) for c in COLUMNS])
    try:
        table = pa_json.read_json(
            source.path,
            parse_options=pa_json.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="error"
            ),
        )
        # Arrow's JSON reader, unlike its CSV reader, passes invalid UTF-8 through; later
        # steps (and `proof --all`) would then fail on it. A full validation is ~40 ms at
        # 3M rows.
        table.validate(full=True)
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise _diagnose_jsonl(source, exc) from exc
    return table


def _refuse_null_rows(source: _Source) -> None:
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
                    line, start = _line_at(source.path, offset - len(carry) + at)
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


def _line_at(path: Path, offset: int) -> tuple[int, int]:
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
        raise _not_utf8(name, number, raw, err) from None
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


def _check_one_object_per_line(source: _Source) -> None:
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


def _not_utf8(name: str, number: int, raw: bytes, err: UnicodeDecodeError) -> InputError:
    """The error for a line whose bytes are not UTF-8, with the line shown repaired."""
    return InputError(
        f"not valid UTF-8 (byte {err.start + 1} of the line)",
        file=name,
        line=number,
        value=raw.decode("utf-8", "replace").strip(),
    )


def _diagnose_csv(source: _Source, exc: Exception) -> InputError:
    """Find the line Arrow choked on (slow path, errors only)."""
    import csv

    name = str(source.path)
    with (
        _csv_fields_unlimited(),
        source.path.open("r", encoding="utf-8", errors="replace", newline="") as handle,
    ):
        reader = csv.reader(handle)
        try:
            next(reader, None)
            for row in reader:
                if row and len(row) != 3:
                    return InputError(
                        f"expected 3 fields, found {len(row)}",
                        file=name,
                        line=reader.line_num,
                        value=",".join(row),
                    )
        except csv.Error as err:
            return InputError(f"cannot parse CSV: {err}", file=name, line=reader.line_num)
    with source.path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                return _not_utf8(name, number, raw, err)
    return InputError(f"cannot parse CSV: {exc}", file=name)


def _diagnose_jsonl(source: _Source, exc: Exception) -> InputError:
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
    amounts: pa.Array | pa.ChunkedArray, where: npt.NDArray[np.int64], decimals: int
) -> npt.NDArray[np.uint64]:
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
    source: _Source,
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
        first, last = np.searchsorted(long_rows, [start, end])
        if last > first:
            mask = np.zeros(len(chunk), dtype=bool)
            mask[long_rows[first:last] - start] = True
            replacements = pa.array(short[first:last], pa.string())
            chunks.append(pc.replace_with_mask(chunk, pa.array(mask), replacements))
        else:
            chunks.append(chunk)
        start = end
    return pa.chunked_array(chunks, pa.string())


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
        return _too_many_places(decimals, code)
    return _too_big(text.startswith("-"))


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
    source = _Source(path=path, kind=_detect(path, head))
    _tune_allocator(size)
    progress("read input", 0, 1)
    with ThreadPoolExecutor(max_workers=2) as pool:
        # hashing the file and parsing it both release the GIL
        scanning = pool.submit(_scan_file, path)
        try:
            table = _read_table(source)
        except InputError:
            # a bare \r explains (and would have misplaced) whatever the reader tripped on
            bare_cr = scanning.result().bare_cr
            if bare_cr is not None:
                raise _bare_cr_error(path, bare_cr) from None
            raise
        scan = scanning.result()
    if scan.bare_cr is not None:
        raise _bare_cr_error(path, scan.bare_cr)
    input_sha256, source.physical_lines = scan.sha256, scan.lines
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
        lengths = pc.binary_length(amounts)
        row = _first(pc.equal(lengths, 0).to_numpy(zero_copy_only=False))
        if row is not None:
            raise source.error("empty amount", row)
        # Only amounts of at most SHORT_AMOUNT characters may reach the cast (longer ones
        # can wrap); a file with longer ones has them shortened exactly first.
        has_long = pc.max(lengths).as_py() > SHORT_AMOUNT
        progress("validate", 1, 5)
        syntax = pool.submit(pc.match_substring_regex, amounts, AMOUNT_RE)
        exact = amounts  # what the cast reads
        pending = deque([] if has_long else [pool.submit(convert, exact, asset_index, 0)])
        well_formed = syntax.result().to_numpy(zero_copy_only=False)
        row = _first(~well_formed)
        if row is not None:
            raise source.error("amount is not a decimal number", row, amounts[row].as_py())
        del well_formed
        if has_long:
            exact = _shorten_amounts(source, amounts, lengths, asset_index, assets)
            pending.append(pool.submit(convert, exact, asset_index, 0))
        del lengths
        progress("validate", 2, 5)
        for a, spec in enumerate(assets):
            if a + 1 < len(assets):
                pending.append(pool.submit(convert, exact, asset_index, a + 1))
            try:
                where, limbs = pending.popleft().result()
            except (pa.ArrowInvalid, pa.ArrowException):
                raise _explain_cast(source, exact, np.flatnonzero(asset_index == a), spec) from None
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
                    _too_big(bool(neg[bad])),
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
    # checked on the distinct ids, so only a file that has one pays for the row lookup
    nul = pc.match_substring(id_values, "\x00").to_numpy(zero_copy_only=False)
    if nul.any():
        row = _first(nul[account_rows])
        assert row is not None
        raise source.error(
            "account id contains a NUL character", row, id_values[int(account_rows[row])].as_py()
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
    del amounts, exact  # the strings are no longer needed; at 50M rows they are ~1 GB

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
