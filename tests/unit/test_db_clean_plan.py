"""What `tradewind db clean` is asked to do, decided before the metastore is touched: the tables a
--tables value names (Airflow's names), the cutoff a timestamp means, and when a heartbeat is alive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tradewind import retention
from tradewind.cli.arguments import BadArgument, parse_date
from tradewind.metastore import cleanup
from tradewind.metastore.models import Base

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def _names(tables: tuple[retention.CleanTable, ...]) -> list[str]:
    return [table.name for table in tables]


def test_without_tables_every_table_is_cleaned_and_a_runs_own_rows_go_before_the_runs() -> None:
    names = _names(retention.select_tables(None))

    assert set(names) == {
        "task_log",
        "xcom",
        "task_instance_history",
        "task_instance",
        "dag_run",
        "log",
        "import_error",
        "job",
        "worker",
        "dag",
    }
    assert max(names.index(n) for n in ("task_log", "xcom", "task_instance_history", "task_instance")) < names.index(
        "dag_run"
    )


def test_tables_takes_airflows_comma_separated_names_in_any_order_with_spaces_and_repeats() -> None:
    chosen = retention.select_tables(" xcom, dag_run ,log,xcom,")

    assert _names(chosen) == ["xcom", "dag_run", "log"]
    assert {table.name: table.table for table in chosen}["log"] == "audit_log"


def test_tradewinds_own_table_names_are_accepted_for_airflows() -> None:
    assert _names(retention.select_tables("audit_log,task_try")) == ["task_instance_history", "log"]


def test_an_unknown_table_is_refused_naming_it_and_listing_the_valid_ones() -> None:
    with pytest.raises(retention.UnknownTable) as refused:
        retention.select_tables("xcom,dag_runs")

    message = str(refused.value)
    assert "dag_runs" in message
    assert message.endswith("valid: " + ", ".join(retention.table_names()))


def test_an_airflow_table_tradewind_lacks_is_refused_saying_so() -> None:
    with pytest.raises(retention.UnknownTable, match=r"sla_miss: Airflow's, tradewind has no such table"):
        retention.select_tables("sla_miss,log")


@pytest.mark.parametrize("value", ["", " ", ",", " , "])
def test_an_empty_tables_value_is_refused_rather_than_cleaning_everything(value: str) -> None:
    with pytest.raises(retention.UnknownTable, match="names no table"):
        retention.select_tables(value)


def test_a_job_or_worker_is_alive_when_it_heartbeat_within_the_threshold() -> None:
    plan = retention.plan_clean(
        datetime(2024, 1, 1, tzinfo=UTC), None, batch_size=50, now=NOW, alive_for=timedelta(seconds=30)
    )

    assert plan.alive_since == NOW - timedelta(seconds=30)
    assert (plan.batch_size, plan.tables) == (50, retention.CLEAN_TABLES)


def test_a_plan_needs_an_aware_cutoff_and_a_positive_batch_size() -> None:
    with pytest.raises(ValueError, match="time zone"):
        retention.plan_clean(datetime(2024, 1, 1), None, batch_size=1, now=NOW, alive_for=timedelta(0))
    with pytest.raises(ValueError, match="at least 1"):
        retention.plan_clean(NOW, None, batch_size=0, now=NOW, alive_for=timedelta(0))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T06:30:00", datetime(2024, 1, 1, 6, 30, tzinfo=UTC)),
        ("2022-01-01 00:00:00+01:00", datetime(2022, 1, 1, tzinfo=timezone(timedelta(hours=1)))),
        ("2025-04-03T12:42:04.284+0000", datetime(2025, 4, 3, 12, 42, 4, 284000, tzinfo=UTC)),
        ("2024-01-01T00:00:00Z", datetime(2024, 1, 1, tzinfo=UTC)),
    ],
)
def test_the_cutoff_is_iso_8601_and_without_a_time_zone_it_is_utc(text: str, expected: datetime) -> None:
    parsed = parse_date(text, "--clean-before-timestamp")

    assert parsed == expected and parsed.utcoffset() == expected.utcoffset()


def test_a_bad_cutoff_is_one_clear_error_naming_the_option() -> None:
    with pytest.raises(BadArgument, match=r"invalid --clean-before-timestamp '90 days ago'.*ISO 8601"):
        parse_date("90 days ago", "--clean-before-timestamp")


@pytest.mark.parametrize("table", retention.CLEAN_TABLES, ids=lambda table: table.name)
def test_every_table_exists_with_its_age_column_and_the_sql_knows_what_it_keeps(
    table: retention.CleanTable,
) -> None:
    assert table.age_column in Base.metadata.tables[table.table].c
    assert table.table in cleanup.GUARDS
    assert table.keeps


def test_the_sql_knows_no_table_the_plan_does_not_name() -> None:
    assert set(cleanup.GUARDS) == {table.table for table in retention.CLEAN_TABLES}
