"""Dynamic task mapping without servers: what a DAG file may write, what the parser refuses, how a
mapped task serializes, which element each map index gets, and when the planner expands, skips or
fails a mapped task."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent

import pytest

from tradewind import DAG, task
from tradewind.decisions.planner import MapExpansion, MapFailure, TaskNode, TIView, plan_run
from tradewind.decisions.task_nodes import task_nodes, task_rows
from tradewind.sdk.dag_file import load_dag_file
from tradewind.sdk.expand_input import element_kwargs, map_length
from tradewind.sdk.mapped_operator import MappedOperator
from tradewind.sdk.operators.bash import BashOperator
from tradewind.sdk.runtime import InMemoryXComBackend, RuntimeTaskInstance
from tradewind.sdk.serialization import deserialize_dag, serialize_dag
from tradewind.states import DagRunState
from tradewind.states import TaskInstanceState as TI

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
START = datetime(2024, 1, 1, tzinfo=UTC)


def mapping_dag() -> DAG:
    with DAG("mapping", start_date=START, schedule=None) as dag:

        @task
        def numbers():
            return [1, 2, 3]

        @task
        def add(x, offset):
            return x + offset

        @task
        def total(values):
            return sum(values)

        total(add.partial(offset=10).expand(x=numbers()))
        BashOperator.partial(task_id="echo", retries=2).expand(bash_command=["echo a", "echo b"])
        BashOperator.partial(task_id="by_kwargs").expand_kwargs(
            [{"bash_command": "echo 1"}, {"bash_command": "echo 2", "env": {"A": "1"}}]
        )
    return dag


# -- authoring and parse-time checks -------------------------------------------------------------


def test_expand_creates_one_mapped_task_that_depends_on_what_it_maps_over():
    dag = mapping_dag()
    add = dag.get_task("add")
    assert isinstance(add, MappedOperator)
    assert add.upstream_task_ids == {"numbers"}
    assert dag.get_task("total").upstream_task_ids == {"add"}
    echo = dag.get_task("echo")
    assert (echo.operator_name, echo.retries, echo.bash_command) == ("BashOperator", 2, ["echo a", "echo b"])


def parse_error(tmp_path: Path, body: str) -> str:
    path = tmp_path / "bad_mapping.py"
    path.write_text(
        dedent("""
        from datetime import datetime, timezone
        from tradewind import DAG, task
        from tradewind.sdk.operators.bash import BashOperator

        @task
        def double(x, factor=2):
            return x * factor

        with DAG("bad_mapping", start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), schedule=None):
    """)
        + "    "
        + body
        + "\n"
    )
    result = load_dag_file(path)
    assert result.dags == [] and result.error is not None
    return result.error


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'BashOperator.partial(task_id="t").expand(bash_comand=["a"])',
            "task 't': BashOperator.expand() got an unexpected keyword argument 'bash_comand'",
        ),
        (
            'BashOperator.partial(task_id="t").expand(task_id=["a", "b"])',
            "task 't': argument 'task_id' cannot be mapped",
        ),
        ('BashOperator.partial(task_id="t").expand(retries=[1, 2])', "task 't': argument 'retries' cannot be mapped"),
        (
            'BashOperator.partial(task_id="t", bash_command="x").expand(bash_command=["a"])',
            "task 't': argument 'bash_command' is given to both partial() and expand()",
        ),
        (
            'BashOperator.partial(task_id="t").expand(bash_command="echo")',
            "task 't': expand() got a str for 'bash_command'",
        ),
        (
            'BashOperator.partial(task_id="t").expand_kwargs([{"bash_command": "a"}, {"nope": 1}])',
            "task 't': BashOperator.expand_kwargs() got an unexpected keyword argument 'nope'",
        ),
        ('BashOperator.partial(bash_command="x").expand(env=[{}])', "BashOperator.partial() needs a task_id"),
        (
            'BashOperator.partial(task_id="t").expand(env=[{}])',
            "task 't': BashOperator needs 'bash_command', given neither to partial() nor to expand()",
        ),
        (
            'BashOperator.partial(task_id="t").expand_kwargs([{"bash_command": "a"}, {"env": {}}])',
            "task 't': BashOperator needs 'bash_command', given neither to partial() nor to expand_kwargs() element 1",
        ),
        ("double.expand(y=[1, 2])", "task 'double': expand() got an unexpected keyword argument 'y'"),
        ("double.partial(x=1).expand(x=[1, 2])", "argument 'x' is given to both partial() and expand()"),
        ("double.expand()", "expand() needs at least one argument"),
    ],
)
def test_mapping_mistakes_are_one_line_import_errors(tmp_path: Path, body: str, message: str):
    error = parse_error(tmp_path, body)
    assert message in error
    assert "\n" not in error.strip().splitlines()[-1]


def test_a_mapped_operator_round_trips_through_serialization():
    dag = mapping_dag()
    data = serialize_dag(dag)
    tasks = {t["task_id"]: t for t in data["tasks"]}
    assert tasks["add"]["expand_input"] == {
        "kind": "dict_of_lists",
        "args": {"x": {"source": {"task_id": "numbers", "key": "return_value"}}},
    }
    assert tasks["echo"]["expand_input"] == {"kind": "dict_of_lists", "args": {"bash_command": {"length": 2}}}
    assert tasks["by_kwargs"]["expand_input"] == {"kind": "list_of_dicts", "length": 2}
    assert "expand_input" not in tasks["total"]
    again = deserialize_dag(data)
    assert serialize_dag(again) == data
    assert again.get_task("add").is_mapped and not again.get_task("total").is_mapped
    assert task_nodes(again)["add"].expand_input == tasks["add"]["expand_input"]


def test_literal_mappings_are_expanded_when_the_run_is_created():
    rows = {(r["task_id"], r["map_index"]) for r in task_rows(deserialize_dag(serialize_dag(mapping_dag())))}
    assert {("echo", 0), ("echo", 1), ("by_kwargs", 0), ("by_kwargs", 1), ("add", -1), ("numbers", -1)} <= rows
    assert ("echo", -1) not in rows
    # Past the limit the run starts with the unexpanded task instance; the planner fails it.
    limited = {(r["task_id"], r["map_index"]) for r in task_rows(mapping_dag(), max_map_length=1)}
    assert ("echo", -1) in limited and ("echo", 0) not in limited


# -- which element a task instance gets ----------------------------------------------------------


def test_several_expand_arguments_map_over_their_cross_product_last_varying_fastest():
    resolved = {"x": [1, 2], "y": ["a", "b", "c"]}
    elements = [element_kwargs("t", "dict_of_lists", resolved, i) for i in range(6)]
    assert elements == [
        {"x": 1, "y": "a"},
        {"x": 1, "y": "b"},
        {"x": 1, "y": "c"},
        {"x": 2, "y": "a"},
        {"x": 2, "y": "b"},
        {"x": 2, "y": "c"},
    ]
    spec = {"kind": "dict_of_lists", "args": {"x": {"length": 2}, "y": {"length": 3}}}
    assert map_length("t", spec, {}, 1024) == 6


def test_a_dict_is_mapped_as_its_key_value_pairs():
    assert element_kwargs("t", "dict_of_lists", {"region": {"eu": 3, "us": 5}}, 1) == {"region": ("us", 5)}


def test_expand_kwargs_elements_are_keyword_argument_sets():
    assert element_kwargs("t", "list_of_dicts", [{"a": 1}, {"a": 2, "b": 3}], 1) == {"a": 2, "b": 3}
    with pytest.raises(Exception, match="expand_kwargs\\(\\) element 0 is a int"):
        element_kwargs("t", "list_of_dicts", [5], 0)


def test_unmapping_builds_the_real_operator_in_the_mapped_tasks_place():
    dag = mapping_dag()
    xcom = InMemoryXComBackend("numbers", {("numbers", "return_value"): [1, 2, 3]})
    add = dag.get_task("add")
    ti = RuntimeTaskInstance(task=add, dag_id="mapping", run_id="r", try_number=1, max_tries=0, xcom=xcom, map_index=2)
    context = {"ti": ti}
    operator = add.unmap_for(context)
    assert context["expanded_ti_count"] == 3
    assert not isinstance(operator, MappedOperator)
    assert (operator.task_id, operator.op_kwargs, operator.dag) == ("add", {"offset": 10, "x": 3}, dag)
    assert dag.get_task("add") is add  # the DAG still holds the mapped task
    echo = dag.get_task("echo").unmap({"bash_command": "echo b"})
    assert (echo.bash_command, echo.retries) == ("echo b", 2)


def test_a_downstream_pull_of_a_mapped_task_gives_the_list_of_its_results():
    dag = mapping_dag()
    xcom = InMemoryXComBackend("total", {("add", "return_value"): [11, 12, 13]})
    ti = RuntimeTaskInstance(
        task=dag.get_task("total"), dag_id="mapping", run_id="r", try_number=1, max_tries=0, xcom=xcom
    )
    assert ti.xcom_pull(task_ids="add") == [11, 12, 13]


# -- planner decisions ---------------------------------------------------------------------------

SOURCE = {"kind": "dict_of_lists", "args": {"x": {"source": {"task_id": "make", "key": "return_value"}}}}


def node(task_id: str, *upstream: str, expand_input: dict | None = None, rule: str = "all_success") -> TaskNode:
    return TaskNode(
        task_id=task_id,
        upstream=frozenset(upstream),
        trigger_rule=rule,
        retries=0,
        expand_input=expand_input,
    )


def ti(task_id: str, state: TI = TI.NONE, map_index: int = -1, try_number: int = 0) -> TIView:
    return TIView(task_id, map_index, state, try_number, 0)


TASKS = {n.task_id: n for n in (node("make"), node("mapped", "make", expand_input=SOURCE), node("reduce", "mapped"))}


def test_a_mapped_task_waits_as_one_unexpanded_task_instance_until_its_upstream_succeeded():
    plan = plan_run(TASKS, [ti("make", TI.RUNNING, try_number=1), ti("mapped"), ti("reduce")], NOW)
    assert (plan.schedule, plan.expand, plan.run_state) == ([], [], None)


def test_the_planner_expands_a_mapped_task_to_the_length_of_the_pushed_list():
    tis = [ti("make", TI.SUCCESS, try_number=1), ti("mapped"), ti("reduce")]
    plan = plan_run(TASKS, tis, NOW, pushed={("make", "return_value"): [5, 6, 7]})
    assert plan.expand == [MapExpansion("mapped", 3)]
    assert plan.schedule == [] and plan.run_state is None

    expanded = [ti("make", TI.SUCCESS, try_number=1), *(ti("mapped", map_index=i) for i in range(3)), ti("reduce")]
    plan = plan_run(TASKS, expanded, NOW, pushed={("make", "return_value"): [5, 6, 7]})
    assert plan.expand == []
    assert [(d.task_id, d.map_index) for d in plan.schedule] == [("mapped", 0), ("mapped", 1), ("mapped", 2)]


def test_a_dict_pushed_is_mapped_over_its_items():
    tis = [ti("make", TI.SUCCESS, try_number=1), ti("mapped"), ti("reduce")]
    plan = plan_run(TASKS, tis, NOW, pushed={("make", "return_value"): {"a": 1, "b": 2}})
    assert plan.expand == [MapExpansion("mapped", 2)]


def test_mapping_over_an_empty_list_skips_the_mapped_task_and_its_downstream_follows_its_trigger_rule():
    tasks = {**TASKS, "after_all": node("after_all", "mapped", rule="all_done")}
    tis = [ti("make", TI.SUCCESS, try_number=1), ti("mapped"), ti("reduce"), ti("after_all")]
    plan = plan_run(tasks, tis, NOW, pushed={("make", "return_value"): []})
    assert plan.skip == [("mapped", -1), ("reduce", -1)]
    assert [d.task_id for d in plan.schedule] == ["after_all"]


@pytest.mark.parametrize(
    ("pushed", "reason"),
    [
        (
            {("make", "return_value"): 42},
            "mapped task 'mapped' cannot map 'x' over the XCom 'return_value' of task "
            "'make': it is a int (42), and mapping needs a list or a dict",
        ),
        ({}, "mapped task 'mapped' maps 'x' over the XCom 'return_value' of task 'make', which pushed no value"),
        (
            {("make", "return_value"): list(range(6))},
            "mapped task 'mapped' would expand into 6 task instances, more "
            "than the limit of 5 (TRADEWIND_MAX_MAP_LENGTH)",
        ),
    ],
)
def test_an_unmappable_value_fails_the_mapped_task_with_its_reason(pushed: dict, reason: str):
    tis = [ti("make", TI.SUCCESS, try_number=1), ti("mapped"), ti("reduce")]
    plan = plan_run(TASKS, tis, NOW, pushed=pushed, max_map_length=5)
    assert plan.map_failed == [MapFailure("mapped", (-1,), reason)]
    assert plan.upstream_failed == [("reduce", -1)]
    assert plan.run_state is DagRunState.FAILED


def test_downstream_trigger_rules_count_every_mapped_task_instance():
    done = [ti("make", TI.SUCCESS, try_number=1)]
    some_failed = [
        *done,
        ti("mapped", TI.SUCCESS, 0, 1),
        ti("mapped", TI.FAILED, 1, 1),
        ti("mapped", TI.RUNNING, 2, 1),
        ti("reduce"),
    ]
    plan = plan_run(TASKS, some_failed, NOW)
    assert plan.upstream_failed == [("reduce", -1)]
    all_ok = [*done, *(ti("mapped", TI.SUCCESS, i, 1) for i in range(3)), ti("reduce")]
    assert [d.task_id for d in plan_run(TASKS, all_ok, NOW).schedule] == ["reduce"]
    waiting = [*done, ti("mapped", TI.SUCCESS, 0, 1), ti("mapped", TI.RUNNING, 1, 1), ti("reduce")]
    assert plan_run(TASKS, waiting, NOW).schedule == []


def test_a_cleared_mapped_task_is_resized_when_its_upstream_now_pushes_another_length():
    cleared = [
        ti("make", TI.SUCCESS, try_number=2),
        *(ti("mapped", map_index=i, try_number=1) for i in range(3)),
        ti("reduce"),
    ]
    plan = plan_run(TASKS, cleared, NOW, pushed={("make", "return_value"): [1, 2]})
    assert plan.expand == [MapExpansion("mapped", 2)]
    # One instance cleared alone is simply run again.
    one = [
        ti("make", TI.SUCCESS, try_number=1),
        ti("mapped", TI.SUCCESS, 0, 1),
        ti("mapped", TI.NONE, 1, 1),
        ti("reduce"),
    ]
    assert [(d.task_id, d.map_index) for d in plan_run(TASKS, one, NOW).schedule] == [("mapped", 1)]


def test_taskflow_expand_kwargs_over_another_tasks_output():
    with DAG("kwargs_mapping", start_date=START, schedule=None) as dag:

        @task
        def settings():
            return [{"x": 1}, {"x": 2, "y": 5}]

        @task
        def combine(x, y=0):
            return x + y

        combine.expand_kwargs(settings())
    combine_task = dag.get_task("combine")
    assert combine_task.expand_input_json == {
        "kind": "list_of_dicts",
        "source": {"task_id": "settings", "key": "return_value"},
    }
    assert combine_task.upstream_task_ids == {"settings"}
    assert combine_task.unmap({"x": 2, "y": 5}).op_kwargs == {"x": 2, "y": 5}


@pytest.mark.parametrize(("source_state", "expected"), [(TI.FAILED, "upstream_failed"), (TI.SKIPPED, "skipped")])
def test_a_mapped_task_run_by_all_done_follows_an_upstream_that_pushed_nothing(source_state: TI, expected: str):
    tasks = {"make": node("make"), "mapped": node("mapped", "make", expand_input=SOURCE, rule="all_done")}
    plan = plan_run(tasks, [ti("make", source_state, try_number=1), ti("mapped")], NOW)
    decided = {"upstream_failed": plan.upstream_failed, "skipped": plan.skip}
    assert decided[expected] == [("mapped", -1)]
    assert plan.map_failed == [] and plan.schedule == []


# -- mapped task groups --------------------------------------------------------------------------


def group_dag() -> DAG:
    from tradewind import task_group

    with DAG("group_mapping", start_date=START, schedule=None) as dag:

        @task
        def files():
            return ["a", "b"]

        @task
        def load(name, prefix):
            return prefix + name

        @task
        def check(loaded):
            return len(loaded)

        @task_group
        def per_file(name, prefix):
            return check(load(name, prefix))

        @task
        def summary(values):
            return list(values)

        summary(per_file.partial(prefix="raw/").expand(name=files()))
    return dag


def test_every_task_of_a_mapped_task_group_is_mapped_with_the_group():
    dag = group_dag()
    data = {t["task_id"]: t for t in serialize_dag(dag)["tasks"]}
    source = {"kind": "dict_of_lists", "args": {"name": {"source": {"task_id": "files", "key": "return_value"}}}}
    for task_id in ("per_file.load", "per_file.check"):
        assert (data[task_id]["expand_input"], data[task_id]["mapped_group"]) == (source, "per_file")
    assert "mapped_group" not in data["summary"] and "expand_input" not in data["summary"]
    assert dag.get_task("per_file.load").upstream_task_ids == {"files"}
    assert dag.get_task("summary").upstream_task_ids == {"per_file.check"}
    nodes = task_nodes(deserialize_dag(serialize_dag(dag)))
    assert nodes["per_file.check"].mapped_group == "per_file" and nodes["summary"].mapped_group is None


def test_a_task_of_a_mapped_group_pulls_its_own_map_index_and_resolves_its_element():
    dag = group_dag()
    store = {("files", "return_value"): ["a", "b"], ("per_file.load", "return_value"): "raw/b"}

    class Backend(InMemoryXComBackend):
        def pull(self, task_id, key, map_index):  # type: ignore[no-untyped-def]
            assert (task_id, map_index) == ("per_file.load", 1)
            return True, store[(task_id, key)]

    check = dag.get_task("per_file.check")
    ti = RuntimeTaskInstance(
        task=check,
        dag_id="group_mapping",
        run_id="r",
        try_number=1,
        max_tries=0,
        xcom=Backend("per_file.check", store),
        map_index=1,
    )
    assert ti.xcom_pull(task_ids="per_file.load") == "raw/b"
    load = dag.get_task("per_file.load")
    name = load.op_args[0]
    load_ti = RuntimeTaskInstance(
        task=load,
        dag_id="group_mapping",
        run_id="r",
        try_number=1,
        max_tries=0,
        xcom=InMemoryXComBackend("per_file.load", store),
        map_index=1,
    )
    assert name.resolve({"ti": load_ti}) == "b"


def test_within_a_mapped_group_each_task_instance_waits_for_its_own_map_index_only():
    source = {"kind": "dict_of_lists", "args": {"x": {"source": {"task_id": "make", "key": "return_value"}}}}
    tasks = {
        n.task_id: n
        for n in (
            node("make"),
            TaskNode(
                "g.a", frozenset({"make"}), "all_success", 0, 0.0, False, None, expand_input=source, mapped_group="g"
            ),
            TaskNode(
                "g.b", frozenset({"g.a"}), "all_success", 0, 0.0, False, None, expand_input=source, mapped_group="g"
            ),
            node("after", "g.b"),
        )
    }
    unexpanded = [ti("make", TI.SUCCESS, try_number=1), ti("g.a"), ti("g.b"), ti("after")]
    plan = plan_run(tasks, unexpanded, NOW, pushed={("make", "return_value"): [1, 2, 3]})
    assert plan.expand == [MapExpansion("g.a", 3), MapExpansion("g.b", 3)]
    tis = [
        ti("make", TI.SUCCESS, try_number=1),
        ti("g.a", TI.SUCCESS, 0, 1),
        ti("g.a", TI.FAILED, 1, 1),
        ti("g.a", TI.RUNNING, 2, 1),
        *(ti("g.b", map_index=i) for i in range(3)),
        ti("after"),
    ]
    plan = plan_run(tasks, tis, NOW, pushed={("make", "return_value"): [1, 2, 3]})
    assert [(d.task_id, d.map_index) for d in plan.schedule] == [("g.b", 0)]
    assert plan.upstream_failed == [("g.b", 1), ("after", -1)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("grp.expand(missing=[1])", "task group 'grp': expand() got an unexpected keyword argument 'missing'"),
        ("inner.expand(x=[1])", "is mapped with the group; it cannot be expanded again"),
    ],
)
def test_mapped_task_group_mistakes_are_import_errors(tmp_path: Path, body: str, message: str):
    path = tmp_path / "bad_group.py"
    path.write_text(
        dedent("""
        from datetime import datetime, timezone
        from tradewind import DAG, task, task_group

        @task
        def double(x):
            return 2 * x

        @task_group
        def grp(x):
            double(x)

        @task_group
        def inner(x):
            double.expand(x=[x])

        with DAG("bad_group", start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), schedule=None):
    """)
        + "    "
        + body
        + "\n"
    )
    result = load_dag_file(path)
    assert result.dags == [] and message in (result.error or "")


def test_operator_partial_expand_returns_the_mapped_operator_whose_output_feeds_another_task():
    from tradewind.sdk.mapped_operator import MappedOperator

    with DAG("mapped_output", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)) as dag:
        echo = BashOperator.partial(task_id="echo").expand(bash_command=["echo a", "echo b"])

        @task
        def collect(lines):
            return list(lines)

        collect(echo.output)
    assert isinstance(echo, MappedOperator)
    assert dag.get_task("collect").upstream_task_ids == {"echo"}
    assert echo.output.operator is echo
