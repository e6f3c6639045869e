"""A worker's threads share one ``DagLoader``: a DAG file many slots need at once is imported once,
and a thread whose file is already loaded never waits for another file's import."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tradewind.worker.dag_loader import DagLoader

DAG_FILE = """
import time
from datetime import datetime
from pathlib import Path

from tradewind import DAG, BashOperator

with open({ledger!r}, "a") as ledger:
    ledger.write("imported\\n")
time.sleep({pause})

with DAG({dag_id!r}, start_date=datetime(2024, 1, 1), schedule=None):
    BashOperator(task_id="work", bash_command="true")
"""


def write_dag(folder: Path, dag_id: str, ledger: Path, pause: float = 0.0) -> Path:
    path = folder / f"{dag_id}.py"
    path.write_text(DAG_FILE.format(ledger=str(ledger), pause=pause, dag_id=dag_id))
    return path


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
    assert ledger.read_text().splitlines() == ["imported"]
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
    while ledger.read_text().count("imported") < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert importing.is_alive(), "the slow file is still importing"
    began = time.monotonic()
    assert loader.get_dag(quick, "quick_file").dag_id == "quick_file"
    assert time.monotonic() - began < 2.0, "the loaded file did not wait for the slow import"
    importing.join(timeout=30)
