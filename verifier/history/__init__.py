"""Operations: runs stored, scheduled, alerted on and exported as metrics.

store (opening SQLite/PostgreSQL through SQLAlchemy Core, migrations/ by alembic, the writer
lock) with tables, records, queries, writer, db_url, schema and db_errors beside it;
schedule (one run), loop (the `--every` loop, its health and live metrics), alerts
(webhooks), metrics (Prometheus), view (`por history`). Sits above jobs: it runs the main
job and keeps what each run found.
"""
