"""Start and stop real local nodes (anvil, bcoin) for tests, the demo and benchmarks.

Each node runs on a free loopback port with a throwaway data directory, in its own process
group, and is stopped — process group and directory — on exit, on error and at interpreter
exit, so that no process or file is left behind even when a test fails.

The binaries come from the repository's `node_modules` (`npm ci --ignore-scripts`, which
`make test` and `make demo` run); `POR_NODE_MODULES` points elsewhere if needed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

from verifier.errors import NodeUnavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
_LIVE: set[LocalNode] = set()


class NodeMissing(NodeUnavailable):
    """The node's program is not installed (run `npm ci --ignore-scripts`)."""


def node_modules() -> Path:
    return Path(os.environ.get("POR_NODE_MODULES", REPO_ROOT / "node_modules"))


def node_program(relative: str) -> Path:
    """A file under node_modules, or `NodeMissing` naming the install command."""
    path = node_modules() / relative
    if not path.exists():
        raise NodeMissing(
            f"{path} is missing: run `npm ci --ignore-scripts` in {REPO_ROOT} "
            "(make test and make demo do)"
        )
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalNode:
    """One node process. Subclasses give `command()`, `ready()` and `check_version()`."""

    name = "node"
    start_timeout = 30.0  # float-ok: seconds

    def __init__(self) -> None:
        self.port = free_port()
        self.datadir = Path(tempfile.mkdtemp(prefix=f"por-{self.name}-"))
        self.process: subprocess.Popen[bytes] | None = None
        self._log = self.datadir / "node.log"

    # ------------------------------------------------------------------ to override

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def ready(self) -> bool:
        """True once the node answers its API."""
        raise NotImplementedError

    def check_version(self) -> None:
        """Raise `NodeUnavailable` if the running node is not the pinned version."""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        try:
            command = self.command()  # may raise NodeMissing: clean up the datadir too
            with self._log.open("wb") as log:
                self.process = subprocess.Popen(  # noqa: S603 - our own node binaries
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=self.environment(),
                    cwd=self.datadir,
                    start_new_session=True,  # its own process group: stop() kills all of it
                )
            _LIVE.add(self)
            self._wait(self.ready, self.start_timeout)
            self.check_version()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait(self, condition: Callable[[], bool], timeout: float) -> None:  # float-ok
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise NodeUnavailable(
                    f"{self.name} exited with code {self.process.returncode}: {self.log_tail()}"
                )
            try:
                if condition():
                    return
            except Exception:  # noqa: S110 - not answering yet
                pass
            time.sleep(0.05)
        raise NodeUnavailable(
            f"{self.name} did not answer within {timeout:.0f} s: {self.log_tail()}"
        )

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self._log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:]) or "(empty log)"

    def kill(self) -> None:
        """Kill the node abruptly (for tests of a node dying mid-snapshot)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the process group and remove the data directory. Safe to call twice."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        shutil.rmtree(self.datadir, ignore_errors=True)
        _LIVE.discard(self)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@atexit.register
def _stop_all() -> None:
    for node in list(_LIVE):
        node.stop()
