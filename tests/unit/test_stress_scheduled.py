"""`[stress]` in scheduled runs (issue 14): each stored run evaluates the scenario file, stores
one row per scenario, alerts once when a scenario stops making every customer whole, and a
bad scenario file never loses the run.

The scenarios are evaluated for real (verifier/jobs/stress_run.py on the hand-made report of
tests/unit/stress_fixture.py); the reconciliation is a stand-in, as in test_schedule.py.
Hand figures: BTC owed 100 at 1,000 JPY. "hot-btc" drains the 10 BTC hot wallet with the
cash frozen, the insurer and the guarantor not paying: only BTC's own surplus pays. Held 110:
surplus 10 BTC absorbs it (made whole, 0 uncovered, paid at once). Held 105: surplus 5 BTC,
5 BTC x 1,000 = 5,000 JPY uncovered.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import stress_fixture as fx
from postgres_fixtures import WebhookReceiver, sample_report
from prom_fixtures import sample

from verifier.base.errors import InputError
from verifier.history.alerts import Alert, render_payload, stress_alerts
from verifier.history.records import StressHistory
from verifier.history.schedule import RunOptions, run_once, run_summary
from verifier.history.store import Store
from verifier.history.view import history_json, render_history_html, stress_line
from verifier.inputs.config import load_config
from verifier.inputs.config_values import StressConfig
from verifier.jobs.stress_run import StressOutcome, scheduled_stress

SCENARIOS = """
[[scenarios]]
id = "hot-btc"
title = "The Bitcoin hot wallet drained, nothing else pays"
description = "Only the asset's own surplus pays."

[[scenarios.shocks]]
kind = "loss"
label = "hot"
chain = "bitcoin"

[[scenarios.shocks]]
kind = "cash_frozen"
cash = "trust"

[[scenarios.shocks]]
kind = "insurer_default"
policy = "crime"
pays = "none"

[[scenarios.shocks]]
kind = "guarantee_default"
guarantee = "standby"

[[scenarios]]
id = "ghost"
title = "A vendor no wallet names"
description = "Selects no wallet: an error of this scenario only."

[[scenarios.shocks]]
kind = "loss"
vendor = "nobody"
"""

CONFIG = """
[exchange]
name = "Demo"
attestation_id = "a-1"

[bitcoin]
backend = "bcoin"
url = "http://127.0.0.1:9"
network = "regtest"

[alerts]
retries = 0

[stress]
scenarios = "scenarios.toml"
"""


def _stress(path: Path | StressConfig, btc_held: int) -> Any:
    return scheduled_stress(
        path if isinstance(path, StressConfig) else StressConfig(scenarios=path),
        fx.report(btc_held=btc_held),
        fx.statement(),
        statement_sha256=None,
        generated_at="2026-06-01T00:00:00Z",
    )


def test_hand_figures_of_one_run(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(SCENARIOS)
    covered = _stress(tmp_path / "s.toml", 110 * fx.BTC)
    hot, ghost = covered.outcomes
    assert (hot.scenario_id, hot.made_whole, hot.uncovered_value, hot.time_to_pay_days) == (
        "hot-btc",
        True,
        Decimal(0),
        0,
    )
    assert ghost.scenario_id == "ghost" and ghost.made_whole is None
    assert "scenarios[1].shocks[0]" in (ghost.error or "") and "no wallet" in (ghost.error or "")
    assert covered.made_whole is None  # one scenario could not be said
    assert covered.document is not None
    assert [s["id"] for s in covered.document["scenarios"]] == ["hot-btc"]
    short = _stress(tmp_path / "s.toml", 105 * fx.BTC).outcomes[0]
    assert (short.made_whole, short.uncovered_value) == (False, Decimal(5000))
    summary = _stress(tmp_path / "s.toml", 105 * fx.BTC).summary()
    assert summary["made_whole"] is False and summary["error"] is None
    assert summary["scenarios"][0]["uncovered_value"] == "5000"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[[scenarios]]\nid = 1\n", "scenarios[0].id"),
        ("scenario = []\n", "scenario"),
        ("not toml [", None),
    ],
)
def test_a_bad_file_is_one_outcome_with_its_error(tmp_path: Path, text: str, key: str) -> None:
    (tmp_path / "s.toml").write_text(text)
    run = _stress(tmp_path / "s.toml", 110 * fx.BTC)
    (only,) = run.outcomes
    assert only.scenario_id is None and only.made_whole is None
    assert str(tmp_path / "s.toml") in (only.error or "")
    if key is not None:
        assert key in (only.error or "")
    assert run.file_error == only.error and run.document is None
    assert run.summary()["made_whole"] is None


def test_a_missing_file_is_one_outcome(tmp_path: Path) -> None:
    (only,) = _stress(tmp_path / "absent.toml", 110 * fx.BTC).outcomes
    assert only.scenario_id is None and "absent.toml" in (only.error or "")


def _world(tmp_path: Path, scenarios: str = SCENARIOS) -> tuple[RunOptions, list[int]]:
    (tmp_path / "por.toml").write_text(CONFIG)
    (tmp_path / "scenarios.toml").write_text(scenarios)
    held: list[int] = []
    return RunOptions(config_file=tmp_path / "por.toml", env={}), held


def _fake(held: list[int]) -> Any:
    def reconcile(config: Any) -> Any:
        return SimpleNamespace(
            report=sample_report(),
            exit_code=0,
            stress=_stress(config.stress, held.pop(0)),
        )

    return reconcile


def test_one_alert_per_flip_and_every_outcome_stored(tmp_path: Path) -> None:
    options, held = _world(tmp_path)
    receiver = WebhookReceiver()
    metrics = tmp_path / "por.prom"
    options = RunOptions(
        config_file=options.config_file, env={}, webhook=receiver.url, metrics_file=metrics
    )
    btc = [110, 110, 105, 105, 110, 105]
    held.extend(b * fx.BTC for b in btc)
    try:
        results = [run_once(options, _fake(held)) for _ in btc]
    finally:
        receiver.close()
    kinds = [[(a.kind, a.subject) for a in r.alerts] for r in results]
    assert kinds == [
        [("stress_error", "ghost")],  # the first run: ghost cannot be evaluated
        [],  # the same error again: silent
        [("stress", "hot-btc")],  # made whole -> short
        [],  # still short: silent
        [],  # whole again
        [("stress", "hot-btc")],  # short again: a new flip
    ]
    assert all(r.exit_code == 0 for r in results)  # scenarios never change the run's code
    message = results[2].alerts[0].message
    assert "JPY 5,000.00 uncovered" in message and "no longer makes every customer whole" in message
    sent = [a["kind"] for d in receiver.received for a in d["alerts"]]
    assert sent == ["stress_error", "stress", "stress"]
    runs = Store(f"sqlite:///{tmp_path / 'por.db'}").runs()
    assert [[o.scenario_id for o in r.stress] for r in runs] == [["hot-btc", "ghost"]] * 6
    assert [r.stress[0].made_whole for r in runs] == [True, True, False, False, True, False]
    assert runs[2].stress[0].uncovered_value == Decimal(5000)
    line = run_summary(results[2])["stress"]
    assert line["made_whole"] is False and line["file"].endswith("scenarios.toml")
    assert [s["scenario_id"] for s in line["scenarios"]] == ["hot-btc", "ghost"]
    text = metrics.read_text()
    assert sample(text, "por_stress_made_whole", scenario="hot-btc") == 0
    assert sample(text, "por_stress_uncovered_value", scenario="hot-btc", currency="JPY") == 5000
    assert sample(text, "por_stress_errors") == 1
    assert sample(text, "por_stress_made_whole", scenario="ghost") is None


def test_a_bad_scenario_file_never_loses_the_run(tmp_path: Path) -> None:
    options, held = _world(tmp_path, "[[scenarios]]\nid = 1\n")
    held.extend([110 * fx.BTC] * 3)
    first = run_once(options, _fake(held))
    assert first.exit_code == 0 and first.run is not None and first.run.status == "ok"
    assert [a.kind for a in first.alerts] == ["stress_error"]
    assert first.alerts[0].subject == "scenarios" and "scenarios[0].id" in first.alerts[0].message
    assert run_once(options, _fake(held)).alerts == []  # already an error: silent
    (options.config_file.parent / "scenarios.toml").write_text(SCENARIOS)
    fixed = run_once(options, _fake(held))
    assert [a.kind for a in fixed.alerts] == ["stress_error"]  # ghost: a new error
    runs = Store(f"sqlite:///{tmp_path / 'por.db'}").runs()
    assert [r.stress[0].scenario_id for r in runs] == [None, None, "hot-btc"]
    assert "scenarios[0].id" in (runs[0].stress[0].error or "")


def _o(sid: str | None, whole: bool | None, error: str | None = None) -> StressOutcome:
    return StressOutcome(sid, None, whole, None if whole is None else Decimal(0), 0, error)


@pytest.mark.parametrize(
    ("outcomes", "earlier", "expected"),
    [
        ([_o("a", False)], StressHistory(), [("stress", "a")]),  # no earlier row
        ([_o("a", False)], StressHistory({"a": True}), [("stress", "a")]),
        ([_o("a", False)], StressHistory({"a": False}), []),  # stays short
        ([_o("a", True)], StressHistory({"a": False}), []),  # recovered: no alert
        ([_o("a", None, "x")], StressHistory(), [("stress_error", "a")]),
        ([_o("a", None, "x")], StressHistory(previous_errors=frozenset({"a"})), []),
        (
            [_o(None, None, "x")],
            StressHistory(previous_errors=frozenset({"a"})),
            [("stress_error", "scenarios")],
        ),
        ([_o(None, None, "x")], StressHistory(previous_errors=frozenset({None})), []),
    ],
)
def test_stress_alert_rules(
    outcomes: list[StressOutcome], earlier: StressHistory, expected: list[tuple[str, str]]
) -> None:
    assert [(a.kind, a.subject) for a in stress_alerts(outcomes, earlier, "JPY")] == expected


def test_the_three_payload_shapes_carry_a_stress_alert(tmp_path: Path) -> None:
    options, held = _world(tmp_path)
    held.append(105 * fx.BTC)
    run = run_once(options, _fake(held)).run
    assert run is not None
    alert = Alert("stress", "hot-btc", "scenario hot-btc no longer makes every customer whole")
    generic = render_payload("generic", run, [alert], exchange="Demo", database="db")
    assert generic["alerts"] == [alert.to_json()]
    (am,) = render_payload("alertmanager", run, [alert], exchange="Demo", database="db")
    assert am["labels"]["alertname"] == "PorStressScenarioShort"
    assert am["labels"]["scenario"] == "hot-btc" and "asset" not in am["labels"]
    assert "scenario hot-btc leaves customers short" in am["annotations"]["summary"]
    slack = render_payload("slack", run, [alert], exchange="Demo", database="db")
    assert "*stress* hot-btc" in slack["blocks"][1]["text"]["text"]


def test_history_shows_each_runs_scenarios(tmp_path: Path) -> None:
    options, held = _world(tmp_path)
    held.extend([110 * fx.BTC, 105 * fx.BTC])
    run_once(options, _fake(held))
    run_once(options, _fake(held))
    runs = Store(f"sqlite:///{tmp_path / 'por.db'}").runs()
    assert stress_line(runs[0]).startswith("run 1 scenarios: 1 of 2 made whole; ghost not ")
    assert "hot-btc short by JPY 5,000.00" in stress_line(runs[1])
    doc = history_json(runs, "db")
    assert doc["runs"][1]["stress"][0] == {
        "scenario_id": "hot-btc",
        "title": "The Bitcoin hot wallet drained, nothing else pays",
        "made_whole": False,
        "uncovered_value": "5000",
        "time_to_pay_days": 0,
        "error": None,
    }
    page = render_history_html(runs, "db")
    assert "<h2>Scenarios</h2>" in page and "JPY 5,000.00" in page and "(scenario file)" not in page


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("scenarios = 1", "stress.scenarios"),
        ('scenarios = ""', "stress.scenarios"),
        ('scenarios = "a\\nb"', "stress.scenarios"),
        ('scenarios = "s.toml"\nsweep = "yes"', "stress.sweep"),
        ('scenarios = "s.toml"\nalert = 1', "stress.alert"),
        ('scenarios = "s.toml"\nalerts = true', "stress.alerts"),
        ("sweep = true", "stress.scenarios"),
        ('scenarios = "' + "x" * 2000 + '"', "stress.scenarios"),
    ],
)
def test_a_hostile_stress_table_is_refused_naming_the_key(
    tmp_path: Path, table: str, key: str
) -> None:
    (tmp_path / "por.toml").write_text(CONFIG.replace('scenarios = "scenarios.toml"', table))
    with pytest.raises(InputError) as caught:
        load_config(tmp_path / "por.toml")
    assert caught.value.exit_code == 3 and caught.value.key == key, caught.value.message


def test_the_config_resolves_the_scenario_file_beside_it(tmp_path: Path) -> None:
    (tmp_path / "por.toml").write_text(CONFIG)
    stress = load_config(tmp_path / "por.toml").stress
    assert stress == StressConfig(scenarios=tmp_path / "scenarios.toml", sweep=False, alert=True)
    (tmp_path / "por.toml").write_text(CONFIG.replace("[stress]", "").replace("scenarios = ", "#"))
    assert load_config(tmp_path / "por.toml").stress is None


def test_alert_false_stores_outcomes_without_alerts(tmp_path: Path) -> None:
    options, held = _world(tmp_path)
    options.config_file.write_text(CONFIG + "alert = false\n")
    held.append(105 * fx.BTC)
    result = run_once(options, _fake(held))
    assert result.alerts == [] and result.run is not None
    assert [o.made_whole for o in result.run.stress] == [False, None]


def test_sweep_names_the_weakest(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(SCENARIOS)
    run = scheduled_stress(
        StressConfig(scenarios=tmp_path / "s.toml", sweep=True),
        fx.report(),
        fx.statement(),
        statement_sha256=None,
        generated_at="2026-06-01T00:00:00Z",
    )
    weakest = run.summary()["weakest"]
    assert weakest is not None and weakest["wallet"] is not None and weakest["vendor"] is not None
    assert run.document is not None and run.document["sweep"]["wallets"][0] == weakest["wallet"]


def test_config_check_reads_the_scenario_file(tmp_path: Path) -> None:
    from verifier.cli.config import _readers
    from verifier.inputs.config_check import check_config

    (tmp_path / "por.toml").write_text(CONFIG)

    def about_stress() -> list[tuple[str | None, str | None]]:
        return [
            (p.key, p.file)
            for p in check_config(tmp_path / "por.toml", _readers())
            if "scenario" in (p.file or "") or (p.key or "").startswith("stress")
        ]

    assert about_stress() == [("stress.scenarios", str(tmp_path / "por.toml"))]  # no such file
    (tmp_path / "scenarios.toml").write_text(SCENARIOS)
    # this por.toml has no wallets: the label "hot" and the vendor "nobody" select nothing
    # (tests/unit/test_scenario_file_checks.py: a config that has them passes)
    assert about_stress() == [
        ("scenarios[0].shocks[0].label", str(tmp_path / "scenarios.toml")),
        ("scenarios[1].shocks[0].vendor", str(tmp_path / "scenarios.toml")),
    ]
    (tmp_path / "scenarios.toml").write_text("[[scenarios]]\nid = 1\n")
    found = about_stress()
    assert found and all(f == str(tmp_path / "scenarios.toml") for _, f in found)
    assert ("scenarios[0].id", str(tmp_path / "scenarios.toml")) in found
