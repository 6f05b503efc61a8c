"""`canonical_json` through the `rfc8785` package gives the bytes and refusals it gave before.

The attestation's signed bytes must not change when the serialiser does: a signature made by
an earlier release has to verify with this one. So the hand-written encoder that
`canonical_json` used until the library replaced it is kept here, verbatim in behaviour, as
the reference: hypothesis compares the two over random JSON values of our subset (bytes) and
over values with one fault planted (the same refusal, naming the same path).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Any

import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

from attestations.document import canonical
from attestations.document.canonical import MAX_DEPTH, MAX_SAFE_INT, _bad, _child, canonical_json
from verifier.base.errors import InvalidProof

# ----------------------------------------------------------------------------- the reference

# JCS string escapes (RFC 8785 §3.2.2.2): the two-character forms where they exist, \u00xx
# (lowercase hex) for the other control characters, everything else as UTF-8.
_ESCAPES: dict[int, str] = {c: f"\\u{c:04x}" for c in range(0x20)}
_ESCAPES.update(
    {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"}
)


def _encode_string(value: str, path: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad(path, "a string with a lone surrogate is not valid Unicode") from None
    return '"' + value.translate(_ESCAPES) + '"'


def _encode(value: Any, path: str, depth: int, out: list[str]) -> None:
    if depth > MAX_DEPTH:
        raise _bad(path, f"nested deeper than {MAX_DEPTH} levels")
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_encode_string(value, path))
    elif isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise _bad(path, f"integer {value} is beyond ±(2**53 - 1); write it as a string")
        out.append(str(int(value)))
    elif isinstance(value, float | Decimal):
        raise _bad(
            path,
            f"{value!r} is not an integer: floats (and NaN, Infinity) are not allowed; "
            "amounts and prices are decimal strings",
        )
    elif isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise _bad(path, f"object key {key!r} is not a string")
        try:
            keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        except UnicodeEncodeError:
            raise _bad(path, "an object key with a lone surrogate is not valid Unicode") from None
        out.append("{")
        for n, key in enumerate(keys):
            if n:
                out.append(",")
            out.append(_encode_string(key, path))
            out.append(":")
            _encode(value[key], _child(path, key), depth + 1, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for n, item in enumerate(value):
            if n:
                out.append(",")
            _encode(item, _child(path, n), depth + 1, out)
        out.append("]")
    else:
        raise _bad(path, f"a {type(value).__name__} is not a JSON value")


def reference(value: Any) -> bytes:
    """The canonical encoding as the hand-written encoder made it."""
    out: list[str] = []
    _encode(value, "", 0, out)
    return "".join(out).encode("utf-8")


def _outcome(encode: Any, value: Any) -> tuple[str, Any]:
    """("bytes", b"...") or ("refused", (check, message)): what an encoder does with `value`."""
    try:
        return "bytes", encode(value)
    except InvalidProof as exc:
        return "refused", (exc.check, str(exc))


# ----------------------------------------------------------------------------- strategies

# every code point that is valid Unicode, control characters and astral planes included
TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
# keys drawn to collide in interesting ways: sorting by UTF-16 code units differs from
# code-point order only between astral characters and U+E000..U+FFFF
KEYS = TEXT | st.sampled_from(["", "a", "\ufb33", "\U0001f600", "\uffff", "\ue000", "\x00", "é"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INT, max_value=MAX_SAFE_INT)
    | st.sampled_from([0, -1, MAX_SAFE_INT, -MAX_SAFE_INT])
    | TEXT
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(KEYS, inner, max_size=5)
        | st.dictionaries(KEYS, inner, max_size=3).map(MappingProxyType)
    ),
    max_leaves=40,
)
FAULTS = st.sampled_from(
    [
        0.5,
        1.0,
        -0.0,
        float("nan"),
        float("inf"),
        Decimal("1"),
        Decimal("NaN"),
        MAX_SAFE_INT + 1,
        -MAX_SAFE_INT - 1,
        2**64,
        "\ud800",
        "ok\udfffok",
        {1: "int key"},
        {"\ud83d": 0},
        {None: 0},
        b"bytes",
        {1, 2},
        object(),
    ]
)


@st.composite
def _with_fault(draw: st.DrawFn) -> Any:
    """A valid value with one or two faults planted at random places (or as the whole)."""
    value = draw(VALUES)
    for _ in range(draw(st.integers(1, 2))):
        value = _plant(value, draw(FAULTS), draw)
    return value


def _plant(value: Any, fault: Any, draw: st.DrawFn) -> Any:
    if isinstance(value, Mapping) and value and draw(st.booleans()):
        key = draw(st.sampled_from(list(value)))
        return {**value, key: _plant(value[key], fault, draw)}
    if isinstance(value, list | tuple) and value and draw(st.booleans()):
        index = draw(st.integers(0, len(value) - 1))
        return [*value[:index], _plant(value[index], fault, draw), *value[index + 1 :]]
    if isinstance(value, Mapping):
        return {**value, draw(KEYS): fault}
    if isinstance(value, list | tuple):
        return [*value, fault]
    return fault


# ----------------------------------------------------------------------------- properties


@settings(max_examples=400)
@given(VALUES)
@example({"\U0001f600": 1, "\ufb33": 2, "\u20ac": [None, True, '\x00\x7f\u2028"\\/']})
@example("\b\t\n\f\r\x1f\x7f\u2028\u2029")
@example([MAX_SAFE_INT, -MAX_SAFE_INT, 0])
@example(MappingProxyType({"b": (1, 2), "a": MappingProxyType({})}))
def test_library_gives_the_reference_bytes(value: Any) -> None:
    encoded = canonical_json(value)
    assert encoded == reference(value)
    # and it is the library's own output on the plain value (no post-processing of ours)
    assert encoded == rfc8785.dumps(json.loads(encoded))


@settings(max_examples=400)
@given(_with_fault())
def test_refusals_are_the_reference_refusals(value: Any) -> None:
    # same verdict; for a refusal the same check (the path) and the same message
    assert _outcome(canonical_json, value) == _outcome(reference, value)


# ----------------------------------------------------------------------------- edges


class Level(IntEnum):
    LOW = 3


class Colour(StrEnum):
    RED = "r\ned"


def test_enum_members_encode_as_their_values() -> None:
    value = {"level": Level.LOW, "colour": Colour.RED, Colour.RED: True}
    assert (
        canonical_json(value) == reference(value) == b'{"colour":"r\\ned","level":3,"r\\ned":true}'
    )


@pytest.mark.parametrize("depth", [MAX_DEPTH, MAX_DEPTH + 1])
def test_depth_limit_is_the_reference_limit(depth: int) -> None:
    value: Any = 0
    for _ in range(depth):
        value = {"a": [value]} if depth % 2 else [value]
    assert _outcome(canonical_json, value) == _outcome(reference, value)


def test_a_float_is_refused_though_rfc8785_would_encode_it() -> None:
    # the library writes 0.5 as JCS allows; our format refuses it, naming where it is
    assert rfc8785.dumps({"price": 0.5}) == b'{"price":0.5}'
    with pytest.raises(InvalidProof) as info:
        canonical_json({"price": 0.5})
    assert info.value.check == "field price"


def test_a_library_refusal_is_an_invalid_proof_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # our checks refuse first; if the library ever refuses something they let through, the
    # caller still gets the project's error (exit 3), not rfc8785's ValueError
    def refuse(value: Any) -> bytes:
        raise rfc8785.CanonicalizationError("input contains non-UTF-8 codepoints")

    monkeypatch.setattr(canonical.rfc8785, "dumps", refuse)
    with pytest.raises(InvalidProof, match="non-UTF-8") as info:
        canonical_json({"a": 1})
    assert info.value.check == "field document"
