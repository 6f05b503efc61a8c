"""`por bench liabilities`: time the liabilities engine against the floor of its design.

Two floors, over exactly the hash calls a por-mst-v1 build needs, on messages of the same
sizes: a bare single-core `hashlib.sha256(msg).digest()` loop, and the OpenSSL two-core
floor: libcrypto's SHA-256 through the native batch module (attestations._sha256batch), one
call per batch of equal-sized random messages, on two threads with the GIL released (only
where the extension is built). The calls are:
  * one account hash per account        (1 + len(account_id) bytes)
  * HMAC-SHA256 salt per leaf = 2 calls (64 + len(id) + 4 bytes, then 96 bytes)
  * one leaf hash per leaf              (1 + 32 + 32 + 16·A bytes)
  * one padding hash per padding leaf   (33 bytes)
  * one node hash per internal node     (1 + 2·(32 + 16·A) bytes)
Measured in the same run, on the same machine. Peak memory is the largest sum of the
proportional set size (PSS, so pages shared between the forked workers count once) over
the process and its children, sampled every 0.1 s.

The issue's headline figure is the WHOLE PROCESS: `por liabilities build` run on the same
sample as a user runs it (a separate process: interpreter start, imports, read, build,
write; verifier/tools/bench_process.py), timed with its peak RSS, right before the two
OpenSSL floors, and divided by each: the extension's, and `openssl speed -evp sha256 -multi
N` priced for the same calls (verifier/tools/bench_openssl.py).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import platform
import random
import resource
import shutil
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from attestations import hashing
from attestations.audit import audit_tree
from attestations.build import BuildResult, build_tree, default_workers
from attestations.encoding import tree_height
from attestations.proofs import parse_proof, verify_proof
from attestations.store import TreeStore
from verifier.base.console import out, plural
from verifier.base.errors import UsageError
from verifier.inputs import native
from verifier.inputs.assets import read_assets
from verifier.inputs.liabilities import read_liabilities
from verifier.tools.bench_openssl import openssl_floor
from verifier.tools.bench_process import median, por_argv, run_timed
from verifier.tools.sample import assets_toml, sample_assets, write_sample

BATCH = 1 << 17
TARGET_RATIO = 4
"""Issue 16: whole-process build of 1M x 3 at most this many times the OpenSSL two-core floor."""
TARGET_PEAK_BYTES = 1 << 30
"""Issue 16: ... with a peak of at most 1 GiB."""
AS_OF = "2026-11-21T00:00:00Z"


class PeakMemory:
    """Samples PSS of this process and its children in a background thread."""

    def __init__(self, interval: float = 0.1) -> None:  # float-ok: seconds, not money
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        me = psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_full_info().pss
            except (psutil.Error, AttributeError):
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self.peak = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


def _time_group(count: int, size: int) -> float:  # float-ok: seconds
    """Seconds for `count` sha256 calls on `size`-byte messages, one core, bare loop."""
    if count <= 0:
        return 0.0
    batch = [os.urandom(size) for _ in range(min(count, BATCH))]
    sha = hashlib.sha256
    elapsed = 0.0
    left = count
    while left > 0:
        part = batch if left >= len(batch) else batch[:left]
        start = time.perf_counter()
        for m in part:
            sha(m).digest()
        elapsed += time.perf_counter() - start
        left -= len(part)
    return elapsed


def _time_group_native(native: Any, count: int, size: int) -> float:  # float-ok: seconds
    """Seconds for `count` libcrypto SHA-256 calls on `size`-byte messages, each batch cut
    into one slice per core and hashed on that many threads (the extension releases the
    GIL), whether or not the build itself uses the extension (POR_NATIVE=0)."""
    if count <= 0:
        return 0.0
    rows = min(count, BATCH)
    batch = np.frombuffer(os.urandom(rows * size), dtype=np.uint8).reshape(rows, size)
    out = np.empty((rows, 32), dtype=np.uint8)
    threads = default_workers()
    elapsed = 0.0
    left = count
    with ThreadPoolExecutor(threads) as pool:
        while left > 0:
            n = min(left, rows)
            step = -(-n // threads)
            slices = [(a, min(a + step, n)) for a in range(0, n, step)]
            start = time.perf_counter()
            futures = [
                pool.submit(native.hash_rows, out[a:b], 32, b - a, b"", (batch[a:b],), (size,))
                for a, b in slices
            ]
            for future in futures:
                future.result()
            elapsed += time.perf_counter() - start
            left -= n
    return elapsed


def floor_groups(
    id_lengths: dict[int, int], accounts: int, split: int, assets: int
) -> list[tuple[str, int, int]]:
    """(kind, calls, message bytes) of every SHA-256 call a build makes."""
    leaves = accounts * split
    size = 1 << tree_height(leaves)
    record = 32 + 16 * assets
    groups: list[tuple[str, int, int]] = []
    for length, n in sorted(id_lengths.items()):
        groups.append(("account hash", n, 1 + length))
        groups.append(("salt HMAC inner", n * split, 64 + length + 4))
    groups += [
        ("salt HMAC outer", leaves, 96),
        ("leaf hash", leaves, 1 + 32 + 32 + 16 * assets),
        ("padding hash", size - leaves, 33),
        ("node hash", size - 1, 1 + 2 * record),
    ]
    return groups


def native_floor(
    id_lengths: dict[int, int], accounts: int, split: int, assets: int
) -> dict[str, Any] | None:
    """The OpenSSL two-core floor for the same calls and sizes; None where the extension is
    not built (then `openssl speed -evp sha256 -multi 2`, scaled, is the way to get it)."""
    native = hashing.native_module()
    if native is None:
        return None
    seconds = 0.0
    calls = 0
    for _, count, msg in floor_groups(id_lengths, accounts, split, assets):
        seconds += _time_group_native(native, count, msg)
        calls += count
    return {
        "calls": calls,
        "seconds": round(seconds, 3),
        "threads": default_workers(),
        "how": "libcrypto SHA256 via attestations._sha256batch, batches of 131072 messages "
        "cut over the threads, GIL released",
    }


def hash_floor(
    id_lengths: dict[int, int], accounts: int, split: int, assets: int
) -> dict[str, Any]:
    """Time the floor loop; returns calls and seconds per kind of hash."""
    kinds: dict[str, dict[str, float]] = {}
    for name, count, msg in floor_groups(id_lengths, accounts, split, assets):
        seconds = _time_group(count, msg)
        entry = kinds.setdefault(name, {"calls": 0, "seconds": 0.0})
        entry["calls"] += count
        entry["seconds"] += seconds
    total = sum(k["seconds"] for k in kinds.values())
    return {
        "calls": int(sum(k["calls"] for k in kinds.values())),
        "seconds": round(total, 3),
        "by_kind": {
            n: {"calls": int(k["calls"]), "seconds": round(k["seconds"], 3)}
            for n, k in kinds.items()
        },
    }


def machine() -> dict[str, Any]:
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": default_workers(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def keep_dir(keep: Path, benchmark: str) -> Path:
    """The --keep work directory of `por bench <benchmark>`, created or reused.

    A path that exists and is not a directory, or a directory that holds anything and was
    not kept by an earlier run of the same benchmark (it carries its marker file), is a
    usage error (exit 2) naming --keep: the benchmark writes its inputs and a tree there,
    and must never overwrite a file of the user's. A marked directory is reused as it is
    (the run rewrites its own files; nothing else in it is touched)."""
    marker = f".por-bench-{benchmark}"
    if keep.exists() or keep.is_symlink():
        if not keep.is_dir():
            raise UsageError(f"--keep {keep} exists and is not a directory (give a directory)")
        if not (keep / marker).is_file() and any(keep.iterdir()):
            raise UsageError(
                f"--keep {keep} is a directory that holds files and was not kept by "
                f"`por bench {benchmark}`: refusing to write into it (give a new or empty one)"
            )
    keep.mkdir(parents=True, exist_ok=True)
    (keep / marker).write_text(f"work directory kept by `por bench {benchmark} --keep`\n")
    return keep


def run_liabilities_bench(
    *,
    accounts: int,
    asset_count: int,
    split: int = 1,
    workers: int = 0,
    proof_count: int = 1000,
    keep: Path | None = None,
    progress: Any = None,
    whole_process: bool = True,
    openssl: str | None = "openssl",
    openssl_seconds: int = 3,
    runs: int = 1,
) -> dict[str, Any]:
    """Run the whole benchmark and return its figures (seconds, rates, bytes). `openssl`:
    the program for the `openssl speed` floor, None to skip it; `runs`: rounds of the whole
    process and both OpenSSL floors, one after the other (medians and each round's ratio)."""
    progress = progress or (lambda *a: None)
    load_start = os.getloadavg()
    work = keep_dir(keep, "liabilities") if keep else Path(tempfile.mkdtemp(prefix="por-bench-"))
    try:
        rows = _generate(work, accounts, asset_count, progress)
        tree_dir = work / "tree"
        built = _timed_build(work, tree_dir, split, workers, progress)
        proof_s, verify_s = _timed_proofs(tree_dir, built.result, accounts, proof_count)
        with PeakMemory() as audit_memory:
            started = time.perf_counter()
            audit_tree(tree_dir, workers=workers, progress=progress)
            audit_s = time.perf_counter() - started

        progress("hashlib floor (single core)", 0, 1)
        floor = hash_floor(built.id_lengths, accounts, split, asset_count)
        progress("hashlib floor (single core)", 1, 1)
        shape = (built.id_lengths, accounts, split, asset_count)
        rounds = [
            _round(work, shape, workers, whole_process, openssl, openssl_seconds, progress)
            for _ in range(runs)
        ]
        process = _merge_process(rounds) if whole_process else None
        repeat = _merge_process(rounds, "whole_process_repeat") if whole_process else None
        floor2 = _merge_floor(rounds, "floor_openssl_2core")
        speed = _merge_floor(rounds, "floor_openssl_speed")
        floor2_s = floor2["seconds"] if floor2 else 0.0
        speed_s = speed.get("seconds", 0.0) if speed else 0.0
        process_s = process["seconds"] if process else 0.0
        repeat_s = repeat["seconds"] if repeat else 0.0
        usage_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        usage_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        read_s, build_s, result = built.read_s, built.build_s, built.result
        return {
            "benchmark": "liabilities",
            "machine": machine(),
            "workers": workers or default_workers(),
            "hashing": hashing.backend_info(),
            "amounts": native.amounts_info(),
            "ids": native.ids_info(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "load_average_start": [round(x, 2) for x in load_start],
            "accounts": accounts,
            "assets": asset_count,
            "split": split,
            "rows": rows,
            "leaves": result.leaves,
            "padding": result.padding,
            "height": result.root.height,
            "seconds": {
                "read_and_validate": round(read_s, 3),
                "build_tree": round(build_s, 3),
                "build_total": round(read_s + build_s, 3),
                "proofs": round(proof_s, 3),
                "verify": round(verify_s, 3),
                "audit": round(audit_s, 3),
            },
            "proof_ms_each": round(proof_s / proof_count * 1000, 3),
            "verify_per_second": round(proof_count / verify_s, 1) if verify_s else None,
            "floor": floor,
            "ratio_to_floor": {  # none when the floor is too small to time (tiny inputs)
                "build_tree": _ratio(build_s, floor["seconds"]),
                "build_total": _ratio(read_s + build_s, floor["seconds"]),
                "audit": _ratio(audit_s, floor["seconds"]),
            },
            "floor_openssl_2core": floor2,
            "ratio_to_openssl_2core": {  # none where the extension is not built
                "build_tree": _ratio(build_s, floor2_s),
                "build_total": _ratio(read_s + build_s, floor2_s),
                "audit": _ratio(audit_s, floor2_s),
                "whole_process": _ratio(process_s, floor2_s),
                "whole_process_repeat": _ratio(repeat_s, floor2_s),
            },
            "whole_process": process,
            "whole_process_repeat": repeat,
            "floor_openssl_speed": speed,
            "ratio_to_openssl_speed": {  # none where openssl was skipped
                "build_tree": _ratio(build_s, speed_s),
                "build_total": _ratio(read_s + build_s, speed_s),
                "whole_process": _ratio(process_s, speed_s),
                "whole_process_repeat": _ratio(repeat_s, speed_s),
            },
            "headline": _headline(process, repeat, floor2_s, speed_s, rounds),
            "peak_memory_bytes": {
                "build": built.peak_memory,
                "audit": audit_memory.peak,
                "maxrss_parent": usage_self,
                "maxrss_largest_child": usage_children,
            },
            "tree_bytes_on_disk": sum(p.stat().st_size for p in tree_dir.rglob("*") if p.is_file()),
        }
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _generate(work: Path, accounts: int, asset_count: int, progress: Any) -> int:
    """The sample liabilities file and its assets.toml in `work` (untimed); returns its rows."""
    assets = sample_assets(asset_count)
    (work / "assets.toml").write_text(assets_toml(assets))
    progress("generate sample (untimed)", 0, 1)
    # in a child process, so the sample's memory is not counted against the build
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        rows: int = pool.submit(write_sample, work / "liabilities.csv", accounts, assets).result()
    progress("generate sample (untimed)", 1, 1)
    return rows


def _whole_process(
    work: Path, split: int, workers: int, progress: Any, *, label: str = "whole process"
) -> dict[str, Any]:
    """`por -q liabilities build` of the sample in its own process, as a user runs it."""
    tree = work / "tree-process"
    argv = [
        *por_argv(),
        "-q",
        "liabilities",
        "build",
        str(work / "liabilities.csv"),
        "--assets",
        str(work / "assets.toml"),
        "--attestation-id",
        "bench",
        "--as-of",
        AS_OF,
        "--out",
        str(tree),
        "--force",
        "--secret-file",
        str(work / "process-secret.key"),
        "--split",
        str(split),
        *(["--workers", str(workers)] if workers else []),
    ]
    progress(f"por liabilities build ({label})", 0, 1)
    timed = run_timed(argv, label=f"por liabilities build ({label})")
    progress(f"por liabilities build ({label})", 1, 1)
    shutil.rmtree(tree, ignore_errors=True)  # its figures are taken; free the disk
    return {
        "command": "por -q liabilities build liabilities.csv --assets assets.toml "
        f"--attestation-id bench --as-of {AS_OF} --out tree --force --secret-file secret.key "
        f"--split {split}" + (f" --workers {workers}" if workers else ""),
        **timed.to_json(),
    }


def _speed_floor(
    id_lengths: dict[int, int],
    accounts: int,
    split: int,
    assets: int,
    openssl: str | None,
    seconds: int,
    progress: Any,
) -> dict[str, Any]:
    """`openssl speed` priced for the build's calls, on as many processes as the build's
    two-core floor uses threads; {"skipped": why} when not measured."""
    if openssl is None:
        return {"skipped": "not asked (--no-openssl-speed)"}
    progress("openssl speed floor", 0, 1)
    groups = floor_groups(id_lengths, accounts, split, assets)
    floor = openssl_floor(groups, processes=default_workers(), binary=openssl, seconds=seconds)
    progress("openssl speed floor", 1, 1)
    return floor


def _round(
    work: Path,
    shape: tuple[dict[int, int], int, int, int],
    workers: int,
    whole_process: bool,
    openssl: str | None,
    openssl_seconds: int,
    progress: Any,
) -> dict[str, Any]:
    """One round: the whole process, the same again at once, then both OpenSSL floors, back
    to back so the figures share the machine's load.

    Why the repeat: on a VM whose free memory goes back to the host (virtio-balloon free
    page reporting, as on this project's machine), memory not used for a couple of seconds
    costs a host fault on first touch. The round's first run follows the previous round's
    floors (seconds of little memory) and pays that; the repeat finds the memory the first
    run just freed still backed. Both are real (a scheduled build after idle is the first
    kind); the headline keeps the first, and shows the repeat beside it.
    """
    id_lengths, accounts, split, assets = shape
    process = _whole_process(work, split, workers, progress) if whole_process else None
    repeat = (
        _whole_process(work, split, workers, progress, label="again at once")
        if whole_process
        else None
    )
    progress("OpenSSL floor (two cores)", 0, 1)
    floor2 = native_floor(id_lengths, accounts, split, assets)
    progress("OpenSSL floor (two cores)", 1, 1)
    speed = _speed_floor(id_lengths, accounts, split, assets, openssl, openssl_seconds, progress)
    return {
        "whole_process": process,
        "whole_process_repeat": repeat,
        "floor_openssl_2core": floor2,
        "floor_openssl_speed": speed,
    }


def _merge_process(rounds: list[dict[str, Any]], key: str = "whole_process") -> dict[str, Any]:
    """Every round's whole-process run (`key`); seconds = their median, peak = the largest."""
    runs = [r[key] for r in rounds]
    return {
        "command": runs[0]["command"],
        "seconds": round(median([r["seconds"] for r in runs]), 3),
        "peak_rss_bytes": max(r["peak_rss_bytes"] for r in runs),
        "runs": [{k: v for k, v in r.items() if k != "command"} for r in runs],
    }


def _merge_floor(rounds: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """A floor as the first round gave it, its seconds the median of every round's (a
    skipped or missing floor as the first round said)."""
    first = rounds[0][key]
    if first is None or "skipped" in first:
        return first
    each = [r[key]["seconds"] for r in rounds if r[key] and "seconds" in r[key]]
    return {**first, "seconds": round(median(each), 6), "runs_seconds": each}


def _headline(  # float-ok: seconds and ratios of timings, not money
    process: dict[str, Any] | None,
    repeat: dict[str, Any] | None,
    floor2_s: float,  # float-ok: seconds
    speed_s: float,  # float-ok: seconds
    rounds: list[dict[str, Any]],
) -> dict[str, Any]:
    """Issue 16's target in one place: the whole process against both two-core floors, as
    medians and round by round (a round's three figures were taken in the same seconds)."""
    if process is None:
        return {"skipped": "not asked (--no-whole-process)"}

    def pairs(key: str, run: str = "whole_process") -> list[float | None]:
        return [_ratio(r[run]["seconds"], (r[key] or {}).get("seconds", 0.0)) for r in rounds]

    again = repeat["seconds"] if repeat else 0.0

    return {
        "whole_process_seconds": process["seconds"],
        "peak_rss_bytes": process["peak_rss_bytes"],
        "ratio_to_openssl_2core": _ratio(process["seconds"], floor2_s),
        "ratio_to_openssl_speed": _ratio(process["seconds"], speed_s),
        "round_ratios_to_openssl_2core": pairs("floor_openssl_2core"),
        "round_ratios_to_openssl_speed": pairs("floor_openssl_speed"),
        # the same command again at once (see `_round`: memory still backed on a VM)
        "repeat_seconds": again,
        "repeat_ratio_to_openssl_2core": _ratio(again, floor2_s),
        "repeat_ratio_to_openssl_speed": _ratio(again, speed_s),
        "round_repeat_ratios_to_openssl_2core": pairs(
            "floor_openssl_2core", "whole_process_repeat"
        ),
        "round_repeat_ratios_to_openssl_speed": pairs(
            "floor_openssl_speed", "whole_process_repeat"
        ),
        "target_ratio": TARGET_RATIO,
        "target_peak_bytes": TARGET_PEAK_BYTES,
    }


@dataclass(frozen=True)
class _Built:
    """The timed read and build: the tree, the seconds of each, the peak memory of both and
    the account ids' lengths (the hash floor hashes messages of the same sizes)."""

    result: BuildResult
    read_s: float  # float-ok: seconds
    build_s: float  # float-ok: seconds
    peak_memory: int
    id_lengths: dict[int, int]


def _timed_build(work: Path, tree_dir: Path, split: int, workers: int, progress: Any) -> _Built:
    """Read and validate the sample, then build its tree into `tree_dir`, each timed."""
    if tree_dir.exists():
        shutil.rmtree(tree_dir)
    with PeakMemory() as build_memory:
        started = time.perf_counter()
        data = read_liabilities(
            work / "liabilities.csv", read_assets(work / "assets.toml"), progress=progress
        )
        read_s = time.perf_counter() - started
        started = time.perf_counter()
        result = build_tree(
            data,
            tree_dir,
            attestation_id="bench",
            as_of=AS_OF,
            split=split,
            workers=workers,
            progress=progress,
        )
        build_s = time.perf_counter() - started
    ids = data.account_ids
    id_lengths: dict[int, int] = {}
    lengths = (
        np.asarray([len(x) for x in ids.slice(0, min(len(ids), 100_000)).to_pylist()])
        if len(ids)
        else np.zeros(0)
    )
    # account ids of the sample all share one length; scale the observed mix to all
    values, counts = np.unique(lengths, return_counts=True)
    scale = len(ids) / max(1, len(lengths))
    for v, c in zip(values.tolist(), counts.tolist(), strict=True):
        id_lengths[int(v)] = round(c * scale)
    return _Built(result, read_s, build_s, build_memory.peak, id_lengths)


def _timed_proofs(
    tree_dir: Path, result: BuildResult, accounts: int, proof_count: int
) -> tuple[float, float]:  # float-ok: seconds
    """`proof_count` random accounts' proofs read from the store, then verified as a
    customer would (parsed from JSON); returns (seconds to read, seconds to verify)."""
    rng = random.Random(1)
    sample = [f"acct-{rng.randrange(accounts):08d}" for _ in range(proof_count)]
    with TreeStore(tree_dir) as store:
        started = time.perf_counter()
        proofs = [store.proof(a).to_json() for a in sample]
        proof_s = time.perf_counter() - started
    texts = [json.dumps(p) for p in proofs]
    started = time.perf_counter()
    for text in texts:
        verify_proof(parse_proof(json.loads(text)), published_root=result.root)
    verify_s = time.perf_counter() - started
    return proof_s, verify_s


def render(result: dict[str, Any]) -> None:
    from rich.table import Table

    m = result["machine"]
    out.print(
        f"[bold]por bench liabilities[/bold]: {result['accounts']:,} accounts × "
        f"{plural(result['assets'], 'asset')}, split {result['split']}, "
        f"{plural(result['workers'], 'worker')}; "
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}"
    )
    table = Table(show_header=True)
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    table.add_column("× floor", justify="right")
    floor = result["floor"]["seconds"]
    for name, seconds in result["seconds"].items():
        ratio = (
            f"{seconds / floor:.2f}"
            if floor > 0 and name in {"build_tree", "build_total", "audit"}
            else ""
        )
        table.add_row(name, f"{seconds:.3f}", ratio)
    table.add_row("hashlib floor, 1 core", f"{floor:.3f}", "1.00")
    out.print(table)
    out.print(f"floor: {result['floor']['calls']:,} sha256 calls")
    floor2 = result.get("floor_openssl_2core")
    if floor2:
        ratios = {k: f"{v:.2f}" if v else "-" for k, v in result["ratio_to_openssl_2core"].items()}
        out.print(
            f"OpenSSL floor, {floor2['threads']} cores: {floor2['seconds']:.3f} s; "
            f"build_total {ratios['build_total']} ×, build_tree {ratios['build_tree']} ×, "
            f"audit {ratios['audit']} × that floor"
        )
    _render_headline(result)
    hashing_info = result["hashing"]
    out.print(
        f"hashing: {hashing_info['backend']} "
        f"({hashing_info.get('openssl') or hashing_info.get('reason')}); "
        f"amounts: {result['amounts']['backend']}"
        + (f" ({result['amounts']['reason']})" if "reason" in result["amounts"] else "")
        + f"; ids: {result['ids']['backend']}"
        + f"; load average {' '.join(str(x) for x in result['load_average'])}"
    )
    out.print(
        f"proof: {result['proof_ms_each']} ms each; "
        f"verify: {result['verify_per_second']:,} proofs/s"
    )
    peak = result["peak_memory_bytes"]
    out.print(
        f"peak memory (PSS, all processes): build {peak['build'] / 2**20:,.0f} MiB, "
        f"audit {peak['audit'] / 2**20:,.0f} MiB"
    )


def _render_headline(result: dict[str, Any]) -> None:
    """The whole process against both floors, with the issue's targets beside them."""
    speed = result.get("floor_openssl_speed") or {}
    if "skipped" in speed:
        out.print(f"openssl speed floor: skipped: {speed['skipped']}")
    elif speed:
        out.print(
            f"openssl speed floor ({speed['processes']} processes): {speed['seconds']:.3f} s "
            f"for {speed['calls']:,} calls"
        )
    head = result.get("headline") or {}
    if "skipped" in head or not head:
        out.print(f"whole process: {head.get('skipped', 'not measured')}")
        return
    ratios = _against_floors(head, "ratio_to")
    out.print(
        f"[bold]whole process[/bold] (por liabilities build, own process): "
        f"{head['whole_process_seconds']:.3f} s (median of {len(result['whole_process']['runs'])}) "
        f"= {'; '.join(ratios)} "
        f"(target ≤ {head['target_ratio']} ×); peak RSS "
        f"{head['peak_rss_bytes'] / 2**20:,.0f} MiB (target ≤ "
        f"{head['target_peak_bytes'] / 2**20:,.0f} MiB)"
    )
    if len(head["round_ratios_to_openssl_2core"]) > 1:
        out.print(
            "round by round: "
            + "; ".join(
                f"{_fmt(a)} × / {_fmt(b)} ×"
                for a, b in zip(
                    head["round_ratios_to_openssl_2core"],
                    head["round_ratios_to_openssl_speed"],
                    strict=True,
                )
            )
            + " (two-core floor / openssl speed floor)"
        )
    again = _against_floors(head, "repeat_ratio_to")
    out.print(
        f"the same command again at once: {head['repeat_seconds']:.3f} s = {'; '.join(again)} "
        "(memory the first run freed is still backed; on a VM that returns free memory to "
        "its host the first run pays for fresh memory: docs/performance.md)"
    )


def _against_floors(head: dict[str, Any], prefix: str) -> list[str]:
    """ "R × the <floor>" for both floors of the headline's `prefix`_* ratios."""
    return [
        f"{head[key]:.2f} × the {name}" if head[key] else f"no ratio to the {name} (not measured)"
        for key, name in (
            (f"{prefix}_openssl_2core", "OpenSSL two-core floor"),
            (f"{prefix}_openssl_speed", "openssl speed floor"),
        )
    ]


def _fmt(ratio: float | None) -> str:  # float-ok: a timing ratio
    return "-" if ratio is None else f"{ratio:.2f}"


def _ratio(seconds: float, floor: float) -> float | None:  # float-ok: timings, not money
    """seconds / floor; None when either was not measured (0)."""
    return round(seconds / floor, 3) if floor > 0 and seconds > 0 else None
