"""Which native extensions are in use, and the notice when a large input runs without them.

Where it sits: beside the liabilities reader (verifier/inputs/liabilities_amounts.py uses
`AMOUNTS`, verifier/inputs/liabilities_columns.py `IDS`); `por --version --json` and `por
bench` report `native_info()`. Three optional C extensions speed up a liabilities build,
each with a fallback giving the same results: the batch SHA-256 (attestations/hashing.py,
attestations/_sha256batch.c), the amount parser (verifier/inputs/_amounts.c, loaded here)
and the account dictionary (verifier/inputs/_ids.c, loaded here; its fallback is Arrow's
dictionary_encode, about 1.5-2x slower, so it is not in the notice below). pip hides
setup.py's warning when one fails to build, so the reader says it where a user looks: one
WARNING line on stderr (silenced by ``-q``) the first time a process converts
`NOTICE_ROWS` rows without one.
Light on purpose: no pyarrow import, so `por --version` stays fast.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from types import ModuleType
from typing import Any

from attestations import hashing

log = logging.getLogger(__name__)

NOTICE_ROWS = 1_000_000
"""Rows after which a build on a pure-Python path is slow enough to say so."""


def _disabled() -> bool:
    return os.environ.get("POR_NATIVE", "1").strip() == "0"


def _load(name: str) -> ModuleType | None:
    """verifier.inputs.`name`, or None when it was not built or POR_NATIVE=0."""
    if _disabled():
        return None
    try:
        return importlib.import_module(f"verifier.inputs.{name}")
    except ImportError:
        return None


def _info(module: ModuleType | None, name: str) -> dict[str, Any]:
    """{"backend": "native"}, or "python" with the reason the extension `name` is not used."""
    if module is not None:
        return {"backend": "native"}
    if _disabled():
        return {"backend": "python", "reason": "POR_NATIVE=0"}
    return {"backend": "python", "reason": f"extension verifier.inputs.{name} not built"}


AMOUNTS: ModuleType | None = _load("_amounts")
"""The loaded amount parser, or None when it is missing or POR_NATIVE=0."""

IDS: ModuleType | None = _load("_ids")
"""The loaded account dictionary encoder, or None when it is missing or POR_NATIVE=0."""


def amounts_info(module: ModuleType | None = AMOUNTS) -> dict[str, Any]:
    """What `por --version --json` and `por bench` report about the amount parsing."""
    return _info(module, "_amounts")


def ids_info(module: ModuleType | None = IDS) -> dict[str, Any]:
    """What `por --version --json` and `por bench` report about the account dictionary."""
    return _info(module, "_ids")


def native_info() -> dict[str, dict[str, Any]]:
    """The three extensions: {"hashing": ..., "amounts": ..., "ids": ...}, each with its
    backend and why."""
    return {"hashing": hashing.backend_info(), "amounts": amounts_info(), "ids": ids_info()}


_seen = {"rows": 0, "told": 0}
_seen_lock = threading.Lock()


def notice_slow_path(rows: int, amounts: ModuleType | None) -> None:
    """Count `rows` converted; once a process has converted `NOTICE_ROWS` of them on a
    pure-Python path (the amount parser `amounts` or the hashing), log it, once."""
    with _seen_lock:
        _seen["rows"] += rows
        if _seen["told"] or _seen["rows"] < NOTICE_ROWS:
            return
        _seen["told"] = 1
    slow = [
        f"{what} ({info['reason']})"
        for what, info in (
            ("SHA-256 hashing", hashing.backend_info()),
            ("amount parsing", amounts_info(amounts)),
        )
        if info["backend"] != "native"
    ]
    if slow:
        fix = (
            "unset POR_NATIVE to use the native extensions"
            if all("POR_NATIVE=0" in why for why in slow)
            else "reinstall por with a C compiler and libssl-dev to build the native extensions"
        )
        log.warning(
            "pure-Python path in use for %s: same results, several times slower at this "
            "size; %s (`por --version --json` shows which are active)",
            " and ".join(slow),
            fix,
        )
