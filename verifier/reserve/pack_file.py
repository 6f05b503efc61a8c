"""The rule-pack file: its schema, its checks, and reading it into a `RulePack`.

Where it sits: the reading half of the reserve rules (the model is verifier/reserve/pack.py).
`load_pack` finds a built-in pack (verifier/reserve/packs/) by id, or reads a pack file by
path; `parse_pack` checks the decoded document against `PackFile` (the file's one
definition, published as docs/spec/schemas/por-rule-pack.schema.json), then every
parameter's value against its kind, then the citations and the cross-parameter rules
(`file_problems`, which `por config check` also runs to list every problem at once).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, Field

from verifier.base import safetoml
from verifier.base.errors import InputError
from verifier.inputs.file_schemas import (
    DECIMAL_PATTERN,
    Day,
    FileModel,
    PlainText,
    Text,
    fault,
    pattern,
    validate,
)
from verifier.inputs.file_schemas import (
    Check as Valid,
)
from verifier.reserve.pack import (
    CAPITAL_ITEMS,
    COMPONENT_KINDS,
    MAX_COUNT,
    MODELS,
    PARAMETER_KINDS,
    Parameter,
    RulePack,
    Source,
    Status,
    check_citations,
    check_pack,
    parameter_kind,
    parameter_value,
)
from verifier.reserve.statement_model import CURRENCY_RE

_SOURCE_ID = re.compile(r"[1-9][0-9]{0,5}")
_SOURCE_DATE = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?|n\.d\.")
_SOURCE_DATE_JSON = r"^(?:[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?|n\.d\.)$"


# ----------------------------------------------------------------------------- pack schema
# The file's one definition (pydantic models, verifier.inputs.file_schemas), published as
# docs/spec/schemas/por-rule-pack.schema.json. A parameter's value depends on its name
# (`parameter_kind`), so values are checked by `file_problems`; the published schema lists
# each name's value type.


def _status(value: object) -> Status:
    if value not in tuple(Status):
        raise fault(f"must be one of {', '.join(Status)}", value)
    return Status(str(value))


def _model_name(value: object) -> str:
    if not isinstance(value, str) or value.strip() not in MODELS:
        raise fault(f"must be one of {', '.join(MODELS)}", value)
    return value.strip()


def _source_date(value: object) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        value = value.isoformat()
    if not isinstance(value, str) or not value.strip():
        raise fault("missing or not a non-empty string", value)
    if not _SOURCE_DATE.fullmatch(value.strip()):
        raise fault(
            "must be a date (2023-05-31, unquoted or quoted), YYYY-MM, YYYY, or n.d.", value
        )
    return value.strip()


def _source_id(value: object) -> str:
    if not isinstance(value, str) or not _SOURCE_ID.fullmatch(value):
        raise fault("a source id must be a positive whole number (as cited: [43])", value)
    return value


def _raw_value(value: object) -> object:
    return value


_KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "rate": {
        "description": "A non-negative decimal string or integer",
        "anyOf": [
            {"type": "string", "pattern": DECIMAL_PATTERN.replace("[+-]?", r"\+?")},
            {"type": "integer", "minimum": 0},
        ],
    },
    "amount": {
        "description": "A non-negative amount in the pack's currency (decimal string or integer)",
        "anyOf": [
            {"type": "string", "pattern": DECIMAL_PATTERN.replace("[+-]?", r"\+?")},
            {"type": "integer", "minimum": 0},
        ],
    },
    "share": {
        "description": 'A share 0..1 ("0.3")',
        "anyOf": [
            {"type": "string", "pattern": DECIMAL_PATTERN.replace("[+-]?", r"\+?")},
            {"type": "integer", "minimum": 0, "maximum": 1},
        ],
    },
    "count": {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
    "bool": {"type": "boolean"},
    "names": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "kinds": {"type": "array", "items": {"enum": list(COMPONENT_KINDS)}},
    "capital_item": {"enum": list(CAPITAL_ITEMS)},
}


class ParameterEntry(FileModel):
    """``[parameters.NAME]``: one parameter with its provenance."""

    value: Annotated[
        object, Valid(_raw_value, {"description": "Typed by the parameter's name"})
    ] = Field(description="The value; its type depends on the parameter (see properties)")
    status: Annotated[Status, Valid(_status, {"enum": [s.value for s in Status]})] = Field(
        description="LAW (in force), GUIDE (guideline), PROP (proposal), PH (placeholder)"
    )
    source: Text = Field(description="Article, guideline or report, citing [n] from [sources]")
    verified_on: Day = Field(description="When someone last checked the value against the source")
    effective_from: Day | None = Field(None, description="When the value takes effect")


class SourceEntry(FileModel):
    """``[sources.N]``: what a citation ``[N]`` refers to."""

    title: Text = Field(description="The document's title")
    publisher: Text = Field(description="Who published it")
    date: Annotated[
        str,
        Valid(
            _source_date,
            {
                "description": "2023-05-31 (a TOML date or string), YYYY-MM, YYYY or n.d.",
                "anyOf": [
                    {"type": "string", "format": "date"},
                    {"type": "string", "pattern": _SOURCE_DATE_JSON},
                ],
            },
        ),
    ] = Field(description="Publication date")
    identifier: Text = Field(description="A URL, a document number or an article reference")


def _parameters_schema(schema: dict[str, Any]) -> None:
    """List every parameter name with its value's type in the published schema."""
    params = schema["properties"]["parameters"]
    entry = params.pop("additionalProperties")

    def with_value(kind: str) -> dict[str, Any]:
        return {
            "allOf": [entry, {"properties": {"value": _KIND_SCHEMAS[kind]}}],
            "description": f"A {kind} parameter",
        }

    params["properties"] = {
        name: with_value(kind)
        for name, kind in sorted(PARAMETER_KINDS.items())
        if not name.endswith(".")
    }
    params["patternProperties"] = {
        f"^{re.escape(name)}.+$": with_value(kind)
        for name, kind in sorted(PARAMETER_KINDS.items())
        if name.endswith(".")
    }
    params["additionalProperties"] = False


class PackFile(FileModel):
    """A rule pack: versioned parameters with status, source and verification date."""

    model_config = ConfigDict(
        title="por rule pack",
        json_schema_extra=_parameters_schema,
    )

    id: Text = Field(description="The pack's id (a built-in pack's file name)")
    version: Text = Field(description="The pack's version")
    name: Text = Field(description="A readable name")
    currency: Annotated[str, pattern(CURRENCY_RE, "not a currency code")] = Field(
        description="Currency of the pack's fixed amounts (floor, cap, minimums)"
    )
    model: Annotated[str, Valid(_model_name, {"enum": list(MODELS)})] = Field(
        description="reserve (Japan-style, also Hong Kong) or capital (MiCA, VARA)"
    )
    jurisdiction: PlainText | None = Field(None, description="Jurisdiction code")
    description: PlainText | None = Field(None, description="What the pack requires, citing [n]")
    parameters: dict[str, ParameterEntry] = Field(
        default_factory=dict, description="[parameters.NAME] tables"
    )
    sources: dict[
        Annotated[str, Valid(_source_id, {"type": "string", "pattern": "^[1-9][0-9]{0,5}$"})],
        SourceEntry,
    ] = Field(default_factory=dict, description="[sources.N]: what each citation [N] refers to")


# ----------------------------------------------------------------------------- reading


def _build(doc: PackFile, origin: str) -> RulePack:
    """The pack's values; raises the first bad parameter value or unknown name."""
    return RulePack(
        id=doc.id,
        version=doc.version,
        name=doc.name,
        currency=doc.currency,
        model=doc.model,
        parameters=tuple(_parameter(name, entry, origin) for name, entry in doc.parameters.items()),
        jurisdiction=doc.jurisdiction or "",
        description=doc.description or "",
        origin=origin,
        sources=tuple(
            sorted(
                (
                    Source(
                        id=int(key),
                        title=s.title,
                        publisher=s.publisher,
                        date=s.date,
                        identifier=s.identifier,
                    )
                    for key, s in doc.sources.items()
                ),
                key=lambda source: source.id,
            )
        ),
    )


def _parameter(name: str, entry: ParameterEntry, file: str) -> Parameter:
    where = f"parameters.{name}"
    kind = parameter_kind(name)
    if kind is None:
        raise InputError(
            f"unknown parameter (known: {', '.join(sorted(PARAMETER_KINDS))})",
            file=file,
            key=where,
        )
    return Parameter(
        name=name,
        value=parameter_value(kind, entry.value, file, f"{where}.value"),
        status=entry.status,
        source=entry.source,
        verified_on=entry.verified_on,
        effective_from=entry.effective_from,
    )


def file_problems(doc: PackFile, origin: str) -> list[InputError]:
    """Every unknown parameter and bad value, then the first citation or cross-parameter fault."""
    out = []
    for name, entry in doc.parameters.items():
        try:
            _parameter(name, entry, origin)
        except InputError as exc:
            out.append(exc)
    if out:
        return out
    pack = _build(doc, origin)
    for check in (check_citations, check_pack):
        try:
            check(pack, origin)
        except InputError as exc:
            out.append(exc)
    return out


def parse_pack(raw: Mapping[str, Any], origin: str) -> RulePack:
    """Check a decoded rule-pack document and build the `RulePack`.

    Parameters
    ----------
    raw:
        The decoded TOML document.
    origin:
        The file name used in error messages.

    Returns
    -------
    RulePack

    Raises
    ------
    InputError
        For a missing or malformed key, an unknown parameter, a parameter a model needs,
        or a citation ``[n]`` (in a parameter's source or the description) that the pack's
        ``[sources]`` table does not list.
    """
    doc = validate(PackFile, raw, origin)
    problems = file_problems(doc, origin)
    if problems:
        raise problems[0]
    return _build(doc, origin)


# ----------------------------------------------------------------------------- loading


def known_packs() -> tuple[str, ...]:
    """The built-in rule packs.

    Returns
    -------
    tuple of str
        The ids of the files in verifier/reserve/packs/, sorted.
    """
    folder = resources.files("verifier.reserve").joinpath("packs")
    return tuple(
        sorted(
            entry.name.removesuffix(".toml")
            for entry in folder.iterdir()
            if entry.name.endswith(".toml") and entry.is_file()
        )
    )


def load_pack(name_or_path: str) -> RulePack:
    """Load a built-in rule pack by id, or a pack file by path.

    Parameters
    ----------
    name_or_path:
        A built-in id (``jp-psa``, ``jp-fsa-2026``, ``hk-sfc``, ``eu-mica``, ``ae-vara``) or
        the path of a pack TOML file of the same format.

    Returns
    -------
    RulePack

    Raises
    ------
    InputError
        For an unknown id (the message lists the known ones), a missing or unreadable file,
        or a malformed pack.
    """
    known = known_packs()
    if name_or_path in known:
        origin = f"verifier/reserve/packs/{name_or_path}.toml"
        resource = resources.files("verifier.reserve").joinpath("packs", f"{name_or_path}.toml")
        raw = safetoml.loads(resource.read_text(encoding="utf-8"), source=origin)
    else:
        path = Path(name_or_path)
        if path.suffix != ".toml" and not path.exists():
            raise InputError(
                f"unknown rule pack; known packs: {', '.join(known)} "
                "(or give the path of a pack .toml file)",
                key="pack",
                value=name_or_path,
            )
        origin = str(path)
        if not path.exists():
            raise InputError(
                f"rule pack file not found (known packs: {', '.join(known)})", file=origin
            )
        raw = safetoml.load_path(path, what="rule pack")
    pack = parse_pack(raw, origin)
    if name_or_path in known and pack.id != name_or_path:
        raise InputError("id differs from the file name", file=origin, key="id", value=pack.id)
    return pack
