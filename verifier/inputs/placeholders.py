"""`por init`'s placeholders still in a config: named by their key, before any other check.

Where it sits: inside `por config check` (verifier/inputs/config_check.py) and
`por challenge --epoch` (verifier/inputs/epoch_config.py). Every value `por init` left to
fill in ("REPLACE: …", in por.toml and the TOML files it names; the example rows of its
liabilities.csv) is "placeholder not filled in", instead of whatever else that value's
check would say (an address that is still "REPLACE: …" is a placeholder, not a bad address).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from verifier.base import safetoml
from verifier.base.errors import InputError
from verifier.base.redact import mask_text
from verifier.inputs.problems import Problem

PLACEHOLDER = "REPLACE:"
"""How `por init`'s templates mark every value to fill in (verifier/inputs/templates)."""


EXAMPLE_ACCOUNT = "REPLACE-"
"""The example rows of `por init`'s liabilities.csv start with this account id."""


_MAX_EXAMPLE_SCAN_BYTES = 64 << 10
"""The example rows are looked for in the first 64 KiB of the liabilities file."""


def has_placeholder(value: Any) -> bool:
    """Whether any string under `value` is still a placeholder."""
    return next(_placeholders(value, ""), None) is not None


def _placeholders(value: Any, key: str) -> Iterator[tuple[str, str]]:
    """(key, value) of every string under `value` that is still a placeholder."""
    if isinstance(value, str):
        if value.startswith(PLACEHOLDER):
            yield key, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _placeholders(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _placeholders(item, f"{key}[{i}]")


def _named_file(path: Path, raw: Any, section: str, name: str) -> Path | None:
    table = raw.get(section) if isinstance(raw, dict) else None
    value = table.get(name) if isinstance(table, dict) else None
    if not isinstance(value, str) or not value:
        return None
    file = Path(value)
    return file if file.is_absolute() else path.parent / file


def placeholder_problems(path: Path, raw: Any) -> list[Problem]:
    """Every value still a placeholder: in por.toml, in the TOML files it names (prices,
    reserve statement, assets), and the example rows of the liabilities file."""
    found = [
        Problem(str(path), key, "placeholder not filled in", mask_text(value))
        for key, value in _placeholders(raw, "")
    ]
    for section, name in (("prices", "file"), ("reserve", "statement"), ("liabilities", "assets")):
        file = _named_file(path, raw, section, name)
        if file is None or not file.is_file():
            continue
        try:
            data = safetoml.load_path(file, what=f"{section}.{name}")
        except InputError:
            continue  # its own checker names what is wrong with it
        found += [
            Problem(str(file), key, "placeholder not filled in", mask_text(value))
            for key, value in _placeholders(data, "")
        ]
    found += _example_rows(path, raw)
    return found


def _example_rows(path: Path, raw: Any) -> list[Problem]:
    """`por init`'s example customers still in the liabilities file (they would be
    reconciled as real liabilities)."""
    file = _named_file(path, raw, "liabilities", "file")
    if file is None or not file.is_file():
        return []
    try:
        with file.open("rb") as handle:
            head = handle.read(_MAX_EXAMPLE_SCAN_BYTES)
    except OSError:
        return []
    return [
        Problem(
            str(file),
            "account_id",
            "placeholder not filled in: an example row of `por init`; replace the file with "
            "your customer balances",
            line.decode("utf-8", "replace").split(",", 1)[0],
            number,
        )
        for number, line in enumerate(head.splitlines(), 1)
        if line.startswith(EXAMPLE_ACCOUNT.encode())
        or line.startswith(b'{"account_id": "' + EXAMPLE_ACCOUNT.encode())
    ]


def placeholders_first(path: Path, raw: Any, problems: list[Problem]) -> list[Problem]:
    """The placeholders, then every other problem except those about a placeholder's key
    (an address that is still "REPLACE: …" is a placeholder, not a bad address)."""
    found = placeholder_problems(path, raw)
    keys = {p.key for p in found if p.key}

    def about_placeholder(problem: Problem) -> bool:
        key = problem.key or ""
        return any(key == k or key.startswith((f"{k}.", f"{k}[")) for k in keys) or (
            # an epoch reference to a placeholder id names the reference, not the id
            key.endswith(".ownership") and any(k.startswith(f"{key}.") for k in keys)
        )

    return found + [p for p in problems if not about_placeholder(p)]
