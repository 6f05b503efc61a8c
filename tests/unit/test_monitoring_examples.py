"""docs/examples/prometheus-rules.yml and grafana-dashboard.json: promtool accepts the
rules and their unit tests pass (promtool comes with Debian's prometheus package; under
CI a missing promtool fails), and every metric either file uses is one por exports —
checked against the exporter's own output for a run with every kind of figure."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from prom_fixtures import samples
from prometheus_client import generate_latest
from test_metrics import CONFIG, _epoch_report, _scrape

from verifier.history.metrics import registry
from verifier.history.schedule import RunOptions

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
RULES = EXAMPLES / "prometheus-rules.yml"
DASHBOARD = EXAMPLES / "grafana-dashboard.json"
METRIC = re.compile(r"\bpor_[a-z0-9_]+\b")


def _promtool() -> str:
    tool = shutil.which("promtool")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing (Debian package prometheus; .ci/system-deps)")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return tool


def _exported(tmp_path: Path) -> set[str]:
    """Every sample name por exports, from a stored run with every kind of figure
    (epoch proofs with ages, limits, a failed run after it)."""
    from verifier.base.errors import NodeUnavailable

    (tmp_path / "por.toml").write_text(CONFIG)
    options = RunOptions(config_file=tmp_path / "por.toml", env={})
    *_, snap = _scrape(options, [_epoch_report(), NodeUnavailable("down")])
    text = generate_latest(registry(lambda: snap)).decode()
    return {name for name, _, _ in samples(text)} | _exported_by_stress(tmp_path / "stress")


def _exported_by_stress(work: Path) -> set[str]:
    """The por_stress_* samples of a real run with ``[stress]`` (one scenario made whole, one
    that cannot be evaluated: tests/unit/test_stress_scheduled.py's harness)."""
    import stress_fixture as fx
    from test_stress_scheduled import _fake, _world

    from verifier.history.schedule import run_once

    work.mkdir()
    options, held = _world(work)
    metrics = work / "por.prom"
    options = RunOptions(config_file=options.config_file, env={}, metrics_file=metrics)
    held.append(110 * fx.BTC)
    run_once(options, _fake(held))
    return {name for name, _, _ in samples(metrics.read_text()) if name.startswith("por_stress")}


def rule_expressions() -> list[tuple[str, str]]:
    """(alert, expr) of every rule: a small reader for the file's one-line `expr:` form."""
    out: list[tuple[str, str]] = []
    alert = None
    for line in RULES.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("- alert:"):
            alert = stripped.split(":", 1)[1].strip()
        elif stripped.startswith("expr:"):
            assert alert is not None
            out.append((alert, stripped.split(":", 1)[1].strip()))
    return out


def dashboard_expressions() -> list[tuple[str, str]]:
    document = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in document["panels"]
        for target in panel["targets"]
    ]


def test_promtool_checks_and_tests_the_rules() -> None:
    tool = _promtool()
    checked = subprocess.run(
        [tool, "check", "rules", str(RULES)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rule_expressions())} rules found" in checked.stdout
    tested = subprocess.run(
        [tool, "test", "rules", "prometheus-rules.test.yml"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=EXAMPLES,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_rule_has_a_severity_and_words() -> None:
    text = RULES.read_text()
    rules = rule_expressions()
    assert len(rules) >= 10
    assert text.count("severity:") == len(rules)
    assert text.count("summary:") == len(rules) and text.count("description:") == len(rules)
    wanted = {
        "PorShortfall",
        "PorCoverageMarginLow",
        "PorRunFailing",
        "PorNoSuccessfulRun",
        "PorOwnershipProofsStale",
        "PorOwnershipProofNearMaxAge",
        "PorPinnedHeightNotAdvancing",
    }
    assert wanted <= {alert for alert, _ in rules}


def test_every_metric_in_the_rules_and_dashboard_is_exported(tmp_path: Path) -> None:
    exported = _exported(tmp_path)
    used: dict[str, str] = {}
    for where, expr in [*rule_expressions(), *dashboard_expressions()]:
        for name in METRIC.findall(expr):
            used.setdefault(name, where)
    assert used, "no metric found: the reader no longer understands the files"
    missing = {name: where for name, where in used.items() if name not in exported}
    assert not missing, f"not exported by por: {missing}"
    # and the dashboard shows every family a person watches
    shown = {n for _, e in dashboard_expressions() for n in METRIC.findall(e)}
    assert {
        "por_coverage_ratio",
        "por_combined_coverage_ratio",
        "por_reserve_required",
        "por_reserve_eligible",
        "por_pinned_height",
        "por_ownership_proof_age_seconds",
        "por_runs_total",
        "por_stress_made_whole",
        "por_stress_errors",
    } <= shown


def test_the_dashboard_is_a_grafana_dashboard() -> None:
    document = json.loads(DASHBOARD.read_text())
    assert document["uid"] and document["title"] and document["schemaVersion"] >= 30
    names = [v["name"] for v in document["templating"]["list"]]
    assert names == ["datasource", "exchange"]
    ids = [p["id"] for p in document["panels"]]
    assert len(ids) == len(set(ids))
    for panel in document["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        assert all('exchange=~"$exchange"' in t["expr"] for t in panel["targets"])
