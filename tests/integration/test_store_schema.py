"""The migrations and verifier/history/tables.py's tables describe one schema (SQLite and PostgreSQL).

The schema is owned by the alembic migrations; tables.py declares the same tables in
SQLAlchemy Core to read and write them. alembic's own comparison of a migrated database
with those declarations finds nothing: no table, column, type, nullability, default, index
or foreign key differs. (This is what kept the schema the same when the tables moved from
sqlmodel classes to Core `Table`s.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

sys.path.insert(0, str(Path(__file__).resolve().parent))

from postgres_fixtures import db_url, pg_server  # noqa: F401

from verifier.history.store import Store
from verifier.history.tables import METADATA, RUNS, TABLES


def _differences(url: str, metadata: sa.MetaData) -> list[object]:
    store = Store(url)
    store.upgrade()
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        # alembic's own version table is not ours to declare
        return [d for d in compare_metadata(context, metadata) if "alembic_version" not in str(d)]


def test_a_migrated_database_has_exactly_the_declared_tables(db_url: str) -> None:  # noqa: F811
    assert _differences(db_url, METADATA) == []
    assert {t.name for t in (RUNS, *TABLES)} == set(METADATA.tables)


def test_the_comparison_sees_a_declared_column_the_migrations_lack(db_url: str) -> None:  # noqa: F811
    """The check above can fail: a column declared but not migrated is reported."""
    metadata = sa.MetaData()
    for table in METADATA.tables.values():
        table.to_metadata(metadata)
    sa.Table("runs", metadata, sa.Column("not_migrated", sa.Text), extend_existing=True)
    (difference,) = _differences(db_url, metadata)
    assert difference[0] == "add_column" and difference[3].name == "not_migrated"  # type: ignore[index]
