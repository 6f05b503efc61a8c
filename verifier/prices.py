"""Prices in the reporting currency, with their source and time (no live feed).

Where it sits: an input of reconciliation. A prices file is TOML::

    currency = "JPY"
    source = "Example reference rate"          # default source for every asset
    time = 2026-11-21T00:00:00Z                # default time
    [prices]
    BTC = "15000000"                            # a decimal string (never a TOML float)
    USDT = { value = "150.25", source = "other feed", time = 2026-11-21T00:05:00Z }

Every error names the file and the key and exits 3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from verifier import safetoml
from verifier.errors import InputError

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


def _time(value: Any, file: str, key: str) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InputError("not an ISO 8601 time", file=file, key=key, value=value) from None
        return value
    raise InputError("missing or not a time", file=file, key=key, value=repr(value))


def _value(raw: Any, file: str, key: str) -> Decimal:
    if isinstance(raw, bool | float):  # float-ok: rejecting TOML floats
        raise InputError(
            "write prices as decimal strings, not TOML numbers with a fraction",
            file=file,
            key=key,
            value=repr(raw),
        )
    text = str(raw) if isinstance(raw, int) else raw
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
        raise InputError("not a non-negative decimal number", file=file, key=key, value=repr(raw))
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern excludes it
        raise InputError("not a decimal number", file=file, key=key, value=text) from None


def load_prices(path: Path) -> tuple[str, dict[str, Price]]:
    """(reporting currency, {asset code: Price}) from a prices file."""
    name = str(path)
    raw = safetoml.load_path(path, what="prices file")
    unknown = sorted(set(raw) - {"currency", "source", "time", "prices"})
    if unknown:
        raise InputError("unknown key", file=name, key=unknown[0])
    currency = raw.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise InputError(
            "currency must be a code like JPY or USD",
            file=name,
            key="currency",
            value=repr(currency),
        )
    table = raw.get("prices")
    if not isinstance(table, dict) or not table:
        raise InputError("no [prices] table", file=name, key="prices")
    default_source = raw.get("source")
    default_time = raw.get("time")
    prices = {}
    for code, entry in table.items():
        key = f"prices.{code}"
        if isinstance(entry, dict):
            extra = sorted(set(entry) - {"value", "source", "time"})
            if extra:
                raise InputError("unknown key", file=name, key=f"{key}.{extra[0]}")
            value = _value(entry.get("value"), name, f"{key}.value")
            source = entry.get("source", default_source)
            when = entry.get("time", default_time)
        else:
            value = _value(entry, name, key)
            source, when = default_source, default_time
        if not isinstance(source, str) or not source.strip():
            raise InputError("every price needs a source", file=name, key=f"{key}.source")
        prices[code] = Price(value, currency, source, _time(when, name, f"{key}.time"))
    return currency, prices
