"""Prices in the reporting currency, with their source and time (no live feed).

Where it sits: an input of reconciliation. A prices file is TOML::

    currency = "JPY"
    source = "Example reference rate"          # default source for every asset
    time = 2026-11-21T00:00:00Z                # default time
    [prices]
    BTC = "15000000"                            # a decimal string (never a TOML float)
    USDT = { value = "150.25", source = "other feed", time = 2026-11-21T00:05:00Z }

Every error names the file and the key and exits 3. The schema is `PricesFile` (one
definition, published as docs/spec/schemas/por-prices.schema.json; docs/files.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import ConfigDict, Discriminator, Field, Tag

from verifier.base import safetoml
from verifier.base.errors import InputError
from verifier.inputs.file_schemas import Check, FileModel, Text, fault, pattern, validate

_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_CURRENCY = re.compile(r"[A-Z]{3}|[A-Z0-9]{2,10}")


@dataclass(frozen=True, slots=True)
class Price:
    """One asset's price in the reporting currency."""

    value: Decimal
    currency: str
    source: str
    time: str

    def to_json(self) -> dict[str, str]:
        return {
            "value": format(self.value, "f"),
            "currency": self.currency,
            "source": self.source,
            "time": self.time,
        }


def _time(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise fault("not an ISO 8601 time", value) from None
        return value
    raise fault("missing or not a time", repr(value))


def _value(raw: object) -> Decimal:
    if isinstance(raw, bool | float):  # float-ok: rejecting TOML floats
        raise fault("write prices as decimal strings, not TOML numbers with a fraction", repr(raw))
    text = str(raw) if isinstance(raw, int) else raw
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
        raise fault("not a non-negative decimal number", raw)
    return Decimal(text)


def _is_table(value: object) -> str:
    return "~table" if isinstance(value, dict) else "~value"


PriceValue = Annotated[
    Decimal,
    Check(
        _value,
        {
            "description": 'A non-negative decimal string ("15000000", "150.25") or a TOML '
            "integer; never a float",
            "anyOf": [
                {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"},
                {"type": "integer", "minimum": 0},
            ],
        },
    ),
]
Time = Annotated[
    str,
    Check(
        _time,
        {
            "description": "A TOML date-time (2026-11-21T00:00:00Z) or an ISO 8601 string",
            "type": "string",
            "format": "date-time",
        },
    ),
]
Currency = Annotated[
    str,
    pattern(_CURRENCY, "currency must be a code like JPY or USD"),
]


class PriceEntry(FileModel):
    """``BTC = { value = "15000000", source = "...", time = ... }``: one price with provenance."""

    value: PriceValue = Field(description="Reporting currency per whole unit")
    source: Text | None = Field(None, description="Where the price comes from; default: source")
    time: Time | None = Field(None, description="When it was taken; default: time")


class PricesFile(FileModel):
    """A prices file: each asset's price in the reporting currency, with source and time."""

    model_config = ConfigDict(
        title="por prices",
        json_schema_extra={
            "description": "Read by por reconcile and por attest through [prices] file "
            "in por.toml (docs/files.md)."
        },
    )

    currency: Currency = Field(description="The reporting currency (JPY, USD, ...)")
    source: Text | None = Field(None, description="Default source of every price")
    time: Time | None = Field(None, description="Default time of every price")
    prices: dict[
        str,
        Annotated[
            Annotated[PriceValue, Tag("~value")] | Annotated[PriceEntry, Tag("~table")],
            Discriminator(_is_table),
        ],
    ] = Field(
        description="Asset code = price (a decimal string), or a table with value, source, time"
    )


def file_problems(doc: PricesFile, file: str) -> list[InputError]:
    """Every price without a source or a time (its own or the file's default), and no prices."""
    if not doc.prices:
        return [InputError("no [prices] table", file=file, key="prices")]
    out = []
    for code, entry in doc.prices.items():
        key = f"prices.{code}"
        if isinstance(entry, PriceEntry):
            source = entry.source or doc.source
            when = entry.time or doc.time
        else:
            source, when = doc.source, doc.time
        if source is None:
            out.append(InputError("every price needs a source", file=file, key=f"{key}.source"))
        if when is None:
            out.append(
                InputError("missing or not a time", file=file, key=f"{key}.time", value="None")
            )
    return out


def load_prices(path: Path) -> tuple[str, dict[str, Price]]:
    """(reporting currency, {asset code: Price}) from a prices file."""
    name = str(path)
    raw = safetoml.load_path(path, what="prices file")
    if not isinstance(raw.get("prices"), dict):
        raise InputError("no [prices] table", file=name, key="prices")
    doc = validate(PricesFile, raw, name)
    problems = file_problems(doc, name)
    if problems:
        raise problems[0]
    prices = {}
    for code, entry in doc.prices.items():
        if isinstance(entry, PriceEntry):
            value, source, when = entry.value, entry.source or doc.source, entry.time or doc.time
        else:
            value, source, when = entry, doc.source, doc.time
        assert source is not None and when is not None  # file_problems
        prices[code] = Price(value, doc.currency, source, when)
    return doc.currency, prices
