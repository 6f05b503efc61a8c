"""Prices files: decimal strings with a source and a time; every bad key named."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from verifier.base.errors import InputError
from verifier.inputs.prices import load_prices

GOOD = """currency = "JPY"
source = "reference rate"
time = 2026-11-21T00:00:00Z

[prices]
BTC = "15000000"
ETH = { value = "550000.5", source = "other", time = "2026-11-21T00:05:00Z" }
SATS = 3
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text(text)
    return path


def test_good_prices(tmp_path: Path) -> None:
    currency, prices = load_prices(write(tmp_path, GOOD))
    assert currency == "JPY"
    assert prices["BTC"].value == Decimal("15000000") and prices["BTC"].source == "reference rate"
    assert prices["ETH"].value == Decimal("550000.5") and prices["ETH"].source == "other"
    assert prices["SATS"].value == 3
    assert prices["BTC"].time == "2026-11-21T00:00:00Z"
    assert prices["ETH"].to_json()["value"] == "550000.5"


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('BTC = "15000000"', "BTC = 1.5e7", "prices.BTC"),
        ('BTC = "15000000"', 'BTC = "-1"', "prices.BTC"),
        ('BTC = "15000000"', 'BTC = "abc"', "prices.BTC"),
        ('currency = "JPY"', 'currency = "yen!"', "currency"),
        ('source = "other"', 'source = ""', "prices.ETH.source"),
        ('time = "2026-11-21T00:05:00Z"', 'time = "yesterday"', "prices.ETH.time"),
        ("[prices]", "surprise = 1\n[prices]", "surprise"),
    ],
)
def test_bad_prices_name_the_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(InputError) as info:
        load_prices(path)
    assert info.value.key == key and info.value.file == str(path)
