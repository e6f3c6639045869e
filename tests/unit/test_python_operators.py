"""PythonOperator, BranchPythonOperator, BaseBranchOperator and ShortCircuitOperator as a DAG
author uses them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tradewind import (
    DAG,
    BaseBranchOperator,
    BranchPythonOperator,
    EmptyOperator,
    PythonOperator,
    ShortCircuitOperator,
    TaskGroup,
)
from tradewind.errors import AirflowException, DagDefinitionError
from tradewind.sdk.operators.python import get_current_context
from tradewind.sdk.runtime import InMemoryXComBackend, RuntimeTaskInstance

START = datetime(2024, 1, 1, tzinfo=UTC)


def _context(task, **extra) -> dict:
    ti = RuntimeTaskInstance(
        task=task,
        dag_id=task.dag_id,
        run_id="manual__1",
        try_number=1,
        max_tries=0,
        xcom=InMemoryXComBackend(task.task_id),
    )
    return {
        "ti": ti,
        "task_instance": ti,
        "task": task,
        "dag": task.dag,
        "params": {},
        "ds": "2024-01-01",
        "run_id": "manual__1",
        **extra,
    }


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START)


# -- PythonOperator ---------------------------------------------------------------------------


def test_op_args_and_op_kwargs_reach_the_callable():
    with _dag("py_args"):
        task = PythonOperator(
            task_id="t", python_callable=lambda a, b, c=0: a + b + c, op_args=[1, 2], op_kwargs={"c": 10}
        )
    assert task.execute(_context(task)) == 13


def test_context_keys_are_passed_by_parameter_name():
    def show(x, ds, ti):
        return f"{x} {ds} {ti.task_id}"

    with _dag("py_named"):
        task = PythonOperator(task_id="t", python_callable=show, op_args=["hi"])
    assert task.execute(_context(task)) == "hi 2024-01-01 t"


def test_callable_with_kwargs_gets_the_whole_context_and_op_kwargs():
    seen = {}

    def grab(**kwargs):
        seen.update(kwargs)

    with _dag("py_wild"):
        task = PythonOperator(task_id="t", python_callable=grab, op_kwargs={"extra": 1, "ds": "mine"})
    task.execute(_context(task))
    assert seen["extra"] == 1
    assert seen["ds"] == "mine"  # op_kwargs win over the context
    assert seen["ti"].task_id == "t"
    assert "templates_dict" in seen


def test_callable_without_context_parameters_gets_only_op_kwargs():
    with _dag("py_plain"):
        task = PythonOperator(task_id="t", python_callable=lambda n: n * 2, op_kwargs={"n": 4})
    assert task.execute(_context(task)) == 8


def test_context_key_filled_by_op_args_is_not_passed_twice():
    with _dag("py_clash"):
        task = PythonOperator(task_id="t", python_callable=lambda ds, **kw: (ds, "ds" in kw), op_args=["positional"])
    assert task.execute(_context(task)) == ("positional", False)


def test_templates_dict_is_in_the_context():
    with _dag("py_templates"):
        task = PythonOperator(
            task_id="t", python_callable=lambda templates_dict: templates_dict["q"], templates_dict={"q": "select 1"}
        )
    assert task.execute(_context(task)) == "select 1"


def test_get_current_context_works_inside_the_callable():
    with _dag("py_current"):
        task = PythonOperator(task_id="t", python_callable=lambda: get_current_context()["ds"])
    assert task.execute(_context(task)) == "2024-01-01"


def test_non_callable_is_a_definition_error():
    with _dag("py_bad"), pytest.raises(DagDefinitionError, match="must be callable"):
        PythonOperator(task_id="t", python_callable="not a function")


def test_provide_context_from_airflow_1_is_accepted():
    with _dag("py_provide"), pytest.warns(DeprecationWarning):
        task = PythonOperator(task_id="t", python_callable=lambda: 1, provide_context=True)
    assert task.execute(_context(task)) == 1


def test_xcom_args_in_op_kwargs_make_the_producer_upstream():
    with _dag("py_xcom"):
        first = PythonOperator(task_id="first", python_callable=lambda: 1)
        second = PythonOperator(task_id="second", python_callable=lambda v: v, op_kwargs={"v": first.output})
    assert second.upstream_task_ids == {"first"}


# -- BranchPythonOperator ---------------------------------------------------------------------


def test_branch_skips_the_direct_downstream_it_does_not_follow():
    with _dag("branch"):
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "a")
        a, b, c = (EmptyOperator(task_id=n) for n in "abc")
        after_b = EmptyOperator(task_id="after_b")
        branch >> [a, b, c]
        b >> after_b
    context = _context(branch)
    assert branch.execute(context) == "a"
    # Only direct downstream tasks: the scheduler propagates the skip further.
    assert context["ti"].skip_requests == {"b", "c"}


class WeekdayBranch(BaseBranchOperator):
    """The kind of subclass Airflow 2 users write: the choice is a method reading the context."""

    def choose_branch(self, context):
        return ["weekday_load"] if context["ds"] == "2024-01-01" else "weekend_load"


def test_a_base_branch_operator_subclass_follows_what_choose_branch_returns():
    with _dag("subclassed_branch"):
        branch = WeekdayBranch(task_id="which_day")
        branch >> [EmptyOperator(task_id="weekday_load"), EmptyOperator(task_id="weekend_load")]
    context = _context(branch)
    assert branch.execute(context) == ["weekday_load"]
    assert context["ti"].skip_requests == {"weekend_load"}


def test_a_base_branch_operator_without_choose_branch_says_what_is_missing():
    with _dag("unfinished_branch"):
        branch = BaseBranchOperator(task_id="unfinished")
    with pytest.raises(NotImplementedError, match="BaseBranchOperator must implement choose_branch"):
        branch.execute(_context(branch))


def test_branch_to_a_list_and_to_none():
    with _dag("branch_list"):
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: ["a", "b"])
        branch >> [EmptyOperator(task_id=n) for n in "abc"]
    context = _context(branch)
    branch.execute(context)
    assert context["ti"].skip_requests == {"c"}

    branch.python_callable = lambda: None
    context = _context(branch)
    branch.execute(context)
    assert context["ti"].skip_requests == {"a", "b", "c"}


def test_branch_accepts_a_task_group_id():
    with _dag("branch_group"):
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "grp")
        with TaskGroup("grp") as grp:
            first = EmptyOperator(task_id="first")
            first >> EmptyOperator(task_id="second")
        other = EmptyOperator(task_id="other")
        branch >> [grp, other]
    context = _context(branch)
    branch.execute(context)
    assert context["ti"].skip_requests == {"other"}


def test_branch_does_not_skip_a_join_reached_through_the_followed_task():
    with _dag("branch_join"):
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "task1")
        task1, join = EmptyOperator(task_id="task1"), EmptyOperator(task_id="join")
        branch >> [task1, join]
        task1 >> join
    context = _context(branch)
    branch.execute(context)
    assert context["ti"].skip_requests == set()


def test_unknown_branch_id_names_it_and_the_valid_downstream_ids():
    with _dag("branch_unknown"):
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "nope")
        branch >> [EmptyOperator(task_id="a"), EmptyOperator(task_id="b")]
    with pytest.raises(AirflowException) as err:
        branch.execute(_context(branch))
    message = str(err.value)
    assert "nope" in message and "'a'" in message and "'b'" in message


def test_branch_result_of_wrong_type_is_an_error():
    with _dag("branch_type"):
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: 3)
        branch >> EmptyOperator(task_id="a")
    with pytest.raises(AirflowException, match="must be either None, a task ID"):
        branch.execute(_context(branch))


# -- ShortCircuitOperator ---------------------------------------------------------------------


def _short_circuit_dag(dag_id: str, result, ignore: bool = True):
    with _dag(dag_id):
        check = ShortCircuitOperator(
            task_id="check", python_callable=lambda: result, ignore_downstream_trigger_rules=ignore
        )
        a, b, c = (EmptyOperator(task_id=n) for n in "abc")
        check >> a >> b >> c
    return check


def test_falsy_condition_skips_all_downstream_tasks_recursively():
    check = _short_circuit_dag("sc_all", result=0)
    context = _context(check)
    assert check.execute(context) == 0
    assert context["ti"].skip_requests == {"a", "b", "c"}


def test_without_ignoring_trigger_rules_only_direct_downstream_is_skipped():
    check = _short_circuit_dag("sc_direct", result=False, ignore=False)
    context = _context(check)
    check.execute(context)
    assert context["ti"].skip_requests == {"a"}


def test_truthy_condition_skips_nothing_and_is_returned():
    check = _short_circuit_dag("sc_true", result={"rows": 3})
    context = _context(check)
    assert check.execute(context) == {"rows": 3}
    assert context["ti"].skip_requests == set()
