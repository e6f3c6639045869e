"""A DAG file imported in a child, as the scheduler and every CLI command import them: its DAGs come
back serialized; a file that kills its own process or hangs at import becomes that file's import
error, and the asking process goes on."""

from __future__ import annotations

import time
from pathlib import Path

from tradewind.master.scheduler.dag_file_child import load_in_child
from tradewind.settings import Settings

GOOD = """
import pendulum
from tradewind import DAG, EmptyOperator

with DAG("fine", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None):
    EmptyOperator(task_id="t")
"""


def _settings(folder: Path, timeout: float = 30.0) -> Settings:
    return Settings(home=folder, dags_folder=folder, dagbag_import_timeout=timeout)


def test_a_good_file_gives_its_dags(tmp_path: Path) -> None:
    path = tmp_path / "fine.py"
    path.write_text(GOOD)
    parsed = load_in_child(path, _settings(tmp_path))
    assert parsed.error is None and [d["dag_id"] for d in parsed.dags] == ["fine"]


def test_a_file_that_exits_its_process_at_import_is_an_import_error_naming_the_exit_code(tmp_path: Path) -> None:
    path = tmp_path / "exits.py"
    path.write_text("import os\nfrom tradewind import DAG\nos._exit(0)\n")
    parsed = load_in_child(path, _settings(tmp_path))
    assert parsed.dags == []
    assert parsed.error == f"{path}: the process importing the file died (exit code 0) before it finished"


def test_a_file_that_hangs_even_past_its_alarm_is_killed_after_the_import_timeout(tmp_path: Path) -> None:
    path = tmp_path / "hangs.py"
    path.write_text(
        "import signal, time\nfrom tradewind import DAG\n"
        "signal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    time.sleep(1)\n"
    )
    started = time.monotonic()
    parsed = load_in_child(path, _settings(tmp_path, timeout=0.5))
    assert time.monotonic() - started < 10
    assert parsed.error is not None
    assert "took longer than 0.5 s (dagbag_import_timeout); the import was killed" in parsed.error
