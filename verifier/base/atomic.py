"""Write a file whole or not at all: the one atomic file writer (L0, imports only errors).

Every command that writes a file the user named (a proof, a sample's assets TOML, the
config schema, `por init`'s starter files, a scheduled run's report, a published
attestation) writes it under a temporary name in the same directory, flushes and fsyncs
it, renames it into place and fsyncs the directory, so a reader never sees half a file, a
crash never leaves an empty one, and a failure leaves the old one as it was.

Two writers differ on purpose and do not use this: verifier/inputs/keys.py creates a
secret key exclusively (``O_EXCL``, linked so it never clobbers), and verifier/jobs/attest.py
swaps a whole directory.

SIGTERM and SIGHUP become `Terminated` in the main thread (verifier/cli/main.py installs the
handler, which calls `stop_signal`), so a write in progress unwinds through its cleanup.
One window would remain: a temporary path made (inside `tempfile.mkstemp`/`mkdtemp`) before
the caller holds its name to remove it. `private_file` and `private_dir` close it: while
they make the path a stop signal is held, and raised only once the path is removed again.

A raised `Terminated` can also be lost: C code that calls the handler and then clears
whatever error it got. CPython's constant folding does (``_PyAST_Compile`` folds
``2**64 - 1``; the power checks for signals; ``make_const`` clears every error but
KeyboardInterrupt), and every import compiles from source when no ``.pyc`` can be used
(PYTHONDONTWRITEBYTECODE=1): about 1 SIGTERM in 25 sent during a build's imports was
ignored and the build ended exit 0. So the signal raised is remembered for the command, and
an audit hook (`stop_checkpoints`) raises it again at the next checkpoint: code about to run
(``exec``, ``compile``: the import after the lost one) or a rename about to install an
output, unless an exception is being handled there (a cleanup's rename).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from verifier.base.errors import PorError


class Terminated(BaseException):
    """SIGTERM or SIGHUP (what `timeout`, a scheduler or systemd sends, and a closed
    terminal), raised in the main thread as Ctrl-C raises KeyboardInterrupt: the command
    unwinds, so every `finally` and `with` removes its temporary directory or file and an
    existing output stays as it was. A BaseException, so no `except Exception` swallows it;
    the CLI turns it into exit 128 + signal (143 for SIGTERM, 129 for SIGHUP)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Hold:
    """Stop signals held while a temporary path is being made. Only the main thread holds
    (a Python signal handler runs nowhere else), so no lock is needed."""

    depth = 0
    """Calls of `make_held` in progress."""
    pending: int | None = None
    """A stop signal that arrived meanwhile, raised as soon as the hold ends."""
    raised: int | None = None
    """The stop signal raised as `Terminated` in this command: raised again at the next
    checkpoint, should C code have swallowed it."""
    raised_in = 0
    """The process it was raised in (a child forked since is not stopped by it)."""
    armed = False
    """A command runs under `stop_checkpoints` (the hook does nothing otherwise)."""
    hooked = False
    """`stop_checkpoints` added its audit hook (once a process: hooks cannot be removed)."""


_HOLD = _Hold()
_Made = TypeVar("_Made")
CHECKPOINTS = frozenset({"exec", "compile", "os.rename", "os.replace"})
"""Audit events at which a swallowed stop signal is raised again."""


def stop_signal(signum: int) -> None:
    """What the SIGTERM/SIGHUP handler calls: raise `Terminated` now, or, while a temporary
    path is being made, as soon as it is made and can be removed."""
    if _HOLD.depth:
        _HOLD.pending = signum
        return
    _raised(signum)
    raise Terminated(signum)


def _raised(signum: int) -> None:
    _HOLD.raised, _HOLD.raised_in = signum, os.getpid()


def clear_pending() -> None:
    """Forget a held or raised signal (the CLI calls it when a command ends; tests run many)."""
    _HOLD.pending = None
    _HOLD.raised = None


@contextlib.contextmanager
def stop_checkpoints() -> Iterator[None]:
    """While a command runs (the CLI's stop handlers installed): a stop signal raised as
    `Terminated` and swallowed is raised again at the next checkpoint (module docstring)."""
    if not _HOLD.hooked:
        sys.addaudithook(_checkpoint)
        _HOLD.hooked = True
    _HOLD.raised, _HOLD.armed = None, True
    try:
        yield
    finally:
        _HOLD.raised, _HOLD.armed = None, False


def _checkpoint(event: str, _args: tuple[object, ...]) -> None:
    if _HOLD.raised is None or not _HOLD.armed or event not in CHECKPOINTS or _HOLD.depth:
        return  # the fast path: called for every audit event of the process
    if threading.current_thread() is not threading.main_thread():
        return
    # code handling an exception (an ``except``, or a ``finally`` or ``__exit__`` that an
    # exception unwinds through) may be the cleanup of that very Terminated, or of what a
    # library turned it into: never cut it short; the next checkpoint outside one raises
    if sys.exc_info()[1] is not None or os.getpid() != _HOLD.raised_in:
        return
    raise Terminated(_HOLD.raised)


def make_held(make: Callable[[], _Made], remove: Callable[[_Made], None]) -> _Made:
    """`make()` with stop signals held; a signal that came meanwhile is raised after
    `remove`-ing what was made."""
    if threading.current_thread() is not threading.main_thread():
        return make()
    made: _Made | None = None
    _HOLD.depth += 1
    try:
        made = make()
    finally:
        _HOLD.depth -= 1
        if not _HOLD.depth and _HOLD.pending is not None:
            signum, _HOLD.pending = _HOLD.pending, None
            if made is not None:
                remove(made)
            _raised(signum)
            raise Terminated(signum)  # the signal outranks whatever make() raised
    return made


def private_dir(parent: Path, prefix: str) -> Path:
    """A new 0700 directory ``PREFIX<random>`` in `parent` (created), as `tempfile.mkdtemp`
    makes it, which no stop signal can leave behind unnamed: the caller removes it from
    here on (``try`` right after the call; no function call in between)."""
    parent.mkdir(parents=True, exist_ok=True)
    return make_held(
        lambda: Path(tempfile.mkdtemp(prefix=prefix, dir=parent)),
        lambda path: shutil.rmtree(path, ignore_errors=True),
    )


def private_file(parent: Path, prefix: str) -> Path:
    """A new empty 0600 file ``PREFIX<random>`` in `parent` (created), as
    `tempfile.mkstemp` makes it, closed; as `private_dir`, the caller removes it from here on."""
    parent.mkdir(parents=True, exist_ok=True)

    def make() -> Path:  # closed inside the hold: no call between making and returning it
        fd, name = tempfile.mkstemp(prefix=prefix, dir=parent)
        os.close(fd)
        return Path(name)

    return make_held(make, lambda path: path.unlink(missing_ok=True))


def private_file_fd(parent: Path, prefix: str) -> tuple[int, Path]:
    """`private_file` left open: (its descriptor, opened for writing, and its path)."""
    parent.mkdir(parents=True, exist_ok=True)

    def make() -> tuple[int, Path]:
        fd, name = tempfile.mkstemp(prefix=prefix, dir=parent)
        return fd, Path(name)

    def remove(made: tuple[int, Path]) -> None:
        os.close(made[0])
        made[1].unlink(missing_ok=True)

    return make_held(make, remove)


def write_atomic(
    path: Path,
    data: bytes,
    mode: int = 0o644,
    *,
    error: Callable[[OSError], PorError] | None = None,
) -> None:
    """Write `data` to `path` atomically and durably; the parent directory is created.

    Parameters
    ----------
    path
        The destination; the temporary file is ``.NAME.XXXX`` beside it.
    data
        The whole content.
    mode
        The file's permissions (the temporary file is 0600 until it is complete).
    error
        Builds the error for a file system that refuses (permissions, read-only, full), for
        callers whose message names an option or a directory; by default a `PorError`
        (exit 4) "cannot write PATH: reason" naming `path`, never the temporary name the
        user never gave.
    """
    tmp: Path | None = None
    try:
        tmp = private_file(path.parent, f".{path.name}.")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # the bytes are on disk before the name points at them
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(path.parent)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):  # read-only: even this unlink fails
                tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            if error is not None:
                raise error(exc) from None
            raise PorError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable. A directory we cannot open, or a file system that cannot
    fsync one (EINVAL, ENOTSUP), is skipped: nothing more can be done there. Any other
    failure (EIO, ENOSPC) is reported: the new file is in place but may not survive a crash.
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)
