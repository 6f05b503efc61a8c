"""Schemas of the data files por reads besides por.toml; `problems` lists all of a file's faults.

Where it sits: beside the loaders of the prices file (`verifier.inputs.prices`), the reserve
statement (`verifier.reserve.statement`), the asset list of the liabilities
(`verifier.inputs.assets`) and rule packs (`verifier.reserve.pack_file`). Each loader defines its
file's pydantic v2 model once, next
to the code that turns it into the loader's values, from the field types here; it validates the
decoded TOML through the model with `validate` (the first problem is raised as `InputError`,
exit 3). `problems` lists every problem of a file at once (schema and semantic), each naming
the file and the key; `json_schemas` publishes the models as JSON Schema
(docs/spec/schemas/, regenerated with ``python -m verifier.inputs.file_schemas docs/spec/schemas``).

Invariants:

1. Every leaf type is checked by a plain validator of ours: pydantic never coerces (a string
   never becomes a number, a float never becomes a Decimal, a date-time never a date).
2. Money, prices, rates and shares are `Decimal` from a decimal string or a TOML integer;
   a TOML float is refused with "write amounts as strings" (a binary float cannot hold most
   decimal amounts exactly).
3. Every error names the key as the loaders always have: ``insurance[0].perils.hot``.
"""

from __future__ import annotations

import difflib
import importlib
import json
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationError,
)
from pydantic_core import PydanticCustomError, core_schema

from verifier.base import safetoml
from verifier.base.errors import InputError

KINDS: dict[str, tuple[str, str, str]] = {
    # kind: (module, model class, published schema file)
    "prices": ("verifier.inputs.prices", "PricesFile", "por-prices.schema.json"),
    "statement": (
        "verifier.reserve.statement",
        "StatementFile",
        "por-reserve-statement.schema.json",
    ),
    "assets": ("verifier.inputs.assets", "AssetsFile", "por-assets.schema.json"),
    "pack": ("verifier.reserve.pack_file", "PackFile", "por-rule-pack.schema.json"),
    "scenarios": ("verifier.stress.scenario", "ScenarioFileModel", "por-scenarios.schema.json"),
}
"""Every file kind `problems` knows, with where its model is defined."""

SCHEMA_BASE = "urn:por:schema:"
"""The ``$id`` prefix of the published schemas: a name, not a location anything fetches."""

_WHAT = {
    "prices": "prices file",
    "statement": "reserve statement",
    "assets": "assets file",
    "pack": "rule pack",
    "scenarios": "scenario file",
}


class FileModel(BaseModel):
    """Base of every file model: unknown keys refused, values frozen, no coercion."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenModel(BaseModel):
    """A file model whose table may hold keys of other tools (they are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# ----------------------------------------------------------------------------- errors


def fault(message: str, value: object = None, *, key: str | None = None) -> PydanticCustomError:
    """A validation error carrying our message, the offending value and, optionally, the key.

    `key` names a field below the location pydantic reports (a model validator finding a
    fault in its field ``end`` passes ``key="end"``).
    """
    ctx: dict[str, object] = {"message": message}
    if value is not None:
        ctx["value"] = _shown(value)
    if key is not None:
        ctx["key"] = key
    # the template takes the message from the context: messages hold braces ({1,16})
    return PydanticCustomError("por", "{message}", ctx)


def _shown(value: object) -> str:
    if isinstance(value, float):  # float-ok: shown, not computed with
        return repr(value)
    if isinstance(value, (list, dict)):
        return repr(value)[:200]
    return str(value)


_TAG = "~"
"""Prefix of the union tags (``~table``): dropped from keys."""


def key_of(loc: Sequence[int | str], extra: object = None) -> str:
    """A pydantic error location as the key the messages use: ``insurance[0].perils.hot``."""
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        elif part == "[key]" or part.startswith(_TAG):
            continue
        else:
            key = f"{key}.{part}" if key else part
    if isinstance(extra, str) and extra:
        key = f"{key}.{extra}" if key else extra
    return key


def _unwrap(annotation: Any) -> Any:
    """The model class or container type behind Annotated[...] and X | None."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [_unwrap(a) for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else args[0]
        else:
            return annotation


def _fields_at(model: type[BaseModel], loc: Sequence[int | str]) -> list[str] | None:
    """The keys the table at `loc` accepts, or None when that is not a model.

    Array indexes in `loc` may be left out (``bitcoin.wallets.ownership``).
    """
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        while isinstance(part, str) and typing.get_origin(current) in (list, tuple):
            current = _unwrap(typing.get_args(current)[0])
        if isinstance(current, type) and issubclass(current, BaseModel):
            names = {f.alias or name: name for name, f in current.model_fields.items()}
            if not isinstance(part, str) or part not in names:
                return None
            current = current.model_fields[names[part]].annotation
        elif typing.get_origin(current) in (list, tuple, dict):
            args = typing.get_args(current)
            current = args[-1] if typing.get_origin(current) is dict else args[0]
        else:
            return None
    current = _unwrap(current)
    while typing.get_origin(current) in (list, tuple):
        current = _unwrap(typing.get_args(current)[0])
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return None


def _message(model: type[BaseModel], error: Mapping[str, Any]) -> tuple[str, str | None]:
    """Our message and value for one pydantic error."""
    kind = error["type"]
    loc = [part for part in error["loc"] if not (isinstance(part, str) and part.startswith(_TAG))]
    ctx = error.get("ctx") or {}
    if kind == "por":
        value = ctx.get("value")
        return str(ctx["message"]), None if value is None else str(value)
    raw = error.get("input")
    if kind == "missing":
        return "missing", None
    if kind == "extra_forbidden":
        known = _fields_at(model, loc[:-1]) or []
        name = str(loc[-1])
        message = f"unknown key (known: {', '.join(sorted(known))})" if known else "unknown key"
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
        return message, None
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a table", _shown(raw)
    if kind in ("list_type", "tuple_type"):
        return "must be an array (of tables: [[" + str(loc[-1]) + "]])", _shown(raw)
    if kind in ("too_short", "too_long"):
        return str(error["msg"]).lower(), None
    return str(error["msg"]), None if raw is None else _shown(raw)


def input_errors(
    model: type[BaseModel], exc: ValidationError, file: str | None
) -> list[InputError]:
    """Every error of a failed validation as an `InputError` naming the file and the key.

    A list whose every item failed also reports itself "too short" (pydantic counts the
    items left after validation): that echo is dropped, as the items' own errors say it."""
    errors = exc.errors(include_url=False)
    below = {tuple(e["loc"][:n]) for e in errors for n in range(len(e["loc"]))}
    out = []
    for error in errors:
        if error["type"] == "too_short" and tuple(error["loc"]) in below:
            continue
        message, value = _message(model, error)
        extra = (error.get("ctx") or {}).get("key")
        out.append(InputError(message, file=file, key=key_of(error["loc"], extra), value=value))
    return out


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], raw: Mapping[str, Any], file: str | None) -> M:
    """`raw` (decoded TOML) checked by `model`; the first problem raised as `InputError`.

    Raises
    ------
    InputError
        The first problem in the model's field order, naming `file` and the key.
    """
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise input_errors(model, exc, file)[0] from None


# ----------------------------------------------------------------------------- leaf types


@dataclass(frozen=True, slots=True, eq=False)  # hashed by identity: X | None needs it
class Check:
    """``Annotated[T, Check(func, schema)]``: `func` validates (no coercion), `schema` documents."""

    func: Callable[[Any], Any]
    schema: Mapping[str, Any]

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self.func)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return dict(self.schema)


_DECIMAL_RE = re.compile(r"[+-]?[0-9](?:_?[0-9])*(?:\.[0-9](?:_?[0-9])*)?")
MAX_DIGITS = 50
"""Longest amount accepted, in digits: far above any real amount, far below the 60-digit
context of every reserve computation."""
DECIMAL_PATTERN = r"^\s*[+-]?[0-9](_?[0-9])*(\.[0-9](_?[0-9])*)?\s*$"
"""`_DECIMAL_RE` as a JSON Schema pattern (surrounding blanks are allowed and stripped)."""


def decimal_value(value: object, what: str = "amount") -> Decimal:
    """A decimal string or a TOML integer as an exact `Decimal`; a float, bool or else refused.

    Raises
    ------
    PydanticCustomError
        "write amounts as strings" for a TOML float; else what is wrong, with the value.
    """
    if isinstance(value, bool):
        raise fault(f"{what} must be a decimal string", value)
    if isinstance(value, float):  # float-ok: only to reject it
        raise fault(
            f"{what} is a TOML float, which cannot hold decimal amounts exactly: "
            f'write amounts as strings (e.g. "0.05" or "5000000000")',
            value,
        )
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _DECIMAL_RE.fullmatch(text):
            raise fault(
                f"{what} is not a decimal number (digits, optional sign and point, no exponent)",
                value,
            )
    else:
        raise fault(f"{what} must be a decimal string or an integer", value)
    if sum(ch.isdigit() for ch in text) > MAX_DIGITS:
        raise fault(f"{what} has more than {MAX_DIGITS} digits", text)
    return Decimal(text.replace("_", ""))


def _decimal_schema(description: str, *, minimum: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "description": description,
        "anyOf": [
            {"type": "string", "pattern": DECIMAL_PATTERN},
            {"type": "integer"},
        ],
    }
    if minimum == "0":
        schema["anyOf"] = [
            {"type": "string", "pattern": DECIMAL_PATTERN.replace("[+-]?", r"\+?")},
            {"type": "integer", "minimum": 0},
        ]
    return schema


def _amount(value: object) -> Decimal:
    amount = decimal_value(value)
    if amount < 0:
        raise fault("amount must not be negative", amount)
    return amount


def _share(value: object) -> Decimal:
    share = decimal_value(value, "share")
    if not 0 <= share <= 1:
        raise fault("share must be between 0 and 1", share)
    return share


Amount = Annotated[
    Decimal,
    Check(
        _amount,
        _decimal_schema(
            'A non-negative amount: a decimal string ("5000000000.5") or a TOML integer; '
            "never a float",
            minimum="0",
        ),
    ),
]
"""A non-negative amount: exact Decimal from a decimal string or a TOML integer."""

Share = Annotated[
    Decimal,
    Check(
        _share, _decimal_schema('A share 0..1 as a decimal string ("0.25") or 0 or 1', minimum="0")
    ),
]
"""A share between 0 and 1 inclusive."""

SignedDecimal = Annotated[
    Decimal,
    Check(decimal_value, _decimal_schema("A decimal string or a TOML integer; never a float")),
]
"""Any exact decimal (callers check the range)."""


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fault("must be a non-empty string", value)
    return value.strip()


Text = Annotated[
    str,
    Check(_text, {"type": "string", "minLength": 1, "pattern": r"\S"}),
]
"""A non-empty string (surrounding blanks stripped)."""


def _plain_text(value: object) -> str:
    if not isinstance(value, str):
        raise fault("must be a string", value)
    return value


PlainText = Annotated[str, Check(_plain_text, {"type": "string"})]
"""Any string, kept as written."""


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise fault("must be true or false", value)
    return value


Flag = Annotated[bool, Check(_flag, {"type": "boolean"})]
"""true or false (never 1 or "yes")."""


def integer(low: int, high: int, message: str | None = None) -> Check:
    """``Annotated[int, integer(0, 36)]``: an integer in ``low..high`` (no bool, float, string)."""

    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fault(message or "must be an integer", value)
        if not low <= value <= high:
            raise fault(message or f"must be {low}..{high}", value)
        return value

    return Check(check, {"type": "integer", "minimum": low, "maximum": high})


def _day(value: object) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise fault("must be a TOML date (e.g. 2026-03-31, unquoted)", value)
    return value


Day = Annotated[
    date,
    Check(_day, {"type": "string", "format": "date", "description": "A TOML date, unquoted"}),
]
"""A TOML local date (2026-03-31), not a date-time and not a string."""


def pattern(regex: re.Pattern[str], message: str) -> Check:
    """``Annotated[str, pattern(RE, message)]``: a string matching `regex` in full."""

    def check(value: object) -> str:
        if not isinstance(value, str) or not regex.fullmatch(value):
            raise fault(message, value)
        return value

    return Check(check, {"type": "string", "pattern": f"^(?:{regex.pattern})$"})


# ----------------------------------------------------------------------------- files


def model_of(kind: str) -> type[BaseModel]:
    """The model of a file kind (``prices``, ``statement``, ``assets``, ``pack``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown file kind {kind!r} (known: {', '.join(KINDS)})")
    module, name, _ = KINDS[kind]
    # imported here: each loader imports this module for its field types
    model = getattr(importlib.import_module(module), name)
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return model


def _semantic(kind: str) -> Callable[[Any, str], list[InputError]]:
    module, _, _ = KINDS[kind]
    check = importlib.import_module(module).file_problems
    assert callable(check)
    return typing.cast(Callable[[Any, str], list[InputError]], check)


def problems(kind: str, path: Path | str) -> list[InputError]:
    """Every problem of the file at `path` read as `kind`; empty when it loads.

    Parameters
    ----------
    kind:
        ``prices``, ``statement``, ``assets`` or ``pack``.
    path:
        The file.

    Returns
    -------
    list of InputError
        A file that cannot be read or is not TOML gives one error. Otherwise every schema
        problem (each naming the file and the key); when the schema holds, every problem the
        loader finds across its fields (its semantic checks: ranges between fields, overlaps,
        duplicates, citations).
    """
    model = model_of(kind)
    name = str(path)
    try:
        raw = safetoml.load_path(Path(path), what=_WHAT[kind])
    except InputError as exc:
        return [exc]
    try:
        doc = model.model_validate(raw)
    except ValidationError as exc:
        return input_errors(model, exc, name)
    return _semantic(kind)(doc, name)


def _toml_only(node: Any) -> Any:
    """A schema without JSON null: TOML has none, so an optional key is just left out."""
    if isinstance(node, list):
        return [_toml_only(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "default" and value is None:
            continue
        if key == "anyOf":
            branches = [branch for branch in value if branch != {"type": "null"}]
            if len(branches) == 1:
                out.update(_toml_only(branches[0]))
                continue
            value = branches  # noqa: PLW2901 - the same member, without its null branch
        out[key] = _toml_only(value)
    return out


def json_schemas() -> dict[str, dict[str, Any]]:
    """{published file name: JSON Schema} for every file kind, generated from the models."""
    out = {}
    for kind, (_, _, filename) in KINDS.items():
        schema = _toml_only(model_of(kind).model_json_schema(mode="validation"))
        out[filename] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": SCHEMA_BASE + filename,
            **schema,
        }
    return out


def schema_text(schema: Mapping[str, Any]) -> str:
    """A schema as committed: sorted keys, two-space indents, a final newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: Sequence[str]) -> int:
    """Write every schema into the directory given (docs/spec/schemas)."""
    if len(argv) != 1:
        print("usage: python -m verifier.inputs.file_schemas DIRECTORY", file=sys.stderr)
        return 2
    folder = Path(argv[0])
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for filename, schema in json_schemas().items():
            (folder / filename).write_text(schema_text(schema), encoding="utf-8")
    except OSError as exc:
        print(f"cannot write the schemas into {folder}: {exc.strerror or exc}", file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
