"""A real tradewind cluster on this machine for tests: scheduler and worker processes started
through the `tradewind` command against the test's own Postgres database and Redis database.

Everything it starts is stopped at the end, by session id, so a task's forked child dies with
its worker just as it would when a machine dies.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tradewind.metastore import runs, task_instances
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
from tradewind.settings import Settings

TRADEWIND = shutil.which("tradewind") or str(Path(os.sys.executable).parent / "tradewind")

#: Fast liveness settings so fault tests take seconds, not minutes.
FAST_SETTINGS = {
    "TRADEWIND_DAGS_ARE_PAUSED_AT_CREATION": "false",
    "TRADEWIND_DAG_DIR_LIST_INTERVAL": "0.5",
    "TRADEWIND_ZOMBIE_THRESHOLD": "6",
    "TRADEWIND_WORKER_HEARTBEAT_INTERVAL": "1",
    "TRADEWIND_TASK_QUEUED_TIMEOUT": "5",
    "TRADEWIND_SCHEDULER_IDLE_SLEEP": "0.5",
    "TRADEWIND_LOG_LEVEL": "INFO",
}


class Cluster:
    def __init__(
        self, home: Path, database_url: str, broker_url: str, dags_folder: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        self.home = home
        self.dags_folder = dags_folder
        self.logs = home / "process-logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            **FAST_SETTINGS,
            "TRADEWIND_HOME": str(home),
            "TRADEWIND_DATABASE_URL": database_url,
            "TRADEWIND_BROKER_URL": broker_url,
            "TRADEWIND_DAGS_FOLDER": str(dags_folder),
            **(extra_env or {}),
        }
        self.settings = Settings.from_env({k: v for k, v in self.env.items() if k.startswith("TRADEWIND_")})
        self.engine = create_engine_from_settings(self.settings)
        self.factory: sessionmaker[Session] = make_session_factory(self.engine)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    # -- processes -----------------------------------------------------------------------------

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [TRADEWIND, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name] = process
        return process

    def start_scheduler(self, name: str = "scheduler") -> subprocess.Popen[bytes]:
        return self.start(name, "scheduler")

    def start_worker(self, hostname: str, *, concurrency: int = 4, queues: str = "default") -> subprocess.Popen[bytes]:
        return self.start(
            hostname, "worker", "--hostname", hostname, "--concurrency", str(concurrency), "--queues", queues
        )

    def start_triggerer(self, name: str = "triggerer", *, capacity: int | None = None) -> subprocess.Popen[bytes]:
        return self.start(name, "triggerer", *(["--capacity", str(capacity)] if capacity else []))

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill every process of ``name``'s session: the worker, its pool and its tasks' children."""
        process = self.processes.pop(name)
        kill_session(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kill_session(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.processes):
            process = self.processes[name]
            if process.poll() is None:
                kill_session(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name in list(self.processes):
            process = self.processes.pop(name)
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            kill_session(process.pid, signal.SIGKILL)
        self.engine.dispose()

    def log_of(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- commands ------------------------------------------------------------------------------

    def cli(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([TRADEWIND, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"tradewind {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, *, logical_date: str | None = None) -> str:
        """Trigger as a user does: ``dags trigger`` reads the metastore only, so a DAG file written
        just now is first parsed by the running scheduler (waited for) or, with none running, by
        ``tradewind dags reserialize``."""
        self.ensure_parsed(dag_id)
        args = ["dags", "trigger", dag_id, "-o", "json"]
        if conf is not None:
            args += ["--conf", json.dumps(conf)]
        if logical_date is not None:
            args += ["--logical-date", logical_date]
        return json.loads(self.cli(*args).stdout)["run_id"]

    # -- metastore reads -----------------------------------------------------------------------

    def run_state(self, dag_id: str, run_id: str) -> str:
        with session_scope(self.factory) as session:
            return runs.get_run(session, dag_id, run_id).state

    def task_rows(self, dag_id: str, run_id: str) -> dict[str, Any]:
        with session_scope(self.factory) as session:
            rows = task_instances.get_tis(session, dag_id, run_id)
            session.expunge_all()
            return {row.task_id: row for row in rows}

    def states(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """task_id -> state; for a mapped task the list of its task instances' states by map index."""
        with session_scope(self.factory) as session:
            rows = task_instances.get_tis(session, dag_id, run_id)
            found: dict[str, Any] = {}
            for row in sorted(rows, key=lambda r: (r.task_id, r.map_index)):
                if row.map_index < 0:
                    found[row.task_id] = row.state
                else:
                    found.setdefault(row.task_id, []).append(row.state)
            return found

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 60) -> str:
        state = wait_until(
            lambda: (s := self.run_state(dag_id, run_id)) in ("success", "failed") and s,
            timeout,
            lambda: f"run {dag_id}/{run_id} did not finish; states {self.states(dag_id, run_id)}\n" + self.tail_logs(),
        )
        return str(state)

    def wait_for_dag(self, dag_id: str, timeout: float = 30) -> None:
        wait_until(
            lambda: self._dag_known(dag_id), timeout, lambda: f"DAG {dag_id} never appeared\n" + self.tail_logs()
        )

    def ensure_parsed(self, dag_id: str) -> None:
        """The DAG in the metastore: parsed by a running scheduler, or by ``dags reserialize``."""
        if self._dag_known(dag_id):
            return
        parsing = any(
            process.poll() is None and {"scheduler", "standalone"} & {str(arg) for arg in process.args}
            for process in self.processes.values()
        )
        if parsing:
            self.wait_for_dag(dag_id)
        else:
            self.cli("dags", "reserialize")

    def _dag_known(self, dag_id: str) -> bool:
        from tradewind.metastore import dags

        with session_scope(self.factory) as session:
            row = dags.get_dag(session, dag_id)
            return row is not None and row.is_active

    def tail_logs(self, lines: int = 40) -> str:
        parts = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name} ---\n" + "\n".join(text))
        return "\n".join(parts)


def wait_until(
    condition: Callable[[], Any], timeout: float, describe: Callable[[], str] | None = None, interval: float = 0.05
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail with ``describe()`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(describe() if describe else f"condition not met within {timeout} s")
        time.sleep(interval)


def kill_session(session_id: int, sig: int) -> None:
    """Send ``sig`` to every process whose session id is ``session_id`` (a whole process tree)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == session_id:
            try:
                os.kill(int(entry.name), sig)
            except ProcessLookupError:
                pass
