"""What the outside review of issue 11 found running `por` as an operator would, without
nodes: a mistyped --config leaves nothing behind, a reader closing stdout early is not a
shortfall (a real pipe, a real `por` process), `por history` finds ./por.toml, and an alert
says which proofs are stale or unproven when they are why coverage fell.

The same review's findings that need nodes are in tests/integration/test_real_operation.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from postgres_fixtures import WebhookReceiver, sample_report

from verifier.history.alerts import alerts_for, not_proven_cause
from verifier.history.schedule import RunOptions, run_once
from verifier.history.store import Store

POR = Path(sys.executable).with_name("por")
CONFIG = """
[exchange]
name = "Demo"
attestation_id = "a-1"

[bitcoin]
backend = "bcoin"
url = "http://127.0.0.1:9"
network = "regtest"
"""


def test_a_missing_config_stores_nothing_and_alerts_nobody(
    por: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = WebhookReceiver()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POR_WEBHOOK_URL", receiver.url)
    try:
        res = por("reconcile", "--config", tmp_path / "typo.toml")
        stream = por("reconcile", "--config", tmp_path / "typo.toml", "--every", "1h", "--json")
    finally:
        receiver.close()
    assert res.rc == 3 and str(tmp_path / "typo.toml") in res.err_flat
    assert "not found" in res.err_flat
    assert stream.rc == 3
    assert list(tmp_path.iterdir()) == []  # no por.db beside the file that is not there
    assert receiver.received == [] and receiver.attempts == 0


def history_db(tmp_path: Path, runs: int = 3) -> Path:
    """A config directory whose por.db holds `runs` stored runs."""
    config = tmp_path / "por.toml"
    config.write_text(CONFIG)
    for index in range(runs):
        outcome = SimpleNamespace(report=sample_report(btc_ratio=f"1.0{index}"), exit_code=0)

        def stored(_config: object, outcome: Any = outcome) -> Any:
            return outcome

        run_once(RunOptions(config_file=config, env={}), stored)
    assert len(Store(f"sqlite:///{tmp_path / 'por.db'}").runs()) == runs
    return config


def test_history_finds_the_por_toml_of_the_working_directory(
    por: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history_db(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("POR_CONFIG", raising=False)
    monkeypatch.delenv("POR_DATABASE_URL", raising=False)
    res = por("history", "--json")
    assert res.rc == 0, res.err
    assert len(res.json()["runs"]) == 3
    assert por("db", "upgrade", "--json").rc == 0
    # --db and POR_DATABASE_URL still come first: an empty other database, not ./por.db
    other = tmp_path / "elsewhere.db"
    res = por("history", "--db", other, "--json")
    assert res.rc == 0 and res.json()["runs"] == [] and not other.exists()


def closed_stdout(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`por ARGS` writing into a pipe whose reader has already gone (what `| head -1`
    leaves once head has its line): every write meets EPIPE."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [str(POR), *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=120,
            cwd=cwd,
            env={**os.environ, "COLUMNS": "80"},
        )
    finally:
        os.close(write)


def head_1(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """`por ARGS | head -1` in a shell: (por's exit code, head's line, por's stderr)."""
    command = " ".join([str(POR), *args]) + ' 2>por.err | head -1; echo "rc=${PIPESTATUS[0]}"'
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, check=True, timeout=120, cwd=cwd
    )
    first, _, rc = done.stdout.rpartition("rc=")
    return int(rc), first, (cwd / "por.err").read_text()


NOISE = ("Traceback", "Exception ignored", "BrokenPipeError", "error")


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_reader_closing_stdout_is_not_a_shortfall(tmp_path: Path, as_json: bool) -> None:
    config = history_db(tmp_path, runs=40)  # far more than a pipe's first write
    args = ["history", "--config", str(config), *(["--json"] if as_json else [])]
    done = closed_stdout(args, tmp_path)
    assert done.returncode == 0, done.stderr
    assert not any(word in done.stderr for word in NOISE), done.stderr
    rc, first, err = head_1(args, tmp_path)
    assert rc == 0 and first.strip(), err
    assert not any(word in err for word in NOISE), err


def test_an_alert_says_which_proofs_are_stale() -> None:
    report: dict[str, Any] = sample_report(btc_ratio="0", exit_code=1)
    stale_reason = (
        "stale, counted as unproven: epoch 2026-q4 proof signed 93 d before the pinned block, "
        "past the maximum age of 92 days ([ownership] max_age_days) by 1 d"
    )
    report["wallets"] = [
        {
            "chain": "bitcoin",
            "label": label,
            "address": f"bcrt1q{label}",
            "balances": {"BTC": {"base_units": "100", "amount": "0.000001"}},
            "ownership": {
                "status": status,
                "reason": reason,
                "epoch": {"id": "2026-q4"} if status == "stale" else None,
                "age": {"blocks": 13400, "seconds": 93 * 86400} if status == "stale" else None,
            },
        }
        for label, status, reason in (
            ("cold", "stale", stale_reason),
            ("hot", "stale", stale_reason),
            ("hot-2", "unproven", "another key signed"),
            ("custodian", "custodial", "declared custodial"),
        )
    ]
    message = (
        "BTC: proven holdings 0 cover 0% of liabilities 1, below the minimum 100%; short by 1 BTC"
    )
    report["verdict"] = {
        "covered": False,
        "exit_code": 1,
        "breaches": [
            {"kind": "asset", "subject": "BTC", "message": message},
            {"kind": "asset", "subject": "ETH", "message": "ETH: ..."},
        ],
    }
    cause = not_proven_cause(report, "BTC")
    assert cause.startswith("2 proofs stale: epoch 2026-q4 signed 93 d before the pinned block")
    assert "maximum age of 92 days" in cause and "1 address unproven (hot-2)" in cause
    assert "custodian" not in cause
    run: Any = SimpleNamespace(status="ok", coverage={})
    btc, eth = alerts_for(run, report, None, None)
    assert btc.message == f"{message}; not counted as proven: {cause}"
    assert eth.message == "ETH: ..."  # no stale or unproven address holds ETH
