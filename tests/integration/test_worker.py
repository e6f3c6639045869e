"""The worker role against the real Redis and Postgres, through real `tradewind worker` processes.

The test stands in for the scheduler: it records a DAG and a run in the metastore, moves a task
instance to queued, and sends the message the executor would send. Everything is observed in the
metastore (polled, with a deadline), never by sleeping and hoping.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from cluster import wait_until
from sqlalchemy.orm import Session, sessionmaker

from tradewind.cli.main import cli
from tradewind.metastore import dags, logs, runs, task_instances, workers, xcoms
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
from tradewind.metastore.migrate import migrate
from tradewind.metastore.task_instances import TIKey
from tradewind.queue.app import make_celery_app
from tradewind.queue.messages import RUN_TASK_INSTANCE, TaskMessage
from tradewind.queue.redis_keys import TASK_ENDED_CHANNEL
from tradewind.sdk.dag_file import load_dag_file
from tradewind.sdk.serialization import dag_hash, serialize_dag
from tradewind.settings import Settings

pytestmark = pytest.mark.integration

TRADEWIND = str(Path(sys.executable).parent / "tradewind")
if not os.path.exists(TRADEWIND):
    TRADEWIND = shutil.which("tradewind") or TRADEWIND
MAIN_WORKER = "worker-main"
T0 = datetime(2024, 3, 1, tzinfo=UTC)
#: Queue names of this run alone: another test run sharing the Redis database cannot take its messages.
QUEUE_PREFIX = f"tw-test-{uuid.uuid4().hex[:8]}-"
MAIN_QUEUE = QUEUE_PREFIX + "default"
_LIVE = timedelta(seconds=30)

DAG_TEMPLATE = """
import os, sys, time
from datetime import timedelta
import pendulum
from tradewind import DAG
from tradewind.sdk.operators.python import PythonOperator

SIDE_EFFECTS = {side_effects!r}

def record(name):
    with open(SIDE_EFFECTS, "a") as f:
        f.write(name + "\\n")

{body}

with DAG({dag_id!r}, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None,
         default_args={{"retries": {retries}, "retry_delay": timedelta(seconds=1)}}) as dag:
    PythonOperator(task_id="work", python_callable=work)
"""


# -- the stack: one database and one Redis database for the module --------------------------------


@dataclass
class Stack:
    settings: Settings
    factory: sessionmaker[Session]
    app: Any
    env: dict[str, str]
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def dags_folder(self) -> Path:
        return self.settings.resolved_dags_folder


@pytest.fixture(scope="module")
def module_redis_url(_redis_db: int) -> Iterator[str]:
    url = f"redis://127.0.0.1:6379/{_redis_db}"
    yield url
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"*{QUEUE_PREFIX}*"):  # the queues and kombu's bindings of them
        client.delete(key)
    client.close()


@pytest.fixture(scope="module")
def stack(module_pg_url: str, module_redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("worker-home")
    (home / "dags").mkdir()
    settings = Settings(home=home, database_url=module_pg_url, broker_url=module_redis_url, dags_folder=home / "dags")
    migrate(settings)
    engine = create_engine_from_settings(settings)
    env = {
        **os.environ,
        "TRADEWIND_HOME": str(home),
        "TRADEWIND_DATABASE_URL": module_pg_url,
        "TRADEWIND_BROKER_URL": module_redis_url,
        "TRADEWIND_DAGS_FOLDER": str(home / "dags"),
        "TRADEWIND_LOG_LEVEL": "INFO",
        "TRADEWIND_WORKER_HEARTBEAT_INTERVAL": "1",
    }
    (home / "process-logs").mkdir()
    app = make_celery_app(settings)
    yield Stack(settings, make_session_factory(engine), app, env, home / "process-logs")
    app.close()
    engine.dispose()


# -- worker processes --------------------------------------------------------------------------------


def start_worker(
    stack: Stack, hostname: str, *, queues: str = MAIN_QUEUE, concurrency: int = 3, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log = open(stack.logs / f"{hostname}.log", "ab")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [TRADEWIND, "worker", "--hostname", hostname, "--queues", queues, "--concurrency", str(concurrency)],
        env={**stack.env, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    stack.processes.append(process)
    wait_until(
        lambda: is_live(stack, hostname) or process.poll() is not None,
        30,
        lambda: f"worker {hostname} did not register\n{worker_log(stack, hostname)}",
    )
    assert process.poll() is None, worker_log(stack, hostname)
    return process


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    """Kill the worker's whole session: main process, pool and any task child (own process group)."""
    kill_session(process.pid, signal.SIGKILL)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def kill_session(session_id: int, sig: int) -> None:
    for pid in session_members(session_id):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def session_members(session_id: int) -> list[int]:
    """Live processes (not zombies) whose session id is ``session_id``: a worker's whole tree."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, *_, sid = stat[stat.rindex(")") + 2 :].split()[:4]
        if int(sid) == session_id and state != "Z":
            members.append(int(entry.name))
    return members


def worker_log(stack: Stack, hostname: str) -> str:
    path = stack.logs / f"{hostname}.log"
    return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def is_live(stack: Stack, hostname: str) -> bool:
    with session_scope(stack.factory) as session:
        return any(w.hostname == hostname for w in workers.list_workers(session, alive_within=_LIVE))


@pytest.fixture(scope="module")
def main_worker(stack: Stack) -> Iterator[subprocess.Popen[bytes]]:
    process = start_worker(stack, MAIN_WORKER)
    yield process
    stop_worker(process)


@pytest.fixture
def worker_factory(stack: Stack) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(hostname: str, **kwargs: Any) -> subprocess.Popen[bytes]:
        process = start_worker(stack, hostname, **kwargs)
        started.append(process)
        return process

    yield start
    for process in started:
        stop_worker(process)


# -- standing in for the scheduler ----------------------------------------------------------------


@dataclass
class Queued:
    key: TIKey
    message: TaskMessage
    side_effects: Path


def write_dag(stack: Stack, dag_id: str, body: str, *, retries: int = 0) -> tuple[Path, Path]:
    side_effects = stack.settings.home / f"{dag_id}.side_effects"
    path = stack.dags_folder / f"{dag_id}.py"
    path.write_text(
        DAG_TEMPLATE.format(side_effects=str(side_effects), body=textwrap.dedent(body), dag_id=dag_id, retries=retries)
    )
    return path, side_effects


def queue_task(stack: Stack, body: str, *, retries: int = 0, try_number: int = 1) -> Queued:
    """Record a DAG with one task "work", a run of it, and its task instance queued at ``try_number``."""
    dag_id = f"w_{uuid.uuid4().hex[:10]}"
    path, side_effects = write_dag(stack, dag_id, body, retries=retries)
    result = load_dag_file(path)
    assert result.error is None, result.error
    dag = result.dags[0]
    serialized = serialize_dag(dag)
    run_id = f"manual__{T0.isoformat()}"
    key = TIKey(dag_id, run_id, "work")
    with session_scope(stack.factory) as session:
        dags.upsert_dag(
            session, dag_id, str(path), serialized, dag_hash(serialized), None, None, [], None, None, None, False
        )
        runs.create_run(
            session,
            dag_id=dag_id,
            run_id=run_id,
            run_type="manual",
            logical_date=T0,
            state="running",
            task_rows=[{"task_id": "work", "operator": "PythonOperator", "max_tries": retries}],
        )
        assert task_instances.transition(session, key, expected_state="none", target_state="scheduled")
        assert task_instances.transition(
            session,
            key,
            expected_state="scheduled",
            target_state="queued",
            try_number=try_number,
            queued_dttm=datetime.now(UTC),
        )
    return Queued(key, TaskMessage(dag_id, run_id, "work", -1, try_number), side_effects)


def send(stack: Stack, payload: Any, queue: str = MAIN_QUEUE) -> None:
    stack.app.send_task(RUN_TASK_INSTANCE, args=[payload], queue=queue)


def ti(stack: Stack, key: TIKey) -> Any:
    with session_scope(stack.factory) as session:
        row = task_instances.get_ti(session, key.dag_id, key.run_id, key.task_id, key.map_index)
        session.expunge_all()
        return row


def log_text(stack: Stack, key: TIKey, try_number: int = 1) -> str:
    with session_scope(stack.factory) as session:
        return logs.read_log(session, key, try_number)[0]


def wait_for_state(stack: Stack, key: TIKey, states: set[str], timeout: float = 20) -> Any:
    return wait_until(
        lambda: (row := ti(stack, key)).state in states and row,
        timeout,
        lambda: f"{key} is {ti(stack, key).state}, not {states}\n{worker_log(stack, MAIN_WORKER)}",
    )


def wait_until_delivered(stack: Stack, queue: str = MAIN_QUEUE, timeout: float = 20) -> None:
    """Every message sent to ``queue`` was taken and acknowledged (late acks: after the task returned)."""
    client = redis.Redis.from_url(stack.settings.broker_url or "")

    def unacked() -> int:
        # kombu keeps each delivered, unacknowledged message in the "unacked" hash as
        # [message, exchange, routing_key]; other queues' messages are not ours to wait for.
        return sum(1 for raw in client.hvals("unacked") if json.loads(raw)[2] == queue)

    try:
        wait_until(
            lambda: client.llen(queue) == 0 and unacked() == 0,
            timeout,
            lambda: f"{queue}: {client.llen(queue)} waiting, {unacked()} unacked",
        )
    finally:
        client.close()


def received(pubsub: Any) -> list[dict[str, str]]:
    found = []
    while (message := pubsub.get_message(timeout=0.01)) is not None:
        found.append(json.loads(message["data"]))
    return found


def executions(queued: Queued) -> list[str]:
    return queued.side_effects.read_text().split() if queued.side_effects.exists() else []


# -- the tests -----------------------------------------------------------------------------------------


def test_task_runs_and_its_state_xcom_and_log_are_in_the_metastore(stack, main_worker):
    queued = queue_task(
        stack,
        """
        def work():
            record("ran")
            print("hello from the task")
            return {"rows": 3}
    """,
    )
    events = redis.Redis.from_url(stack.settings.broker_url or "").pubsub(ignore_subscribe_messages=True)
    events.subscribe(TASK_ENDED_CHANNEL)
    send(stack, queued.message.encode())
    row = wait_for_state(stack, queued.key, {"success", "failed"})
    assert row.state == "success", log_text(stack, queued.key)
    assert row.hostname == MAIN_WORKER
    # The worker wakes the schedulers at once: a "task ended" event for the run.
    ended: list[dict[str, str]] = []
    wait_until(
        lambda: ended.extend(received(events)) or {"dag_id": queued.key.dag_id, "run_id": queued.key.run_id} in ended,
        10,
    )
    events.close()
    assert row.try_number == 1
    with session_scope(stack.factory) as session:
        assert xcoms.get_xcom(session, queued.key.dag_id, queued.key.run_id, "work") == {"rows": 3}
        tries = task_instances.list_tries(session, queued.key)
        assert [(t.try_number, t.state, t.hostname) for t in tries] == [(1, "success", MAIN_WORKER)]
    assert "hello from the task" in log_text(stack, queued.key)
    assert executions(queued) == ["ran"]


def test_a_task_reads_and_writes_the_metastore_through_its_worker_and_never_imports_sqlalchemy(stack, main_worker):
    """The task's process is forked from the worker's lean fork server: what it reads and writes of
    the metastore (a variable, an XCom pull) its worker does for it, and a process the task forks
    itself reads over a connection of its own."""
    variable = f"v_{uuid.uuid4().hex[:8]}"
    queued = queue_task(
        stack,
        f"""
        def work(ti):
            from tradewind.sdk.variable import Variable
            Variable.set({variable!r}, "written by the task")
            record("read:" + Variable.get({variable!r}).replace(" ", "_"))
            record("pulled:" + str(ti.xcom_pull(task_ids="work", key="nothing_here")))
            record("missing:" + Variable.get("no_such_variable", default_var="default"))
            child = os.fork()
            if child == 0:
                try:
                    record("child_read:" + Variable.get({variable!r}).replace(" ", "_"))
                finally:
                    os._exit(0)
            os.waitpid(child, 0)
            record("sqlalchemy_imported:" + str("sqlalchemy" in sys.modules))
    """,
    )
    send(stack, queued.message.encode())
    row = wait_for_state(stack, queued.key, {"success", "failed"})
    assert row.state == "success", log_text(stack, queued.key)
    assert executions(queued) == [
        "read:written_by_the_task",
        "pulled:None",
        "missing:default",
        "child_read:written_by_the_task",
        "sqlalchemy_imported:False",
    ]
    with session_scope(stack.factory) as session:
        from tradewind.metastore import variables

        assert variables.get_variable(session, variable).value == "written by the task"


def test_same_message_sent_twice_executes_once(stack, main_worker):
    queued = queue_task(
        stack,
        """
        def work():
            record("ran")
            time.sleep(0.3)
    """,
    )
    send(stack, queued.message.encode())
    send(stack, queued.message.encode())
    assert wait_for_state(stack, queued.key, {"success", "failed"}).state == "success"
    wait_until_delivered(stack)
    assert executions(queued) == ["ran"]


def test_message_for_an_old_try_is_dropped(stack, main_worker):
    queued = queue_task(
        stack,
        """
        def work():
            record("ran")
    """,
        retries=2,
        try_number=2,
    )
    stale = TaskMessage(**{**queued.message.encode(), "try_number": 1})
    send(stack, stale.encode())
    wait_until_delivered(stack)
    row = ti(stack, queued.key)
    assert (row.state, row.try_number) == ("queued", 2)
    assert executions(queued) == []
    send(stack, queued.message.encode())
    assert wait_for_state(stack, queued.key, {"success", "failed"}).state == "success"
    assert executions(queued) == ["ran"]


def test_malformed_messages_are_dropped_and_the_worker_goes_on(stack, main_worker):
    for payload in ({"version": 99, "dag_id": "x"}, "not a message", None, {"version": 1}):
        send(stack, payload)
    stack.app.send_task(RUN_TASK_INSTANCE, args=[], queue=MAIN_QUEUE)
    wait_until_delivered(stack)
    queued = queue_task(
        stack,
        """
        def work():
            record("ran")
    """,
    )
    send(stack, queued.message.encode())
    assert wait_for_state(stack, queued.key, {"success", "failed"}).state == "success"
    assert "dropping a task message that cannot be decoded" in worker_log(stack, MAIN_WORKER)
    assert main_worker.poll() is None


@pytest.mark.parametrize(("retries", "expected"), [(0, "failed"), (1, "up_for_retry")])
def test_task_killed_by_sigkill_ends_failed_or_up_for_retry(stack, main_worker, retries, expected):
    queued = queue_task(
        stack,
        """
        def work():
            print("about to die", flush=True)
            os.kill(os.getpid(), 9)
    """,
        retries=retries,
    )
    send(stack, queued.message.encode())
    row = wait_for_state(stack, queued.key, {"success", "failed", "up_for_retry"})
    assert row.state == expected
    text = log_text(stack, queued.key)
    assert "killed by signal 9" in text
    assert "about to die" in text
    if expected == "up_for_retry":
        assert row.retry_at is not None


def test_running_task_log_is_readable_before_the_task_ends(stack, main_worker):
    release = stack.settings.home / f"release-{uuid.uuid4().hex[:6]}"
    queued = queue_task(
        stack,
        f"""
        def work():
            print("first line, before the wait", flush=True)
            deadline = time.time() + 20
            while not os.path.exists({str(release)!r}) and time.time() < deadline:
                time.sleep(0.05)
            print("released", flush=True)
    """,
    )
    send(stack, queued.message.encode())
    wait_until(
        lambda: "first line, before the wait" in log_text(stack, queued.key),
        20,
        lambda: f"no log yet; {ti(stack, queued.key).state}\n{worker_log(stack, MAIN_WORKER)}",
    )
    assert ti(stack, queued.key).state == "running"
    release.touch()
    assert wait_for_state(stack, queued.key, {"success", "failed"}).state == "success"
    assert "released" in log_text(stack, queued.key)


RECORDS_RAN = """
        def work():
            record("ran")
    """


@pytest.mark.parametrize(
    ("broken", "said"),
    [
        ('raise RuntimeError("the DAG file is broken now")\n', "the DAG file is broken now"),
        ("import os\nos._exit(3)\n", "the process importing the file died (exit code 3) before it finished"),
    ],
    ids=["raises", "ends-its-importer"],
)
def test_dag_file_that_now_fails_to_import_fails_the_task_with_the_error_in_its_log(stack, main_worker, broken, said):
    """Whatever the new version does as it is imported — raise, or end the process importing it —
    it does it in a child the worker tries it in, not in the worker nor its fork server: the try
    fails saying why, and the worker runs the next task."""
    queued = queue_task(stack, RECORDS_RAN)
    fileloc = stack.dags_folder / f"{queued.key.dag_id}.py"
    fileloc.write_text(broken)
    send(stack, queued.message.encode())
    row = wait_for_state(stack, queued.key, {"success", "failed", "up_for_retry"})
    assert row.state == "failed"
    assert row.hostname == MAIN_WORKER
    assert said in log_text(stack, queued.key)
    assert executions(queued) == []
    assert main_worker.poll() is None
    after = queue_task(stack, RECORDS_RAN)
    send(stack, after.message.encode())
    assert wait_for_state(stack, after.key, {"success", "failed"}).state == "success"
    assert executions(after) == ["ran"]


def test_task_removed_from_its_dag_file_is_retried_by_its_recorded_retry_settings(stack, main_worker):
    queued = queue_task(
        stack,
        """
        def work():
            record("ran")
    """,
        retries=1,
    )
    fileloc = stack.dags_folder / f"{queued.key.dag_id}.py"
    fileloc.write_text(fileloc.read_text().replace('task_id="work"', 'task_id="renamed"'))
    send(stack, queued.message.encode())
    row = wait_for_state(stack, queued.key, {"success", "failed", "up_for_retry"})
    assert row.state == "up_for_retry"
    assert "has no task 'work'" in log_text(stack, queued.key)


def test_the_worker_process_never_imports_a_dag_file_its_fork_server_does(stack, main_worker):
    """A DAG file's top level runs where the tries are forked from (the fork server, and a child
    that tries each new version first), never in the worker process, which holds every slot."""
    queued = queue_task(
        stack,
        """
        record("imported_in:" + str(os.getpid()))

        def work():
            record("ran_in_child_of:" + str(os.getppid()))
    """,
    )
    importers_before = {line for line in executions(queued) if line.startswith("imported_in:")}
    send(stack, queued.message.encode())
    assert wait_for_state(stack, queued.key, {"success", "failed"}).state == "success"
    importers = {line for line in executions(queued) if line.startswith("imported_in:")} - importers_before
    assert importers, "the task's processes came from a process that imported the file"
    assert f"imported_in:{main_worker.pid}" not in importers
    assert len([line for line in executions(queued) if line.startswith("ran_in_child_of:")]) == 1


def test_workers_list_shows_the_live_worker_with_its_queues(stack, main_worker):
    result = CliRunner().invoke(cli, ["workers", "list", "-o", "json"], env=stack.env)
    assert result.exit_code == 0, result.output
    listed = {w["hostname"]: w for w in json.loads(result.output)}
    assert listed[MAIN_WORKER]["state"] == "online"
    assert listed[MAIN_WORKER]["queues"] == [MAIN_QUEUE]
    assert listed[MAIN_WORKER]["concurrency"] == 3
    assert listed[MAIN_WORKER]["running"] == 0


def test_worker_on_queue_q2_takes_a_message_sent_to_q2(stack, main_worker, worker_factory):
    worker_factory("worker-q2", queues=QUEUE_PREFIX + "q2", concurrency=1)
    queued = queue_task(
        stack,
        """
        def work():
            record("ran")
    """,
    )
    send(stack, queued.message.encode(), queue=QUEUE_PREFIX + "q2")
    row = wait_for_state(stack, queued.key, {"success", "failed"})
    assert (row.state, row.hostname) == ("success", "worker-q2")


def test_sigterm_lets_the_running_task_finish_then_the_worker_shows_offline(stack, worker_factory):
    process = worker_factory("worker-drain", queues=QUEUE_PREFIX + "drain", concurrency=1)
    queued = queue_task(
        stack,
        """
        def work():
            time.sleep(2)
            record("finished")
    """,
    )
    send(stack, queued.message.encode(), queue=QUEUE_PREFIX + "drain")
    wait_for_state(stack, queued.key, {"running"})
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, worker_log(stack, "worker-drain")
    row = ti(stack, queued.key)
    assert row.state == "success", log_text(stack, queued.key)
    assert executions(queued) == ["finished"]
    assert not is_live(stack, "worker-drain")
    with session_scope(stack.factory) as session:
        states = {w.hostname: w.state for w in workers.list_workers(session)}
    assert states["worker-drain"] == "offline"


def test_killed_worker_leaves_no_try_running_behind(stack, worker_factory):
    process = worker_factory("worker-killed", queues=QUEUE_PREFIX + "killed", concurrency=1)
    queued = queue_task(
        stack,
        """
        def work():
            record("started")
            time.sleep(3)
            record("finished")
    """,
    )
    send(stack, queued.message.encode(), queue=QUEUE_PREFIX + "killed")
    wait_until(lambda: executions(queued) == ["started"], 20, lambda: worker_log(stack, "worker-killed"))
    process.send_signal(signal.SIGKILL)  # the main process only, as the OOM killer would
    wait_until(
        lambda: not session_members(process.pid),
        10,
        lambda: f"still alive in the worker's session: {session_members(process.pid)}",
    )
    assert executions(queued) == ["started"]
    # The try stays running with a stale heartbeat: the scheduler's zombie detection ends it.
    assert ti(stack, queued.key).state == "running"


def test_a_killed_fork_server_ends_its_running_try_as_a_crash_and_the_next_try_gets_a_new_one(stack, worker_factory):
    """The fork server the worker starts its tries from, and whose threads guard them, is SIGKILLed
    while a try runs a command in a session of its own: the try's process dies with it, the worker
    stops the command it inherits, and only then ends the try as a crashed try ends (retried by its
    retries), so no retry can start beside the command. The next try starts from a new fork server,
    once."""
    worker = worker_factory("forkserver-killed", queues="q-forkserver", concurrency=2)
    (server,) = _children_of(worker.pid)
    running = queue_task(
        stack,
        """
        def work():
            import subprocess
            command = subprocess.Popen(["sleep", "60"], start_new_session=True)
            record(f"started:{command.pid}")
            time.sleep(60)
            record("finished")
    """,
    )
    send(stack, running.message.encode(), queue="q-forkserver")
    wait_until(lambda: len(executions(running)) == 1, 20, lambda: worker_log(stack, "forkserver-killed"))
    command = int(executions(running)[0].split(":")[1])
    os.kill(server, signal.SIGKILL)
    ended = wait_for_state(stack, running.key, {"success", "failed", "up_for_retry"}, timeout=30)
    assert not _alive(command), "the command was stopped before the try's end was written"
    assert ended.state != "success"
    following = queue_task(
        stack,
        """
        def work():
            record("ran")
    """,
    )
    send(stack, following.message.encode(), queue="q-forkserver")
    assert wait_for_state(stack, following.key, {"success", "failed"}, timeout=30).state == "success"
    assert executions(running) == [f"started:{command}"], "the killed try's process died with its fork server"
    assert executions(following) == ["ran"]
    (replacement,) = _children_of(worker.pid)  # the killed one reaped
    assert replacement != server
    assert "fork server" in worker_log(stack, "forkserver-killed")


def test_worker_with_unreachable_broker_exits_with_one_line_naming_the_url(stack):
    env = {**stack.env, "TRADEWIND_BROKER_URL": "redis://:hunter2@127.0.0.1:1/0"}
    result = subprocess.run(
        [TRADEWIND, "worker", "--hostname", "nobroker"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "cannot reach the broker at redis://:***@127.0.0.1:1/0" in result.stderr
    assert "hunter2" not in result.stderr


def test_an_idle_worker_is_one_process_and_its_slots_run_tries_side_by_side(stack, worker_factory):
    """A worker of concurrency 4 idles as a single process beside its fork server (its slots are
    threads, not a pool of interpreters), yet runs four tries at once, each in a process of its
    own, forked from the fork server, not from the busy worker. Once they are over, what is left
    is the next try's task process, made ready ahead of time, whatever the concurrency."""
    worker = worker_factory("side-by-side", queues="q-side", concurrency=4)
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children")
    assert len(children.read_text().split()) == 1, "an idle worker has one child process: its fork server"
    server = int(children.read_text().split()[0])
    server_children = Path(f"/proc/{server}/task/{server}/children")
    assert server_children.read_text().split() == [], "an idle fork server has no child processes"
    queued = [
        queue_task(
            stack,
            """
        def work():
            record(f"start {os.getpid()} {os.getppid()} {time.time()}")
            time.sleep(1.5)
            record(f"end {os.getpid()} {os.getppid()} {time.time()}")
    """,
        )
        for _ in range(4)
    ]
    for each in queued:
        send(stack, each.message.encode(), queue="q-side")
    for each in queued:
        assert wait_for_state(stack, each.key, {"success", "failed"}, timeout=30).state == "success"
    ledgers = [each.side_effects.read_text().splitlines() for each in queued]
    assert all(len(lines) == 2 for lines in ledgers), ledgers
    starts = [float(lines[0].split()[3]) for lines in ledgers]
    ends = [float(lines[1].split()[3]) for lines in ledgers]
    assert max(starts) < min(ends), "all four tries were running at the same moment"
    pids = {lines[0].split()[1] for lines in ledgers}
    assert len(pids) == 4 and str(worker.pid) not in pids, "each try ran in a process of its own"
    parents = {int(lines[0].split()[2]) for lines in ledgers}
    assert parents == {server}, "each try is one process, the fork server's child"

    def left() -> list[int]:
        return [int(pid) for pid in server_children.read_text().split() if _alive(int(pid))]

    wait_until(lambda: len(left()) == 1, 10, lambda: f"the fork server's children: {left()}")
    (ready,) = left()
    assert str(ready) not in pids, "the tries' processes are gone"
    assert Path(f"/proc/{ready}/task/{ready}/children").read_text().split() == []
    assert children.read_text().split() == [str(server)]


def _pipes_of(pid: int) -> set[str]:
    """The pipes (``pipe:[inode]``) a process holds open."""
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("pipe:"):
            found.add(target)
    return found


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def _children_of(pid: int) -> list[int]:
    """The child processes of ``pid``, whichever of its threads forked them."""
    return [
        int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()
    ]


def _parent_of_or_gone(pid: int) -> int | None:
    try:
        return _parent_of(pid)
    except OSError:
        return None


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


def test_each_try_s_process_holds_only_its_own_pipes_so_a_killed_worker_stops_every_try(stack, worker_factory):
    """Three tries run side by side in one worker, each a process of the fork server's; none holds
    another try's pipes, and the worker alone holds the writing ends of the control pipes. So when
    the worker is killed outright, the fork server's guard of every try sees its control pipe close
    at once and stops its try (SIGTERM ignored here: SIGKILL after the grace), instead of waiting
    for the tries started after it to end first; then the fork server exits."""
    worker = worker_factory(
        "pipes-apart", queues="q-pipes", concurrency=3, env={"TRADEWIND_KILLED_TASK_CLEANUP_TIME": "2"}
    )
    (server,) = _children_of(worker.pid)
    queued = [
        queue_task(
            stack,
            """
        def work():
            import signal
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            record(str(os.getpid()))
            time.sleep(120)
            record("finished")
    """,
        )
        for _ in range(3)
    ]
    for each in queued:
        send(stack, each.message.encode(), queue="q-pipes")
    wait_until(lambda: all(executions(each) for each in queued), 30, lambda: worker_log(stack, "pipes-apart"))
    tasks = [int(executions(each)[0]) for each in queued]
    assert {_parent_of(pid) for pid in tasks} == {server}
    held = [_pipes_of(pid) for pid in tasks]
    for index, pipes in enumerate(held):
        others = set().union(*(h for i, h in enumerate(held) if i != index))
        assert not pipes & others, f"task process {tasks[index]} holds another try's pipes"

    worker.send_signal(signal.SIGKILL)  # the main process only, as the OOM killer would
    wait_until(
        lambda: not any(_alive(pid) for pid in [*tasks, server]),
        20,
        lambda: f"still alive: {[pid for pid in [*tasks, server] if _alive(pid)]}",
    )
    assert all(executions(each) == [str(pid)] for each, pid in zip(queued, tasks, strict=True))


def test_a_cold_shutdown_kills_the_running_tries_and_writes_why(stack, worker_factory):
    """SIGQUIT (or a second Ctrl+C): the worker does not wait for its tries; each is killed at once,
    ends up for retry by its retries with the reason in its log, and the worker exits."""
    worker = worker_factory("cold", queues="q-cold", concurrency=2)
    queued = [
        queue_task(
            stack,
            """
        def work():
            record("started")
            time.sleep(120)
            record("finished")
    """,
            retries=1,
        )
        for _ in range(2)
    ]
    for each in queued:
        send(stack, each.message.encode(), queue="q-cold")
    wait_until(lambda: all(executions(each) == ["started"] for each in queued), 30, lambda: worker_log(stack, "cold"))
    worker.send_signal(signal.SIGQUIT)
    assert worker.wait(timeout=30) is not None, worker_log(stack, "cold")
    for each in queued:
        row = ti(stack, each.key)
        assert row.state == "up_for_retry", (row.state, worker_log(stack, "cold"))
        assert "the worker was shut down cold" in log_text(stack, each.key)
        assert executions(each) == ["started"]
