"""`por insolvency plan` end to end on the sample tree (tests/cli/conftest.py `built`), its
figures by hand, its files and modes, and the customer's check of every distribution.

Claims (fixtures/liabilities/sample.csv): BTC alice 150000000, bob 1, erin 2100000000 sat
(T = 2250000001); ETH alice 2000000000000000001, carol 340282366920938463463374607431 wei;
USDT alice 100000000, bob 500000, dave 12345678123456.

In kind with 15 BTC (D = 1500000000): x·D / T gives alice 99999999 r 2150000001, bob 0 r
1500000000, erin 1399999999 r 850000001 (99999999 × 2250000001 = 224999997849999999, and
1399999999 × 2250000001 = 3149999999149999999); floors 1499999998, R = 2: alice and bob get
one more. ETH is held in full (surplus), USDT not at all.
"""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path

import pytest

from tests.cli.insolvency_world import (
    IN_KIND,
    MIXED,
    make_claims,
    minimal_mst,
    por_fixture_runner,
)
from verifier.insolvency.plan_doc import plan_id

ESTATE = IN_KIND
mm = minimal_mst()


@pytest.fixture
def claims(por, built: Path, tmp_path: Path) -> Path:
    return make_claims(por_fixture_runner(por), built, tmp_path / "claims")


def _plan(por, claims: Path, tmp_path: Path, text: str = ESTATE, *extra: object):
    estate = tmp_path / "estate.toml"
    estate.write_text(text)
    return por("insolvency", "plan", "--claims", claims, "--estate", estate, *extra)


def test_in_kind_by_hand(por, claims: Path, tmp_path: Path) -> None:
    res = _plan(por, claims, tmp_path, ESTATE, "--out", tmp_path / "P", "--json")
    assert res.rc == 0, res.err
    summary = json.loads(res.out)
    doc = json.loads((tmp_path / "P" / "plan.json").read_text())
    assert summary["plan_id"] == doc["plan_id"] == plan_id(doc)
    btc, eth, usdt = doc["assets"]
    assert (btc["total_claims"], btc["available"], btc["distributable"]) == (
        "2250000001", "1500000000", "1500000000",
    )  # fmt: skip
    assert btc["remainder"]["units"] == "2"
    assert btc["remainder"]["cutoff"]["remainder"] == "1500000000"  # bob's
    assert btc["ratio"] == {"exact": "1500000000/2250000001", "percent": "66.66%"}
    assert eth["distributable"] == eth["total_claims"] and eth["surplus"] == "61536536625392568"
    assert (usdt["distributable"], usdt["distributed_total"]) == ("0", "0")
    assert doc["fiat"] is None and doc["valuation"] is None
    assert doc["distribution"]["totals"] == {
        "BTC": "1500000000",
        "ETH": "340282366922938463463374607432",
        "USDT": "0",
    }
    rows = list(csv.DictReader((tmp_path / "P" / "distributions.csv").open()))
    paid = {(r["account_id"], r["asset"]): int(r["distribution_units"]) for r in rows}
    assert paid[("alice", "BTC")] == 100000000
    assert paid[("bob", "BTC")] == 1
    assert paid[("erin", "BTC")] == 1399999999
    assert paid[("carol", "ETH")] == 340282366920938463463374607431
    assert paid[("dave", "USDT")] == 0


def test_files_are_private_and_the_tree_is_new(por, claims: Path, tmp_path: Path) -> None:
    assert _plan(por, claims, tmp_path, ESTATE, "--out", tmp_path / "P").rc == 0
    plan_dir = tmp_path / "P"
    for name in ("distributions.csv", "distributions.parquet", "tree/secret.key"):
        assert stat.S_IMODE((plan_dir / name).stat().st_mode) == 0o600, name
    assert (plan_dir / "tree" / "secret.key").read_text() != (
        claims / "tree" / "secret.key"
    ).read_text()
    doc = json.loads((plan_dir / "plan.json").read_text())
    assert doc["distribution"]["attestation_id"] == "att-2025-06/claims/distribution"
    secret = (plan_dir / "tree" / "secret.key").read_text().strip()
    assert secret not in (plan_dir / "plan.json").read_text()
    assert "alice" not in (plan_dir / "plan.json").read_text()


@pytest.mark.parametrize("estate", [ESTATE, MIXED])
def test_every_customer_checks_their_distribution(
    por, claims: Path, tmp_path: Path, estate: str
) -> None:
    assert _plan(por, claims, tmp_path, estate, "--out", tmp_path / "P").rc == 0
    root = json.loads((tmp_path / "P" / "tree" / "root.json").read_text())
    for account in ("alice", "bob", "carol", "dave", "erin"):
        bundle = tmp_path / f"{account}.json"
        res = por(
            "insolvency", "proof", "--plan", tmp_path / "P", "--claims", claims,
            "--account", account, "--out", bundle,
        )  # fmt: skip
        assert res.rc == 0, res.err
        res = por("insolvency", "verify", bundle, "--plan", tmp_path / "P" / "plan.json")
        assert res.rc == 0, res.out + res.err
        # the independent minimal verifier accepts the distribution proof too
        proof = json.loads(bundle.read_text())["distribution"]
        assert mm.verify(proof, root_document=root)


def test_mixed_tops_up_in_fiat(por, claims: Path, tmp_path: Path) -> None:
    res = _plan(por, claims, tmp_path, MIXED, "--out", tmp_path / "P", "--json")
    assert res.rc == 0, res.err
    doc = json.loads((tmp_path / "P" / "plan.json").read_text())
    fiat = doc["fiat"]
    # pool: reserve 1000 USD = 100000 cents; unpaid: alice 0.5 BTC + 100 USDT, bob 0.5
    # USDT, dave 12345678.123456 USDT, erin 7.00000001 BTC: far more than the pool
    assert (fiat["pool"], fiat["distributable"], fiat["distributed_total"]) == (
        "100000", "100000", "100000",
    )  # fmt: skip
    assert fiat["basis"] == "unpaid value" and fiat["currency"] == "USD"
    assert [a["code"] for a in doc["distribution"]["root"]["assets"]] == [
        "BTC", "ETH", "USD", "USDT",
    ]  # fmt: skip


def test_policy_flag_overrides_the_estate(por, claims: Path, tmp_path: Path) -> None:
    res = _plan(por, claims, tmp_path, MIXED, "--policy", "fiat", "--out", tmp_path / "P")
    assert res.rc == 0, res.err
    doc = json.loads((tmp_path / "P" / "plan.json").read_text())
    assert doc["policy"] == "fiat" and not any(a["in_kind"] for a in doc["assets"])
    assert [a["code"] for a in doc["distribution"]["root"]["assets"]] == ["USD"]


def test_fiat_without_prices_is_refused(por, claims: Path, tmp_path: Path) -> None:
    res = _plan(por, claims, tmp_path, ESTATE, "--policy", "fiat", "--out", tmp_path / "P")
    assert res.rc == 3 and "valuation" in res.err
    assert not (tmp_path / "P").exists()


def test_outputs_that_would_destroy_an_input_are_refused(por, claims: Path, tmp_path: Path) -> None:
    for out in (claims, claims / "sub", tmp_path):
        res = _plan(por, claims, tmp_path, ESTATE, "--out", out, "--force")
        assert res.rc == 2, (out, res.err)
    assert (claims / "claims.json").is_file()


def test_force_replaces_an_old_plan(por, claims: Path, tmp_path: Path) -> None:
    assert _plan(por, claims, tmp_path, ESTATE, "--out", tmp_path / "P").rc == 0
    assert _plan(por, claims, tmp_path, ESTATE, "--out", tmp_path / "P").rc == 3
    assert _plan(por, claims, tmp_path, ESTATE, "--out", tmp_path / "P", "--force").rc == 0


def test_a_tampered_claims_tree_is_exit_3(por, claims: Path, tmp_path: Path) -> None:
    level = claims / "tree" / "tree" / "level-00.bin"
    data = bytearray(level.read_bytes())
    data[40] ^= 1  # a leaf's sums: the leaf level no longer hashes to the root
    level.write_bytes(bytes(data))
    res = _plan(por, claims, tmp_path, ESTATE, "--out", tmp_path / "P")
    assert res.rc == 3 and "does not hash to root.json" in res.err
    assert not (tmp_path / "P").exists()


def test_an_edited_claims_document_is_exit_3(por, claims: Path, tmp_path: Path) -> None:
    doc = json.loads((claims / "claims.json").read_text())
    doc["assets"][0]["total_units"] = "1"
    (claims / "claims.json").write_text(json.dumps(doc))
    res = _plan(por, claims, tmp_path, ESTATE, "--out", tmp_path / "P")
    assert res.rc == 3


def test_the_terminal_summary(por, claims: Path, tmp_path: Path) -> None:
    res = _plan(por, claims, tmp_path, MIXED, "--out", tmp_path / "P")
    assert res.rc == 0, res.err
    assert "Distribution plan (mixed)" in res.out and "plan id" in res.out


def test_same_inputs_same_figures_and_exports(por, claims: Path, tmp_path: Path) -> None:
    # the distribution tree has a new secret each run (so a new root and plan_id); every
    # figure and both exports are the same bytes
    docs = []
    for out in ("P1", "P2"):
        assert _plan(por, claims, tmp_path, MIXED, "--out", tmp_path / out).rc == 0
        docs.append(json.loads((tmp_path / out / "plan.json").read_text()))
    for key in ("assets", "fiat", "estate", "claims", "valuation", "files", "rules_text"):
        assert docs[0][key] == docs[1][key], key
    assert docs[0]["distribution"]["totals"] == docs[1]["distribution"]["totals"]
    assert (tmp_path / "P1" / "distributions.csv").read_bytes() == (
        tmp_path / "P2" / "distributions.csv"
    ).read_bytes()
