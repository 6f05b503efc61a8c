"""Configure logging for the `por` command line: level, text or JSON lines on stderr, and a
filter that masks every secret in every record.

A leaf helper (imports nothing of the project but `verifier.base.redact`), so that the lower
layers may call `register_secret` where they read a secret (chains/rpc.py, the node URL
readers of verifier/inputs/config_values.py) without importing the CLI.

Levels: WARNING by default (INFO for the `--every` loop, a service whose run lines are its
log); ``-v`` INFO, ``-vv`` DEBUG, ``-q`` ERROR; ``--log-level`` names one; then the
environment (``POR_LOG_LEVEL``, ``POR_LOG_FORMAT``). Formats:

- ``text``: ``2026-12-05T00:36:12.345Z INFO verifier.history.schedule: run 5 ok …``, one line;
- ``json``: one object per line, ``{"time", "level", "logger", "message", …}`` plus the
  record's extra fields (``log.info("…", extra={"run_id": 5})``) — what journald and a
  container log collector index.

Libraries: only por's own loggers (``verifier.…``, ``chains.…``, ``attestations.…``) follow
the level. Every other logger — aiohttp, sqlalchemy, web3, rlp and whatever they import —
is shown from WARNING up, whatever the level, so ``-vv`` is por's story and not
``rlp.codec: Consider installing rusty-rlp…``; ``POR_LOG_ALL=1`` lets them follow the level
too (their INFO and DEBUG records may quote URLs and SQL parameters: still masked).

Secrets: every record's message, arguments, extra fields and exception text pass through
`verifier.base.redact.mask_text` (URLs with credentials) and lose every value registered with
`register_secret` (a password read from a file, a URL read from the environment), whatever
the level, before any handler sees them. Logs go to stderr, looked up at each record: stdout
is the command's result (`--json`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from verifier.base.redact import mask_text

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error", "critical")
ROOT = "por"
"""Not a logger name: the project's loggers are named after their modules (``verifier.…``,
``chains.…``, ``attestations.…``); all of them are configured through the root logger."""

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
_MIN_SECRET = 4
"""Shorter values are not masked: replacing every "abc" in every line would mangle the log
and hide nothing worth hiding."""

# the attributes every LogRecord has; anything else on a record came through `extra=`
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)


_KEYLIKE = re.compile(r"(?=.*[0-9])(?=.*[A-Za-z])[A-Za-z0-9._~%+=-]{8,}")
"""A path segment or query value that may be a key: 8+ characters, letters and digits."""


def register_secret(value: str | None) -> None:
    """Mask `value` in every log record from now on (and in `secrets()` for messages).

    Called where a secret is read: a password file or variable, a node URL from a file or
    the environment (its API key may sit anywhere in it), a webhook URL.
    """
    if value is None:
        return
    value = value.strip()
    if len(value) < _MIN_SECRET:
        return
    found = {value, *url_secrets(value)} if "://" in value else {value}
    with _LOCK:
        _SECRETS.update(item for item in found if len(item) >= _MIN_SECRET)


def url_secrets(url: str) -> set[str]:
    """The parts of a secret URL that must not appear either, beyond the URL itself.

    A message rarely quotes a URL exactly as read: a library adds or drops the trailing
    ``/``, quotes only its path, or only its host and path. So the URL without a trailing
    slash, the password of its userinfo, every key-like path segment and query value (8+
    characters holding letters and digits: ``/rpc/Zq7mysecrettok``, ``/v3/<key>``, or any
    value of 16+ characters), and everything after the host when it holds one of those or
    a query are secrets too. The host, the port and a plain path (``/rpc``) are not: they
    name the node in every message and hide nothing.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return set()
    found = {url.rstrip("/")}
    if parts.password:
        found.update({parts.password, f"{parts.username or ''}:{parts.password}"})
    keylike = {s for s in parts.path.split("/") if _KEYLIKE.fullmatch(s)}
    values = {v for _, v in parse_qsl(parts.query) if _KEYLIKE.fullmatch(v) or len(v) >= 16}
    found |= keylike | values
    tail = url[url.find(parts.netloc) + len(parts.netloc) :] if parts.netloc else ""
    if keylike or parts.query or len(tail) >= 16:  # a bare "/api" is not worth masking
        found.update({tail, tail.rstrip("/")})
    return {item for item in found if len(item) >= _MIN_SECRET}


def secrets() -> tuple[str, ...]:
    """The registered secrets, longest first (a secret holding another is masked whole)."""
    with _LOCK:
        return tuple(sorted(_SECRETS, key=len, reverse=True))


def mask(text: str) -> str:
    """`text` with URL credentials and every registered secret masked."""
    return mask_text(text, secrets())


def mask_document(value: Any, depth: int = 0) -> Any:
    """A copy of a JSON-like `value` with `mask` applied to every string in it (keys
    included): an error document, an alert payload or a stored message on its way out."""
    if isinstance(value, str):
        return mask(value)
    if depth > 64:  # deeper than any document por writes: nothing to mask, kept as is
        return value
    if isinstance(value, Mapping):
        return {mask(str(k)): mask_document(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_document(item, depth + 1) for item in value]
    return value


class SecretFilter(logging.Filter):
    """Masks the message (arguments merged in), extra string fields and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = mask(message)
        record.args = None
        if record.exc_info is not None:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, mask(value))
        return True


def _time(record: logging.LogRecord) -> str:
    stamp = datetime.fromtimestamp(record.created, UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """``<ISO 8601 UTC> <LEVEL> <logger>: <message>`` and ``key=value`` extras, one line."""

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={_scalar(v)}" for k, v in _extras(record).items())
        line = f"{_time(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if extras:
            line += f" [{extras}]"
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extras(record).items():
            doc.setdefault(key, value)
        if record.exc_text:
            doc["exception"] = record.exc_text
        return json.dumps(doc, default=str, ensure_ascii=False)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
    }


def _scalar(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if text and " " not in text else json.dumps(text)


class StderrHandler(logging.Handler):
    """Writes to the `sys.stderr` of the moment (tests swap it; so may an embedding caller)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            stream = sys.stderr
            stream.write(text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def resolve_level(
    *,
    verbose: int = 0,
    quiet: bool = False,
    level: str | None = None,
    env: Mapping[str, str] | None = None,
    default: int = logging.WARNING,
) -> int:
    """The level from the flags, then ``POR_LOG_LEVEL``, then `default`.

    An unknown level name raises `ValueError` naming it (the CLI turns it into a usage error).
    """
    env = os.environ if env is None else env
    if level:
        return _named(level, "--log-level")
    if quiet:
        return logging.ERROR
    if verbose:
        return logging.INFO if verbose == 1 else logging.DEBUG
    if env.get("POR_LOG_LEVEL"):
        return _named(env["POR_LOG_LEVEL"], "POR_LOG_LEVEL")
    return default


def resolve_format(fmt: str | None = None, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    value = (fmt or env.get("POR_LOG_FORMAT") or "text").strip().lower()
    if value not in FORMATS:
        source = "--log-format" if fmt else "POR_LOG_FORMAT"
        raise ValueError(f"{source}: expected text or json, not {value[:40]!r}")
    return value


def _named(name: str, source: str) -> int:
    value = name.strip().lower()
    if value == "warn":
        value = "warning"
    if value not in LEVELS:
        raise ValueError(f"{source}: expected one of {', '.join(LEVELS)}, not {name[:40]!r}")
    return int(logging.getLevelName(value.upper()))


OWN = frozenset({"verifier", "chains", "attestations"})
"""The first part of every por logger's name; any other logger is a library's."""
_QUIET_LIBRARIES = ("aiohttp", "asyncio", "sqlalchemy", "alembic", "urllib3", "httpx", "web3")
"""Libraries that log a great deal below WARNING: held there at the logger, so that their
records are not even made (a filter alone would still pay for each)."""


def all_loggers(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``POR_LOG_ALL`` asks for the libraries' records below WARNING too."""
    env = os.environ if env is None else env
    return env.get("POR_LOG_ALL", "").strip().lower() in {"1", "true", "yes", "on"}


class LibraryFilter(logging.Filter):
    """Drops a library's record below WARNING (unless `everything`); por's pass."""

    def __init__(self, everything: bool = False) -> None:
        super().__init__()
        self.everything = everything

    def filter(self, record: logging.LogRecord) -> bool:
        return (
            self.everything
            or record.levelno >= logging.WARNING
            or record.name.partition(".")[0] in OWN
        )


def configure(level: int = logging.WARNING, fmt: str = "text") -> None:
    """Install (or replace) por's one stderr handler on the root logger. Idempotent: the CLI
    is called many times in one test process. Libraries' records below WARNING are left
    out unless ``POR_LOG_ALL=1`` (`LibraryFilter`)."""
    root = logging.getLogger()
    for existing in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(existing)
    everything = all_loggers()
    handler = StderrHandler()
    handler.addFilter(LibraryFilter(everything))  # first: a dropped record is never masked
    handler.addFilter(SecretFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    # aiohttp and sqlalchemy log every request and statement (with URLs and parameters)
    # at INFO and DEBUG: only POR_LOG_ALL=1 asks for that
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(level if everything else max(level, logging.WARNING))


def current_level() -> int:
    return logging.getLogger().level


def explicit(verbose: int, quiet: bool, level: str | None, env: Mapping[str, str]) -> bool:
    """Whether the user chose a level (flags or ``POR_LOG_LEVEL``): the loop then keeps it."""
    return bool(level or quiet or verbose or env.get("POR_LOG_LEVEL"))
