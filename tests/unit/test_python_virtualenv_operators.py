"""PythonVirtualenvOperator, ExternalPythonOperator and their @task forms: what a DAG author gets
wrong is refused when the file is parsed; the callable's source, arguments, context and result cross
into another interpreter (here: this one, run as ``ExternalPythonOperator``'s ``python``) as in
Airflow 2.10; the environment cache is keyed by everything that shapes an environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pendulum
import pytest

from tradewind import DAG, ExternalPythonOperator, PythonVirtualenvOperator, task
from tradewind.errors import AirflowException, AirflowSkipException, DagDefinitionError
from tradewind.sdk.operators.python_script import callable_source
from tradewind.sdk.operators.venv_builder import MARKER_FILE, VenvSpec, cached_venv, prepare_venv
from tradewind.sdk.serialization import deserialize_dag, serialize_dag

START = datetime(2024, 1, 1, tzinfo=UTC)
CONTEXT = {
    "ds": "2024-01-01",
    "run_id": "manual__2024-01-01",
    "logical_date": pendulum.datetime(2024, 1, 1, tz="UTC"),
    "dag": object(),  # tradewind's own objects never cross
}


def add(x, y):
    return x + y


def run_external(python_callable, **kwargs):
    operator = ExternalPythonOperator(
        task_id="t", python=sys.executable, python_callable=python_callable, expect_airflow=False, **kwargs
    )
    return operator.execute(dict(CONTEXT))


def test_arguments_and_the_return_value_cross_by_pickle():
    assert run_external(add, op_args=[40], op_kwargs={"y": 2}) == 42


def test_only_the_serializable_context_keys_the_callable_names_cross():
    def context_seen(ds, logical_date, dag=None, **kwargs):
        return {"ds": ds, "logical_date": logical_date.isoformat(), "dag": dag, "others": sorted(kwargs)}

    seen = run_external(context_seen)
    assert seen == {
        "ds": "2024-01-01",
        "logical_date": "2024-01-01T00:00:00+00:00",
        "dag": None,
        "others": ["run_id", "templates_dict"],
    }


def test_string_args_and_templates_dict_reach_the_script():
    def echo(templates_dict):
        return [templates_dict["table"], *virtualenv_string_args]  # noqa: F821

    assert run_external(echo, string_args=["a", "b"], templates_dict={"table": "orders"}) == ["orders", "a", "b"]


def test_a_callable_that_returns_nothing_pushes_none():
    def nothing():
        print("side effect only")

    assert run_external(nothing) is None


def test_an_exit_code_in_skip_on_exit_code_skips_and_another_fails_with_it():
    def leave(code):
        import sys

        sys.exit(code)

    with pytest.raises(AirflowSkipException, match="Process exited with code 99. Skipping."):
        run_external(leave, op_args=[99], skip_on_exit_code=[99, 100])
    with pytest.raises(AirflowException, match="Process returned non-zero exit status 3."):
        run_external(leave, op_args=[3], skip_on_exit_code=99)
    with pytest.raises(AirflowSkipException, match="Process exited with code 0. Skipping."):
        run_external(add, op_args=[1, 2], skip_on_exit_code=0)


def test_an_exception_in_the_callable_fails_the_task_naming_it():
    def explode():
        raise KeyError("no such column")

    with pytest.raises(AirflowException, match=r"exit status 1\.\nKeyError: 'no such column'"):
        run_external(explode)


def test_a_missing_or_relative_python_fails_the_task_with_a_clear_error():
    for python, message in [("/nowhere/python", "must exist"), ("bin/python", "must be an absolute path")]:
        operator = ExternalPythonOperator(task_id="t", python=python, python_callable=add, op_args=[1, 2])
        with pytest.raises(AirflowException, match=message):
            operator.execute(dict(CONTEXT))
    with pytest.raises(DagDefinitionError, match="Python Path must be defined"):
        ExternalPythonOperator(task_id="t", python="", python_callable=add)


def test_lambdas_generators_and_unknown_serializers_are_refused_at_parse_time():
    def numbers():
        yield 1

    with pytest.raises(DagDefinitionError, match="only supports functions"):
        PythonVirtualenvOperator(task_id="t", python_callable=lambda: 1)
    with pytest.raises(DagDefinitionError, match="does not support using 'yield'"):
        PythonVirtualenvOperator(task_id="t", python_callable=numbers)
    with pytest.raises(DagDefinitionError, match="Unsupported serializer 'json'"):
        PythonVirtualenvOperator(task_id="t", python_callable=add, serializer="json")
    with pytest.raises(DagDefinitionError, match="Please use string_args"):
        PythonVirtualenvOperator(task_id="t", python_callable=add, python_version="2.7", op_args=[1, 2])
    with pytest.raises(DagDefinitionError, match="use_airflow_context=True is not supported"):
        ExternalPythonOperator(task_id="t", python=sys.executable, python_callable=add, use_airflow_context=True)
    with (
        pytest.warns(DeprecationWarning, match="use_dill"),
        pytest.raises(DagDefinitionError, match="Both 'use_dill' and 'serializer' parameters are set"),
    ):
        PythonVirtualenvOperator(task_id="t", python_callable=add, use_dill=True, serializer="pickle")


def test_use_dill_is_deprecated_and_means_the_dill_serializer_installed_in_the_venv():
    with pytest.warns(DeprecationWarning, match="use_dill"):
        operator = PythonVirtualenvOperator(task_id="t", python_callable=add, use_dill=True, system_site_packages=False)
    assert operator.serializer == "dill"
    assert operator.requirements == ["dill"]


def test_a_serializer_not_installed_on_the_worker_fails_the_task_saying_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cloudpickle", None)
    with pytest.raises(AirflowException, match="needs the cloudpickle package installed on the worker"):
        run_external(add, op_args=[1, 2], serializer="cloudpickle")


def test_the_task_decorator_is_removed_from_the_source_and_other_decorators_kept():
    import functools

    @task.virtualenv(requirements=["x"], system_site_packages=False)
    @functools.lru_cache
    def decorated(a):
        return a

    source = callable_source(decorated.function)
    assert source.startswith("@functools.lru_cache\ndef decorated(a):\n")
    assert "task.virtualenv" not in source


def test_the_cache_key_ignores_requirement_order_and_follows_everything_else():
    base = VenvSpec(requirements=("a", "b"))
    assert base.cache_key() == VenvSpec(requirements=("b", "a")).cache_key()
    others = [
        VenvSpec(requirements=("a",)),
        VenvSpec(requirements=("a", "b"), python_version="3.12"),
        VenvSpec(requirements=("a", "b"), system_site_packages=True),
        VenvSpec(requirements=("a", "b"), pip_install_options=("--no-index",)),
        VenvSpec(requirements=("a", "b"), index_urls=("https://pypi.example/simple",)),
        VenvSpec(requirements=("a", "b"), cache_variable="rebuild-2024-06"),
    ]
    assert len({base.cache_key(), *(spec.cache_key() for spec in others)}) == 7


def _fake_builder(commands: list[list[str]], fail: bool = False):
    """A command runner that makes ``<venv>/bin/python`` for a ``-m venv`` command."""

    def run(command: list[str]) -> int:
        commands.append(command)
        if "venv" in command:
            python = Path(command[-1]) / "bin" / "python"
            python.parent.mkdir(parents=True)
            python.write_text("")
        return 1 if fail and "install" in command else 0

    return run


def test_a_cached_venv_is_built_once_and_reused_while_its_settings_hold(tmp_path):
    commands: list[list[str]] = []
    spec = VenvSpec(requirements=("tinycalc",))
    first = cached_venv(tmp_path, spec, _fake_builder(commands))
    again = cached_venv(tmp_path, spec, _fake_builder(commands))

    assert first == again == tmp_path / f"venv-{spec.cache_key()}" / "bin" / "python"
    assert [c for c in commands if "venv" in c] and len(commands) == 2  # create, install: once
    assert (first.parents[1] / MARKER_FILE).read_text() == spec.hash_data()


def test_a_half_built_venv_or_one_built_with_other_settings_is_built_again(tmp_path):
    spec = VenvSpec(requirements=("tinycalc",))
    with pytest.raises(AirflowException, match="installing the requirements failed"):
        cached_venv(tmp_path, spec, _fake_builder([], fail=True))
    assert not (tmp_path / f"venv-{spec.cache_key()}").exists()

    venv = tmp_path / f"venv-{spec.cache_key()}"
    venv.mkdir()
    (venv / MARKER_FILE).write_text('{"requirements": ["other"]}')
    commands: list[list[str]] = []
    cached_venv(tmp_path, spec, _fake_builder(commands))
    assert len(commands) == 2 and (venv / MARKER_FILE).read_text() == spec.hash_data()


def test_virtualenv_tasks_survive_serialization_with_their_operator_names():
    with DAG("venvs", schedule=None, start_date=START) as dag:

        @task.virtualenv(requirements=["tinycalc"])
        def in_venv():
            return 1

        @task.external_python(python=sys.executable)
        def outside():
            return 2

        in_venv() >> outside()
        PythonVirtualenvOperator(task_id="classic", python_callable=add, op_args=[1, 2])

    tasks = {t.task_id: t for t in deserialize_dag(serialize_dag(dag)).tasks}
    assert tasks["in_venv"].operator_name == "@task.virtualenv"
    assert tasks["outside"].operator_name == "@task.external_python"
    assert tasks["classic"].operator_name == "PythonVirtualenvOperator"
    assert tasks["outside"].upstream_task_ids == {"in_venv"}


def test_the_environment_is_made_with_venv_and_pip_or_with_uv_with_the_tasks_options(tmp_path):
    spec = VenvSpec(
        requirements=("tinycalc==1.0",),
        system_site_packages=True,
        pip_install_options=("--no-index",),
        index_urls=("https://one.example/simple", "https://two.example/simple"),
    )
    indexes = ["--index-url", "https://one.example/simple", "--extra-index-url", "https://two.example/simple"]
    for uv, create, install in [
        ("", [sys.executable, "-m", "venv", "--system-site-packages"], ["{python}", "-m", "pip", "install"]),
        (
            "/opt/uv",
            ["/opt/uv", "venv", "--seed", "--system-site-packages", "--python", sys.executable],
            ["/opt/uv", "pip", "install", "--python", "{python}"],
        ),
    ]:
        commands: list[list[str]] = []
        venv = tmp_path / (uv.strip("/").replace("/", "-") or "pip") / "venv"
        python = prepare_venv(venv, spec, _fake_builder(commands), uv=uv)
        assert python == venv / "bin" / "python"
        assert (venv / "requirements.txt").read_text() == "tinycalc==1.0\n"
        assert commands == [
            [*create, str(venv)],
            [
                *(arg.format(python=python) for arg in install),
                "--no-index",
                *indexes,
                "-r",
                str(venv / "requirements.txt"),
            ],
        ]


def test_a_build_killed_midway_releases_its_lock_and_the_next_task_builds_afresh(tmp_path):
    """kill -9 of a worker's task while it installs: the kernel drops its lock, and the folder it
    left without a completion marker is removed and built again, not used."""
    spec = VenvSpec(requirements=("tinycalc",))
    started = tmp_path / "started"
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from tradewind.sdk.operators.venv_builder import VenvSpec, cached_venv

        def run(command):
            if "venv" in command:
                (Path(command[-1]) / "bin").mkdir(parents=True)
                return 0
            Path({str(started)!r}).write_text("installing")
            time.sleep(600)

        cached_venv(Path({str(tmp_path)!r}), VenvSpec(requirements=("tinycalc",)), run)
        """
    )
    builder = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert builder.poll() is None and time.monotonic() < deadline, "the first build never reached pip"
            time.sleep(0.05)
        os.kill(builder.pid, signal.SIGKILL)
        builder.wait(timeout=30)
    finally:
        if builder.poll() is None:
            builder.kill()
    half_built = tmp_path / f"venv-{spec.cache_key()}"
    assert half_built.is_dir() and not (half_built / MARKER_FILE).exists()

    commands: list[list[str]] = []
    python = cached_venv(tmp_path, spec, _fake_builder(commands))

    assert python == half_built / "bin" / "python" and python.exists()
    assert len(commands) == 2  # created and installed again
    assert (half_built / MARKER_FILE).read_text() == spec.hash_data()
