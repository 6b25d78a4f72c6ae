"""Relational persistence shared by every context: engine factory, tables, Alembic migrations.

``engine.py`` builds the async engine (SQLite now, PostgreSQL later) and serialises writers,
``tables.py`` declares every table in one ``MetaData``, ``migrations/`` holds the Alembic
environment and revisions, and ``migrate.py`` runs them programmatically.
"""
