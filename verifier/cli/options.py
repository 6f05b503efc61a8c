"""The options and small argument helpers that more than one `por` command shares.

`JSON_OPTION` (every command), `CONFIG_OPTION` (every command that reads the exchange's
por.toml), `heights` (--btc-height/--eth-block of snapshot, reconcile and attest),
`WORKERS_OPTION`, `db_options`/`open_store` (the history database's --config/--db and the
store they name), `check_text` (an option value that must be UTF-8 text),
`MAX_SAMPLE_ACCOUNTS` (sample, bench, demo), `check_as_of`/`now` (ISO 8601 times),
`load_json` (a bounded JSON file) and `report_error` (how a `PorError` reaches the user:
used by the entry point in main.py and by `reconcile` for a stored run's error).
Imports nothing of cli/, so every command module and main.py can import it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.markup import escape

from verifier.base.console import err, print_json
from verifier.base.errors import (
    EXIT_INVALID,
    EXIT_USAGE,
    InputError,
    InvalidProof,
    PorError,
    UsageError,
)
from verifier.base.redact import mask_text

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout."
)
NO_CONFIG = "no config: give --config, set POR_CONFIG, or run `por init` to write ./por.toml"


def _config_default(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
    """--config, else $POR_CONFIG (click reads it), else ./por.toml if there is one."""
    if value is not None:
        return value
    if Path("por.toml").is_file():
        log.debug("config: ./por.toml (no --config and no POR_CONFIG)")
        return Path("por.toml")
    raise UsageError(NO_CONFIG)


CONFIG_OPTION = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    default=None,
    envvar="POR_CONFIG",
    show_envvar=True,
    callback=_config_default,
    help="The exchange's por.toml (docs/snapshot.md); default $POR_CONFIG, then ./por.toml.",
)
"""The one --config of every command that reads the exchange's por.toml (snapshot,
reconcile, attest, challenge, config check): flag, then POR_CONFIG, then ./por.toml."""

HEIGHT_OPTIONS = [
    click.option(
        "--btc-height",
        type=click.IntRange(0),
        default=None,
        help="Pin Bitcoin at this height (default: the node's tip).",
    ),
    click.option(
        "--eth-block",
        type=click.IntRange(0),
        default=None,
        help="Pin Ethereum at this block number (default: the node's tip).",
    ),
]


def heights(func: F) -> F:
    """Decorate a command with --btc-height and --eth-block (the pinned blocks)."""
    for option in reversed(HEIGHT_OPTIONS):
        func = option(func)
    return func


WORKERS_OPTION = click.option(
    "--workers",
    default=0,
    type=click.IntRange(0, 64),
    help="Worker processes (default: one per core).",
)
"""--workers of the commands that hash a tree in processes (liabilities build and audit,
insolvency claims, bench): 0 is one per core."""

DB_OPTIONS = [
    click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path),
        default=None,
        envvar="POR_CONFIG",
        show_envvar=True,
        help="por.toml, to find [database] url or por.db beside it (default $POR_CONFIG, "
        "then ./por.toml).",
    ),
    click.option(
        "--db",
        default=None,
        help="A SQLite file or a postgresql://user@host/db URL, not a libpq keyword DSN "
        "(default: $POR_DATABASE_URL, then the config's).",
    ),
]


def db_options(func: F) -> F:
    """Decorate a command with --config and --db, the history database's (open_store)."""
    for option in reversed(DB_OPTIONS):
        func = option(func)
    return func


def open_store(config_file: Path | None, db: str | None, *, create: bool) -> Any:
    """The history database named by --db, $POR_DATABASE_URL, the config's [database] url
    or por.db beside the config: created by `create` (db upgrade, insolvency payouts),
    never otherwise (history, stress)."""
    import os

    from verifier.history.db_url import database_url
    from verifier.history.store import Store
    from verifier.inputs.config import load_config

    configured = None
    env_db = os.environ.get("POR_DATABASE_URL")
    # as every --config: the flag, then POR_CONFIG (click), then ./por.toml
    if config_file is None and db is None and not env_db and Path("por.toml").is_file():
        log.debug("config: ./por.toml (no --config, POR_CONFIG, --db or POR_DATABASE_URL)")
        config_file = Path("por.toml")
    if config_file is not None and db is None and not os.environ.get("POR_DATABASE_URL"):
        configured = load_config(config_file).database.url
    return Store(database_url(db, os.environ, configured, config_file), create=create)


def check_text(option: str, value: str | None) -> None:
    """Exit 3 naming `option` when its value is not valid UTF-8 text (a lone surrogate from
    the shell), before the value is bound into an id or written to a file."""
    if value is None:
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{option} is not valid UTF-8 text", key=option) from None


MAX_SAMPLE_ACCOUNTS = 1_000_000_000
"""Generated customers at most (sample, bench, demo): far past what this machine holds."""


def now() -> str:
    """The current time, UTC, to the second: 2026-11-21T00:00:00Z."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def check_as_of(value: str) -> str:
    """`value` if it is an ISO 8601 time (--as-of), else exit 3 naming the option."""
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError("--as-of must be an ISO 8601 time", key="--as-of", value=value) from exc
    return value


def load_json(path: Path, what: str) -> Any:
    """The JSON document in `path`, read by the bounded decoder.

    Deep nesting, huge integers, NaN and bad UTF-8 are InputErrors naming the file, never a
    crash (verifier/base/safejson.py)."""
    from verifier.base import safejson

    return safejson.load_path(path, what=what)


def report_error(exc: PorError, as_json: bool) -> None:
    """Print `exc` as every command does: one line on stderr ("por: error: …", or INVALID
    for a proof), and under --json its error document on stdout."""
    # last line of defence: no credential in a URL reaches the terminal or a JSON consumer
    # and nothing the terminal cannot encode (a lone surrogate from a hostile file)
    from verifier.base.logs import secrets

    exc.message = mask_text(exc.message, secrets())
    exc.message = exc.message.encode("utf-8", "backslashreplace").decode("utf-8")
    label = {EXIT_INVALID: "invalid", EXIT_USAGE: "usage"}.get(exc.exit_code, "error")
    if isinstance(exc, InvalidProof):
        err.print(f"[bold red]INVALID[/bold red] {escape(exc.message)}")
    else:
        err.print(f"por: {label}: {exc.message}", markup=False)
    if as_json:
        doc = exc.to_json()
        if isinstance(exc, InvalidProof):
            doc = {"valid": False, **doc}
        print_json(doc)
