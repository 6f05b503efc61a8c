"""The estate file (verifier/insolvency/estate.py): exact integers from whole units, every
source recorded with its sha256, and every hostile value refused naming file, key and value."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from attestations.encoding import AssetSpec
from verifier.base.errors import InputError
from verifier.insolvency.estate import read_estate

ASSETS = (AssetSpec("BTC", 8), AssetSpec("ETH", 18))
BASE = """policy = "in-kind"
[assets.BTC]
on_chain = "1.5"
[assets.ETH]
on_chain = "2"
"""
VALUED = """policy = "fiat"
[valuation]
date = 2026-12-01
currency = "JPY"
decimals = 0
prices = { BTC = "15000000", ETH = "450000.5" }
[assets.BTC]
on_chain = "1.5"
[assets.ETH]
on_chain = "2"
"""


def _read(tmp_path: Path, text: str, policy: str | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "estate.toml"
    path.write_text(text)
    return read_estate(path, ASSETS, policy)


def test_whole_units_become_base_units(tmp_path: Path) -> None:
    estate = _read(tmp_path, BASE)
    assert estate.available == {"BTC": 150_000_000, "ETH": 2 * 10**18}
    assert estate.currency is None and estate.prices == {}


def test_fiat_amounts_in_minor_units(tmp_path: Path) -> None:
    text = VALUED + '[fiat]\nreserve = "1000"\ninsurance = "5"\n'
    text += '[[deductions]]\nlabel = "fees"\nkind = "cost"\namount = "300"\n'
    estate = _read(tmp_path, text)
    assert estate.cash == {"recovered": 0, "reserve": 1000, "insurance": 5}
    assert estate.deductions_total == 300
    assert estate.prices["ETH"] == Decimal("450000.5")


def test_holdings_from_a_report_are_recorded(tmp_path: Path) -> None:
    report = {
        "report": "por-report-v1",
        "assets": [
            {"code": "BTC", "decimals": 8, "holdings": {"base_units": "123"}},
            {"code": "ETH", "decimals": 18, "holdings": {"base_units": "7"}},
        ],
    }
    (tmp_path / "report.json").write_text(json.dumps(report))
    estate = _read(
        tmp_path,
        'policy = "in-kind"\n[holdings]\nreport = "report.json"\n'
        '[assets.BTC]\nrecovered = "0.00000001"\n',
    )
    assert estate.available == {"BTC": 124, "ETH": 7}
    assert estate.sources["report"]["file"] == "report.json"
    assert len(estate.sources["report"]["sha256"]) == 64


def test_holdings_from_a_snapshot_sum_the_chains(tmp_path: Path) -> None:
    snap = {
        "snapshot": "por-snapshot-v1",
        "chains": [
            {"totals": {"BTC": {"proven": {"base_units": "5"}, "unproven": {"base_units": "9"}}}},
            {
                "totals": {
                    "ETH": {"proven": {"base_units": "6"}},
                    "BTC": {"proven": {"base_units": "1"}},
                }
            },
        ],
    }
    (tmp_path / "snap.json").write_text(json.dumps(snap))
    estate = _read(tmp_path, 'policy = "in-kind"\n[holdings]\nsnapshot = "snap.json"\n')
    assert estate.available == {"BTC": 6, "ETH": 6}


def test_reserve_from_a_statement(tmp_path: Path) -> None:
    (tmp_path / "reserve.toml").write_text(
        'currency = "JPY"\n[fx]\nUSD = "150"\n'
        '[[cash]]\nname = "a"\namount = "1000"\nholder = "Bank"\non_trust = true\n'
        '[[cash]]\nname = "b"\namount = "10"\ncurrency = "USD"\nholder = "Bank"\non_trust = true\n'
        '[[cash]]\nname = "c"\namount = "999"\nholder = "Bank"\non_trust = false\n'
    )
    estate = _read(tmp_path, VALUED + '[fiat]\nstatement = "reserve.toml"\n')
    assert estate.cash["reserve"] == 2500  # 1000 + 10 x 150; not the cash off trust
    assert "statement" in estate.sources


HOSTILE = [
    # (estate text, what the message says, the key named)
    (BASE.replace('"1.5"', "1.5"), "TOML float", "assets.BTC.on_chain"),
    (BASE.replace('"1.5"', '"-1"'), "negative", "assets.BTC.on_chain"),
    (BASE.replace('"1.5"', '"0.000000001"'), "more than 8 decimal", "assets.BTC.on_chain"),
    (BASE.replace('"1.5"', "nan"), "float", "assets.BTC.on_chain"),
    (BASE.replace('"1.5"', "inf"), "float", "assets.BTC.on_chain"),
    (BASE.replace('"1.5"', '"1e5"'), "not a decimal", "assets.BTC.on_chain"),
    (BASE.replace('"1.5"', '"' + "9" * 60 + '"'), "more than 50 digits", "assets.BTC.on_chain"),
    (BASE.replace('"1.5"', "true"), "decimal", "assets.BTC.on_chain"),
    ("colour = 1\n" + BASE, "unknown key", "colour"),
    (BASE.replace("in-kind", "everything"), "policy must be", "policy"),
    (BASE + '[assets.DOGE]\non_chain = "1"\n', "not an asset of the claims", "assets.DOGE"),
    (
        BASE.replace('on_chain = "2"', 'recovered = "1"'),
        "no on-chain figure for ETH",
        "assets.ETH.on_chain",
    ),
    (BASE.replace('"in-kind"', '"in-kind"\nsell_surplus = true'), "mixed only", "sell_surplus"),
    (BASE.replace('"in-kind"', '"in-kind"\nsell_surplus = 1'), "true or false", "sell_surplus"),
    (BASE + '[fiat]\nreserve = "1"\n', "need a [valuation]", "valuation"),
    (VALUED.replace(', ETH = "450000.5"', ""), "no price for ETH", "valuation.prices.ETH"),
    (VALUED.replace("decimals = 0", "decimals = 40"), "0..18", "valuation.decimals"),
    (VALUED.replace("2026-12-01", '"2026-12-01"'), "TOML date", "valuation.date"),
    (VALUED + '[fiat]\nreserve = "0.5"\n', "more than 0 decimal", "fiat.reserve"),
    (VALUED + '[fiat]\nreserve = "1"\nstatement = "x.toml"\n', "not both", "fiat"),
    (
        VALUED + '[[deductions]]\nlabel = "x"\nkind = "bribe"\namount = "1"\n',
        "cost or priority",
        "deductions[0].kind",
    ),
    (BASE + '[holdings]\nreport = "missing.json"\n', "does not exist", "holdings.report"),
    (BASE + "[holdings]\n", "exactly one", "holdings"),
]


@pytest.mark.parametrize(("text", "says", "key"), HOSTILE)
def test_hostile_estates_are_refused(tmp_path: Path, text: str, says: str, key: str) -> None:
    with pytest.raises(InputError) as caught:
        _read(tmp_path, text)
    error = caught.value
    assert says in error.message
    assert error.file == str(tmp_path / "estate.toml")
    assert error.key is not None and error.key.startswith(key), error.key


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        _read(tmp_path, BASE + 'policy = "fiat"\n')


@pytest.mark.parametrize(
    "report",
    [
        {"report": "por-report-v2", "assets": []},
        {"report": "por-report-v1", "assets": {}},
        {"report": "por-report-v1", "assets": [{"code": "BTC", "decimals": 2}]},
        {
            "report": "por-report-v1",
            "assets": [{"code": "BTC", "decimals": 8, "holdings": {"base_units": 5}}],
        },
        {
            "report": "por-report-v1",
            "assets": [{"code": "BTC", "decimals": 8, "holdings": {"base_units": "-5"}}],
        },
    ],
)
def test_hostile_reports_are_refused_naming_the_report(tmp_path: Path, report: object) -> None:
    (tmp_path / "report.json").write_text(json.dumps(report))
    with pytest.raises(InputError) as caught:
        _read(tmp_path, 'policy = "in-kind"\n[holdings]\nreport = "report.json"\n')
    assert caught.value.file == str(tmp_path / "report.json")


def test_a_report_with_a_duplicate_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text('{"report": "por-report-v1", "report": "x"}')
    with pytest.raises(InputError):
        _read(tmp_path, 'policy = "in-kind"\n[holdings]\nreport = "report.json"\n')
