"""The config schema's errors in our phrasing: each names the file and the key.

Where it sits: verifier/inputs/config.py validates a parsed por.toml through the schema
(verifier/inputs/config_schema.py) with `validate`; each pydantic error becomes an
`InputError` (exit 3) naming `bitcoin.wallets[2].address`, its value masked (a URL may
hold an API key). An unknown key lists the keys its table accepts and the closest one
(`unknown_key_help`, also used by `por config check`).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from verifier.base.errors import InputError
from verifier.base.redact import mask_text, mask_url
from verifier.inputs.config_schema import PorToml, printable

Problem = tuple[InputError, ErrorDetails | None]
"""A problem of a config: the error, and pydantic's details when the schema found it."""

_URL_KEYS = frozenset({"url", "webhook"})


def error_key(loc: Sequence[str | int]) -> str:
    """pydantic's location as messages name a key: ("bitcoin", "wallets", 2, "address")
    -> "bitcoin.wallets[2].address"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def schema_error(path: Path, error: ErrorDetails) -> InputError:
    """One pydantic error in the project's phrasing, naming the file and the key.

    Values are quoted masked (a URL may hold an API key); a missing or unknown key quotes
    nothing.
    """
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    loc = [*error["loc"], *([ctx["field"]] if "field" in ctx else [])]
    kind = error["type"]
    shown: str | None = None
    if kind == "por":
        message, shown = error["msg"], ctx.get("shown")
    elif kind == "missing":
        message = "missing"
    elif kind == "extra_forbidden":
        known, close = unknown_key_help(error["loc"])
        message = f"unknown key (known: {', '.join(known)})" if known else "unknown key"
        if close is not None:
            message += f"; did you mean {close!r}?"
    else:
        message = _TYPE_MESSAGES.get(kind, "has the wrong type")
        shown = printable(error.get("input"))
    if shown is not None:
        # a URL key's value is masked as a URL; anything else for URLs quoted inside it
        shown = mask_text(mask_url(shown) if loc and loc[-1] in _URL_KEYS else shown)
    return InputError(message, file=str(path), key=error_key(loc) or None, value=shown)


def _unwrap(annotation: Any) -> Any:
    """The model class or container type behind Annotated[...] and X | None."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation


def known_keys(loc: Sequence[str | int]) -> list[str]:
    """The keys the table at `loc` accepts (empty when `loc` is not a table of the schema)."""
    current: Any = PorToml
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {f.alias or name: f for name, f in current.model_fields.items()}
            if not isinstance(part, str) or part not in fields:
                return []
            current = fields[part].annotation
        elif typing.get_origin(current) in (list, dict):
            current = typing.get_args(current)[-1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def unknown_key_help(loc: Sequence[str | int]) -> tuple[list[str], str | None]:
    """For an unknown key at `loc`: the keys its table accepts, and the closest of them."""
    known = known_keys(loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6) if loc else []
    return known, close[0] if close else None


_TYPE_MESSAGES = {
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "dict_type": "must be a table",
    "list_type": "must be a list",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
}


def validate(path: Path, raw: Mapping[str, Any]) -> tuple[PorToml | None, list[Problem]]:
    """The file's data checked against the schema: the model, or every problem found."""
    try:
        return PorToml.model_validate(raw), []
    except ValidationError as exc:
        return None, [(schema_error(path, e), e) for e in exc.errors(include_url=False)]
