"""Running the installed ``tradewind`` command the way a user does, and reading what it left behind.

``Cli`` runs the console script of this virtualenv in a real process with an environment built
from scratch (no TRADEWIND_* variable of the person running the tests leaks in; HOME is the test's
home, so ``~/tradewind`` is never touched). ``CliResult`` is what the user saw: exit code, stdout,
stderr. ``metastore_session`` opens the same metastore in-process for what the CLI does not show.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
from tradewind.settings import Settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "examples" / "dags"
EXAMPLE_PLUGINS = REPO / "examples" / "plugins"
TEST_DAGS = REPO / "tests" / "dags"
TRADEWIND = Path(sys.executable).with_name("tradewind")

LOGICAL_DATE = "2024-01-01"
#: The run id ``dags test`` gives the run at LOGICAL_DATE.
RUN_ID = "manual__2024-01-01T00:00:00+00:00"
_SUMMARY = re.compile(r"^DAG run (?P<run_id>\S+) of (?P<dag_id>\S+): (?P<state>\w+) in (?P<seconds>\d+\.\d+) s$")


def _expected_states_module() -> Any:
    spec = importlib.util.spec_from_file_location("expected_states", TEST_DAGS / "expected_states.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expected_states() -> dict[str, Any]:
    """tests/dags/expected_states.py's table (tests/dags is not a package)."""
    return _expected_states_module().EXPECTED_STATES


def expected_states_with_a_server() -> dict[str, Any]:
    """The examples that need a server their provider's test starts (expected_states.py)."""
    return _expected_states_module().EXPECTED_STATES_WITH_A_SERVER


def states_by_task(rows: Any) -> dict[str, Any]:
    """{task_id: state}, with a list of states for a mapped task (expected_states.py's form)."""
    return _expected_states_module().states_by_task(rows)


@dataclass(frozen=True)
class CliResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def __str__(self) -> str:
        return (
            f"$ tradewind {' '.join(self.args)}\nexit code {self.returncode} after {self.seconds:.2f} s\n"
            f"--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"
        )

    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def error_line(self) -> str:
        """The single ``Error: …`` line on stderr; fails if there is none, several, or a traceback."""
        assert "Traceback" not in self.stderr, self
        errors = [line for line in self.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, self
        return errors[0]

    @property
    def summary(self) -> dict[str, str]:
        """The last line of ``dags test``: "DAG run <run_id> of <dag_id>: <state> in X s"."""
        last = self.stdout.rstrip("\n").rsplit("\n", 1)[-1]
        match = _SUMMARY.match(last)
        assert match, f"no run summary as the last line of stdout\n{self}"
        return match.groupdict()

    def table(self) -> list[dict[str, str]]:
        """The first table printed (a header line, a ``---+---`` line, rows up to a blank line)."""
        lines = self.stdout.splitlines()
        for i, line in enumerate(lines[:-1]):
            if " | " in line and set(lines[i + 1]) <= {"-", "+"}:
                columns = [c.strip() for c in line.split("|")]
                rows = []
                for row in lines[i + 2 :]:
                    if not row.strip():
                        break
                    rows.append(dict(zip(columns, (c.strip() for c in row.split("|")), strict=True)))
                return rows
        raise AssertionError(f"no table in stdout\n{self}")


@dataclass(frozen=True)
class Cli:
    """``tradewind`` with TRADEWIND_HOME, TRADEWIND_DAGS_FOLDER and (unless None) TRADEWIND_DATABASE_URL."""

    home: Path
    dags_folder: Path
    database_url: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(self.home),
            "TRADEWIND_HOME": str(self.home),
            "TRADEWIND_DAGS_FOLDER": str(self.dags_folder),
        }
        if self.database_url is not None:
            env["TRADEWIND_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def with_env(self, **variables: str) -> Cli:
        return replace(self, extra_env={**self.extra_env, **variables})

    def settings(self) -> Settings:
        return Settings(home=self.home, dags_folder=self.dags_folder, database_url=self.database_url)

    def __call__(self, *args: str, timeout: float = 120, input: str = "") -> CliResult:
        """Run ``tradewind ARGS``; ``input`` is what the user types (a prompt's answer)."""
        assert TRADEWIND.exists(), f"the tradewind console script is not installed at {TRADEWIND}"
        started = time.monotonic()
        done = subprocess.run(
            [str(TRADEWIND), *args],
            env=self.env,
            cwd=self.home,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return CliResult(tuple(args), done.returncode, done.stdout, done.stderr, time.monotonic() - started)


@contextmanager
def metastore_session(settings: Settings) -> Iterator[Session]:
    """A session on the metastore the CLI used (its own engine, disposed afterwards)."""
    engine = create_engine_from_settings(settings)
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()
