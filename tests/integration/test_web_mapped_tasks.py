"""A mapped task in the web UI and the REST API, over a real PostgreSQL metastore seeded as the
scheduler writes an expanded mapped task: one grid row with its count, a graph node with its count,
a task-instance panel listing every mapped instance with a link to its log, ``listMapped``, and
clear / mark actions that apply to every instance of the mapped task."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from web_helpers import T0, basic_auth, csrf_token, graph_data, store_dag

from tradewind import DAG, task
from tradewind.decisions.task_nodes import task_rows
from tradewind.metastore import logs, runs
from tradewind.metastore.models import TaskInstance
from tradewind.metastore.task_instances import TIKey

pytestmark = pytest.mark.integration

pytest_plugins = ["web_fixtures"]

DAG_ID = "mapped_pipeline"
RUN_ID = "run_1"
STATES = ["success", "success", "failed", "running"]


def _dag() -> DAG:
    with DAG(DAG_ID, schedule=None, start_date=T0) as dag:

        @task
        def make():
            return [1, 2, 3, 4]

        @task
        def work(x):
            return x

        @task
        def reduce(values):
            return sum(values)

        reduce(work.expand(x=make()))
    return dag


@pytest.fixture
def mapped_run(web_db: Session) -> None:
    dag = _dag()
    store_dag(web_db, dag)
    runs.create_run(
        web_db,
        dag_id=DAG_ID,
        run_id=RUN_ID,
        run_type="manual",
        logical_date=T0 + timedelta(days=1),
        state="running",
        task_rows=[r for r in task_rows(dag) if r["task_id"] != "work"],
    )
    web_db.execute(sa.update(TaskInstance).where(TaskInstance.task_id == "make").values(state="success", try_number=1))
    for index, state in enumerate(STATES):
        web_db.add(
            TaskInstance(
                dag_id=DAG_ID,
                run_id=RUN_ID,
                task_id="work",
                map_index=index,
                state=state,
                try_number=1,
                max_tries=0,
                operator="@task",
                pool="default_pool",
                pool_slots=1,
                queue="default",
                priority_weight=1,
                duration=1.5,
            )
        )
        web_db.flush()
        logs.append_log(web_db, TIKey(DAG_ID, RUN_ID, "work", index), 1, f"log of mapped instance {index}\n")
    web_db.commit()


def test_the_grid_shows_a_mapped_task_as_one_row_with_its_count_and_state_counts(client_as, mapped_run: None):  # type: ignore[no-untyped-def]
    client = client_as("Viewer")
    data = client.get(f"/dags/{DAG_ID}/grid/data").get_json()
    rows = {row["id"]: row for row in data["rows"]}
    assert list(rows) == ["make", "work", "reduce"]
    assert rows["work"]["is_mapped"] and not rows["reduce"]["is_mapped"]
    assert rows["work"]["states"] == ["failed"]  # the most urgent state sums the instances up
    assert rows["work"]["mapped"] == [4]
    assert rows["work"]["mapped_states"] == [{"success": 2, "failed": 1, "running": 1}]
    page = client.get(f"/dags/{DAG_ID}/grid").text
    assert "Mapped instances: 4 (success 2, failed 1, running 1)" in page
    assert 'class="mapped-mark"' in page
    assert f"/dags/{DAG_ID}/runs/{RUN_ID}/tasks/work?map_index=0" in page


def test_the_graph_node_of_a_mapped_task_shows_its_count(client_as, mapped_run: None):  # type: ignore[no-untyped-def]
    client = client_as("Viewer")
    page = client.get(f"/dags/{DAG_ID}/graph?run_id={RUN_ID}").text
    assert graph_data(page)["tasks"]["work"]["mapped"] == "[4]"
    states = client.get(f"/dags/{DAG_ID}/runs/{RUN_ID}/states").get_json()
    assert states["mapped"] == {"work": 4}


def test_the_panel_lists_every_mapped_instance_and_opens_each_ones_log(client_as, mapped_run: None):  # type: ignore[no-untyped-def]
    client = client_as("Op")
    page = client.get(f"/dags/{DAG_ID}/runs/{RUN_ID}/tasks/work").text  # no map index: the first instance
    assert "Mapped task instances (4)" in page
    for index in range(4):
        assert f"/dags/{DAG_ID}/runs/{RUN_ID}/tasks/work/log?map_index={index}&amp;try=1" in page
    assert "Clear all mapped" in page and "Mark all success" in page
    third = client.get(f"/dags/{DAG_ID}/runs/{RUN_ID}/tasks/work?map_index=2").text
    assert "Task instance <code>work</code> [2]" in third
    assert "log of mapped instance 2" in third
    assert (
        client.get(f"/dags/{DAG_ID}/runs/{RUN_ID}/tasks/work/log?map_index=3&try=1").text
        == "log of mapped instance 3\n"
    )


def test_api_lists_mapped_task_instances_and_reads_one(web_app, mapped_run: None):  # type: ignore[no-untyped-def]
    client = web_app.test_client()
    auth = basic_auth("Viewer")
    base = f"/api/v1/dags/{DAG_ID}/dagRuns/{RUN_ID}/taskInstances"
    listed = client.get(f"{base}/work/listMapped", auth=auth).get_json()
    assert listed["total_entries"] == 4
    assert [(t["map_index"], t["state"]) for t in listed["task_instances"]] == list(enumerate(STATES))
    failed = client.get(f"{base}/work/listMapped?state=failed", auth=auth).get_json()
    assert [t["map_index"] for t in failed["task_instances"]] == [2]
    assert (
        client.get(f"{base}/work/listMapped?limit=2&offset=2", auth=auth).get_json()["task_instances"][0]["map_index"]
        == 2
    )
    assert client.get(f"{base}/work/3", auth=auth).get_json()["state"] == "running"
    assert client.get(f"{base}/work/9", auth=auth).status_code == 404
    assert client.get(f"{base}/reduce/listMapped", auth=auth).status_code == 404
    everything = client.get(base, auth=auth).get_json()
    assert sorted((t["task_id"], t["map_index"]) for t in everything["task_instances"]) == [
        ("make", -1),
        ("reduce", -1),
        ("work", 0),
        ("work", 1),
        ("work", 2),
        ("work", 3),
    ]


def _work_states(session: Session) -> list[str]:
    session.expire_all()
    return [
        ti.state
        for ti in session.scalars(
            sa.select(TaskInstance).where(TaskInstance.task_id == "work").order_by(TaskInstance.map_index)
        )
    ]


def test_clearing_a_mapped_task_clears_all_its_instances(client_as, mapped_run: None, web_db: Session):  # type: ignore[no-untyped-def]
    client = client_as("Op")
    preview = client.get(f"/dags/{DAG_ID}/clear?run_id={RUN_ID}&task_id=work")
    assert "4 task instances will be cleared" in preview.text
    response = client.post(
        f"/dags/{DAG_ID}/clear", data={"csrf_token": csrf_token(client), "run_id": RUN_ID, "task_id": "work"}
    )
    assert response.status_code == 302
    assert _work_states(web_db) == ["none", "none", "none", "restarting"]


def test_marking_one_mapped_instance_or_all_of_them(client_as, mapped_run: None, web_db: Session):  # type: ignore[no-untyped-def]
    client = client_as("Op")
    client.post(
        f"/dags/{DAG_ID}/mark",
        data={
            "csrf_token": csrf_token(client),
            "state": "success",
            "run_id": RUN_ID,
            "task_id": "work",
            "map_index": "2",
        },
    )
    assert _work_states(web_db) == ["success", "success", "success", "running"]
    client.post(
        f"/dags/{DAG_ID}/mark",
        data={"csrf_token": csrf_token(client), "state": "failed", "run_id": RUN_ID, "task_id": "work"},
    )
    assert _work_states(web_db) == ["failed"] * 4


def test_api_clears_chosen_mapped_instances_by_task_id_and_map_index(
    web_app,
    mapped_run: None,  # type: ignore[no-untyped-def]
    web_db: Session,
):
    client = web_app.test_client()
    url = f"/api/v1/dags/{DAG_ID}/clearTaskInstances"
    body = {"dag_run_id": RUN_ID, "task_ids": [["work", 2], ["work", 0]], "dry_run": True, "only_failed": False}
    preview = client.post(url, json=body, auth=basic_auth("Op")).get_json()
    assert sorted((t["task_id"], t["map_index"]) for t in preview["task_instances"]) == [("work", 0), ("work", 2)]
    assert _work_states(web_db) == STATES
    done = client.post(url, json={**body, "dry_run": False}, auth=basic_auth("Op"))
    assert done.status_code == 200, done.text
    assert _work_states(web_db) == ["none", "success", "none", "running"]
    bad = client.post(url, json={"task_ids": [["work", "x"]]}, auth=basic_auth("Op"))
    assert bad.status_code == 400
    assert "is not a task id nor a [task_id, map_index] pair" in bad.text
