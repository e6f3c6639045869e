"""Datasets as a DAG author writes them: URIs checked as Airflow checks them, ``&`` / ``|``
conditions and aliases evaluated against the datasets that were updated, schedules and outlets
surviving serialization, and the decision of which run queued events make."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tradewind import DAG
from tradewind.decisions.dataset_runs import Queued, plan_dataset_run
from tradewind.errors import DagDefinitionError
from tradewind.sdk.dataset_events import OutletEventAccessors, emitted_events
from tradewind.sdk.datasets import Dataset, DatasetAlias, DatasetAll, DatasetAny, decode_condition
from tradewind.sdk.operators.empty import EmptyOperator
from tradewind.sdk.serialization import deserialize_dag, serialize_dag
from tradewind.sdk.timetables.datasets import (
    DatasetOrTimeSchedule,
    DatasetTriggeredTimetable,
    data_interval_for_events,
    dataset_condition,
)
from tradewind.sdk.timetables.interval import CronDataIntervalTimetable

A, B, C = Dataset("s3://bucket/a"), Dataset("s3://bucket/b"), Dataset("file:///tmp/c")
T0 = datetime(2024, 5, 1, tzinfo=UTC)


# -- URIs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("", "cannot be empty"),
        ("   ", "just whitespace"),
        ("airflow://dag/x", "scheme 'airflow' is reserved"),
        ("AIRFLOW://dag/x", "scheme 'airflow' is reserved"),
        ("s3://bücket/x", "ASCII"),
        ("s3://b/" + "x" * 3000, "at most 3000 characters"),
    ],
)
def test_a_uri_airflow_refuses_is_refused_with_the_reason(uri: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Dataset(uri)


def test_plain_names_and_any_other_scheme_are_datasets() -> None:
    assert Dataset("orders").uri == "orders"
    assert Dataset("postgres://db/schema/table", extra={"team": "x"}).extra == {"team": "x"}


def test_datasets_are_equal_by_uri_alone() -> None:
    assert Dataset("s3://x", extra={"a": 1}) == Dataset("s3://x")
    assert len({Dataset("s3://x"), Dataset("s3://x", extra={"b": 2})}) == 1


# -- conditions ---------------------------------------------------------------------------------


def test_a_list_schedule_waits_for_every_dataset() -> None:
    condition = DatasetAll(A, B)
    assert not condition.evaluate({A.uri})
    assert condition.evaluate({A.uri, B.uri})


def test_or_holds_when_either_dataset_was_updated() -> None:
    condition = A | B
    assert isinstance(condition, DatasetAny)
    assert condition.evaluate({B.uri})
    assert not condition.evaluate({C.uri})


@pytest.mark.parametrize(
    ("updated", "holds"),
    [({"a"}, False), ({"a", "c"}, True), ({"b", "c"}, True), ({"b"}, False), ({"c"}, False), (set(), False)],
)
def test_nested_conditions_combine_as_written(updated: set[str], holds: bool) -> None:
    condition = (Dataset("a") | Dataset("b")) & Dataset("c")
    assert condition.evaluate(updated) is holds


def test_chained_operators_flatten_into_one_condition() -> None:
    assert DatasetAll(A, B, C) == (A & B & C)
    assert DatasetAny(A, B, C) == (A | B | C)


def test_an_alias_holds_once_a_dataset_attached_to_it_was_updated() -> None:
    alias = DatasetAlias("daily-exports")
    condition = alias & A
    assert not condition.evaluate({A.uri, "s3://exports/1"}, {})
    assert not condition.evaluate({A.uri}, {"daily-exports": {"s3://exports/1"}})
    assert condition.evaluate({A.uri, "s3://exports/1"}, {"daily-exports": {"s3://exports/1"}})


def test_conditions_serialize_and_come_back_equal() -> None:
    condition = (A | DatasetAlias("x")) & (B | C)
    assert decode_condition(condition.to_json()) == condition
    assert condition.as_expression() == {
        "all": [{"any": ["s3://bucket/a", {"alias": "x"}]}, {"any": ["s3://bucket/b", "file:///tmp/c"]}]
    }


# -- schedules and outlets in a DAG -------------------------------------------------------------


def test_a_dag_scheduled_on_datasets_needs_no_start_date_and_round_trips() -> None:
    with DAG("consumer", schedule=[A, B]) as dag:
        EmptyOperator(task_id="t")
    assert isinstance(dag.timetable, DatasetTriggeredTimetable)
    assert dag.timetable.summary == "Dataset"
    stored = deserialize_dag(serialize_dag(dag))
    assert dataset_condition(stored.timetable) == DatasetAll(A, B)
    assert serialize_dag(stored) == serialize_dag(dag)


def test_a_list_with_something_else_than_datasets_is_a_definition_error() -> None:
    with pytest.raises(DagDefinitionError, match="datasets or dataset aliases"):
        DAG("bad", schedule=[A, "@daily"])


def test_dataset_or_time_schedule_keeps_its_timetable_and_its_condition() -> None:
    timetable = DatasetOrTimeSchedule(timetable=CronDataIntervalTimetable("@daily", UTC), datasets=[A, B])
    with DAG("both", schedule=timetable, start_date=T0) as dag:
        EmptyOperator(task_id="t")
    stored = deserialize_dag(serialize_dag(dag))
    assert stored.timetable.summary == "Dataset or @daily"
    assert dataset_condition(stored.timetable) == DatasetAll(A, B)
    assert stored.timetable.can_be_scheduled
    assert stored.timetable.previous_logical_date(T0 + timedelta(days=1)) == T0


def test_outlets_and_inlets_survive_serialization_and_other_lineage_is_left_out() -> None:
    with DAG("producer", schedule=None) as dag:
        EmptyOperator(task_id="t", outlets=[A, DatasetAlias("al"), "not a dataset"], inlets=[B])
    task = deserialize_dag(serialize_dag(dag)).get_task("t")
    assert task.outlets == [A, DatasetAlias("al")]
    assert task.inlets == [B]


# -- which run queued events make ---------------------------------------------------------------


def _queued(*items: tuple[int, str, int]) -> list[Queued]:
    return [Queued(event_id, uri, T0 + timedelta(minutes=minute)) for event_id, uri, minute in items]


def test_events_wait_until_the_condition_holds() -> None:
    plan = plan_dataset_run(DatasetAll(A, B), _queued((1, A.uri, 0), (2, A.uri, 1)), {})
    assert not plan.create and plan.take == ()


def test_one_run_takes_every_queued_event_at_the_newest_events_time() -> None:
    plan = plan_dataset_run(DatasetAll(A, B), _queued((1, A.uri, 0), (3, B.uri, 5), (2, A.uri, 2)), {})
    assert plan.create
    assert plan.take == (1, 2, 3)
    assert plan.logical_date == T0 + timedelta(minutes=5)


def test_an_alias_condition_runs_on_its_members_events() -> None:
    alias = DatasetAlias("exports")
    queued = _queued((7, "s3://exports/7", 3))
    assert not plan_dataset_run(alias, queued, {"exports": set()}).create
    assert plan_dataset_run(alias, queued, {"exports": {"s3://exports/7"}}).take == (7,)


def test_a_dag_no_longer_scheduled_on_datasets_drops_its_queued_events_without_a_run() -> None:
    plan = plan_dataset_run(None, _queued((4, A.uri, 0)), {})
    assert not plan.create and plan.take == (4,)


def test_nothing_queued_means_nothing_to_do() -> None:
    assert plan_dataset_run(A, [], {}).take == ()


# -- a dataset-triggered run's data interval ----------------------------------------------------


def test_the_data_interval_spans_the_source_runs_intervals() -> None:
    day = timedelta(days=1)
    interval = data_interval_for_events(T0 + 5 * day, [(T0, T0 + day), (T0 + 2 * day, T0 + 3 * day)])
    assert interval == (T0, T0 + 3 * day)


def test_events_from_outside_any_run_give_the_runs_own_moment() -> None:
    assert data_interval_for_events(T0, [(None, None)]) == (T0, T0)
    assert data_interval_for_events(T0, []) == (T0, T0)


# -- what a successful try sends ----------------------------------------------------------------


def test_each_outlet_dataset_sends_one_event_with_the_extra_the_task_set() -> None:
    accessors = OutletEventAccessors()
    accessors[A].extra["rows"] = 10
    assert emitted_events([A, B], accessors) == [
        {"uri": A.uri, "extra": {"rows": 10}, "aliases": []},
        {"uri": B.uri, "extra": {}, "aliases": []},
    ]


def test_datasets_added_through_an_alias_are_sent_once_naming_every_alias() -> None:
    accessors = OutletEventAccessors()
    for name in ("one", "two"):
        accessors[DatasetAlias(name)].add(Dataset("s3://out/x"), extra={"k": 1})
    events = emitted_events([DatasetAlias("one"), DatasetAlias("two")], accessors)
    assert events == [{"uri": "s3://out/x", "extra": {"k": 1}, "aliases": ["one", "two"]}]


def test_adding_to_a_dataset_rather_than_an_alias_says_what_to_do() -> None:
    with pytest.raises(TypeError, match="set its .extra instead"):
        OutletEventAccessors()[A].add(B)


# -- what a running task sees -------------------------------------------------------------------


class _EventsOnly:
    """Runtime services that answer only the dataset-event questions (nothing else is asked)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, ...]] = []

    def run_dataset_events(self, dag_id: str, run_id: str) -> list[dict[str, object]]:
        self.asked.append(("run", dag_id, run_id))
        return [_event_row(1, A.uri, "make_a"), _event_row(2, B.uri, "make_b"), _event_row(3, A.uri, None)]

    def dataset_events(self, uri: str) -> list[dict[str, object]]:
        self.asked.append(("dataset", uri))
        return [_event_row(1, uri, "make_a")]


def _event_row(event_id: int, uri: str, source_dag_id: str | None) -> dict[str, object]:
    return {
        "id": event_id,
        "dataset_id": 7,
        "dataset_uri": uri,
        "extra": {"n": event_id},
        "source_dag_id": source_dag_id,
        "source_task_id": "write" if source_dag_id else None,
        "source_run_id": "manual__1" if source_dag_id else None,
        "source_map_index": -1 if source_dag_id else None,
        "timestamp": (T0 + timedelta(minutes=event_id)).isoformat(),
    }


def _context(run_type: str) -> dict[str, object]:
    from tradewind.sdk.context import RunInfo, build_context

    with DAG("consumer", schedule=[A]) as dag:
        task = EmptyOperator(task_id="t", inlets=[A])
    run = RunInfo(dag_id="consumer", run_id=f"{run_type}__1", run_type=run_type, logical_date=T0)
    return build_context(dag=dag, task=task, run=run, ti=None, params={})


def test_a_dataset_triggered_runs_task_sees_its_events_by_uri_and_an_inlets_history() -> None:
    from tradewind.sdk import runtime_services

    services = _EventsOnly()
    with runtime_services.using(services):  # type: ignore[arg-type]
        context = _context("dataset_triggered")
        assert services.asked == [], "nothing is read until the task looks"
        triggering = context["triggering_dataset_events"]
        assert sorted(triggering) == sorted([A.uri, B.uri])
        assert [(e.source_dag_id, e.extra["n"]) for e in triggering[A.uri]] == [("make_a", 1), (None, 3)]
        assert triggering[B.uri][0].dataset.uri == B.uri
        assert [e.id for e in context["inlet_events"][A]] == [1]
    assert services.asked == [("run", "consumer", "dataset_triggered__1"), ("dataset", A.uri)]


def test_any_other_runs_task_has_no_triggering_events_and_reads_nothing() -> None:
    from tradewind.sdk import runtime_services

    services = _EventsOnly()
    with runtime_services.using(services):  # type: ignore[arg-type]
        assert dict(_context("manual")["triggering_dataset_events"]) == {}
    assert services.asked == []
