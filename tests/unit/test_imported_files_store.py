"""Storing what the dag processor imported, on an SQLite metastore: a file the metastore cannot
hold — a DAG whose owners are longer than their column, a result that cannot be stored at all —
becomes that file's own import error while every other file of the batch is stored; and a bulk
write sends its rows in key order, whatever order the batch came in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from tradewind.master.scheduler.dag_processor import (
    ImportedItem,
    ParsedFile,
    SyncReport,
    load_in_process,
    store_imported,
)
from tradewind.metastore import dag_files, dags, import_errors
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
from tradewind.metastore.migrate import migrate
from tradewind.settings import Settings

DAG_FILE = """
import pendulum
from tradewind import DAG, EmptyOperator

with DAG("{dag_id}", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None):
    EmptyOperator(task_id="t", owner={owner!r})
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    folder = tmp_path / "dags"
    folder.mkdir()
    settings = Settings(home=tmp_path, dags_folder=folder, database_url=f"sqlite:///{tmp_path / 'metastore.db'}")
    migrate(settings)
    return settings


@pytest.fixture
def factory(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = create_engine_from_settings(settings)
    yield make_session_factory(engine)
    engine.dispose()


def _imported(settings: Settings, dag_id: str, owner: str = "data-team") -> ImportedItem:
    path = settings.resolved_dags_folder / f"{dag_id}.py"
    path.write_text(DAG_FILE.format(dag_id=dag_id, owner=owner))
    return ImportedItem(path, f"hash-{dag_id}", load_in_process(path, settings))


def _stored(factory: sessionmaker[Session]) -> tuple[set[str], dict[str, str], set[str]]:
    with session_scope(factory) as session:
        errors = {Path(e.filename).name: e.stacktrace or "" for e in import_errors.list_import_errors(session)}
        return set(dags.active_dag_ids(session)), errors, {Path(f).name for f in dag_files.get_hashes(session)}


def test_a_dag_whose_owners_do_not_fit_their_column_is_its_files_error_and_the_rest_is_stored(
    settings: Settings, factory: sessionmaker[Session]
) -> None:
    items = [_imported(settings, "a_good"), _imported(settings, "b_long_owner", owner="x" * 2500)]
    items.append(_imported(settings, "c_good"))
    report = SyncReport()
    store_imported(factory, settings, items, report)
    active, errors, recorded = _stored(factory)
    assert active == {"a_good", "c_good"}
    assert set(errors) == {"b_long_owner.py"}
    first_line = errors["b_long_owner.py"].splitlines()[0]
    assert first_line.endswith(
        "b_long_owner.py: the DAG 'b_long_owner' cannot be stored: owners is 2500 characters long; at most 2000 fit"
    )
    assert recorded == {"a_good.py", "b_long_owner.py", "c_good.py"}
    assert sorted(report.dag_ids) == ["a_good", "c_good"] and list(report.errors) == [str(items[1].path)]


def test_a_file_whose_store_fails_is_its_error_alone_and_every_other_file_is_stored(
    settings: Settings, factory: sessionmaker[Session]
) -> None:
    items = [_imported(settings, f"good_{n}") for n in range(3)]
    broken = _imported(settings, "broken")
    # What a child sent that cannot be stored (here: a DAG without its format version nor tasks).
    items.insert(
        1, ImportedItem(broken.path, broken.content_hash, ParsedFile(str(broken.path), dags=[{"dag_id": "x"}]))
    )
    report = SyncReport()
    store_imported(factory, settings, items, report)
    active, errors, recorded = _stored(factory)
    assert active == {"good_0", "good_1", "good_2"}
    assert set(errors) == {"broken.py"}
    assert (
        f"{broken.path}: its DAGs could not be stored: ValueError: serialized DAG format"
        in errors["broken.py"].splitlines()[0]
    )
    assert recorded == {"broken.py", "good_0.py", "good_1.py", "good_2.py"}
    assert sorted(report.dag_ids) == ["good_0", "good_1", "good_2"] and list(report.errors) == [str(broken.path)]


def test_a_bulk_upsert_writes_its_rows_in_key_order(settings: Settings, factory: sessionmaker[Session]) -> None:
    sent: list[Any] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.startswith("INSERT INTO dag_file"):
            for row in parameters if executemany else [parameters]:
                sent.extend(row)

    names = ["c.py", "a.py", "d.py", "b.py"]
    with session_scope(factory) as session:
        connection = session.connection()
        sa.event.listen(connection, "before_cursor_execute", capture)
        try:
            dag_files.record_files(session, [dag_files.FileRecord(name, "h", []) for name in names])
        finally:
            sa.event.remove(connection, "before_cursor_execute", capture)
    assert [value for value in sent if value in names] == sorted(names)
