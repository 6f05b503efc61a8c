"""Parse untrusted TOML without crashing the process (a leaf module: imports only errors).

`tomllib` recurses once per nesting level and converts integers of any length with
``int()``. A dependency raises the interpreter's recursion limit to 100,000 when imported
(see `verifier.base.safejson`), so a deeply nested document would overflow the C stack, and an
integer of more than 4,300 digits raises a bare ``ValueError`` (Python's max_str_digits).
`loads` bounds the recursion near the current stack depth and turns every failure into an
`InputError` (exit 3) naming the file: "not valid TOML: …".
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

from verifier.base.errors import InputError
from verifier.base.safejson import read_input, stack_depth

MAX_TOML_BYTES = 64 << 20
"""Largest TOML file read (64 MiB); por's configs, statements and packs are a few KiB."""

MAX_NESTING = 100
"""Nesting levels (tables and arrays) a document may use; por's files use at most 4."""


def loads(text: str, *, source: str) -> dict[str, Any]:
    """Decode TOML `text` (from `source`, named in errors) or raise `InputError`."""
    old = sys.getrecursionlimit()
    # tomllib spends a few frames per nesting level; the slack covers them
    sys.setrecursionlimit(stack_depth() + 8 * MAX_NESTING)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=source) from None
    except RecursionError:
        raise InputError("not valid TOML: nested too deeply", file=source) from None
    except ValueError as exc:  # an integer past int's max_str_digits, and the like
        raise InputError(f"not valid TOML: {str(exc)[:120]}", file=source) from None
    finally:
        sys.setrecursionlimit(old)


def load_path(path: Path, *, what: str) -> dict[str, Any]:
    """`loads` of a UTF-8 file; a missing or unreadable file is an `InputError` naming `what`."""
    data = read_input(path, what=what, limit=MAX_TOML_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} is not UTF-8 text (byte {exc.start + 1})", file=str(path)
        ) from None
    return loads(text, source=str(path))
