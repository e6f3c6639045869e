"""An SQLite metastore in the test's folder, bound as the one task code uses (no server needed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from tradewind.metastore.engine import create_engine_from_settings, make_session_factory
from tradewind.metastore.migrate import migrate
from tradewind.sdk import task_metastore
from tradewind.settings import Settings


@pytest.fixture
def fernet_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def sqlite_metastore(
    tmp_path: Path, fernet_key: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[sessionmaker[Session]]:
    """A migrated metastore encrypting with ``fernet_key``; ``Variable``/``Connection`` use it."""
    for name in ("TRADEWIND_FERNET_KEY", "TRADEWIND_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'metastore.db'}", fernet_key=fernet_key)
    migrate(settings)
    engine = create_engine_from_settings(settings)
    factory = make_session_factory(engine)
    task_metastore.bind(factory)
    try:
        yield factory
    finally:
        task_metastore.bind(None)
        engine.dispose()
