"""Schemas of the data files por reads besides por.toml; `problems` lists all of a file's faults.

Kinds: ``prices`` (verifier.prices), ``statement`` (the reserve statement, verifier.reserve),
``assets`` (the asset list of the liabilities, verifier.inputs) and ``pack`` (a rule pack,
verifier.rules). First version: `problems` wraps each kind's loader and returns its first error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from verifier.errors import InputError

KINDS = ("prices", "statement", "assets", "pack")


def _loader(kind: str) -> Callable[[Path], Any]:
    if kind == "prices":
        from verifier.prices import load_prices

        return load_prices
    if kind == "statement":
        from verifier.reserve import load_statement

        return load_statement
    if kind == "assets":
        from verifier.inputs import read_assets

        return read_assets
    if kind == "pack":
        from verifier.rules import load_pack

        return lambda path: load_pack(str(path))
    raise ValueError(f"unknown file kind {kind!r} (known: {', '.join(KINDS)})")


def problems(kind: str, path: Path | str) -> list[InputError]:
    """Every problem of the file at `path` read as `kind` (empty when it loads)."""
    load = _loader(kind)
    try:
        load(Path(path))
    except InputError as exc:
        return [exc]
    return []
