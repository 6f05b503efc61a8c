"""The reserve statement: good files parse exactly; every malformed field is named."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from verifier.base.errors import EXIT_INVALID, InputError
from verifier.reserve.money import fmt_decimal, parse_decimal, to_units
from verifier.reserve.statement import load_statement

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "reserve"

BASE = """
currency = "JPY"
as_of = 2026-03-31

[[cash]]
name = "trust"
amount = "2000000000"
holder = "Example Trust Bank"
on_trust = true

[[insurance]]
insurer = "Example Insurance"
authorised = true
limit = "5000000000"
limit_type = "aggregate"
deductible = "500000000"
start = 2025-10-01
end = 2026-10-01
notice_days = 90

[[guarantee]]
issuer = "Example Bank"
amount = "1000000000"
on_demand = true

[[volume]]
category = "spot"
year = 2025
amount = "5000000000000"

[[incident]]
date = 2025-05-31
loss = "1000000000"
recovered = "400000000"

[entity]
licence_class = "class_3"

[entity.overheads]
total_expenses = "30000000"
bonuses = "4000000"

[holdings]
cold = "100"
hot = "5"

[[holdings.assets]]
code = "BTC"
decimals = 8
price = "15000000"
owed = "1.5"
held = "1.5"
hot = "0.1"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "reserve.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_parses_with_every_section() -> None:
    statement = load_statement(FIXTURES / "example.toml")
    assert statement.currency == "JPY"
    assert statement.as_of == date(2026, 3, 31)
    assert statement.fx["USD"] == Decimal("150.25")
    assert len(statement.cash) == 2 and statement.cash[1].currency == "USD"
    policy = statement.insurance[0]
    assert policy.limit == Decimal(5_000_000_000)
    assert policy.perils["cold"] == ("theft", "loss of keys")
    assert policy.perils["other"] == Decimal("0.5")
    assert policy.exclusions == ("war", "insider collusion")
    assert statement.guarantees[0].maturity == date(2027, 3, 31)
    assert {v.category for v in statement.volume} == {"spot", "derivatives"}
    assert statement.volume[3].start == date(2024, 4, 1)
    assert statement.volume[3].end == date(2025, 4, 1)
    assert statement.incidents[0].net_loss == Decimal(600_000_000)
    entity = statement.entity
    assert entity.overheads is not None and entity.overheads.fixed == Decimal(2_400_000_000)
    assert entity.operational_risk.flags == ("recent_incident", "outsourced_custody")
    assert statement.holdings is not None
    btc = statement.holdings.assets[0]
    assert (btc.owed_units, btc.hot_units) == (10_000 * 10**8, 400 * 10**8)
    eth = statement.holdings.assets[1]
    assert eth.own_buffer_units == 4500 * 10**18


def test_base_parses_and_units_are_exact(tmp_path: Path) -> None:
    statement = load_statement(write(tmp_path, BASE))
    assert statement.holdings is not None
    assert statement.holdings.assets[0].owed_units == 150_000_000
    assert statement.insurance[0].name == "Example Insurance"  # defaults to the insurer
    assert statement.insurance[0].scope == 1


def test_integer_amounts_and_underscores(tmp_path: Path) -> None:
    text = BASE.replace('amount = "2000000000"', "amount = 2_000_000_000")
    text = text.replace('limit = "5000000000"', 'limit = "5_000_000_000"')
    statement = load_statement(write(tmp_path, text))
    assert statement.cash[0].amount == Decimal(2_000_000_000)
    assert statement.insurance[0].limit == Decimal(5_000_000_000)


# (replace this, with that, the key named, a fragment of the message)
BAD = [
    (
        'amount = "2000000000"',
        "amount = 2000000000.0",
        "cash[0].amount",
        "write amounts as strings",
    ),
    ('amount = "2000000000"', "amount = 2e9", "cash[0].amount", "write amounts as strings"),
    ('amount = "2000000000"', 'amount = "2bn"', "cash[0].amount", "'2bn'"),
    ('amount = "2000000000"', 'amount = "1e9"', "cash[0].amount", "'1e9'"),
    ('amount = "2000000000"', 'amount = "-5"', "cash[0].amount", "negative"),
    ('amount = "2000000000"', 'amount = "NaN"', "cash[0].amount", "'NaN'"),
    ('amount = "2000000000"', "amount = true", "cash[0].amount", "'True'"),
    ('amount = "2000000000"', 'amount = "' + "9" * 51 + '"', "cash[0].amount", "digits"),
    ("on_trust = true", 'on_trust = "yes"', "cash[0].on_trust", "'yes'"),
    ('holder = "Example Trust Bank"', "", "cash[0].holder", "missing"),
    ('holder = "Example Trust Bank"', 'holder = "x"\namout = "1"', "cash[0].amout", "unknown key"),
    ('limit_type = "aggregate"', 'limit_type = "annual"', "insurance[0].limit_type", "'annual'"),
    ("end = 2026-10-01", "end = 2025-09-01", "insurance[0].end", "after start"),
    ("start = 2025-10-01", 'start = "2025-10-01"', "insurance[0].start", "TOML date"),
    ("start = 2025-10-01", "start = 2025-10-01T00:00:00", "insurance[0].start", "TOML date"),
    ("notice_days = 90", "notice_days = -1", "insurance[0].notice_days", "'-1'"),
    ("notice_days = 90", 'notice_days = "90"', "insurance[0].notice_days", "integer"),
    (
        'deductible = "500000000"',
        'deductible = "500000000"\nscope = "1.5"',
        "insurance[0].scope",
        "between 0 and 1",
    ),
    (
        'deductible = "500000000"',
        'deductible = "500000000"\nperils = { warm = "1" }',
        "insurance[0].perils.warm",
        "unknown key",
    ),
    (
        'deductible = "500000000"',
        'deductible = "500000000"\nperils = { hot = 0.5 }',
        "insurance[0].perils.hot",
        "write amounts as strings",
    ),
    (
        'deductible = "500000000"',
        'deductible = "500000000"\nperils = { hot = [1] }',
        "insurance[0].perils.hot",
        "list of non-empty strings",
    ),
    ("on_demand = true", "on_demand = 1", "guarantee[0].on_demand", "'1'"),
    ('currency = "JPY"', 'currency = "yen"', "currency", "'yen'"),
    ('currency = "JPY"', 'currency = "JPY"\nreserves = 1', "reserves", "unknown key"),
    ("year = 2025", "year = 2025\nperiod_start = 2025-01-01", "volume[0].year", "exactly one"),
    ("year = 2025", "year = 25.0", "volume[0].year", "integer"),
    (
        'recovered = "400000000"',
        'recovered = "1400000000"',
        "incident[0].recovered",
        "exceeds the loss",
    ),
    (
        'bonuses = "4000000"',
        'bonuses = "40000000"',
        "entity.overheads.total_expenses",
        "smaller than the deductions",
    ),
    (
        'bonuses = "4000000"',
        'bonuses = "4000000"\nfixed = "1"',
        "entity.overheads.total_expenses",
        "exactly one",
    ),
    (
        'licence_class = "class_3"',
        'licence_class = "class_3"\ncet1 = 4.5',
        "entity.cet1",
        "write amounts as strings",
    ),
    ('owed = "1.5"', 'owed = "1.123456789"', "holdings.assets[0].owed", "8 decimals"),
    ('hot = "0.1"', 'hot = "2"', "holdings.assets[0].hot", "exceeds held"),
    ("decimals = 8", "decimals = 40", "holdings.assets[0].decimals", "0..36"),
    ('code = "BTC"', 'code = "btc!"', "holdings.assets[0].code", "'btc!'"),
    ('cold = "100"', 'cold = "100"\nwarm = "1"', "holdings.warm", "unknown key"),
]


@pytest.mark.parametrize(
    ("old", "new", "key", "fragment"), BAD, ids=[f"{b[2]}:{i}" for i, b in enumerate(BAD)]
)
def test_bad_field_names_file_key_and_value(
    tmp_path: Path, old: str, new: str, key: str, fragment: str
) -> None:
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(InputError) as info:
        load_statement(path)
    error = info.value
    assert error.file == str(path)
    assert error.key == key
    assert fragment in str(error)
    assert str(path) in str(error) and key in str(error)
    assert error.exit_code == EXIT_INVALID


def test_float_error_shows_the_value(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace('amount = "2000000000"', "amount = 0.1"))
    with pytest.raises(InputError) as info:
        load_statement(path)
    assert info.value.value == "0.1"
    assert "write amounts as strings" in info.value.message


def test_overlapping_volume_periods(tmp_path: Path) -> None:
    text = BASE + '\n[[volume]]\ncategory = "spot"\nperiod_start = 2025-04-01\namount = "1"\n'
    with pytest.raises(InputError) as info:
        load_statement(write(tmp_path, text))
    assert info.value.key == "volume[1]"
    assert "overlaps volume[0]" in str(info.value)


def test_duplicate_asset(tmp_path: Path) -> None:
    extra = (
        '\n[[holdings.assets]]\ncode = "BTC"\ndecimals = 8\nprice = "1"\nowed = "1"\nheld = "1"\n'
    )
    with pytest.raises(InputError) as info:
        load_statement(write(tmp_path, BASE + extra))
    assert info.value.key == "holdings.assets[1].code"


def test_fx_rates_must_be_positive_codes(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_statement(write(tmp_path, BASE + '\n[fx]\nUSD = "0"\n'))
    assert info.value.key == "fx.USD"
    with pytest.raises(InputError) as info:
        load_statement(write(tmp_path, BASE + '\n[fx]\nJPY = "1"\n'))
    assert info.value.key == "fx.JPY"


def test_m_ops_must_be_positive(tmp_path: Path) -> None:
    text = BASE + '\n[entity.operational_risk]\nm_ops = "0"\n'
    with pytest.raises(InputError) as info:
        load_statement(write(tmp_path, text))
    assert info.value.key == "entity.operational_risk.m_ops"


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_statement(tmp_path / "absent.toml")
    assert "not found" in str(info.value)
    with pytest.raises(InputError) as info:
        load_statement(write(tmp_path, "currency = \n"))
    assert "not valid TOML" in str(info.value)
    assert info.value.file == str(tmp_path / "reserve.toml")


def test_parse_decimal_and_units() -> None:
    assert parse_decimal("0.0005", file=None, key="k") == Decimal("0.0005")
    assert parse_decimal(" 1_000 ", file=None, key="k") == Decimal(1000)
    assert parse_decimal(12, file=None, key="k") == Decimal(12)
    assert to_units(Decimal("1.5"), 8) == 150_000_000
    assert to_units(Decimal("1.50"), 1) == 15
    assert to_units(Decimal("1.55"), 1) is None
    assert fmt_decimal(Decimal("5061000000.0")) == "5061000000"
    assert fmt_decimal(Decimal("0.0412500")) == "0.04125"
    assert fmt_decimal(Decimal("5E+9")) == "5000000000"
