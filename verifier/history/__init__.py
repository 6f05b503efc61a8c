"""Operations: runs stored, scheduled, alerted on and exported as metrics.

store (SQLite/PostgreSQL through SQLAlchemy Core, migrations/ by alembic), schedule (one run
and the `--every` loop), alerts (webhooks), metrics (Prometheus), view (`por history`).
Sits above jobs: it runs the main job and keeps what each run found.
"""
