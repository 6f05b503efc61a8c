"""The rule-pack model: parameters with their provenance, and what each may hold.

Where it sits: the data half of the reserve rules. A rule pack (verifier/reserve/packs/*.toml,
or a user's own file, read by verifier/reserve/pack_file.py) is data: each parameter carries
its value and a status tag (LAW, GUIDE, PROP, PH) with source, ``verified_on`` and
``effective_from``, so a placeholder pack can be replaced when the final text is published.
A parameter's name fixes its kind (`PARAMETER_KINDS`); `RulePack` answers the evaluation's
questions (a rate, a flag, a count) and checks the rules between parameters (what a model
needs, ranges that must be ordered, citations that must be listed).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from verifier.base.errors import InputError
from verifier.reserve.money import fmt_decimal, parse_decimal

COMPONENT_KINDS = ("cash", "guarantee", "insurance", "capital")
CAPITAL_ITEMS = ("cet1", "paid_up_capital")
MODELS = ("reserve", "capital")


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
    # concentration limits, applied by reconciliation (verifier/reconcile/concentration.py):
    # the largest share of customer holdings' value one vendor's wallets may hold, every
    # vendor a wallet names notified to the regulator, no wallet mixing own and customer coins
    "max_vendor_share": "share",
    "vendors_must_be_notified": "bool",
    "mixed_wallets_forbidden": "bool",
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


# ----------------------------------------------------------------------------- the pack


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

    # Typed reads for the evaluation: a parameter of another kind reads as absent, which
    # cannot happen for a checked pack (a name fixes its kind) but keeps the types honest.

    def value(self, name: str) -> ParamValue | None:
        """The value of the parameter called `name`, or None."""
        parameter = self.get(name)
        return None if parameter is None else parameter.value

    def decimal(self, name: str) -> Decimal | None:
        """A rate, share or amount parameter, or None."""
        value = self.value(name)
        return value if isinstance(value, Decimal) else None

    def decimal_or(self, name: str, default: Decimal) -> Decimal:
        """A rate, share or amount parameter, or `default` when the pack has none."""
        value = self.decimal(name)
        return default if value is None else value

    def flag(self, name: str) -> bool:
        """A flag parameter: true only when the pack sets it true."""
        return self.value(name) is True

    def count(self, name: str) -> int | None:
        """A count parameter (days or years), or None."""
        value = self.value(name)
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        return value

    def names(self, name: str) -> tuple[str, ...] | None:
        """A list parameter (names or kinds), or None."""
        value = self.value(name)
        return value if isinstance(value, tuple) else None

    def tag(self, name: str) -> str:
        """``name, STATUS`` for a reason citing the parameter it applies."""
        parameter = self.get(name)
        return name if parameter is None else f"{name}, {parameter.status}"

    def status_of(self, name: str) -> Status:
        """The status of a parameter; PH (a placeholder) when the pack lacks it."""
        parameter = self.get(name)
        return Status.PH if parameter is None else parameter.status

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
            value = parameter_value(kind, raw, None, f"--set {name}")
            params[name] = Parameter(
                name=name,
                value=value,
                status=Status.PH,
                source=f"override ({name}={text})",
                verified_on=on,
            )
        pack = replace(self, parameters=tuple(params.values()))
        check_pack(pack, None)
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


def parameter_value(kind: str, raw: object, file: str | None, key: str) -> ParamValue:
    """Check one parameter value against its kind and convert it.

    Raises
    ------
    InputError
        Naming `file`, `key` and the value, for a value its kind does not allow.
    """

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


def check_pack(pack: RulePack, file: str | None) -> None:
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
        if pack.value(name) == 0:
            raise InputError("must be at least 1", file=file, key=f"parameters.{name}", value="0")
    floor, cap = pack.value("floor"), pack.value("cap")
    if isinstance(floor, Decimal) and isinstance(cap, Decimal) and cap < floor:
        raise InputError("cap is below floor", file=file, key="parameters.cap", value=str(cap))
    low, high = pack.value("m_ops_min"), pack.value("m_ops_max")
    if isinstance(low, Decimal) and isinstance(high, Decimal) and high < low:
        raise InputError(
            "m_ops_max is below m_ops_min", file=file, key="parameters.m_ops_max", value=str(high)
        )


def check_citations(pack: RulePack, origin: str) -> None:
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
