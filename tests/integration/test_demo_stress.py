"""`por demo` runs one scenario (issue 14): the DMM 2024 example against the demo's own
wallets, stored with the run, summarised, written as stress.json and stress.html, and
published as the site's Scenarios page; `--json` still prints the report document alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chains.nodes.base import NodeMissing, node_program
from verifier.history.store import Store

pytestmark = pytest.mark.node

MAIN = "import sys; from verifier.cli.main import main; sys.exit(main())"


def test_the_demo_publishes_its_scenario(tmp_path: Path) -> None:
    try:
        node_program(".bin/anvil")
        node_program("bcoin/package.json")
    except NodeMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"anvil and bcoin are required under CI: {exc}")
        pytest.skip(f"local nodes not installed: {exc}")
    done = subprocess.run(
        [sys.executable, "-c", MAIN, "demo", "--accounts", "60", "--out", "out", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)  # the report document, as before
    assert report["report"] == "por-report-v1"
    out = tmp_path / "out"
    stress = json.loads((out / "stress.json").read_text())
    assert stress["stress"] == "por-stress-v1" and stress["report_id"] == report["report_id"]
    (scenario,) = stress["scenarios"]
    assert scenario["id"] == "dmm-2024" and scenario["made_whole"] is True
    (lost,) = scenario["wallets_lost"]  # the vendor's largest hot wallet: the selector matched
    assert lost["vendor"] == "vaultsoft" and lost["class"] == "hot"
    assert "<svg" in (out / "stress.html").read_text()
    site = out / "site"
    assert json.loads((site / "stress.json").read_text()) == stress
    page = (site / "scenarios.html").read_text()
    assert "dmm-2024" in page or "DMM 2024" in page
    assert 'href="scenarios.html"' in (site / "index.html").read_text()
    text = " ".join(done.stderr.split())
    assert "dmm-2024: loss JPY" in text and "every customer made whole" in text
    assert "with its Scenarios page" in text
    (run,) = Store(f"sqlite:///{out / 'por.db'}").runs()
    assert [(o.scenario_id, o.made_whole) for o in run.stress] == [("dmm-2024", True)]
    # every shipped example's selectors match the demo's wallets (exit 0 or 1, never 3)
    examples = sorted(
        (Path(__file__).resolve().parents[2] / "verifier/stress/examples").glob("*.toml")
    )
    assert len(examples) >= 4
    for example in examples:
        checked = subprocess.run(
            [
                sys.executable,
                "-c",
                MAIN,
                "stress",
                "--report",
                "out/attestation/report.json",
                "--statement",
                "out/reserve.toml",
                "--scenario",
                str(example),
                "--json",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert checked.returncode in (0, 1), (example.name, checked.stderr[-2000:])
        for s in json.loads(checked.stdout)["scenarios"]:
            losses = [k for k in s["shocks"] if k["kind"] == "loss"]
            assert not losses or s["wallets_lost"], (example.name, s["id"])
