"""Setup and teardown tasks as Airflow 2.7+ runs them: the teardown's rule, the setup constraint of
the work in between, what counts for the run's state, what a clear takes with it, and how DAG
files declare them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tradewind import DAG, BashOperator, TaskGroup, task
from tradewind.actions.clear import select_task_ids
from tradewind.decisions.planner import TIView, plan_run
from tradewind.decisions.setup_teardown import relevant_setups, run_state_leaves
from tradewind.decisions.task_nodes import task_nodes
from tradewind.decisions.trigger_rules import UpstreamCounts, Verdict, combine, evaluate, evaluate_setup_constraint
from tradewind.errors import DagDefinitionError
from tradewind.sdk.serialization import deserialize_dag, serialize_dag
from tradewind.sdk.setup_teardown import setup, teardown
from tradewind.sdk.trigger_rules import TriggerRule
from tradewind.states import DagRunState
from tradewind.states import TaskInstanceState as TI

READY, WAIT, SKIP, UF = Verdict.READY, Verdict.WAIT, Verdict.SKIP, Verdict.UPSTREAM_FAILED
S, F, K, U, R, N = TI.SUCCESS, TI.FAILED, TI.SKIPPED, TI.UPSTREAM_FAILED, TI.RUNNING, TI.NONE
NOW = datetime(2024, 1, 1, tzinfo=UTC)

# (setup states, work states, expected verdict of the teardown, why — Airflow's all_done_setup_success)
TEARDOWN_TABLE = [
    ([S], [S], READY, "the work is done and the setup succeeded"),
    ([S], [F], READY, "a teardown runs after its work failed"),
    ([S], [U], READY, "and after work that never ran because something above it failed"),
    ([S], [K], READY, "and after work that was skipped, as long as its setup ran"),
    ([S], [R], WAIT, "it waits for every upstream, work included"),
    ([R], [N], WAIT, "it waits for its setup"),
    ([F], [U], UF, "no setup succeeded: nothing to tear down"),
    ([U], [U], UF, "a setup that never ran created nothing"),
    ([K], [K], SKIP, "every setup skipped: the teardown is skipped too"),
    ([S, F], [U], READY, "one setup succeeded: clean up after it"),
    ([S, K], [S], READY, "one setup succeeded, one skipped: clean up"),
    ([K, F], [U], UF, "none succeeded and not all skipped"),
]


@pytest.mark.parametrize(("setups", "work", "expected", "why"), TEARDOWN_TABLE)
def test_a_teardowns_rule_over_its_setups_and_work(
    setups: list[TI], work: list[TI], expected: Verdict, why: str
) -> None:
    counts = UpstreamCounts.from_states([*setups, *work], setup_states=setups)
    assert evaluate(TriggerRule.ALL_DONE_SETUP_SUCCESS, counts) is expected, why


# (indirect setup states, expected verdict of the setup constraint, why)
CONSTRAINT_TABLE = [
    ([], READY, "no indirect setup: nothing to wait for"),
    ([S], READY, "the setup succeeded"),
    ([R], WAIT, "a cleared work task waits for its re-run setup"),
    ([N], WAIT, "a setup not started yet is waited for"),
    ([F], UF, "a failed setup fails the work inside it"),
    ([U], UF, "so does one that never ran"),
    ([K], SKIP, "a skipped setup skips the work inside it"),
    ([S, R], WAIT, "every relevant setup must be done"),
    ([R, F], UF, "a failure decides at once"),
]


@pytest.mark.parametrize(("setups", "expected", "why"), CONSTRAINT_TABLE)
def test_the_setup_constraint_of_work_inside_a_setup(setups: list[TI], expected: Verdict, why: str) -> None:
    assert evaluate_setup_constraint(UpstreamCounts.from_states(setups)) is expected, why


@pytest.mark.parametrize(
    ("constraint", "rule", "expected"),
    [
        (READY, READY, READY),
        (WAIT, READY, WAIT),
        (READY, WAIT, WAIT),
        (UF, READY, UF),
        (SKIP, WAIT, SKIP),
        (WAIT, SKIP, SKIP),
        (UF, SKIP, UF),
    ],
)
def test_a_decided_state_wins_over_waiting_and_the_constraint_comes_first(
    constraint: Verdict, rule: Verdict, expected: Verdict
) -> None:
    assert combine(constraint, rule) is expected


def test_setup_counts_must_fit_inside_the_upstream_counts() -> None:
    with pytest.raises(ValueError, match="setup"):
        UpstreamCounts(total=2, success=1, setups=1, setup_success=1, setup_skipped=1)


# --- DAG files ---------------------------------------------------------------------------------


def _cluster_dag(*, fail_dagrun: bool = False) -> DAG:
    with DAG("cluster", schedule=None, start_date=NOW) as dag:
        create = BashOperator(task_id="create_cluster", bash_command="true")
        query = BashOperator(task_id="run_query", bash_command="true")
        report = BashOperator(task_id="report", bash_command="true")
        delete = BashOperator(task_id="delete_cluster", bash_command="true")
        create >> query >> report >> delete.as_teardown(setups=create, on_failure_fail_dagrun=fail_dagrun or None)
    return dag


def test_as_teardown_makes_the_setup_upstream_and_sets_the_teardown_rule() -> None:
    dag = _cluster_dag()
    create, delete = dag.get_task("create_cluster"), dag.get_task("delete_cluster")
    assert (create.is_setup, create.is_teardown) == (True, False)
    assert (delete.is_setup, delete.is_teardown) == (False, True)
    assert delete.trigger_rule == "all_done_setup_success"
    assert delete.upstream_task_ids == {"create_cluster", "report"}
    assert delete.on_failure_fail_dagrun is False


def test_on_failure_fail_dagrun_only_on_a_teardown() -> None:
    with DAG("d", schedule=None, start_date=NOW):
        work = BashOperator(task_id="work", bash_command="true")
    with pytest.raises(DagDefinitionError, match="not a teardown task"):
        work.on_failure_fail_dagrun = True


def test_setup_and_teardown_decorators_and_a_with_block_put_the_work_between_them() -> None:
    with DAG("taskflow", schedule=None, start_date=NOW) as dag:

        @setup
        def create() -> str:
            return "cluster-1"

        @teardown(on_failure_fail_dagrun=True)
        @task
        def delete() -> None: ...

        @task
        def first() -> None: ...

        @task
        def second() -> None: ...

        with create() >> delete():
            first() >> second()

    create_t, delete_t = dag.get_task("create"), dag.get_task("delete")
    assert create_t.is_setup and delete_t.is_teardown and delete_t.on_failure_fail_dagrun
    assert dag.get_task("first").upstream_task_ids == {"create"}
    assert dag.get_task("second").downstream_task_ids == {"delete"}
    assert delete_t.upstream_task_ids == {"create", "second"}


def test_a_with_block_on_a_plain_task_is_an_error() -> None:
    with DAG("d", schedule=None, start_date=NOW):
        plain = BashOperator(task_id="plain", bash_command="true")
        with pytest.raises(DagDefinitionError, match="only setup/teardown tasks"), plain:
            pass


def test_a_task_group_on_the_left_of_rshift_ignores_its_teardown() -> None:
    with DAG("d", schedule=None, start_date=NOW) as dag:
        with TaskGroup("g") as group:
            create = BashOperator(task_id="create", bash_command="true")
            work = BashOperator(task_id="work", bash_command="true")
            delete = BashOperator(task_id="delete", bash_command="true")
            create >> work >> delete.as_teardown(setups=create)
        after = BashOperator(task_id="after", bash_command="true")
        group >> after
    assert dag.get_task("after").upstream_task_ids == {"g.work"}


def test_a_non_all_success_rule_right_below_a_setup_is_an_import_error() -> None:
    with DAG("d", schedule=None, start_date=NOW) as dag:
        create = BashOperator(task_id="create", bash_command="true").as_setup()
        create >> BashOperator(task_id="work", bash_command="true", trigger_rule="all_done")
    with pytest.raises(DagDefinitionError, match="setup tasks must be followed with trigger rule ALL_SUCCESS"):
        dag.validate()


def test_setup_and_teardown_roles_survive_serialization() -> None:
    serialized = deserialize_dag(serialize_dag(_cluster_dag(fail_dagrun=True)))
    assert serialized.get_task("create_cluster").is_setup
    delete = serialized.get_task("delete_cluster")
    assert delete.is_teardown and delete.on_failure_fail_dagrun
    assert delete.trigger_rule == "all_done_setup_success"
    assert serialize_dag(serialized) == serialize_dag(_cluster_dag(fail_dagrun=True))


# --- the planner -------------------------------------------------------------------------------


def _plan(dag: DAG, **states: TI):  # type: ignore[no-untyped-def]
    tis = [TIView(task_id, -1, states.get(task_id, N), 1, 0) for task_id in dag.task_ids]
    return plan_run(task_nodes(deserialize_dag(serialize_dag(dag))), tis, NOW)


def test_the_teardown_runs_after_its_work_failed_and_the_run_still_fails() -> None:
    dag = _cluster_dag()
    plan = _plan(dag, create_cluster=S, run_query=F)
    assert ("report", -1) in plan.upstream_failed
    assert [d.task_id for d in plan.schedule] == ["delete_cluster"]
    ended = _plan(dag, create_cluster=S, run_query=F, report=U, delete_cluster=S)
    assert ended.run_state is DagRunState.FAILED


def test_a_failed_teardown_leaves_a_successful_run_successful() -> None:
    plan = _plan(_cluster_dag(), create_cluster=S, run_query=S, report=S, delete_cluster=F)
    assert plan.run_state is DagRunState.SUCCESS


def test_with_on_failure_fail_dagrun_a_failed_teardown_fails_the_run() -> None:
    plan = _plan(_cluster_dag(fail_dagrun=True), create_cluster=S, run_query=S, report=S, delete_cluster=F)
    assert plan.run_state is DagRunState.FAILED


def test_a_failed_setup_fails_its_work_and_its_teardown() -> None:
    plan = _plan(_cluster_dag(), create_cluster=F)
    assert sorted(task_id for task_id, _ in plan.upstream_failed) == ["delete_cluster", "report", "run_query"]
    assert plan.run_state is DagRunState.FAILED


def test_a_skipped_setup_skips_its_work_and_its_teardown() -> None:
    plan = _plan(_cluster_dag(), create_cluster=K)
    assert sorted(task_id for task_id, _ in plan.skip) == ["delete_cluster", "report", "run_query"]
    assert plan.run_state is DagRunState.SUCCESS


def test_cleared_work_waits_for_its_rerun_setup_even_when_it_is_not_directly_below_it() -> None:
    # Clearing report clears create_cluster and delete_cluster; run_query stays a success.
    plan = _plan(_cluster_dag(), run_query=S)
    assert [d.task_id for d in plan.schedule] == ["create_cluster"]
    assert plan.run_state is None


def test_relevant_setups_are_those_whose_teardown_is_below() -> None:
    dag = _cluster_dag()
    tasks = dag.task_dict
    assert relevant_setups(tasks, "report") == {"create_cluster"}
    # A teardown is not inside its own setup's scope: clearing it alone re-runs only it, as in Airflow.
    assert relevant_setups(tasks, "delete_cluster") == set()


def test_run_state_leaves_skip_ignorable_teardowns_but_fall_back_to_plain_leaves() -> None:
    upstream = {"s": set(), "w": {"s"}, "t": {"s", "w"}}
    assert run_state_leaves(upstream, {"t"}) == {"w"}
    assert run_state_leaves({"t": set()}, {"t"}) == {"t"}


# --- clearing ----------------------------------------------------------------------------------


def test_clearing_a_work_task_clears_its_setup_and_teardown() -> None:
    dag = _cluster_dag()
    assert select_task_ids(dag, task_ids=["report"]) == {"report", "create_cluster", "delete_cluster"}


def test_clearing_a_setup_clears_its_teardown() -> None:
    assert select_task_ids(_cluster_dag(), task_ids=["create_cluster"]) == {"create_cluster", "delete_cluster"}


def test_clearing_with_upstream_takes_the_teardowns_of_the_setups_above() -> None:
    selected = select_task_ids(_cluster_dag(), task_ids=["run_query"], upstream=True)
    assert selected == {"run_query", "create_cluster", "delete_cluster"}


def test_a_task_outside_any_setup_clears_alone() -> None:
    with DAG("d", schedule=None, start_date=NOW) as dag:
        create = BashOperator(task_id="create", bash_command="true")
        work = BashOperator(task_id="work", bash_command="true")
        delete = BashOperator(task_id="delete", bash_command="true")
        after = BashOperator(task_id="after", bash_command="true")
        create >> work >> delete.as_teardown(setups=create) >> after
    assert select_task_ids(dag, task_ids=["after"]) == {"after"}
