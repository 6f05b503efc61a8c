"""`por insolvency payouts` end to end, stored in SQLite and in a real PostgreSQL.

The plan: the sample liabilities (fixtures/liabilities/sample.csv) in kind with 15 BTC, ETH
in full, no USDT (tests/cli/test_insolvency_plan.py has the figures by hand): due BTC alice
100000000, bob 1, erin 1399999999; ETH alice 2000000000000000001, carol
340282366920938463463374607431. The paid files below pay some of it, by hand:

- half paid: alice BTC in full (two transfers, one batch txid shared with erin), erin BTC in
  part, carol ETH in full. Unpaid: bob 1 sat, erin 399999999 sat, alice's ETH. Exit 0.
- overpaid and unknown: bob paid 2 sat, mallory paid 5 sat, a reference recorded twice. Exit 1.
- hostile rows: refused naming the line and the value, nothing stored. Exit 3.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from postgres_fixtures import db_url, pg_server  # noqa: F401

from tests.cli.insolvency_world import IN_KIND, make_world
from verifier.cli.main import main
from verifier.history.payouts import payout_accounts, payout_runs
from verifier.history.store import Store

ROOT = Path(__file__).resolve().parents[2]
HALF_PAID = """account_id,asset,units,reference
alice,BTC,60000000,tx-batch-1
alice,BTC,40000000,tx-a2
erin,BTC,1000000000,tx-batch-1
carol,ETH,340282366920938463463374607431,0xabc
"""
OVERPAID = """account_id,asset,units,reference
bob,BTC,2,tx-b
mallory,BTC,5,tx-m
alice,BTC,50000000,bank-77
alice,BTC,50000000,bank-77
"""


def _run(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    for name in ("sample.csv", "assets.toml"):
        shutil.copy(ROOT / "fixtures" / "liabilities" / name, tmp_path / name)

    def run(*args: Any) -> None:
        code, _, err = _run(capsys, *args)
        assert code == 0, (args, err)

    run(
        "liabilities", "build", tmp_path / "sample.csv", "--assets", tmp_path / "assets.toml",
        "--attestation-id", "ex-2025-06", "--out", tmp_path / "tree",
        "--as-of", "2025-06-30T00:00:00Z", "--workers", "1",
    )  # fmt: skip
    return make_world(run, tmp_path / "tree", tmp_path, IN_KIND, accounts=())["P"]


def _payouts(capsys: Any, plan: Path, paid: Path, db: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = _run(
        capsys, "insolvency", "payouts", "--plan", plan, "--paid", paid, "--db", db, "--json"
    )
    return code, json.loads(out), err


def test_payouts_reconciled_and_stored(
    plan: Path,
    tmp_path: Path,
    db_url: str,  # noqa: F811 - the pytest fixture
    capsys: pytest.CaptureFixture[str],
) -> None:
    paid = tmp_path / "paid.csv"
    paid.write_text(HALF_PAID)
    code, doc, err = _payouts(capsys, plan, paid, db_url)
    assert code == 0, err
    assert doc["consistent"] and doc["payments"] == 4 and doc["run_id"] == 1
    btc, eth, usdt = doc["assets"]
    assert (btc["due"], btc["paid"], btc["unpaid"], btc["overpaid"]) == (
        "1500000000", "1100000000", "400000000", "0",
    )  # fmt: skip
    assert btc["accounts"] == {"paid": 1, "partial": 1, "unpaid": 1, "overpaid": 0, "unknown": 0}
    assert (eth["due"], eth["paid"], eth["unpaid"]) == (
        "340282366922938463463374607432", "340282366920938463463374607431",
        "2000000000000000001",
    )  # fmt: skip
    assert usdt["due"] == usdt["paid"] == "0"
    assert doc["exceptions"] == [] and doc["duplicates"] == []

    paid.write_text(OVERPAID)
    code, doc, _ = _payouts(capsys, plan, paid, db_url)
    assert code == 1 and not doc["consistent"] and doc["run_id"] == 2
    assert {(e["account_id"], e["status"]) for e in doc["exceptions"]} == {
        ("bob", "overpaid"),
        ("mallory", "unknown"),
    }
    assert doc["duplicates"] == [
        {"account_id": "alice", "asset": "BTC", "reference": "bank-77", "lines": [4, 5]}
    ]
    assert doc["assets"][0]["overpaid"] == "1" and doc["assets"][0]["paid_unknown"] == "5"

    store = Store(db_url, create=False)
    runs = payout_runs(store)
    assert [(r.id, r.consistent, r.exit_code) for r in runs] == [(2, False, 1), (1, True, 0)]
    assert runs[1].document["assets"][0]["paid"] == "1100000000"
    rows = {(a, s): (d, p, st) for a, s, d, p, st in payout_accounts(store, 1)}
    assert rows[("erin", "BTC")] == (1399999999, 1000000000, "partial")
    assert rows[("carol", "ETH")] == (340282366920938463463374607431,) * 2 + ("paid",)
    with store.engine.connect() as conn:
        stored = conn.execute(
            sa.text(
                "SELECT due FROM payout_accounts WHERE account_id = 'carol' AND payout_run_id = 1"
            )
        )
        # base units as TEXT digits: no float, no 64-bit limit
        assert [r[0] for r in stored] == ["340282366920938463463374607431"]


@pytest.mark.parametrize(
    ("row", "shown"),
    [
        ("alice,BTC,-5,tx", "'-5'"),
        ("alice,BTC,1.5,tx", "'1.5'"),
        ("alice,BTC,,tx", "units"),
        ("alice,BTC,0,tx", "more than 0"),
        ("alice,BTC,1e9,tx", "'1e9'"),
        ("alice,BTC,NaN,tx", "'NaN'"),
        (f"alice,BTC,{2**128},tx", "2**128"),
        ("alice,BTC," + "9" * 5000, "fields"),
        ("alice,DOGE,1,tx", "'DOGE'"),
        (",BTC,1,tx", "account_id"),
        ("alice,BTC,1,", "reference"),
        ("alice,BTC,1,tx,extra", "5 fields"),
        ("alice,BTC,1,t\x01x", "control"),
    ],
)
def test_hostile_rows_are_refused_naming_line_and_value(
    plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], row: str, shown: str
) -> None:
    paid = tmp_path / "paid.csv"
    paid.write_text(f"account_id,asset,units,reference\nbob,BTC,1,ok\n{row}\n")
    db = tmp_path / "h.db"
    code, out, err = _run(
        capsys, "insolvency", "payouts", "--plan", plan, "--paid", paid, "--db", db
    )
    assert code == 3, (out, err)
    assert f"{paid}: line 3" in err and shown in err, err
    assert not db.exists()  # nothing stored


def test_bad_files_exit_3(plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paid = tmp_path / "paid.csv"
    for data, shown in (
        (b"", "empty"),
        (b"account,asset,units,reference\n", "header"),
        (b"account_id,asset,units,reference\rbob,BTC,1,x\r", "carriage return"),
        (b"account_id,asset,units,reference\n\xff,BTC,1,x\n", "UTF-8"),
    ):
        paid.write_bytes(data)
        code, _, err = _run(
            capsys, "insolvency", "payouts", "--plan", plan, "--paid", paid, "--no-store"
        )
        assert code == 3 and shown in err, err
    paid.write_text(HALF_PAID)
    dist = plan / "distributions.csv"
    dist.chmod(0o600)
    dist.write_text(dist.read_text().replace("100000000", "100000001", 1))
    code, _, err = _run(
        capsys, "insolvency", "payouts", "--plan", plan, "--paid", paid, "--no-store"
    )
    assert code == 3 and "not the file the plan binds" in err
