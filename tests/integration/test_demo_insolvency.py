"""`por demo --insolvency` on real bcoin and anvil nodes: the whole path of issue 15.

The demo's exchange fails after its attestation: the claims register from its liabilities
tree, an estate from its report with the hot BTC wallet drained (BTC short, ETH and USDT in
surplus), a mixed plan, one customer's bundle verified, and payouts for half the customers
stored in the demo's history database. Run as a real process, as `make demo` runs it; the
files it leaves are then checked with the commands a customer and an auditor would run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chains.nodes.base import NodeMissing, node_program
from verifier.history.db_url import normalise_url
from verifier.history.payouts import payout_runs
from verifier.history.store import Store

pytestmark = pytest.mark.node

MAIN = "import sys; from verifier.cli.main import main; sys.exit(main())"


def _por(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_the_demo_runs_the_insolvency_path(tmp_path: Path) -> None:
    try:
        node_program(".bin/anvil")
        node_program("bcoin/package.json")
    except NodeMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"anvil and bcoin are required under CI: {exc}")
        pytest.skip(f"local nodes not installed: {exc}")
    done = _por("demo", "--accounts", "200", "--out", "out", "--insolvency", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = " ".join(done.stdout.split())
    for words in (
        "9. Insolvency",
        "1. claims register",
        "the hot BTC wallet drained",
        "3. plan (mixed)",
        "11 checks passed",
        "5. payouts",
        "consistent; stored as payout run 1",
    ):
        assert words in text, words
    out = tmp_path / "out" / "insolvency"
    plan = json.loads((out / "plan" / "plan.json").read_text())
    btc, eth, usdt = plan["assets"]
    assert int(btc["available"]) < int(btc["total_claims"])  # short: shared pro rata
    assert btc["distributable"] == btc["available"]
    for asset in (eth, usdt):  # in surplus: paid in full, never topping up BTC
        assert asset["distributable"] == asset["total_claims"] and int(asset["surplus"]) > 0
    assert int(plan["fiat"]["distributable"]) > 0  # BTC's shortfall topped up in JPY
    bundle = out / "bundle-acct-00000042.json"
    check = _por(
        "insolvency", "verify", str(bundle), "--plan", str(out / "plan" / "plan.json"), "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert check.returncode == 0 and json.loads(check.stdout)["valid"]
    assert (out / "site" / "insolvency.html").is_file()
    runs = payout_runs(Store(normalise_url(str(tmp_path / "out" / "por.db"), None), create=False))
    assert len(runs) == 1 and runs[0].consistent
    statuses = runs[0].document["accounts"]
    assert statuses["paid"] > 0 and statuses["unpaid"] > 0  # half the customers paid
    assert statuses["overpaid"] == statuses["unknown"] == 0
