"""`por insolvency plan` refuses edited claims and hostile estates (issue 15, a tester's findings).

claims.json was read without noticing edits to its counts, its source commitment (the link
to the published liabilities), its valuation, exchange or notes; now its counts are checked
against the claims tree's leaves, and its other facts against register.parquet's own record
of them (bound by sha256 in claims.json). An estate price of 0 for a claimed asset under
fiat/mixed valued claims at nothing; an estate amount of 2**128 could not be a tree sum.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_insolvency_verify import AS_OF_DATE, IN_KIND, MIXED

EDITS: list[tuple[str, Any, str]] = [
    ("customers", lambda d: d.update(customers=d["customers"] + 1), "customers"),
    ("an asset's customers", lambda d: d["assets"][0].update(customers=1), "assets[0].customers"),
    ("the source commitment", lambda d: d["source"].update(commitment="ab" * 32), "source"),
    ("the valuation currency", lambda d: d["valuation"].update(currency="EUR"), "valuation"),
    ("the valuation date", lambda d: d["valuation"].update(date="2025-07-02"), "valuation"),
    ("the exchange", lambda d: d.update(exchange="Another KK"), "exchange"),
    ("what is not covered", lambda d: d["not_covered"].pop(), "not_covered"),
]


@pytest.fixture
def claims(por: Any, built: Path, tmp_path: Path) -> Path:
    (tmp_path / "prices.toml").write_text(
        'currency = "USD"\nsource = "test"\ntime = 2025-06-30T12:00:00Z\n'
        '[prices]\nBTC = "100000"\nETH = "2500.5"\nUSDT = "1"\n'
    )
    out = tmp_path / "D"
    res = por(
        "insolvency", "claims", "--tree", built, "--as-of", AS_OF_DATE, "--out", out,
        "--prices", tmp_path / "prices.toml", "--exchange", "Example KK", "--workers", "1",
    )  # fmt: skip
    assert res.rc == 0, res.err
    return out


def _plan(por: Any, claims: Path, estate: Path, out: Path) -> Any:
    return por("insolvency", "plan", "--claims", claims, "--estate", estate, "--out", out)


@pytest.mark.parametrize("what", [e[0] for e in EDITS])
def test_an_edited_claims_document_is_refused(
    por: Any, claims: Path, tmp_path: Path, what: str
) -> None:
    _, edit, key = next(e for e in EDITS if e[0] == what)
    (tmp_path / "estate.toml").write_text(IN_KIND)
    path = claims / "claims.json"
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc, indent=2))
    res = _plan(por, claims, tmp_path / "estate.toml", tmp_path / "P")
    assert res.rc == 3, res.err
    assert "claims.json" in res.err and key.split("[")[0] in res.err, res.err
    assert not (tmp_path / "P").exists()


def test_the_plan_binds_the_claims_document(por: Any, claims: Path, tmp_path: Path) -> None:
    import hashlib

    (tmp_path / "estate.toml").write_text(IN_KIND)
    assert _plan(por, claims, tmp_path / "estate.toml", tmp_path / "P").rc == 0
    plan = json.loads((tmp_path / "P" / "plan.json").read_text())
    digest = hashlib.sha256((claims / "claims.json").read_bytes()).hexdigest()
    assert plan["claims"]["sha256"] == digest
    assert plan["claims"]["root"] == json.loads((claims / "claims.json").read_text())["root"]


def test_a_zero_price_of_a_claimed_asset_is_refused(por: Any, claims: Path, tmp_path: Path) -> None:
    (tmp_path / "estate.toml").write_text(MIXED.replace('USDT = "1"', 'USDT = "0"'))
    res = _plan(por, claims, tmp_path / "estate.toml", tmp_path / "P")
    assert res.rc == 3 and "valuation.prices.USDT" in res.err, res.err


@pytest.mark.parametrize(
    "old,new,key",
    [
        ('on_chain = "15"', f'on_chain = "{2**128 // 10**8 + 1}"', "assets.BTC.on_chain"),
        ('reserve = "1000"', f'reserve = "{2**128}"', "fiat.reserve"),
    ],
)
def test_estate_amounts_reaching_2_128_are_refused_naming_the_key(
    por: Any, claims: Path, tmp_path: Path, old: str, new: str, key: str
) -> None:
    (tmp_path / "estate.toml").write_text(MIXED.replace(old, new))
    res = _plan(por, claims, tmp_path / "estate.toml", tmp_path / "P")
    assert res.rc == 3 and key in res.err and "2**128" in res.err, res.err
