"""Write a file whole or not at all (a leaf module: imports only errors).

Every command that writes a file the user named (a proof, a sample's assets TOML, the
config schema) writes it under a temporary name in the same directory and renames it into
place, so a reader never sees half a file and a failure leaves the old one as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from verifier.base.errors import PorError


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a file under a temp name in the same directory, then rename it into place.

    A file system that refuses (permissions, read-only, full) is a `PorError` (exit 4)
    "cannot write PATH: reason" naming `path`, never the temporary name the user never gave.
    """
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):  # read-only: even this unlink fails
                Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise PorError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
