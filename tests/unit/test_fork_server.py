"""A worker forks its tries from its fork server, a small process forked as the worker starts: the
fork server loads the task from its DAG file, starts the try's task process under a guard thread
of its own, and hands the worker the try's pipes. Real processes and a real DAG file; no sockets to
servers, no metastore (the tasks here pull no XCom)."""

from __future__ import annotations

import json
import os
import signal
import struct
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
from tradewind.worker.guardian import GuardedTry, wait_readable
from tradewind.worker.task_facts import TaskFacts
from tradewind.worker.task_process import TryRequest
from tradewind.worker.thread_guard import start_thread_guarded_early

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
    assert _parent_of(guarded.pid) == server.pid, "the task process is the fork server's child, not the worker's"
    reports = run_to_end(guarded)
    assert outcome_of(reports)["state"] == "success"
    assert any('"xcom": ["return_value", "done"]' in line for line in reports.splitlines())
    task_pid, task_parent = (int(word) for word in (tmp_path / "ledger").read_text().split())
    assert (task_pid, task_parent) == (guarded.pid, server.pid), "one process for the try, the fork server's child"
    assert _state(task_pid) is None, "reaped by its guard before it said the try is over"
    assert not guarded.exited(), "the fork server that guards it goes on"


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
def test_a_task_process_made_ready_starts_the_try_only_once_the_worker_holds_its_pipes(tmp_path, said_go):
    """A task process made ready ahead of time whose control pipe closes before any ``go`` (the
    fork server gave it up, or the worker never got its pipes) is SIGKILLed by its guard before it
    ran anything of the try, so asking again for the same try cannot run it twice."""
    ledger = tmp_path / "ran"
    ready = tmp_path / "ready"

    def task_main(log_fd: int, result_fd: int, go: Callable[[], bool]) -> None:
        (tmp_path / "pid").write_text(str(os.getpid()))
        os.replace(tmp_path / "pid", ready)
        if go():
            ledger.write_text("ran")
        os._exit(0)

    guarded = start_thread_guarded_early(task_main, orphan_grace=5, leftover_grace=1)
    wait_for(ready.exists, 5)
    task_pid = int(ready.read_text())
    if said_go:
        guarded.go()
        run_to_end(guarded)
    else:
        guarded.close()  # the control pipe's only writer is gone, with no go said
        wait_for(lambda: _state(task_pid) is None, 5)  # SIGKILLed and reaped by its guard
    assert ledger.exists() is said_go


def test_the_next_try_is_made_ready_before_it_is_asked_for_and_runs_once(server, dag_file, tmp_path):
    """After a try, the fork server forks the next one's processes ahead of time; the next try runs
    in them, once, and a try of a DAG file loaded since runs in processes that hold that file."""
    first = started(server, spec_for(dag_file))
    run_to_end(first)
    # The next try's task process is already there, waiting, before the worker asks for it.
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
    wait_for(lambda: len(_children_of(server.pid)) == 1, 5)  # the first try's task process is gone
    (task_process,) = _children_of(server.pid)
    os.kill(server.pid, signal.SIGKILL)
    wait_for(lambda: _state(task_process) in ("Z", None), 5)
    assert len((tmp_path / "ledger").read_text().splitlines()) == 1, "nothing ran in the process made ready"


def test_the_processes_of_a_try_are_named_for_ps_and_top(server, dag_file):
    """``top`` and ``ps -e`` tell a worker's fork server and a try's task process apart; a try is one
    process (its guard is a thread of the fork server)."""
    run_to_end(started(server, spec_for(dag_file)))
    wait_for(lambda: len(_children_of(server.pid)) == 1, 5)  # the next try's task process, made ready
    (task_process,) = _children_of(server.pid)
    assert _children_of(task_process) == []

    def names() -> list[str]:
        return [Path(f"/proc/{pid}/comm").read_text().strip() for pid in (server.pid, task_process)]

    # (Each names itself straight after its fork.)
    wait_for(lambda: names() == ["tw-fork-server", "tw-task"], 5)


def _children_of(pid: int) -> list[int]:
    """The living children of ``pid`` (an ended one the fork server has not reaped yet is left out)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in children if _state(int(child)) not in ("Z", None)]


def test_the_worker_s_ends_of_a_try_s_pipes_are_close_on_exec(server, dag_file):
    """No program the worker runs (``os.system`` in a DAG file, say) holds a try's control pipe, so a
    dead worker is always seen by the guard of each of its tries."""
    guarded, _ = server.start_try(spec_for(dag_file))
    fds = [guarded.log_fd, guarded.result_fd, guarded.status_fd, guarded.control_fd, guarded.go_fd]
    assert min(fds) >= 0 and not any(os.get_inheritable(fd) for fd in fds)
    guarded.go()
    assert guarded.go_fd == -1, "the go pipe is closed once the go is said"
    run_to_end(guarded)


def test_a_try_the_worker_does_not_say_go_to_never_starts(server, dag_file, tmp_path):
    """The worker got the pipes but found the try no longer its own (its heartbeat lost to a retry
    elsewhere): it closes them, and the guard kills the task process before it started the task."""
    guarded, _ = server.start_try(spec_for(dag_file))
    task_process = guarded.pid
    guarded.close()
    wait_for(lambda: _state(task_process) in ("Z", None), 5)
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
    (task_process,) = _children_of(server.pid)
    os.kill(task_process, signal.SIGKILL)
    wait_for(lambda: _state(task_process) is None, 5)  # reaped by its guard
    spec = spec_for(dag_file)
    spec.request.run = replace(spec.request.run, conf={"blob": "x" * conf_bytes})
    second = started(server, spec)
    assert second.pid != task_process
    assert outcome_of(run_to_end(second))["state"] == "success"
    assert len((tmp_path / "ledger").read_text().splitlines()) == 2


def test_a_task_process_made_ready_that_ends_before_the_go_is_reported_like_any_ended_try(tmp_path):
    """Its guard does not wait for a go that can lead nowhere: it says how the task process ended,
    and that nothing of the try is left, as after any try."""

    def task_main(log_fd: int, result_fd: int, go: Callable[[], bool]) -> None:
        os._exit(3)  # say, its setup failed before it could wait for its try

    guarded = start_thread_guarded_early(task_main, orphan_grace=5, leftover_grace=1)
    run_to_end(guarded, timeout=10)  # returns once the guard said nothing of the try is left
    assert guarded.report.exit_code == 3 and guarded.report.all_gone


ORPHANS_DAG = """
import os, subprocess, time
from datetime import datetime
from tradewind import DAG, PythonOperator

HERE = {here!r}

def leaves():
    command = subprocess.Popen(["sleep", "60"], start_new_session=True)
    with open(os.path.join(HERE, "command"), "w") as out:
        out.write(str(command.pid))
    with open(os.path.join(HERE, "task"), "w") as out:
        out.write(str(os.getpid()))
    time.sleep(60)

def steady():
    time.sleep(1.5)
    with open(os.path.join(HERE, "steady"), "w") as out:
        out.write("done")

with DAG("orphans", start_date=datetime(2026, 1, 1), schedule=None):
    PythonOperator(task_id="leaves", python_callable=leaves)
    PythonOperator(task_id="steady", python_callable=steady)
"""


@pytest.fixture
def orphans_server(tmp_path: Path):
    """A fork server over the DAG file of tasks "leaves" and "steady" (ORPHANS_DAG)."""
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "orphans.py").write_text(ORPHANS_DAG.format(here=str(tmp_path)))
    server = ForkServer(Settings(home=tmp_path, dags_folder=dags, dagbag_import_timeout=10))
    server.start()
    yield server
    server.close()


def orphans_spec(server: ForkServer, task_id: str) -> TrySpec:
    base = spec_for(server.settings.dags_folder / "orphans.py", task_id)
    return replace(base, key=TIKey("orphans", "manual__1", task_id), request=replace(base.request))


def test_what_a_killed_task_process_started_is_stopped_before_its_try_ends_and_other_tries_run_on(
    orphans_server, tmp_path
):
    """The OOM killer takes a try's task process, which had started a command in a session of its
    own. The command is the fork server's to stop: its guard reports the try over only once the
    command is gone. Another try the same fork server runs meanwhile goes on untouched."""
    leaving = started(orphans_server, orphans_spec(orphans_server, "leaves"))
    steady = started(orphans_server, orphans_spec(orphans_server, "steady"))
    wait_for(lambda: (tmp_path / "task").exists() and (tmp_path / "command").exists(), 10)
    command = int((tmp_path / "command").read_text())
    assert _state(command) not in ("Z", None)
    os.kill(int((tmp_path / "task").read_text()), signal.SIGKILL)
    run_to_end(leaving)
    assert leaving.report.exit_code == -signal.SIGKILL
    assert leaving.report.leftovers >= 1, "the command left behind was found and stopped"
    assert _state(command) is None, "no process of the try is left once its guard says so"
    assert outcome_of(run_to_end(steady))["state"] == "success"
    assert (tmp_path / "steady").read_text() == "done"


def test_a_fork_server_whose_loop_fails_finishes_the_tries_it_runs_and_a_new_one_takes_the_next(orphans_server):
    """The fork server's main loop fails on a request it cannot read (here: an empty pickle) while a
    try runs. It closes its end, but its guard threads see the running try to its end; the worker
    asks a new fork server for the next try and leaves the old one to finish, not SIGKILLed."""
    server = orphans_server
    spec = orphans_spec(server, "steady")
    running = started(server, spec)
    first = server.pid
    assert server._sock is not None
    server._sock.sendall(struct.pack("!I", 0))  # a request of no bytes: its loop raises
    wait_for(lambda: server._sock is not None and wait_readable([server._sock.fileno()], 0), 5)
    following = started(server, spec)
    assert server.pid != first and _state(first) not in (None, "Z"), "the first one finishes its try"
    assert outcome_of(run_to_end(running))["state"] == "success"
    assert outcome_of(run_to_end(following))["state"] == "success"
    wait_for(lambda: _state(first) in (None, "Z"), 10)


def test_tries_given_up_before_their_go_leave_no_descriptor_behind(tmp_path):
    """A fork server gives up a try made ready each time a DAG file is imported, and the worker
    closes a try it no longer owns before its go: month after month of that must not use up the
    fork server's descriptors (each try's guard closes its pipes and its pidfd however it ends)."""

    def task_main(log_fd: int, result_fd: int, go: Callable[[], bool]) -> None:
        go()
        os._exit(0)

    def open_descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = open_descriptors()
    pids = []
    for _ in range(20):
        guarded = start_thread_guarded_early(task_main, orphan_grace=5, leftover_grace=1)
        pids.append(guarded.pid)
        guarded.close()  # given up, with no go said
    wait_for(lambda: all(_state(pid) is None for pid in pids), 10)
    wait_for(lambda: open_descriptors() <= before, 5)
