"""Dynamic task mapping on a real cluster (scheduler and two workers over Postgres and Redis): a
mapped task is expanded once its upstream has pushed its list, 500 task instances all run and the
reducer gets their 500 results in map-index order, zero elements skip it, and a value that is not a
list or is longer than the limit fails it with the reason in its log. The web UI's grid data shows
the mapped task as one row with its count of task instances."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cluster import Cluster
from web_helpers import FAST_HASH, SECRET_KEY, login

from tradewind.master.webserver.app import create_app
from tradewind.master.webserver.db import dispose
from tradewind.metastore import logs, task_instances, users, xcoms
from tradewind.metastore.engine import session_scope
from tradewind.metastore.task_instances import TIKey

pytestmark = pytest.mark.integration

LIMIT = 600

MAPPING_DAG = """
from datetime import datetime, timezone
from tradewind import DAG, task

with DAG("map_sizes", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), max_active_runs=10):
    @task
    def make(dag_run=None):
        return list(range(dag_run.conf["n"]))

    @task
    def square(x, power):
        return x ** power

    @task
    def collect(values, dag_run=None):
        values = list(values)
        expected = [x ** 2 for x in range(dag_run.conf["n"])]
        assert values == expected, f"got {values[:10]}... ({len(values)} values)"
        return len(values)

    @task(trigger_rule="all_done")
    def finish():
        return "done"

    collect(square.partial(power=2).expand(x=make())) >> finish()

with DAG("map_bad_type", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
    @task
    def not_a_list():
        return 42

    @task
    def use(item):
        return item

    @task
    def after(values):
        return values

    after(use.expand(item=not_a_list()))
"""


@pytest.fixture
def cluster(tmp_path: Path, fresh_pg_url: str, redis_url: str) -> Iterator[Cluster]:
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    (dags_folder / "mapping.py").write_text(textwrap.dedent(MAPPING_DAG))
    cluster = Cluster(
        tmp_path / "home", fresh_pg_url, redis_url, dags_folder, extra_env={"TRADEWIND_MAX_MAP_LENGTH": str(LIMIT)}
    )
    cluster.cli("db", "migrate")
    cluster.start_scheduler()
    cluster.start_worker("w1", concurrency=4)
    cluster.start_worker("w2", concurrency=4)
    cluster.wait_for_dag("map_sizes")
    cluster.wait_for_dag("map_bad_type")
    yield cluster
    cluster.stop_all()


def log_of(cluster: Cluster, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    with session_scope(cluster.factory) as session:
        text, _ = logs.read_log(session, TIKey(dag_id, run_id, task_id, map_index), 1)
    return text


def test_mapping_over_500_1_and_0_elements_and_past_the_limit(cluster: Cluster):
    runs = {
        n: cluster.trigger("map_sizes", {"n": n}, logical_date=f"2024-02-{day:02d}T00:00:00+00:00")
        for day, n in enumerate([500, 1, 0, LIMIT + 1], start=1)
    }

    big = runs[500]
    assert cluster.wait_for_run("map_sizes", big, timeout=240) == "success"
    states = cluster.states("map_sizes", big)
    assert states["square"] == ["success"] * 500
    assert (states["make"], states["collect"], states["finish"]) == ("success", "success", "success")
    with session_scope(cluster.factory) as session:
        assert xcoms.get_xcom(session, "map_sizes", big, "collect") == 500
        assert xcoms.get_xcom(session, "map_sizes", big, "square", map_index=499) == 499**2
        rows = [r for r in task_instances.get_tis(session, "map_sizes", big) if r.task_id == "square"]
    assert sorted(r.map_index for r in rows) == list(range(500))
    assert {r.hostname for r in rows} == {"w1", "w2"}

    one = runs[1]
    assert cluster.wait_for_run("map_sizes", one) == "success"
    assert cluster.states("map_sizes", one)["square"] == ["success"]

    # Zero elements: the mapped task is skipped, the all_success reducer too, the all_done one runs.
    none = runs[0]
    assert cluster.wait_for_run("map_sizes", none) == "success"
    assert cluster.states("map_sizes", none) == {
        "make": "success",
        "square": "skipped",
        "collect": "skipped",
        "finish": "success",
    }

    # Past the limit the mapped task fails; the run ends as its leaf (all_done) does, as in Airflow.
    too_many = runs[LIMIT + 1]
    assert cluster.wait_for_run("map_sizes", too_many) == "success"
    assert cluster.states("map_sizes", too_many) == {
        "make": "success",
        "square": "failed",
        "collect": "upstream_failed",
        "finish": "success",
    }
    assert (
        f"mapped task 'square' would expand into {LIMIT + 1} task instances, more than the limit of "
        f"{LIMIT} (TRADEWIND_MAX_MAP_LENGTH)"
    ) in log_of(cluster, "map_sizes", too_many, "square")

    grid = grid_data(cluster, "map_sizes", big)
    assert grid["square"]["is_mapped"] and not grid["collect"]["is_mapped"]
    assert grid["square"]["mapped_count"] == 500
    assert grid["square"]["state"] == "success"
    assert grid["square"]["mapped_states"] == {"success": 500}
    assert grid["collect"]["mapped_count"] is None


def test_mapping_over_a_value_that_is_not_a_list_fails_the_mapped_task(cluster: Cluster):
    run_id = cluster.trigger("map_bad_type")
    assert cluster.wait_for_run("map_bad_type", run_id) == "failed"
    assert cluster.states("map_bad_type", run_id) == {
        "not_a_list": "success",
        "use": "failed",
        "after": "upstream_failed",
    }
    assert (
        "mapped task 'use' cannot map 'item' over the XCom 'return_value' of task 'not_a_list': it is a "
        "int (42), and mapping needs a list or a dict"
    ) in log_of(cluster, "map_bad_type", run_id, "use")


def grid_data(cluster: Cluster, dag_id: str, run_id: str) -> dict[str, dict]:
    """The grid page's JSON, by task, for the run's column: what the grid draws in each row."""
    settings = replace(cluster.settings, secret_key=SECRET_KEY)
    with session_scope(cluster.factory) as session:
        users.create_user(session, "viewer", "viewer-password", "Viewer", hash_method=FAST_HASH)
    app = create_app(settings)
    app.config["TESTING"] = True
    try:
        client = app.test_client()
        assert login(client, "viewer", "viewer-password").status_code == 302
        response = client.get(f"/dags/{dag_id}/grid/data")
        assert response.status_code == 200, response.text
        data = response.get_json()
        column = [run["run_id"] for run in data["runs"]].index(run_id)
        page = client.get(f"/dags/{dag_id}/grid")
        assert page.status_code == 200 and "Mapped instances: 500 (success 500)" in page.text
    finally:
        dispose(app)
    return {
        row["id"]: {
            "state": row["states"][column],
            "is_mapped": row["is_mapped"],
            "mapped_count": row["mapped"][column] if row["is_mapped"] else None,
            "mapped_states": row["mapped_states"][column] if row["is_mapped"] else None,
        }
        for row in data["rows"]
    }
