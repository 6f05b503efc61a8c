"""Rule packs and the reserve evaluation: required reserve, eligible reserve, checks.

Where it sits: the pure core of the reserve half of reconciliation (DESIGN.md, "Coverage").
A rule pack (verifier/reserve/packs/*.toml, or a user's own file) is data: each parameter carries
its value and a status tag (LAW, GUIDE, PROP, PH) with source, ``verified_on`` and
``effective_from``, so a placeholder pack can be replaced when the final text is published.
`evaluate` takes the pack, a reserve statement (`verifier.reserve.statement`) and the customer
holdings (`ReserveInputs`, from a snapshot or from the statement's ``[holdings]``) and
returns a `ReserveEvaluation`; it does no I/O. The formulas are RULES.md, "Rule-pack model".

Invariants:

1. All arithmetic is `Decimal` inside `money_context()` (60 digits); no float anywhere.
2. ``R`` (model ``reserve``, Japan-style; Hong Kong is the same form)::

       R = clamp(floor, cap, m_ops · (Σ_k r_k·avg3y(volume_k) + c_cold·V_cold
                                      + c_hot·max(0, V_hot + V_other − V_buffer)
                                      + k_inc·net_incident_losses_3y))

   where ``V_buffer`` counts only when ``buffer_credit`` is true. ``R`` (model
   ``capital``, MiCA and VARA) = ``max(minimum, overheads_share · fixed overheads)``.
3. Eligible = eligible cash + eligible guarantees + capital (capital-style packs) +
   insurance credit, where insurance credit
   ``= min(θ·R, Σ_j gate_j · scope_j · max(0, limit_j − deductible_j))``. A component
   whose kind the pack does not accept, or that fails any gate, counts zero; every gate is
   reported with its reason.
4. ``shortfall = max(0, R − eligible)``, ``surplus = max(0, eligible − R)``; met iff the
   shortfall is zero. Per-asset checks are never netted across assets.
5. Under-coverage and failed checks are results, not exceptions; only bad input raises
   (`InputError`, exit 3).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, Field

from attestations.encoding import ASSET_CODE_RE, MAX_DECIMALS
from attestations.proofs import format_units
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
from verifier.reserve.statement import (
    CURRENCY_RE,
    WALLET_CLASSES,
    ReserveStatement,
    add_years,
    fmt_decimal,
    money_context,
    parse_decimal,
)

COMPONENT_KINDS = ("cash", "guarantee", "insurance", "capital")
CAPITAL_ITEMS = ("cet1", "paid_up_capital")
MODELS = ("reserve", "capital")
PERIL_CLASSES = ("cold", "hot", "other")
"""Wallet classes weighing an insurance policy's peril scope (custodial assets are the
custodian's risk and are reported, not weighed, as DESIGN.md excludes them by default)."""

ZERO = Decimal(0)
ONE = Decimal(1)
AMOUNT_QUANTUM = Decimal("1e-8")
"""Every reported amount is a multiple of this (reporting-currency units)."""
SHARE_QUANTUM = Decimal("1e-12")
"""A policy's value-weighted peril share is rounded down to this."""


class Status(enum.StrEnum):
    """How firm a parameter is (RULES.md, status tags)."""

    LAW = "LAW"
    """In force."""
    GUIDE = "GUIDE"
    """A regulator's guideline."""
    PROP = "PROP"
    """A reported proposal."""
    PH = "PH"
    """A placeholder of ours, pending the final text."""


ParamValue = Decimal | bool | int | str | tuple[str, ...]

# kind of every parameter a pack may carry; names ending in "." are prefixes
PARAMETER_KINDS: dict[str, str] = {
    "c_cold": "rate",
    "c_hot": "rate",
    "buffer_credit": "bool",
    "volume_rate": "rate",
    "volume_rate.": "rate",
    "volume_years": "count",
    "k_inc": "rate",
    "incident_years": "count",
    "m_ops_min": "rate",
    "m_ops_max": "rate",
    "m_ops_step.": "rate",
    "floor": "amount",
    "cap": "amount",
    "theta": "share",
    "non_cold_limit": "share",
    "non_cold_limit_per_asset": "share",
    "own_buffer_same_type": "bool",
    "per_asset_coverage_min": "rate",
    "eligible_kinds": "kinds",
    "insurance_require_authorised": "bool",
    "insurance_min_term_days": "count",
    "insurance_min_notice_days": "count",
    "insurance_required_perils": "names",
    "horizon_days": "count",
    "cash_require_trust": "bool",
    "cash_max_maturity_days": "count",
    "guarantee_require_on_demand": "bool",
    "capital_item": "capital_item",
    "minimum": "amount",
    "minimum.": "amount",
    "overheads_share": "share",
    # the oldest an ownership-epoch signature may be, in days (verifier/holdings/ownership.py)
    "ownership_max_age_days": "count",
}


def parameter_kind(name: str) -> str | None:
    """The kind of a pack parameter, from its name.

    Parameters
    ----------
    name:
        A parameter name, plain (``theta``) or prefixed (``volume_rate.spot``).

    Returns
    -------
    str or None
        ``rate``, ``share``, ``amount``, ``count``, ``bool``, ``names``, ``kinds`` or
        ``capital_item``; None for an unknown name.
    """
    if name in PARAMETER_KINDS and not name.endswith("."):
        return PARAMETER_KINDS[name]
    prefix, dot, rest = name.partition(".")
    if dot and rest:
        return PARAMETER_KINDS.get(prefix + ".")
    return None


# ----------------------------------------------------------------------------- packs


@dataclass(frozen=True, slots=True)
class Parameter:
    """One rule-pack parameter with its provenance."""

    name: str
    value: ParamValue
    status: Status
    source: str
    """Where the value comes from (article, guideline, report; or why it is a placeholder)."""
    verified_on: date
    """When someone last checked the value against the source."""
    effective_from: date | None = None

    def value_json(self) -> object:
        """The value for JSON: decimals as strings, lists as lists."""
        if isinstance(self.value, Decimal):
            return fmt_decimal(self.value)
        if isinstance(self.value, tuple):
            return list(self.value)
        return self.value

    def value_text(self) -> str:
        """The value for display."""
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        if isinstance(self.value, Decimal):
            return fmt_decimal(self.value)
        if isinstance(self.value, tuple):
            return ", ".join(self.value) or "(none)"
        return str(self.value)


CITATION_RE = re.compile(r"\[([0-9]+)\]")
"""A citation in a parameter's ``source`` (or the pack's ``description``): ``[43]``."""
SOURCE_KEYS = ("title", "publisher", "date", "identifier")
_SOURCE_ID = re.compile(r"[1-9][0-9]{0,5}")
_SOURCE_DATE = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?|n\.d\.")
_SOURCE_DATE_JSON = r"^(?:[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?|n\.d\.)$"


@dataclass(frozen=True, slots=True)
class Source:
    """One entry of a pack's ``[sources]`` table: what a citation ``[n]`` refers to."""

    id: int
    """The number citations use (``[43]``)."""
    title: str
    publisher: str
    date: str
    """``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY``, or ``n.d.`` when no date is recorded."""
    identifier: str
    """A URL, a document number or an article reference: how to find the text."""

    def to_json(self) -> dict[str, object]:
        """The source as a report member."""
        return {
            "id": self.id,
            "title": self.title,
            "publisher": self.publisher,
            "date": self.date,
            "identifier": self.identifier,
        }


@dataclass(frozen=True, slots=True)
class RulePack:
    """A versioned set of parameters and the formula family (``model``) they feed."""

    id: str
    version: str
    name: str
    currency: str
    """Currency of the pack's fixed amounts (floor, cap, minimums)."""
    model: str
    """``reserve`` (Japan-style, also Hong Kong) or ``capital`` (MiCA, VARA)."""
    parameters: tuple[Parameter, ...]
    jurisdiction: str = ""
    description: str = ""
    origin: str = ""
    """The file the pack was read from."""
    sources: tuple[Source, ...] = ()
    """The pack's ``[sources]`` table, by id; every citation ``[n]`` in it is listed here."""

    def get(self, name: str) -> Parameter | None:
        """The parameter called `name`, or None."""
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        return None

    def with_overrides(self, overrides: Mapping[str, str], *, on: date) -> RulePack:
        """A copy with parameters set from text (``--set buffer_credit=false``).

        Parameters
        ----------
        overrides:
            Parameter name -> value as text (decimals, ``true``/``false``, whole days,
            comma-separated lists).
        on:
            The ``verified_on`` date recorded for each override.

        Returns
        -------
        RulePack
            Overridden parameters carry status PH and source "override".

        Raises
        ------
        InputError
            For an unknown parameter name or a value of the wrong kind.
        """
        params = {p.name: p for p in self.parameters}
        for name, text in overrides.items():
            kind = parameter_kind(name)
            if kind is None:
                raise InputError(
                    f"unknown parameter (known: {', '.join(sorted(PARAMETER_KINDS))})",
                    key="--set",
                    value=name,
                )
            raw = _raw_from_text(kind, text, name)
            value = _parameter_value(kind, raw, None, f"--set {name}")
            params[name] = Parameter(
                name=name,
                value=value,
                status=Status.PH,
                source=f"override ({name}={text})",
                verified_on=on,
            )
        pack = replace(self, parameters=tuple(params.values()))
        _check_pack(pack, None)
        return pack


MAX_COUNT = 36_600
"""Largest count parameter (days or years): a century of days; dates stay representable."""


def _raw_from_text(kind: str, text: str, name: str) -> object:
    text = text.strip()
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            raise InputError("must be true or false", key=f"--set {name}", value=text)
        return text.lower() == "true"
    if kind == "count":
        if not (text.isascii() and text.isdigit()) or len(text) > 6:
            raise InputError(
                f"must be a whole number up to {MAX_COUNT}", key=f"--set {name}", value=text
            )
        return int(text)
    if kind in ("names", "kinds"):
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def _parameter_value(kind: str, raw: object, file: str | None, key: str) -> ParamValue:
    """Check one parameter value against its kind and convert it."""

    def fail(message: str) -> InputError:
        return InputError(message, file=file, key=key, value=str(raw))

    if kind in ("rate", "share", "amount"):
        value = parse_decimal(raw, file=file, key=key, what=kind if kind != "rate" else "value")
        if value < 0:
            raise fail("must not be negative")
        if kind == "share" and value > 1:
            raise fail("share must be between 0 and 1")
        return value
    if kind == "count":
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_COUNT:
            raise fail(f"must be a whole number of days or years (0 to {MAX_COUNT})")
        return raw
    if kind == "bool":
        if not isinstance(raw, bool):
            raise fail("must be true or false")
        return raw
    if kind in ("names", "kinds"):
        if not isinstance(raw, list) or not all(isinstance(v, str) and v for v in raw):
            raise fail("must be a list of non-empty strings")
        if kind == "kinds" and any(v not in COMPONENT_KINDS for v in raw):
            raise fail(f"kinds must be among {', '.join(COMPONENT_KINDS)}")
        return tuple(raw)
    # capital_item
    if raw not in CAPITAL_ITEMS:
        raise fail(f"must be one of {', '.join(CAPITAL_ITEMS)}")
    return str(raw)


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
        value=_parameter_value(kind, entry.value, file, f"{where}.value"),
        status=entry.status,
        source=entry.source,
        verified_on=entry.verified_on,
        effective_from=entry.effective_from,
    )


def _check_pack(pack: RulePack, file: str | None) -> None:
    """Cross-parameter rules: what each model needs, and ranges that must be ordered."""

    def need(name: str) -> None:
        if pack.get(name) is None:
            raise InputError(
                f"missing: a {pack.model!r} pack needs it", file=file, key=f"parameters.{name}"
            )

    if pack.model == "reserve":
        need("c_cold")
        need("c_hot")
    else:
        need("overheads_share")
        if pack.get("minimum") is None and not any(
            p.name.startswith("minimum.") for p in pack.parameters
        ):
            need("minimum")
    for name in ("volume_years", "incident_years"):
        if _value(pack, name) == 0:
            raise InputError("must be at least 1", file=file, key=f"parameters.{name}", value="0")
    floor, cap = _value(pack, "floor"), _value(pack, "cap")
    if isinstance(floor, Decimal) and isinstance(cap, Decimal) and cap < floor:
        raise InputError("cap is below floor", file=file, key="parameters.cap", value=str(cap))
    low, high = _value(pack, "m_ops_min"), _value(pack, "m_ops_max")
    if isinstance(low, Decimal) and isinstance(high, Decimal) and high < low:
        raise InputError(
            "m_ops_max is below m_ops_min", file=file, key="parameters.m_ops_max", value=str(high)
        )


def _check_citations(pack: RulePack, origin: str) -> None:
    """Every ``[n]`` a parameter's source (or the description) cites is in ``[sources]``."""
    listed = {source.id for source in pack.sources}
    cited = [("description", pack.description)] + [
        (f"parameters.{p.name}.source", p.source) for p in pack.parameters
    ]
    for key, text in cited:
        for match in CITATION_RE.finditer(text):
            if int(match.group(1)) not in listed:
                known = ", ".join(f"[{n}]" for n in sorted(listed)) or "none"
                raise InputError(
                    f"cites source {match.group(0)}, which the pack's [sources] table does "
                    f"not list (listed: {known})",
                    file=origin,
                    key=key,
                    value=match.group(0),
                )


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
    for check in (_check_citations, _check_pack):
        try:
            check(pack, origin)
        except InputError as exc:
            out.append(exc)
    return out


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


def _value(pack: RulePack, name: str) -> ParamValue | None:
    parameter = pack.get(name)
    return None if parameter is None else parameter.value


def _dec(pack: RulePack, name: str) -> Decimal | None:
    value = _value(pack, name)
    return value if isinstance(value, Decimal) else None


def _dec_or(pack: RulePack, name: str, default: Decimal) -> Decimal:
    value = _dec(pack, name)
    return default if value is None else value


def _flag(pack: RulePack, name: str) -> bool:
    return _value(pack, name) is True


def _count(pack: RulePack, name: str) -> int | None:
    value = _value(pack, name)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _names(pack: RulePack, name: str) -> tuple[str, ...] | None:
    value = _value(pack, name)
    return value if isinstance(value, tuple) else None


def _tag(pack: RulePack, name: str) -> str:
    parameter = pack.get(name)
    return name if parameter is None else f"{name}, {parameter.status}"


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class AssetPosition:
    """One asset's customer position, in integer base units."""

    code: str
    owed_units: int
    """Customer liabilities (the liabilities tree total)."""
    held_units: int
    """Customer holdings of the asset in every wallet class."""
    hot_units: int
    """The part of `held_units` outside cold storage (hot and other wallets)."""
    own_buffer_units: int
    """The exchange's own coins of this asset held as the buffer (Japan: 履行保証暗号資産)."""
    decimals: int
    price: Decimal
    """Reporting currency per whole unit."""

    def __post_init__(self) -> None:
        where = f"per_asset[{self.code}]"
        if not isinstance(self.code, str) or not ASSET_CODE_RE.fullmatch(self.code):
            raise InputError("not an asset code", key=where, value=str(self.code))
        if isinstance(self.decimals, bool) or not isinstance(self.decimals, int):
            raise InputError("decimals must be an integer", key=where, value=str(self.decimals))
        if not 0 <= self.decimals <= MAX_DECIMALS:
            raise InputError(
                f"decimals must be 0..{MAX_DECIMALS}", key=where, value=str(self.decimals)
            )
        for name in ("owed_units", "held_units", "hot_units", "own_buffer_units"):
            units = getattr(self, name)
            if isinstance(units, bool) or not isinstance(units, int) or units < 0:
                raise InputError(
                    f"{name} must be a non-negative integer",
                    key=f"{where}.{name}",
                    value=str(units),
                )
        if self.hot_units > self.held_units:
            raise InputError(
                "hot_units exceed held_units", key=f"{where}.hot_units", value=str(self.hot_units)
            )
        if not isinstance(self.price, Decimal) or not self.price.is_finite() or self.price < 0:
            raise InputError(
                "price must be a non-negative Decimal", key=f"{where}.price", value=str(self.price)
            )


@dataclass(frozen=True, slots=True)
class ReserveInputs:
    """Customer holdings the rule pack needs, valued in the reporting currency.

    Built from a snapshot by the reconciliation, or from a statement's ``[holdings]`` by
    `inputs_from_statement` (what-if). Missing wallet classes count zero.
    """

    currency: str
    client_value_by_class: dict[str, Decimal]
    """Value of customer assets per wallet class: cold, hot, other, custodial."""
    own_buffer_value: Decimal = ZERO
    """Value of the exchange's own buffer assets."""
    per_asset: tuple[AssetPosition, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.currency, str) or not CURRENCY_RE.fullmatch(self.currency):
            raise InputError("not a currency code", key="currency", value=str(self.currency))
        values = dict(self.client_value_by_class)
        for name, value in values.items():
            if name not in WALLET_CLASSES:
                raise InputError(
                    f"unknown wallet class (known: {', '.join(WALLET_CLASSES)})",
                    key="client_value_by_class",
                    value=str(name),
                )
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise InputError(
                    "value must be a non-negative Decimal",
                    key=f"client_value_by_class.{name}",
                    value=str(value),
                )
        for name in WALLET_CLASSES:
            values.setdefault(name, ZERO)
        object.__setattr__(self, "client_value_by_class", values)
        buffer = self.own_buffer_value
        if not isinstance(buffer, Decimal) or not buffer.is_finite() or buffer < 0:
            raise InputError(
                "must be a non-negative Decimal", key="own_buffer_value", value=str(buffer)
            )
        codes = [p.code for p in self.per_asset]
        if len(set(codes)) != len(codes):
            raise InputError("duplicate asset in per_asset", key="per_asset", value=",".join(codes))


def inputs_from_statement(statement: ReserveStatement) -> ReserveInputs:
    """The what-if holdings of a statement's ``[holdings]`` section as `ReserveInputs`.

    Parameters
    ----------
    statement:
        A statement read by `verifier.reserve.statement.load_statement`.

    Returns
    -------
    ReserveInputs

    Raises
    ------
    InputError
        When the statement has no ``[holdings]`` section.
    """
    holdings = statement.holdings
    if holdings is None:
        raise InputError(
            "missing: give [holdings] for a what-if evaluation, or evaluate against a snapshot",
            file=statement.path,
            key="holdings",
        )
    return ReserveInputs(
        currency=statement.currency,
        client_value_by_class={
            "cold": holdings.cold,
            "hot": holdings.hot,
            "other": holdings.other,
            "custodial": holdings.custodial,
        },
        own_buffer_value=holdings.own_buffer,
        per_asset=tuple(
            AssetPosition(
                code=a.code,
                owed_units=a.owed_units,
                held_units=a.held_units,
                hot_units=a.hot_units,
                own_buffer_units=a.own_buffer_units,
                decimals=a.decimals,
                price=a.price,
            )
            for a in holdings.assets
        ),
    )


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Gate:
    """One eligibility condition of a reserve component."""

    gate: str
    passed: bool
    reason: str

    def to_json(self) -> dict[str, object]:
        """``{"gate", "passed", "reason"}``."""
        return {"gate": self.gate, "passed": self.passed, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Component:
    """One reserve component (cash, guarantee, insurance policy, capital) and what counts."""

    kind: str
    name: str
    amount: Decimal
    """Face amount in the reporting currency (a policy's limit; zero without an FX rate)."""
    eligible: Decimal
    """What counts before the insurance cap (a policy: scope · (limit − deductible))."""
    gates: tuple[Gate, ...] = ()

    @property
    def failed(self) -> tuple[Gate, ...]:
        """The gates that failed."""
        return tuple(g for g in self.gates if not g.passed)

    def to_json(self) -> dict[str, object]:
        """``{"kind", "name", "amount", "eligible", "gates"}``, amounts as decimal strings."""
        return {
            "kind": self.kind,
            "name": self.name,
            "amount": fmt_decimal(self.amount),
            "eligible": fmt_decimal(self.eligible),
            "gates": [g.to_json() for g in self.gates],
        }


@dataclass(frozen=True, slots=True)
class Check:
    """A pass/fail rule of the pack other than the reserve amount (shares, per-asset)."""

    check: str
    passed: bool
    value: str
    limit: str
    status: Status
    """The status of the parameter the check applies."""
    reason: str

    def to_json(self) -> dict[str, object]:
        """``{"check", "passed", "value", "limit", "status", "reason"}``."""
        return {
            "check": self.check,
            "passed": self.passed,
            "value": self.value,
            "limit": self.limit,
            "status": str(self.status),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class ReserveEvaluation:
    """Required reserve, eligible reserve by component, shortfall or surplus, checks."""

    pack: RulePack
    as_of: date
    currency: str
    required: Decimal
    formula: str
    """The formula with every value filled in."""
    terms: tuple[tuple[str, Decimal], ...]
    components: tuple[Component, ...]
    insurance_cap: Decimal
    """θ·R: the most insurance may contribute."""
    insurance_before_cap: Decimal
    insurance_credit: Decimal
    eligible: Decimal
    shortfall: Decimal
    surplus: Decimal
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def met(self) -> bool:
        """The eligible reserve covers the required reserve."""
        return self.shortfall == 0

    @property
    def checks_passed(self) -> bool:
        """Every check of the pack passed."""
        return all(c.passed for c in self.checks)

    @property
    def ok(self) -> bool:
        """Met and every check passed (exit 0; else exit 1)."""
        return self.met and self.checks_passed

    def to_json(self) -> dict[str, object]:
        """The evaluation document (amounts as decimal strings in the reporting currency)."""
        return {
            "pack": {
                "id": self.pack.id,
                "version": self.pack.version,
                "name": self.pack.name,
                "currency": self.pack.currency,
                "sources": [source.to_json() for source in self.pack.sources],
            },
            "required": {
                "amount": fmt_decimal(self.required),
                "formula": self.formula,
                "terms": {name: fmt_decimal(value) for name, value in self.terms},
            },
            "eligible": {
                "total": fmt_decimal(self.eligible),
                "insurance_cap": fmt_decimal(self.insurance_cap),
                "components": [c.to_json() for c in self.components],
            },
            "currency": self.currency,
            "shortfall": fmt_decimal(self.shortfall),
            "surplus": fmt_decimal(self.surplus),
            "met": self.met,
            "checks": [c.to_json() for c in self.checks],
            "parameters": [
                {
                    "name": p.name,
                    "value": p.value_json(),
                    "status": str(p.status),
                    "source": p.source,
                    "verified_on": p.verified_on.isoformat(),
                }
                for p in self.pack.parameters
            ],
        }


# ----------------------------------------------------------------------------- evaluation


class _Context:
    """One evaluation's inputs, with currency conversion of the pack's fixed amounts."""

    def __init__(
        self, pack: RulePack, statement: ReserveStatement, inputs: ReserveInputs, as_of: date
    ) -> None:
        self.pack, self.statement, self.inputs, self.as_of = pack, statement, inputs, as_of
        self.values = inputs.client_value_by_class

    def pack_amount(self, name: str) -> Decimal | None:
        """A pack amount converted into the reporting currency."""
        value = _dec(self.pack, name)
        if value is None:
            return None
        rate = self.statement.rate(self.pack.currency)
        if rate is None:
            raise InputError(
                f"the pack {self.pack.id} states {name} in {self.pack.currency}: "
                f"give its rate in [fx] ({self.pack.currency} = <{self.statement.currency} "
                "per unit>)",
                file=self.statement.path,
                key="fx",
            )
        return _up(value * rate)


def _money(value: Decimal) -> str:
    return fmt_decimal(value)


# Results of a division (an average, a value-weighted share) or of a product may not
# terminate. Each is rounded once, where it arises, to a fixed quantum and in the
# conservative direction: what is required rounds up, what is eligible rounds down. Every
# amount reported is then a multiple of AMOUNT_QUANTUM, so shortfall = R - eligible is
# exact and anyone can recompute it from the document.


def _up(value: Decimal) -> Decimal:
    return value.quantize(AMOUNT_QUANTUM, rounding=ROUND_CEILING)


def _down(value: Decimal) -> Decimal:
    return value.quantize(AMOUNT_QUANTUM, rounding=ROUND_FLOOR)


def _share_down(value: Decimal) -> Decimal:
    return value.quantize(SHARE_QUANTUM, rounding=ROUND_FLOOR)


def _ratio(value: Decimal) -> str:
    """A share or ratio for display: at most 12 decimals (comparisons use the exact value)."""
    exact = fmt_decimal(value)
    if "." in exact and len(exact.split(".")[1]) > 12:
        return fmt_decimal(value.quantize(Decimal("1e-12")))
    return exact


def _m_ops(ctx: _Context) -> tuple[Decimal, str]:
    pack = ctx.pack
    low = _dec_or(pack, "m_ops_min", ONE)
    high = _dec_or(pack, "m_ops_max", low)
    risk = ctx.statement.entity.operational_risk
    if risk.m_ops is not None:
        value, basis = risk.m_ops, f"assessed {_money(risk.m_ops)}"
    else:
        value, priced = low, []
        for flag in risk.flags:
            step = _dec(pack, f"m_ops_step.{flag}")
            if step is not None:
                value += step
                priced.append(f"{flag} +{_money(step)}")
        basis = f"base {_money(low)}" + "".join(f", {p}" for p in priced)
    clamped = min(high, max(low, value))
    if clamped != value:
        basis += f", clamped to {_money(low)}..{_money(high)}"
    return clamped, basis


def _required_reserve(ctx: _Context) -> tuple[Decimal, str, tuple[tuple[str, Decimal], ...]]:
    """RULES.md formula 3, Japan-style (Hong Kong: the same form with other terms zero)."""
    pack, st, as_of = ctx.pack, ctx.statement, ctx.as_of
    years = _count(pack, "volume_years") or 3
    since = add_years(as_of, -years)
    by_category: dict[str, list[Decimal]] = {}
    for record in st.volume:
        if since < record.end <= as_of:
            by_category.setdefault(record.category, []).append(record.amount)
    volume, volume_parts = ZERO, []
    for category in sorted(by_category):
        amounts = by_category[category]
        average = _up(sum(amounts, ZERO) / len(amounts))
        rate = _dec(pack, f"volume_rate.{category}")
        if rate is None:
            rate = _dec_or(pack, "volume_rate", ZERO)
        volume += rate * average
        volume_parts.append(f"{_money(rate)} × avg{len(amounts)}y {category} {_money(average)}")
    c_cold, c_hot = _dec_or(pack, "c_cold", ZERO), _dec_or(pack, "c_hot", ZERO)
    v_cold, v_hot, v_other = ctx.values["cold"], ctx.values["hot"], ctx.values["other"]
    credit = _flag(pack, "buffer_credit")
    v_buffer = ctx.inputs.own_buffer_value if credit else ZERO
    cold = c_cold * v_cold
    hot = c_hot * max(ZERO, v_hot + v_other - v_buffer)
    incident_years = _count(pack, "incident_years") or 3
    window = add_years(as_of, -incident_years)
    net_losses = sum((i.net_loss for i in st.incidents if window < i.date <= as_of), ZERO)
    k_inc = _dec_or(pack, "k_inc", ZERO)
    incidents = k_inc * net_losses
    m_ops, m_basis = _m_ops(ctx)
    raw = m_ops * (volume + cold + hot + incidents)
    floor = ctx.pack_amount("floor") or ZERO
    cap = ctx.pack_amount("cap")
    required = max(floor, _up(raw))
    if cap is not None:
        required = min(cap, required)
    buffer_text = f" − V_buffer {_money(v_buffer)}" if credit else ""
    formula = (
        f"R = clamp(floor {_money(floor)}, cap {'none' if cap is None else _money(cap)}, "
        f"m_ops {_money(m_ops)} ({m_basis}) × ("
        f"volume {_money(volume)} [{'; '.join(volume_parts) or 'none'}]"
        f" + c_cold {_money(c_cold)} × V_cold {_money(v_cold)}"
        f" + c_hot {_money(c_hot)} × max(0, V_hot {_money(v_hot)} + V_other {_money(v_other)}"
        f"{buffer_text})"
        f" + k_inc {_money(k_inc)} × net incident losses {incident_years}y {_money(net_losses)}"
        f")) = {_money(required)}"
    )
    terms = (("volume", volume), ("cold", cold), ("hot", hot), ("incidents", incidents))
    return required, formula, terms


def _required_capital(ctx: _Context) -> tuple[Decimal, str, tuple[tuple[str, Decimal], ...]]:
    """RULES.md formula 3, capital-style: max(fixed minimum, share · fixed overheads)."""
    pack, st = ctx.pack, ctx.statement
    classes = sorted(
        p.name.removeprefix("minimum.") for p in pack.parameters if p.name.startswith("minimum.")
    )
    if classes:
        licence = st.entity.licence_class
        if licence is None or licence not in classes:
            raise InputError(
                f"the pack {pack.id} needs a licence class among {', '.join(classes)}",
                file=st.path,
                key="entity.licence_class",
                value=licence,
            )
        minimum_name, label = f"minimum.{licence}", f"minimum {licence}"
    else:
        minimum_name, label = "minimum", "minimum"
    minimum = ctx.pack_amount(minimum_name) or ZERO
    overheads = st.entity.overheads
    if overheads is None:
        raise InputError(
            f"missing: the pack {pack.id} needs the previous year's fixed overheads",
            file=st.path,
            key="entity.overheads",
        )
    share = _dec_or(pack, "overheads_share", ZERO)
    fixed = overheads.fixed
    by_overheads = _up(share * fixed)
    required = max(minimum, by_overheads)
    formula = (
        f"R = max({label} {_money(minimum)}, overheads_share {_money(share)} × fixed overheads "
        f"{_money(fixed)}) = {_money(required)}"
    )
    return required, formula, (("minimum", minimum), ("overheads", by_overheads))


def _kinds(pack: RulePack) -> tuple[str, ...]:
    kinds = _names(pack, "eligible_kinds")
    if kinds is not None:
        return kinds
    return (
        ("capital", "insurance") if pack.model == "capital" else ("cash", "guarantee", "insurance")
    )


def _kind_gate(ctx: _Context, kind: str) -> Gate | None:
    kinds = _kinds(ctx.pack)
    if kind in kinds:
        return None
    return Gate(
        "kind",
        False,
        f"{kind} does not count under {ctx.pack.id} (eligible: {', '.join(kinds) or 'none'})",
    )


def _convert(ctx: _Context, amount: Decimal, currency: str) -> tuple[Decimal, Gate]:
    rate = ctx.statement.rate(currency)
    if rate is None:
        return ZERO, Gate(
            "currency",
            False,
            f"{currency} {_money(amount)} has no [fx] rate into {ctx.statement.currency}",
        )
    if currency == ctx.statement.currency:
        return amount, Gate("currency", True, currency)
    return _down(amount * rate), Gate(
        "currency", True, f"{currency} {_money(amount)} at {_money(rate)} {ctx.statement.currency}"
    )


def _component(
    kind: str, name: str, amount: Decimal, value: Decimal, gates: list[Gate]
) -> Component:
    eligible = _down(value) if all(g.passed for g in gates) else ZERO
    return Component(kind, name, _down(amount), eligible, tuple(gates))


def _capital_component(ctx: _Context) -> Component | None:
    pack, entity = ctx.pack, ctx.statement.entity
    if pack.model != "capital" and "capital" not in _kinds(pack):
        return None
    item = _value(pack, "capital_item")
    item = item if isinstance(item, str) else "cet1"
    amount = entity.cet1 if item == "cet1" else entity.paid_up_capital
    gates: list[Gate] = []
    kind_gate = _kind_gate(ctx, "capital")
    if kind_gate is not None:
        gates.append(kind_gate)
    if amount is None:
        gates.append(Gate("present", False, f"entity.{item} is not given"))
        amount = ZERO
    else:
        gates.append(Gate("present", True, f"entity.{item}"))
    return _component("capital", item, amount, amount, gates)


def _cash_components(ctx: _Context) -> list[Component]:
    pack, as_of = ctx.pack, ctx.as_of
    components = []
    for cash in ctx.statement.cash:
        gates = [g for g in (_kind_gate(ctx, "cash"),) if g is not None]
        amount, currency_gate = _convert(ctx, cash.amount, cash.currency)
        gates.append(currency_gate)
        if _flag(pack, "cash_require_trust"):
            gates.append(
                Gate(
                    "trust",
                    cash.on_trust,
                    f"held on trust at {cash.holder}"
                    if cash.on_trust
                    else f"not held on trust ({_tag(pack, 'cash_require_trust')})",
                )
            )
        longest = _count(pack, "cash_max_maturity_days")
        if longest is not None:
            if cash.maturity is None or cash.maturity <= as_of:
                gates.append(Gate("maturity", True, "available on demand"))
            else:
                days = (cash.maturity - as_of).days
                gates.append(
                    Gate(
                        "maturity",
                        days <= longest,
                        f"matures {cash.maturity} ({days} days)"
                        + (
                            ""
                            if days <= longest
                            else f", beyond {longest} days ({_tag(pack, 'cash_max_maturity_days')})"
                        ),
                    )
                )
        components.append(_component("cash", cash.name, amount, amount, gates))
    return components


def _guarantee_components(ctx: _Context) -> list[Component]:
    pack, as_of = ctx.pack, ctx.as_of
    horizon = _count(pack, "horizon_days")
    components = []
    for guarantee in ctx.statement.guarantees:
        gates = [g for g in (_kind_gate(ctx, "guarantee"),) if g is not None]
        amount, currency_gate = _convert(ctx, guarantee.amount, guarantee.currency)
        gates.append(currency_gate)
        if _flag(pack, "guarantee_require_on_demand"):
            gates.append(
                Gate(
                    "on demand",
                    guarantee.on_demand,
                    "payable on first demand"
                    if guarantee.on_demand
                    else f"not payable on demand ({_tag(pack, 'guarantee_require_on_demand')})",
                )
            )
        if guarantee.maturity is not None:
            if guarantee.maturity <= as_of:
                gates.append(Gate("maturity", False, f"expired on {guarantee.maturity}"))
            elif horizon is not None and (guarantee.maturity - as_of).days <= horizon:
                gates.append(
                    Gate(
                        "maturity",
                        False,
                        f"expires {guarantee.maturity}, inside the {horizon}-day horizon "
                        f"({_tag(pack, 'horizon_days')})",
                    )
                )
            else:
                gates.append(Gate("maturity", True, f"expires {guarantee.maturity}"))
        components.append(_component("guarantee", guarantee.name, amount, amount, gates))
    return components


def _peril_scope(
    ctx: _Context, policy_scope: Decimal, perils: Mapping[str, Any], exclusions: tuple[str, ...]
) -> tuple[Decimal, Gate]:
    """A policy's effective scope: declared scope × the value-weighted share of the wallet
    classes whose perils it covers; and the "perils" gate (fails when the scope is zero)."""
    required = _names(ctx.pack, "insurance_required_perils") or ()
    excluded = [p for p in required if p in exclusions]
    if excluded:
        return ZERO, Gate(
            "perils",
            False,
            f"excludes the required peril {', '.join(excluded)} "
            f"({_tag(ctx.pack, 'insurance_required_perils')})",
        )
    if not perils:
        scope = policy_scope
        reason = f"declared scope {_money(policy_scope)} (no per-wallet-class schedule)"
        return scope, Gate("perils", scope > 0, reason)
    shares: dict[str, Decimal] = {}
    notes = []
    for wallet_class in PERIL_CLASSES:
        entry = perils.get(wallet_class)
        if entry is None:
            shares[wallet_class] = ZERO
            notes.append(f"{wallet_class} not covered")
        elif isinstance(entry, Decimal):
            shares[wallet_class] = entry
            notes.append(f"{wallet_class} {_money(entry)}")
        else:
            covered = set(entry) - set(exclusions)
            missing = [p for p in required if p not in covered]
            if missing or not covered:
                shares[wallet_class] = ZERO
                lacks = ", ".join(missing) if missing else "every listed peril is excluded"
                notes.append(f"{wallet_class} not covered (lacks {lacks})")
            else:
                shares[wallet_class] = ONE
                notes.append(f"{wallet_class} covered ({', '.join(sorted(covered))})")
    total = sum((ctx.values[c] for c in PERIL_CLASSES), ZERO)
    if total > 0:
        weighted = sum((shares[c] * ctx.values[c] for c in PERIL_CLASSES), ZERO)
        covered_share = _share_down(weighted / total)
    else:
        covered_share = _share_down(sum(shares.values(), ZERO) / len(PERIL_CLASSES))
    scope = policy_scope * covered_share
    reason = (
        f"scope {_ratio(scope)} = declared {_money(policy_scope)} × share of customer value "
        f"covered {_ratio(covered_share)} ({'; '.join(notes)})"
    )
    if scope == 0:
        reason = "covers none of the wallet classes holding customer assets: " + reason
    return scope, Gate("perils", scope > 0, reason)


def _insurance_components(ctx: _Context) -> list[Component]:
    pack, as_of = ctx.pack, ctx.as_of
    horizon = _count(pack, "horizon_days")
    min_term = _count(pack, "insurance_min_term_days")
    min_notice = _count(pack, "insurance_min_notice_days")
    components = []
    for policy in ctx.statement.insurance:
        gates = [g for g in (_kind_gate(ctx, "insurance"),) if g is not None]
        limit, currency_gate = _convert(ctx, policy.limit, policy.currency)
        rate = ctx.statement.rate(policy.currency) or ZERO
        gates.append(currency_gate)
        if _flag(pack, "insurance_require_authorised"):
            gates.append(
                Gate(
                    "insurer",
                    policy.authorised,
                    f"{policy.insurer} is authorised"
                    if policy.authorised
                    else f"{policy.insurer} is not an authorised insurer "
                    f"({_tag(pack, 'insurance_require_authorised')})",
                )
            )
        if as_of < policy.start:
            gates.append(Gate("in force", False, f"cover starts {policy.start}, after {as_of}"))
        elif as_of >= policy.end:
            gates.append(Gate("in force", False, f"expired on {policy.end}"))
        else:
            gates.append(Gate("in force", True, f"{policy.start} to {policy.end}"))
        if min_term is not None:
            term = (policy.end - policy.start).days
            gates.append(
                Gate(
                    "term",
                    term >= min_term,
                    f"term {term} days"
                    + (
                        ""
                        if term >= min_term
                        else f" < {min_term} ({_tag(pack, 'insurance_min_term_days')})"
                    ),
                )
            )
        if min_notice is not None:
            ok = policy.notice_days >= min_notice
            gates.append(
                Gate(
                    "notice",
                    ok,
                    f"{policy.notice_days} days' notice of cancellation"
                    + (
                        "" if ok else f" < {min_notice} ({_tag(pack, 'insurance_min_notice_days')})"
                    ),
                )
            )
        if horizon is not None and policy.start <= as_of < policy.end:
            left = (policy.end - as_of).days
            ok = left > horizon
            gates.append(
                Gate(
                    "horizon",
                    ok,
                    f"expires {policy.end} ({left} days)"
                    + (
                        ""
                        if ok
                        else f", inside the {horizon}-day horizon ({_tag(pack, 'horizon_days')})"
                    ),
                )
            )
        if policy.deductible >= policy.limit:
            gates.append(
                Gate(
                    "deductible",
                    False,
                    f"deductible {_money(policy.deductible)} is not below the limit "
                    f"{_money(policy.limit)}: nothing is payable",
                )
            )
        else:
            gates.append(
                Gate(
                    "deductible",
                    True,
                    f"deductible {_money(policy.deductible)}, {policy.limit_type} limit",
                )
            )
        scope, perils_gate = _peril_scope(ctx, policy.scope, policy.perils, policy.exclusions)
        gates.append(perils_gate)
        value = _down(scope * max(ZERO, policy.limit - policy.deductible) * rate)
        components.append(_component("insurance", policy.name, limit, value, gates))
    return components


def _checks(ctx: _Context) -> list[Check]:
    pack, values, positions = ctx.pack, ctx.values, ctx.inputs.per_asset
    checks: list[Check] = []

    def status(name: str) -> Status:
        parameter = pack.get(name)
        return Status.PH if parameter is None else parameter.status

    limit = _dec(pack, "non_cold_limit")
    if limit is not None:
        non_cold = values["hot"] + values["other"]
        total = values["cold"] + non_cold
        share = non_cold / total if total > 0 else ZERO
        passed = share <= limit
        checks.append(
            Check(
                "non_cold_share",
                passed,
                _ratio(share),
                _money(limit),
                status("non_cold_limit"),
                f"hot + other {_money(non_cold)} of {_money(total)} customer value "
                f"(custodial {_money(values['custodial'])} reported, not counted)"
                + ("" if passed else f": above the {_money(limit)} limit"),
            )
        )
    per_asset_limit = _dec(pack, "non_cold_limit_per_asset")
    if per_asset_limit is not None:
        for p in positions:
            if p.held_units == 0:
                continue
            share = Decimal(p.hot_units) / Decimal(p.held_units)
            passed = share <= per_asset_limit
            checks.append(
                Check(
                    f"non_cold_share:{p.code}",
                    passed,
                    _ratio(share),
                    _money(per_asset_limit),
                    status("non_cold_limit_per_asset"),
                    f"{format_units(p.hot_units, p.decimals)} of "
                    f"{format_units(p.held_units, p.decimals)} {p.code} outside cold storage",
                )
            )
    if _flag(pack, "own_buffer_same_type"):
        hot_assets = [p for p in positions if p.hot_units > 0]
        if not positions:
            checks.append(
                Check(
                    "own_buffer",
                    False,
                    "-",
                    "-",
                    status("own_buffer_same_type"),
                    "no per-asset positions given: the same-type buffer cannot be checked",
                )
            )
        elif not hot_assets:
            checks.append(
                Check(
                    "own_buffer",
                    True,
                    "0",
                    "0",
                    status("own_buffer_same_type"),
                    "no customer crypto outside cold storage",
                )
            )
        for p in hot_assets:
            passed = p.own_buffer_units >= p.hot_units
            own = format_units(p.own_buffer_units, p.decimals)
            short = format_units(max(0, p.hot_units - p.own_buffer_units), p.decimals)
            hot = format_units(p.hot_units, p.decimals)
            checks.append(
                Check(
                    f"own_buffer:{p.code}",
                    passed,
                    own,
                    hot,
                    status("own_buffer_same_type"),
                    f"own {p.code} {own} against {hot} {p.code} of customer crypto "
                    "outside cold storage"
                    + (
                        ""
                        if passed
                        else f": short {short} {p.code}; other assets' buffers do not count"
                    ),
                )
            )
    minimum = _dec(pack, "per_asset_coverage_min")
    if minimum is not None:
        if not positions:
            checks.append(
                Check(
                    "coverage",
                    False,
                    "-",
                    _money(minimum),
                    status("per_asset_coverage_min"),
                    "no per-asset positions given: per-asset coverage cannot be checked",
                )
            )
        for p in positions:
            if p.owed_units == 0:
                continue
            ratio = Decimal(p.held_units) / Decimal(p.owed_units)
            needed = Decimal(p.owed_units) * minimum
            passed = Decimal(p.held_units) >= needed
            held = format_units(p.held_units, p.decimals)
            owed = format_units(p.owed_units, p.decimals)
            reason = f"held {held} of {owed} {p.code} owed"
            if not passed:
                missing = (needed - Decimal(p.held_units)).scaleb(-p.decimals)
                reason += f": short {_money(missing)} {p.code}, not offset by other assets"
            checks.append(
                Check(
                    f"coverage:{p.code}",
                    passed,
                    _ratio(ratio),
                    _money(minimum),
                    status("per_asset_coverage_min"),
                    reason,
                )
            )
    return checks


def evaluate(
    pack: RulePack, statement: ReserveStatement, inputs: ReserveInputs, *, as_of: date
) -> ReserveEvaluation:
    """Evaluate a reserve statement and customer holdings against a rule pack.

    Parameters
    ----------
    pack:
        From `load_pack` (possibly with overrides).
    statement:
        The reserve statement (cash, insurance, guarantees, volume, incidents, entity).
    inputs:
        Customer holdings by wallet class and per asset, in the statement's currency.
    as_of:
        The day the reserve is evaluated at: it fixes the policy gates and the 3-year
        windows of volume and incidents.

    Returns
    -------
    ReserveEvaluation
        Required reserve with its terms and formula, eligible reserve by component with
        every gate, shortfall or surplus, and the pack's checks.

    Raises
    ------
    InputError
        When the holdings' currency is not the statement's, or the pack needs an input the
        statement lacks (overheads, licence class, an FX rate for the pack's amounts).
    """
    if inputs.currency != statement.currency:
        raise InputError(
            f"the holdings are valued in {inputs.currency}, the statement reports in "
            f"{statement.currency}",
            file=statement.path,
            key="currency",
            value=statement.currency,
        )
    ctx = _Context(pack, statement, inputs, as_of)
    try:
        with money_context():
            if pack.model == "capital":
                required, formula, terms = _required_capital(ctx)
            else:
                required, formula, terms = _required_reserve(ctx)
            components: list[Component] = []
            capital = _capital_component(ctx)
            if capital is not None:
                components.append(capital)
            components += _cash_components(ctx)
            components += _guarantee_components(ctx)
            components += _insurance_components(ctx)
            theta = _dec_or(pack, "theta", ONE)
            insurance_cap = _down(theta * required)
            before_cap = sum((c.eligible for c in components if c.kind == "insurance"), ZERO)
            credit = min(insurance_cap, before_cap)
            others = sum((c.eligible for c in components if c.kind != "insurance"), ZERO)
            eligible = others + credit
            shortfall = max(ZERO, required - eligible)
            surplus = max(ZERO, eligible - required)
            checks = _checks(ctx)
    except InvalidOperation as exc:
        # a quantize beyond PRECISION digits: only absurdly large amounts get here
        raise InputError(
            "amounts too large to evaluate exactly",
            file=statement.path,
            key="amounts",
        ) from exc
    return ReserveEvaluation(
        pack=pack,
        as_of=as_of,
        currency=statement.currency,
        required=required,
        formula=formula,
        terms=terms,
        components=tuple(components),
        insurance_cap=insurance_cap,
        insurance_before_cap=before_cap,
        insurance_credit=credit,
        eligible=eligible,
        shortfall=shortfall,
        surplus=surplus,
        checks=tuple(checks),
    )


def inputs_from_mapping(doc: Mapping[str, Any]) -> ReserveInputs:
    """`ReserveInputs` from the plain dict `verifier.reconcile.coverage.reserve_inputs` returns.

    Parameters
    ----------
    doc:
        {"currency", "client_value_by_class", "own_buffer_value", "per_asset": [...]} with
        decimal strings for values and integers (or integer strings) for units.

    Returns
    -------
    ReserveInputs
    """
    with money_context():
        return ReserveInputs(
            currency=str(doc["currency"]),
            client_value_by_class={
                str(k): Decimal(str(v)) for k, v in doc["client_value_by_class"].items()
            },
            own_buffer_value=Decimal(str(doc["own_buffer_value"])),
            per_asset=tuple(
                AssetPosition(
                    code=str(p["code"]),
                    owed_units=int(p["owed_units"]),
                    held_units=int(p["held_units"]),
                    hot_units=int(p["hot_units"]),
                    own_buffer_units=int(p["own_buffer_units"]),
                    decimals=int(p["decimals"]),
                    price=Decimal(str(p["price"])),
                )
                for p in doc["per_asset"]
            ),
        )
