"""The alembic migrations of the run-history database (applied by `por db upgrade`)."""
