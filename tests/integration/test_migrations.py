"""The metastore schema: created from empty, upgraded in place, reset, checked — on both backends."""

from __future__ import annotations

import re
import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tradewind.errors import ConfigurationError, MetastoreError
from tradewind.metastore import pools
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
from tradewind.metastore.migrate import (
    check,
    current_revision,
    head_revision,
    migrate,
    reset,
)
from tradewind.metastore.models import Base, DagModel, Variable
from tradewind.metastore.schema_version import HEAD_REVISION, ensure_migrated
from tradewind.settings import Settings

pytestmark = pytest.mark.integration


def _tables(settings: Settings) -> set[str]:
    engine = create_engine_from_settings(settings)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _revision(settings: Settings) -> str | None:
    engine = create_engine_from_settings(settings)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def _pool_slots(settings: Settings) -> int | None:
    engine = create_engine_from_settings(settings)
    try:
        with session_scope(make_session_factory(engine)) as session:
            pool = pools.get_pool(session, pools.DEFAULT_POOL)
            return None if pool is None else pool.slots
    finally:
        engine.dispose()


def test_migrate_creates_every_table_and_the_default_pool_from_an_empty_database(
    empty_metastore_settings: Settings,
) -> None:
    settings = empty_metastore_settings.with_overrides(default_pool_slots=16)
    assert _revision(settings) is None

    assert migrate(settings) == head_revision() == HEAD_REVISION

    assert _tables(settings) == set(Base.metadata.tables) | {"alembic_version"}
    assert _pool_slots(settings) == 16, "the Settings value applies at the first migrate"


def test_migrating_twice_is_a_no_op_that_keeps_data_and_pool_changes(
    empty_metastore_settings: Settings,
) -> None:
    settings = empty_metastore_settings
    migrate(settings)
    engine = create_engine_from_settings(settings)
    try:
        with session_scope(make_session_factory(engine)) as session:
            session.add(Variable(key="answer", val="42"))
            pools.set_pool(session, pools.DEFAULT_POOL, 3)
    finally:
        engine.dispose()

    assert migrate(settings.with_overrides(default_pool_slots=99)) == HEAD_REVISION

    engine = create_engine_from_settings(settings)
    try:
        with session_scope(make_session_factory(engine)) as session:
            assert session.get(Variable, "answer").val == "42"
            assert pools.get_pool(session, pools.DEFAULT_POOL).slots == 3, "a person's change is kept"
    finally:
        engine.dispose()


def test_reset_drops_all_data_and_recreates_the_schema_at_head(empty_metastore_settings: Settings) -> None:
    settings = empty_metastore_settings
    migrate(settings)
    engine = create_engine_from_settings(settings)
    try:
        with session_scope(make_session_factory(engine)) as session:
            session.add(DagModel(dag_id="doomed", fileloc="/dags/doomed.py"))
    finally:
        engine.dispose()

    assert reset(settings) == HEAD_REVISION

    engine = create_engine_from_settings(settings)
    try:
        with session_scope(make_session_factory(engine)) as session:
            assert session.scalars(sa.select(DagModel)).all() == []
            assert pools.get_pool(session, pools.DEFAULT_POOL) is not None
    finally:
        engine.dispose()
    assert _revision(settings) == HEAD_REVISION


def test_ensure_migrated_migrates_an_empty_database_once_through_the_callers_engine(
    empty_metastore_settings: Settings,
) -> None:
    engine = create_engine_from_settings(empty_metastore_settings)
    try:
        assert ensure_migrated(engine, empty_metastore_settings) == HEAD_REVISION
        assert ensure_migrated(engine, empty_metastore_settings) == HEAD_REVISION
        assert current_revision(engine) == HEAD_REVISION
    finally:
        engine.dispose()
    assert _pool_slots(empty_metastore_settings) == 128


def test_check_reports_a_reachable_metastore_at_head(empty_metastore_settings: Settings) -> None:
    migrate(empty_metastore_settings)

    status = check(empty_metastore_settings)

    assert status.startswith("metastore at ")
    assert status.endswith(f"is reachable and at revision {HEAD_REVISION} (head)")
    assert "\n" not in status


def test_check_on_an_empty_database_asks_for_migrate(empty_metastore_settings: Settings) -> None:
    with pytest.raises(MetastoreError, match=r"not migrated: run `tradewind db migrate`"):
        check(empty_metastore_settings)


@pytest.mark.parametrize(
    "url", ["postgresql://postgres@127.0.0.1:1/nope", "postgresql://postgres:s3cret@127.0.0.1:1/nope"]
)
@pytest.mark.parametrize("action", [check, migrate])
def test_an_unreachable_database_gives_a_clear_error_naming_the_host_without_the_password(
    url: str, action: object, tmp_path: object
) -> None:
    settings = Settings(home=tmp_path, database_url=url)

    with pytest.raises(MetastoreError) as raised:
        action(settings)  # type: ignore[operator]

    message = str(raised.value)
    assert message.startswith("cannot reach the metastore at postgresql")
    assert "127.0.0.1:1/nope" in message
    assert "s3cret" not in message
    if ":s3cret@" in url:
        assert "postgres:***@" in message


@pytest.mark.parametrize(
    "url, message",
    [
        ("mysql://u:hunter2@db/tw", "runs on PostgreSQL or SQLite, not mysql: mysql://u:***@db/tw"),
        ("postgresql+asyncpg://u:hunter2@db/tw", "driver that is not installed"),
        ("::not a url::", "not a valid SQLAlchemy URL"),
    ],
)
def test_a_database_url_tradewind_cannot_use_is_a_configuration_error(url: str, message: str, tmp_path: object) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)) as raised:
        check(Settings(home=tmp_path, database_url=url))
    assert "hunter2" not in str(raised.value)


def test_the_models_match_the_migrated_schema(empty_metastore_settings: Settings) -> None:
    migrate(empty_metastore_settings)
    engine = create_engine_from_settings(empty_metastore_settings)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_the_sqlite_file_folder_is_created_when_missing(tmp_path: object) -> None:
    settings = Settings(home=tmp_path / "not" / "yet" / "there")  # type: ignore[operator]

    migrate(settings)

    assert (settings.home / "tradewind.db").is_file()
    assert "reachable" in check(settings)


def test_three_processes_migrating_at_once_do_not_race(empty_metastore_settings: Settings) -> None:
    settings = empty_metastore_settings
    barrier = threading.Barrier(3)
    outcomes: list[object] = []

    def run() -> None:
        barrier.wait()
        try:
            outcomes.append(migrate(settings))
        except Exception as exc:  # the assertion below shows what went wrong
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert outcomes == [HEAD_REVISION, HEAD_REVISION, HEAD_REVISION]
    assert _pool_slots(settings) == settings.default_pool_slots


def test_upgrade_from_the_first_schema_keeps_existing_data(empty_metastore_settings):
    """A metastore created by an older tradewind upgrades in place; its DAGs and pools survive."""
    from alembic import command

    from tradewind.metastore.migrate import alembic_config

    engine = create_engine_from_settings(empty_metastore_settings)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0001")
            connection.exec_driver_sql(
                "INSERT INTO slot_pool (pool, slots, description, include_deferred) VALUES ('etl', 3, '', false)"
            )
        assert current_revision(engine) == "0001"
        assert migrate(empty_metastore_settings) == HEAD_REVISION
        with session_scope(make_session_factory(engine)) as session:
            assert pools.get_pool(session, "etl").slots == 3
    finally:
        engine.dispose()
