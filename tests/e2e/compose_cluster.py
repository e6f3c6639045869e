"""The repository's docker-compose.yml driven the way the README tells users to, plus a small REST
client for the cluster's web port.

``ComposeCluster`` runs ``docker compose`` (v2) when the machine has it and ``docker-compose``
(v1) otherwise, always with the repository's ``docker-compose.yml`` and, where no registry is
reachable, the override ``deploy/compose.local-images.yml``. Its settings come from an env file
written by the test, exactly as a user's ``.env`` would.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from docker_engine import run

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def compose_command() -> list[str]:
    """``docker compose`` when the v2 plugin answers, else the v1 ``docker-compose``."""
    try:
        if run(["docker", "compose", "version"], check=False, timeout=20).returncode == 0:
            return ["docker", "compose"]
    except (OSError, subprocess.TimeoutExpired):
        pass
    return ["docker-compose"]


def poll(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 1.0) -> T:
    """Call ``probe`` until it returns something other than None/False; fail saying ``what``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value is not None and value is not False:
                return value
        except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
            last_error = exc
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what}"
                + (f" (last error: {last_error})" if last_error else "")
            )
        time.sleep(interval)


@dataclass
class ComposeCluster:
    """One compose project of tradewind, its env file and the host port of its web UI."""

    project: str
    env_file: Path
    files: tuple[Path, ...]
    web_port: int
    username: str
    password: str

    def compose(self, *args: str, timeout: float = 900) -> str:
        command = [*compose_command(), "--project-name", self.project, "--env-file", str(self.env_file)]
        for path in self.files:
            command += ["-f", str(path)]
        return run([*command, *args], timeout=timeout).stdout

    def container_ids(self, service: str) -> list[str]:
        ids = run(
            [
                "docker",
                "ps",
                "-q",
                "--no-trunc",
                "--filter",
                f"label=com.docker.compose.project={self.project}",
                "--filter",
                f"label=com.docker.compose.service={service}",
            ],
            timeout=30,
        ).stdout.split()
        return sorted(ids)

    def container_hostname(self, container_id: str) -> str:
        return run(["docker", "inspect", "--format", "{{.Config.Hostname}}", container_id], timeout=30).stdout.strip()

    # -- the web port --------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web_port}{path}"

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url(path),
            data=data,
            method=method,
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=15) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
        text = raw.decode(errors="replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, payload = self.request(method, f"/api/v1{path}", body)
        if status >= 400:
            raise AssertionError(f"{method} /api/v1{path} answered {status}: {payload}")
        return payload

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url("/health"), timeout=10) as response:
            return json.loads(response.read())

    def live_worker_hostnames(self) -> set[str]:
        return {worker["hostname"] for worker in self.health()["workers"]}

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        return str(self.api("POST", f"/dags/{dag_id}/dagRuns", {"conf": conf})["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.api("GET", f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")["state"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        quoted = urllib.parse.quote(run_id, safe="")
        return list(self.api("GET", f"/dags/{dag_id}/dagRuns/{quoted}/taskInstances?limit=1000")["task_instances"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        return poll(
            f"run {run_id} of {dag_id} to end",
            lambda: (lambda s: s if s in ("success", "failed") else None)(self.run_state(dag_id, run_id)),
            timeout,
        )
