"""The Airflow 2 CLI verbs scripts call, typed as a user types them against a PostgreSQL metastore:
dags delete / details / report / next-execution / list-runs, tasks render / failed-deps, pools, config,
providers and plugins — their ``-o json`` answers and their errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from cli_helpers import Cli, metastore_session

from tradewind.metastore import audit
from tradewind.metastore.migrate import migrate

pytestmark = pytest.mark.integration

ETL = """
from datetime import datetime, timezone
from tradewind import DAG, BashOperator

with DAG("etl", schedule="@daily", start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), catchup=True,
         tags=["sales", "daily"], default_args={"owner": "data-team"}, params={"rows": 10}):
    extract = BashOperator(task_id="extract", bash_command="echo {{ ds }} rows={{ params.rows }}")
    load = BashOperator(task_id="load", bash_command="echo {{ var.value.warehouse_password }}", pool="warehouse",
                        max_active_tis_per_dag=1)
    extract >> load
"""
ONCE = """
from datetime import datetime, timezone
from tradewind import DAG, EmptyOperator

with DAG("one_off", schedule="@once", start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
    EmptyOperator(task_id="only")
"""
BROKEN = "from tradewind import DAG\nraise RuntimeError('no dag today')\n"


@pytest.fixture
def cli(fresh_pg_url: str, tmp_path: Path) -> Cli:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "etl.py").write_text(textwrap.dedent(ETL))
    (folder / "one_off.py").write_text(textwrap.dedent(ONCE))
    base = Cli(home=tmp_path, dags_folder=folder, database_url=fresh_pg_url)
    migrate(base.settings())
    cli = base.with_env(TRADEWIND_LOG_LEVEL="WARNING")
    assert cli("dags", "list", "-o", "json").returncode == 0
    return cli


def ok(result):  # type: ignore[no-untyped-def]
    assert result.returncode == 0, result
    return result


def rows_of(cli: Cli, sql: str) -> int:
    with metastore_session(cli.settings()) as session:
        return int(session.execute(sa.text(sql)).scalar_one())


# --- dags delete ------------------------------------------------------------------------------------


def test_deleting_a_dag_drops_its_history_after_confirmation_and_its_file_brings_it_back(cli: Cli):
    ok(cli("variables", "set", "warehouse_password", "pw-123456"))
    ok(cli("pools", "set", "warehouse", "2", "the warehouse"))
    ok(cli("dags", "test", "etl", "2024-01-01", "-q"))
    ok(cli("dags", "trigger", "etl", "-r", "by_hand"))
    assert rows_of(cli, "select count(*) from task_instance where dag_id = 'etl'") == 4

    answered_no = cli("dags", "delete", "etl", input="n\n")
    assert answered_no.returncode == 1, answered_no
    assert "This will drop all existing records related to the specified DAG" in answered_no.stdout
    assert "Cancelled" in answered_no.stdout
    assert len(ok(cli("dags", "list-runs", "-d", "etl", "-o", "json")).json()) == 2

    deleted = ok(cli("dags", "delete", "etl", input="y\n"))
    assert deleted.stdout.strip().endswith("record(s)") and "Removed" in deleted.stdout
    assert rows_of(cli, "select count(*) from dag_run where dag_id = 'etl'") == 0
    assert rows_of(cli, "select count(*) from task_instance where dag_id = 'etl'") == 0
    assert rows_of(cli, "select count(*) from task_log where dag_id = 'etl'") == 0
    assert "DAG 'etl' not found" in cli("dags", "details", "etl").error_line
    with metastore_session(cli.settings()) as session:
        events = [e for e in audit.list_events(session, "etl") if e.event == "delete_dag"]
    assert len(events) == 1 and events[0].owner == "cli" and events[0].extra["source"] == "cli"

    # The file is still in the DAG folder: the next parse brings the DAG back, with no history.
    assert "etl" in [d["dag_id"] for d in ok(cli("dags", "list", "-o", "json")).json()]
    assert ok(cli("dags", "list-runs", "-d", "etl", "-o", "json")).json() == []


def test_a_dag_is_not_deleted_while_it_runs_nor_when_it_does_not_exist(cli: Cli):
    ok(cli("dags", "trigger", "etl", "-r", "busy"))
    with metastore_session(cli.settings()) as session:
        session.execute(sa.text("update task_instance set state = 'running' where task_id = 'extract'"))
    refused = cli("dags", "delete", "etl", "-y")
    assert refused.returncode == 1 and "running" in refused.error_line and "nothing was deleted" in refused.error_line
    assert rows_of(cli, "select count(*) from dag_run where dag_id = 'etl'") == 1

    unknown = cli("dags", "delete", "no_such_dag", "-y")
    assert unknown.returncode == 1 and "DAG 'no_such_dag' not found" in unknown.error_line


# --- dags details, report, next-execution -----------------------------------------------------------


def test_dag_details_show_the_dag_as_scripts_read_it(cli: Cli):
    [details] = ok(cli("dags", "details", "etl", "-o", "json")).json()
    assert details["dag_id"] == "etl" and details["is_paused"] is True and details["is_active"] is True
    assert details["owners"] == ["data-team"]
    assert sorted(t["name"] for t in details["tags"]) == ["daily", "sales"]
    assert details["timetable_description"] and details["fileloc"].endswith("etl.py")
    assert details["has_task_concurrency_limits"] is True and details["has_import_errors"] is False
    assert yaml.safe_load(ok(cli("dags", "details", "etl", "-o", "yaml")).stdout) == [details]
    table = {row["property_name"]: row["property_value"] for row in ok(cli("dags", "details", "etl")).table()}
    assert table["dag_id"] == "etl" and table["is_paused"] == "True"


def test_dag_report_imports_every_file_and_says_what_each_defined(cli: Cli):
    (cli.dags_folder / "broken_dag.py").write_text(BROKEN)
    report = ok(cli("dags", "report", "-o", "json")).json()
    by_file = {row["file"]: row for row in report}
    assert set(by_file) == {"/etl.py", "/one_off.py", "/broken_dag.py"}
    assert (by_file["/etl.py"]["dag_num"], by_file["/etl.py"]["task_num"], by_file["/etl.py"]["dags"]) == (
        1,
        2,
        ["etl"],
    )
    assert by_file["/broken_dag.py"]["dag_num"] == 0 and "no dag today" in by_file["/broken_dag.py"]["error"]
    assert all(row["duration"] >= 0 for row in report)
    table = cli("dags", "report")
    assert table.returncode == 0 and "1 file(s) failed to import" in table.stderr


def test_next_execution_lists_the_logical_dates_the_scheduler_creates_next(cli: Cli):
    result = ok(cli("dags", "next-execution", "etl", "-n", "3"))
    assert result.stdout.split() == [
        "2024-01-01T00:00:00+00:00",
        "2024-01-02T00:00:00+00:00",
        "2024-01-03T00:00:00+00:00",
    ]
    assert "PAUSED" in result.stderr

    # Two days ran on schedule; the next is the day after the last.
    for day, next_day in (("2024-01-01", "2024-01-02"), ("2024-01-02", "2024-01-03")):
        with metastore_session(cli.settings()) as session:
            session.execute(
                sa.text(
                    "insert into dag_run (dag_id, run_id, run_type, logical_date, data_interval_start, "
                    "data_interval_end, state, external_trigger) values ('etl', :run_id, 'scheduled', :start, "
                    ":start, :end, 'success', false)"
                ),
                {"run_id": f"scheduled__{day}", "start": f"{day}T00:00:00+00:00", "end": f"{next_day}T00:00:00+00:00"},
            )
    ok(cli("dags", "unpause", "etl"))
    after = ok(cli("dags", "next-execution", "etl"))
    assert after.stdout.split() == ["2024-01-03T00:00:00+00:00"] and "PAUSED" not in after.stderr

    once = ok(cli("dags", "next-execution", "one_off", "-n", "2"))
    assert once.stdout.split() == ["2024-01-01T00:00:00+00:00", "None"]
    assert "No following schedule can be found" in once.stderr

    assert "DAG 'nope' not found" in cli("dags", "next-execution", "nope").error_line
    zero = cli("dags", "next-execution", "etl", "-n", "0")
    assert zero.returncode == 2 and "0 is not in the range" in zero.stderr


def test_list_runs_filters_by_state_dates_and_backfill_as_airflows_does(cli: Cli):
    ok(cli("dags", "trigger", "etl", "-r", "early", "-e", "2024-01-01"))
    ok(cli("dags", "backfill", "etl", "-s", "2024-01-02", "-e", "2024-01-03"))
    ok(cli("dags", "trigger", "etl", "-r", "late", "-e", "2024-02-01"))
    with metastore_session(cli.settings()) as session:
        session.execute(sa.text("update dag_run set state = 'success' where run_id = 'early'"))

    def listed(*args: str) -> list[tuple[str, str]]:
        rows = ok(cli("dags", "list-runs", "-d", "etl", *args, "-o", "json")).json()
        return [(r["run_id"], r["execution_date"]) for r in rows]

    backfills = [
        ("backfill__2024-01-03T00:00:00+00:00", "2024-01-03T00:00:00+00:00"),
        ("backfill__2024-01-02T00:00:00+00:00", "2024-01-02T00:00:00+00:00"),
    ]
    assert listed("-s", "2024-01-02", "-e", "2024-01-03") == backfills
    assert [run_id for run_id, _ in listed("--no-backfill")] == ["late", "early"]
    assert [run_id for run_id, _ in listed("--state", "SUCCESS")] == ["early"]
    assert [run_id for run_id, _ in listed("-s", "2024-01-03T00:00:01", "--no-backfill")] == ["late"]

    bad_state = cli("dags", "list-runs", "-d", "etl", "--state", "done")
    assert (
        bad_state.returncode == 2
        and "'done' is not one of 'queued', 'running', 'success', 'failed'" in bad_state.stderr
    )
    assert "invalid start date 'yesterday'" in cli("dags", "list-runs", "-d", "etl", "-s", "yesterday").error_line


# --- tasks render, failed-deps ----------------------------------------------------------------------


def test_render_shows_the_templates_as_a_run_renders_them_with_secrets_masked(cli: Cli):
    ok(cli("variables", "set", "warehouse_password", "pw-123456"))
    ok(cli("dags", "trigger", "etl", "-r", "big_run", "-e", "2024-02-01", "-c", '{"rows": 500}'))
    rendered = ok(cli("tasks", "render", "etl", "extract", "big_run")).stdout
    assert "# property: bash_command" in rendered and "echo 2024-02-01 rows=500" in rendered
    # A logical date without a run renders as a manual run at that date, with the DAG's params.
    assert "echo 2024-03-05 rows=10" in ok(cli("tasks", "render", "etl", "extract", "2024-03-05")).stdout
    secret = ok(cli("tasks", "render", "etl", "load", "big_run")).stdout
    assert "pw-123456" not in secret and "echo ***" in secret

    assert "DAG 'etl' has no task 'nope'" in cli("tasks", "render", "etl", "nope", "big_run").error_line
    assert "has no run 'no_run'" in cli("tasks", "render", "etl", "extract", "no_run").error_line


def test_failed_deps_says_why_each_task_waits_until_nothing_holds_it(cli: Cli):
    ok(cli("dags", "trigger", "etl", "-r", "waiting"))
    load = ok(cli("tasks", "failed-deps", "etl", "load", "waiting")).stdout.splitlines()
    assert load[0] == "Task instance dependencies not met:"
    reasons = dict(line.split(": ", 1) for line in load[1:])
    assert set(reasons) == {"Dagrun Running", "Dag Not Paused", "Trigger Rule", "Pool Slots Available"}
    assert "'queued'" in reasons["Dagrun Running"]
    assert "all_success" in reasons["Trigger Rule"] and "1 not done" in reasons["Trigger Rule"]
    assert "non-existent pool 'warehouse'" in reasons["Pool Slots Available"]

    ok(cli("pools", "set", "warehouse", "2", "the warehouse"))
    ok(cli("dags", "unpause", "etl"))
    with metastore_session(cli.settings()) as session:
        session.execute(sa.text("update dag_run set state = 'running' where run_id = 'waiting'"))
        session.execute(sa.text("update task_instance set state = 'success' where task_id = 'extract'"))
    assert ok(cli("tasks", "failed-deps", "etl", "load", "waiting")).stdout.strip() == (
        "Task instance dependencies are all met."
    )
    done = ok(cli("tasks", "failed-deps", "etl", "extract", "waiting")).stdout
    assert "Task Instance State: Task is in the 'success' state." in done

    assert "has no run 'nope'" in cli("tasks", "failed-deps", "etl", "load", "nope").error_line
    assert "DAG 'etl' has no task 'nope'" in cli("tasks", "failed-deps", "etl", "nope", "waiting").error_line


# --- pools ------------------------------------------------------------------------------------------


def test_pools_are_set_listed_exported_and_imported_as_in_airflow(cli: Cli, tmp_path: Path):
    assert ok(cli("pools", "set", "warehouse", "4", "the warehouse")).stdout.strip() == "Pool warehouse created"
    listed = {p["pool"]: p for p in ok(cli("pools", "list", "-o", "json")).json()}
    assert set(listed) == {"default_pool", "warehouse"}
    assert (listed["warehouse"]["slots"], listed["warehouse"]["description"]) == (4, "the warehouse")
    assert listed["warehouse"]["open_slots"] == 4 and listed["warehouse"]["include_deferred"] is False
    [got] = ok(cli("pools", "get", "warehouse", "-o", "json")).json()
    assert got["slots"] == 4

    exported = tmp_path / "pools.json"
    assert "Exported 2 pools" in ok(cli("pools", "export", str(exported))).stdout
    assert json.loads(exported.read_text())["warehouse"] == {
        "slots": 4,
        "description": "the warehouse",
        "include_deferred": False,
    }
    assert ok(cli("pools", "delete", "warehouse")).stdout.strip() == "Pool warehouse deleted"
    assert "Uploaded 2 pool(s)" in ok(cli("pools", "import", str(exported))).stdout
    assert ok(cli("pools", "get", "warehouse", "-o", "json")).json()[0]["slots"] == 4

    with metastore_session(cli.settings()) as session:
        events = [(e.event, e.extra["pool"]) for e in audit.list_events(session) if e.event.startswith("pool.")]
    assert ("pool.delete", "warehouse") in events and events.count(("pool.set", "warehouse")) == 2


def test_bad_pool_input_is_refused_with_a_clear_error_and_changes_nothing(cli: Cli, tmp_path: Path):
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps({"reports": {"slots": 3, "description": "ok"}, "etl": {"slots": "many"}}))
    refused = cli("pools", "import", str(bad_file))
    assert refused.returncode == 1 and "etl" in refused.error_line and "nothing was imported" in refused.error_line
    assert [p["pool"] for p in ok(cli("pools", "list", "-o", "json")).json()] == ["default_pool"]

    assert "Pool nope does not exist" in cli("pools", "get", "nope").error_line
    assert "Pool nope does not exist" in cli("pools", "delete", "nope").error_line
    assert "default_pool cannot be deleted" in cli("pools", "delete", "default_pool").error_line
    assert "slots must be 0 or more" in cli("pools", "set", "etl", "--", "-1", "x").error_line
    assert "no such file" in cli("pools", "import", str(tmp_path / "missing.json")).error_line
    assert cli("pools", "set", "etl", "two", "x").returncode == 2


# --- config, providers, plugins ---------------------------------------------------------------------


def test_config_shows_tradewinds_settings_in_sections_with_secrets_masked(cli: Cli):
    cli = cli.with_env(TRADEWIND_SECRET_KEY="session-s3cret", TRADEWIND_PARALLELISM="7")
    assert ok(cli("config", "get-value", "core", "dags_folder")).stdout.strip() == str(cli.dags_folder)
    assert ok(cli("config", "get-value", "core", "parallelism")).stdout.strip() == "7"
    assert ok(cli("config", "get-value", "webserver", "secret_key")).stdout.strip() == "***"
    database_url = ok(cli("config", "get-value", "database", "database_url")).stdout.strip()
    assert database_url.startswith("postgresql://")

    listing = ok(cli("config", "list", "--section", "webserver", "-V", "-s")).stdout
    assert listing.startswith("[webserver]") and "session-s3cret" not in listing
    assert "# Variable: TRADEWIND_WEBSERVER_PORT" in listing and "webserver_port = 8080" in listing
    assert "[core]" not in listing
    everything = ok(cli("config", "list")).stdout
    assert "session-s3cret" not in everything and "[scheduler]" in everything and "parallelism = 7" in everything

    unknown = cli("config", "get-value", "core", "no_such_option")
    assert unknown.returncode == 1 and "[core/no_such_option] is not found in config" in unknown.error_line
    misplaced = cli("config", "get-value", "core", "webserver_port")
    assert "it is in [webserver]" in misplaced.error_line
    assert "There is no section [nope]" in cli("config", "list", "--section", "nope").error_line


def test_providers_and_plugins_list_what_extends_tradewind(cli: Cli):
    providers = {p["package_name"]: p for p in ok(cli("providers", "list", "-o", "json")).json()}
    assert {"apache-airflow-providers-common-sql", "apache-airflow-providers-postgres"} <= set(providers)
    assert all(p["version"] and p["description"] for p in providers.values())
    assert ok(cli("plugins", "-o", "json")).json() == []
    assert ok(cli("plugins")).stdout.strip() == "No plugins loaded"
