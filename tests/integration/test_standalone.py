"""`tradewind standalone` runs a DAG on a machine with no server: an SQLite metastore and the
embedded broker under its home folder, the scheduler and a worker as its children, and Ctrl-C
stops all of them — warm: a task that is running when Ctrl-C comes finishes first."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cluster import TRADEWIND, wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

SLOW_DAG = textwrap.dedent("""
    from datetime import datetime, timezone
    from tradewind import DAG, BashOperator

    with DAG("standalone_slow", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
        BashOperator(task_id="slow", bash_command="sleep 3; echo finished the slow work")
""")


@dataclass
class Standalone:
    """A running `tradewind standalone`, its output file and a CLI against the same home."""

    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]
    home: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([TRADEWIND, *args], env=self.env, capture_output=True, text=True, timeout=60)

    def cli_json(self, *args: str) -> object:
        result = self.cli(*args, "-o", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def trigger(self, dag_id: str) -> str:
        # `dags unpause` and `dags trigger` read the metastore only: a user waits for standalone's
        # scheduler to parse the new file first.
        wait_until(lambda: self.cli("dags", "unpause", dag_id).returncode == 0, 60, self.log)
        return str(self.cli_json("dags", "trigger", dag_id)["run_id"])  # type: ignore[index]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        rows = self.cli_json("tasks", "states-for-dag-run", dag_id, run_id)
        return {row["task_id"]: row["state"] for row in rows}  # type: ignore[union-attr, index]

    def ctrl_c(self) -> tuple[int, float]:
        """SIGINT, as a terminal's Ctrl-C sends it; (exit code, seconds it took to stop)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        return code, time.monotonic() - started


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[Standalone]:
    home, dags = tmp_path / "home", tmp_path / "dags"
    dags.mkdir()
    shutil.copy(REPO / "examples" / "dags" / "example_bash_python.py", dags)
    (dags / "standalone_slow.py").write_text(SLOW_DAG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND_")}
    env.update(TRADEWIND_HOME=str(home), TRADEWIND_DAGS_FOLDER=str(dags))
    log_path = tmp_path / "standalone.log"
    with open(log_path, "wb") as output:
        process = subprocess.Popen(
            [TRADEWIND, "standalone", "--port", "18793"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Standalone(process, log_path, env, home)
    try:
        wait_until(lambda: "is running" in running.log(), 60, running.log)
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def _session_of(proc: Path) -> int | None:
    try:
        stat = (proc / "stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[3])


def _assert_nothing_left_running(standalone: Standalone) -> None:
    """Not its roles, nor their pools and task processes."""
    log = standalone.log()
    role_pids = [int(pid) for pid in re.findall(r"\(pid (\d+)\)", log)]
    assert len(role_pids) >= 2, log
    sessions = {standalone.process.pid, *role_pids}
    leftovers = [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _session_of(p) in sessions]
    assert leftovers == []


def _run_state(standalone: Standalone, dag_id: str, run_id: str) -> str:
    runs = standalone.cli_json("dags", "list-runs", "-d", dag_id)
    return str(next(r["state"] for r in runs if r["run_id"] == run_id))  # type: ignore[union-attr, index]


def test_standalone_runs_an_example_dag_and_stops_cleanly_on_ctrl_c(standalone: Standalone) -> None:
    run_id = standalone.trigger("example_bash_python")

    def finished() -> str | None:
        state = _run_state(standalone, "example_bash_python", run_id)
        return state if state in ("success", "failed") else None

    assert wait_until(finished, 90, standalone.log) == "success"
    assert standalone.task_states("example_bash_python", run_id) == {
        "print_date": "success",
        "greet": "success",
        "inspect_context": "success",
    }
    assert (standalone.home / "tradewind.db").exists() and (standalone.home / "broker").is_dir()

    code, stopped_in = standalone.ctrl_c()
    log = standalone.log()
    assert code == 0, log
    assert "stopping" in log
    assert "did not stop" not in log, "every role stops on its own, none has to be killed"
    assert stopped_in < 20, log
    _assert_nothing_left_running(standalone)


def test_ctrl_c_while_a_task_runs_lets_it_finish_before_standalone_exits(standalone: Standalone) -> None:
    run_id = standalone.trigger("standalone_slow")
    wait_until(
        lambda: standalone.task_states("standalone_slow", run_id).get("slow") == "running",
        60,
        standalone.log,
        interval=0.2,
    )

    code, _ = standalone.ctrl_c()

    log = standalone.log()
    assert code == 0, log
    assert "Warm shutdown" in log
    # The metastore outlives the process: the try that was running when Ctrl-C came ended well.
    assert standalone.task_states("standalone_slow", run_id) == {"slow": "success"}, log
    assert "exited with 'signal 15" not in log, "no task process was killed by the stop"
    _assert_nothing_left_running(standalone)
