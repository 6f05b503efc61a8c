"""One check per field shape of an attestation document, each naming the field it refuses.

Where it sits: attestations/document/, used by parse.py and ownership.py. Each function takes
a value as loaded from JSON and the path of the field (``chains[0].wallets[2].label``) and
returns the value typed, or raises `InvalidProof` with ``check = "field <path>"`` and a
message that shows at most 80 characters of what was found (a hostile file may hold
megabytes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from attestations.document.canonical import _bad, _child, _shown
from attestations.document.model import MAX_BALANCE
from attestations.encoding import ASSET_CODE_RE
from chains.challenge import line_problem

_DECIMAL_INT = re.compile(r"0|[1-9][0-9]*")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_UTC_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def _object(
    value: Any, where: str, keys: Sequence[str] | None = None, optional: Sequence[str] = ()
) -> Mapping[str, Any]:
    """An object; with `keys`, exactly those members (plus any of `optional`)."""
    if not isinstance(value, Mapping):
        raise _bad(where, f"expected an object, got {_kind(value)}")
    if keys is not None:
        for key in keys:
            if key not in value:
                raise _bad(_child(where, key), "missing")
        allowed = set(keys) | set(optional)
        for key in value:
            if key not in allowed:
                raise _bad(_child(where, str(key)), "unknown member (the format is closed)")
    return value


def _list(value: Any, where: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise _bad(where, f"expected a list, got {_kind(value)}")
    if not value:
        raise _bad(where, "the list is empty")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _text(value: Any, where: str, max_bytes: int, *, empty: bool = False, line: bool = True) -> str:
    """A string of at most `max_bytes` UTF-8 bytes; one line unless `line` is False."""
    if not isinstance(value, str):
        raise _bad(where, f"expected a string, got {_kind(value)}")
    size = len(value.encode("utf-8", errors="surrogatepass"))
    if size == 0 and not empty:
        raise _bad(where, "empty")
    if size > max_bytes:
        raise _bad(where, f"{size} bytes, more than {max_bytes}")
    if line and ("\n" in value or "\r" in value):
        raise _bad(where, "must be one line")
    return value


def _signed_line(value: Any, where: str, max_bytes: int) -> str:
    """A one-line field that goes into a signed ownership message (the exchange, the
    attestation id, an epoch id): no control, invisible or line-breaking character of any
    kind (chains.challenge.line_problem), so it cannot forge or hide a line of the message."""
    text = _text(value, where, max_bytes)
    problem = line_problem(text)
    if problem is not None:
        raise _bad(where, problem)
    return text


def _time(value: Any, where: str) -> str:
    text = _text(value, where, 64)
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(where, f"{text!r} is not an ISO 8601 time") from None
    return text


def _integer(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(where, f"expected an integer, got {_kind(value)}")
    if not low <= value <= high:
        raise _bad(where, f"{value} not in {low}..{high}")
    return value


def _hex(value: Any, where: str, pattern: re.Pattern[str], what: str) -> bytes:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _bad(where, f"expected {what}, got {_shown(value)}")
    return bytes.fromhex(value)


def _choice(value: Any, where: str, options: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in options:
        raise _bad(where, f"{_shown(value)} is not one of {', '.join(options)}")
    return value


def _amount(value: Any, where: str) -> int:
    """A balance: a canonical decimal string of base units, 0 <= x < 2**256."""
    if not isinstance(value, str):
        raise _bad(where, f"expected a decimal string of base units, got {_kind(value)}")
    if not _DECIMAL_INT.fullmatch(value) or len(value) > 78:
        raise _bad(where, f"{_shown(value)} is not a canonical decimal string of base units")
    units = int(value)
    if units >= MAX_BALANCE:
        raise _bad(where, f"{value} reaches 2**256")
    return units


def _asset_code(code: str, where: str) -> str:
    if not ASSET_CODE_RE.fullmatch(code):
        raise _bad(where, f"asset code {_shown(code)} is not [A-Z0-9._-]{{1,16}}")
    return code


def _utc_time(value: Any, where: str) -> str:
    """An expiry: a UTC time written exactly as ``2027-03-31T00:00:00Z`` (as it is signed)."""
    text = _text(value, where, 64)
    if not _UTC_TIME.fullmatch(text):
        raise _bad(where, f"{_shown(text)} is not a UTC time such as 2027-03-31T00:00:00Z")
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(where, f"{text!r} is not a valid date and time") from None
    return text
