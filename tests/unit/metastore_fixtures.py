"""An SQLite metastore in the test's folder, installed as the one task code uses (no server needed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from tradewind.metastore.engine import create_engine_from_settings, make_session_factory
from tradewind.metastore.migrate import migrate
from tradewind.sdk import runtime_services
from tradewind.settings import Settings
from tradewind.task_services import MetastoreServices


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
    runtime_services.install(MetastoreServices(settings, factory))
    try:
        yield factory
    finally:
        runtime_services.install(None)
        engine.dispose()


@pytest.fixture
def restart_with_env(sqlite_metastore: sessionmaker[Session], tmp_path: Path, fernet_key: str) -> Callable[[], None]:
    """Install the runtime services again, with settings read from the environment as it is now (on
    the same metastore): what a process started after the environment was set would use."""

    def restart() -> None:
        settings = Settings.from_env().with_overrides(
            home=tmp_path, database_url=f"sqlite:///{tmp_path / 'metastore.db'}", fernet_key=fernet_key
        )
        runtime_services.install(MetastoreServices(settings, sqlite_metastore))

    return restart
