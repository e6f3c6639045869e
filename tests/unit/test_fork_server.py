"""A worker forks its tries from its fork server, a small process of one thread forked as the worker
starts: the fork server loads the task from its DAG file, starts the try's guardian and task
process, and hands the worker the try's pipes. Real processes and a real DAG file; no sockets to
servers, no metastore (the tasks here pull no XCom)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_try_processes import run_to_end, wait_for

from tradewind.decisions.retries import RetryPolicy
from tradewind.metastore.task_instances import TIKey
from tradewind.sdk.context import RunInfo
from tradewind.sdk.dag_file import file_hash
from tradewind.settings import Settings
from tradewind.worker.fork_server import ForkServer, ForkServerError, TaskNotLoadable, TrySpec
from tradewind.worker.guardian import GuardedTry, start_guarded_early
from tradewind.worker.task_facts import TaskFacts
from tradewind.worker.task_process import TryRequest

DAG_FILE = """
import os
from datetime import datetime
from tradewind import DAG, PythonOperator

LEDGER = {ledger!r}

def work():
    with open(LEDGER, "a") as ledger:
        ledger.write(f"{{os.getpid()}} {{os.getppid()}}\\n")
    return "done"

with DAG("forked", start_date=datetime(2026, 1, 1), schedule=None):
    PythonOperator(task_id="work", python_callable=work)
"""


@pytest.fixture
def dag_file(tmp_path: Path) -> Path:
    path = tmp_path / "dags" / "forked.py"
    path.parent.mkdir()
    path.write_text(DAG_FILE.format(ledger=str(tmp_path / "ledger")))
    return path


@pytest.fixture
def server(tmp_path: Path, dag_file: Path):
    fork_server = ForkServer(Settings(home=tmp_path, dags_folder=dag_file.parent, dagbag_import_timeout=10))
    fork_server.start()
    yield fork_server
    fork_server.close()


def spec_for(dag_file: Path, task_id: str = "work") -> TrySpec:
    run = RunInfo(dag_id="forked", run_id="manual__1", run_type="manual", logical_date=datetime(2026, 1, 1, tzinfo=UTC))
    request = TryRequest(
        task=None,
        run=run,
        try_number=1,
        max_tries=0,
        map_index=-1,
        hostname="here",
        first_poke_at=None,
        xcom_max_bytes=1024,
    )
    return TrySpec(str(dag_file), TIKey("forked", "manual__1", task_id), request, orphan_grace=5, leftover_grace=1)


def started(server: ForkServer, spec: TrySpec) -> GuardedTry:
    """Ask for the try and, as the worker does once it knows the try is still its own, say go."""
    guarded, _ = server.start_try(spec)
    guarded.go()
    return guarded


def outcome_of(reports: str) -> dict:
    lines = [json.loads(line) for line in reports.splitlines() if line.strip()]
    return next(line["outcome"] for line in lines if "outcome" in line)


def test_a_try_runs_in_a_process_forked_from_the_fork_server_and_reports_through_its_pipes(server, dag_file, tmp_path):
    guarded = started(server, spec_for(dag_file))
    assert not guarded.own_child
    assert _parent_of(guarded.pid) == server.pid, "the guardian is the fork server's child, not the worker's"
    reports = run_to_end(guarded)
    assert outcome_of(reports)["state"] == "success"
    assert any('"xcom": ["return_value", "done"]' in line for line in reports.splitlines())
    task_pid, task_parent = (int(word) for word in (tmp_path / "ledger").read_text().split())
    assert task_parent == guarded.pid and task_pid not in (os.getpid(), server.pid)
    wait_for(lambda: guarded.exited(), 5)


def test_a_task_the_dag_file_lacks_is_a_clear_error_and_the_fork_server_goes_on(server, dag_file, tmp_path):
    with pytest.raises(TaskNotLoadable, match="'nope'"):
        server.start_try(spec_for(dag_file, task_id="nope"))
    assert outcome_of(run_to_end(started(server, spec_for(dag_file))))["state"] == "success"
    assert len((tmp_path / "ledger").read_text().splitlines()) == 1


def test_a_changed_dag_file_is_loaded_again_before_its_next_try(server, dag_file, tmp_path):
    run_to_end(started(server, spec_for(dag_file)))
    dag_file.write_text(dag_file.read_text().replace('return "done"', 'return "changed"'))
    reports = run_to_end(started(server, spec_for(dag_file)))
    assert '"xcom": ["return_value", "changed"]' in reports


def _crashing_file(dag_file: Path) -> Path:
    crashing = dag_file.parent / "crashing.py"
    crashing.write_text("import os\nos._exit(3)\n")
    return crashing


def _refused_and_still_serving(server: ForkServer, spec: TrySpec, dag_file: Path) -> None:
    """The try is refused with the importer's death as its error, by the same fork server, which
    then starts a good try."""
    before = server.pid
    with pytest.raises(TaskNotLoadable, match=r"crashing\.py: the process importing the file died \(exit code 3\)"):
        server.start_try(spec)
    assert server.pid == before and _state(before) not in ("Z", None)
    assert outcome_of(run_to_end(started(server, spec_for(dag_file))))["state"] == "success"


def test_a_dag_file_version_its_worker_has_not_tried_is_tried_in_a_child_first(server, dag_file):
    """The worker tries each version before it asks for a try of it; a version changed in between
    (or never tried) that ends the process importing it ends a child, not the fork server every try
    of every DAG is forked from."""
    crashing = _crashing_file(dag_file)
    _refused_and_still_serving(server, replace(spec_for(dag_file), fileloc=str(crashing)), dag_file)
    tried_before = file_hash(str(crashing))
    crashing.write_text("import os\n# changed since the worker tried it\nos._exit(3)\n")
    spec = replace(spec_for(dag_file), fileloc=str(crashing), tried=tried_before)
    _refused_and_still_serving(server, spec, dag_file)


def test_a_fork_server_that_replaces_a_failed_one_tries_every_version_first(server, dag_file):
    """What took the last fork server down may be a file that passed its worker's trial and crashed
    the fork server's import all the same (its helper modules changed since): the next one tries
    even that version first, so the file fails its tries instead of every fork server after it."""
    crashing = _crashing_file(dag_file)
    os.kill(server.pid, signal.SIGKILL)
    wait_for(lambda: _state(server.pid) in ("Z", None), 5)
    run_to_end(started(server, spec_for(dag_file)))  # finds it gone: a replacement starts this try
    spec = replace(spec_for(dag_file), fileloc=str(crashing), tried=file_hash(str(crashing)))
    _refused_and_still_serving(server, spec, dag_file)


def test_the_fork_server_sends_back_what_the_worker_needs_of_the_task(server, tmp_path):
    """Its time limit, its retry settings, and the downstream tasks a success could move on: read
    off the task as the file the try runs defines it."""
    path = tmp_path / "dags" / "facts.py"
    path.write_text(
        """
from datetime import datetime, timedelta
from tradewind import DAG, EmptyOperator, PythonOperator

with DAG("forked", start_date=datetime(2026, 1, 1), schedule=None):
    work = PythonOperator(task_id="work", python_callable=lambda: None, execution_timeout=timedelta(seconds=7),
                          retries=2, retry_delay=timedelta(seconds=3), retry_exponential_backoff=True)
    other = EmptyOperator(task_id="other")
    [work, other] >> EmptyOperator(task_id="end")
    work >> EmptyOperator(task_id="cleanup", trigger_rule="all_done")
    other >> EmptyOperator(task_id="after_other")
"""
    )
    guarded, facts = server.start_try(spec_for(path))
    guarded.close()
    assert facts == TaskFacts(
        execution_timeout=timedelta(seconds=7),
        retry=RetryPolicy(retry_delay_s=3.0, retry_exponential_backoff=True, max_retry_delay_s=None),
        downstream_waits=None,  # "cleanup" runs under all_done: a follow-up must always plan the run
    )
    guarded, facts = server.start_try(spec_for(path, task_id="other"))
    guarded.close()
    assert facts.execution_timeout is None
    assert facts.downstream_waits == (("after_other", ("other",)), ("end", ("other", "work")))


def test_a_killed_fork_server_is_replaced_for_the_next_try(server, dag_file, tmp_path):
    first = server.pid
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: _state(first) in ("Z", None), 5)
    guarded = started(server, spec_for(dag_file))
    assert server.pid != first
    assert outcome_of(run_to_end(guarded))["state"] == "success"


def test_the_fork_server_exits_when_its_worker_is_killed(tmp_path, dag_file):
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from tradewind.settings import Settings
                from tradewind.worker.fork_server import ForkServer
                server = ForkServer(Settings(home=Path({str(tmp_path)!r})))
                server.start()
                print(server.pid, flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        server_pid = int(worker.stdout.readline())
        assert _state(server_pid) not in ("Z", None)
    finally:
        worker.kill()
        worker.wait(10)
    # Reparented on the worker's death; it sees its socket close and exits within a second or so.
    wait_for(lambda: _state(server_pid) in ("Z", None), 10)


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def test_a_stuck_fork_server_is_given_up_on_after_its_time_and_the_try_starts_on_a_new_one(
    monkeypatch, server, dag_file, tmp_path
):
    monkeypatch.setattr(server, "_answer_within", 0.5)
    stuck = server.pid
    os.kill(stuck, signal.SIGSTOP)
    began = time.monotonic()
    guarded = started(server, spec_for(dag_file))
    assert time.monotonic() - began < 15
    assert server.pid != stuck and _state(stuck) is None, "the stuck one was killed and reaped"
    assert outcome_of(run_to_end(guarded))["state"] == "success"
    assert len((tmp_path / "ledger").read_text().splitlines()) == 1


@pytest.mark.parametrize("said_go", [True, False])
def test_a_guardian_starts_the_task_only_once_the_worker_holds_the_try_s_pipes(tmp_path, said_go):
    """A fork server that dies between forking a try's guardian and handing its pipes on leaves a
    guardian whose control pipe closes before any ``go``: it stops the task process, made ready
    ahead of time, before it ran anything of the try, so asking a new fork server for the same try
    cannot run it twice."""
    ledger = tmp_path / "ran"
    ready = tmp_path / "ready"

    def task_main(log_fd: int, result_fd: int, go: Callable[[], bool]) -> None:
        (tmp_path / "pid").write_text(str(os.getpid()))
        os.replace(tmp_path / "pid", ready)
        if go():
            ledger.write_text("ran")
        os._exit(0)

    guarded = start_guarded_early(task_main, orphan_grace=5, leftover_grace=1)
    wait_for(ready.exists, 5)
    task_pid = int(ready.read_text())
    if said_go:
        guarded.go()
        run_to_end(guarded)
    else:
        guarded.close()  # the control pipe's only writer is gone, with no go said
        wait_for(guarded.exited, 5)
        assert _state(task_pid) is None, "the task process made ready is gone with its guardian"
    assert ledger.exists() is said_go


def test_the_next_try_is_made_ready_before_it_is_asked_for_and_runs_once(server, dag_file, tmp_path):
    """After a try, the fork server forks the next one's processes ahead of time; the next try runs
    in them, once, and a try of a DAG file loaded since runs in processes that hold that file."""
    first = started(server, spec_for(dag_file))
    run_to_end(first)
    # The next try's guardian is already there, waiting, before the worker asks for it.
    wait_for(lambda: bool(_children_of(server.pid)), 5)
    waiting = _children_of(server.pid)
    second = started(server, spec_for(dag_file))
    assert second.pid in waiting
    assert outcome_of(run_to_end(second))["state"] == "success"
    assert len((tmp_path / "ledger").read_text().splitlines()) == 2

    other = dag_file.parent / "other.py"
    other.write_text(dag_file.read_text().replace('"forked"', '"other"').replace('return "done"', 'return "other"'))
    spec = spec_for(other)
    spec.key = TIKey("other", "manual__1", "work")
    reports = run_to_end(started(server, spec))
    assert '"xcom": ["return_value", "other"]' in reports
    assert len((tmp_path / "ledger").read_text().splitlines()) == 3


def test_a_try_made_ready_goes_away_with_its_fork_server(server, dag_file, tmp_path):
    run_to_end(started(server, spec_for(dag_file)))
    wait_for(lambda: len(_children_of(server.pid)) == 1, 5)  # the first try's guardian is gone
    (guardian,) = _children_of(server.pid)
    wait_for(lambda: bool(_children_of(guardian)), 5)
    (task_process,) = _children_of(guardian)
    os.kill(server.pid, signal.SIGKILL)
    wait_for(lambda: _state(guardian) in ("Z", None) and _state(task_process) in ("Z", None), 5)
    assert len((tmp_path / "ledger").read_text().splitlines()) == 1, "nothing ran in the processes made ready"


def test_the_processes_of_a_try_are_named_for_ps_and_top(server, dag_file):
    """``top`` and ``ps -e`` tell a worker's fork server, a try's guardian and its task process apart."""
    run_to_end(started(server, spec_for(dag_file)))
    wait_for(lambda: len(_children_of(server.pid)) == 1, 5)  # the next try's guardian, made ready
    (guardian,) = _children_of(server.pid)
    wait_for(lambda: bool(_children_of(guardian)), 5)
    (task_process,) = _children_of(guardian)

    def names() -> list[str]:
        return [Path(f"/proc/{pid}/comm").read_text().strip() for pid in (server.pid, guardian, task_process)]

    # (Each names itself straight after its fork.)
    wait_for(lambda: names() == ["tw-fork-server", "tw-guardian", "tw-task"], 5)


def _children_of(pid: int) -> list[int]:
    """The living children of ``pid`` (an ended one the fork server has not reaped yet is left out)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in children if _state(int(child)) not in ("Z", None)]


def test_the_worker_s_ends_of_a_try_s_pipes_are_close_on_exec(server, dag_file):
    """No program the worker runs (``os.system`` in a DAG file, say) holds a try's control pipe, so a
    dead worker is always seen by the guardian."""
    guarded, _ = server.start_try(spec_for(dag_file))
    fds = [guarded.log_fd, guarded.result_fd, guarded.status_fd, guarded.control_fd, guarded.go_fd]
    assert min(fds) >= 0 and not any(os.get_inheritable(fd) for fd in fds)
    guarded.go()
    assert guarded.go_fd == -1, "the go pipe is closed once the go is said"
    run_to_end(guarded)


def test_a_try_the_worker_does_not_say_go_to_never_starts(server, dag_file, tmp_path):
    """The worker got the pipes but found the try no longer its own (its heartbeat lost to a retry
    elsewhere): it closes them, and the guardian exits without starting the task."""
    guarded, _ = server.start_try(spec_for(dag_file))
    guardian = guarded.pid
    guarded.close()
    wait_for(lambda: _state(guardian) in ("Z", None), 5)
    assert not (tmp_path / "ledger").exists()
    assert outcome_of(run_to_end(started(server, spec_for(dag_file))))["state"] == "success"


def test_a_fork_server_that_cannot_be_forked_fails_the_try_with_a_clear_error(monkeypatch, server, dag_file):
    os.kill(server.pid, signal.SIGKILL)

    def no_fork(private: int, close_in_parent: int) -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr("tradewind.worker.fork_server.fork_keeping", no_fork)
    with pytest.raises(ForkServerError, match="could not start the try: .*Resource temporarily unavailable"):
        server.start_try(spec_for(dag_file))
    monkeypatch.undo()
    assert outcome_of(run_to_end(started(server, spec_for(dag_file))))["state"] == "success"


@pytest.mark.parametrize("conf_bytes", [0, 200_000], ids=["small spec", "spec larger than a pipe holds"])
def test_a_try_made_ready_whose_task_process_was_killed_is_not_used(server, dag_file, tmp_path, conf_bytes):
    """The OOM killer (or a person) ends the task process waiting for the next try: the next try
    runs in processes forked for it, once, and succeeds; the fork server never waits on the dead
    one, however large the try's spec."""
    run_to_end(started(server, spec_for(dag_file)))
    wait_for(lambda: len(_children_of(server.pid)) == 1, 5)
    (guardian,) = _children_of(server.pid)
    wait_for(lambda: bool(_children_of(guardian)), 5)
    (task_process,) = _children_of(guardian)
    os.kill(task_process, signal.SIGKILL)
    wait_for(lambda: _state(guardian) in ("Z", None), 5)  # its guardian goes with it, having said nothing
    spec = spec_for(dag_file)
    spec.request.run = replace(spec.request.run, conf={"blob": "x" * conf_bytes})
    second = started(server, spec)
    assert second.pid != guardian
    assert outcome_of(run_to_end(second))["state"] == "success"
    assert len((tmp_path / "ledger").read_text().splitlines()) == 2


def test_a_task_process_made_ready_that_ends_before_the_go_is_reported_like_any_ended_try(tmp_path):
    """Its guardian does not wait for a go that can lead nowhere: it says how the task process
    ended, and that nothing of the try is left, as after any try."""

    def task_main(log_fd: int, result_fd: int, go: Callable[[], bool]) -> None:
        os._exit(3)  # say, its setup failed before it could wait for its try

    guarded = start_guarded_early(task_main, orphan_grace=5, leftover_grace=1)
    run_to_end(guarded, timeout=10)  # returns once the guardian has exited
    assert guarded.report.exit_code == 3 and guarded.report.all_gone
