"""The schemas of prices, statements, assets and packs: published as generated, every problem
listed at once, money never a float."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.base.errors import InputError
from verifier.inputs.assets import read_assets
from verifier.inputs.file_schemas import KINDS, json_schemas, problems, schema_text
from verifier.inputs.prices import load_prices
from verifier.reserve.pack_file import known_packs, load_pack
from verifier.reserve.statement import load_statement

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "spec" / "schemas"
STATEMENT = ROOT / "fixtures" / "reserve" / "example.toml"

PRICES = """currency = "JPY"
source = "demo reference rate"
time = 2026-12-05T00:00:00Z

[prices]
BTC = "15000000"
ETH = "550000"
USDT = "150"
"""


def test_published_schemas_are_the_generated_ones() -> None:
    generated = json_schemas()
    assert sorted(generated) == sorted(filename for _, _, filename in KINDS.values())
    for filename, schema in generated.items():
        committed = (SCHEMAS / filename).read_text(encoding="utf-8")
        assert committed == schema_text(schema), (
            f"{filename} is stale: run python -m verifier.inputs.file_schemas docs/spec/schemas"
        )


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


@pytest.mark.parametrize("filename", [filename for _, _, filename in KINDS.values()])
def test_schema_files_are_self_contained_draft_2020_12(filename: str) -> None:
    schema = json.loads((SCHEMAS / filename).read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object" and schema["description"]
    for ref in _refs(schema):
        assert ref.startswith("#/$defs/") and ref.removeprefix("#/$defs/") in schema["$defs"]
    text = json.dumps(schema)
    assert (
        '"type": "null"' not in text and '"type": "number"' not in text
    )  # TOML: no null, no float


def test_pack_schema_lists_every_parameter_with_its_type() -> None:
    from verifier.reserve.pack import PARAMETER_KINDS

    params = json_schemas()["por-rule-pack.schema.json"]["properties"]["parameters"]
    plain = {name for name in PARAMETER_KINDS if not name.endswith(".")}
    assert set(params["properties"]) == plain
    assert params["additionalProperties"] is False
    assert params["properties"]["theta"]["allOf"][1]["properties"]["value"]["anyOf"]


def test_problems_lists_every_schema_problem_at_once(tmp_path: Path) -> None:
    path = tmp_path / "reserve.toml"
    path.write_text(
        'currency = "yen"\nreserves = 1\n[[cash]]\nname = ""\namount = 0.5\nholdr = "x"\n'
        "on_trust = true\n",
        encoding="utf-8",
    )
    found = problems("statement", path)
    keys = [error.key for error in found]
    assert keys == [
        "currency",
        "cash[0].name",
        "cash[0].amount",
        "cash[0].holder",
        "cash[0].holdr",
        "reserves",
    ]
    assert all(error.file == str(path) and error.exit_code == 3 for error in found)
    holdr = found[keys.index("cash[0].holdr")]
    assert "did you mean 'holder'?" in str(holdr) and "known: amount," in str(holdr)


def test_problems_lists_every_semantic_problem(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('currency = "JPY"\n[prices]\nBTC = "1"\nETH = "2"\n', encoding="utf-8")
    keys = [error.key for error in problems("prices", path)]
    assert keys == ["prices.BTC.source", "prices.BTC.time", "prices.ETH.source", "prices.ETH.time"]
    pack = tmp_path / "pack.toml"
    text = (ROOT / "verifier" / "reserve" / "packs" / "jp-psa.toml").read_text(encoding="utf-8")
    text = text.replace('id = "jp-psa"', 'id = "mine"').replace(
        "[parameters.c_hot]", "[parameters.c_hott]"
    )
    text = text.replace('value = "0.05"', 'value = "5"')
    pack.write_text(text, encoding="utf-8")
    keys = [error.key for error in problems("pack", pack)]
    assert keys == ["parameters.c_hott", "parameters.non_cold_limit.value"]


def test_problems_of_good_files_are_empty(tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text(PRICES, encoding="utf-8")
    assert problems("prices", prices) == []
    assert problems("statement", STATEMENT) == []
    assert problems("assets", ROOT / "fixtures" / "liabilities" / "assets.toml") == []
    for pack in known_packs():
        assert problems("pack", ROOT / "verifier" / "reserve" / "packs" / f"{pack}.toml") == []


def test_problems_of_an_unreadable_file_is_one_error(tmp_path: Path) -> None:
    found = problems("assets", tmp_path / "absent.toml")
    assert len(found) == 1 and "not found" in str(found[0])
    bad = tmp_path / "bad.toml"
    bad.write_text("currency = \n", encoding="utf-8")
    found = problems("prices", bad)
    assert len(found) == 1 and "not valid TOML" in str(found[0])
    with pytest.raises(ValueError, match="unknown file kind"):
        problems("config", bad)


def test_loaders_raise_the_first_problem(tmp_path: Path) -> None:
    path = tmp_path / "assets.toml"
    path.write_text("[assets.btc]\ndecimals = 40\n[assets.ETH]\ndecimalz = 18\n", encoding="utf-8")
    found = problems("assets", path)
    assert [e.key for e in found] == [
        "assets.btc",
        "assets.btc.decimals",
        "assets.ETH.decimals",
        "assets.ETH.decimalz",
    ]
    with pytest.raises(InputError) as info:
        read_assets(path)
    assert str(info.value) == str(found[0])


# --------------------------------------------------------------------- money is never a float

_FLOATS = st.floats(allow_nan=True, allow_infinity=True)


@given(_FLOATS)
def test_a_float_price_is_refused(value: float) -> None:
    from verifier.inputs.prices import PricesFile

    with pytest.raises(Exception) as info:
        PricesFile.model_validate(
            {"currency": "JPY", "source": "s", "time": "2026-01-01", "prices": {"BTC": value}}
        )
    assert "decimal strings" in str(info.value)


@given(_FLOATS)
def test_a_float_amount_is_refused_everywhere(value: float) -> None:
    from verifier.reserve.statement import StatementFile

    cash = {"name": "n", "amount": value, "holder": "h", "on_trust": True}
    with pytest.raises(Exception) as info:
        StatementFile.model_validate({"currency": "JPY", "cash": [cash]})
    assert "write amounts as strings" in str(info.value)


@given(st.decimals(min_value=0, max_value=Decimal(10) ** 30, places=8, allow_nan=False))
def test_a_decimal_string_is_exact(value: Decimal) -> None:
    from verifier.reserve.statement import StatementFile

    text = format(value, "f")
    cash = {"name": "n", "amount": text, "holder": "h", "on_trust": True}
    doc = StatementFile.model_validate({"currency": "JPY", "cash": [cash]})
    assert doc.cash[0].amount == Decimal(text)
    assert isinstance(doc.cash[0].amount, Decimal)


def test_tampered_statement_float_is_exit_3(tmp_path: Path) -> None:
    text = STATEMENT.read_text(encoding="utf-8").replace(
        'amount = "2000000000"', "amount = 2000000000.0", 1
    )
    path = tmp_path / "reserve.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_statement(path)
    assert info.value.key == "cash[0].amount" and info.value.exit_code == 3
    prices = tmp_path / "prices.toml"
    prices.write_text(PRICES.replace('"15000000"', "15000000.0"), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_prices(prices)
    assert info.value.key == "prices.BTC"
    pack = tmp_path / "pack.toml"
    pack.write_text(
        (ROOT / "verifier/reserve/packs/jp-psa.toml")
        .read_text(encoding="utf-8")
        .replace('value = "0.05"', "value = 0.05"),
        encoding="utf-8",
    )
    with pytest.raises(InputError) as info:
        load_pack(str(pack))
    assert info.value.key == "parameters.non_cold_limit.value"
