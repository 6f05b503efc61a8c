"""`por bench split|liabilities --keep DIR`, as a tester met it.

--keep naming an existing file ended in "system error: File exists" (exit 4); it is exit 2
naming --keep, the file untouched. A non-empty directory the benchmark did not keep is
refused the same way (its files are never overwritten); one an earlier run of the same
benchmark kept (its marker file `.por-bench-<benchmark>`) is reused, and an empty one is
fine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.cli.main import main

SPLIT = ["bench", "split", "--accounts", "20", "--runs", "1"]
LIABILITIES = [
    "bench", "liabilities", "--accounts", "3", "--assets", "1", "--proofs", "1",
    "--workers", "1", "--no-openssl-speed", "--no-whole-process",
]  # fmt: skip


@pytest.mark.parametrize("command", [SPLIT, LIABILITIES], ids=["split", "liabilities"])
def test_keep_naming_a_file_is_a_usage_error_and_the_file_stays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    mine = tmp_path / "notes.txt"
    mine.write_text("mine")
    assert main([*command, "--keep", str(mine)]) == 2
    assert "--keep" in capsys.readouterr().err
    assert mine.read_text() == "mine"


@pytest.mark.parametrize("command", [SPLIT, LIABILITIES], ids=["split", "liabilities"])
def test_keep_naming_a_foreign_directory_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "assets.toml").write_text("precious")  # a name the benchmark writes
    assert main([*command, "--keep", str(foreign)]) == 2
    assert "--keep" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.iterdir()) == ["assets.toml"]
    assert (foreign / "assets.toml").read_text() == "precious"


@pytest.mark.parametrize("command", [SPLIT, LIABILITIES], ids=["split", "liabilities"])
def test_a_directory_kept_by_an_earlier_run_is_reused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    keep = tmp_path / "kept"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*command, "--keep", str(empty), "--json"]) == 0  # an empty one is fine
    assert main([*command, "--keep", str(keep), "--json"]) == 0
    assert main([*command, "--keep", str(keep), "--json"]) == 0
    capsys.readouterr()
    # kept by the other benchmark: not this one's to write into
    other = LIABILITIES if command is SPLIT else SPLIT
    assert main([*other, "--keep", str(keep)]) == 2
