"""Writing a DAG: dependencies, default_args, task groups, and the parse-time errors a user sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tradewind import DAG, BashOperator, EmptyOperator, TaskGroup, chain, cross_downstream
from tradewind.errors import (
    DagCycleError,
    DagDefinitionError,
    DuplicateTaskIdError,
    InvalidScheduleError,
    InvalidTriggerRuleError,
    TaskAlreadyInDagError,
    TradewindException,
)

START = datetime(2024, 1, 1, tzinfo=UTC)


def test_shift_operators_link_tasks_and_lists_on_either_side():
    with DAG("deps", start_date=START, schedule=None) as dag:
        a, b, c, d = (EmptyOperator(task_id=x) for x in "abcd")
        a >> [b, c] >> d
    assert dag.get_task("a").downstream_task_ids == {"b", "c"}
    assert dag.get_task("d").upstream_task_ids == {"b", "c"}
    assert [t.task_id for t in dag.roots] == ["a"]
    assert [t.task_id for t in dag.leaves] == ["d"]


def test_left_shift_and_set_upstream_mean_the_same_as_right_shift():
    with DAG("deps_left", start_date=START, schedule=None) as dag:
        a, b, c = (EmptyOperator(task_id=x) for x in "abc")
        c << b
        b.set_upstream(a)
    assert dag.get_task("c").upstream_task_ids == {"b"}
    assert dag.get_task("b").upstream_task_ids == {"a"}


def test_chain_links_lists_pairwise_and_cross_downstream_links_all_pairs():
    with DAG("chains", start_date=START, schedule=None) as dag:
        t = {x: EmptyOperator(task_id=x) for x in ["s", "a1", "a2", "b1", "b2", "e", "x1", "x2", "y1", "y2"]}
        chain(t["s"], [t["a1"], t["a2"]], [t["b1"], t["b2"]], t["e"])
        cross_downstream([t["x1"], t["x2"]], [t["y1"], t["y2"]])
    assert dag.get_task("b1").upstream_task_ids == {"a1"}
    assert dag.get_task("b2").upstream_task_ids == {"a2"}
    assert dag.get_task("e").upstream_task_ids == {"b1", "b2"}
    assert dag.get_task("y1").upstream_task_ids == {"x1", "x2"}


def test_chain_refuses_lists_of_different_lengths():
    with DAG("bad_chain", start_date=START, schedule=None), pytest.raises(ValueError, match="different lengths"):
        chain([EmptyOperator(task_id="a")], [EmptyOperator(task_id="b"), EmptyOperator(task_id="c")])


def test_default_args_fill_operator_arguments_but_explicit_ones_win():
    default_args = {
        "retries": 3,
        "retry_delay": timedelta(seconds=7),
        "owner": "data",
        "queue": "etl",
        "bash_command": "echo from-defaults",
    }
    with DAG("defaults", start_date=START, schedule=None, default_args=default_args) as dag:
        a = BashOperator(task_id="a")
        b = BashOperator(task_id="b", bash_command="echo mine", retries=0)
    assert (a.retries, a.retry_delay, a.owner, a.queue) == (3, timedelta(seconds=7), "data", "etl")
    assert a.bash_command == "echo from-defaults"
    assert (b.retries, b.bash_command) == (0, "echo mine")
    assert dag.owner == "data"


def test_task_group_prefixes_ids_nests_and_applies_its_default_args():
    with DAG("groups", start_date=START, schedule=None, default_args={"retries": 1}) as dag:
        start = EmptyOperator(task_id="start")
        with TaskGroup("outer", default_args={"retries": 2}) as outer:
            with TaskGroup("inner"):
                leaf = EmptyOperator(task_id="leaf")
            EmptyOperator(task_id="first") >> leaf
        with TaskGroup("flat", prefix_group_id=False):
            EmptyOperator(task_id="unprefixed")
        end = EmptyOperator(task_id="end")
        start >> outer >> end
    assert leaf.task_id == "outer.inner.leaf"
    assert leaf.retries == 2 and start.retries == 1
    assert dag.has_task("unprefixed")
    assert dag.get_task("outer.first").upstream_task_ids == {"start"}
    assert dag.get_task("end").upstream_task_ids == {"outer.inner.leaf"}
    assert set(dag.task_group_dict) == {"outer", "outer.inner", "flat"}


def test_a_cycle_is_refused_naming_the_tasks_on_it():
    with DAG("cyclic", start_date=START, schedule=None) as dag:
        a, b, c = (EmptyOperator(task_id=x) for x in "abc")
        a >> b >> c >> a
    with pytest.raises(DagCycleError, match=r"DAG 'cyclic' has a cycle: a -> b -> c -> a"):
        dag.validate()


def test_duplicate_task_id_is_refused():
    with DAG("dupes", start_date=START, schedule=None):
        EmptyOperator(task_id="same")
        with pytest.raises(DuplicateTaskIdError, match="more than one task with id 'same'"):
            EmptyOperator(task_id="same")


def test_unknown_trigger_rule_is_refused_naming_the_task():
    with (
        DAG("rules", start_date=START, schedule=None),
        pytest.raises(InvalidTriggerRuleError, match=r"task 'x': unknown trigger rule 'sometimes'"),
    ):
        EmptyOperator(task_id="x", trigger_rule="sometimes")


def test_bad_cron_is_refused_naming_the_dag():
    with pytest.raises(InvalidScheduleError, match=r"DAG 'cron'.*61 \* \* \* \*"):
        DAG("cron", start_date=START, schedule="61 * * * *")


def test_schedule_without_start_date_is_refused():
    with DAG("no_start", schedule="@daily") as dag:
        EmptyOperator(task_id="a")
    with pytest.raises(DagDefinitionError, match=r"has a schedule \(@daily\) but no start_date"):
        dag.validate()


def test_unscheduled_dag_needs_no_start_date():
    with DAG("manual_only", schedule=None) as dag:
        EmptyOperator(task_id="a")
    dag.validate()


def test_a_task_cannot_join_a_second_dag():
    with DAG("first", start_date=START, schedule=None):
        task = EmptyOperator(task_id="shared")
    second = DAG("second", start_date=START, schedule=None)
    with pytest.raises(TaskAlreadyInDagError, match="already belongs to DAG 'first'"):
        task.dag = second


def test_schedule_interval_is_the_old_name_of_schedule_and_default_is_daily():
    assert DAG("old", start_date=START, schedule_interval="@hourly").timetable.summary == "@hourly"
    assert DAG("implicit", start_date=START).timetable.summary == str(timedelta(days=1))


def test_unknown_operator_argument_is_refused_with_its_name():
    with (
        DAG("kwargs", start_date=START, schedule=None),
        pytest.raises(
            TradewindException, match=r"invalid arguments were passed to EmptyOperator \(task_id: x\): colour"
        ),
    ):
        EmptyOperator(task_id="x", colour="red")


def test_dependencies_across_dags_are_refused():
    with DAG("left", start_date=START, schedule=None):
        a = EmptyOperator(task_id="a")
    with DAG("right", start_date=START, schedule=None):
        b = EmptyOperator(task_id="b")
    with pytest.raises(DagDefinitionError, match="are in different DAGs"):
        a >> b


def test_naive_start_date_means_utc():
    dag = DAG("naive", start_date=datetime(2024, 1, 1), schedule="@daily")
    assert dag.start_date == START
