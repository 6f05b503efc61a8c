"""`por demo --scheduled N`: the count is checked before anything runs (no node started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.cli.main import main


@pytest.mark.parametrize("value", ["-1", "1001", "abc", "99999999999999999999"])
def test_a_count_out_of_range_is_a_usage_error(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["demo", "--accounts", "1", "--out", str(tmp_path / "d"), "--scheduled", value])
    assert code == 2
    assert "--scheduled" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()  # refused before the work directory is made


def test_the_help_says_what_json_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--scheduled" in text and "NDJSON" in text and "por-run-v1" in text
