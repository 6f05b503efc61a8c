"""The `openssl speed` floor of `por bench liabilities`: the issue's second yardstick.

The first OpenSSL floor (verifier/tools/bench.py `native_floor`) hashes the build's exact
calls through our own extension. This one asks the `openssl` program instead:
`openssl speed -elapsed -evp sha256 -multi N -bytes B -seconds S -mr` (N = the cores the
build uses) reports the bytes per second N processes hash together on B-byte messages, so
B-byte calls per second are that figure divided by B. `-elapsed` divides by wall-clock time,
as every other figure of the benchmark is taken (openssl's default divides by CPU user
time, which leaves out the time other work on a shared machine takes: measured at load 5,
280 against 90 – 100 MB/s on 33-byte messages). SHA-256 costs a fixed setup plus one compression
per 64-byte block, and a B-byte message takes ceil((B + 9) / 64) blocks; so `openssl` is run
once per block count the build's calls have (at the size with the most calls), and a call
whose block count was not measured (only past MAX_RUNS block counts) is priced by linear
interpolation in the block count between the measured ones (the nearest one's price past
either end). The floor is the sum over the
build's calls of each call's price. Skipped, with the reason, when `openssl` is missing,
fails, or prints no figure.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_RUNS = 6
"""`openssl speed` runs at most (each takes its --seconds): block counts beyond are interpolated."""


def blocks(size: int) -> int:
    """SHA-256 compressions for a `size`-byte message (padded: 0x80, zeros, 8 length bytes)."""
    return (size + 9 + 63) // 64


def speed_argv(binary: str, size: int | str, processes: int, seconds: int) -> list[str]:
    multi = ["-multi", str(processes), "-bytes", str(size), "-seconds", str(seconds)]
    return [binary, "speed", "-elapsed", "-evp", "sha256", *multi, "-mr"]


def parse_speed(text: str, size: int) -> float | None:  # float-ok: bytes per second
    """Bytes per second from `openssl speed -mr` output: its last `+F:` line (with -multi,
    the one after the children's, summing them), whose last field is the figure for the one
    size asked."""
    lines = [line for line in text.splitlines() if line.startswith("+F:")]
    if not lines:
        return None
    try:
        value = float(lines[-1].rsplit(":", 1)[1])  # float-ok: a throughput figure
    except (IndexError, ValueError):
        return None
    return value if value > 0 and value != float("inf") else None  # float-ok: a check


def openssl_floor(
    groups: Sequence[tuple[str, int, int]],
    *,
    processes: int,
    binary: str = "openssl",
    seconds: int = 1,
) -> dict[str, Any]:
    """The floor for `groups` ((kind, calls, message bytes), as bench.floor_groups gives
    them): {"seconds", "calls", "sizes": [...]} or {"skipped": reason}."""
    path = shutil.which(binary)
    if path is None:
        return {"skipped": f"no openssl program ({binary!r} not found on PATH)"}
    calls_by_blocks: dict[int, dict[int, int]] = {}
    for _, calls, size in groups:
        if calls > 0:
            sizes = calls_by_blocks.setdefault(blocks(size), {})
            sizes[size] = sizes.get(size, 0) + calls
    if not calls_by_blocks:
        return {"skipped": "no hash calls to price"}
    # the block counts with the most calls are measured; the rest interpolated
    ranked = sorted(calls_by_blocks, key=lambda b: -sum(calls_by_blocks[b].values()))
    runs: list[dict[str, Any]] = []
    for count in sorted(ranked[:MAX_RUNS]):
        size = max(calls_by_blocks[count].items(), key=lambda item: item[1])[0]
        argv = speed_argv(path, size, processes, seconds)
        try:
            done = subprocess.run(  # noqa: S603 - the openssl found on PATH or named by the user
                argv, capture_output=True, text=True, timeout=60 + 4 * seconds, check=False
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return {"skipped": f"{' '.join(argv)} failed: {exc}"}
        rate = parse_speed(done.stdout, size)
        if done.returncode != 0 or rate is None:
            why = (done.stderr.strip().splitlines() or ["no +F: figure in its output"])[-1]
            return {"skipped": f"{' '.join(argv)} exited {done.returncode}: {why[:300]}"}
        runs.append({"bytes": size, "blocks": count, "calls_per_second": round(rate / size)})
    return _priced(calls_by_blocks, runs, path, processes, seconds)


def _priced(
    calls_by_blocks: dict[int, dict[int, int]],
    runs: list[dict[str, Any]],
    path: str,
    processes: int,
    seconds: int,
) -> dict[str, Any]:
    """Sum each call's price: 1 / calls per second at its block count, interpolated."""
    measured = np.array([r["blocks"] for r in runs], dtype=np.float64)
    price = np.array([1 / r["calls_per_second"] for r in runs], dtype=np.float64)
    total = 0.0
    calls = 0
    for count, sizes in calls_by_blocks.items():
        n = sum(sizes.values())
        each = float(np.interp(count, measured, price))  # float-ok: seconds; flat past the ends
        total += n * each
        calls += n
    return {
        "calls": calls,
        "seconds": round(total, 6),  # µs: a tiny sample's floor is not 0
        "processes": processes,
        "sizes": runs,
        "command": " ".join(speed_argv(path, "B", processes, seconds)),
        "how": "openssl speed per SHA-256 block count of the build's calls, scaled to their "
        "number; unmeasured block counts interpolated linearly",
    }
