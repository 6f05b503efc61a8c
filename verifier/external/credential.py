"""A customer's secret credential for `por verify-proof` (SwissBorg's, and any format like it).

Where it sits: `verifier/external/check.py` calls `read_credential` while it reads the files
of one `verify-proof` call; the format modules get the text in `ProofInput.credential` and
never show it. The credential comes from a file (`--credential-file`) or an environment
variable (`--credential-env`), never from argv, where every process on the machine could
read it.

Invariants: no message this module raises or returns holds the credential, nor the name given
to `--credential-env` (a user who pastes the credential there by mistake must not see it
echoed); `scrub` removes it from anything else before it is shown.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from verifier.base import safejson
from verifier.base.errors import InputError, UsageError

MAX_CREDENTIAL_BYTES = 4096
"""Largest credential file read: credentials are tens of bytes."""
MASK = "<credential>"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def read_credential(
    file: Path | None, env: str | None, environ: Mapping[str, str] | None = None
) -> tuple[str | None, list[str]]:
    """The credential given by `file` or the variable named `env`, and warnings about it.

    One trailing newline (``\\n`` or ``\\r\\n``) is stripped, as an editor or ``echo`` adds it;
    nothing else is changed. A file readable by group or others is read, with a warning.

    Raises
    ------
    UsageError
        Both given; the variable is unset, empty, or not a variable name (exit 2).
    InputError
        The file is missing, too large, not UTF-8, empty, or holds more than one line (3).
    """
    if file is not None and env is not None:
        raise UsageError("give --credential-file or --credential-env, not both")
    if file is not None:
        return _from_file(file)
    if env is not None:
        return _from_env(env, os.environ if environ is None else environ), []
    return None, []


def _from_file(file: Path) -> tuple[str, list[str]]:
    data = safejson.read_input(file, what="credential file", limit=MAX_CREDENTIAL_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the credential file is not UTF-8 text", file=str(file)) from None
    credential = _one_line(text, "the credential file", str(file))
    warnings = []
    mode = stat.S_IMODE(os.stat(file).st_mode)
    if mode & 0o077:
        # a warning, not a refusal (as for signing keys): a downloaded credential is often
        # 0644, and it derives this customer's nonces, it moves no funds
        warnings.append(
            f"the credential file {file} is readable by group or others (mode {mode:04o}); "
            "chmod 600 it"
        )
    return credential, warnings


def _from_env(name: str, environ: Mapping[str, str]) -> str:
    hint = "(give the variable's name, never the credential itself)"
    if not _ENV_NAME.fullmatch(name):
        raise UsageError(f"--credential-env: not an environment variable name {hint}")
    if name not in environ:
        raise UsageError(f"--credential-env: that environment variable is not set {hint}")
    return _one_line(environ[name], "--credential-env: the variable", None, usage=True)


def _one_line(text: str, what: str, file: str | None, *, usage: bool = False) -> str:
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    problem = None
    if not text:
        problem = f"{what} is empty"
    elif any(c in text for c in "\r\n\x00"):
        problem = f"{what} holds more than one line; it must hold the credential alone"
    if problem is None:
        return text
    if usage:
        raise UsageError(problem)
    raise InputError(problem, file=file)


def scrub(value: Any, credential: str | None) -> Any:
    """`value` (a result document, a message) with every occurrence of `credential` masked."""
    if not credential:
        return value
    if isinstance(value, str):
        return value.replace(credential, MASK)
    if isinstance(value, dict):
        return {scrub(k, credential): scrub(v, credential) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v, credential) for v in value]
    return value
