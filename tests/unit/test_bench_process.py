"""Whole-process runs of the benchmarks (verifier/tools/bench_process.py): the peak RSS is the
child's own, a failure names the program and its last stderr line, stdout lands in its file,
and the median is the middle value. No timing assertions."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from verifier.base.errors import EXIT_INFRA
from verifier.tools.bench_process import BenchFailed, median, por_argv, run_timed


def test_peak_rss_is_the_child_s_own() -> None:
    """A child that touches 200 MiB has a peak above that; one that does nothing, far below,
    even spawned from a process that has touched 400 MiB (Linux gives a program exec'd
    straight from it that process's peak: the launcher is what keeps them apart)."""
    big = run_timed(
        [sys.executable, "-c", "b = bytearray(200 << 20); b[::4096] = b'x' * len(b[::4096])"],
        label="big",
    )
    ballast = bytearray(400 << 20)
    ballast[::4096] = b"x" * len(ballast[::4096])
    small = run_timed([sys.executable, "-c", "pass"], label="small")
    del ballast
    assert big.peak_rss_bytes > 200 << 20
    assert small.peak_rss_bytes < 100 << 20
    assert big.seconds > 0 and big.load_before >= 0
    assert set(big.to_json()) == {"seconds", "peak_rss_bytes", "load_average_1m"}


def test_a_missing_program_is_exit_4_naming_it(tmp_path: Path) -> None:
    with pytest.raises(BenchFailed) as caught:
        run_timed([str(tmp_path / "no-such-program")], label="the program")
    assert caught.value.message.startswith("the program exited 1: FileNotFoundError")


def test_a_failing_program_is_exit_4_naming_it(tmp_path: Path) -> None:
    code = "import sys; print('first', file=sys.stderr); print('the reason', file=sys.stderr); "
    with pytest.raises(BenchFailed) as caught:
        run_timed([sys.executable, "-c", code + "sys.exit(3)"], label="the program")
    assert caught.value.exit_code == EXIT_INFRA
    assert caught.value.message == "the program exited 3: the reason"


def test_stdout_goes_to_its_file_in_the_working_directory(tmp_path: Path) -> None:
    code = "import os; print(os.getcwd()); open('made.txt', 'w').close()"
    run_timed([sys.executable, "-c", code], label="x", cwd=tmp_path, stdout=tmp_path / "o.txt")
    assert (tmp_path / "o.txt").read_text().strip() == str(tmp_path)
    assert (tmp_path / "made.txt").exists()


def test_por_is_started_as_a_user_starts_it() -> None:
    argv = por_argv()
    assert argv[0].endswith("por") or argv[:2] == [sys.executable, "-c"]


@pytest.mark.parametrize(
    ("values", "expected"), [([3.0], 3.0), ([5.0, 1.0, 3.0], 3.0), ([4.0, 1.0, 2.0, 3.0], 2.5)]
)
def test_median(values: list[float], expected: float) -> None:
    assert median(values) == expected
