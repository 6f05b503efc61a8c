"""Canonical JSON and the signed bytes of an attestation (invariant 1 of the package).

Where it sits: the bottom of attestations/document/. `canonical_json` is the gate in front
of the `rfc8785` package: it refuses, with the path of the offending value, what our format
does not allow (floats, NaN, integers beyond ±(2**53 - 1), non-string keys, lone surrogates,
deep nesting) before the library encodes the rest. `signing_payload` prefixes the domain tag.
parse.py runs `canonical_json` over every document it checks; sign.py signs and verifies
`signing_payload`.

It also holds the way every check in this package names a field (`_child`, `_bad`,
`_shown`), because the canonical gate is the first check a document meets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import rfc8785

from verifier.base.errors import InvalidProof

SIGNING_TAG = b"por-attestation-v1\n"
"""Domain separation: prefixed to the canonical bytes before signing."""
MAX_SAFE_INT = 2**53 - 1
"""Largest integer magnitude allowed (I-JSON, RFC 7493): every JCS implementation agrees."""
MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted (a hostile document cannot exhaust the stack)."""

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[A-Z0-9._-]{1,16}")
"""A member name written after a dot in a path; any other is written as ``["..."]``."""


def _child(path: str, key: str | int) -> str:
    """The path of a member or element, as error checks name it (``chains[0].height``)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _shown(value: Any) -> str:
    """`value` for a message, at most 80 characters (a hostile file may hold megabytes)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _bad(path: str, message: str) -> InvalidProof:
    return InvalidProof(f"field {path or 'document'}", message)


def _checked_string(value: str, path: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad(path, "a string with a lone surrogate is not valid Unicode") from None
    return value


def _checked(value: Any, path: str, depth: int) -> Any:
    """`value` as plain dicts, lists, str, int, bool and None, or the refusal naming its path.

    Our refusals, stricter than RFC 8785, come before the library sees the value: a float
    (which JCS would encode) is refused rather than rounded, NaN and non-JSON types are named
    by their path, and nesting is bounded. Members are visited in canonical (UTF-16) order so
    that, of several faults, the first in the canonical bytes is the one reported.
    """
    if depth > MAX_DEPTH:
        raise _bad(path, f"nested deeper than {MAX_DEPTH} levels")
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return _checked_string(value, path)
    if isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise _bad(path, f"integer {value} is beyond ±(2**53 - 1); write it as a string")
        return int(value)  # an IntEnum is written as its number
    if isinstance(value, float | Decimal):
        raise _bad(
            path,
            f"{value!r} is not an integer: floats (and NaN, Infinity) are not allowed; "
            "amounts and prices are decimal strings",
        )
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise _bad(path, f"object key {key!r} is not a string")
        try:
            keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        except UnicodeEncodeError:
            raise _bad(path, "an object key with a lone surrogate is not valid Unicode") from None
        # rfc8785 accepts only dict: any other mapping (MappingProxyType...) becomes one
        return {key: _checked(value[key], _child(path, key), depth + 1) for key in keys}
    if isinstance(value, list | tuple):
        return [_checked(item, _child(path, n), depth + 1) for n, item in enumerate(value)]
    raise _bad(path, f"a {type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> bytes:
    """The canonical encoding of a JSON value (a subset of RFC 8785, JCS).

    The bytes come from the `rfc8785` package (Trail of Bits; pure Python, tested against
    the RFC's vectors); this function is the gate in front of it, refusing what our format
    does not allow (see Raises) with the path of the offending value.

    Parameters
    ----------
    value
        None, bool, str, int (``|n| <= 2**53 - 1``), or lists/tuples and mappings (string
        keys) of these.

    Returns
    -------
    bytes
        UTF-8; keys sorted by UTF-16 code units; no insignificant whitespace; strings with
        only ``"``, ``\\`` and control characters escaped.

    Raises
    ------
    InvalidProof
        ``check = "field <path>"`` for a float, NaN, Decimal, an integer out of range, a
        non-string key, a lone surrogate, nesting deeper than 64, or any other type.
    """
    plain = _checked(value, "", 0)
    try:
        return rfc8785.dumps(plain)
    except rfc8785.CanonicalizationError as exc:  # refused above; kept so it is never a traceback
        raise _bad("", f"not encodable as RFC 8785 canonical JSON: {exc}") from None


def signing_payload(doc: Mapping[str, Any]) -> bytes:
    """The exact bytes an attestation signature covers.

    Parameters
    ----------
    doc
        The attestation document, signed or not.

    Returns
    -------
    bytes
        ``b"por-attestation-v1\\n" + canonical_json(doc without "signature")``.
    """
    return SIGNING_TAG + canonical_json({k: v for k, v in doc.items() if k != "signature"})
