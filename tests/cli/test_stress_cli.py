"""`por stress` end to end on the hand-made report of tests/unit/stress_fixture.py: exit
codes, the por-stress-v1 document's figures, the report's id checked, the database source,
the terminal within 80 columns."""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

from stress_fixture import STATEMENT, report

from verifier.base.console import PorConsole
from verifier.report.document import report_digest
from verifier.stress.terminal import render_stress

HOT_ETH = """[[scenarios]]
id = "hot-eth"
title = "40% of the hot ETH wallet"
description = "Paid from cash."
[[scenarios.shocks]]
kind = "loss"
vendor = "vaultsoft"
asset = "ETH"
share = "0.4"
"""
COLD_ETH = """[[scenarios]]
id = "cold-eth"
title = "Half the cold ETH"
description = "Beyond everything."
[[scenarios.shocks]]
kind = "loss"
wallet = "ethereum.wallets[0]"
share = "0.5"
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    doc = report()
    doc["report_id"] = report_digest(doc)
    out = {
        "report": tmp_path / "report.json",
        "statement": tmp_path / "statement.toml",
        "ok": tmp_path / "ok.toml",
        "short": tmp_path / "short.toml",
    }
    out["statement"].write_text(STATEMENT.replace("{limit_type}", "per_occurrence"))
    # the report evaluated this statement (por stress then takes its evaluation's cash)
    doc["input_hashes"] = {"statement": hashlib.sha256(out["statement"].read_bytes()).hexdigest()}
    doc["report_id"] = report_digest(doc)
    out["report"].write_text(json.dumps(doc))
    out["ok"].write_text(HOT_ETH)
    out["short"].write_text(HOT_ETH + COLD_ETH)
    return out


def args(files: dict[str, Path], scenario: str, *more: Any) -> list[Any]:
    return ["stress", "--report", files["report"], "--statement", files["statement"],
            "--scenario", files[scenario], *more]  # fmt: skip


def test_made_whole_is_exit_0_with_hand_figures(por: Any, files: dict[str, Path]) -> None:
    r = por(*args(files, "ok"), "--json")
    assert r.rc == 0, r.err
    doc = r.json()
    assert doc["stress"] == "por-stress-v1" and doc["made_whole"] is True
    s = doc["scenarios"][0]
    eth = next(a for a in s["assets"] if a["code"] == "ETH")
    assert eth["loss_units"] == str(40 * 10**18) and eth["loss_value"] == "4000"
    assert eth["uncovered_units"] == "0" and eth["coverage_after"] == "1"
    cash = next(p for p in s["payers"] if p["kind"] == "cash")
    assert cash["paid"] == "4000" and cash["available"] == "5000"
    assert s["time_to_pay_days"] == 0 and s["wallets_lost"][0]["vendor"] == "vaultsoft"
    assert "not a prediction" in doc["statement_note"]


def test_a_scenario_short_is_exit_1(por: Any, files: dict[str, Path]) -> None:
    r = por(*args(files, "short"), "--json")
    assert r.rc == 1
    short = r.json()["scenarios"][1]
    assert short["made_whole"] is False and short["uncovered_value"] == "10000"


def test_sweep_alone(por: Any, files: dict[str, Path]) -> None:
    r = por("stress", "--report", files["report"], "--statement", files["statement"],
            "--sweep", "--json")  # fmt: skip
    assert r.rc == 0
    sweep = r.json()["sweep"]
    assert sweep["wallets"][0]["key"] == "ethereum.wallets[0]"
    assert sweep["wallets"][0]["absorbable_value"] == "35000"
    assert [v["vendor"] for v in sweep["vendors"]] == ["signco", "vaultsoft"]


def test_usage_and_bad_inputs(por: Any, files: dict[str, Path], tmp_path: Path) -> None:
    assert por("stress", "--report", files["report"]).rc == 2
    assert por(*args(files, "ok"), "--html", files["report"]).rc == 2
    doc = json.loads(files["report"].read_text())
    doc["assets"][0]["liabilities"]["base_units"] = "1"  # edited after it was made
    files["report"].write_text(json.dumps(doc))
    r = por(*args(files, "ok"))
    assert r.rc == 3 and "report_id does not match" in r.err_flat


def test_statement_not_the_reports_is_a_warning(por: Any, files: dict[str, Path]) -> None:
    doc = json.loads(files["report"].read_text())
    doc["input_hashes"] = {"statement": "0" * 64}
    doc["report_id"] = report_digest(doc)
    files["report"].write_text(json.dumps(doc))
    r = por(*args(files, "ok"), "--json")
    assert r.rc == 0 and any("not the one the report evaluated" in w for w in r.json()["warnings"])


def test_database_without_runs_is_exit_3(por: Any, files: dict[str, Path], tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    assert por("db", "upgrade", "--db", db).rc == 0
    r = por("stress", "--db", db, "--scenario", files["ok"], "--statement", files["statement"])
    assert r.rc == 3 and "no reconciliation yet" in r.err_flat


def test_terminal_fits_80_columns(
    por: Any, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = por(*args(files, "short"), "--sweep", "--json").json()
    monkeypatch.delenv("COLUMNS")  # tests/cli/conftest.py sets a huge one
    buffer = io.StringIO()
    console = PorConsole(file=buffer, highlight=False, soft_wrap=True)
    assert console.width == 80
    render_stress(doc, console)
    text = buffer.getvalue()
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "NOT made whole" in text and "cold-eth" in text


def test_listed_in_help(por: Any) -> None:
    assert "stress" in por("--help").out
