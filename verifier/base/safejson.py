"""Parse untrusted JSON without crashing the process (a leaf module: imports only errors).

Every JSON document `por` reads from a file or a node goes through `loads`. It closes three
classes of crash seen on hostile input:

- **Deep nesting.** CPython's decoder recurses once per nesting level. A dependency
  (py_ecc, pulled in by eth-account) raises the interpreter's recursion limit to 100,000
  when imported, so 100,000 nested ``[`` overflow the C stack and the process segfaults.
  `loads` parses with the limit lowered to the current stack depth plus a little over
  `MAX_DEPTH`, so the decoder raises `RecursionError` instead, and every value it returns
  is at most about `MAX_DEPTH` levels deep (later recursive walkers stay far from any
  limit). A pre-scan that counts the depth exactly cost 4x the parse on large files.
- **Huge integers.** A JSON integer of thousands of digits trips Python's int
  ``max_str_digits`` (a bare ``ValueError``); more modest ones cost quadratic time. Integer
  literals of more than `MAX_INT_DIGITS` digits are refused (2**256 has 78).
- **Non-finite numbers and bad text.** ``NaN``/``Infinity`` (not JSON) and invalid UTF-8
  are refused; duplicate keys are refused where `strict_keys` is set.

Errors are `InputError` (exit 3) naming the source and, where the decoder knows it, the
line. Numbers with a fraction or exponent are `Decimal` when `parse_float=Decimal`
(never float), and `Decimal` exponents are bounded so no later ``int()`` can explode.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

from verifier.base.errors import InputError

MAX_DEPTH = 200
"""Deepest nesting accepted (levels of arrays/objects); no published format needs 20."""

MAX_INT_DIGITS = 200
"""Longest JSON integer literal accepted; no amount, hash or field element needs 100."""

MAX_EXPONENT = 400
"""Largest |exponent| of a decimal number accepted (``1e400``)."""


def stack_depth() -> int:
    """Frames on the caller's stack (for a recursion limit set relative to it)."""
    frame = sys._getframe(1)
    depth = 0
    while frame is not None:
        depth += 1
        frame = frame.f_back  # type: ignore[assignment]
    return depth


def _parse_int(text: str) -> int:
    digits = len(text) - (1 if text.startswith("-") else 0)
    if digits > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {digits} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _decimal(text: str) -> Decimal:
    if len(text) > MAX_INT_DIGITS + 20:
        raise _Refused(f"a number of {len(text)} characters (at most {MAX_INT_DIGITS + 20})")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the decoder only hands valid numbers
        raise _Refused(f"not a number: {text[:40]}") from exc
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and abs(exponent) > MAX_EXPONENT:
        raise _Refused(f"a number with exponent {exponent} (at most {MAX_EXPONENT})")
    return value


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name}, which is not a JSON number")


class _Refused(ValueError):
    """Raised inside the decoder's hooks; turned into an InputError by `loads`."""


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(f"the key {key!r} twice in one object")
        result[key] = value
    return result


def loads(
    data: str | bytes,
    *,
    source: str,
    parse_float: Callable[[str], Any] | None = None,
    strict_keys: bool = False,
    what: str = "JSON",
) -> Any:
    """Decode one JSON document from untrusted `data`, or raise `InputError` (exit 3).

    Parameters
    ----------
    data:
        The document; bytes must be UTF-8 (a leading BOM is refused, as RFC 8259 asks).
    source:
        The file name or node reply it came from, named in every error.
    parse_float:
        Pass `Decimal` to get numbers with a fraction or exponent exactly (bounded
        exponent); by default they are refused, since money is never a float.
    strict_keys:
        Refuse an object that repeats a key (signed and hashed documents).
    what:
        What the document is, for messages ("proof file", "node reply").
    """
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            line = bytes(data)[: exc.start].count(b"\n") + 1
            raise InputError(
                f"{what} is not valid UTF-8 (byte {exc.start + 1})", file=source, line=line
            ) from None
    else:
        text = data
    fraction_hook: Callable[[str], Any]
    if parse_float is None:
        fraction_hook = _refuse_float
    elif parse_float is Decimal:
        fraction_hook = _decimal
    else:
        fraction_hook = parse_float
    old_limit = sys.getrecursionlimit()
    # The decoder counts one recursion per nesting level against this limit. Python and C
    # frames are not counted quite alike, so the slack keeps every document of MAX_DEPTH
    # levels accepted; a few dozen levels more may pass, thousands never do.
    sys.setrecursionlimit(stack_depth() + MAX_DEPTH + 50)
    try:
        return json.loads(
            text,
            parse_int=_parse_int,
            parse_float=fraction_hook,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_pairs if strict_keys else None,
        )
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} is not JSON ({exc.msg})", file=source, line=exc.lineno) from None
    except RecursionError:
        raise InputError(
            f"{what} is nested more than {MAX_DEPTH} levels deep", file=source
        ) from None
    except _Refused as exc:
        raise InputError(f"{what} holds {exc}", file=source) from None
    except ValueError as exc:  # e.g. int max_str_digits, surrogates
        raise InputError(f"{what} cannot be decoded: {exc}", file=source) from None
    finally:
        sys.setrecursionlimit(old_limit)


def _refuse_float(text: str) -> Any:
    raise _Refused(f"a non-integer number {text[:40]} (amounts are decimal strings)")


MAX_INPUT_BYTES = 1 << 30
"""Largest JSON or TOML input file read whole (1 GiB); larger ones are refused, not read."""


def open_regular(path: Any, *, what: str) -> BinaryIO:
    """`path` opened for reading in binary, refused unless it is a regular file.

    A plain ``open()`` of a FIFO blocks until some writer opens it, before any check can
    run; so the file is opened with ``O_NONBLOCK`` (which never blocks the open, and means
    nothing to a regular file's reads), checked with ``fstat`` on the descriptor itself (no
    swap between a check and the open), and only then handed out as a file object. A
    FIFO, socket or device is an `InputError` "not a regular file" naming the
    file; `OSError` (missing, unreadable, a directory) is left to the caller, which names `what`.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):  # as open() says it: callers name a directory as such
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(mode):
            raise InputError(f"{what} is not a regular file", file=str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_input(path: Any, *, what: str, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of an input file, at most `limit` of them.

    Missing, a directory, not a regular file (a FIFO or ``/dev/zero`` would block or never
    end), larger than `limit`, or unreadable: an `InputError` naming the file.
    """
    name = str(path)
    try:
        with open_regular(path, what=what) as handle:
            info = os.fstat(handle.fileno())
            if info.st_size > limit:
                raise InputError(f"{what} is larger than {limit:,} bytes; refused", file=name)
            # read(n) would allocate n bytes up front: read what the file holds, plus one
            # byte to notice a file that grew past the limit meanwhile
            data = handle.read(info.st_size + 1)
    except FileNotFoundError:
        raise InputError(f"{what} not found", file=name) from None
    except IsADirectoryError:
        raise InputError(f"{what} is a directory, not a file", file=name) from None
    except OSError as exc:
        raise InputError(f"cannot read the {what}: {exc.strerror or exc}", file=name) from None
    if len(data) > limit:
        raise InputError(f"{what} is larger than {limit:,} bytes; refused", file=name)
    return data


def load_path(path: Any, *, what: str, **options: Any) -> Any:
    """`loads` of a file's bytes; a missing or unreadable file is an `InputError` too."""
    return loads(read_input(path, what=what), source=str(path), what=what, **options)
