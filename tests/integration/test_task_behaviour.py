"""How single tasks behave when ``tradewind dags test`` runs them on PostgreSQL: exit codes, time
limits, retries, XCom limits, Airflow's skip and fail exceptions, templates, a process killed by a
signal, sensors, conf, an Airflow 2 file as it is, and ``tasks test``.

Each test writes a small DAG file into the module's DAG folder, runs it, and checks what the user
sees (exit code, the run's one-line summary) and what the metastore holds afterwards: states,
tries, rendered templates and each try's log as read with ``logs.read_log``.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cli_helpers import LOGICAL_DATE, RUN_ID, TEST_DAGS, Cli, CliResult, metastore_session

from tradewind.metastore import logs, task_instances, xcoms
from tradewind.metastore.models import DagRun, TaskInstance, XCom
from tradewind.metastore.task_instances import TIKey

pytestmark = pytest.mark.integration

DAG_FILE = """\
import os
import time
from datetime import timedelta
from pathlib import Path

import pendulum

from tradewind import (DAG, AirflowFailException, AirflowSkipException, BashOperator, EmptyOperator,
                       PythonSensor, task)

with DAG({dag_id!r}, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None,
         params={params!r}) as dag:
{body}
"""


@pytest.fixture(scope="module")
def cli(module_pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    home = tmp_path_factory.mktemp("home")
    (home / "dags").mkdir()
    return Cli(home=home, dags_folder=home / "dags", database_url=module_pg_url)


def run_dag(cli: Cli, dag_id: str, body: str, *args: str, params: dict[str, Any] | None = None) -> CliResult:
    """Write ``dag_id``.py with ``body`` as the inside of ``with DAG(...)``, then ``dags test`` it."""
    source = DAG_FILE.format(dag_id=dag_id, params=params or {}, body=textwrap.indent(textwrap.dedent(body), "    "))
    (cli.dags_folder / f"{dag_id}.py").write_text(source)
    result = cli("dags", "test", dag_id, LOGICAL_DATE, "-q", *args)
    assert result.summary["run_id"] == RUN_ID
    return result


def states(cli: Cli, dag_id: str) -> dict[str, tuple[str, int]]:
    """task_id -> (state, try_number) of the run at LOGICAL_DATE."""
    with metastore_session(cli.settings()) as session:
        return {ti.task_id: (ti.state, ti.try_number) for ti in task_instances.get_tis(session, dag_id, RUN_ID)}


def task_log(cli: Cli, dag_id: str, task_id: str, try_number: int = 1) -> str:
    with metastore_session(cli.settings()) as session:
        text, _ = logs.read_log(session, TIKey(dag_id, RUN_ID, task_id), try_number)
    return text


def tries(cli: Cli, dag_id: str, task_id: str) -> list[tuple[int, str]]:
    with metastore_session(cli.settings()) as session:
        return [(t.try_number, t.state) for t in task_instances.list_tries(session, TIKey(dag_id, RUN_ID, task_id))]


# --- bash ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "state", "run_exit", "logged"),
    [
        (3, "failed", 1, "The command returned a non-zero exit code 3."),
        (99, "skipped", 0, "Bash command returned exit code 99. Skipping."),
    ],
)
def test_a_bash_exit_code_fails_the_task_or_with_99_skips_it(
    cli: Cli,
    code: int,
    state: str,
    run_exit: int,
    logged: str,
) -> None:
    dag_id = f"bash_exit_{code}"
    result = run_dag(cli, dag_id, f'BashOperator(task_id="cmd", bash_command="echo before the exit; exit {code}")')

    assert result.returncode == run_exit, result
    assert states(cli, dag_id) == {"cmd": (state, 1)}
    log = task_log(cli, dag_id, "cmd")
    assert "before the exit" in log
    assert logged in log


def test_execution_timeout_stops_a_long_command_long_before_it_would_end(cli: Cli) -> None:
    result = run_dag(
        cli,
        "timeout_once",
        """
        BashOperator(task_id="sleepy", bash_command="sleep 30; echo tw-marker-timeout-once",
                     execution_timeout=timedelta(seconds=1))
    """,
    )

    assert result.returncode == 1, result
    assert result.seconds < 10, "the 1 s limit stopped the task; it did not wait for the 30 s sleep"
    assert states(cli, "timeout_once") == {"sleepy": ("failed", 1)}
    assert "execution_timeout of 1 s exceeded" in task_log(cli, "timeout_once", "sleepy")
    still_running = [p for p in Path("/proc").glob("[0-9]*/cmdline") if b"tw-marker-timeout-once" in _read(p)]
    assert still_running == [], "the timed-out command was stopped, not left behind"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def test_a_timed_out_task_with_one_retry_is_tried_twice(cli: Cli) -> None:
    result = run_dag(
        cli,
        "timeout_retry",
        """
        BashOperator(task_id="sleepy", bash_command="sleep 30", execution_timeout=timedelta(seconds=1),
                     retries=1, retry_delay=timedelta(seconds=1))
    """,
    )

    assert result.returncode == 1, result
    assert states(cli, "timeout_retry") == {"sleepy": ("failed", 2)}
    assert tries(cli, "timeout_retry", "sleepy") == [(1, "up_for_retry"), (2, "failed")]
    for try_number in (1, 2):
        log = task_log(cli, "timeout_retry", "sleepy", try_number)
        assert f"Running sleepy, try {try_number} of 2" in log
        assert "execution_timeout of 1 s exceeded" in log


# --- XCom ---------------------------------------------------------------------------------------


def test_a_task_returning_a_set_fails_because_xcom_is_json_only(cli: Cli) -> None:
    result = run_dag(
        cli,
        "xcom_set",
        """
        @task
        def make_set():
            return {1, 2, 3}

        make_set()
    """,
    )

    assert result.returncode == 1, result
    assert states(cli, "xcom_set") == {"make_set": ("failed", 1)}
    assert "pushed XCom 'return_value' that is not JSON (value: a set is not JSON-serialisable)" in task_log(
        cli, "xcom_set", "make_set"
    )
    _assert_nothing_pushed(cli, "xcom_set", "make_set")


def test_a_return_value_over_the_xcom_size_limit_fails_naming_the_limit(cli: Cli) -> None:
    result = run_dag(
        cli.with_env(TRADEWIND_XCOM_MAX_BYTES="1000"),
        "xcom_too_big",
        """
        @task
        def make_big():
            return "x" * 2000

        make_big()
    """,
    )

    assert result.returncode == 1, result
    assert states(cli, "xcom_too_big") == {"make_big": ("failed", 1)}
    assert "larger than the limit of 1,000 bytes (TRADEWIND_XCOM_MAX_BYTES)" in task_log(
        cli, "xcom_too_big", "make_big"
    )
    _assert_nothing_pushed(cli, "xcom_too_big", "make_big")


def _assert_nothing_pushed(cli: Cli, dag_id: str, task_id: str) -> None:
    with metastore_session(cli.settings()) as session:
        assert xcoms.find_xcom(session, dag_id, RUN_ID, task_id) == (False, None)


# --- Airflow's exceptions -----------------------------------------------------------------------


def test_airflow_fail_exception_fails_at_once_without_using_the_retries(cli: Cli) -> None:
    result = run_dag(
        cli,
        "fail_fast",
        """
        @task(retries=3, retry_delay=timedelta(seconds=1))
        def give_up():
            raise AirflowFailException("the input is wrong; retrying cannot help")

        give_up()
    """,
    )

    assert result.returncode == 1, result
    assert states(cli, "fail_fast") == {"give_up": ("failed", 1)}
    assert tries(cli, "fail_fast", "give_up") == [(1, "failed")]
    assert "AirflowFailException: the input is wrong; retrying cannot help" in task_log(cli, "fail_fast", "give_up")


def test_airflow_skip_exception_skips_the_task_and_its_all_success_downstream(cli: Cli) -> None:
    result = run_dag(
        cli,
        "skip",
        """
        @task
        def nothing_to_do():
            raise AirflowSkipException("no new files today")

        nothing_to_do() >> EmptyOperator(task_id="process")
    """,
    )

    assert result.returncode == 0, result
    assert result.summary["state"] == "success"
    assert states(cli, "skip") == {"nothing_to_do": ("skipped", 1), "process": ("skipped", 0)}
    assert "Marking task as SKIPPED. no new files today" in task_log(cli, "skip", "nothing_to_do")


# --- templates, crashes, sensors, conf -----------------------------------------------------------


def test_the_rendered_bash_command_is_stored_on_the_task_instance_and_its_try(cli: Cli) -> None:
    result = run_dag(
        cli,
        "templated",
        """
        BashOperator(task_id="report", bash_command="echo 'report for {{ ds }} of {{ dag.dag_id }}'")
    """,
    )

    assert result.returncode == 0, result
    rendered = "echo 'report for 2024-01-01 of templated'"
    key = TIKey("templated", RUN_ID, "report")
    with metastore_session(cli.settings()) as session:
        ti = task_instances.get_ti(session, key.dag_id, key.run_id, key.task_id)
        (only_try,) = task_instances.list_tries(session, key)
        assert ti is not None and ti.rendered_fields["bash_command"] == rendered
        assert only_try.rendered_fields["bash_command"] == rendered
    assert "report for 2024-01-01 of templated" in task_log(cli, "templated", "report")


def test_a_task_killed_by_a_signal_fails_with_the_signal_in_its_log_and_the_run_goes_on(cli: Cli) -> None:
    result = run_dag(
        cli,
        "killed",
        """
        @task(priority_weight=10)
        def crash():
            os.kill(os.getpid(), 9)

        @task
        def unrelated():
            print("unrelated work done")

        crashed = crash()
        crashed >> EmptyOperator(task_id="after_crash")
        [crashed, unrelated()] >> EmptyOperator(task_id="cleanup", trigger_rule="all_done")
    """,
    )

    assert result.returncode == 1, result
    assert states(cli, "killed") == {
        "crash": ("failed", 1),
        "after_crash": ("upstream_failed", 0),
        "unrelated": ("success", 1),
        "cleanup": ("success", 1),
    }
    assert "killed by signal 9 (SIGKILL" in task_log(cli, "killed", "crash")
    assert "unrelated work done" in task_log(cli, "killed", "unrelated")
    with metastore_session(cli.settings()) as session:
        by_id = {ti.task_id: ti for ti in task_instances.get_tis(session, "killed", RUN_ID)}
    assert by_id["unrelated"].start_date >= by_id["crash"].end_date, "the crash came first (priority_weight)"


def test_a_reschedule_mode_sensor_passes_on_its_third_poke_within_one_try(cli: Cli) -> None:
    counter = cli.dags_folder / ".reschedule_pokes"
    result = run_dag(
        cli,
        "reschedule",
        f"""
        def third_time_lucky():
            counter = Path({str(counter)!r})
            pokes = int(counter.read_text()) + 1 if counter.exists() else 1
            counter.write_text(str(pokes))
            print(f"poke {{pokes}}")
            return pokes == 3

        PythonSensor(task_id="wait", python_callable=third_time_lucky, mode="reschedule",
                     poke_interval=0.2, timeout=30)
    """,
    )

    assert result.returncode == 0, result
    assert states(cli, "reschedule") == {"wait": ("success", 1)}
    assert counter.read_text() == "3"
    assert tries(cli, "reschedule", "wait") == [(1, "success")]
    log = task_log(cli, "reschedule", "wait")
    assert [line for line in log.splitlines() if line.startswith("poke ")] == ["poke 1", "poke 2", "poke 3"]
    assert log.count("Rescheduling task") == 2, "the slot was given back between pokes"


def test_a_sensor_that_never_passes_times_out_and_with_soft_fail_is_skipped(cli: Cli) -> None:
    result = run_dag(
        cli,
        "soft_fail",
        """
        PythonSensor(task_id="wait", python_callable=lambda: False, poke_interval=0.2, timeout=1,
                     soft_fail=True)
    """,
    )

    assert result.returncode == 0, result
    assert states(cli, "soft_fail") == {"wait": ("skipped", 1)}
    assert "Sensor has timed out" in task_log(cli, "soft_fail", "wait")


def test_conf_overrides_params_and_the_task_sees_it_in_params_and_dag_run_conf(cli: Cli) -> None:
    result = run_dag(
        cli,
        "with_conf",
        """
        @task
        def use_n(params=None, dag_run=None):
            print(f"params n={params['n']}, dag_run.conf={dag_run.conf}")
            if params["n"] != 5 or dag_run.conf != {"n": 5}:
                raise ValueError("the conf did not reach the task")

        use_n()
        BashOperator(task_id="echo_n", bash_command="echo n is {{ params.n }}")
    """,
        "--conf",
        '{"n": 5}',
        params={"n": 1},
    )

    assert result.returncode == 0, result
    assert states(cli, "with_conf") == {"use_n": ("success", 1), "echo_n": ("success", 1)}
    assert "params n=5, dag_run.conf={'n': 5}" in task_log(cli, "with_conf", "use_n")
    assert "n is 5" in task_log(cli, "with_conf", "echo_n")


# --- Airflow 2 files and tasks test ---------------------------------------------------------------


def test_an_airflow2_style_dag_file_runs_unchanged_to_success(cli: Cli) -> None:
    shutil.copy(TEST_DAGS / "dag_airflow2_style.py", cli.dags_folder)

    result = cli("dags", "test", "airflow2_style", LOGICAL_DATE, "-q")

    assert result.returncode == 0, result
    assert result.summary["state"] == "success"
    assert states(cli, "airflow2_style") == {
        task_id: ("success", 1)
        for task_id in ("start", "extract", "transform", "quality.row_count", "quality.null_check", "load", "notify")
    }
    with metastore_session(cli.settings()) as session:
        assert xcoms.get_xcom(session, "airflow2_style", RUN_ID, "transform") == 42


def test_tasks_test_prints_the_task_output_and_records_nothing(cli: Cli) -> None:
    body = 'BashOperator(task_id="hello", bash_command="echo hello from {{ ds }}")'
    source = DAG_FILE.format(dag_id="only_tested", params={}, body=textwrap.indent(body, "    "))
    (cli.dags_folder / "only_tested.py").write_text(source)

    result = cli("tasks", "test", "only_tested", "hello", LOGICAL_DATE)

    assert result.returncode == 0, result
    assert "hello from 2024-01-01" in result.stdout
    assert result.stdout.rstrip().endswith("Task hello: success")
    with metastore_session(cli.settings()) as session:
        for model in (DagRun, TaskInstance, XCom):
            count = session.scalar(sa.select(sa.func.count()).select_from(model).where(model.dag_id == "only_tested"))
            assert count == 0, model.__tablename__
