"""One problem of a config, as `por config check` lists it: where, what, and a suggestion.

Where it sits: the value every offline check of por.toml returns (verifier/inputs/config_check.py,
verifier/inputs/placeholders.py, verifier/inputs/wallet_checks.py) and `por config check`
(verifier/cli/config.py) prints. A problem never holds a secret: values are masked
(`verifier.base.redact.mask_text`) when the problem is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier.base.errors import InputError, PorError
from verifier.base.redact import mask_text


@dataclass(frozen=True)
class Problem:
    """One problem: where (file, key, line), what, the value (masked) and a suggestion."""

    file: str | None
    key: str | None
    message: str
    value: str | None = None
    line: int | None = None
    suggestion: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"file": self.file, "key": self.key, "message": self.message}
        for name in ("line", "value", "suggestion"):
            if getattr(self, name) is not None:
                doc[name] = getattr(self, name)
        return doc

    def text(self) -> str:
        where = self.file or "?"
        if self.line is not None:
            where += f":{self.line}"
        if self.key:
            where += f": {self.key}"
        out = f"{where}: {self.message}"
        if self.value is not None:
            out += f" ({self.value!r})"
        if self.suggestion is not None:
            out += f" — did you mean {self.suggestion!r}?"
        return out


def bare_message(exc: InputError) -> str:
    """An InputError's message without the "file: line N: key 'k': " prefix and the
    ": 'value'" suffix its constructor adds."""
    text = exc.message
    where = []
    if exc.file is not None:
        where.append(str(exc.file))
    if exc.line is not None:
        where.append(f"line {exc.line}")
    if exc.key is not None:
        where.append(f"key {exc.key!r}")
    prefix = ": ".join(where) + ": " if where else ""
    text = text.removeprefix(prefix)
    if exc.value is not None:
        shown = exc.value if len(exc.value) <= 80 else exc.value[:77] + "..."
        text = text.removesuffix(f": {shown!r}")
    return text


def problem_of(exc: PorError, *, key: str | None = None, suggestion: str | None = None) -> Problem:
    """A raised error as a problem: its file, key, line and (masked) value, the message
    without the prefix and suffix the error's constructor added."""
    if isinstance(exc, InputError):
        value = None if exc.value is None else mask_text(exc.value)
        return Problem(
            exc.file, key or exc.key, mask_text(bare_message(exc)), value, exc.line, suggestion
        )
    return Problem(None, key, mask_text(exc.message))


def fail(path: Path, key: str, message: str, value: str | None = None) -> Problem:
    """A problem of por.toml at `path`, `key`; the value is shown masked."""
    return Problem(str(path), key, message, None if value is None else mask_text(value))
