"""Write a file whole or not at all: the one atomic file writer (L0, imports only errors).

Every command that writes a file the user named (a proof, a sample's assets TOML, the
config schema, `por init`'s starter files, a scheduled run's report, a published
attestation) writes it under a temporary name in the same directory, flushes and fsyncs
it, renames it into place and fsyncs the directory, so a reader never sees half a file, a
crash never leaves an empty one, and a failure leaves the old one as it was.

Two writers differ on purpose and do not use this: verifier/inputs/keys.py creates a
secret key exclusively (``O_EXCL``, linked so it never clobbers), and verifier/jobs/attest.py
swaps a whole directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from verifier.base.errors import PorError


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
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
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
                Path(tmp).unlink(missing_ok=True)
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
