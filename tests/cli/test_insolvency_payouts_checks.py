"""`por insolvency payouts` checks distributions.csv against the plan, and reads amounts strictly.

An outside tester (issue 15) rewrote distributions.csv, re-bound its sha256 in plan.json and
recomputed the plan id: payouts reconciled against the rewritten amounts. Now the file must
add up to the plan per asset and the currency (claims to T, distributions to each pool's
distributed total and the distribution tree's sums) with one account per customer. A fiat
plan's sold assets (claims, distribution 0) were refused as "not in the plan". The paid
file took " 1" and "1 " as amounts.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_insolvency_verify import IN_KIND, MIXED, _make
from verifier.insolvency.verify import compute_plan_id

FIAT = MIXED.replace('policy = "mixed"', 'policy = "fiat"')


@pytest.fixture
def in_kind(por: Any, built: Path, tmp_path: Path) -> dict[str, Path]:
    return _make(por, built, tmp_path, IN_KIND)


def _paid(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "paid.csv"
    path.write_text("account_id,asset,units,reference\n" + text)
    return path


def test_a_fiat_plan_reconciles(por: Any, built: Path, tmp_path: Path) -> None:
    world = _make(por, built, tmp_path, FIAT)
    rows = list(csv.DictReader((world["P"] / "distributions.csv").open()))
    assert {r["asset"] for r in rows} >= {"BTC", "USD"}
    usd = next(r for r in rows if r["asset"] == "USD" and r["distribution_units"] != "0")
    paid = _paid(tmp_path, f"{usd['account_id']},USD,{usd['distribution_units']},BANK-1\n")
    res = por("insolvency", "payouts", "--plan", world["P"], "--paid", paid, "--no-store", "--json")
    assert res.rc == 0, res.err
    assert {a["asset"] for a in res.json()["assets"]} == {"USD"}


def _rewrite(plan_dir: Path, change: Any) -> None:
    """Rewrite distributions.csv, re-bind its sha256 and recompute the plan id (a forger
    holding the plan directory)."""
    path = plan_dir / "distributions.csv"
    rows = list(csv.DictReader(path.open()))
    change(rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue())
    plan = json.loads((plan_dir / "plan.json").read_text())
    plan["files"]["distributions.csv"] = hashlib.sha256(path.read_bytes()).hexdigest()
    plan["plan_id"] = compute_plan_id(plan)
    (plan_dir / "plan.json").write_text(json.dumps(plan))


def _halve_btc(rows: list[dict[str, str]]) -> None:
    for r in rows:
        if r["asset"] == "BTC":
            r["distribution_units"] = str(int(r["distribution_units"]) // 2)


def _drop_dave(rows: list[dict[str, str]]) -> None:
    rows[:] = [r for r in rows if r["account_id"] != "dave"]


def _extra_claim(rows: list[dict[str, str]]) -> None:
    rows.append(
        {"account_id": "zed", "asset": "BTC", "claim_units": "5", "distribution_units": "0"}
    )


@pytest.mark.parametrize(
    "change,named", [(_halve_btc, "BTC"), (_drop_dave, "USDT"), (_extra_claim, "BTC")]
)
def test_a_rewritten_distributions_file_is_refused_naming_the_asset(
    por: Any, in_kind: dict[str, Path], tmp_path: Path, change: Any, named: str
) -> None:
    _rewrite(in_kind["P"], change)
    paid = _paid(tmp_path, "alice,BTC,1,tx1\n")
    res = por("insolvency", "payouts", "--plan", in_kind["P"], "--paid", paid, "--no-store")
    assert res.rc == 3, res.err
    assert "distributions.csv" in res.err and named in res.err, res.err


@pytest.mark.parametrize("units", [" 1", "1 ", "\t1", "+1", "1_0"])
def test_paid_amounts_are_digits_only(
    por: Any, in_kind: dict[str, Path], tmp_path: Path, units: str
) -> None:
    paid = _paid(tmp_path, f'alice,BTC,"{units}",tx1\n')
    res = por("insolvency", "payouts", "--plan", in_kind["P"], "--paid", paid, "--no-store")
    assert res.rc == 3 and "line 2" in res.err and "digits only" in res.err, res.err


def test_history_lists_payout_runs(por: Any, in_kind: dict[str, Path], tmp_path: Path) -> None:
    """`por history` listed reconciliation runs only: payout runs now appear in its text,
    its JSON (`payout_runs`) and its page (a Payouts table)."""
    db = tmp_path / "por.db"
    paid = _paid(tmp_path, "alice,BTC,100000000,tx1\nalice,BTC,5,tx2\n")
    res = por("insolvency", "payouts", "--plan", in_kind["P"], "--paid", paid, "--db", db)
    assert res.rc == 1, res.err  # alice overpaid by 5 sat
    res = por("history", "--db", db, "--json")
    assert res.rc == 0, res.err
    (run,) = res.json()["payout_runs"]
    assert run["payments"] == 2 and run["consistent"] is False and run["exit_code"] == 1
    assert run["accounts"]["overpaid"] == 1
    res = por("history", "--db", db, "--html", tmp_path / "h.html")
    assert res.rc == 0, res.err
    assert "payout run 1" in res.out and "NOT consistent" in res.out
    page = (tmp_path / "h.html").read_text()
    assert "<h2>Payouts</h2>" in page and run["plan_id"][:19] in page
