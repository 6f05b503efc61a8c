"""Smaller findings of an outside tester in `por insolvency` (issue 15): the plan table rounded
ETH to 8 decimals, `proof --out` replaced an existing file without --force, an unknown
account did not name the tree, and verify showed currency amounts in minor units.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cli.test_insolvency_verify import MIXED, _make


def test_the_plan_table_shows_every_digit(por: Any, built: Path, tmp_path: Path) -> None:
    world = _make(por, built, tmp_path, MIXED)
    (tmp_path / "again").mkdir()
    res = por(
        "insolvency", "plan", "--claims", world["D"], "--estate", tmp_path / "estate.toml",
        "--out", tmp_path / "again" / "P",
    )  # fmt: skip
    assert res.rc == 0, res.err
    # T of ETH: alice's 2000000000000000001 wei plus carol's 340282366920938463463374607431
    assert "340,282,366,922.938463463374607432" in res.out, res.out  # 8 decimals hid the last 10


def test_proof_out_needs_force_and_an_unknown_account_names_the_tree(
    por: Any, built: Path, tmp_path: Path
) -> None:
    world = _make(por, built, tmp_path, MIXED)
    bundle = world["bundles"] / "alice.json"
    before = bundle.read_bytes()
    args = ["insolvency", "proof", "--plan", world["P"], "--claims", world["D"]]
    res = por(*args, "--account", "bob", "--out", bundle)
    assert res.rc == 2 and "--force" in res.err, res.err
    assert bundle.read_bytes() == before
    assert por(*args, "--account", "bob", "--out", bundle, "--force").rc == 0
    assert bundle.read_bytes() != before
    res = por(*args, "--account", "zed", "--out", tmp_path / "zed.json")
    assert res.rc == 3 and "zed" in res.err and str(world["D"] / "tree") in res.err, res.err


def test_verify_shows_the_currency_in_whole_units(por: Any, built: Path, tmp_path: Path) -> None:
    world = _make(por, built, tmp_path, MIXED)
    res = por(
        "insolvency", "verify", world["bundles"] / "dave.json", "--plan", world["P"] / "plan.json",
        "--json",
    )  # fmt: skip
    assert res.rc == 0, res.err
    doc = res.json()
    assert doc["decimals"]["USD"] == 2 and doc["decimals"]["ETH"] == 18
    usd = int(doc["distribution"]["USD"])
    res = por(
        "insolvency", "verify", world["bundles"] / "dave.json", "--plan", world["P"] / "plan.json"
    )
    whole = f"{usd // 100}.{usd % 100:02d}".rstrip("0").rstrip(".")
    assert f"USD: claim -, distribution {whole}" in res.out, res.out
