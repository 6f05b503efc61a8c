"""The scenario file: one pydantic schema, read into frozen `Scenario` values.

Where it sits: the input edge of verifier/stress/. `load_scenarios` reads a TOML file with
verifier/base/safetoml, checks it against `ScenarioFileModel` (unknown keys refused, never a
float, every error naming the file and the key, exit 3) and the checks between fields
(`file_problems`: which keys each shock kind takes, unique ids); the engine
(verifier/stress/engine.py) reads nothing else. The schema is published as
docs/spec/schemas/por-scenarios.schema.json (verifier.inputs.file_schemas KINDS).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError

from attestations.encoding import ASSET_CODE_RE
from chains.challenge import line_problem
from verifier.base import safetoml
from verifier.base.errors import InputError
from verifier.inputs.config_schema import _LINE_REFUSED as LINE_REFUSED
from verifier.inputs.file_schemas import (
    Amount,
    Check,
    FileModel,
    Flag,
    Share,
    Text,
    fault,
    input_errors,
    integer,
    pattern,
)
from verifier.reserve.money import fmt_decimal

SHOCK_KINDS = ("loss", "price", "depeg", "insurer_default", "cash_frozen", "guarantee_default")
LOSS_SELECTORS = ("label", "wallet", "address", "chain", "vendor", "custodian", "class")
SCENARIO_CLASSES = ("hot", "cold", "other", "custodial")
DEFAULT_PERIL = "hack"
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PERIL_RE = re.compile(r"[a-z][a-z0-9_-]{0,39}")

ALLOWED: Mapping[str, frozenset[str]] = {
    "loss": frozenset((*LOSS_SELECTORS, "asset", "largest", "share", "peril", "event")),
    "price": frozenset(("asset", "change", "price")),
    "depeg": frozenset(("asset", "change", "price")),
    "insurer_default": frozenset(("policy", "insurer", "pays", "delay_days")),
    "cash_frozen": frozenset(("cash", "holder", "share")),
    "guarantee_default": frozenset(("guarantee", "issuer")),
}
"""The keys each shock kind takes besides ``kind`` (any other is refused, naming it)."""


def _kind(value: object) -> str:
    if value not in SHOCK_KINDS:
        raise fault(f"must be one of {', '.join(SHOCK_KINDS)}", value)
    return str(value)


def _wallet_class(value: object) -> str:
    if value not in SCENARIO_CLASSES:
        raise fault(f"must be one of {', '.join(SCENARIO_CLASSES)}", value)
    return str(value)


NOT_WORTHLESS = (
    "{what}: a price of zero (or less) is refused — a coin worth nothing cannot be bought "
    "back and its loss would value at 0, so the scenario would read as covered; model a "
    'collapse as a change just above -1 (e.g. "-0.99")'
)


def _change(value: object) -> Decimal:
    from verifier.inputs.file_schemas import decimal_value

    change = decimal_value(value, "change")
    if change <= -1:
        raise fault(NOT_WORTHLESS.format(what="change must be above -1"), change)
    return change


def _pays(value: object) -> str:
    if value != "none":
        raise fault('must be "none" (or give delay_days for an insurer that pays late)', value)
    return "none"


Kind = Annotated[str, Check(_kind, {"type": "string", "enum": list(SHOCK_KINDS)})]
WalletClass = Annotated[
    str, Check(_wallet_class, {"type": "string", "enum": list(SCENARIO_CLASSES)})
]
Change = Annotated[
    Decimal,
    Check(
        _change,
        {
            "description": 'A relative price move, above -1 ("-0.30": 30% down); a price '
            "of zero or less is refused",
            "anyOf": [
                {"type": "string", "pattern": r"^\s*[+-]?[0-9](_?[0-9])*(\.[0-9](_?[0-9])*)?\s*$"},
                {"type": "integer", "minimum": 0},
            ],
        },
    ),
]
Pays = Annotated[str, Check(_pays, {"type": "string", "enum": ["none"]})]
Peril = Annotated[str, pattern(PERIL_RE, "not a peril name (lower case, e.g. hack, insider)")]
AssetCode = Annotated[str, pattern(ASSET_CODE_RE, "not an asset code ([A-Z0-9._-]{1,16})")]
ScenarioId = Annotated[
    str, pattern(ID_RE, "not a scenario id (letters, digits, . _ -; at most 64)")
]


class ShockRow(FileModel):
    """``[[scenarios.shocks]]``: one shock; `kind` says which keys it takes."""

    kind: Kind = Field(
        description="loss, price, depeg, insurer_default, cash_frozen or guarantee_default"
    )
    label: Text | None = Field(None, description="loss: the wallet's label in por.toml")
    wallet: Text | None = Field(None, description="loss: the wallet's key, e.g. bitcoin.wallets[1]")
    address: Text | None = Field(None, description="loss: one address")
    chain: Text | None = Field(None, description="loss: bitcoin, ethereum")
    vendor: Text | None = Field(None, description="loss: the wallet vendor's id ([vendors.X])")
    custodian: Text | None = Field(None, description="loss: the custodian's name")
    wallet_class: WalletClass | None = Field(
        None, alias="class", description="loss: hot, cold, other or custodial"
    )
    asset: AssetCode | None = Field(
        None, description="loss: only this asset; price, depeg: the asset (or [fx] currency)"
    )
    largest: Flag | None = Field(
        None, description="loss: only the single largest matching wallet by value"
    )
    share: Share | None = Field(
        None, description="loss: share of each balance lost; cash_frozen: share frozen; default 1"
    )
    peril: Peril | None = Field(None, description='loss: the peril, for insurance; default "hack"')
    event: Text | None = Field(
        None, description="loss: the occurrence it belongs to; default: one event per scenario"
    )
    change: Change | None = Field(None, description='price: relative move, e.g. "-0.30"')
    price: Amount | None = Field(
        None, description="price, depeg: the new price per whole unit, reporting currency (above 0)"
    )
    policy: Text | None = Field(None, description="insurer_default: the policy's name")
    insurer: Text | None = Field(None, description="insurer_default: every policy of this insurer")
    pays: Pays | None = Field(None, description='insurer_default: "none" (pays nothing)')
    delay_days: Annotated[int, integer(0, 36_500)] | None = Field(
        None, description="insurer_default: pays, this many days late"
    )
    cash: Text | None = Field(None, description="cash_frozen: the cash deposit's name")
    holder: Text | None = Field(None, description="cash_frozen: every deposit at this holder")
    guarantee: Text | None = Field(None, description="guarantee_default: the guarantee's name")
    issuer: Text | None = Field(
        None, description="guarantee_default: every guarantee of this issuer"
    )


MAX_TITLE = 200
MAX_DESCRIPTION = 4000
"""Characters: a title is one line of a table, a description a paragraph (a megabyte of
text would bury every page that shows it)."""


def _bounded(limit: int, *, one_line: bool) -> Any:
    """Text of 1 to `limit` characters, with no control, invisible or bidirectional
    character — the rule of ``exchange.name`` (chains.challenge.line_problem): a title
    is printed in terminals, where an ESC would recolour or rewrite the screen, and in
    tables, where a line break forges a row. `one_line` False (a description): line
    breaks (``\n``; a CRLF file's ``\r\n`` is read as one) are allowed, nothing else."""

    def check(value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            raise fault("must be a non-empty string", value)
        text = value.strip() if one_line else value.replace("\r\n", "\n").strip()
        if len(text) > limit:
            raise fault(f"at most {limit} characters (this one has {len(text)})", text[:40])
        lines = [text] if one_line else text.split("\n")
        for number, line in enumerate(lines, 1):
            problem = line_problem(line) if line else None
            if problem is not None:
                where = "" if one_line else f"line {number}: "
                kind = "one line" if one_line else "lines of text"
                raise fault(f"must be {kind}: {where}{problem.split(':')[0]}", text[:40])
        return text

    line_chars = rf"[^{LINE_REFUSED}]"
    shape = rf"^{line_chars}+$" if one_line else rf"^(?:{line_chars}|\n)+$"
    return Check(check, {"type": "string", "minLength": 1, "maxLength": limit, "pattern": shape})


Title = Annotated[str, _bounded(MAX_TITLE, one_line=True)]
Description = Annotated[str, _bounded(MAX_DESCRIPTION, one_line=False)]


class ScenarioRow(FileModel):
    """``[[scenarios]]``: one scenario, a model of one event."""

    id: ScenarioId = Field(description="Unique id, e.g. dmm-2024 (at most 64 characters)")
    title: Title = Field(description=f"A short title (at most {MAX_TITLE} characters)")
    description: Description = Field(
        description=f"What the scenario models, in words (at most {MAX_DESCRIPTION} characters)"
    )
    shocks: Annotated[tuple[ShockRow, ...], Field(min_length=1)] = Field(
        description="The shocks, applied together"
    )


class ScenarioFileModel(FileModel):
    """A scenario file (`por stress --scenario`): incident scenarios against a report."""

    scenarios: Annotated[tuple[ScenarioRow, ...], Field(min_length=1)] = Field(
        description="The scenarios, evaluated one by one"
    )


# ----------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Shock:
    """One shock as read: its kind and the keys given (others None)."""

    key: str
    """Where it is in the file, e.g. ``scenarios[0].shocks[1]`` (for messages)."""
    kind: str
    fields: Mapping[str, Any]
    """The keys given besides ``kind``, TOML names (``class``), values typed."""
    file: str = "<scenarios>"
    """The scenario file (for messages)."""

    def get(self, name: str, default: Any = None) -> Any:
        """The value of key `name`, or `default` when the shock does not give it."""
        return self.fields.get(name, default)

    def as_json(self) -> dict[str, Any]:
        """The shock as read, normalised: decimals as strings, defaults filled in."""
        out: dict[str, Any] = {"kind": self.kind}
        for name, value in sorted(self.fields.items()):
            out[name] = fmt_decimal(value) if isinstance(value, Decimal) else value
        if self.kind == "loss":
            out.setdefault("share", "1")
            out.setdefault("peril", DEFAULT_PERIL)
            out.setdefault("largest", False)
        if self.kind == "cash_frozen":
            out.setdefault("share", "1")
        return out


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scenario: an id, a title, a description and its shocks."""

    id: str
    title: str
    description: str
    shocks: tuple[Shock, ...]


@dataclass(frozen=True, slots=True)
class ScenarioFile:
    """A whole scenario file."""

    path: str
    scenarios: tuple[Scenario, ...]


# ----------------------------------------------------------------------------- checks


def _shock_problems(file: str, key: str, row: ShockRow) -> list[InputError]:
    given = {
        ("class" if name == "wallet_class" else name)
        for name in row.model_fields_set
        if name != "kind" and getattr(row, name) is not None
    }
    out = [
        InputError(f"a {row.kind} shock does not take {name!r}", file=file, key=f"{key}.{name}")
        for name in sorted(given - ALLOWED[row.kind])
    ]
    need: dict[str, tuple[str, ...]] = {
        "loss": (*LOSS_SELECTORS, "asset"),
        "cash_frozen": ("cash", "holder"),
        "guarantee_default": ("guarantee", "issuer"),
    }
    if row.kind in need and not given & set(need[row.kind]):
        out.append(
            InputError(
                f"a {row.kind} shock needs one of {', '.join(need[row.kind])}", file=file, key=key
            )
        )
    if row.kind in ("price", "depeg") and row.asset is None:
        out.append(InputError(f"a {row.kind} shock needs asset", file=file, key=f"{key}.asset"))
    if row.kind in ("price", "depeg") and row.price is not None and row.price <= 0:
        out.append(
            InputError(
                NOT_WORTHLESS.format(what="price must be above 0"),
                file=file,
                key=f"{key}.price",
                value=fmt_decimal(row.price),
            )
        )
    if row.kind in ("price", "depeg") and (row.change is None) == (row.price is None):
        out.append(InputError("give change or price (one of them)", file=file, key=f"{key}.price"))
    if row.kind == "insurer_default" and (row.pays is None) == (row.delay_days is None):
        out.append(InputError('give pays = "none" or delay_days (one of them)', file=file, key=key))
    return out


def file_problems(doc: ScenarioFileModel, file: str) -> list[InputError]:
    """Every problem between fields: keys a shock kind does not take, ids given twice."""
    out: list[InputError] = []
    seen: set[str] = set()
    for i, scenario in enumerate(doc.scenarios):
        if scenario.id in seen:
            out.append(
                InputError(
                    "scenario id given twice",
                    file=file,
                    key=f"scenarios[{i}].id",
                    value=scenario.id,
                )
            )
        seen.add(scenario.id)
        for j, row in enumerate(scenario.shocks):
            out += _shock_problems(file, f"scenarios[{i}].shocks[{j}]", row)
    return out


def _shock(row: ShockRow, key: str, file: str) -> Shock:
    fields: dict[str, Any] = {}
    for name in sorted(row.model_fields_set):
        value = getattr(row, name)
        if name != "kind" and value is not None:
            fields["class" if name == "wallet_class" else name] = value
    return Shock(key=key, kind=row.kind, fields=fields, file=file)


def _first_of(problems: list[InputError]) -> InputError:
    """The first problem, saying how many more there are (a scheduled run stores one line:
    "… (and 3 more problems in this file)"; `por config check` lists every one)."""
    first = problems[0]
    if len(problems) > 1:
        more = len(problems) - 1
        first.message += f" (and {more} more problem{'' if more == 1 else 's'} in this file)"
        first.args = (first.message,)
    return first


def parse_scenarios(raw: Mapping[str, Any], path: str = "<scenarios>") -> ScenarioFile:
    """A decoded scenario file as values; the first problem raised (exit 3), with the
    number of the others."""
    try:
        doc = ScenarioFileModel.model_validate(raw)
    except ValidationError as exc:
        raise _first_of(input_errors(ScenarioFileModel, exc, path)) from None
    problems = file_problems(doc, path)
    if problems:
        raise _first_of(problems)
    return ScenarioFile(
        path=path,
        scenarios=tuple(
            Scenario(
                id=s.id,
                title=s.title,
                description=s.description,
                shocks=tuple(
                    _shock(row, f"scenarios[{i}].shocks[{j}]", path)
                    for j, row in enumerate(s.shocks)
                ),
            )
            for i, s in enumerate(doc.scenarios)
        ),
    )


def load_scenarios(path: Path) -> ScenarioFile:
    """The scenario file at `path`.

    Raises
    ------
    InputError
        The file cannot be read, is not TOML, or breaks the schema: naming the file, the key
        (``scenarios[0].shocks[1].share``) and the value (exit 3).
    """
    raw = safetoml.load_path(path, what="scenario file")
    return parse_scenarios(raw, str(path))


def example_path(name: str) -> Path:
    """A shipped example scenario file (``dmm-2024.toml``) in verifier/stress/examples/."""
    return Path(__file__).resolve().parent / "examples" / name
