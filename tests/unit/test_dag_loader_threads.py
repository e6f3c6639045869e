"""A worker's threads share one ``DagLoader``: a DAG file many slots need at once is imported once
(after a trial import in a child process, where a time limit can stop it), a thread whose file is
already loaded never waits for another file's import, and a file that hangs or ends the process
importing it becomes that file's error while the worker goes on."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tradewind.errors import DagFileImportError
from tradewind.sdk.dag_file import file_hash
from tradewind.worker.dag_loader import DagLoader

DAG_FILE = """
import os
import time
from datetime import datetime
from pathlib import Path

from tradewind import DAG, BashOperator

with open({ledger!r}, "a") as ledger:
    ledger.write(f"imported {{os.getpid()}}\\n")
time.sleep({pause})
{extra}

with DAG({dag_id!r}, start_date=datetime(2024, 1, 1), schedule=None):
    BashOperator(task_id="work", bash_command="true")
"""


def write_dag(folder: Path, dag_id: str, ledger: Path, pause: float = 0.0, extra: str = "") -> Path:
    path = folder / f"{dag_id}.py"
    path.write_text(DAG_FILE.format(ledger=str(ledger), pause=pause, dag_id=dag_id, extra=extra))
    return path


def in_a_thread(call, *args):  # type: ignore[no-untyped-def]
    """What ``call(*args)`` returned or raised, called from a thread that is not the main one."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call(*args))
        except Exception as exc:  # noqa: BLE001 - handed back to the test
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    return outcome[0]


def test_eight_slots_asking_for_the_same_new_file_import_it_once(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    path = write_dag(tmp_path, "shared_file", ledger, pause=0.2)
    loader = DagLoader(dags_folder=tmp_path)
    found: list[object] = []
    go = threading.Barrier(8)

    def slot() -> None:
        go.wait()
        found.append(loader.get_dag(path, "shared_file").get_task("work"))

    threads = [threading.Thread(target=slot) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    imports = ledger.read_text().splitlines()
    # once on trial in a child process, then once in the worker itself
    assert len(imports) == 2 and imports[1] == f"imported {os.getpid()}" and imports[0] != imports[1]
    assert len(found) == 8 and all(task is found[0] for task in found)


def test_a_loaded_file_is_served_while_another_file_is_still_importing(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    quick = write_dag(tmp_path, "quick_file", ledger)
    slow = write_dag(tmp_path, "slow_file", ledger, pause=3.0)
    loader = DagLoader(dags_folder=tmp_path)
    loader.get_dag(quick, "quick_file")
    importing = threading.Thread(target=loader.get_dag, args=(slow, "slow_file"))
    importing.start()
    deadline = time.monotonic() + 10
    while ledger.read_text().count("imported") < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert importing.is_alive(), "the slow file is still importing"
    began = time.monotonic()
    assert loader.get_dag(quick, "quick_file").dag_id == "quick_file"
    assert time.monotonic() - began < 2.0, "the loaded file did not wait for the slow import"
    importing.join(timeout=30)


def test_a_file_that_hangs_on_import_is_stopped_by_the_time_limit_and_becomes_its_error(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    hangs = write_dag(tmp_path, "hangs", ledger, pause=60)
    loader = DagLoader(dags_folder=tmp_path, import_timeout=1)
    began = time.monotonic()
    error = in_a_thread(loader.get_dag, hangs, "hangs")
    assert isinstance(error, DagFileImportError)
    assert "importing the file took longer than 1 s (dagbag_import_timeout)" in str(error)
    assert time.monotonic() - began < 30
    assert ledger.read_text().splitlines() != [f"imported {os.getpid()}"], "never imported in the worker itself"
    # The same version is not tried again: the next task of that file fails at once with the error.
    assert isinstance(in_a_thread(loader.get_dag, hangs, "hangs"), DagFileImportError)
    assert len(ledger.read_text().splitlines()) == 1


def test_a_file_that_ends_its_process_on_import_leaves_the_worker_running(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    exits = write_dag(tmp_path, "exits", ledger, extra="os._exit(3)")
    loader = DagLoader(dags_folder=tmp_path, import_timeout=10)
    error = in_a_thread(loader.get_dag, exits, "exits")
    assert isinstance(error, DagFileImportError)
    assert "the process importing the file died (exit code 3) before it finished" in str(error)


def test_on_the_main_thread_the_file_is_imported_once_in_process(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    path = write_dag(tmp_path, "main_thread", ledger)
    assert DagLoader(dags_folder=tmp_path).get_dag(path, "main_thread").dag_id == "main_thread"
    assert ledger.read_text().splitlines() == [f"imported {os.getpid()}"]


@pytest.mark.parametrize("broken", ["raise ValueError('no such table')"], ids=["raises"])
def test_a_file_whose_import_raises_reports_the_error_without_importing_it_in_the_worker(
    tmp_path: Path, broken: str
) -> None:
    ledger = tmp_path / "ledger"
    path = write_dag(tmp_path, "raises", ledger, extra=broken)
    error = in_a_thread(DagLoader(dags_folder=tmp_path).get_dag, path, "raises")
    assert isinstance(error, DagFileImportError) and "ValueError: no such table" in str(error)
    assert f"imported {os.getpid()}" not in ledger.read_text().splitlines()


def test_a_worker_with_a_fork_server_only_tries_each_new_version_in_a_child(tmp_path: Path) -> None:
    """``check``: the version's import error (or none) from one trial in a child per version, and
    nothing of the file imported in the worker, which leaves the importing to its fork server."""
    ledger = tmp_path / "ledger"
    good = write_dag(tmp_path, "good", ledger)
    exits = write_dag(tmp_path, "exits", ledger, extra="os._exit(3)")
    loader = DagLoader(dags_folder=tmp_path, import_timeout=10)
    first = in_a_thread(loader.check, good)
    assert first == (file_hash(str(good)), None)
    assert in_a_thread(loader.check, good) == first
    tried, died = in_a_thread(loader.check, exits)
    assert "the process importing the file died (exit code 3) before it finished" in str(died)
    importers = [line.split()[1] for line in ledger.read_text().splitlines()]
    assert len(importers) == 2, "each version is tried once"
    assert str(os.getpid()) not in importers and loader.imports == 0
    # A new version of the file is tried again.
    good.write_text(good.read_text() + "\n# changed\n")
    assert in_a_thread(loader.check, good) == (file_hash(str(good)), None)
    assert len(ledger.read_text().splitlines()) == 3
    assert "cannot read DAG file" in str(loader.check(tmp_path / "gone.py")[1])
