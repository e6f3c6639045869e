"""A batch of DAG files imported by one child, as the scheduler imports a changed folder: each
file's result comes back as soon as it is done; a file that kills the child or hangs past its time
limit becomes that file's import error, and the files after it are handed back for a fresh child;
and no file's import changes how the next one imports (its own ``common.py``, its working directory)."""

from __future__ import annotations

import time
from pathlib import Path

from tradewind.master.scheduler.dag_file_batch import BatchImport, BatchProgress
from tradewind.sdk.dag_folder import FoundFile
from tradewind.settings import Settings

GOOD = """
import pendulum
from tradewind import DAG, EmptyOperator

with DAG("{dag_id}", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None):
    EmptyOperator(task_id="t")
"""
EXITS = "import os\nfrom tradewind import DAG\nos._exit(3)\n"
# Ignores the child's own alarm, so only the parent's kill ends it.
HANGS_PAST_ALARM = (
    "import signal, time\nfrom tradewind import DAG\n"
    "signal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    time.sleep(1)\n"
)
SLEEPS = "import time\nfrom tradewind import DAG\ntime.sleep(60)\n"


def _folder(tmp_path: Path, files: dict[str, str]) -> list[FoundFile]:
    items = []
    for name, source in files.items():
        path = tmp_path / f"{name}.py"
        path.write_text(source.format(dag_id=name) if source is GOOD else source)
        items.append(FoundFile(path=str(path), stamp=None, content_hash=name))
    return items


def _run(batch: BatchImport, within: float = 20.0) -> BatchProgress:
    """Every result of the batch until its child ended, looking as the scheduler's loop does."""
    total = BatchProgress()
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        progress = batch.collect()
        total.done += progress.done
        if progress.ended:
            total.ended, total.rest = True, progress.rest
            return total
        time.sleep(0.02)
    batch.stop()
    raise AssertionError("the batch neither finished nor was stopped")


def _settings(folder: Path, timeout: float = 30.0) -> Settings:
    return Settings(home=folder, dags_folder=folder, dagbag_import_timeout=timeout)


def test_a_batch_sends_each_files_dags_in_order(tmp_path: Path) -> None:
    items = _folder(tmp_path, {f"good_{n}": GOOD for n in range(5)})
    batch = BatchImport.start(items, _settings(tmp_path))
    progress = _run(batch)
    assert [item.path for item, _ in progress.done] == [item.path for item in items]
    assert [[d["dag_id"] for d in parsed.dags] for _, parsed in progress.done] == [[f"good_{n}"] for n in range(5)]
    assert progress.rest == []


def test_a_file_that_exits_the_child_is_its_error_alone_and_the_rest_is_handed_back(tmp_path: Path) -> None:
    items = _folder(tmp_path, {"before": GOOD, "exits": EXITS, "after_1": GOOD, "after_2": GOOD})
    progress = _run(BatchImport.start(items, _settings(tmp_path)))
    (before, good), (exits, died) = progress.done
    assert before.path.endswith("before.py") and good.error is None
    assert exits.path.endswith("exits.py")
    assert died.error == f"{exits.path}: the process importing the file died (exit code 3) before it finished"
    assert [Path(item.path).name for item in progress.rest] == ["after_1.py", "after_2.py"]


def test_a_file_that_hangs_past_its_alarm_is_killed_and_the_rest_is_handed_back(tmp_path: Path) -> None:
    items = _folder(tmp_path, {"before": GOOD, "hangs": HANGS_PAST_ALARM, "after": GOOD})
    started = time.monotonic()
    progress = _run(BatchImport.start(items, _settings(tmp_path, timeout=0.5)))
    assert time.monotonic() - started < 10
    (_, good), (hangs, killed) = progress.done
    assert good.error is None and hangs.path.endswith("hangs.py")
    assert killed.error is not None and "took longer than 0.5 s (dagbag_import_timeout)" in killed.error
    assert [Path(item.path).name for item in progress.rest] == ["after.py"]


def test_a_slow_file_stopped_by_its_alarm_is_its_error_and_the_child_goes_on(tmp_path: Path) -> None:
    items = _folder(tmp_path, {"sleeps": SLEEPS, "after": GOOD})
    progress = _run(BatchImport.start(items, _settings(tmp_path, timeout=0.5)))
    (_, slow), (_, good) = progress.done
    assert slow.error is not None and good.error is None and progress.rest == []


# Each DAG file puts its own folder first on sys.path and imports the helper next to it, as DAG
# files in the wild do.
USES_ITS_COMMON = """
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common
import pendulum
from tradewind import DAG, EmptyOperator

with DAG("{dag_id}", description=common.VALUE, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None):
    EmptyOperator(task_id="t")
"""
CHDIRS = """
import os
from tradewind import DAG
os.chdir({elsewhere!r})
"""
SAYS_WHERE_IT_RUNS = """
import os
import pendulum
from tradewind import DAG, EmptyOperator

with DAG("where", description=os.getcwd(), start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None):
    EmptyOperator(task_id="t")
"""


def _file(path: Path, source: str) -> FoundFile:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return FoundFile(path=str(path), stamp=None, content_hash=path.name)


def test_each_subfolders_dag_imports_its_own_common_module_within_one_batch(tmp_path: Path) -> None:
    items = []
    for team in ("team_a", "team_b"):
        (tmp_path / team).mkdir()
        (tmp_path / team / "common.py").write_text(f"VALUE = {team!r}\n")
        items.append(_file(tmp_path / team / f"{team}_dag.py", USES_ITS_COMMON.format(dag_id=team)))
    progress = _run(BatchImport.start(items, _settings(tmp_path)))
    assert [parsed.error for _, parsed in progress.done] == [None, None]
    assert [parsed.dags[0]["description"] for _, parsed in progress.done] == ["team_a", "team_b"]


def test_a_file_that_changes_directory_does_not_move_the_next_file(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = _run(BatchImport.start([_file(tmp_path / "where.py", SAYS_WHERE_IT_RUNS)], _settings(tmp_path)))
    items = [
        _file(tmp_path / "a_chdirs.py", CHDIRS.format(elsewhere=str(elsewhere))),
        _file(tmp_path / "b_where.py", SAYS_WHERE_IT_RUNS),
    ]
    progress = _run(BatchImport.start(items, _settings(tmp_path)))
    ran_in = progress.done[1][1].dags[0]["description"]
    assert ran_in == before.done[0][1].dags[0]["description"] != str(elsewhere)
