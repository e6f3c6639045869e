"""A worker looks at a DAG file before each try: it reads and hashes it only when the file's stat
(modification time and size) changed, or changed too recently to be trusted, as the DAG
processor's scan does; a file rewritten in place is imported again either way."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import tradewind.worker.dag_loader as dag_loader
from tradewind.worker.dag_loader import DagLoader

DAG_FILE = """
from datetime import datetime
from tradewind import DAG, BashOperator

with DAG("stamped", start_date=datetime(2024, 1, 1), schedule=None):
    BashOperator(task_id={task_id!r}, bash_command="true")
"""
HOUR_AGO_NS = time.time_ns() - 3600 * 10**9


def write_dag(path: Path, task_id: str, mtime_ns: int | None = None) -> None:
    path.write_text(DAG_FILE.format(task_id=task_id))
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the loader read and hashed, in order."""
    read: list[str] = []
    real = dag_loader.file_hash

    def counting(path: str | Path) -> str:
        read.append(str(path))
        return real(path)

    monkeypatch.setattr(dag_loader, "file_hash", counting)
    return read


def test_an_unchanged_file_is_not_read_again_for_each_try(tmp_path: Path, hashes: list[str]) -> None:
    path = tmp_path / "stamped.py"
    write_dag(path, "extract", HOUR_AGO_NS)
    loader = DagLoader(dags_folder=tmp_path)
    for _ in range(5):
        assert loader.get_dag(path, "stamped").task_ids == ["extract"]
    assert hashes == [str(path)] and loader.imports == 1


def test_a_file_rewritten_with_the_same_size_is_imported_again(tmp_path: Path, hashes: list[str]) -> None:
    path = tmp_path / "stamped.py"
    write_dag(path, "extract", HOUR_AGO_NS)
    loader = DagLoader(dags_folder=tmp_path)
    assert loader.get_dag(path, "stamped").task_ids == ["extract"]
    write_dag(path, "publish", HOUR_AGO_NS + 10**9)  # same length, another task, a newer mtime
    assert loader.get_dag(path, "stamped").task_ids == ["publish"]
    assert loader.imports == 2


def test_a_file_written_a_moment_ago_is_read_each_time_until_its_stat_can_be_trusted(
    tmp_path: Path, hashes: list[str]
) -> None:
    """Two writes of the same size within one timestamp tick leave the same stat: so a file this
    recent is hashed again each time, and a second quick write is still seen."""
    path = tmp_path / "stamped.py"
    write_dag(path, "extract")
    loader = DagLoader(dags_folder=tmp_path)
    assert loader.get_dag(path, "stamped").task_ids == ["extract"]
    stat = path.stat()
    write_dag(path, "publish", stat.st_mtime_ns)  # rewritten, its stat exactly as before
    assert loader.get_dag(path, "stamped").task_ids == ["publish"]
    assert hashes == [str(path)] * 2
