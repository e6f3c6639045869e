"""The metastore: SQLAlchemy models, sessions, Alembic migrations and the queries every role uses.

This is the only package that imports the ORM. Query functions take a ``Session`` first and never
commit; the entry point that opened the session commits (see ``engine.session_scope``).
"""
