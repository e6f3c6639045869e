"""The scheduler's pool of DAG-file importers against a real PostgreSQL metastore: a folder with a
file that hangs and one that kills its importer among good files ends with exactly those two as
import errors and every other DAG stored; a file changed while the pool works ends as its new
version; a DAG moved from one file to another within one batch stays active in its new file; a
file the metastore cannot hold (owners too long, a path too long) is that file's problem alone:
every other DAG of its batch is stored, and a second scan imports nothing again."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tradewind.master.scheduler.dag_file_parser import DagFileParser
from tradewind.master.scheduler.dag_processor import (
    ImportedItem,
    ParsedFile,
    SyncReport,
    load_in_process,
    store_imported,
)
from tradewind.metastore import dag_code, dag_files, dags, import_errors
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
from tradewind.metastore.migrate import migrate
from tradewind.sdk.serialization import deserialize_dag
from tradewind.settings import Settings

pytestmark = pytest.mark.integration

GOOD = """
import pendulum
from tradewind import DAG, EmptyOperator

with DAG("{dag_id}", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None):
    EmptyOperator(task_id="{task_id}")
"""
EXITS = "import os\nfrom tradewind import DAG\nos._exit(3)\n"
# Ignores the importing child's own alarm: only the scheduler killing the child ends it.
HANGS = (
    "import signal, time\nfrom tradewind import DAG\n"
    "signal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    time.sleep(1)\n"
)
SLOW = "import time\nfrom tradewind import DAG\ntime.sleep(1)\n"
LONG_OWNER = """
import pendulum
from tradewind import DAG, EmptyOperator

with DAG("long_owner", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None):
    EmptyOperator(task_id="t", owner="x" * 2500)
"""


@pytest.fixture
def settings(fresh_pg_url: str, tmp_path: Path, dags_folder: Path) -> Settings:
    settings = Settings(home=tmp_path, dags_folder=dags_folder, database_url=fresh_pg_url, dagbag_import_timeout=1.0)
    migrate(settings)
    return settings


@pytest.fixture
def factory(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = create_engine_from_settings(settings)
    yield make_session_factory(engine)
    engine.dispose()


def _write(folder: Path, name: str, source: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(source)
    return path


def _good(dag_id: str, task_id: str = "t") -> str:
    return GOOD.format(dag_id=dag_id, task_id=task_id)


def _settle(parser: DagFileParser, factory: sessionmaker[Session], within: float = 30.0) -> None:
    """Poll as the scheduler's loop does until every file waiting or importing is stored."""
    deadline = time.monotonic() + within
    while parser.busy:
        assert time.monotonic() < deadline, "the pool did not finish"
        started = time.monotonic()
        parser.poll(factory)
        assert time.monotonic() - started < 5, "a poll waited for an import"
        time.sleep(0.05)


def test_a_hanging_file_and_a_crashing_file_are_the_only_import_errors_among_good_files(
    settings: Settings, factory: sessionmaker[Session], dags_folder: Path
) -> None:
    # Sorted names put each bad file in the middle of its batch, with good files after it.
    names = ["a_0", "a_1", "a_2", "a_3", "b_exits", "b_good_0", "b_good_1", "c_0_hangs", "c_good_0", "c_good_1"]
    for name in names:
        _write(dags_folder, name, {"b_exits": EXITS, "c_0_hangs": HANGS}.get(name) or _good(name))
    parser = DagFileParser(settings, processes=2)
    try:
        parser.scan(factory)
        _settle(parser, factory)
    finally:
        parser.close()
    with session_scope(factory) as session:
        errors = {Path(e.filename).name: e.stacktrace for e in import_errors.list_import_errors(session)}
        active = set(dags.active_dag_ids(session))
        recorded = set(dag_files.get_hashes(session))
    assert set(errors) == {"b_exits.py", "c_0_hangs.py"}
    assert "the process importing the file died (exit code 3) before it finished" in errors["b_exits.py"]
    assert "took longer than 1 s (dagbag_import_timeout); the import was killed" in errors["c_0_hangs.py"]
    assert active == {name for name in names if name not in ("b_exits", "c_0_hangs")}
    assert recorded == {str(dags_folder / f"{name}.py") for name in names}


def test_a_file_changed_while_the_pool_imports_it_ends_as_its_new_version(
    settings: Settings, factory: sessionmaker[Session], dags_folder: Path
) -> None:
    _write(dags_folder, "a_slow", SLOW)
    changing = _write(dags_folder, "b_changing", _good("changing", task_id="old_task"))
    parser = DagFileParser(settings, processes=1)
    try:
        parser.scan(factory)
        assert parser.busy
        new_source = _good("changing", task_id="new_task_of_the_new_version")
        changing.write_text(new_source)
        parser.scan(factory)
        _settle(parser, factory)
    finally:
        parser.close()
    with session_scope(factory) as session:
        serialized = dags.get_serialized(session, "changing")
        assert serialized is not None
        assert [t.task_id for t in deserialize_dag(serialized).tasks] == ["new_task_of_the_new_version"]
        new_hash = hashlib.sha256(new_source.encode()).hexdigest()
        assert dag_files.get_hashes(session)[str(changing)] == new_hash
        code = dag_code.get_code(session, str(changing))
        assert code is not None and code.source == new_source


def test_a_dag_moved_to_another_file_within_one_batch_stays_active_in_its_new_file(
    settings: Settings, factory: sessionmaker[Session], dags_folder: Path
) -> None:
    old = _write(dags_folder, "old_home", _good("moving") + _good("staying"))
    parser = DagFileParser(settings, processes=1)
    try:
        parser.scan(factory)
        _settle(parser, factory)
        new = _write(dags_folder, "a_new_home", _good("moving"))
        old.write_text(_good("staying"))
        parser.scan(factory)
        _settle(parser, factory)
    finally:
        parser.close()
    with session_scope(factory) as session:
        moving, staying = dags.get_dag(session, "moving"), dags.get_dag(session, "staying")
        assert moving is not None and moving.is_active and moving.fileloc == str(new)
        assert staying is not None and staying.is_active and staying.fileloc == str(old)
        assert import_errors.list_import_errors(session) == []


def test_a_dag_whose_owner_is_too_long_is_its_files_error_and_every_other_dag_is_stored_once(
    settings: Settings, factory: sessionmaker[Session], dags_folder: Path
) -> None:
    names = [f"a_{n}" for n in range(4)] + ["b_long_owner"] + [f"c_{n}" for n in range(4)]
    for name in names:
        _write(dags_folder, name, LONG_OWNER if name == "b_long_owner" else _good(name))
    # Nested folders past the 1,000 characters a path may have in the metastore: skipped (and logged).
    deep = dags_folder.joinpath(*["d" * 200] * 6)
    deep.mkdir(parents=True)
    _write(deep, "too_deep", _good("too_deep"))
    parser = DagFileParser(settings, processes=1)
    try:
        parser.scan(factory)
        _settle(parser, factory)
        again = parser.scan(factory)
        assert not parser.busy and again.parsed == []
    finally:
        parser.close()
    with session_scope(factory) as session:
        errors = {Path(e.filename).name: e.stacktrace or "" for e in import_errors.list_import_errors(session)}
        active = set(dags.active_dag_ids(session))
        recorded = set(dag_files.get_hashes(session))
    assert list(errors) == ["b_long_owner.py"]
    assert errors["b_long_owner.py"].splitlines()[0] == (
        f"{dags_folder / 'b_long_owner.py'}: the DAG 'long_owner' cannot be stored: "
        "owners is 2500 characters long; at most 2000 fit"
    )
    assert active == {name for name in names if name != "b_long_owner"}
    assert recorded == {str(dags_folder / f"{name}.py") for name in names}


def test_a_file_postgres_refuses_is_logged_and_every_other_file_of_the_batch_is_stored(
    settings: Settings, factory: sessionmaker[Session], dags_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    items = [
        ImportedItem(path, f"hash-{path.name}", load_in_process(path, settings))
        for path in (_write(dags_folder, name, _good(name)) for name in ("a_good", "b_good"))
    ]
    # A path longer than the metastore's filename column: PostgreSQL refuses its hash and its error.
    refused = dags_folder / ("d" * 1100) / "refused.py"
    items.insert(1, ImportedItem(refused, "hash-refused", ParsedFile(path=str(refused))))
    with caplog.at_level(logging.WARNING, logger="tradewind.master.scheduler.dag_processor"):
        store_imported(factory, settings, items, SyncReport())
    with session_scope(factory) as session:
        assert set(dags.active_dag_ids(session)) == {"a_good", "b_good"}
        assert set(dag_files.get_hashes(session)) == {str(items[0].path), str(items[2].path)}
        assert import_errors.list_import_errors(session) == []
    assert any(
        r.message.startswith(f"could not record the import error of {refused}: StringDataRightTruncation")
        for r in caplog.records
    )
