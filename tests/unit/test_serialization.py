"""A DAG becomes plain JSON the master and the UI read, and comes back the same."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tradewind import (
    DAG,
    BaseBranchOperator,
    BashOperator,
    BranchPythonOperator,
    DateTimeSensor,
    EmptyOperator,
    FileSensor,
    Param,
    PythonOperator,
    PythonSensor,
    ShortCircuitOperator,
    TaskGroup,
    TimeDeltaSensor,
    task,
)
from tradewind.sdk.serialization import dag_hash, deserialize_dag, serialize_dag

START = datetime(2024, 1, 1, tzinfo=UTC)


def _noop(**_):
    return True


class _AlwaysFirst(BaseBranchOperator):
    def choose_branch(self, context):
        return "t"


def _every_kind_of_dag() -> DAG:
    with DAG(
        "everything",
        schedule="0 3 * * *",
        start_date=START,
        end_date=datetime(2030, 1, 1, tzinfo=UTC),
        catchup=True,
        tags=["b", "a"],
        params={"n": Param(5, type="integer", minimum=1), "plain": "x"},
        max_active_runs=2,
        max_active_tasks=4,
        dagrun_timeout=timedelta(hours=1),
        doc_md="# doc",
        default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    ) as dag:
        start = EmptyOperator(task_id="start")
        bash = BashOperator(
            task_id="bash",
            bash_command="echo {{ ds }}",
            env={"A": "1"},
            execution_timeout=timedelta(minutes=5),
            pool="small",
            pool_slots=2,
            priority_weight=7,
            queue="q1",
            trigger_rule="all_done",
        )
        py = PythonOperator(task_id="py", python_callable=_noop, op_kwargs={"x": "{{ ds }}"})
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "short")
        short = ShortCircuitOperator(task_id="short", python_callable=_noop, ignore_downstream_trigger_rules=False)
        with TaskGroup("sensors", tooltip="waits"):
            PythonSensor(
                task_id="py_sensor",
                python_callable=_noop,
                mode="reschedule",
                poke_interval=5,
                timeout=60,
                soft_fail=True,
            )
            FileSensor(task_id="file", filepath="/tmp/x")
            TimeDeltaSensor(task_id="delta", delta=timedelta(minutes=1))
            DateTimeSensor(task_id="at", target_time="{{ data_interval_end }}")

        @task(multiple_outputs=True)
        def produce() -> dict:
            return {"a": 1}

        @task
        def consume(value):
            return value

        start >> [bash, py] >> branch >> short
        consume(produce()["a"])
    return dag


def test_serialized_form_is_plain_json_and_round_trips_exactly():
    dag = _every_kind_of_dag()
    data = serialize_dag(dag)
    assert json.loads(json.dumps(data)) == data
    again = serialize_dag(deserialize_dag(data))
    assert again == data
    assert dag_hash(again) == dag_hash(data)


def test_serialized_dag_keeps_what_scheduler_and_ui_need():
    restored = deserialize_dag(serialize_dag(_every_kind_of_dag()))
    assert restored.timetable.summary == "0 3 * * *"
    assert restored.start_date == START and restored.catchup is True
    assert restored.tags == ["a", "b"]
    assert restored.params["n"] == 5
    bash = restored.get_task("bash")
    assert (bash.retries, bash.retry_delay, bash.execution_timeout) == (2, 30.0, 300.0)
    assert (bash.pool, bash.pool_slots, bash.priority_weight, bash.queue) == ("small", 2, 7, "q1")
    assert bash.trigger_rule == "all_done" and bash.operator_name == "BashOperator"
    assert bash.bash_command == "echo {{ ds }}"
    assert restored.get_task("branch").upstream_task_ids == {"bash", "py"}
    sensor = restored.get_task("sensors.py_sensor")
    assert sensor.is_sensor and sensor.mode == "reschedule" and sensor.poke_interval == 5.0
    assert sensor.task_group.group_id == "sensors"
    assert restored.get_task("consume").upstream_task_ids == {"produce"}
    assert restored.get_task("consume").template_values["op_args"] == [{"__xcomarg__": "produce", "key": "a"}]
    assert [t.task_id for t in restored.topological_sort()][0] in {"start", "produce", "sensors.at"}


def test_hash_changes_only_when_the_dag_changes():
    first = dag_hash(serialize_dag(_every_kind_of_dag()))
    assert dag_hash(serialize_dag(_every_kind_of_dag())) == first
    changed = _every_kind_of_dag()
    changed.get_task("bash").retries = 9
    assert dag_hash(serialize_dag(changed)) != first


def test_each_operator_kind_round_trips_alone():
    for factory in (
        lambda: EmptyOperator(task_id="t"),
        lambda: BashOperator(task_id="t", bash_command="true"),
        lambda: PythonOperator(task_id="t", python_callable=_noop),
        lambda: BranchPythonOperator(task_id="t", python_callable=_noop),
        lambda: _AlwaysFirst(task_id="t"),
        lambda: ShortCircuitOperator(task_id="t", python_callable=_noop),
        lambda: PythonSensor(task_id="t", python_callable=_noop),
        lambda: FileSensor(task_id="t", filepath="x"),
        lambda: TimeDeltaSensor(task_id="t", delta=timedelta(seconds=1)),
        lambda: DateTimeSensor(task_id="t", target_time=START),
    ):
        with DAG("single", start_date=START, schedule=None) as dag:
            factory()
        data = serialize_dag(dag)
        assert serialize_dag(deserialize_dag(data)) == data, data["tasks"][0]["operator"]


def test_mapped_operators_round_trip_with_what_they_map_over():
    with DAG("mapped", start_date=START, schedule=None) as dag:

        @task
        def numbers():
            return [1, 2]

        @task
        def double(x):
            return 2 * x

        double.expand(x=numbers())
        BashOperator.partial(task_id="echo", retries=3).expand(bash_command=["echo a", "echo b"])
        BashOperator.partial(task_id="kwargs").expand_kwargs(numbers.override(task_id="sets")())
        PythonSensor.partial(task_id="wait", mode="reschedule").expand(python_callable=[_noop])
    data = serialize_dag(dag)
    json.dumps(data)
    tasks = {t["task_id"]: t for t in data["tasks"]}
    assert tasks["double"]["expand_input"]["args"]["x"] == {"source": {"task_id": "numbers", "key": "return_value"}}
    assert (tasks["echo"]["operator"], tasks["echo"]["retries"]) == ("BashOperator", 3)
    assert tasks["kwargs"]["expand_input"] == {
        "kind": "list_of_dicts",
        "source": {"task_id": "sets", "key": "return_value"},
    }
    assert (tasks["wait"]["is_sensor"], tasks["wait"]["mode"]) == (True, "reschedule")
    again = deserialize_dag(data)
    assert serialize_dag(again) == data
    assert [t.task_id for t in again.tasks if t.is_mapped] == ["double", "echo", "kwargs", "wait"]
