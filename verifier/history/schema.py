"""What a database holds: por's schema at which revision, or "not a por database".

Where it sits: between opening a database and using it. The store
(verifier/history/store.py) asks here before it reads, writes or migrates: the SQLite
file's header is checked before SQLite reads a page (`sqlite_header_problem`), then the
tables and the alembic revision (`stored_revision`). The migrations
(verifier/history/migrations/versions) are the schema's history; `HEAD` is the revision
this version of por writes.

Invariant: nothing from the database reaches a message as SQL. A file that is not SQLite, a
damaged or truncated file, or a database of something else is "not a por database: <where>";
a schema newer than this por's says to upgrade por (`StoreError`, exit 4).
"""

import re
import stat
import struct
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from verifier.base.console import plural
from verifier.base.errors import StoreError
from verifier.history.tables import PAYOUT_TABLES, RUNS, STRESS_OUTCOMES, TABLES

HEAD = "0004"
"""The schema revision this version of por writes."""
REVISIONS = ("0001", "0002", "0003", "0004")
"""Every schema revision por has had, oldest first (verifier/history/migrations/versions)."""

_SQLITE_SYSTEM_TABLES = re.compile(r"sqlite_(sequence|stat\d)")


def sqlite_header_problem(path: Path, where: str) -> str | None:
    """Why the SQLite file at `path` cannot be a por database, from its header alone (None:
    it may be one, or it is empty). Catches text files, random bytes and truncation before
    SQLite reads a page; raises `StoreError` naming `where` for a file that cannot be read."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise StoreError(f"cannot open the database {where}: it is a directory")
        if not stat.S_ISREG(info.st_mode):
            # a FIFO would block the read below forever; a device is no history
            return "not a regular file"
        size = info.st_size
        with path.open("rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise StoreError(f"cannot read the database {where}: {exc.strerror or exc}") from exc
    if size == 0:
        return None  # SQLite's empty database: nothing written yet
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return "not an SQLite database file"
    (page_size,) = struct.unpack(">H", header[16:18])
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return "damaged: an impossible page size in its header"
    if size % page_size:
        return f"damaged or truncated: {plural(size, 'byte')} is not a whole number of pages"
    change_counter, pages, valid_for = (
        struct.unpack(">I", header[24:28])[0],
        struct.unpack(">I", header[28:32])[0],
        struct.unpack(">I", header[92:96])[0],
    )
    wal = path.with_name(path.name + "-wal")
    wal_pending = wal.exists() and wal.stat().st_size > 0
    # the header's page count is authoritative only when it is marked valid, and the
    # file may lag it while a write-ahead log still holds the newest pages
    if pages and change_counter == valid_for and not wal_pending and size < pages * page_size:
        return f"truncated: {size} of {pages * page_size} bytes"
    return None


def stored_revision(conn: Connection, where: str) -> str | None:
    """The por schema revision of the database behind `conn` (one of `REVISIONS`), or None
    when it has no tables yet.

    Raises `StoreError` naming `where` for a database of something else, a schema revision
    newer than this por's, or one that lacks a table or column of its revision; a driver
    error (`DBAPIError`) is left to the caller, which knows the database's kind.
    """
    inspector = sa.inspect(conn)
    tables = {t for t in inspector.get_table_names() if not _SQLITE_SYSTEM_TABLES.fullmatch(t)}
    if not tables:
        return None
    if "alembic_version" not in tables:
        shown = ", ".join(sorted(tables)[:5])
        raise StoreError(f"not a por database: {where} (it holds other tables: {shown})")
    versions = [
        str(row[0]) for row in conn.execute(sa.text("SELECT version_num FROM alembic_version"))
    ]
    revision = versions[0] if len(versions) == 1 else None
    if revision is not None and revision not in REVISIONS:
        if re.fullmatch(r"[0-9]{4}", revision) and revision > HEAD:
            raise StoreError(
                f"the database {where} has schema revision {revision}, "
                f"newer than this por's {HEAD}: upgrade por to read it"
            )
        revision = None
    if revision is None:
        raise StoreError(
            f"not a por database: {where} (its alembic_version "
            f"{', '.join(v[:40] for v in versions) or 'is empty'} is not a por "
            "schema revision)"
        )
    missing = missing_columns(inspector, tables, revision)
    if missing:
        raise StoreError(f"not a por database: {where} (revision {revision} but {missing})")
    return revision


def missing_columns(inspector: Any, tables: set[str], revision: str) -> str | None:
    """What por's schema at `revision` has and the database lacks (None: nothing)."""
    models = [RUNS, *TABLES]
    wanted = {table.name for table in models}
    if revision == "0001":
        wanted.discard("reserve_components")
    if revision < "0003":  # the payout tables came with 0003
        wanted -= {table.name for table in PAYOUT_TABLES}
    if revision < "0004":  # the scenario outcomes came with 0004
        wanted.discard(STRESS_OUTCOMES.name)
    absent = sorted(wanted - tables)
    if absent:
        return f"no table {', '.join(absent)}"
    if revision != HEAD:
        return None  # the migration checks the rest
    for table in models:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        lacking = sorted(set(table.c.keys()) - have)
        if lacking:
            return f"table {table.name} has no column {', '.join(lacking)}"
    return None


def alembic_config() -> Any:
    """The alembic configuration of the packaged migrations (verifier/history/migrations)."""
    from alembic.config import Config

    config = Config()
    location = resources.files("verifier.history").joinpath("migrations")
    config.set_main_option("script_location", str(location))
    return config
