"""Guard an output directory against its inputs (a leaf module: imports only errors).

Commands that write a directory (`liabilities build --out`, `liabilities proof --out-dir`,
`attest --out`, `publish --out`) replace it whole under `--force`. Replacing a directory
deletes everything in it, so an output that contains — or lies inside — one of the
command's own inputs, keys or secrets would destroy them. `guard_output` refuses that with
a usage error (exit 2) naming the input, with or without `--force`, before anything is
written. Paths are compared after resolving symlinks, so a link cannot smuggle an input in.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from verifier.base.errors import UsageError


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def guard_output(out: Path, inputs: Iterable[tuple[str, Path | None]], *, flag: str) -> None:
    """Refuse an output directory `out` that holds or lies inside any of `inputs`.

    Parameters
    ----------
    out:
        The directory the command will create or replace.
    inputs:
        ``(what, path)`` pairs: every file or directory the command reads or must keep
        (input files, signing keys, tree secrets); ``None`` paths are skipped.
    flag:
        The option that named `out`, for the message (``--out``).
    """
    target = _real(out)
    for what, path in inputs:
        if path is None:
            continue
        real = _real(path)
        if real == target or target in real.parents:
            raise UsageError(
                f"{flag} {out} contains the {what} {path}; replacing it would delete it "
                f"(choose another {flag})"
            )
        if real in target.parents:
            raise UsageError(
                f"{flag} {out} lies inside the {what} {path}; choose a directory outside it"
            )


def guard_file(out: Path, inputs: Iterable[tuple[str, Path | None]], *, flag: str) -> None:
    """Refuse an output file `out` that is one of `inputs` (exit 2), with or without
    `--force`: a typo must not turn the history database, a signing key or a statement into
    an HTML page. Both sides are resolved (symlinks, ``..``) before they are compared.

    Parameters
    ----------
    out:
        The file the command will write (atomically, replacing any file there).
    inputs:
        ``(what, path)`` pairs: every file the command reads or must keep; ``None`` skipped.
    flag:
        The option that named `out`, for the message (``--html``).
    """
    target = _real(out)
    for what, path in inputs:
        if path is not None and _real(path) == target:
            raise UsageError(
                f"{flag} {out} is the {what} {path}: refusing to overwrite it (choose another file)"
            )
