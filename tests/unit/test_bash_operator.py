"""BashOperator: return value, skip and failure exit codes, environment, cwd, templating."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from tradewind import DAG, BashOperator
from tradewind.errors import AirflowException, AirflowSkipException
from tradewind.sdk.runtime import InMemoryXComBackend, RuntimeTaskInstance
from tradewind.sdk.templating import render_task_fields

LOGICAL = datetime(2024, 3, 5, tzinfo=UTC)


def _bash(command: str, **kwargs) -> BashOperator:
    with DAG("bash_dag", schedule=None, start_date=LOGICAL):
        return BashOperator(task_id="run", bash_command=command, **kwargs)


def _context(task: BashOperator) -> dict:
    ti = RuntimeTaskInstance(
        task=task,
        dag_id="bash_dag",
        run_id="manual__1",
        try_number=2,
        max_tries=3,
        xcom=InMemoryXComBackend(task.task_id),
        logical_date=LOGICAL,
    )
    return {
        "ti": ti,
        "task_instance": ti,
        "task": task,
        "dag": task.dag,
        "params": {},
        "logical_date": LOGICAL,
        "ds": "2024-03-05",
        "run_id": "manual__1",
        "dag_run": SimpleNamespace(run_id="manual__1"),
    }


def _run(task: BashOperator):
    return task.execute(_context(task))


def test_last_output_line_is_the_return_value(capsys):
    assert _run(_bash("echo first; echo second >&2; echo last")) == "last"
    assert capsys.readouterr().out.splitlines() == ["first", "second", "last"]


def test_no_output_returns_empty_string():
    assert _run(_bash("true")) == ""


def test_exit_code_99_skips_the_task():
    with pytest.raises(AirflowSkipException, match="exit code 99"):
        _run(_bash("exit 99"))


def test_custom_skip_exit_codes_and_old_keyword():
    with pytest.raises(AirflowSkipException):
        _run(_bash("exit 7", skip_on_exit_code=[5, 7]))
    with pytest.raises(AirflowSkipException):
        _run(_bash("exit 4", skip_exit_code=4))
    with pytest.raises(AirflowException, match="non-zero exit code 99"):
        _run(_bash("exit 99", skip_on_exit_code=None))


def test_non_zero_exit_code_fails_with_its_code():
    with pytest.raises(AirflowException) as err:
        _run(_bash("echo oops; exit 3"))
    assert not isinstance(err.value, AirflowSkipException)
    assert "non-zero exit code 3" in str(err.value)


def test_env_replaces_the_process_environment(monkeypatch):
    monkeypatch.setenv("TRADEWIND_TEST_OUTER", "outer")
    task = _bash('echo "${TRADEWIND_TEST_OUTER:-unset} $MINE"', env={"MINE": "mine"})
    assert _run(task) == "unset mine"


def test_append_env_merges_over_the_process_environment(monkeypatch):
    monkeypatch.setenv("TRADEWIND_TEST_OUTER", "outer")
    task = _bash('echo "$TRADEWIND_TEST_OUTER $MINE"', env={"MINE": "mine"}, append_env=True)
    assert _run(task) == "outer mine"


def test_env_given_is_not_modified_by_a_run():
    env = {"MINE": "mine"}
    _run(_bash("true", env=env))
    assert env == {"MINE": "mine"}


def test_airflow_context_variables_are_visible():
    task = _bash(
        'echo "$AIRFLOW_CTX_DAG_ID|$AIRFLOW_CTX_TASK_ID|$AIRFLOW_CTX_EXECUTION_DATE|'
        '$AIRFLOW_CTX_TRY_NUMBER|$AIRFLOW_CTX_DAG_RUN_ID"'
    )
    assert _run(task) == "bash_dag|run|2024-03-05T00:00:00+00:00|2|manual__1"


def test_runs_in_the_given_cwd(tmp_path):
    (tmp_path / "marker.txt").write_text("x")
    assert _run(_bash("ls", cwd=str(tmp_path))) == "marker.txt"


def test_without_cwd_runs_in_a_temporary_directory_removed_afterwards():
    where = _run(_bash("pwd"))
    assert where != os.getcwd()
    assert not os.path.exists(where)


def test_missing_or_file_cwd_is_a_clear_error(tmp_path):
    with pytest.raises(AirflowException, match="Can not find the cwd"):
        _run(_bash("true", cwd=str(tmp_path / "nope")))
    a_file = tmp_path / "f"
    a_file.write_text("")
    with pytest.raises(AirflowException, match="must be a directory"):
        _run(_bash("true", cwd=str(a_file)))


def test_command_is_a_template():
    task = _bash("echo {{ ds }} {{ params.x }}")
    context = _context(task)
    context["params"] = {"x": "hello"}
    render_task_fields(task, context)
    assert task.execute(context) == "2024-03-05 hello"


def test_script_file_is_rendered_from_the_dag_folder(tmp_path):
    script = tmp_path / "hello.sh"
    script.write_text("echo script says {{ ds }}\n")
    with DAG("bash_file_dag", schedule=None, start_date=LOGICAL, template_searchpath=str(tmp_path)):
        task = BashOperator(task_id="run", bash_command="hello.sh")
    context = _context(task)
    render_task_fields(task, context)
    assert task.execute(context) == "script says 2024-03-05"


def test_invalid_bytes_in_output_do_not_break_the_task():
    assert _run(_bash(r"printf 'caf\xe9\n'")) == "caf\\xe9"


def test_on_kill_stops_the_whole_process_group(tmp_path):
    import threading
    import time

    task = _bash(f"sleep 30 & echo $! > {tmp_path}/child; wait")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            _run(task)
        except BaseException as exc:  # noqa: BLE001 - the killed command's failure is expected
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while not (tmp_path / "child").exists() or task._process is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child = int((tmp_path / "child").read_text())
    task.on_kill()
    thread.join(10)
    assert not thread.is_alive()
    assert errors and "non-zero exit code" in str(errors[0])
    assert _is_gone(child)


def _is_gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie nobody reaped yet counts as exited)."""
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def test_output_processor_turns_the_last_line_into_the_return_value():
    assert _run(_bash("echo 41", output_processor=lambda line: int(line) + 1)) == 42
