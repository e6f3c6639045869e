"""A try's stored log stays within TRADEWIND_TASK_LOG_MAX_BYTES, and the web UI pages through it.

The first tests write logs the way the worker's ``Reporter`` does, on both backends, and read
them the way the web UI does. Then ``dags test`` with a small cap, and last a task that prints
50 MB run by a real ``tradewind worker`` against PostgreSQL: its log is watched live past the cap
and read back through the web UI — the panel's last page, the pages before it, the download.
"""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from cli_helpers import LOGICAL_DATE, RUN_ID, Cli, metastore_session
from cluster import wait_until
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from web_helpers import ACCOUNTS, FAST_HASH, SECRET_KEY, counting_queries, login

from tradewind.master.webserver.app import create_app
from tradewind.master.webserver.db import dispose, metastore
from tradewind.metastore import dags, logs, runs, task_instances, users
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
from tradewind.metastore.migrate import migrate
from tradewind.metastore.task_instances import TIKey
from tradewind.queue.app import make_celery_app
from tradewind.queue.messages import RUN_TASK_INSTANCE, TaskMessage
from tradewind.sdk.dag_file import load_dag_file
from tradewind.sdk.serialization import dag_hash, serialize_dag
from tradewind.settings import Settings
from tradewind.states import TaskInstanceState as TI
from tradewind.worker.outcome import Outcome
from tradewind.worker.reporting import Reporter

pytestmark = pytest.mark.integration

T0 = datetime(2024, 3, 1, tzinfo=UTC)
MARKER = re.compile(
    r"^\[tradewind\] ([\d,]+) bytes \([^,]*, ([\d,]+) lines?\) of this try's output were cut here: "
    r".*TRADEWIND_TASK_LOG_MAX_BYTES.*$",
    re.M,
)
#: The marker line is the only thing stored beyond the cap.
MARKER_ROOM = 300


def numbered(first: int, count: int) -> list[str]:
    """Lines of 51 bytes: ``line 00000042 xxx…``."""
    return [f"line {i:08d} {'x' * 36}\n" for i in range(first, first + count)]


def read_whole(factory: sessionmaker[Session], key: TIKey, try_number: int = 1) -> str:
    with session_scope(factory) as session:
        return logs.read_log(session, key, try_number)[0]


def split_at_marker(text: str) -> tuple[str, re.Match[str], str]:
    markers = list(MARKER.finditer(text))
    assert len(markers) == 1, f"{len(markers)} markers"
    found = markers[0]
    return text[: found.start()], found, text[found.end() + 1 :]


def as_int(digits: str) -> int:
    return int(digits.replace(",", ""))


# --- writing and reading a capped log, on both backends ------------------------------------------


CAP = 64 * 1024


@pytest.fixture
def work_key(session_factory: sessionmaker[Session]) -> TIKey:
    with session_scope(session_factory) as session:
        runs.create_run(
            session,
            dag_id="logs",
            run_id="manual__1",
            run_type="manual",
            logical_date=T0,
            state="running",
            task_rows=[{"task_id": "work"}],
        )
    return TIKey("logs", "manual__1", "work")


def test_a_long_log_is_kept_within_its_cap_with_its_newest_lines_always_stored(
    session_factory: sessionmaker[Session],
    work_key: TIKey,
) -> None:
    reporter = Reporter(session_factory, work_key, 1, log_max_bytes=CAP)
    lines = numbered(0, 20_000)  # 1 MB, sixteen times the cap
    for start in range(0, len(lines), 700):
        reporter.flush(log_text="".join(lines[start : start + 700]))
        stored = read_whole(session_factory, work_key)
        assert stored.endswith(lines[min(start + 700, len(lines)) - 1]), "a live reader sees the newest line"
        assert len(stored.encode()) <= CAP + MARKER_ROOM

    head, marker, tail = split_at_marker(stored)
    assert head == "".join(lines[: len(head) // 51]) and len(head) > CAP // 4 - 51
    assert tail == "".join(lines[-(len(tail) // 51) :])
    assert as_int(marker.group(1)) == 51 * len(lines) - len(head) - len(tail)
    assert as_int(marker.group(2)) == len(lines) - (len(head) + len(tail)) // 51


def test_a_rescheduled_sensor_goes_on_capping_the_log_of_its_earlier_pokes(
    session_factory: sessionmaker[Session],
    work_key: TIKey,
) -> None:
    with session_scope(session_factory) as session:
        assert task_instances.transition(session, work_key, expected_state="none", target_state="scheduled")
    lines = numbered(0, 6_000)
    for poke in range(3):
        waiting = TI.UP_FOR_RESCHEDULE if poke else TI.SCHEDULED
        with session_scope(session_factory) as session:
            assert task_instances.transition(
                session, work_key, expected_state=waiting, target_state=TI.QUEUED, try_number=1
            )
        reporter = Reporter(session_factory, work_key, 1, log_max_bytes=CAP)
        assert reporter.claim(hostname="sensor-host", pid=1) is not None
        part = lines[poke * 2000 : (poke + 1) * 2000]
        reporter.flush(log_text="".join(part[:1000]))
        outcome = Outcome(TI.UP_FOR_RESCHEDULE, next_poke_at=T0 + timedelta(minutes=poke + 1), first_poke_at=T0)
        assert reporter.finish(outcome, log_text="".join(part[1000:]))[0]

    stored = read_whole(session_factory, work_key)
    head, marker, tail = split_at_marker(stored)
    assert len(stored.encode()) <= CAP + MARKER_ROOM
    assert stored.startswith(lines[0]) and stored.endswith(lines[-1])
    assert as_int(marker.group(1)) == 51 * len(lines) - len(head) - len(tail)


@dataclass(frozen=True)
class Shape:
    chunks: list[str]
    whole_lines: bool


def _shapes() -> dict[str, Shape]:
    lines = numbered(0, 4_000)
    wide = [f"{i:05d} {'日本語' * (i % 40)}\n" for i in range(3_000)]
    return {
        "chunks-of-a-few-lines": Shape(["".join(lines[i : i + 7]) for i in range(0, len(lines), 7)], True),
        "one-chunk-of-200-kb": Shape(["".join(lines)], True),
        "multi-byte-lines": Shape(["".join(wide[i : i + 50]) for i in range(0, len(wide), 50)], True),
        "one-line-longer-than-a-page": Shape(["start\n", "y" * 50_000 + "\n", "end\n"], False),
    }


@pytest.mark.parametrize("shape", list(_shapes()))
def test_paging_back_from_the_end_reads_the_whole_log_a_bounded_page_at_a_time(
    session_factory: sessionmaker[Session],
    work_key: TIKey,
    shape: str,
) -> None:
    chunks = _shapes()[shape].chunks
    with session_scope(session_factory) as session:
        for text in chunks:
            logs.append_log(session, work_key, 1, text)
    page_bytes = 8 * 1024
    pages = []
    with session_scope(session_factory) as session:
        page = logs.read_log_page(session, work_key, 1, max_bytes=page_bytes)
        assert page.last_seq == len(chunks) - 1
        pages.append(page.text)
        while not page.at_start:
            assert page.start is not None
            page = logs.read_log_page(session, work_key, 1, max_bytes=page_bytes, before=page.start)
            pages.append(page.text)
    assert "".join(reversed(pages)) == "".join(chunks)
    assert all(0 < len(text.encode()) <= page_bytes for text in pages)
    if _shapes()[shape].whole_lines:
        assert all(text.endswith("\n") for text in pages), "each page starts at a line start"
    assert len(pages) >= len("".join(chunks).encode()) // page_bytes


def test_a_try_without_a_log_has_an_empty_page(session_factory: sessionmaker[Session], work_key: TIKey) -> None:
    with session_scope(session_factory) as session:
        page = logs.read_log_page(session, work_key, 1, max_bytes=1024)
    assert (page.text, page.start, page.at_start, page.last_seq) == ("", None, True, -1)


def test_a_tailing_reader_gets_the_newest_output_and_is_told_when_some_was_cut(
    session_factory: sessionmaker[Session],
    work_key: TIKey,
) -> None:
    reporter = Reporter(session_factory, work_key, 1, log_max_bytes=CAP)
    reporter.flush(log_text="".join(numbered(0, 10)))
    with session_scope(session_factory) as session:
        saw_head = logs.read_log_page(session, work_key, 1, max_bytes=1024).last_seq
    reporter.flush(log_text="".join(numbered(10, 990)))  # 51 KB: under the cap, past the head
    with session_scope(session_factory) as session:
        update = logs.read_log_after(session, work_key, 1, saw_head, max_bytes=1 << 20)
        assert (update.text, update.skipped) == ("".join(numbered(10, 990)), False)
    saw_tail = update.last_seq

    for start in range(1_000, 6_000, 500):  # four times the cap, while the readers look away
        reporter.flush(log_text="".join(numbered(start, 500)))
    newest = numbered(5_999, 1)[0]
    with session_scope(session_factory) as session:
        after_tail = logs.read_log_after(session, work_key, 1, saw_tail, max_bytes=1 << 20)
        after_head = logs.read_log_after(session, work_key, 1, saw_head, max_bytes=1 << 20)
        small = logs.read_log_after(session, work_key, 1, saw_tail, max_bytes=4096)
    # What the reader saw of the tail was deleted, and what came after it up to the kept tail.
    assert after_tail.skipped and after_tail.text.endswith(newest) and "[tradewind]" not in after_tail.text
    assert numbered(1_000, 1)[0] not in after_tail.text
    # A reader that saw only the head reads the marker, which says what was cut.
    assert not after_head.skipped and after_head.text.endswith(newest) and MARKER.search(after_head.text)
    assert small.skipped and len(small.text.encode()) <= 4096 and small.text.endswith(newest)


def test_the_whole_log_is_streamed_in_pieces_of_bounded_size(
    session_factory: sessionmaker[Session],
    work_key: TIKey,
) -> None:
    chunks = ["small\n"] * 5 + ["z" * 10_000 + "\n"] + ["".join(numbered(i, 3)) for i in range(0, 3_000, 3)]
    with session_scope(session_factory) as session:
        for text in chunks:
            logs.append_log(session, work_key, 1, text)
    with session_scope(session_factory) as session:
        pieces = list(logs.iter_log(session, work_key, 1, piece_chars=4096))
    assert "".join(pieces) == "".join(chunks)
    assert max(len(piece) for piece in pieces) <= 4096 and len(pieces) > 30


# --- dags test --------------------------------------------------------------------------------------


def test_dags_test_shows_every_line_on_the_terminal_and_stores_the_log_within_the_cap(
    module_pg_url: str,
    tmp_path: Path,
) -> None:
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "chatty.py").write_text(
        textwrap.dedent("""
        import pendulum
        from tradewind import DAG, BashOperator

        with DAG("chatty", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None) as dag:
            BashOperator(task_id="talk", bash_command="for i in $(seq 1 3000); do echo talk line $i; done")
    """)
    )
    cli = Cli(
        home=tmp_path,
        dags_folder=tmp_path / "dags",
        database_url=module_pg_url,
        extra_env={"TRADEWIND_TASK_LOG_MAX_BYTES": "4096"},
    )
    result = cli("dags", "test", "chatty", LOGICAL_DATE)

    assert result.returncode == 0, result
    assert all(f"talk line {i}\n" in result.stdout for i in (1, 1500, 3000)), "the terminal gets every line"
    with metastore_session(cli.settings()) as session:
        stored, _ = logs.read_log(session, TIKey("chatty", RUN_ID, "talk"), 1)
    head, marker, tail = split_at_marker(stored)
    assert len(stored.encode()) <= 4096 + MARKER_ROOM
    assert "talk line 1\n" in head and "talk line 3000\n" in tail and "Marking task as SUCCESS." in tail


# --- 50 MB through a real worker, read through the web UI ----------------------------------------

TRADEWIND = Path(sys.executable).with_name("tradewind")
BIG_CAP = 2 * 1024 * 1024
BIG_LINES = 1_000_000  # 51 MB
PAUSE_AT = 600_000
CHECKPOINT = "tw-checkpoint: 30 MB printed, waiting for the test\n"
PAGE_LIMIT = 256 * 1024

BIG_DAG = """
import os, sys, time
import pendulum
from tradewind import DAG
from tradewind.sdk.operators.python import PythonOperator


def shout():
    for start in range(0, {lines}, 1000):
        if start == {pause_at}:
            sys.stdout.write({checkpoint!r})
            sys.stdout.flush()
            deadline = time.monotonic() + 120
            while not os.path.exists({go!r}) and time.monotonic() < deadline:
                time.sleep(0.02)
        sys.stdout.write("".join(f"line {{i:08d}} {{'x' * 36}}\\n" for i in range(start, start + 1000)))
    sys.stdout.flush()
    raise RuntimeError("tw-final-error after {lines} lines")


with DAG({dag_id!r}, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None) as dag:
    PythonOperator(task_id="shout", python_callable=shout)
"""


@dataclass
class BigRun:
    settings: Settings
    factory: sessionmaker[Session]
    key: TIKey
    go: Path
    worker: subprocess.Popen[bytes]
    worker_log: Path


@pytest.fixture
def big_run(module_pg_url: str, _redis_db: int, tmp_path: Path) -> Iterator[BigRun]:
    """The 50 MB task queued, and a worker whose cap is BIG_CAP started on a queue of its own."""
    broker = f"redis://127.0.0.1:6379/{_redis_db}"
    queue = f"tw-test-{uuid.uuid4().hex[:8]}-logs"
    home = tmp_path / "home"
    (home / "dags").mkdir(parents=True)
    settings = Settings(
        home=home, dags_folder=home / "dags", database_url=module_pg_url, broker_url=broker, task_log_max_bytes=BIG_CAP
    )
    migrate(settings)
    engine = create_engine_from_settings(settings)
    factory = make_session_factory(engine)
    dag_id = f"big_{uuid.uuid4().hex[:8]}"
    go = tmp_path / "go"
    path = home / "dags" / f"{dag_id}.py"
    path.write_text(
        BIG_DAG.format(lines=BIG_LINES, pause_at=PAUSE_AT, checkpoint=CHECKPOINT, go=str(go), dag_id=dag_id)
    )
    key = _queue(factory, path, dag_id)
    worker_log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "TRADEWIND_HOME": str(home),
        "TRADEWIND_DATABASE_URL": module_pg_url,
        "TRADEWIND_BROKER_URL": broker,
        "TRADEWIND_DAGS_FOLDER": str(home / "dags"),
        "TRADEWIND_TASK_LOG_MAX_BYTES": str(BIG_CAP),
    }
    with open(worker_log, "ab") as out:
        worker = subprocess.Popen(
            [str(TRADEWIND), "worker", "--hostname", "log-cap-worker", "--queues", queue, "--concurrency", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    app = make_celery_app(settings)
    try:
        app.send_task(RUN_TASK_INSTANCE, args=[TaskMessage(dag_id, key.run_id, "shout", -1, 1).encode()], queue=queue)
        yield BigRun(settings, factory, key, go, worker, worker_log)
    finally:
        go.touch()
        _stop(worker)
        app.close()
        client = redis.Redis.from_url(broker)
        for name in client.scan_iter(match=f"*{queue}*"):
            client.delete(name)
        client.close()
        engine.dispose()


def _queue(factory: sessionmaker[Session], path: Path, dag_id: str) -> TIKey:
    loaded = load_dag_file(path)
    assert loaded.error is None, loaded.error
    serialized = serialize_dag(loaded.dags[0])
    key = TIKey(dag_id, f"manual__{T0.isoformat()}", "shout")
    with session_scope(factory) as session:
        dags.upsert_dag(
            session, dag_id, str(path), serialized, dag_hash(serialized), None, None, [], None, None, None, False
        )
        runs.create_run(
            session,
            dag_id=dag_id,
            run_id=key.run_id,
            run_type="manual",
            logical_date=T0,
            state="running",
            task_rows=[{"task_id": "shout", "operator": "PythonOperator"}],
        )
        assert task_instances.transition(session, key, expected_state="none", target_state="scheduled")
        assert task_instances.transition(
            session, key, expected_state="scheduled", target_state="queued", try_number=1, queued_dttm=datetime.now(UTC)
        )
    return key


def _stop(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=10)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture
def web(big_run: BigRun) -> Iterator[tuple[Flask, FlaskClient]]:
    app = create_app(big_run.settings.with_overrides(secret_key=SECRET_KEY))
    app.config["TESTING"] = True
    viewer = ACCOUNTS["Viewer"]
    with session_scope(metastore(app).factory) as session:
        if users.get_user_by_name(session, viewer.username) is None:
            users.create_user(session, viewer.username, viewer.password, viewer.role, hash_method=FAST_HASH)
    client = app.test_client()
    assert login(client, viewer.username, viewer.password).status_code == 302
    yield app, client
    dispose(app)


def _state(run: BigRun) -> str:
    with session_scope(run.factory) as session:
        row = task_instances.get_ti(session, run.key.dag_id, run.key.run_id, run.key.task_id, run.key.map_index)
        return row.state if row is not None else "gone"


def _describe(run: BigRun) -> str:
    return f"task instance {_state(run)}\n{run.worker_log.read_text(errors='replace')[-3000:]}"


def test_a_task_printing_50_mb_keeps_a_capped_log_that_the_panel_tails_and_pages_through(
    big_run: BigRun,
    web: tuple[Flask, FlaskClient],
) -> None:
    app, client = web
    key = big_run.key
    base = f"/dags/{key.dag_id}/runs/{key.run_id}/tasks/shout"

    # Paused after 30 MB, far past the cap: a person tailing the log sees the newest line.
    def newest_is_checkpoint() -> bool:
        with session_scope(big_run.factory) as session:
            return logs.read_log_page(session, key, 1, max_bytes=1024).text.endswith(CHECKPOINT)

    wait_until(newest_is_checkpoint, 120, lambda: _describe(big_run))
    assert len(read_whole(big_run.factory, key).encode()) <= BIG_CAP + MARKER_ROOM
    live = client.get(base)
    assert live.status_code == 200 and len(live.data) < 400_000
    assert 'data-tailing="true"' in live.text and CHECKPOINT.strip() in live.text
    after_seq = int(re.search(r'data-after-seq="(\d+)"', live.text).group(1))  # type: ignore[union-attr]

    big_run.go.touch()
    tailed: list[str] = []

    def tail_until_done() -> bool:
        nonlocal after_seq
        data = client.get(f"{base}/log/tail?try=1&after_seq={after_seq}").get_json()
        assert len(data["text"].encode()) <= PAGE_LIMIT
        tailed.append(data["text"])
        after_seq = data["last_seq"]
        return not data["running"] and _state(big_run) == "failed"

    wait_until(tail_until_done, 180, lambda: _describe(big_run), interval=0.2)
    tail_until_done()
    assert "".join(tailed).rstrip().endswith("Marking task as FAILED."), "the tailer saw the try's end"

    # What is stored: the first lines, one marker saying what was cut, the last lines.
    stored = read_whole(big_run.factory, key)
    head, marker, tail = split_at_marker(stored)
    assert len(stored.encode()) <= BIG_CAP + len(marker.group(0)) + 1
    head_lines, tail_lines = head.splitlines(), tail.splitlines()
    assert "Running shout, try 1 of 1" in head_lines[0]
    first = head_lines[1:]
    assert first == [line.rstrip("\n") for line in numbered(0, len(first))], "the head: the task's first lines"
    numbered_tail = [line for line in tail_lines if line.startswith("line ")]
    last_printed = int(numbered_tail[0].split()[1])
    assert numbered_tail == [line.rstrip("\n") for line in numbered(last_printed, BIG_LINES - last_printed)]
    assert tail_lines[len(numbered_tail)].endswith("Task failed with exception")
    assert "RuntimeError: tw-final-error after 1000000 lines" in tail
    assert tail_lines[-1].endswith("INFO - Marking task as FAILED.")
    cut_lines = last_printed - len(first)
    assert as_int(marker.group(1)) == 51 * cut_lines + len(CHECKPOINT), "the marker says how much was cut"
    assert as_int(marker.group(2)) == cut_lines + 1

    # The panel: only the log's last page, with a way back.
    with counting_queries(app) as statements:
        panel = client.get(base)
    assert panel.status_code == 200 and len(panel.data) < 400_000
    assert "Marking task as FAILED." in panel.text and numbered(BIG_LINES - 1, 1)[0].strip() in panel.text
    assert numbered(0, 1)[0].strip() not in panel.text
    assert sum("task_log" in statement for statement in statements) <= 4
    button = re.search(r'data-page-url="([^"]+)"\s+data-before-seq="(\d+)" data-before-offset="(\d+)"', panel.text)
    assert button is not None, "Load earlier output"
    shown = _pre_text(panel.text)

    # Paging back, a bounded page at a time, gives the rest of the stored log.
    pages, before = [shown], (button.group(2), button.group(3))
    while True:
        page = client.get(f"{base}/log/page?try=1&map_index=-1&before_seq={before[0]}&before_offset={before[1]}")
        assert page.status_code == 200
        data = page.get_json()
        assert 0 < len(data["text"].encode()) <= PAGE_LIMIT
        pages.append(data["text"])
        before = (data["start_seq"], data["start_offset"])
        if data["at_start"]:
            break
    assert len(pages) >= BIG_CAP // PAGE_LIMIT
    assert "".join(reversed(pages)) == stored
    assert sum(marker.group(0) in page for page in pages) == 1

    # Plain text and Download stream the whole stored log, read in batches.
    download = client.get(f"{base}/log?try=1&download=1")
    assert download.is_streamed and "Content-Length" not in download.headers
    assert download.headers["Content-Disposition"].startswith("attachment;")
    with counting_queries(app) as statements:
        body = download.get_data(as_text=True)
    assert body == stored
    assert sum("task_log" in statement for statement in statements) >= 3, "read in batches, not in one go"
    plain = client.get(f"{base}/log?try=1")
    assert plain.is_streamed and plain.mimetype == "text/plain" and plain.get_data(as_text=True) == stored


def _pre_text(page: str) -> str:
    found = re.search(r'<pre class="log" id="log"[^>]*>(.*?)</pre>', page, re.S)
    assert found is not None
    return html.unescape(found.group(1))
