"""`por demo --scheduled N` on real bcoin and anvil nodes: the scheduled job of issue 11.

The demo signs its wallets' ownership proofs once, for an epoch, then mines blocks on both
nodes and reconciles N more times at the new tips through `por reconcile`'s stored-run code.
Run as a real process: with `--json`, every stdout line must parse on its own (NDJSON).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chains.nodes.base import NodeMissing, node_program
from verifier.history.db_url import database_url
from verifier.history.store import Store
from verifier.tools.demo import BLOCKS_BETWEEN_RUNS
from verifier.tools.demo_funding import EPOCH, OLD_EPOCH

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


def _need_nodes() -> None:
    """Outside CI a missing node skips; under CI it fails."""
    try:
        node_program(".bin/anvil")
        node_program("bcoin/package.json")
    except NodeMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"anvil and bcoin are required under CI: {exc}")
        pytest.skip(f"local nodes not installed: {exc}")


@dataclass
class Demo:
    done: subprocess.CompletedProcess[str]
    out: Path
    lines: list[dict[str, Any]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    _need_nodes()
    work = tmp_path_factory.mktemp("demo-scheduled")
    done = _por("demo", "--accounts", "300", "--out", "out", "--scheduled", "2", "--json", cwd=work)
    lines = [json.loads(line) for line in done.stdout.splitlines()]  # each line on its own
    yield Demo(done, work / "out", lines)


def _ownership(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{w['chain']}/{w['label']}": w["ownership"] for w in report["wallets"]}


def test_every_stdout_line_is_one_json_document(demo: Demo) -> None:
    assert demo.done.returncode == 0, demo.done.stderr[-3000:]
    assert len(demo.done.stdout.splitlines()) == 3  # the report, then one line per run
    report, *runs = demo.lines
    assert report["report"] == "por-report-v1" and report["verdict"]["exit_code"] == 0
    assert [r["format"] for r in runs] == ["por-run-v1", "por-run-v1"]
    assert "Traceback" not in demo.done.stderr


def test_scheduled_runs_are_covered_at_strictly_later_tips(demo: Demo) -> None:
    report, *runs = demo.lines
    heights = [{c["chain"]: c["height"] for c in report["chains"]}]
    for run in runs:
        assert run["exit_code"] == 0 and "error" not in run
        assert run["verdict"]["covered"] and run["verdict"]["reserve_met"]
        assert set(run["coverage"]) == {"BTC", "ETH", "USDT"}
        heights.append({c["chain"]: c["height"] for c in run["chains"]})
    for before, after in itertools.pairwise(heights):
        for chain in ("bitcoin", "ethereum"):
            assert after[chain] == before[chain] + BLOCKS_BETWEEN_RUNS[chain]


def test_the_same_signatures_stay_proven_with_growing_ages(demo: Demo) -> None:
    report, *runs = demo.lines
    reports = [report] + [json.loads(Path(r["report"]).read_text()) for r in runs]
    config = (demo.out / "por.toml").read_text()
    assert f'epoch = "{EPOCH}"' in config and "[[ownership.epochs]]" in config
    ongoing = ["bitcoin/cold", "bitcoin/hot", "bitcoin/own-buffer"]
    ongoing += ["ethereum/cold", "ethereum/hot-contract", "ethereum/own-buffer"]
    previous: dict[str, int] = {}
    for number, doc in enumerate(reports):
        proofs = _ownership(doc)
        for name in ongoing:
            proof = proofs[name]
            assert proof["status"] == "proven", (number, name, proof)
            assert proof["epoch"]["id"] == EPOCH
            chain = name.split("/")[0]
            # the epoch's blocks are the tips at signing time; each run is later by the
            # blocks mined before it
            assert proof["age"]["blocks"] == number * BLOCKS_BETWEEN_RUNS[chain]
            if name in previous:
                assert proof["age"]["blocks"] > previous[name]
            previous[name] = proof["age"]["blocks"]
        # the deliberate failures stay what they are
        assert proofs["bitcoin/old-epoch"]["status"] == "stale"
        assert proofs["bitcoin/old-epoch"]["epoch"]["id"] == OLD_EPOCH
        assert proofs["bitcoin/wrong-block"]["status"] == "unproven"
        assert proofs["bitcoin/custodian"]["status"] == "custodial"


def test_the_history_database_holds_every_run(demo: Demo) -> None:
    _, *runs = demo.lines
    stored = Store(database_url(str(demo.out / "por.db"), {}, None, None), create=False).runs()
    assert [r.status for r in stored] == ["ok", "ok", "ok"]  # the main run and two more
    assert [r.id for r in stored[1:]] == [r["run_id"] for r in runs]
    heights = [next(c["height"] for c in r.chains if c["chain"] == "bitcoin") for r in stored]
    assert heights == sorted(set(heights))
    done = _por("history", "--db", str(demo.out / "por.db"), "--json", cwd=demo.out)
    assert done.returncode == 0 and len(json.loads(done.stdout)["runs"]) == 3


def test_the_attestation_of_the_epoch_proofs_verifies(demo: Demo) -> None:
    public = (demo.out / "auditor.toml").read_text().split('public_key = "')[1][:64]
    done = _por(
        "verify",
        str(demo.out / "attestation/attestation.json"),
        "--public-key",
        public,
        "--json",
        cwd=demo.out,
    )
    result = json.loads(done.stdout)
    assert done.returncode == 0 and result["valid"], result["discrepancies"]
    assert (demo.out / "keys/attest.key").stat().st_mode & 0o777 == 0o600


def test_a_person_reads_one_line_per_run_and_the_history(tmp_path: Path) -> None:
    _need_nodes()
    done = _por("demo", "--accounts", "50", "--out", "out", "--scheduled", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    text = done.stdout
    assert "8. The scheduled job" in text and "1/1 run 2 at bitcoin" in text
    assert (
        "covered" in text
        and f"proof age (epoch {EPOCH}): bitcoin 6, ethereum 3 blocks" in text.replace("\n", " ")
    )
    assert "por history: 2 runs" in text


def test_the_demo_files_pass_the_published_schemas(demo: Demo) -> None:
    """What an editor would check them with (docs/spec/schemas): the demo's por.toml (epochs,
    [ownership], every wallet kind), its auditor config, prices, statement and assets."""
    import tomllib

    import jsonschema

    root = Path(__file__).resolve().parents[2] / "docs" / "spec" / "schemas"
    for name, schema in (
        ("por.toml", "por-config.schema.json"),
        ("auditor.toml", "por-config.schema.json"),
        ("prices.toml", "por-prices.schema.json"),
        ("reserve.toml", "por-reserve-statement.schema.json"),
        ("assets.toml", "por-assets.schema.json"),
    ):
        document = json.loads(json.dumps(tomllib.loads((demo.out / name).read_text()), default=str))
        validator = jsonschema.Draft202012Validator(json.loads((root / schema).read_text()))
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
        assert errors == [], name


def test_the_demo_config_passes_config_check(demo: Demo) -> None:
    """`por config check` on the demo's own por.toml (its files, keys, epochs) says OK."""
    done = _por("config", "check", "--config", str(demo.out / "por.toml"), "--json", cwd=demo.out)
    assert done.returncode == 0, done.stdout[-3000:]
    assert json.loads(done.stdout)["problems"] == []
