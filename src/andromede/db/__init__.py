"""Relational persistence shared by every context: databases, tables, Alembic migrations.

``database.py`` is the interface the stores use (``read``/``write`` of a synchronous function)
and picks its implementation from the URL: ``sqlite.py`` (embedded, one writer with group
commit) or ``postgres.py`` (distributed, asyncpg pool); ``errors.py`` says when the database is
unreachable; ``statements.py`` spells the few statements whose SQL differs between the two;
``tables.py`` holds every table of the one ``MetaData`` (``metadata.py``), declared by concern in
``tables_*.py``, ``types.py`` the portable column types,
``migrations/`` holds the Alembic environment and revisions, and ``migrate.py`` runs them.
"""
