"""TaskFlow (@task and its variants), run through a small in-process runner we own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tradewind import DAG, AirflowException, PokeReturnValue, dag, task, task_group
from tradewind.errors import DagDefinitionError
from tradewind.sdk.runtime import InMemoryXComBackend, RuntimeTaskInstance
from tradewind.sdk.templating import render_task_fields
from tradewind.sdk.xcom_arg import XComArg, resolve_xcom_args

START = datetime(2024, 1, 1, tzinfo=UTC)


def run_dag(the_dag: DAG, params: dict | None = None) -> tuple[dict, set[str]]:
    """Run every task in order as the worker would; return the XCom store and skipped task ids."""
    store: dict = {}
    skipped: set[str] = set()
    for t in the_dag.topological_sort():
        if t.task_id in skipped:
            continue
        ti = RuntimeTaskInstance(
            task=t,
            dag_id=the_dag.dag_id,
            run_id="manual__1",
            try_number=1,
            max_tries=0,
            xcom=InMemoryXComBackend(t.task_id, store),
        )
        context = {
            "ti": ti,
            "task_instance": ti,
            "task": t,
            "dag": the_dag,
            "ds": "2024-01-01",
            "params": dict(params or {}),
            "run_id": "manual__1",
            "logical_date": START,
        }
        for name in t.template_fields:
            setattr(t, name, resolve_xcom_args(getattr(t, name), context))
        render_task_fields(t, context)
        t.pre_execute(context)
        result = t.execute(context)
        if t.do_xcom_push and result is not None:
            ti.xcom_push("return_value", result)
        skipped |= ti.skip_requests
    return store, skipped


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START)


def test_return_value_flows_into_the_next_task_and_makes_the_dependency():
    @task
    def extract() -> int:
        return 21

    @task()
    def double(value: int) -> int:
        return value * 2

    with _dag("tf_flow") as d:
        result = double(extract())
    assert isinstance(result, XComArg)
    assert d.get_task("double").upstream_task_ids == {"extract"}
    store, _ = run_dag(d)
    assert store[("double", "return_value")] == 42


def test_multiple_outputs_pushes_each_key():
    @task(multiple_outputs=True)
    def split():
        return {"a": 1, "b": 2}

    @task
    def use(a, b):
        return a + b

    with _dag("tf_multi") as d:
        parts = split()
        use(parts["a"], b=parts["b"])
    store, _ = run_dag(d)
    assert store[("split", "a")] == 1 and store[("split", "b")] == 2
    assert store[("split", "return_value")] == {"a": 1, "b": 2}
    assert store[("use", "return_value")] == 3


def test_dict_return_annotation_turns_on_multiple_outputs():
    @task
    def typed() -> dict[str, int]:
        return {"x": 1}

    with _dag("tf_infer") as d:
        typed()
    assert d.get_task("typed").multiple_outputs is True
    store, _ = run_dag(d)
    assert store[("typed", "x")] == 1


def test_multiple_outputs_with_a_non_dict_result_fails_clearly():
    @task(multiple_outputs=True)
    def wrong():
        return [1, 2]

    with _dag("tf_multi_bad") as d:
        wrong()
    with pytest.raises(AirflowException, match="expected dictionary for multiple_outputs"):
        run_dag(d)


def test_calling_twice_in_a_dag_gives_suffixed_task_ids():
    @task
    def step():
        return 1

    with _dag("tf_dupes") as d:
        step()
        step()
        step()
    assert d.task_ids == ["step", "step__1", "step__2"]


def test_calling_twice_in_a_task_group_counts_the_group_prefixed_id():
    @task
    def step():
        return 1

    @task_group
    def grp():
        step()
        step()

    with _dag("tf_group_dupes") as d:
        step()
        grp()
    assert sorted(d.task_ids) == ["grp.step", "grp.step__1", "step"]


def test_override_changes_operator_arguments():
    @task(retries=1)
    def work():
        return "done"

    with _dag("tf_override") as d:
        work.override(task_id="custom", retries=5, retry_delay=timedelta(seconds=7))()
        work()
    custom = d.get_task("custom")
    assert custom.retries == 5 and custom.retry_delay == timedelta(seconds=7)
    assert d.get_task("work").retries == 1


def test_dag_default_args_apply_to_taskflow_tasks():
    @task
    def work():
        return 1

    defaults = {"retries": 3, "owner": "ana"}
    with DAG("tf_defaults", schedule=None, start_date=START, default_args=defaults) as d:
        work()
    assert d.get_task("work").retries == 3 and d.get_task("work").owner == "ana"


def test_docstring_becomes_doc_md():
    @task
    def documented():
        """Loads the data."""

    with _dag("tf_doc") as d:
        documented()
    assert d.get_task("documented").doc_md == "Loads the data."


def test_context_values_reach_parameters_named_after_context_keys():
    @task
    def stamp(label, ds=None, ti=None):
        return f"{label}-{ds}-{ti.task_id}"

    with _dag("tf_context") as d:
        stamp("x")
    store, _ = run_dag(d)
    assert store[("stamp", "return_value")] == "x-2024-01-01-stamp"


def test_wrong_call_arguments_fail_when_the_dag_is_parsed():
    @task
    def needs_two(a, b):
        return a + b

    with _dag("tf_bad_call"), pytest.raises(TypeError):
        needs_two(1)


def test_context_key_parameter_default_must_be_none():
    @task
    def bad(ds="today"):
        return ds

    with _dag("tf_bad_default"), pytest.raises(ValueError, match="ds can't have a default"):
        bad()


def test_calling_outside_a_dag_is_a_clear_error_and_function_stays_plain():
    @task
    def lonely(x):
        return x + 1

    with pytest.raises(DagDefinitionError, match="outside a DAG"):
        lonely(1)
    assert lonely.function(1) == 2
    assert lonely.__name__ == "lonely"


def test_task_branch_skips_the_other_path():
    @task.branch
    def choose():
        return "left"

    @task
    def left():
        return "L"

    @task
    def right():
        return "R"

    with _dag("tf_branch") as d:
        choose() >> [left(), right()]
    store, skipped = run_dag(d)
    assert skipped == {"right"}
    assert store[("choose", "return_value")] == "left"
    assert ("right", "return_value") not in store


def test_task_short_circuit_skips_everything_downstream():
    @task.short_circuit
    def gate():
        return False

    @task
    def one():
        return 1

    @task
    def two(v):
        return v

    with _dag("tf_short") as d:
        first = one()
        gate() >> first
        two(first)
    _, skipped = run_dag(d)
    assert skipped == {"one", "two"}


def test_task_bash_runs_the_returned_command_rendered():
    @task.bash
    def greet(name):
        return f"echo hello {name} on {{{{ ds }}}}"

    with _dag("tf_bash") as d:
        greet("world")
    store, _ = run_dag(d)
    assert store[("greet", "return_value")] == "hello world on 2024-01-01"


def test_task_bash_rejects_an_empty_command():
    @task.bash
    def nothing():
        return "  "

    with _dag("tf_bash_empty") as d:
        nothing()
    with pytest.raises(TypeError, match="non-empty string"):
        run_dag(d)


def test_task_sensor_returns_its_xcom_value():
    calls = []

    @task.sensor(poke_interval=0, timeout=60)
    def wait_for_it():
        calls.append(1)
        return PokeReturnValue(is_done=len(calls) == 3, xcom_value="ready")

    with _dag("tf_sensor") as d:
        wait_for_it()
    sensor = d.get_task("wait_for_it")
    sensor.sleep = lambda seconds: None
    store, _ = run_dag(d)
    assert len(calls) == 3
    assert store[("wait_for_it", "return_value")] == "ready"
    assert sensor.is_sensor and sensor.operator_name == "@task.sensor"


def test_task_group_with_tasks_inside():
    @task
    def produce():
        return 5

    @task
    def add_one(v):
        return v + 1

    @task_group(group_id="math")
    def math_group(v):
        return add_one(add_one(v))

    @task
    def report(v):
        return f"result={v}"

    with _dag("tf_group") as d:
        report(math_group(produce()))
    assert set(d.task_ids) == {"produce", "math.add_one", "math.add_one__1", "report"}
    assert d.get_task("math.add_one").upstream_task_ids == {"produce"}
    store, _ = run_dag(d)
    assert store[("report", "return_value")] == "result=7"


def test_dag_function_parameters_become_dag_params():
    @task
    def show(value):
        return value

    @dag(schedule=None, start_date=START)
    def tf_params(threshold: int = 10):
        show(threshold)

    d = tf_params()
    assert d.dag_id == "tf_params"
    assert d.params["threshold"] == 10
    store, _ = run_dag(d, params={"threshold": 99})
    assert store[("show", "return_value")] == 99


def test_a_task_group_function_called_again_gets_suffixes_1_2_as_in_airflow():
    @task_group
    def load():
        @task
        def rows():
            return 1

        rows()

    with _dag("tf_group_suffix") as d:
        load()
        load()
        load()
    assert sorted(d.task_group_dict) == ["load", "load__1", "load__2"]
    assert {"load.rows", "load__1.rows", "load__2.rows"} <= set(d.task_ids)
