"""`por bench split --bitmex-generator PATH` with a relative PATH, as a tester met it.

A relative --bitmex-generator always failed ("gen.py exited 2: can't open file
.../work/bitmex/gen.py"): the generator runs in a work directory of its own, where the
relative path names nothing. It is resolved first; a missing path or a directory stays
exit 2 naming the option. The generator is the FAKE stand-in of
tests/cli/test_bench_split.py, not BitMEX's code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_bench_split import FAKE_GENERATOR
from verifier.cli.main import main

SPLIT = ["bench", "split", "--accounts", "20", "--runs", "1"]


def test_a_relative_generator_path_is_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "gen.py").write_text(FAKE_GENERATOR)
    monkeypatch.chdir(tmp_path)
    keep = tmp_path / "work"
    code = main([*SPLIT, "--bitmex-generator", "gen.py", "--keep", str(keep), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = json.loads(captured.out)
    assert doc["bitmex"]["script"] == str(tmp_path / "gen.py")
    assert doc["ratio"] is not None
    assert (keep / "fake-calls.txt").read_text() == "2 20\n"


@pytest.mark.parametrize("what", ["missing", "directory"])
def test_a_generator_that_is_not_a_file_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], what: str
) -> None:
    monkeypatch.chdir(tmp_path)
    if what == "directory":
        (tmp_path / "gen.py").mkdir()
    assert main([*SPLIT, "--bitmex-generator", "gen.py"]) == 2
    assert "--bitmex-generator" in capsys.readouterr().err
