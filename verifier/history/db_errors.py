"""Database failures as one line without SQL, for every message the run store raises.

Where it sits: under the store (verifier/history/store.py), the database URL reader
(verifier/history/db_url.py), the schema checks (verifier/history/schema.py) and the run
writer (verifier/history/writer.py). SQLAlchemy's own text of an error appends the SQL
statement and its parameters; a message shows the driver's first line instead, and the
callers mask credentials in it.
"""

import re

SQLITE_DAMAGED = re.compile(
    r"file is not a database|database disk image is malformed|file is encrypted|"
    r"malformed database schema|database corrupt",
    re.IGNORECASE,
)
"""SQLite's words for a file that is damaged or not a database: "not a por database"."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (its class name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def reason(exc: BaseException) -> str:
    """The driver's own first line (SQLAlchemy's text would add the SQL statement)."""
    orig = getattr(exc, "orig", None)
    return first_line(orig if isinstance(orig, BaseException) else exc)
