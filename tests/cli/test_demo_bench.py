"""`por demo` and `por bench liabilities` end to end through main(argv), on small sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verifier.cli.main import main


@pytest.mark.node
def test_demo_runs_twice_and_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    for _ in range(2):  # a second run replaces the work directory
        assert main(["demo", "--accounts", "300", "--out", str(out), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)  # --json: the report document
        assert report["report"] == "por-report-v1"
        assert report["verdict"]["exit_code"] == 0
    root = json.loads((out / "tree/root.json").read_text())
    assert report["attestation"]["commitment"] == root["commitment"]
    proof = out / "proof-acct-00000042.json"
    assert main(["verify-proof", str(proof), "--root", str(out / "tree/root.json")]) == 0
    capsys.readouterr()
    assert (out / "attestation/report.html").read_text().count("<svg") >= 2
    assert (out / "keys/attest.key").stat().st_mode & 0o777 == 0o600
    published = str(out / "keys/attest.key.pub")  # made as `por keys create` makes it
    attestation = str(out / "attestation/attestation.json")
    code = main(["verify", attestation, "--public-key-file", published, "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["valid"], result["discrepancies"]


def test_demo_refuses_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious.txt").write_text("keep me")
    assert main(["demo", "--accounts", "10", "--out", str(tmp_path / "mine")]) == 3
    assert (tmp_path / "mine" / "precious.txt").read_text() == "keep me"


def test_bench_reports_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "liabilities", "--accounts", "2000", "--assets", "2", "--proofs", "20"]
    # `openssl speed` alone takes 9 s; the hashlib floor and the two-core floor remain
    code = main([*argv, "--no-openssl-speed", "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    for phase in ("read_and_validate", "build_tree", "proofs", "verify", "audit"):
        assert doc["seconds"][phase] >= 0
    assert doc["floor"]["calls"] == (
        2000 * 3  # account hash + two HMAC calls per account
        + 2000  # leaf hashes
        + (2048 - 2000)  # padding leaves
        + 2047  # internal nodes
    )
    assert doc["peak_memory_bytes"]["build"] > 0
    assert doc["ratio_to_floor"]["build_total"] > 0
