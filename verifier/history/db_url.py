"""Which database a command uses: `--db`, ``POR_DATABASE_URL``, [database] url, or
``por.db`` beside the config, as one SQLAlchemy URL.

Where it sits: before the store is opened. `por reconcile` (verifier/history/schedule.py),
`por history`, `por serve` and `por db upgrade` (verifier/cli/) resolve the setting here and
open a `Store` (verifier/history/store.py) with the URL. A value that is not a database por
stores into is refused here (`InputError`, exit 3) naming the setting it came from, with
its credentials masked.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from verifier.base.errors import InputError, UsageError
from verifier.base.redact import mask_dsn, mask_url
from verifier.history.db_errors import first_line

DEFAULT_DB_NAME = "por.db"

_LIBPQ_KEYWORD = re.compile(
    r"(^|\s)(host|hostaddr|port|dbname|user|password|passfile|service|sslmode|sslcert|sslkey|"
    r"sslrootcert|sslpassword|options|application_name|connect_timeout|target_session_attrs|"
    r"channel_binding|gssencmode|requiressl|krbsrvname)\s*=",
    re.IGNORECASE,
)
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
_SQLITE_SCHEMES = ("sqlite", "sqlite+pysqlite")


@dataclass(frozen=True)
class _Source:
    """Where a database setting came from, for the message that refuses it."""

    key: str
    file: str | None = None

    def refuse(self, message: str, value: str) -> InputError:
        return InputError(message, file=self.file, key=self.key, value=value)


def database_url(
    flag: str | None,
    env: Mapping[str, str],
    configured: str | None,
    config_path: Path | None,
) -> str:
    """The database URL: `--db`, then ``POR_DATABASE_URL``, then [database] url, then
    ``por.db`` beside the config (SQLite). A plain path means a SQLite file.

    Raises `InputError` (exit 3) naming the setting for a value that is not a usable
    database (a libpq keyword DSN, a malformed URL, another scheme), and `UsageError`
    (exit 2) when there is no setting and no config to put ``por.db`` beside.
    """
    sources = (
        (flag, _Source("--db")),
        (env.get("POR_DATABASE_URL") or None, _Source("POR_DATABASE_URL")),
        (
            configured,
            _Source("database.url", str(config_path) if config_path is not None else None),
        ),
    )
    for value, source in sources:
        if value:
            return normalise_url(value, config_path, source=source)
    if config_path is None:
        raise UsageError(
            "no database: give --db, POR_DATABASE_URL or --config, or run where ./por.toml is"
        )
    return normalise_url(str(config_path.parent / DEFAULT_DB_NAME), None)


def normalise_url(value: str, config_path: Path | None, *, source: _Source | None = None) -> str:
    """SQLAlchemy URL for `value`: postgresql:// (and postgres://) use psycopg 3; a path is
    a SQLite file (relative to the config's directory when there is one).

    Anything else is refused (`InputError` naming `source`): a libpq keyword DSN (it would
    otherwise become a SQLite file named after the password), a scheme por does not
    store into, a URL that does not parse. The value is shown masked.
    """
    where = source or _Source("--db")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        shown = mask_url(value) if "://" in value else value
        raise where.refuse("the database setting contains a control character", shown)
    if not value.strip():
        raise where.refuse("the database setting is blank", value)
    if "://" not in value:
        if _LIBPQ_KEYWORD.search(value):
            raise where.refuse(
                "a libpq keyword DSN (host=... dbname=...) is not accepted: give a "
                "postgresql://USER@HOST/DBNAME URL (the password from PGPASSWORD or "
                "~/.pgpass) or the path of a SQLite file",
                mask_dsn(value),
            )
        path = Path(value)
        if not path.is_absolute() and config_path is not None:
            path = config_path.parent / path
        return _sqlite_url(path)
    scheme, _, rest = value.partition("://")
    scheme = scheme.lower()
    if scheme in _POSTGRES_SCHEMES:
        url = "postgresql+psycopg://" + rest
    elif scheme in _SQLITE_SCHEMES:
        url = "sqlite://" + rest
    else:
        raise where.refuse(
            f"unsupported database URL scheme {scheme!r}: por keeps its history in PostgreSQL "
            "(postgresql://USER@HOST/DBNAME) or in a SQLite file (its path)",
            mask_url(value),
        )
    try:
        urlsplit(url).port  # noqa: B018 - raises on a malformed host or port
        parsed = sa.engine.make_url(url)
    except (ValueError, SQLAlchemyError) as exc:
        raise where.refuse(f"malformed database URL ({first_line(exc)})", mask_url(value)) from exc
    if parsed.drivername.startswith("sqlite"):
        if not parsed.database or parsed.database == ":memory:" or parsed.query:
            raise where.refuse(
                "a sqlite URL must name a file, with no options (or give the file's path)",
                mask_url(value),
            )
        path = Path(parsed.database)
        if not path.is_absolute() and config_path is not None:
            path = config_path.parent / path
        return _sqlite_url(path)
    return url


def _sqlite_url(path: Path) -> str:
    # quoted: a file name may hold "?", "#" or "%", which a URL would take as its query
    return "sqlite:///" + quote(str(path.absolute()))
