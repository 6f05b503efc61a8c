"""`por reserve evaluate` through click's CliRunner: exit codes 0/1/3, tables, --json."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from verifier.cli.reserve import reserve
from verifier.reserve.pack_file import load_pack
from verifier.reserve.positions import inputs_from_statement
from verifier.reserve.rules import evaluate
from verifier.reserve.statement import load_statement

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "reserve"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(reserve, ["evaluate", *args], env={"COLUMNS": "250"})


@pytest.mark.parametrize(
    ("pack", "fixture", "code"),
    [
        ("jp-psa", "jp-psa-ok", 0),
        ("eu-mica", "eu-mica-worked", 0),
        ("jp-fsa-2026", "jp-fsa-2026-worked", 1),
        ("hk-sfc", "hk-sfc-worked", 1),
        ("eu-mica", "eu-mica-60-days", 1),
        ("ae-vara", "ae-vara-worked", 1),
        ("jp-psa", "jp-psa-non-cold-6pct", 1),
        ("jp-psa", "jp-psa-buffer-per-asset", 1),
    ],
)
def test_exit_codes(pack: str, fixture: str, code: int) -> None:
    result = invoke("--pack", pack, "--statement", str(FIXTURES / f"{fixture}.toml"))
    assert result.exit_code == code, result.output
    assert "not an audit" in result.output


def test_json_is_the_evaluation_document() -> None:
    path = FIXTURES / "jp-fsa-2026-worked.toml"
    result = invoke("--pack", "jp-fsa-2026", "--statement", str(path), "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    statement = load_statement(path)
    expected = evaluate(
        load_pack("jp-fsa-2026"),
        statement,
        inputs_from_statement(statement),
        as_of=date(2026, 1, 1),
    )
    assert doc.pop("format") == "por-reserve-evaluation-v1"
    assert doc == expected.to_json()
    assert set(doc) == {
        "pack",
        "required",
        "eligible",
        "currency",
        "shortfall",
        "surplus",
        "met",
        "checks",
        "parameters",
    }
    assert doc["pack"] == {
        "id": "jp-fsa-2026",
        "version": "2026.0-ph1",
        "name": doc["pack"]["name"],
        "currency": "JPY",
        "sources": doc["pack"]["sources"],  # the pack's [sources]: tests/unit/test_pack_sources.py
    }
    assert doc["pack"]["sources"] and all(
        set(s) == {"id", "title", "publisher", "date", "identifier"} for s in doc["pack"]["sources"]
    )
    assert doc["required"]["amount"] == "5061000000"
    assert set(doc["required"]) == {"amount", "formula", "terms"}
    assert set(doc["eligible"]) == {"total", "insurance_cap", "components"}
    assert doc["eligible"]["total"] == "4530500000"
    assert doc["shortfall"] == "530500000" and doc["met"] is False
    for component in doc["eligible"]["components"]:
        assert set(component) == {"kind", "name", "amount", "eligible", "gates"}
        for gate in component["gates"]:
            assert set(gate) == {"gate", "passed", "reason"}
    for check in doc["checks"]:
        assert set(check) == {"check", "passed", "value", "limit", "status", "reason"}
    for parameter in doc["parameters"]:
        assert set(parameter) == {"name", "value", "status", "source", "verified_on"}

    def no_floats(node: object) -> None:
        assert not isinstance(node, float)
        if isinstance(node, dict):
            for value in node.values():
                no_floats(value)
        if isinstance(node, list):
            for value in node:
                no_floats(value)

    no_floats(doc)


def test_tables_show_terms_failed_gates_checks_and_statuses() -> None:
    result = invoke("--pack", "eu-mica", "--statement", str(FIXTURES / "eu-mica-60-days.toml"))
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "Required reserve" in out and "6,000,000" in out
    assert "notice: 60 days' notice of cancellation < 90 (insurance_min_notice_days, LAW)" in out
    assert "SHORTFALL EUR 1,500,000" in out
    assert "coverage:BTC" in out
    assert "insurance_min_notice_days" in out and "LAW" in out


def test_set_override_and_as_of() -> None:
    path = str(FIXTURES / "jp-fsa-2026-worked.toml")
    result = invoke(
        "--pack", "jp-fsa-2026", "--statement", path, "--set", "buffer_credit=false", "--json"
    )
    assert json.loads(result.stdout)["required"]["amount"] == "14961000000"
    # on 2026-06-01 the MiCA policy has expired: the surplus becomes a shortfall
    result = invoke(
        "--pack",
        "eu-mica",
        "--statement",
        str(FIXTURES / "eu-mica-worked.toml"),
        "--as-of",
        "2026-06-01",
        "--json",
    )
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["shortfall"] == "1500000"
    gates = [g for c in doc["eligible"]["components"] for g in c["gates"] if not g["passed"]]
    assert [g["gate"] for g in gates] == ["in force"]


def test_custom_pack_path() -> None:
    pack = Path(__file__).resolve().parents[2] / "verifier" / "reserve" / "packs" / "hk-sfc.toml"
    result = invoke(
        "--pack", str(pack), "--statement", str(FIXTURES / "hk-sfc-worked.toml"), "--json"
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["shortfall"] == "125000000"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--pack", "jp-fsa-2099"), "known packs: ae-vara, eu-mica, hk-sfc, jp-fsa-2026, jp-psa"),
        (("--pack", "jp-psa", "--as-of", "31/03/2026"), "--as-of must be a date"),
        (("--pack", "jp-psa", "--set", "theta"), "NAME=VALUE"),
        (("--pack", "jp-psa", "--set", "nope=1"), "unknown parameter"),
        (("--pack", "jp-psa", "--set", "theta=1.5"), "between 0 and 1"),
    ],
)
def test_bad_flags_exit_3(args: tuple[str, ...], fragment: str) -> None:
    result = invoke(*args, "--statement", str(FIXTURES / "jp-psa-ok.toml"))
    assert result.exit_code == 3, result.output
    assert fragment in " ".join(result.output.split())


def test_bad_statement_exit_3_with_json_error(tmp_path: Path) -> None:
    text = (FIXTURES / "hk-sfc-worked.toml").read_text(encoding="utf-8")
    path = tmp_path / "bad.toml"
    path.write_text(
        text.replace('amount = "1500000000"', "amount = 1500000000.0"), encoding="utf-8"
    )
    result = invoke("--pack", "hk-sfc", "--statement", str(path), "--json")
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert doc["error"] == "InputError" and doc["exit_code"] == 3
    assert doc["file"] == str(path) and doc["key"] == "cash[0].amount"
    assert "write amounts as strings" in doc["message"]


def test_missing_statement_and_missing_holdings(tmp_path: Path) -> None:
    result = invoke("--pack", "jp-psa", "--statement", str(tmp_path / "absent.toml"))
    assert result.exit_code == 3 and "not found" in result.output
    path = tmp_path / "no-holdings.toml"
    path.write_text('currency = "JPY"\n', encoding="utf-8")
    result = invoke("--pack", "jp-psa", "--statement", str(path))
    assert result.exit_code == 3 and "[holdings]" in result.output


def test_usage_error_exit_2() -> None:
    result = invoke("--statement", str(FIXTURES / "jp-psa-ok.toml"))
    assert result.exit_code == 2


def test_example_statement_evaluates_under_every_pack() -> None:
    for pack in ("jp-psa", "jp-fsa-2026", "hk-sfc", "eu-mica", "ae-vara"):
        result = invoke("--pack", pack, "--statement", str(FIXTURES / "example.toml"), "--json")
        assert result.exit_code in (0, 1), result.output
        assert json.loads(result.stdout)["pack"]["id"] == pack


def test_group_runs_under_a_parent_group_without_standalone_mode() -> None:
    # the way `por` will call it: verifier.cli.main.main uses standalone_mode=False
    import click

    @click.group()
    def root() -> None:
        pass

    root.add_command(reserve)
    path = str(FIXTURES / "jp-fsa-2026-worked.toml")
    assert (
        root.main(
            ["reserve", "evaluate", "--pack", "jp-fsa-2026", "--statement", path, "--json"],
            standalone_mode=False,
        )
        == 1
    )
    assert (
        root.main(
            [
                "reserve",
                "evaluate",
                "--pack",
                "jp-psa",
                "--statement",
                str(FIXTURES / "jp-psa-ok.toml"),
                "--json",
            ],
            standalone_mode=False,
        )
        == 0
    )
    assert (
        root.main(
            ["reserve", "evaluate", "--pack", "nope", "--statement", path], standalone_mode=False
        )
        == 3
    )
