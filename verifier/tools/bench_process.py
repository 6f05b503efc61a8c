"""Whole-process timings for the benchmarks: run a program as a user runs it, and measure it.

`por bench liabilities` (verifier/tools/bench.py) and `por bench split`
(verifier/tools/bench_split.py) time `por liabilities build` as a separate process —
interpreter start, imports, read, build, write — and `por bench split` times BitMEX's
generator the same way. One run gives its wall time, its exit code and its peak resident
set size from `wait4`, taken by a small launcher process (see _LAUNCHER for why; Linux
folds the peak of the program's own reaped children into it, so a forked worker counts:
the largest of them, not their sum). The 1-minute load average is
taken just before each run: other work on the machine is part of every figure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from verifier.base.errors import EXIT_INFRA, PorError


class BenchFailed(PorError):
    """A program the benchmark runs did not finish cleanly (exit 4: the measurement is void)."""

    exit_code = EXIT_INFRA


@dataclass(frozen=True, slots=True)
class Timed:
    """One finished run of a program."""

    seconds: float  # float-ok: wall seconds, not money
    """Wall time from start to exit, interpreter start included."""
    peak_rss_bytes: int
    """ru_maxrss of the process (and of its largest reaped child), in bytes."""
    load_before: float  # float-ok: a load average
    """The machine's 1-minute load average just before the run."""

    def to_json(self) -> dict[str, float | int]:
        return {
            "seconds": round(self.seconds, 3),
            "peak_rss_bytes": self.peak_rss_bytes,
            "load_average_1m": round(self.load_before, 2),
        }


def por_argv() -> list[str]:
    """How a user starts `por` here: the console script installed beside this interpreter
    (a virtual environment's bin/), else the same entry point through this interpreter."""
    script = Path(sys.executable).parent / "por"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-c", "from verifier.cli.main import entrypoint; entrypoint()"]


# Started by a small launcher, not by us: Linux sets a new program's peak RSS to the peak
# of the memory it was exec'd from, and a child spawned from the benchmark (which holds a
# whole tree) would report the benchmark's peak (measured: `python -c pass` spawned after
# touching 600 MiB reported 614 MiB, 13 MiB before). The launcher is a fresh interpreter,
# so the program it spawns starts from the launcher's few MiB; it times the program and
# writes "seconds ru_maxrss" to the file in argv[1].
_LAUNCHER = """
import os, sys, time
started = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(sys.argv[1], "w") as out:
    out.write(f"{seconds!r} {usage.ru_maxrss}")
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def run_timed(
    argv: Sequence[str], *, label: str, cwd: Path | None = None, stdout: Path | None = None
) -> Timed:
    """Run `argv` to its end and time it; stdout goes to `stdout` (or nowhere), stderr is
    kept aside for the message when the program fails (BenchFailed, naming `label`)."""
    with (
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory(prefix="por-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        out = stack.enter_context(stdout.open("wb")) if stdout else subprocess.DEVNULL
        figures = Path(tmp) / "figures"
        load = os.getloadavg()[0]
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(figures), *argv]
        proc = subprocess.Popen(  # noqa: S603 - por itself, or the program the user named
            launcher,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: an interrupt stops both
        )
        try:
            code = proc.wait()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # Ctrl-C, SIGTERM: leave nothing running
            proc.wait()
            raise
        if code != 0 or not figures.is_file():
            err.seek(0)
            raise BenchFailed(f"{label} exited {code}: {_last_line(err.read())}")
        seconds, maxrss = figures.read_text().split()
    return Timed(float(seconds), int(maxrss) * 1024, load)  # float-ok: seconds


def _last_line(data: bytes) -> str:
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1][:500] if lines else "(nothing on stderr)"


def median(values: Sequence[float]) -> float:  # float-ok: timings
    """The middle value (the mean of the two middle ones for an even count)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
