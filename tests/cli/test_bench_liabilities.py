"""`por bench liabilities`: the issue's headline ratio — the whole `por liabilities build`
process against both OpenSSL two-core floors — in JSON and text, and each part skipped with
its reason. Tiny inputs; a FAKE `openssl` (a shell script written here, not OpenSSL) keeps
the openssl speed floor fast and its figure known. No timing assertions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verifier.cli.main import main

BASE = ["bench", "liabilities", "--accounts", "60", "--assets", "2", "--proofs", "5"]


@pytest.fixture
def fake_openssl(tmp_path: Path) -> str:
    """FAKE openssl (not OpenSSL): 1,000,000 calls per second at every size."""
    script = tmp_path / "fake-openssl"
    script.write_text(
        "#!/bin/sh\n# FAKE openssl for tests: not OpenSSL\n"
        'while [ $# -gt 0 ]; do [ "$1" = -bytes ] && B=$2; shift; done\n'
        'echo "+F:25:sha256:$(( B * 1000000 )).00"\n'
    )
    script.chmod(0o755)
    return str(script)


def test_whole_process_against_both_floors(
    fake_openssl: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*BASE, "--openssl", fake_openssl, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    process = doc["whole_process"]
    assert process["seconds"] > 0 and process["peak_rss_bytes"] > 0
    assert process["command"].startswith("por -q liabilities build liabilities.csv")
    speed = doc["floor_openssl_speed"]
    # 60 accounts x 2 assets: 60 account hashes + 120 HMAC calls + 60 leaves + 4 padding
    # + 63 nodes = 307 calls at 1 µs each (the fake's rate) = 0.000307 s
    assert speed["calls"] == doc["floor"]["calls"] == 307
    assert speed["seconds"] == 307e-6
    head = doc["headline"]
    assert head["whole_process_seconds"] == process["seconds"]
    assert head["peak_rss_bytes"] == process["peak_rss_bytes"]
    assert head["target_ratio"] == 4 and head["target_peak_bytes"] == 1 << 30
    assert head["ratio_to_openssl_2core"] == doc["ratio_to_openssl_2core"]["whole_process"]
    floor2 = doc["floor_openssl_2core"]
    if floor2:  # the extension is built
        assert head["ratio_to_openssl_2core"] == round(process["seconds"] / floor2["seconds"], 3)
    assert head["ratio_to_openssl_speed"] == doc["ratio_to_openssl_speed"]["whole_process"]
    assert head["ratio_to_openssl_speed"] == round(process["seconds"] / 307e-6, 3)
    # the same command again at once, beside the headline (not instead of it)
    repeat = doc["whole_process_repeat"]
    assert repeat["seconds"] > 0 and repeat["command"] == process["command"]
    assert head["repeat_seconds"] == repeat["seconds"]
    assert head["repeat_ratio_to_openssl_speed"] == round(repeat["seconds"] / 307e-6, 3)
    assert (
        doc["ratio_to_openssl_speed"]["whole_process_repeat"]
        == (head["repeat_ratio_to_openssl_speed"])
    )


def test_text_names_the_headline(fake_openssl: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--openssl", fake_openssl]) == 0
    text = capsys.readouterr().out
    assert "whole process" in text and "target ≤ 4 ×" in text
    assert "openssl speed floor (" in text and "for 307 calls" in text
    assert "the same command again at once:" in text


def test_parts_skipped_with_their_reason(capsys: pytest.CaptureFixture[str]) -> None:
    args = [*BASE, "--no-whole-process", "--openssl", "/nonexistent/openssl", "--json"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["whole_process"] is None and doc["whole_process_repeat"] is None
    assert "--no-whole-process" in doc["headline"]["skipped"]
    assert "not found" in doc["floor_openssl_speed"]["skipped"]
    assert doc["ratio_to_openssl_speed"]["whole_process"] is None
    assert doc["ratio_to_openssl_2core"]["whole_process"] is None  # not 0.0: not measured
    assert doc["ratio_to_openssl_2core"]["whole_process_repeat"] is None
    assert main([*BASE, "--no-whole-process", "--no-openssl-speed"]) == 0
    text = capsys.readouterr().out
    assert "openssl speed floor: skipped: not asked (--no-openssl-speed)" in text
    assert "whole process: not asked (--no-whole-process)" in text


@pytest.mark.parametrize("seconds", ["0", "61", "x"])
def test_openssl_seconds_out_of_range_is_a_usage_error(seconds: str) -> None:
    assert main([*BASE, "--openssl-seconds", seconds]) == 2


def test_rounds_alternate_and_give_medians(
    fake_openssl: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*BASE, "--openssl", fake_openssl, "--runs", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    runs = doc["whole_process"]["runs"]
    assert len(runs) == 2
    assert doc["whole_process"]["seconds"] == round(
        (runs[0]["seconds"] + runs[1]["seconds"]) / 2, 3
    )
    assert doc["whole_process"]["peak_rss_bytes"] == max(r["peak_rss_bytes"] for r in runs)
    assert doc["floor_openssl_speed"]["runs_seconds"] == [307e-6, 307e-6]
    head = doc["headline"]
    assert head["round_ratios_to_openssl_speed"] == [round(r["seconds"] / 307e-6, 3) for r in runs]
    again = doc["whole_process_repeat"]["runs"]
    assert len(again) == 2
    assert head["round_repeat_ratios_to_openssl_speed"] == [
        round(r["seconds"] / 307e-6, 3) for r in again
    ]
    assert len(head["round_repeat_ratios_to_openssl_2core"]) == 2
    assert len(head["round_ratios_to_openssl_2core"]) == 2
    if doc["floor_openssl_2core"]:
        assert len(doc["floor_openssl_2core"]["runs_seconds"]) == 2
    assert main([*BASE, "--openssl", fake_openssl, "--runs", "2"]) == 0
    assert "round by round:" in capsys.readouterr().out
