"""`por bench snapshot` runs end to end on small numbers (the figures themselves are
measured by the benchmark, never asserted as timings here)."""

from __future__ import annotations

import json

import pytest

from verifier.cli.main import main

pytestmark = pytest.mark.node


def test_bench_snapshot_reports_both_chains(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "bench",
            "snapshot",
            "--btc-addresses",
            "30",
            "--eth-addresses",
            "40",
            "--tokens",
            "1",
            "--json",
        ]
    )
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["bitcoin"]["addresses"] == 30
    assert doc["bitcoin"]["naive"]["requests"] == 30  # one per address
    assert doc["bitcoin"]["ours"]["requests"] < 30
    assert doc["ethereum"]["balances"] == 40 * 2  # ETH and one token
    assert doc["ethereum"]["naive"]["requests"] == 80
    assert doc["ethereum"]["ours"]["requests"] < 10
    assert doc["speedup"] > 0
