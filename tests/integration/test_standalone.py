"""`tradewind standalone` runs a DAG on a machine with no server: an SQLite metastore and the
embedded broker under its home folder, the scheduler and a worker as its children, and Ctrl-C
stops all of them."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from cluster import TRADEWIND, wait_until

REPO = Path(__file__).resolve().parents[2]


def test_standalone_runs_an_example_dag_and_stops_cleanly_on_ctrl_c(tmp_path: Path):
    home, dags = tmp_path / "home", tmp_path / "dags"
    dags.mkdir()
    shutil.copy(REPO / "examples" / "dags" / "example_bash_python.py", dags)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND_")}
    env.update(TRADEWIND_HOME=str(home), TRADEWIND_DAGS_FOLDER=str(dags))
    output = open(tmp_path / "standalone.log", "wb")  # noqa: SIM115
    process = subprocess.Popen([TRADEWIND, "standalone", "--port", "18793"], env=env, stdout=output,
                               stderr=subprocess.STDOUT, start_new_session=True)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([TRADEWIND, *args], env=env, capture_output=True, text=True, timeout=60)

    try:
        wait_until(lambda: "is running" in (tmp_path / "standalone.log").read_text(), 60,
                   lambda: (tmp_path / "standalone.log").read_text())
        assert cli("dags", "unpause", "example_bash_python").returncode == 0
        run_id = json.loads(cli("dags", "trigger", "example_bash_python", "-o", "json").stdout)["run_id"]

        def finished() -> str | None:
            runs = json.loads(cli("dags", "list-runs", "-d", "example_bash_python", "-o", "json").stdout)
            state = next(r["state"] for r in runs if r["run_id"] == run_id)
            return state if state in ("success", "failed") else None

        assert wait_until(finished, 90, lambda: (tmp_path / "standalone.log").read_text()) == "success"
        states = json.loads(cli("tasks", "states-for-dag-run", "example_bash_python", run_id, "-o", "json").stdout)
        assert {s["task_id"]: s["state"] for s in states} == {
            "print_date": "success", "greet": "success", "inspect_context": "success",
        }
        assert (home / "tradewind.db").exists() and (home / "broker").is_dir()
    finally:
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
        stopped_in = time.monotonic() - started
        log = (tmp_path / "standalone.log").read_text()
    assert code == 0, log
    assert stopped_in < 45
    assert "stopping" in log
    # Nothing of it is left running: not its roles, nor their pools and task processes.
    role_pids = [int(pid) for pid in re.findall(r"\(pid (\d+)\)", log)]
    assert len(role_pids) >= 2, log
    sessions = {process.pid, *role_pids}
    leftovers = [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _session_of(p) in sessions]
    assert leftovers == []


def _session_of(proc: Path) -> int | None:
    try:
        stat = (proc / "stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[3])
