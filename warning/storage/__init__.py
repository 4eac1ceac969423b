"""Storage: SQLAlchemy 2 models, the one place that talks SQL, and Alembic migrations.

SQLite (the embedded default) and PostgreSQL pass the same tests; dialect-specific SQL
(upserts) lives in :mod:`warning.storage.database` only.
"""
