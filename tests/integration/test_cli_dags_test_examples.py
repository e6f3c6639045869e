"""``tradewind dags test`` runs every example DAG to exactly the final states its docstring promises
(tests/dags/expected_states.py): on PostgreSQL, checked through ``tasks states-for-dag-run`` and
``dags list-runs``, and on the zero-config SQLite metastore, checked through what ``dags test``
prints. The examples run from a copy of examples/dags (and examples/plugins as the plugins folder), since
example_sensor writes next to its file.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import (
    EXAMPLE_DAGS,
    EXAMPLE_PLUGINS,
    LOGICAL_DATE,
    RUN_ID,
    Cli,
    CliResult,
    expected_states,
    metastore_session,
    states_by_task,
)
from sqlalchemy.orm import Session

from tradewind.metastore import logs, task_instances, xcoms
from tradewind.metastore.task_instances import TIKey

pytestmark = pytest.mark.integration

EXPECTED = expected_states()
DAG_IDS = sorted(EXPECTED)


def _copy_examples(folder: Path) -> Path:
    """The example DAGs into ``folder``, and the example plugins into the plugins folder beside it
    (``TRADEWIND_HOME/plugins``, the default)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in EXAMPLE_DAGS.glob("*.py"):
        shutil.copy(path, folder)
    shutil.copytree(EXAMPLE_PLUGINS, folder.parent / "plugins", dirs_exist_ok=True)
    return folder


def _conf_args(dag_id: str) -> list[str]:
    conf = EXPECTED[dag_id].get("conf")
    return ["--conf", json.dumps(conf)] if conf is not None else []


def _exit_code(run_state: str) -> int:
    return 0 if run_state == "success" else 1


@pytest.fixture(scope="module")
def pg_cli(module_pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    home = tmp_path_factory.mktemp("pg_home")
    return Cli(home=home, dags_folder=_copy_examples(home / "dags"), database_url=module_pg_url)


@pytest.fixture(scope="module")
def pg_run(pg_cli: Cli) -> Callable[[str], CliResult]:
    """``dags test DAG 2024-01-01`` on PostgreSQL, run once per DAG however many tests look at it."""
    results: dict[str, CliResult] = {}

    def run(dag_id: str) -> CliResult:
        for needed in EXPECTED[dag_id].get("needs", []):
            run(needed)
        if dag_id not in results:
            results[dag_id] = pg_cli("dags", "test", dag_id, LOGICAL_DATE, "-q", *_conf_args(dag_id))
        return results[dag_id]

    return run


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_dags_test_of_an_example_ends_in_its_documented_states_on_postgres(
    pg_cli: Cli,
    pg_run: Callable[[str], CliResult],
    dag_id: str,
) -> None:
    expected = EXPECTED[dag_id]
    result = pg_run(dag_id)

    assert result.returncode == _exit_code(expected["run_state"]), result
    summary = result.summary
    assert (summary["run_id"], summary["dag_id"], summary["state"]) == (RUN_ID, dag_id, expected["run_state"])

    shown = pg_cli("tasks", "states-for-dag-run", dag_id, RUN_ID, "-o", "json")
    assert shown.returncode == 0, shown
    rows = shown.json()
    assert states_by_task((row["task_id"], row["map_index"], row["state"]) for row in rows) == expected["tasks"]
    mapped = {task_id for task_id, states in expected["tasks"].items() if isinstance(states, list)}
    assert all(row["map_index"] == -1 for row in rows if row["task_id"] not in mapped)
    tries = {row["task_id"]: row["try_number"] for row in rows}
    for task_id, try_number in expected.get("tries", {}).items():
        assert tries[task_id] == try_number, task_id
    for row in rows:
        if row["state"] in ("success", "failed"):
            assert row["start_date"] and row["end_date"] and row["start_date"] <= row["end_date"], row

    listed = pg_cli("dags", "list-runs", "-d", dag_id, "-o", "json")
    assert listed.returncode == 0, listed
    # Runs another example triggered (example_trigger_dagrun) are not this test's.
    assert [(r["run_id"], r["state"], r["run_type"]) for r in listed.json() if r["run_type"] == "dags_test"] == [
        (RUN_ID, expected["run_state"], "dags_test")
    ]


def test_the_flaky_example_task_fails_once_then_succeeds_on_its_second_try(
    pg_cli: Cli,
    pg_run: Callable[[str], CliResult],
) -> None:
    assert pg_run("example_retries").returncode == 0

    shown = pg_cli("tasks", "states-for-dag-run", "example_retries", RUN_ID, "-o", "json").json()
    assert {r["task_id"]: (r["state"], r["try_number"]) for r in shown} == {
        "flaky": ("success", 2),
        "after_flaky": ("success", 1),
    }
    key = TIKey("example_retries", RUN_ID, "flaky")
    with metastore_session(pg_cli.settings()) as session:
        history = [(t.try_number, t.state) for t in task_instances.list_tries(session, key)]
        first_log, _ = logs.read_log(session, key, 1)
        second_log, _ = logs.read_log(session, key, 2)
    assert history == [(1, "up_for_retry"), (2, "success")]
    assert "failing on the first try on purpose" in first_log
    assert "succeeded on try 2" in second_log


def test_xcom_values_cross_from_the_pushing_tasks_to_the_checking_tasks(
    pg_cli: Cli,
    pg_run: Callable[[str], CliResult],
) -> None:
    # check_in_python and check_in_bash fail on any mismatch, so success is the proof; the stored
    # values and the checker's log show what crossed.
    assert pg_run("example_xcom").returncode == 0

    def pushed(session: Session, task_id: str, key: str = xcoms.RETURN_VALUE) -> Any:
        return xcoms.get_xcom(session, "example_xcom", RUN_ID, task_id, key, default="<nothing pushed>")

    with metastore_session(pg_cli.settings()) as session:
        assert pushed(session, "push_explicitly", "greeting") == "hello"
        assert pushed(session, "push_by_returning") == {"source": "orders", "rows": 3}
        assert pushed(session, "push_from_bash") == "42"
        checker_log, _ = logs.read_log(session, TIKey("example_xcom", RUN_ID, "check_in_python"), 1)
    assert "every XCom arrived intact" in checker_log


@pytest.fixture(scope="module")
def sqlite_cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    home = tmp_path_factory.mktemp("sqlite_home")
    return Cli(home=home, dags_folder=_copy_examples(home / "dags"))


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_dags_test_of_an_example_ends_in_its_documented_states_on_zero_config_sqlite(
    sqlite_cli: Cli,
    dag_id: str,
) -> None:
    assert "TRADEWIND_DATABASE_URL" not in sqlite_cli.env
    expected = EXPECTED[dag_id]
    for needed in expected.get("needs", []):
        assert sqlite_cli("dags", "test", needed, LOGICAL_DATE, "-q").returncode == 0

    result = sqlite_cli("dags", "test", dag_id, LOGICAL_DATE, "-q", *_conf_args(dag_id))

    assert result.returncode == _exit_code(expected["run_state"]), result
    assert result.summary["run_id"] == RUN_ID
    assert result.summary["state"] == expected["run_state"]
    printed = states_by_task((row["task_id"], int(row.get("map_index", -1)), row["state"]) for row in result.table())
    assert printed == expected["tasks"]
    for task_id, try_number in expected.get("tries", {}).items():
        assert {row["task_id"]: row["tries"] for row in result.table()}[task_id] == str(try_number)
    assert (sqlite_cli.home / "tradewind.db").is_file(), "the metastore lives under TRADEWIND_HOME"
