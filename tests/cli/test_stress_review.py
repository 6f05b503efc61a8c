"""`por stress` after an outside review (issue 14): what the tester found, each pinned.

--html is never an input (every file the config names, its key, the database, the files
given), the statement given is the one whose cash pays, a report whose id is not its digest is
refused, and the terminal names losses that back no customer.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

from stress_fixture import STATEMENT, report

from verifier.report.document import report_digest

CONFIG = """
[exchange]
name = "Test Exchange"
attestation_id = "a-1"

[bitcoin]
backend = "bcoin"
url = "http://127.0.0.1:9"
network = "regtest"

[liabilities]
root = "tree/root.json"

[prices]
file = "prices.toml"

[reserve]
statement = "statement.toml"

[attest]
key_file = "keys/attest.key"

[stress]
scenarios = "scenarios.toml"
"""

SCENARIO = """[[scenarios]]
id = "hot-eth"
title = "40% of the hot ETH wallet"
description = "Paid from cash."
[[scenarios.shocks]]
kind = "loss"
vendor = "vaultsoft"
asset = "ETH"
share = "0.4"
"""


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    """A config dir whose every named file exists, holding known bytes."""
    (tmp_path / "por.toml").write_text(CONFIG)
    (tmp_path / "tree").mkdir()
    (tmp_path / "keys").mkdir()
    doc = report()
    doc["report_id"] = report_digest(doc)
    files = {
        "config": tmp_path / "por.toml",
        "root": tmp_path / "tree" / "root.json",
        "prices": tmp_path / "prices.toml",
        "statement": tmp_path / "statement.toml",
        "key": tmp_path / "keys" / "attest.key",
        "scenarios": tmp_path / "scenarios.toml",
        "db": tmp_path / "por.db",
        "report": tmp_path / "report.json",
        "other_db": tmp_path / "other.db",
    }
    for name in ("root", "prices", "key", "db", "other_db"):
        files[name].write_text(f"{name} bytes")
    files["statement"].write_text(STATEMENT.replace("{limit_type}", "per_occurrence"))
    files["scenarios"].write_text(SCENARIO)
    files["report"].write_text(json.dumps(doc))
    return files


def _stress(world: dict[str, Path], *more: Any) -> list[Any]:
    return ["stress", "--config", world["config"], "--report", world["report"],
            "--scenario", world["scenarios"], *more]  # fmt: skip


@pytest.mark.parametrize(
    "target", ["config", "root", "prices", "statement", "key", "scenarios", "db", "report"]
)
def test_html_is_never_an_input(por: Any, world: dict[str, Path], target: str) -> None:
    before = {name: path.read_bytes() for name, path in world.items()}
    r = por(*_stress(world, "--html", world[target]))
    assert r.rc == 2, (r.out, r.err)
    assert "refusing to overwrite" in r.err_flat and str(world[target]) in r.err_flat
    assert {name: path.read_bytes() for name, path in world.items()} == before


def test_html_through_a_symlink_or_dotdot_is_refused(
    por: Any, world: dict[str, Path], tmp_path: Path
) -> None:
    link = tmp_path / "page.html"
    link.symlink_to(world["key"])
    assert por(*_stress(world, "--html", link)).rc == 2
    dotted = tmp_path / "tree" / ".." / "por.db"
    assert por(*_stress(world, "--html", dotted)).rc == 2
    assert world["key"].read_text() == "key bytes" and world["db"].read_text() == "db bytes"


def test_html_is_not_the_db_of_db_or_the_environment(
    por: Any, world: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    r = por(*_stress(world, "--db", world["other_db"], "--html", world["other_db"]))
    assert r.rc == 2 and "history database" in r.err_flat
    monkeypatch.setenv("POR_DATABASE_URL", f"sqlite:///{world['other_db']}")
    assert por(*_stress(world, "--html", world["other_db"])).rc == 2
    assert world["other_db"].read_text() == "other_db bytes"


def test_html_parent_is_created_as_reconcile_does(
    por: Any, world: dict[str, Path], tmp_path: Path
) -> None:
    # `por reconcile --html` (verifier/report/html.py write_html) creates a missing parent
    # directory; `por stress --html` writes the same way
    page = tmp_path / "new" / "dir" / "stress.html"
    r = por(*_stress(world, "--html", page))
    assert r.rc == 0, r.err
    assert page.read_text().startswith("<!DOCTYPE html>") or "<html" in page.read_text()
    assert not any(p.name.startswith(".stress.html") for p in page.parent.iterdir())
    assert os.stat(page).st_size > 0


@pytest.mark.parametrize(
    "report_id", ["test", "SHA256:abc", "sha256:abc", "", None, 7, "sha256:" + "0" * 64, "upper"]
)
def test_a_report_id_not_its_digest_is_refused(
    por: Any, world: dict[str, Path], report_id: Any
) -> None:
    doc = json.loads(world["report"].read_text())
    doc["assets"][0]["liabilities"]["base_units"] = "1"  # edited after it was made
    if report_id == "upper":
        report_id = report_digest(doc).upper()
    if report_id is None:
        del doc["report_id"]
    else:
        doc["report_id"] = report_id
    world["report"].write_text(json.dumps(doc))
    r = por(*_stress(world))
    assert r.rc == 3, r.err
    assert "edited after it was made or not a por report" in r.err_flat
    assert "report_id" in r.err_flat


def _cash_payers(doc: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["available"] for p in doc["scenarios"][0]["payers"] if p["kind"] == "cash"}


def _recorded(world: dict[str, Path]) -> None:
    """The report as made from the world's statement (its SHA-256 recorded)."""
    doc = json.loads(world["report"].read_text())
    digest = hashlib.sha256(world["statement"].read_bytes()).hexdigest()
    doc["input_hashes"] = {"statement": digest}
    doc["report_id"] = report_digest(doc)
    world["report"].write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("edit", "cash"),
    [
        (lambda t: t, {"trust": "5000"}),  # the report's own statement: its evaluation
        (lambda t: t.replace('amount = "5000"', 'amount = "50"'), {"trust": "50"}),
        (lambda t: t.replace('name = "trust"', 'name = "other"'), {"other": "5000"}),
        (lambda t: t.replace("on_trust = true", "on_trust = false"), {}),  # not eligible
    ],
)
def test_cash_comes_from_the_statement_modelled(
    por: Any, world: dict[str, Path], tmp_path: Path, edit: Any, cash: dict[str, str]
) -> None:
    _recorded(world)
    given = tmp_path / "given.toml"
    given.write_text(edit(world["statement"].read_text()))
    r = por(*_stress(world, "--statement", given, "--json"))
    assert r.rc in (0, 1), r.err
    doc = r.json()
    assert _cash_payers(doc) == cash
    differs = given.read_bytes() != world["statement"].read_bytes()
    assert any("not the one the report evaluated" in w for w in doc["warnings"]) == differs


def test_a_statement_with_less_cash_pays_less(
    por: Any, world: dict[str, Path], tmp_path: Path
) -> None:
    # 40% of the hot ETH wallet = 4,000 JPY: the report's statement (cash 5,000) pays it at
    # once; a statement holding 50 pays 50, and the rest comes later (not at once)
    _recorded(world)
    given = tmp_path / "given.toml"
    given.write_text(world["statement"].read_text().replace('amount = "5000"', 'amount = "50"'))
    s = por(*_stress(world, "--statement", given, "--json")).json()["scenarios"][0]
    paid = {p["name"]: p["paid"] for p in s["payers"]}
    assert paid["trust"] == "50"
    assert s["time_to_pay_days"] != 0


def test_a_pack_that_cannot_be_found_is_exit_3(
    por: Any, world: dict[str, Path], tmp_path: Path
) -> None:
    doc = json.loads(world["report"].read_text())
    doc["rule_pack"]["id"] = "my-own-pack"
    doc["report_id"] = report_digest(doc)
    world["report"].write_text(json.dumps(doc))
    r = por("stress", "--report", world["report"], "--statement", world["statement"],
            "--scenario", world["scenarios"])  # fmt: skip
    assert r.rc == 3 and "rule_pack.id" in r.err_flat and "my-own-pack" in r.err_flat


@pytest.mark.parametrize("inputs", [None, "x", {"currency": "JPY"}, {"currency": 7}])
def test_hostile_reserve_inputs_are_exit_3(por: Any, world: dict[str, Path], inputs: Any) -> None:
    doc = json.loads(world["report"].read_text())
    doc["reserve_inputs"] = inputs
    doc["report_id"] = report_digest(doc)
    world["report"].write_text(json.dumps(doc))
    r = por(*_stress(world))
    assert r.rc == 3 and "reserve_inputs" in r.err_flat, r.err
