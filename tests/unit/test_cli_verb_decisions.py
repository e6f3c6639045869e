"""The pure answers behind Airflow's CLI verbs: the next logical dates of ``dags next-execution``,
the unmet dependencies of ``tasks failed-deps``, the sections of ``config`` and the providers of
``providers list``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from tradewind.compat.airflow_shim import SUPPORTED_MODULES
from tradewind.compat.providers import served_providers
from tradewind.decisions.run_schedule import upcoming_runs
from tradewind.decisions.task_dependencies import Standing, unmet_dependencies
from tradewind.decisions.trigger_rules import UpstreamCounts
from tradewind.sdk.schedules import create_timetable
from tradewind.settings import Settings
from tradewind.settings_sections import SECTIONS, config_options

D = [datetime(2024, 3, day, tzinfo=UTC) for day in range(1, 12)]
NOW = D[5] + timedelta(hours=6)


def dag(schedule: str = "@daily", end_date: datetime | None = None, max_active_runs: int = 16) -> SimpleNamespace:
    return SimpleNamespace(
        timetable=create_timetable(schedule, UTC, start_date=D[0]),
        start_date=D[0],
        end_date=end_date,
        max_active_runs=max_active_runs,
    )


def dates(infos: list) -> list:  # type: ignore[type-arg]
    return [info.logical_date if info is not None else None for info in infos]


# --- dags next-execution ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("the_dag", "catchup", "last", "taken", "count", "expected"),
    [
        # A DAG that never ran catches up from its start_date: the oldest missed day comes first.
        (dag(), True, None, set(), 3, D[0:3]),
        # Without catchup the next run is the latest interval that has ended, then the days after it.
        (dag(), False, None, set(), 3, [D[4], D[5], D[6]]),
        # After the last scheduled run, the day after it; a day that already has a run is passed over.
        (dag(), True, (D[1], D[2]), {D[2]}, 2, [D[3], D[4]]),
        # max_active_runs does not hide the next run, even when it is reached.
        (dag(max_active_runs=0), True, None, set(), 1, [D[0]]),
        # Past the schedule's end: None, as Airflow prints.
        (dag(end_date=D[1]), True, None, set(), 3, [D[0], D[1], None]),
        (dag("@once"), True, None, set(), 2, [D[0], None]),
        (dag("@once"), True, (D[0], D[0]), set(), 1, [None]),
    ],
)
def test_next_executions_start_where_the_scheduler_goes_next(the_dag, catchup, last, taken, count, expected):  # type: ignore[no-untyped-def]
    upcoming = upcoming_runs(the_dag, catchup=catchup, last_interval=last, taken=taken, now=NOW, count=count)
    assert dates(upcoming) == expected


def test_next_executions_of_a_cron_schedule_follow_its_fire_times():
    upcoming = upcoming_runs(dag("0 6 * * 1-5"), catchup=False, last_interval=None, taken=(), now=NOW, count=3)
    assert [d.isoformat() for d in dates(upcoming)] == [
        "2024-03-05T06:00:00+00:00",
        "2024-03-06T06:00:00+00:00",
        "2024-03-07T06:00:00+00:00",
    ]


# --- tasks failed-deps ------------------------------------------------------------------------------

READY = Standing(
    dag_id="etl",
    state="scheduled",
    run_state="running",
    dag_paused=False,
    trigger_rule="all_success",
    upstream=UpstreamCounts(total=2, success=2),
    held_by_past=None,
    retry_at=None,
    next_poke_at=None,
    pool="default_pool",
    pool_slots=1,
    pool_open_slots=128,
)


def names(standing: Standing) -> list[str]:
    return [dep.name for dep in unmet_dependencies(standing, NOW)]


def test_a_task_instance_whose_every_dependency_is_met_has_none_unmet():
    assert unmet_dependencies(READY, NOW) == []


def test_each_reason_a_task_instance_waits_is_named_as_airflow_names_it():
    assert names(replace(READY, state="success")) == ["Task Instance State"]
    assert names(replace(READY, run_state="queued")) == ["Dagrun Running"]
    assert names(replace(READY, dag_paused=True)) == ["Dag Not Paused"]
    assert names(replace(READY, held_by_past="depends_on_past: 'load' in the previous run is failed")) == [
        "Previous Dagrun State"
    ]
    assert names(replace(READY, pool="etl_db", pool_open_slots=None)) == ["Pool Slots Available"]
    assert names(replace(READY, pool_slots=2, pool_open_slots=1)) == ["Pool Slots Available"]


def test_the_trigger_rule_says_whether_the_task_waits_or_can_no_longer_run():
    waiting = unmet_dependencies(replace(READY, upstream=UpstreamCounts(total=2, success=1)), NOW)
    assert [d.name for d in waiting] == ["Trigger Rule"]
    assert "'all_success' waits for its upstream tasks" in waiting[0].reason and "1 not done" in waiting[0].reason
    failed = unmet_dependencies(replace(READY, upstream=UpstreamCounts(total=2, success=1, failed=1)), NOW)
    assert "will be upstream_failed" in failed[0].reason
    assert names(replace(READY, trigger_rule="all_done", upstream=UpstreamCounts(total=2, failed=2))) == []


def test_a_retry_or_reschedule_still_in_its_delay_waits_until_its_time():
    later = NOW + timedelta(minutes=5)
    retry = unmet_dependencies(replace(READY, state="up_for_retry", retry_at=later), NOW)
    assert [d.name for d in retry] == ["Not In Retry Period"] and later.isoformat() in retry[0].reason
    assert names(replace(READY, state="up_for_retry", retry_at=NOW - timedelta(seconds=1))) == []
    assert names(replace(READY, state="up_for_reschedule", next_poke_at=later)) == ["Ready To Reschedule"]


# --- config -----------------------------------------------------------------------------------------


def test_every_setting_shows_in_one_section_with_its_variable_and_secrets_masked(tmp_path):
    settings = Settings.from_env(
        {
            "TRADEWIND_HOME": str(tmp_path),
            "TRADEWIND_SECRET_KEY": "s3cret-session-key",
            "TRADEWIND_FERNET_KEY": "fernet-key-value",
            "TRADEWIND_BROKER_URL": "redis://:hunter22@redis:6379/0",
            "TRADEWIND_DATABASE_URL": "postgresql://tw:pg-pass-1@db/tw",
            "TRADEWIND_PARALLELISM": "8",
        }
    )
    options = config_options(settings, {"TRADEWIND_PARALLELISM": "8"})
    by_name = {o.name: o for o in options}
    assert len(by_name) == len(options) == len(Settings.describe())
    assert {o.section for o in options} <= set(SECTIONS)
    assert by_name["parallelism"].section == "core" and by_name["parallelism"].value == "8"
    assert by_name["parallelism"].source == "env var" and by_name["parallelism"].default == "32"
    assert by_name["webserver_port"].variable == "TRADEWIND_WEBSERVER_PORT"
    assert by_name["dags_folder"].value == str(tmp_path / "dags")
    shown = "\n".join(o.value for o in options)
    for secret in ("s3cret-session-key", "fernet-key-value", "hunter22", "pg-pass-1"):
        assert secret not in shown
    assert by_name["broker_url"].value == "redis://:***@redis:6379/0"
    assert by_name["secret_key"].value == "***"


# --- providers list ---------------------------------------------------------------------------------


def test_the_providers_listed_are_the_provider_packages_dag_files_may_import():
    listed = [p.package_name for p in served_providers()]
    assert listed == sorted(listed)
    assert "apache-airflow-providers-common-sql" in listed and "apache-airflow-providers-postgres" in listed
    for package in listed:
        module = "airflow.providers." + package.removeprefix("apache-airflow-providers-").replace("-", ".", 1)
        assert module in SUPPORTED_MODULES, module
