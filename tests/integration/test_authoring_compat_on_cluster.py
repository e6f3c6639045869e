"""Airflow 2 authoring features across the scheduler and a worker (real processes over Postgres and
Redis): setup and teardown tasks — the teardown runs after its work failed, and clearing the work
re-runs its setup and teardown; a DAG file whose import failed is imported again once what broke it
is fixed, on an interval or at once with ``dags reserialize``; and what a task renders from the
worker's configuration."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import Cli
from cluster import Cluster, wait_until

from tradewind.metastore import import_errors, logs
from tradewind.metastore.engine import session_scope
from tradewind.metastore.task_instances import TIKey

pytestmark = pytest.mark.integration

SETUP_TEARDOWN_DAG = """
from datetime import datetime, timezone
from pathlib import Path
from airflow.decorators import dag, setup, task, teardown

FLAG = Path({flag!r})

@dag(schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc))
def cluster_job():
    @setup
    def create_cluster():
        return "cluster-1"

    @task(retries=0)
    def report(name):
        if not FLAG.exists():
            raise RuntimeError(f"{{name}} has no data yet")
        print(f"report from {{name}}")

    @teardown
    def delete_cluster(name):
        print(f"deleting {{name}}")

    name = create_cluster()
    report(name) >> delete_cluster(name).as_teardown(setups=name)

cluster_job()
"""


RENDERING_DAG = """
from datetime import datetime, timezone
from airflow import DAG
from airflow.configuration import conf
from airflow.operators.bash import BashOperator

with DAG("renders", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
         params={"table": "orders"}):
    BashOperator(
        task_id="show",
        bash_command=(
            "echo logical={{ logical_date }} folder={{ conf.get('core', 'dags_folder') }} "
            "catchup={{ conf.getboolean('scheduler', 'catchup_by_default') }} "
            "missing={{ conf.get('core', 'no_such_option', fallback='none') }} "
            "table={{ dag_run.conf['table'] }}/{{ params.table }} "
            "parsed_with=" + conf.get("core", "executor")
        ),
    )
"""


@pytest.fixture
def cluster(tmp_path: Path, fresh_pg_url: str, redis_url: str) -> Iterator[Cluster]:
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    (dags_folder / "cluster_job.py").write_text(
        textwrap.dedent(SETUP_TEARDOWN_DAG.format(flag=str(tmp_path / "data-ready")))
    )
    (dags_folder / "renders.py").write_text(textwrap.dedent(RENDERING_DAG))
    cluster = Cluster(tmp_path / "home", fresh_pg_url, redis_url, dags_folder)
    cluster.cli("db", "migrate")
    cluster.start_scheduler()
    cluster.start_worker("w1")
    cluster.wait_for_dag("cluster_job")
    cluster.wait_for_dag("renders")
    yield cluster
    cluster.stop_all()


def _log(cluster: Cluster, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
    with session_scope(cluster.factory) as session:
        text, _ = logs.read_log(session, TIKey(dag_id, run_id, task_id), try_number)
    return text


def test_a_teardown_runs_after_its_work_failed_and_clearing_the_work_reruns_setup_and_teardown(
    cluster: Cluster, tmp_path: Path
) -> None:
    run_id = cluster.trigger("cluster_job")

    assert cluster.wait_for_run("cluster_job", run_id) == "failed"
    assert cluster.states("cluster_job", run_id) == {
        "create_cluster": "success",
        "report": "failed",
        "delete_cluster": "success",
    }
    assert "deleting cluster-1" in _log(cluster, "cluster_job", run_id, "delete_cluster", 1)

    # The data arrives; clearing only the failed report clears the cluster's setup and teardown too.
    (tmp_path / "data-ready").touch()
    cleared = cluster.cli("tasks", "clear", "cluster_job", "-t", "^report$", "--yes")
    assert "create_cluster" in cleared.stdout and "delete_cluster" in cleared.stdout

    assert cluster.wait_for_run("cluster_job", run_id) == "success"
    rows = cluster.task_rows("cluster_job", run_id)
    assert {task_id: (row.state, row.try_number) for task_id, row in rows.items()} == {
        "create_cluster": ("success", 2),
        "report": ("success", 2),
        "delete_cluster": ("success", 2),
    }
    # The re-run report started after the re-run setup, and the teardown after the report.
    assert rows["create_cluster"].end_date <= rows["report"].start_date
    assert rows["report"].end_date <= rows["delete_cluster"].start_date
    assert "report from cluster-1" in _log(cluster, "cluster_job", run_id, "report", 2)


def test_a_task_on_a_worker_renders_airflows_conf_and_dates_as_airflow_does(cluster: Cluster) -> None:
    run_id = cluster.trigger("renders", {"table": "refunds"}, logical_date="2024-01-01T00:00:00+00:00")

    assert cluster.wait_for_run("renders", run_id) == "success"
    output = _log(cluster, "renders", run_id, "show", 1)
    assert (
        f"logical=2024-01-01 00:00:00+00:00 folder={cluster.dags_folder} catchup=False missing=none "
        "table=refunds/refunds parsed_with=CeleryExecutor"
    ) in output


NEEDS_A_VARIABLE_DAG = """
from datetime import datetime, timezone
from airflow import DAG
from airflow.models import Variable
from airflow.operators.bash import BashOperator

REGION = Variable.get("region")  # at import time: the file fails to import until it is set

with DAG(f"export_{REGION}", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
    BashOperator(task_id="export", bash_command=f"echo exporting {REGION}")
"""


@pytest.fixture
def reparsing_cluster(tmp_path: Path, fresh_pg_url: str, redis_url: str) -> Iterator[Cluster]:
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    (dags_folder / "export.py").write_text(textwrap.dedent(NEEDS_A_VARIABLE_DAG))
    cluster = Cluster(
        tmp_path / "home", fresh_pg_url, redis_url, dags_folder, extra_env={"TRADEWIND_MIN_FILE_PROCESS_INTERVAL": "2"}
    )
    cluster.cli("db", "migrate")
    cluster.start_scheduler()
    cluster.start_worker("w1")
    yield cluster
    cluster.stop_all()


def _import_errors(cluster: Cluster) -> list[str]:
    with session_scope(cluster.factory) as session:
        return [e.filename for e in import_errors.list_import_errors(session)]


def test_a_file_that_failed_to_import_is_imported_again_once_its_variable_is_set(reparsing_cluster: Cluster) -> None:
    cluster = reparsing_cluster
    wait_until(lambda: _import_errors(cluster), 30, cluster.tail_logs)
    assert [Path(f).name for f in _import_errors(cluster)] == ["export.py"]

    # Nothing in the file changes: setting the variable is what fixes it.
    cluster.cli("variables", "set", "region", "eu")

    cluster.wait_for_dag("export_eu", timeout=30)
    assert _import_errors(cluster) == []
    run_id = cluster.trigger("export_eu")
    assert cluster.wait_for_run("export_eu", run_id) == "success"


def test_dags_reserialize_imports_a_fixed_file_at_once(tmp_path: Path, module_pg_url: str) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "export.py").write_text(textwrap.dedent(NEEDS_A_VARIABLE_DAG))
    # An hour between retries: only `dags reserialize` can bring the file back within the test.
    cli = Cli(
        home=tmp_path,
        dags_folder=folder,
        database_url=module_pg_url,
        extra_env={"TRADEWIND_MIN_FILE_PROCESS_INTERVAL": "3600"},
    )
    broken = cli("dags", "list-import-errors")
    assert broken.returncode == 1 and "export.py" in broken.stdout and "KeyError" in broken.stdout
    assert cli("variables", "set", "region", "us").returncode == 0
    assert cli("dags", "list-import-errors").returncode == 1, "unchanged file, interval not over: still broken"

    result = cli("dags", "reserialize")

    assert result.returncode == 0, result
    assert "1 DAG(s), 0 import error(s)" in result.stdout
    assert cli("dags", "list-import-errors").returncode == 0
    assert "export_us" in cli("dags", "list", "-o", "json").stdout
