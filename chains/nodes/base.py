"""Start and stop real local nodes (anvil, bcoin) for tests, the demo and benchmarks.

Each node runs on a free loopback port with a throwaway data directory, in its own process
group, and is stopped — process group and directory — on exit, on error and at interpreter
exit, so that no process or file is left behind even when a test fails.

The binaries come from npm's `node_modules` (`npm ci --ignore-scripts` beside por's
package.json, which `make test` and `make demo` run), looked up in this order:
`POR_NODE_MODULES` when set; else, in a source checkout, the repository's `node_modules`;
else (an installed wheel, which carries no package.json) `./node_modules` in the current
directory. A missing program is `NodeMissing` (exit 4) saying where it looked and how to
install it.
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

from verifier.base.errors import NodeUnavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The source checkout's root, or site-packages when installed (see `in_source_checkout`)."""
NODE_MODULES_ENV = "POR_NODE_MODULES"
_LIVE: set[LocalNode] = set()


class NodeMissing(NodeUnavailable):
    """The node's program is not installed (run `npm ci --ignore-scripts`)."""


def in_source_checkout() -> bool:
    """True when running from the repository (also an editable install), not from a wheel."""
    return (REPO_ROOT / "package.json").is_file() and (REPO_ROOT / "pyproject.toml").is_file()


def _lookup() -> tuple[Path, str]:
    """The node_modules directory to use and how it was chosen (for messages)."""
    configured = os.environ.get(NODE_MODULES_ENV, "")
    if configured:
        chosen, how = Path(configured).expanduser(), f"node_modules from {NODE_MODULES_ENV}"
    elif in_source_checkout():
        return REPO_ROOT / "node_modules", "the source checkout's node_modules"
    else:
        chosen, how = Path("node_modules"), "node_modules in the current directory"
    # absolute: the nodes run with their data directory as working directory, and bcoin
    # finds its modules through NODE_PATH
    try:
        return chosen.absolute(), how
    except OSError as exc:  # the current directory was removed
        raise NodeMissing(
            f"cannot locate {chosen} ({how}): the current directory is gone "
            f"({exc.strerror}); set {NODE_MODULES_ENV} to an absolute path"
        ) from None


def node_modules() -> Path:
    """Where the npm packages are: POR_NODE_MODULES, the checkout's, or ./node_modules."""
    return _lookup()[0]


def install_hint() -> str:
    """How to get the npm packages, for the current situation."""
    if in_source_checkout():
        where = f"run `npm ci --ignore-scripts` in {REPO_ROOT} (make test and make demo do)"
    else:
        where = (
            "run `npm ci --ignore-scripts` in a directory holding por's package.json and "
            "package-lock.json (from por's source repository) and run por from that directory"
        )
    return f"{where}, or set {NODE_MODULES_ENV} to an existing node_modules directory"


def node_program(relative: str) -> Path:
    """A file under node_modules, or `NodeMissing` naming where it looked and what to run."""
    directory, how = _lookup()
    path = directory / relative
    if not path.exists():
        raise NodeMissing(
            f"{relative} is not installed: {path} is missing ({how}); " + install_hint()
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
