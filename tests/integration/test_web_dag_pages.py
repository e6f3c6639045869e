"""The pages of one DAG (grid, task-instance panel, graph, Gantt, code) over a real PostgreSQL
metastore, seeded the way the dag processor, the scheduler and the workers write it."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session
from web_helpers import T0, counting_queries, csrf_token, graph_data, make_dag, store_dag, store_run

from tradewind import DAG, BashOperator, TaskGroup
from tradewind.master.scheduler.dag_processor import sync_dag_folder
from tradewind.master.webserver.db import metastore
from tradewind.metastore import dag_code, dags, logs, runs, task_instances, xcoms
from tradewind.metastore.models import DagRun, TaskInstance
from tradewind.metastore.task_instances import TIKey
from tradewind.sdk.serialization import serialize_dag
from tradewind.settings import Settings

pytestmark = pytest.mark.integration

pytest_plugins = ["web_fixtures"]

DAG_ID = "pipeline"
TASKS = ("extract", "transform.clean", "transform.enrich", "load")


def _pipeline() -> DAG:
    with DAG(DAG_ID, schedule="@daily", start_date=T0) as dag:
        extract = BashOperator(task_id="extract", bash_command="echo extract")
        with TaskGroup("transform") as transform:
            clean = BashOperator(task_id="clean", bash_command="echo clean")
            enrich = BashOperator(task_id="enrich", bash_command="echo {{ ds }}")
            clean >> enrich
        load = BashOperator(task_id="load", bash_command="echo load")
        extract >> transform >> load
    return dag


def _set_ti(session: Session, run_id: str, task_id: str, **values: Any) -> None:
    session.execute(
        sa.update(TaskInstance)
        .where(
            TaskInstance.dag_id == DAG_ID,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id == task_id,
        )
        .values(**values)
    )


def _record_try(
    session: Session,
    run_id: str,
    task_id: str,
    try_number: int,
    state: str,
    *,
    minutes: int = 0,
    hostname: str = "worker-1",
) -> None:
    start = T0 + timedelta(days=1, minutes=minutes)
    _set_ti(
        session,
        run_id,
        task_id,
        try_number=try_number,
        state=state,
        queued_dttm=start - timedelta(seconds=30),
        start_date=start,
        end_date=start + timedelta(minutes=2) if state != "running" else None,
        duration=120.0 if state != "running" else None,
        hostname=hostname,
        pid=4242,
        queue="default",
        max_tries=2,
    )
    session.flush()
    ti = task_instances.get_ti(session, DAG_ID, run_id, task_id)
    assert ti is not None
    task_instances.record_try(session, ti)


@pytest.fixture
def pipeline(web_db: Session) -> Session:
    """One DAG with a task group, and one run: extract succeeded (after a failed first try),
    transform.clean runs, the rest wait."""
    store_dag(web_db, _pipeline())
    store_run(
        web_db,
        DAG_ID,
        "run_1",
        "running",
        logical_date=T0,
        task_states={"extract": "success", "transform.clean": "running", "transform.enrich": "none", "load": "none"},
    )
    _record_try(web_db, "run_1", "extract", 1, "failed", minutes=0)
    _record_try(web_db, "run_1", "extract", 2, "success", minutes=3)
    _record_try(web_db, "run_1", "transform.clean", 1, "running", minutes=6)
    web_db.commit()
    return web_db


def _box_classes(html: str) -> dict[str, list[str]]:
    """row id -> the state of each box in it, left to right."""
    found: dict[str, list[str]] = {}
    for row_id, body in re.findall(r'<tr class="grid-row[^"]*" data-row-id="([^"]+)"[^>]*>(.*?)</tr>', html, re.S):
        found[row_id] = re.findall(r'class="box state-([a-z_]+)"', body)
    return found


# --- grid ------------------------------------------------------------------------------------------


def test_grid_shows_tasks_in_group_order_with_a_box_per_task_instance(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    page = client_as("Viewer").get(f"/dags/{DAG_ID}/grid")
    assert page.status_code == 200
    boxes = _box_classes(page.text)
    assert list(boxes) == ["extract", "transform", "transform.clean", "transform.enrich", "load"]
    assert boxes["extract"] == ["success"]
    assert boxes["transform.clean"] == ["running"]
    assert boxes["transform"] == ["running"]  # the group shows its most urgent member state
    assert boxes["load"] == ["none"]
    assert (
        'title="Task: extract&#10;Run: run_1&#10;State: success&#10;Try: 2"' in page.text
        or "Task: extract\nRun: run_1\nState: success\nTry: 2" in page.text
    )
    assert f'href="/dags/{DAG_ID}/runs/run_1/tasks/extract"' in page.text
    assert 'data-groups="transform"' in page.text and 'data-group="transform"' in page.text
    assert 'class="run-bar state-running"' in page.text
    assert "grid.js" in page.text and "<script>" not in page.text


def test_grid_tab_bar_links_every_dag_page(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    page = client_as("Viewer").get(f"/dags/{DAG_ID}/grid").text
    tabs = re.findall(r'<a class="tab[^"]*" href="([^"]+)">([^<]+)</a>', page)
    labels = ["Grid", "Graph", "Calendar", "Task Duration", "Task Tries", "Landing Times", "Gantt", "Code"]
    assert [label for _, label in tabs] == labels, "Airflow's tabs, in Airflow's order"


def test_grid_pages_back_through_older_runs(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    store_dag(web_db, make_dag("many"))
    for day in range(30):
        store_run(
            web_db,
            "many",
            f"run_{day:02d}",
            "success",
            logical_date=T0 + timedelta(days=day),
            task_states={"task_0": "success", "task_1": "failed" if day == 0 else "success"},
        )
    web_db.commit()
    client = client_as("Viewer")
    first = client.get("/dags/many/grid").text
    runs = re.findall(r'<th class="run-col" data-run-id="([^"]+)"', first)
    assert runs == [f"run_{day:02d}" for day in range(5, 30)]
    older = re.search(r'<a href="([^"]+)">&larr; Older runs</a>', first)
    assert older is not None
    second = client.get(older.group(1).replace("&amp;", "&")).text
    assert re.findall(r'<th class="run-col" data-run-id="([^"]+)"', second) == [f"run_{d:02d}" for d in range(5)]
    assert _box_classes(second)["task_1"][0] == "failed"
    assert "Older runs" not in second


def test_grid_data_is_json_of_runs_and_the_states_matrix(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    data = client_as("Viewer").get(f"/dags/{DAG_ID}/grid/data").get_json()
    assert [run["run_id"] for run in data["runs"]] == ["run_1"]
    assert data["runs"][0]["state"] == "running"
    assert set(data["runs"][0]) >= {"logical_date", "start_date", "end_date", "duration"}
    states = {row["id"]: row["states"] for row in data["rows"]}
    assert states == {
        "extract": ["success"],
        "transform": ["running"],
        "transform.clean": ["running"],
        "transform.enrich": ["none"],
        "load": ["none"],
    }
    assert data["active"] is True


def test_a_mapped_task_shows_one_box_with_its_most_urgent_state(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    store_dag(web_db, make_dag("mapped", tasks=1))
    runs.create_run(
        web_db,
        dag_id="mapped",
        run_id="r",
        run_type="manual",
        logical_date=T0,
        state="running",
        task_rows=[{"task_id": "task_0", "map_index": i} for i in range(3)],
    )
    web_db.execute(sa.update(TaskInstance).where(TaskInstance.map_index == 1).values(state="failed"))
    web_db.execute(sa.update(TaskInstance).where(TaskInstance.map_index != 1).values(state="success"))
    web_db.commit()
    page = client_as("Viewer").get("/dags/mapped/grid").text
    assert _box_classes(page)["task_0"] == ["failed"]
    assert 'href="/dags/mapped/runs/r/tasks/task_0?map_index=0"' in page and "Mapped instances: 3" in page
    assert client_as("Viewer").get("/dags/mapped/runs/r/tasks/task_0?map_index=1").status_code == 200


def test_grid_of_25_runs_by_100_tasks_takes_a_constant_small_number_of_queries(  # type: ignore[no-untyped-def]
    client_as, web_app: Flask, web_db: Session
) -> None:
    store_dag(web_db, make_dag("big", tasks=100))
    small = make_dag("small", tasks=2)
    store_dag(web_db, small)
    for day in range(25):
        store_run(
            web_db,
            "big",
            f"run_{day:02d}",
            "success",
            logical_date=T0 + timedelta(days=day),
            task_states={f"task_{i}": "success" for i in range(100)},
        )
    store_run(
        web_db, "small", "only", "success", logical_date=T0, task_states={"task_0": "success", "task_1": "success"}
    )
    web_db.commit()
    client = client_as("Viewer")
    client.get("/dags/small/grid")
    with counting_queries(web_app) as small_queries:
        assert client.get("/dags/small/grid").status_code == 200
    with counting_queries(web_app) as big_queries:
        page = client.get("/dags/big/grid")
    assert page.status_code == 200
    assert page.text.count('class="box state-success"') == 2500
    assert len(big_queries) == len(small_queries) <= 6, big_queries


def test_unknown_dag_gives_a_404_with_a_clear_message_on_every_page(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Viewer")
    for path in ("grid", "grid/data", "graph", "gantt", "code", "runs/run_1/tasks/extract"):
        page = client.get(f"/dags/nope/{path}")
        assert page.status_code == 404, path
        assert "There is no DAG" in page.text and "nope" in page.text


def test_anonymous_users_are_sent_to_the_login_page(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    page = client_as(None).get(f"/dags/{DAG_ID}/grid")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_the_dags_list_links_each_dag_to_its_grid(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    assert f'<a href="/dags/{DAG_ID}/grid">{DAG_ID}</a>' in client_as("Viewer").get("/").text


# --- task instance panel -------------------------------------------------------------------------


def test_panel_shows_details_and_every_try(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    page = client_as("Viewer").get(f"/dags/{DAG_ID}/runs/run_1/tasks/extract")
    assert page.status_code == 200
    text = page.text
    assert '<span class="state-badge state-success">success</span>' in text
    for label, value in (
        ("Try number", "2"),
        ("Max tries", "2"),
        ("Hostname", "worker-1"),
        ("PID", "4242"),
        ("Queue", "default"),
        ("Operator", "BashOperator"),
    ):
        assert re.search(rf"<th>{label}</th><td>{value}</td>", text), label
    tries = re.findall(r'<td><a href="[^"]+try=(\d)">\d</a></td>\s*<td><span class="state-badge state-(\w+)"', text)
    assert tries == [("1", "failed"), ("2", "success")]
    assert "Why it is not running" not in text


def test_panel_shows_the_log_of_the_chosen_try_and_serves_it_as_text(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    key = TIKey(DAG_ID, "run_1", "extract")
    logs.append_log(pipeline, key, 1, "first try broke\n")
    logs.append_log(pipeline, key, 2, "second try line 1\n")
    logs.append_log(pipeline, key, 2, "second try line 2\n")
    pipeline.commit()
    client = client_as("Viewer")
    base = f"/dags/{DAG_ID}/runs/run_1/tasks/extract"
    assert "second try line 2" in client.get(base).text
    first = client.get(f"{base}?try=1").text
    assert "first try broke" in first and "second try" not in first
    plain = client.get(f"{base}/log?try=2")
    assert plain.mimetype == "text/plain" and plain.text == "second try line 1\nsecond try line 2\n"
    assert "Content-Disposition" not in plain.headers
    download = client.get(f"{base}/log?try=2&download=1")
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.text == plain.text
    assert client.get(f"{base}?try=9").status_code == 404


def test_log_tail_returns_only_chunks_after_after_seq(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    key = TIKey(DAG_ID, "run_1", "transform.clean")
    for line in ("one\n", "two\n", "three\n"):
        logs.append_log(pipeline, key, 1, line)
    pipeline.commit()
    client = client_as("Viewer")
    base = f"/dags/{DAG_ID}/runs/run_1/tasks/transform.clean"
    page = client.get(base).text
    assert 'data-tailing="true"' in page and 'data-after-seq="2"' in page and "log_tail.js" in page
    tail = client.get(f"{base}/log/tail?try=1&after_seq=0").get_json()
    assert tail == {"text": "two\nthree\n", "last_seq": 2, "skipped": False, "state": "running", "running": True}
    assert client.get(f"{base}/log/tail?try=1&after_seq=2").get_json()["text"] == ""
    assert client.get(f"{base}/log/tail?try=1&after_seq=x").status_code == 400


def test_panel_shows_the_end_of_a_long_log_and_pages_back_to_its_start(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    key = TIKey(DAG_ID, "run_1", "extract")
    lines = [f"line {i:07d}\n" for i in range(300_000)]
    logs.append_log(pipeline, key, 2, "".join(lines))  # 3.6 MB in one chunk, as logs were stored before the cap
    pipeline.commit()
    client = client_as("Viewer")
    base = f"/dags/{DAG_ID}/runs/run_1/tasks/extract"
    page = client.get(base)
    assert page.status_code == 200 and len(page.data) < 400_000
    assert "line 0299999" in page.text and "line 0000000" not in page.text
    found = re.search(r'data-before-seq="(\d+)" data-before-offset="(\d+)"', page.text)
    assert found is not None and "Load earlier output" in page.text
    shown = re.search(r'<pre class="log" id="log"[^>]*>(.*?)</pre>', page.text, re.S).group(1)  # type: ignore[union-attr]
    parts, before = [shown], found.groups()
    while True:
        earlier = client.get(f"{base}/log/page?try=2&before_seq={before[0]}&before_offset={before[1]}").get_json()
        assert 0 < len(earlier["text"].encode()) <= 256 * 1024 and earlier["text"].startswith("line ")
        parts.append(earlier["text"])
        before = (earlier["start_seq"], earlier["start_offset"])
        if earlier["at_start"]:
            break
    assert "".join(reversed(parts)) == "".join(lines)
    assert client.get(f"{base}?try=1").text.count("Load earlier output") == 0


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("log/page?try=2&before_seq=x", 400),
        ("log/page?try=2&before_seq=-1", 400),
        ("log/page?try=2&before_offset=1.5", 400),
        ("log/page?try=2&before_seq=99999999999999999999", 400),
        ("log/page?try=3", 404),
        ("log/page?try=0", 404),
        ("log/page?try=2&map_index=x", 400),
        ("log/tail?try=2&after_seq=-2", 400),
        ("log/tail?try=2&after_seq=99999999999999999999", 400),
        ("log/tail?try=9", 404),
        ("log?try=9", 404),
        ("log?try=two&download=1", 400),
        ("log?try=2&map_index=5", 404),
    ],
)
def test_log_pages_answer_bad_input_with_a_4xx(client_as, pipeline: Session, query: str, status: int) -> None:  # type: ignore[no-untyped-def]
    response = client_as("Viewer").get(f"/dags/{DAG_ID}/runs/run_1/tasks/extract/{query}")
    assert response.status_code == status, response.text


def test_panel_shows_xcom_and_rendered_fields_of_the_try(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    key = TIKey(DAG_ID, "run_1", "extract")
    xcoms.set_xcom(pipeline, key, "return_value", {"rows": 42})
    task_instances.set_rendered_fields(pipeline, key, 2, {"bash_command": "echo 2024-03-01"})
    task_instances.set_rendered_fields(pipeline, key, 1, {"bash_command": "echo try-one"})
    pipeline.commit()
    client = client_as("Viewer")
    text = client.get(f"/dags/{DAG_ID}/runs/run_1/tasks/extract").text
    assert "<code>return_value</code>" in text and "&#34;rows&#34;: 42" in text
    assert "<code>bash_command</code>" in text and "echo 2024-03-01" in text
    assert "echo try-one" in client.get(f"/dags/{DAG_ID}/runs/run_1/tasks/extract?try=1").text


def test_panel_says_why_a_task_waiting_on_upstream_is_not_running(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    text = client_as("Viewer").get(f"/dags/{DAG_ID}/runs/run_1/tasks/transform.enrich").text
    assert "Why it is not running" in text
    assert "<code>all_success</code>" in text and "<strong>wait</strong>" in text
    assert "some upstream tasks have not finished" in text
    assert "<li><code>transform.clean</code>: running</li>" in text


def test_panel_404s_for_an_unknown_run_task_or_map_index(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Viewer")
    unknown_run = client.get(f"/dags/{DAG_ID}/runs/nope/tasks/extract")
    assert unknown_run.status_code == 404 and "has no run" in unknown_run.text
    unknown_task = client.get(f"/dags/{DAG_ID}/runs/run_1/tasks/ghost")
    assert unknown_task.status_code == 404 and "has no task" in unknown_task.text
    assert client.get(f"/dags/{DAG_ID}/runs/run_1/tasks/extract?map_index=3").status_code == 404
    assert client.get(f"/dags/{DAG_ID}/graph?run_id=nope").status_code == 404


def test_action_links_show_only_for_op_and_only_once_their_pages_exist(
    client_as,
    web_app: Flask,  # type: ignore[no-untyped-def]
    pipeline: Session,
) -> None:
    path = f"/dags/{DAG_ID}/runs/run_1/tasks/extract"
    viewer = client_as("Viewer").get(path).text
    assert f"/dags/{DAG_ID}/clear?" not in viewer and f"/dags/{DAG_ID}/mark?" not in viewer
    op = client_as("Op").get(path).text
    has_clear = any(rule.rule == "/dags/<dag_id>/clear" for rule in web_app.url_map.iter_rules())
    assert (f"/dags/{DAG_ID}/clear?run_id=run_1&amp;task_id=extract&amp;map_index=-1" in op) == has_clear


def test_user_text_with_script_tags_is_escaped_everywhere(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    evil = "<script>alert(1)</script>"
    with DAG("evil_dag", schedule=None, start_date=T0) as dag:
        BashOperator(task_id="x", bash_command="echo")
    # The SDK refuses such a task id; a metastore row written by anything else may still hold one.
    serialized = serialize_dag(dag)
    serialized["tasks"][0]["task_id"] = "x<script>"
    serialized["task_group"]["children"] = [{"task": "x<script>"}]
    dags.upsert_dag(web_db, "evil_dag", "/dags/evil.py", serialized, "hash", None, None, [], "me", 16, 16, False)
    # tradewind no longer creates a run with such an id; one created before it checked run ids may remain.
    web_db.add(DagRun(dag_id="evil_dag", run_id="run<script>", run_type="manual", logical_date=T0, state="running"))
    web_db.flush()
    web_db.add(TaskInstance(dag_id="evil_dag", run_id="run<script>", task_id="x<script>", state="running"))
    web_db.flush()
    key = TIKey("evil_dag", "run<script>", "x<script>")
    _record_evil_try(web_db)
    logs.append_log(web_db, key, 1, f"log line {evil}\n")
    xcoms.set_xcom(web_db, key, "k", evil)
    web_db.commit()
    client = client_as("Viewer")
    grid = client.get("/dags/evil_dag/grid").text
    assert "<script>alert" not in grid and "x&lt;script&gt;" in grid
    panel_text = client.get("/dags/evil_dag/runs/run%3Cscript%3E/tasks/x%3Cscript%3E").text
    assert "<script>alert" not in panel_text
    assert "log line &lt;script&gt;alert(1)&lt;/script&gt;" in panel_text  # the log
    assert "<pre>&lt;script&gt;alert(1)&lt;/script&gt;</pre>" in panel_text  # the XCom value
    assert "x&lt;script&gt;" in panel_text
    graph = client.get("/dags/evil_dag/graph").text
    assert "<script>" not in graph.replace('<script src="', "") and "x&lt;script&gt;" in graph
    assert "x<script>" in graph_data(graph)["tasks"]  # the JSON holds it escaped, never as markup


def _record_evil_try(session: Session) -> None:
    session.execute(
        sa.update(TaskInstance).where(TaskInstance.dag_id == "evil_dag").values(try_number=1, start_date=T0)
    )
    session.flush()
    ti = task_instances.get_ti(session, "evil_dag", "run<script>", "x<script>")
    assert ti is not None
    task_instances.record_try(session, ti)


# --- graph, Gantt, code ----------------------------------------------------------------------------


def test_graph_hands_the_browser_each_task_with_its_state_inside_its_group(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    page = client_as("Viewer").get(f"/dags/{DAG_ID}/graph")
    assert page.status_code == 200
    assert '<svg id="graph"' in page.text and "vendor/elk/elk.bundled.js" in page.text
    data = graph_data(page.text)
    assert {task_id: task["state"] for task_id, task in data["tasks"].items()} == {
        "extract": "success",
        "transform.clean": "running",
        "transform.enrich": "none",
        "load": "none",
    }
    assert data["tasks"]["transform.clean"]["url"] == f"/dags/{DAG_ID}/runs/run_1/tasks/transform.clean"
    transform = [child for child in data["root"] if child.get("group") == "transform"]
    assert [child["task"] for child in transform[0]["children"]] == ["transform.clean", "transform.enrich"]
    assert len(data["edges"]) == 3
    assert len(graph_data(client_as("Viewer").get(f"/dags/{DAG_ID}/graph?run_id=run_1").text)["edges"]) == 3


def test_graph_marks_setup_and_teardown_tasks_and_the_link_between_them(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    with DAG("cluster", schedule=None, start_date=T0) as dag:
        create = BashOperator(task_id="create_cluster", bash_command="true")
        query = BashOperator(task_id="run_query", bash_command="true")
        delete = BashOperator(task_id="delete_cluster", bash_command="true")
        create >> query >> delete.as_teardown(setups=create)
    store_dag(web_db, dag)
    web_db.commit()

    data = graph_data(client_as("Viewer").get("/dags/cluster/graph").text)

    roles = {task_id: task["role"] for task_id, task in data["tasks"].items() if task["role"]}
    assert roles == {"create_cluster": "setup", "delete_cluster": "teardown"}
    assert sorted(data["edges"]) == [
        ["create_cluster", "delete_cluster", "setup_teardown"],
        ["create_cluster", "run_query", ""],
        ["run_query", "delete_cluster", ""],
    ]


def test_display_names_head_the_dag_pages_and_label_the_tasks(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    with DAG("ingest_v2", schedule=None, start_date=T0, dag_display_name="Ingest (v2)") as dag:
        BashOperator(task_id="pull", bash_command="true", task_display_name="Pull from the API")
    store_dag(web_db, dag)
    web_db.commit()
    viewer = client_as("Viewer")

    for page in ("grid", "graph", "gantt", "code"):
        text = viewer.get(f"/dags/ingest_v2/{page}").text
        assert '<h1>DAG: Ingest (v2) <small class="muted dag-id">ingest_v2</small></h1>' in text, page
    assert '<span class="task-label">Pull from the API</span>' in viewer.get("/dags/ingest_v2/grid").text
    assert graph_data(viewer.get("/dags/ingest_v2/graph").text)["tasks"]["pull"]["label"] == "Pull from the API"


def test_graph_of_an_active_run_polls_its_states_to_recolour_nodes_without_reload(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    viewer = client_as("Viewer")
    page = viewer.get(f"/dags/{DAG_ID}/graph?run_id=run_1").text
    assert f'data-url="/dags/{DAG_ID}/runs/run_1/states"' in page and "graph.js" in page
    states = viewer.get(f"/dags/{DAG_ID}/runs/run_1/states").get_json()
    assert states["tasks"] == {
        "extract": "success",
        "transform.clean": "running",
        "transform.enrich": "none",
        "load": "none",
    }
    assert states["active"] is (states["state"] in ("queued", "running"))
    assert viewer.get(f"/dags/{DAG_ID}/runs/nope/states").status_code == 404


def test_gantt_draws_every_try_with_its_queued_and_running_parts(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    page = client_as("Viewer").get(f"/dags/{DAG_ID}/gantt?run_id=run_1")
    assert page.status_code == 200
    rows = re.findall(r'<div class="gantt-row" data-task-id="([^"]+)">(.*?)</div>\s*</div>', page.text, re.S)
    bars = {task_id: re.findall(r'class="gantt-bar (\w+)-part state-(\w+)"', body) for task_id, body in rows}
    assert bars["extract"] == [
        ("queued", "queued"),
        ("running", "failed"),
        ("queued", "queued"),
        ("running", "success"),
    ]
    assert bars["transform.clean"] == [("queued", "queued"), ("running", "running")]
    assert bars["transform.enrich"] == [] and bars["load"] == []  # not queued yet: an empty track
    lefts = [float(x) for x in re.findall(r"left: ([\d.]+)%", page.text)]
    assert min(lefts) == 0 and max(lefts) <= 100


def test_code_view_shows_the_stored_source_escaped_with_line_numbers(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Viewer")
    assert "has not stored this file" in client.get(f"/dags/{DAG_ID}/code").text
    dag_code.set_code(pipeline, f"/dags/{DAG_ID}.py", "import x\n# <script>alert(1)</script>\nprint(1)\n", "h1")
    pipeline.commit()
    text = client.get(f"/dags/{DAG_ID}/code").text
    assert '<span class="line">import x</span><span class="line"># &lt;script&gt;alert(1)&lt;/script&gt;</span>' in text
    assert "<script>alert" not in text


def test_the_dag_processor_stores_the_source_the_code_view_shows(
    client_as,
    web_app: Flask,  # type: ignore[no-untyped-def]
    web_settings: Settings,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    source = (
        "from datetime import datetime\nfrom tradewind import DAG, BashOperator\n\n"
        'with DAG("from_file", schedule=None, start_date=datetime(2024, 1, 1)):\n'
        '    BashOperator(task_id="hello", bash_command="echo \'<b>hi</b>\'")\n'
    )
    (folder / "from_file.py").write_text(source)
    report = sync_dag_folder(metastore(web_app).factory, web_settings.with_overrides(dags_folder=folder))
    assert report.dag_ids == ["from_file"], report.errors
    text = client_as("Viewer").get("/dags/from_file/code").text
    assert (
        '<span class="line">    BashOperator(task_id=&#34;hello&#34;, '
        "bash_command=&#34;echo &#39;&lt;b&gt;hi&lt;/b&gt;&#39;&#34;)</span>"
    ) in text
    (folder / "from_file.py").unlink()
    sync_dag_folder(metastore(web_app).factory, web_settings.with_overrides(dags_folder=folder))
    with metastore(web_app).factory() as session:
        assert dag_code.get_code(session, str(folder / "from_file.py")) is None


def test_every_dag_page_heads_with_the_dags_switch_schedule_docs_params_and_details(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    """An Airflow user opens a DAG and finds above the tabs what Airflow shows there: the pause
    switch, schedule, next run, owner, tags, the docs (Markdown, never run), params and details."""
    from tradewind.sdk.params import Param

    with DAG(
        "documented",
        schedule="@daily",
        start_date=T0,
        tags=["finance", "daily"],
        default_args={"owner": "ana"},
        max_active_runs=3,
        catchup=True,
        doc_md="# Orders\nLoads **orders** nightly. <script>alert(1)</script>",
        params={"rows": Param(10, type="integer", description="how many rows")},
    ) as dag:
        BashOperator(task_id="t", bash_command="true")
    store_dag(web_db, dag)
    web_db.commit()
    op = client_as("Op")
    for page in ("grid", "graph", "gantt", "code"):
        text = op.get(f"/dags/documented/{page}").text
        assert 'class="dag-schedule">@daily<' in text, page
        assert 'class="dag-owners">ana<' in text and ">finance</a>" in text and ">daily</a>" in text
        assert "<h1>Orders</h1>" in text and "<strong>orders</strong>" in text, "doc_md is rendered"
        assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)" in text, "and its HTML is shown as text"
        assert "<th>rows</th><td><code>10</code></td>" in text and "how many rows" in text
        assert "<th>Max active runs</th><td>3</td>" in text and "<th>Catchup</th><td>True</td>" in text
        assert "<th>File</th><td>/dags/documented.py</td>" in text
        assert 'title="Pause documented"' in text
    assert 'title="Pause documented"' not in client_as("Viewer").get("/dags/documented/grid").text

    paused = op.post(
        "/dags/documented/pause",
        data={"csrf_token": csrf_token(op), "is_paused": "true", "next": "/dags/documented/graph"},
    )
    assert paused.status_code == 302 and paused.headers["Location"].endswith("/dags/documented/graph")
    after = op.get("/dags/documented/graph").text
    assert 'title="Unpause documented"' in after
    assert 'class="dag-next-run">None<' in after, "a paused DAG shows no next run"


def test_dag_dependencies_lists_who_waits_for_and_triggers_whom(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    from tradewind.sdk.operators.trigger_dagrun import TriggerDagRunOperator
    from tradewind.sdk.sensors.external_task import ExternalTaskSensor

    with DAG("upstream_orders", schedule=None, start_date=T0) as orders:
        TriggerDagRunOperator(task_id="kick_report", trigger_dag_id="downstream_report")
    with DAG("downstream_report", schedule=None, start_date=T0) as report:
        ExternalTaskSensor(task_id="wait_billing", external_dag_id="billing", external_task_id="load")
    store_dag(web_db, orders)
    store_dag(web_db, report)
    web_db.commit()
    viewer = client_as("Viewer")
    page = viewer.get("/dag-dependencies").text
    rows = re.findall(r'<tr class="dependency" data-kind="(\w+)">.*?<td class="through">([^<]*)</td>', page, re.S)
    assert rows == [
        ("sensor", "sensor: downstream_report.wait_billing"),
        ("trigger", "trigger: upstream_orders.kick_report"),
    ]
    assert 'billing <span class="muted">(not loaded)</span>' in page
    assert 'href="/dags/downstream_report/grid"' in page
    only = viewer.get("/dag-dependencies?dag_id=upstream_orders").text
    assert only.count('class="dependency"') == 1
    assert 'href="/dag-dependencies"' in viewer.get("/").text, "the Browse menu links it"


# --- the grid's filters and side panel --------------------------------------------------------------


def test_grid_filters_runs_by_state_type_and_number(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    store_dag(web_db, _pipeline())
    tasks = dict.fromkeys(TASKS, "success")
    for day, state in enumerate(("success", "failed", "success")):
        store_run(web_db, DAG_ID, f"run_{day}", state, logical_date=T0 + timedelta(days=day), task_states=tasks)
    web_db.commit()
    viewer = client_as("Viewer")

    def shown(query: str) -> list[str]:
        return re.findall(r'<th class="run-col" data-run-id="([^"]+)"', viewer.get(f"/dags/{DAG_ID}/grid{query}").text)

    assert shown("") == ["run_0", "run_1", "run_2"]
    assert shown("?run_state=failed") == ["run_1"]
    assert shown("?num_runs=2") == ["run_1", "run_2"]
    assert shown("?run_type=manual") == []
    page = viewer.get(f"/dags/{DAG_ID}/grid?run_state=failed").text
    assert f'data-url="/dags/{DAG_ID}/grid/data?run_state=failed"' in page, "the polled data keeps the filters"
    data = viewer.get(f"/dags/{DAG_ID}/grid/data?run_state=failed").get_json()
    assert [run["run_id"] for run in data["runs"]] == ["run_1"]
    assert viewer.get(f"/dags/{DAG_ID}/grid?run_state=sleepy").status_code == 400
    assert viewer.get(f"/dags/{DAG_ID}/grid?num_runs=0").status_code == 400


def test_the_side_panel_loads_a_task_instance_and_a_run_without_the_page_around_them(  # type: ignore[no-untyped-def]
    client_as, pipeline: Session
) -> None:
    viewer = client_as("Viewer")
    grid_page = viewer.get(f"/dags/{DAG_ID}/grid").text
    assert 'id="grid-details"' in grid_page and f'data-details-url="/dags/{DAG_ID}/runs/run_1?partial=1"' in grid_page
    ti = viewer.get(f"/dags/{DAG_ID}/runs/run_1/tasks/extract?partial=1").text
    assert "<html" not in ti and '<div class="ti-panel">' in ti and 'id="log"' in ti
    run = viewer.get(f"/dags/{DAG_ID}/runs/run_1?partial=1").text
    assert "<html" not in run and 'class="run-type">scheduled<' in run
    full = viewer.get(f"/dags/{DAG_ID}/runs/run_1").text
    assert "<html" in full and 'class="dag-header"' in full and "Run <code>run_1</code>" in full
    assert viewer.get(f"/dags/{DAG_ID}/runs/nope").status_code == 404


def test_a_task_groups_actions_cover_every_task_in_it(client_as, pipeline: Session) -> None:  # type: ignore[no-untyped-def]
    page = client_as("Op").get(f"/dags/{DAG_ID}/clear?run_id=run_1&group_id=transform").text
    assert "transform.clean" in re.findall(r'<td class="task-id">([^<]*)</td>', page), "the running member is cleared"
    assert 'name="task_id" value="transform.clean"' in page and 'name="task_id" value="transform.enrich"' in page
    missing = client_as("Op").get(f"/dags/{DAG_ID}/clear?run_id=run_1&group_id=nope")
    assert missing.status_code == 400 and "has no task group" in missing.text
