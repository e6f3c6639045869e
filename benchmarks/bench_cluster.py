"""A throwaway tradewind cluster for the benchmarks: a fresh PostgreSQL database at 127.0.0.1:5432,
a Redis db of its own at 127.0.0.1:6379, a DAG folder with the given files, and the given roles
as separate `tradewind` processes — all gone again when the ``with`` block ends."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from tradewind.metastore import runs
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
from tradewind.settings import Settings

PG_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
TRADEWIND = shutil.which("tradewind") or str(Path(sys.executable).parent / "tradewind")


def wait(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def pss_kib(pid: int) -> int:
    """The PSS of ``pid`` and every process under it, in KiB."""
    return sum(_rollup(each, "Pss:") for each in [pid, *descendants(pid)])


def rss_kib(pid: int) -> int:
    """The RSS of ``pid`` and every process under it, in KiB (pages shared between them count once per process)."""
    return sum(_rollup(each, "Rss:") for each in [pid, *descendants(pid)])


def _rollup(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) used so far by ``pid`` and every process under it still running,
    each with its children it has waited for (a worker's tries are its fork server's children)."""
    ticks = 0
    for each in [pid, *descendants(pid)]:
        try:
            # The fields after the command name (which may hold spaces), from field 3 on.
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
        ticks += utime + stime + cutime + cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """Every process under ``pid``, whichever of its threads forked (or, a subreaper, adopted) it."""
    found = []
    children = []
    try:
        for thread in Path(f"/proc/{pid}/task").iterdir():
            try:
                children += [int(c) for c in (thread / "children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError, ValueError):
                continue  # the thread ended meanwhile
    except (FileNotFoundError, ProcessLookupError):
        return []
    for child in children:
        found.append(child)
        found.extend(descendants(child))
    return found


@dataclass
class BenchCluster:
    work: Path
    env: dict[str, str]
    factory: sessionmaker[Session]
    engine: sa.Engine
    processes: list[subprocess.Popen[bytes]]
    #: ``time.monotonic()`` when the roles were started (the database migrated already)
    started: float

    def active_dags(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(sa.text("SELECT count(*) FROM dag WHERE is_active")).scalar() or 0)

    def dag_known(self, dag_id: str) -> bool:
        with self.engine.connect() as connection:
            return bool(
                connection.execute(sa.text("SELECT 1 FROM dag WHERE dag_id = :d AND is_active"), {"d": dag_id}).scalar()
            )

    def roles_up(self, *job_types: str) -> bool:
        """A worker has registered, and a job of each of ``job_types`` heartbeats."""
        with self.engine.connect() as connection:
            if not connection.execute(sa.text("SELECT 1 FROM worker LIMIT 1")).scalar():
                return False
            return all(
                connection.execute(sa.text("SELECT 1 FROM job WHERE job_type = :t LIMIT 1"), {"t": t}).scalar()
                for t in job_types
            )

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        args = [TRADEWIND, "dags", "trigger", dag_id, "-o", "json"]
        if conf is not None:
            args += ["--conf", json.dumps(conf)]
        result = subprocess.run(args, env=self.env, capture_output=True, text=True, check=True)
        return json.loads(result.stdout)["run_id"]

    def finished(self, dag_id: str, run_id: str) -> str | None:
        with session_scope(self.factory) as session:
            state = runs.get_run(session, dag_id, run_id).state
        return state if state in ("success", "failed") else None


@contextmanager
def bench_cluster(
    dags: Mapping[str, str], roles: Sequence[Sequence[str]], *, redis_db: int, keep: bool = False
) -> Iterator[BenchCluster]:
    """``dags``: file name (without .py) -> source, dedented; ``roles``: the `tradewind` arguments of
    each process to start (their output goes to ``processes.log`` in the working folder)."""
    work = Path(tempfile.mkdtemp(prefix="tradewind-bench-"))
    dags_folder = work / "dags"
    dags_folder.mkdir()
    for name, source in dags.items():
        (dags_folder / f"{name}.py").write_text(textwrap.dedent(source))
    database = f"tradewind_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
    redis.Redis(db=redis_db).flushdb()
    env = {
        **os.environ,
        "TRADEWIND_HOME": str(work),
        "TRADEWIND_DAGS_FOLDER": str(dags_folder),
        "TRADEWIND_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
        "TRADEWIND_BROKER_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "TRADEWIND_DAGS_ARE_PAUSED_AT_CREATION": "false",
        "TRADEWIND_LOG_LEVEL": os.environ.get("TRADEWIND_LOG_LEVEL", "WARNING"),
        "TRADEWIND_PARALLELISM": "256",
    }
    settings = Settings.from_env({k: v for k, v in env.items() if k.startswith("TRADEWIND_")})
    processes: list[subprocess.Popen[bytes]] = []
    engine = None
    try:
        subprocess.run([TRADEWIND, "db", "migrate"], env=env, check=True, capture_output=True)
        logs = open(work / "processes.log", "wb")  # noqa: SIM115 - closed with the processes
        started = time.monotonic()
        for args in roles:
            processes.append(
                subprocess.Popen(
                    [TRADEWIND, *args], env=env, stdout=logs, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        engine = create_engine_from_settings(settings)
        yield BenchCluster(work, env, make_session_factory(engine), engine, processes, started)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if engine is not None:
            engine.dispose()
        if not keep:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"\nkept {work} and database {database}")
        admin.dispose()
