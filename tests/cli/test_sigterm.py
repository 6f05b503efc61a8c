"""SIGTERM (what `timeout`, cron's supervisor or systemd sends) in the middle of a write:
the real `por` process exits 143 with one line "terminated", its private temp directory or
file is gone, nothing half-written is left at the output path, and an output that was
there before is exactly as it was.

How: the command runs as a separate process; the test polls the output's parent directory
until the command's temp entry (``.NAME.tmp-*`` for a tree, ``.NAME.*`` for a container)
appears, which is the moment the command is writing, then sends SIGTERM. No timing is
asserted: the input is large enough (300,000 accounts) that the write lasts well beyond
the poll; a process must stop within a generous deadline."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from verifier.base import atomic
from verifier.cli.main import main

GENEROUS = int(os.environ.get("POR_TEST_GENEROUS", "120"))
"""Seconds a process may take to start writing or to stop: a deadline, not a measurement."""
ACCOUNTS = 300_000
AS_OF = "2026-12-05T00:00:00Z"


# SIGUSR1 dumps every thread's stack to stderr: what a test that finds `por` hung shows
ENTRY = (
    "import faulthandler, signal\n"
    "faulthandler.register(signal.SIGUSR1, all_threads=True)\n"
    "from verifier.cli.main import entrypoint\n"
    "entrypoint()\n"
)


def _por(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", ENTRY, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _snapshot(directory: Path) -> dict[str, str]:
    """Every file under `directory` (relative path -> sha256), directories as ''."""
    found: dict[str, str] = {}
    for path in sorted(directory.rglob("*")):
        rel = str(path.relative_to(directory))
        found[rel] = "" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _terminate_when(proc: subprocess.Popen[str], appeared: Callable[[], bool]) -> None:
    """SIGTERM to `proc` as soon as `appeared()`; fails if it ended first."""
    deadline = time.monotonic() + GENEROUS
    while not appeared():
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"ended (exit {proc.returncode}) before writing: {err[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no temporary output appeared")
        time.sleep(0.002)
    proc.send_signal(signal.SIGTERM)


def _has_bytes(directory: Path, pattern: str) -> bool:
    for path in directory.glob(pattern):
        with contextlib.suppress(FileNotFoundError):  # renamed or removed meanwhile
            if path.stat().st_size:
                return True
    return False


def _stopped(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=GENEROUS)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)  # the stacks of the threads that keep it alive
        time.sleep(1)
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running {GENEROUS} s after SIGTERM: {err[-6000:]}")
    return proc.returncode, out, err


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    here = tmp_path_factory.mktemp("sigterm-input")
    csv = here / "l.csv"
    rc = main(
        ["-q", "liabilities", "sample", "--accounts", str(ACCOUNTS), "--assets", "3",
         "--out", str(csv)]
    )  # fmt: skip
    assert rc == 0
    return csv, here / "l.assets.toml"


@pytest.fixture(scope="module")
def tree(sample: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    csv, assets = sample
    out = tmp_path_factory.mktemp("sigterm-tree") / "tree"
    rc = main(
        ["-q", "liabilities", "build", str(csv), "--assets", str(assets),
         "--attestation-id", "sig", "--as-of", AS_OF, "--out", str(out)]
    )  # fmt: skip
    assert rc == 0
    return out


def _previous_tree(place: Path) -> Path:
    """A small finished tree at `place`: the output a terminated rebuild must leave alone."""
    small = place.parent / "small.csv"
    small.write_text("account_id,asset,amount\nalice,BTC,1.5\nbob,BTC,2\n")
    assets = place.parent / "small.toml"
    assets.write_text("[assets.BTC]\ndecimals = 8\n")
    rc = main(
        ["-q", "liabilities", "build", str(small), "--assets", str(assets),
         "--attestation-id", "old", "--as-of", AS_OF, "--out", str(place)]
    )  # fmt: skip
    assert rc == 0
    small.unlink()
    assets.unlink()
    return place


@pytest.mark.parametrize("out_of_core", [False, True], ids=["in-memory", "out-of-core"])
@pytest.mark.parametrize("previous", [False, True], ids=["fresh", "over-previous"])
def test_terminated_build_leaves_nothing(sample, tmp_path, out_of_core, previous):
    csv, assets = sample
    work = tmp_path / "work"
    work.mkdir()
    out = work / "tree"
    before = _snapshot(_previous_tree(out)) if previous else None
    args = ["-q", "liabilities", "build", str(csv), "--assets", str(assets),
            "--attestation-id", "x", "--as-of", AS_OF, "--out", str(out), "--force"]  # fmt: skip
    proc = _por(*args, *(["--out-of-core"] if out_of_core else []))
    # in the middle: the level files (in memory) or the input being read into buckets
    writing = "tree/accounts.arrow" if out_of_core else "tree/level-00.bin"
    _terminate_when(proc, lambda: any(work.glob(f".tree.tmp-*/{writing}")))
    rc, out_text, err = _stopped(proc)
    assert rc == 143, err
    assert err.strip().splitlines()[-1] == "terminated"
    assert "Traceback" not in err and out_text == ""
    left = sorted(p.name for p in work.iterdir())
    if previous:
        assert left == ["tree"], left
        assert _snapshot(out) == before
    else:
        assert left == [], left


def test_terminated_proof_container_leaves_nothing(tree, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    target = work / "proofs.arrow"
    target.write_bytes(b"the previous container\n")
    proc = _por("-q", "liabilities", "proof", "--tree", str(tree), "--all", "--out",
                str(target))  # fmt: skip
    # in the middle of the write: the temp file has its first bytes
    _terminate_when(proc, lambda: _has_bytes(work, ".proofs.arrow.*"))
    rc, out_text, err = _stopped(proc)
    assert rc == 143, err
    assert err.strip().splitlines()[-1] == "terminated"
    assert "Traceback" not in err and out_text == ""
    assert sorted(p.name for p in work.iterdir()) == ["proofs.arrow"]
    assert target.read_bytes() == b"the previous container\n"


def test_sighup_is_129_and_json_gets_its_document(tmp_path, sample):
    csv, assets = sample
    work = tmp_path / "work"
    work.mkdir()
    proc = _por("-q", "liabilities", "build", str(csv), "--assets", str(assets),
                "--attestation-id", "x", "--as-of", AS_OF, "--out", str(work / "tree"),
                "--json")  # fmt: skip
    deadline = time.monotonic() + GENEROUS
    while not any(work.glob(".tree.tmp-*")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.002)
    proc.send_signal(signal.SIGHUP)
    rc, out_text, err = _stopped(proc)
    assert rc == 129, err
    assert err.strip().splitlines()[-1] == "hangup"
    assert '"exit_code": 129' in out_text
    assert list(work.iterdir()) == []


def test_handlers_are_put_back_after_an_in_process_run():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)
    assert main(["--version"]) == 0
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)) == before


def test_a_signal_during_a_command_becomes_143_in_process(monkeypatch):
    """The path without a subprocess: a SIGTERM raised while a command runs unwinds it."""
    import verifier.cli.main as cli_main

    def command(*_: object, **__: object) -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(GENEROUS)  # interrupted by the handler's exception
        return 0

    monkeypatch.setattr(cli_main, "_main", command)
    assert cli_main.main(["--version"]) == 143


# ----------------------------------------------------------------------------- the window
# A signal landing inside tempfile.mkstemp/mkdtemp, after the path exists but before the
# caller holds its name: simulated by calling the handler's `stop_signal` right there.


@pytest.fixture
def signal_inside_mktemp(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_dir, real_file = tempfile.mkdtemp, tempfile.mkstemp

    def mkdtemp(*args: Any, **kwargs: Any) -> str:
        made = real_dir(*args, **kwargs)
        atomic.stop_signal(signal.SIGTERM)  # what main.py's handler calls
        return made

    def mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        made = real_file(*args, **kwargs)
        atomic.stop_signal(signal.SIGTERM)
        return made

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    yield
    atomic.clear_pending()


@pytest.mark.usefixtures("signal_inside_mktemp")
@pytest.mark.parametrize(
    "make",
    [
        lambda d: atomic.private_dir(d, ".x.tmp-"),
        lambda d: atomic.private_file(d, ".x."),
        lambda d: atomic.private_file_fd(d, ".x."),
        lambda d: atomic.write_atomic(d / "x", b"data"),
    ],
    ids=["private_dir", "private_file", "private_file_fd", "write_atomic"],
)
def test_a_signal_while_the_temp_path_is_made_removes_it(tmp_path, make):
    with pytest.raises(atomic.Terminated):
        make(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_without_a_signal_nothing_is_held(tmp_path):
    made = atomic.private_dir(tmp_path, ".x.tmp-")
    assert made.is_dir() and made.name.startswith(".x.tmp-")
    assert oct(made.stat().st_mode & 0o777) == "0o700"
    fd, path = atomic.private_file_fd(tmp_path, ".y.")
    os.write(fd, b"written through the descriptor")
    os.close(fd)
    assert path.read_bytes() == b"written through the descriptor"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(atomic.Terminated):
        atomic.stop_signal(signal.SIGTERM)  # not held: raised at once


@pytest.mark.usefixtures("signal_inside_mktemp")
def test_streamed_tree_interrupted_while_starting_leaves_nothing(tmp_path):
    import numpy as np
    import pyarrow as pa

    from attestations.build import Liabilities
    from attestations.build_stream import StreamedTree
    from attestations.encoding import AssetSpec

    shell = Liabilities(
        assets=(AssetSpec("BTC", 8),),
        account_ids=pa.array([], pa.string()),
        balances=np.zeros((0, 1, 2), ">u8"),
    )
    work = tmp_path / "work"
    with pytest.raises(atomic.Terminated):
        StreamedTree(shell, work / "tree", attestation_id="x", as_of=AS_OF,
                     secret_file=tmp_path / "s.key")  # fmt: skip
    assert list(work.iterdir()) == []


@pytest.mark.usefixtures("signal_inside_mktemp")
def test_in_memory_build_temp_dir_made_under_hold(tmp_path):
    from attestations import build

    with pytest.raises(atomic.Terminated):
        build.make_temp_dir(tmp_path / "tree")
    assert list(tmp_path.iterdir()) == []


def test_container_temp_file_made_under_hold(tmp_path, monkeypatch):
    src = tmp_path / "l.csv"
    src.write_text("account_id,asset,amount\nalice,BTC,1.5\nbob,BTC,2\n")
    (tmp_path / "a.toml").write_text("[assets.BTC]\ndecimals = 8\n")
    args = ["-q", "liabilities", "build", str(src), "--assets", str(tmp_path / "a.toml"),
            "--attestation-id", "x", "--as-of", AS_OF, "--out", str(tmp_path / "t")]  # fmt: skip
    assert main(args) == 0
    from attestations.proof_container import write_container

    work = tmp_path / "work"
    work.mkdir()
    real = tempfile.mkstemp

    def mkstemp(*a: Any, **k: Any) -> tuple[int, str]:
        made = real(*a, **k)
        atomic.stop_signal(signal.SIGTERM)
        return made

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    try:
        with pytest.raises(atomic.Terminated):
            write_container(tmp_path / "t", work / "p.arrow", None, lambda *_: None)
    finally:
        atomic.clear_pending()
    assert list(work.iterdir()) == []


def test_a_terminated_turned_into_another_error_is_still_143(monkeypatch, capsys):
    """numpy's `tofile` into a file object gives a TypeError for an exception raised during
    its call: the signal still decides the ending, not "internal error" (exit 4)."""
    import verifier.cli.main as cli_main

    def command(*_: object, **__: object) -> int:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(GENEROUS)
        except atomic.Terminated:
            raise TypeError("expected str, bytes or os.PathLike object") from None
        return 0

    monkeypatch.setattr(cli_main, "_main", command)
    assert cli_main.main(["--version", "--json"]) == 143
    out = capsys.readouterr().out
    assert '"exit_code": 143' in out and "internal error" not in out


def _two_accounts() -> Any:
    import numpy as np
    import pyarrow as pa

    from attestations.build import Liabilities
    from attestations.encoding import AssetSpec

    balances = np.array([[[0, 5]], [[0, 7]]], dtype=">u8")  # (hi, lo) halves: 5 and 7
    return Liabilities(
        assets=(AssetSpec("BTC", 8),), account_ids=pa.array(["alice", "bob"]), balances=balances
    )


def test_new_secret_beside_the_tree_interrupted_while_staged_leaves_nothing(tmp_path, monkeypatch):
    """The new secret written outside the tree goes through a staged file: a signal between
    writing and renaming it removes the staged file (and the temp tree), not just the tree."""
    from attestations import build

    real = build.write_private

    def write_private(path: Path, data: bytes) -> None:
        real(path, data)
        if path.name.startswith(".s.key.tmp-"):
            raise atomic.Terminated(signal.SIGTERM)

    monkeypatch.setattr(build, "write_private", write_private)
    keys, work = tmp_path / "keys", tmp_path / "work"
    with pytest.raises(atomic.Terminated):
        build.build_tree(_two_accounts(), work / "tree", attestation_id="x", as_of=AS_OF,
                         secret_file=keys / "s.key")  # fmt: skip
    assert list(keys.iterdir()) == []
    assert list(work.iterdir()) == []


def test_removing_the_old_tree_interrupted_still_removes_it(tmp_path, monkeypatch):
    """--force over an existing tree: the old one is renamed aside and removed; a signal
    during that removal finishes it before unwinding (no ``.tree.old-PID`` left), and the
    new tree is in place."""
    from attestations import build

    out = tmp_path / "tree"
    build.build_tree(_two_accounts(), out, attestation_id="x", as_of=AS_OF)
    real = shutil.rmtree
    calls: list[str] = []

    def rmtree(path: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(Path(path).name)
        if len(calls) == 1 and ".old-" in Path(path).name:
            real(Path(path) / "tree", *args, **kwargs)  # half-way through, then the signal
            raise atomic.Terminated(signal.SIGTERM)
        real(path, *args, **kwargs)

    monkeypatch.setattr(build.shutil, "rmtree", rmtree)
    with pytest.raises(atomic.Terminated):
        build.build_tree(_two_accounts(), out, attestation_id="y", as_of=AS_OF, force=True)
    assert calls[0].startswith(".tree.old-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tree"]
    assert json.loads((out / "root.json").read_text())["attestation_id"] == "y"


@pytest.mark.usefixtures("signal_inside_mktemp")
def test_attestation_temp_dir_made_under_hold(tmp_path):
    from verifier.jobs.attest import write_attestation_dir

    with pytest.raises(atomic.Terminated):
        write_attestation_dir(tmp_path / "att", {}, {})
    assert list(tmp_path.iterdir()) == []


def test_attestation_dir_keeps_the_mode_of_a_plain_mkdir(tmp_path):
    """private_dir makes 0700; the attestation is public, so its directory gets 0777 & ~umask
    as before (the mode probe leaves nothing)."""
    from verifier.jobs import attest

    made = atomic.private_dir(tmp_path, ".a.tmp-")
    old = os.umask(0o027)
    try:
        attest._public_mode(made)
    finally:
        os.umask(old)
    assert oct(made.stat().st_mode & 0o777) == "0o750"
    assert list(made.iterdir()) == []


# ----------------------------------------------------------------------------- forked pools
# Without the native hashing (POR_NATIVE=0) the build hashes in forked worker processes
# (attestations/workers.py). An outside tester found two faults there: the workers inherited
# the SIGTERM handler, so every such build printed their tracebacks, even one that succeeded;
# and a SIGTERM to the whole process group (systemd, docker, `timeout` in a shell) hung the
# build for good (2 in 8 tries): the pool wrote into a pipe whose lock a dead worker held,
# or replaced the killed workers by new ones that ignored the signal.


def _por_group(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", ENTRY, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a service manager starts it
    )


def _python_path_env() -> dict[str, str]:
    return {**os.environ, "POR_NATIVE": "0"}


def test_forked_build_prints_no_worker_traceback(sample, tmp_path):
    csv, assets = sample
    proc = subprocess.run(
        [sys.executable, "-c", ENTRY, "-q", "liabilities", "build", str(csv), "--assets",
         str(assets), "--attestation-id", "x", "--as-of", AS_OF, "--out", str(tmp_path / "t")],
        check=False, capture_output=True, text=True, env=_python_path_env(),
        timeout=GENEROUS * 3,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Terminated" not in proc.stderr


@pytest.mark.parametrize("moment", ["temp dir made", "levels being written"])
def test_group_sigterm_stops_a_forked_build(sample, tmp_path, moment):
    csv, assets = sample
    work = tmp_path / "work"
    work.mkdir()
    proc = _por_group(
        "-q", "liabilities", "build", str(csv), "--assets", str(assets),
        "--attestation-id", "x", "--as-of", AS_OF, "--out", str(work / "tree"),
        env=_python_path_env(),
    )  # fmt: skip
    pattern = ".tree.tmp-*" if moment == "temp dir made" else ".tree.tmp-*/tree/level-00.bin"
    deadline = time.monotonic() + GENEROUS
    while not any(work.glob(pattern)):
        if proc.poll() is not None:
            pytest.fail(f"ended (exit {proc.returncode}) first: {proc.communicate()[1][-2000:]}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("no temporary output appeared")
        time.sleep(0.002)
    os.killpg(proc.pid, signal.SIGTERM)  # the parent and every worker, as systemd does
    rc, out_text, err = _stopped(proc)
    with contextlib.suppress(ProcessLookupError):  # nothing of the group may be left
        os.killpg(proc.pid, 0)
        time.sleep(2)
        os.killpg(proc.pid, 0)
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("a worker of the stopped build was still running")
    assert rc == 143, err
    assert err.strip().splitlines()[-1] == "terminated"
    assert "Traceback" not in err and out_text == ""
    assert sorted(p.name for p in work.iterdir()) == []


def test_abandoned_pool_leaves_no_worker_and_starts_none(tmp_path):
    """An exception inside `forked_pool`: the workers are killed, none is started in their
    place, and the pool's own finaliser (which would write into its pipes) does not run."""
    import multiprocessing

    from attestations.workers import forked_pool

    with pytest.raises(RuntimeError), forked_pool(2) as pool:
        assert sorted(pool.map(abs, [-1, -2, -3])) == [1, 2, 3]
        raise RuntimeError("stop")
    time.sleep(0.5)  # a worker handler still running would have started new workers
    assert multiprocessing.active_children() == []
    assert not pool._terminate.still_active()


def test_pool_workers_ignore_stop_signals():
    """Only the parent decides when its workers stop: a group SIGTERM must not kill one
    in the middle of writing a result into the pool's pipe."""
    from attestations.workers import forked_pool

    with forked_pool(1) as pool:
        handlers = pool.apply(_worker_handlers)
    assert handlers == [int(signal.SIG_IGN)] * 3


def _worker_handlers() -> list[int]:
    return [int(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)]
