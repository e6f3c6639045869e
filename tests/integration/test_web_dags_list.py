"""The DAGs list page, /health and the first REST API endpoints, over a real PostgreSQL metastore."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session
from web_helpers import (
    SECRET_KEY,
    T0,
    basic_auth,
    counting_queries,
    csrf_token,
    make_dag,
    store_dag,
    store_import_error,
    store_run,
)

from tradewind import DAG, BashOperator
from tradewind.master.webserver.app import create_app
from tradewind.master.webserver.db import dispose
from tradewind.master.webserver.state_colours import STATE_COLOURS, TASK_STATE_ORDER
from tradewind.metastore import audit, dag_overview, dags, jobs, workers
from tradewind.metastore.health import SCHEDULER_JOB_TYPE, TRIGGERER_JOB_TYPE
from tradewind.metastore.models import DagModel, TaskInstance
from tradewind.settings import Settings
from tradewind.states import TaskInstanceState

pytestmark = pytest.mark.integration

pytest_plugins = ["web_fixtures"]


def _dag_ids(html: str) -> list[str]:
    return re.findall(r'<td class="dag-id">\s*(?:<a [^>]*>|<strong>)([^<]+)<', html)


@pytest.fixture
def three_dags(web_db: Session) -> None:
    store_dag(web_db, make_dag("etl_orders", tags=["etl", "sales"], schedule="0 3 * * *", owner="alice"))
    store_dag(web_db, make_dag("ETL_customers", tags=["etl"], owner="bob"))
    store_dag(web_db, make_dag("report_weekly", tags=["reports"], schedule="@weekly", owner="carol"), paused=True)
    web_db.commit()


# --- the list --------------------------------------------------------------------------------------


def test_the_list_shows_every_active_dag_with_schedule_owner_and_tags(
    client_as,
    three_dags: None,  # type: ignore[no-untyped-def]
    web_db: Session,
) -> None:
    store_dag(web_db, make_dag("retired"))
    dags.deactivate(web_db, "retired")
    web_db.commit()
    page = client_as("Viewer").get("/")
    assert page.status_code == 200
    assert _dag_ids(page.text) == ["ETL_customers", "etl_orders", "report_weekly"]
    assert "<code>0 3 * * *</code>" in page.text and "<code>@weekly</code>" in page.text
    for owner in ("alice", "bob", "carol"):
        assert f"<td>{owner}</td>" in page.text
    assert '<a class="tag" href="/?tags=sales">sales</a>' in page.text
    assert "3 DAGs" in page.text


def test_a_dag_display_name_is_what_the_list_shows_with_the_id_beneath(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    with DAG("sales_daily", schedule=None, start_date=T0, dag_display_name="Sales — daily figures") as dag:
        BashOperator(task_id="t", bash_command="true")
    store_dag(web_db, dag)
    web_db.commit()

    page = client_as("Viewer").get("/").text

    assert _dag_ids(page) == ["Sales — daily figures"]
    assert '<div class="muted dag-id-under">sales_daily</div>' in page
    assert 'href="/dags/sales_daily/grid"' in page


def test_tags_filter_the_list(client_as, three_dags: None) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Viewer")
    assert _dag_ids(client.get("/?tags=sales").text) == ["etl_orders"]
    assert _dag_ids(client.get("/?tags=etl").text) == ["ETL_customers", "etl_orders"]
    assert _dag_ids(client.get("/?tags=sales&tags=reports").text) == ["etl_orders", "report_weekly"]
    assert _dag_ids(client.get("/?tags=nothing").text) == []
    filtered = client.get("/?tags=sales").text
    assert 'title="Remove this tag filter"' in filtered


def test_search_finds_a_substring_of_the_dag_id_in_any_case(client_as, three_dags: None, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    store_dag(web_db, make_dag("etlXorders"))
    web_db.commit()
    client = client_as("Viewer")
    assert sorted(_dag_ids(client.get("/?search=etl").text)) == ["ETL_customers", "etlXorders", "etl_orders"]
    assert _dag_ids(client.get("/?search=WEEK").text) == ["report_weekly"]
    # "_" and "%" are themselves, not LIKE wildcards.
    assert _dag_ids(client.get("/?search=etl_").text) == ["ETL_customers", "etl_orders"]
    assert _dag_ids(client.get("/?search=%25").text) == []
    assert _dag_ids(client.get("/?search=etl&tags=sales").text) == ["etl_orders"]


def test_paused_tabs_filter_the_list(client_as, three_dags: None) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Viewer")
    assert _dag_ids(client.get("/?paused=true").text) == ["report_weekly"]
    assert _dag_ids(client.get("/?paused=false").text) == ["ETL_customers", "etl_orders"]


def test_the_paused_toggle_round_trip_is_recorded_in_the_audit_log(
    client_as,
    three_dags: None,  # type: ignore[no-untyped-def]
    web_db: Session,
) -> None:
    client = client_as("Op")
    page = client.get("/?tags=etl").text
    assert 'title="Pause etl_orders"' in page
    response = client.post(
        "/dags/etl_orders/pause", data={"is_paused": "true", "csrf_token": csrf_token(client), "next": "/?tags=etl"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/?tags=etl"
    after = client.get("/?tags=etl").text
    assert "DAG etl_orders is paused." in after
    assert 'title="Unpause etl_orders"' in after
    web_db.expire_all()
    assert dags.get_dag(web_db, "etl_orders").is_paused is True  # type: ignore[union-attr]
    client.post("/dags/etl_orders/pause", data={"is_paused": "false", "csrf_token": csrf_token(client)})
    web_db.expire_all()
    assert dags.get_dag(web_db, "etl_orders").is_paused is False  # type: ignore[union-attr]
    events = [(e.event, e.dag_id, e.owner, e.extra) for e in audit.list_events(web_db, "etl_orders")]
    assert events == [
        ("unpause", "etl_orders", "op", {"source": "ui"}),
        ("pause", "etl_orders", "op", {"source": "ui"}),
    ]


def test_pausing_an_unknown_dag_is_404_and_a_bad_value_400(client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Op")
    missing = client.post("/dags/nope/pause", data={"is_paused": "true", "csrf_token": csrf_token(client)})
    assert missing.status_code == 404 and "no DAG with id" in missing.text
    bad = client.post("/dags/nope/pause", data={"is_paused": "maybe", "csrf_token": csrf_token(client)})
    assert bad.status_code == 400


def test_viewers_see_the_paused_state_but_no_toggle_form(client_as, three_dags: None) -> None:  # type: ignore[no-untyped-def]
    page = client_as("Viewer").get("/").text
    assert "/pause" not in page
    assert 'class="toggle off readonly"' in page and 'class="toggle on readonly"' in page


def test_import_errors_banner_lists_each_file_with_its_traceback(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    store_import_error(web_db, "/dags/broken.py", "SyntaxError: invalid syntax (broken.py, line 3)\n\nTraceback ...")
    store_import_error(web_db, "/dags/cycle.py", "DagCycleError: a -> b -> a\n")
    web_db.commit()
    page = client_as("Viewer").get("/").text
    assert "2 DAG files failed to import" in page
    assert "<summary>/dags/broken.py</summary>" in page
    assert "<pre>SyntaxError: invalid syntax (broken.py, line 3)\n\nTraceback ...</pre>" in page
    assert "<summary>/dags/cycle.py</summary>" in page


def test_no_banner_without_import_errors(client_as, three_dags: None) -> None:  # type: ignore[no-untyped-def]
    assert "failed to import" not in client_as("Viewer").get("/").text


def test_last_run_next_run_and_state_counts(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    store_dag(web_db, make_dag("counted", tasks=3))
    store_run(
        web_db,
        "counted",
        "scheduled__1",
        "success",
        logical_date=T0,
        task_states={"task_0": "success", "task_1": "success", "task_2": "success"},
    )
    store_run(
        web_db,
        "counted",
        "scheduled__2",
        "failed",
        logical_date=T0 + timedelta(days=1),
        task_states={"task_0": "success", "task_1": "failed", "task_2": "upstream_failed"},
    )
    store_run(
        web_db,
        "counted",
        "scheduled__3",
        "running",
        logical_date=T0 + timedelta(days=2),
        task_states={"task_0": "success", "task_1": "running", "task_2": "none"},
    )
    web_db.execute(
        sa.update(DagModel)
        .where(DagModel.dag_id == "counted")
        .values(
            next_dagrun_data_interval_start=datetime(2024, 3, 3, 0, 0, tzinfo=UTC),
            next_dagrun_data_interval_end=datetime(2024, 3, 4, 0, 0, tzinfo=UTC),
            next_dagrun_create_after=datetime(2024, 3, 4, 0, 0, tzinfo=UTC),
        )
    )
    web_db.commit()
    page = client_as("Viewer").get("/").text
    # Runs over all runs; task states over the last run only.
    assert 'title="1 runs success"' in page and 'title="1 runs failed"' in page and 'title="1 runs running"' in page
    assert 'title="0 runs queued"' in page
    assert 'title="1 task instances running"' in page and 'title="1 task instances none"' in page
    assert 'title="0 task instances failed"' in page
    assert '<span class="state-badge state-running">running</span>' in page
    assert ">2024-03-03 00:00:00</time>" in page  # the last run's logical date
    assert ">2024-03-04 00:00:00</time>" in page  # the next run


def _next_run_cell(html: str, dag_id: str) -> str:
    for row in html.split("<tr")[1:]:
        if f">{dag_id}</a>" in row:
            found = re.search(r'<td class="next-run">(.*?)</td>', row, re.S)
            assert found, row
            return found.group(1)
    raise AssertionError(f"no row for {dag_id}")


def test_a_paused_dag_and_a_dag_without_schedule_show_no_next_run(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    store_dag(web_db, make_dag("daily"))
    store_dag(web_db, make_dag("daily_paused"), paused=True)
    store_dag(web_db, make_dag("manual_only", schedule=None))
    interval = {
        "next_dagrun_data_interval_start": datetime(2024, 3, 3, tzinfo=UTC),
        "next_dagrun_data_interval_end": datetime(2024, 3, 4, tzinfo=UTC),
        "next_dagrun_create_after": datetime(2024, 3, 4, tzinfo=UTC),
    }
    web_db.execute(sa.update(DagModel).where(DagModel.dag_id.in_(["daily", "daily_paused"])).values(**interval))
    # The scheduler's wake-up stamp on a DAG it never schedules is not a next run.
    web_db.execute(
        sa.update(DagModel)
        .where(DagModel.dag_id == "manual_only")
        .values(next_dagrun_create_after=datetime(2024, 3, 4, tzinfo=UTC))
    )
    web_db.commit()
    page = client_as("Viewer").get("/").text
    assert "2024-03-04 00:00:00" in _next_run_cell(page, "daily")
    assert "<time" not in _next_run_cell(page, "daily_paused")
    assert "<time" not in _next_run_cell(page, "manual_only")


def test_dag_stats_aggregates_the_last_run_and_all_runs(web_db: Session) -> None:
    store_dag(web_db, make_dag("a"))
    store_dag(web_db, make_dag("b"))
    store_run(
        web_db, "a", "r1", "failed", logical_date=T0, task_states={"task_0": "failed", "task_1": "upstream_failed"}
    )
    store_run(
        web_db,
        "a",
        "r2",
        "success",
        logical_date=T0 + timedelta(days=1),
        task_states={"task_0": "success", "task_1": "success"},
    )
    web_db.commit()
    stats = dag_overview.dag_stats(web_db, ["a", "b"])
    assert stats["a"].last_run is not None and stats["a"].last_run.run_id == "r2"
    assert stats["a"].task_states == {"success": 2}
    assert stats["a"].run_states == {"failed": 1, "success": 1}
    assert stats["b"] == dag_overview.DagStats()


def test_the_list_reads_a_fixed_number_of_queries_however_many_dags(
    web_app: Flask,
    client_as,  # type: ignore[no-untyped-def]
    web_db: Session,
) -> None:
    client = client_as("Viewer")

    def queries_for_list() -> int:
        with counting_queries(web_app) as statements:
            assert client.get("/").status_code == 200
        return len(statements)

    store_dag(web_db, make_dag("only_one"))
    store_run(web_db, "only_one", "r1", "success", logical_date=T0, task_states={"task_0": "success"})
    web_db.commit()
    few = queries_for_list()
    for index in range(40):
        dag_id = f"many_{index:03d}"
        store_dag(web_db, make_dag(dag_id))
        store_run(
            web_db, dag_id, "r1", "success", logical_date=T0, task_states={"task_0": "success", "task_1": "failed"}
        )
    web_db.commit()
    assert queries_for_list() == few <= 10


def test_the_list_pages_by_one_hundred(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    for index in range(130):
        store_dag(web_db, make_dag(f"dag_{index:03d}", tasks=1))
    web_db.commit()
    client = client_as("Viewer")
    first = client.get("/").text
    assert len(_dag_ids(first)) == 100 and _dag_ids(first)[0] == "dag_000"
    assert "page 1 of 2" in first and 'href="/?page=2"' in first
    second = client.get("/?page=2").text
    assert _dag_ids(second) == [f"dag_{i:03d}" for i in range(100, 130)]
    assert "130 DAGs" in second


def test_a_200_dag_list_renders_quickly(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    for index in range(200):
        dag = make_dag(f"bulk_{index:03d}", tasks=3)
        store_dag(web_db, dag)
        if index % 2 == 0:
            store_run(
                web_db,
                dag.dag_id,
                "r1",
                "success",
                logical_date=T0,
                task_states={"task_0": "success", "task_1": "success", "task_2": "running"},
            )
    web_db.commit()
    client = client_as("Viewer")
    client.get("/")
    started = time.perf_counter()
    page = client.get("/")
    elapsed = time.perf_counter() - started
    assert page.status_code == 200
    assert elapsed < 1.0, f"the DAGs list took {elapsed:.3f} s"


def test_trigger_button_links_ops_to_the_trigger_page(three_dags: None, client_as) -> None:  # type: ignore[no-untyped-def]
    assert 'href="/dags/etl_orders/trigger"' in client_as("Op").get("/").text
    assert "/trigger" not in client_as("Viewer").get("/").text


def test_menus_link_only_to_pages_that_exist(client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Admin")
    admin = client.get("/").text
    menus = admin.split('<nav class="menus">', 1)[1].split("</nav>", 1)[0]
    links = re.findall(r'href="([^"]+)"', menus)
    assert {"/runs", "/task-instances", "/dag-dependencies", "/users"} <= set(links)
    assert 'class="unavailable"' not in menus, "every page the menus name is served"
    assert [link for link in links if client.get(link).status_code != 200] == []
    assert "<summary>Admin</summary>" not in client_as("Op").get("/").text
    assert '<span class="username">op</span>' in client_as("Op").get("/").text


def test_state_colours_are_defined_once_and_reach_the_page(client_as) -> None:  # type: ignore[no-untyped-def]
    assert set(STATE_COLOURS) == {str(s) for s in TaskInstanceState} == set(TASK_STATE_ORDER)
    page = client_as("Viewer").get("/").text
    for state, colour in STATE_COLOURS.items():
        assert f"--state-{state}: {colour.background};" in page
        assert f".state-{state} {{" in page
    assert STATE_COLOURS["success"].background == "green" and STATE_COLOURS["up_for_retry"].background == "gold"


def test_unknown_page_is_an_html_404(client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as("Viewer").get("/no/such/page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "404 · Not Found" in response.text


# --- /health ---------------------------------------------------------------------------------------


def test_health_without_a_scheduler_is_200_with_the_metastore_healthy(web_app: Flask) -> None:
    response = web_app.test_client().get("/health")
    assert response.status_code == 200
    assert response.get_json() == {
        "metadatabase": {"status": "healthy"},
        "scheduler": {"status": "unhealthy", "latest_scheduler_heartbeat": None, "age_seconds": None},
        "triggerer": {"status": None, "latest_triggerer_heartbeat": None},
        "dag_processor": {"status": None, "latest_dag_processor_heartbeat": None},
        "workers": [],
    }


def test_health_reports_the_scheduler_heartbeat_age_and_live_workers(web_app: Flask, web_db: Session) -> None:
    now = datetime.now(UTC)
    jobs.start_job(web_db, SCHEDULER_JOB_TYPE, hostname="master", pid=1, now=now - timedelta(seconds=5))
    workers.register(web_db, "worker-a", queues=["default"], concurrency=4, pid=2, version="0.1.0", now=now)
    workers.register(
        web_db,
        "worker-gone",
        queues=["default"],
        concurrency=4,
        pid=3,
        version="0.1.0",
        now=now - timedelta(minutes=10),
    )
    store_dag(web_db, make_dag("busy", tasks=2))
    store_run(web_db, "busy", "r1", "running", logical_date=T0, task_states={"task_0": "running", "task_1": "running"})
    web_db.execute(sa.update(TaskInstance).values(hostname="worker-a"))
    web_db.commit()
    for path in ("/health", "/api/v1/health"):
        body = web_app.test_client().get(path).get_json()
        assert body["metadatabase"] == {"status": "healthy"}
        assert body["scheduler"]["status"] == "healthy"
        assert 4.5 <= body["scheduler"]["age_seconds"] < 60
        assert datetime.fromisoformat(body["scheduler"]["latest_scheduler_heartbeat"]) == now - timedelta(seconds=5)
        assert body["workers"] == [
            {
                "hostname": "worker-a",
                "status": "healthy",
                "problem": None,
                "queues": ["default"],
                "last_heartbeat": now.isoformat(),
                "running": 2,
                "broker_reconnects": 0,
            }
        ]


def test_health_reports_the_triggerer_as_airflow_does(web_app: Flask, web_db: Session) -> None:
    now = datetime.now(UTC)
    job = jobs.start_job(web_db, TRIGGERER_JOB_TYPE, hostname="t1", pid=1, now=now - timedelta(seconds=2))
    web_db.commit()
    body = web_app.test_client().get("/api/v1/health").get_json()
    beat = (now - timedelta(seconds=2)).isoformat()
    assert body["triggerer"] == {"status": "healthy", "latest_triggerer_heartbeat": beat}
    # A triggerer whose heartbeat is older than the threshold is unhealthy.
    jobs.heartbeat(web_db, job.id, now=now - timedelta(hours=1))
    web_db.commit()
    stale = web_app.test_client().get("/health").get_json()["triggerer"]
    assert stale == {"status": "unhealthy", "latest_triggerer_heartbeat": (now - timedelta(hours=1)).isoformat()}


def test_health_lists_a_worker_that_cannot_reach_its_broker_as_unhealthy(web_app: Flask, web_db: Session) -> None:
    now = datetime.now(UTC)
    workers.register(web_db, "worker-cut-off", queues=["default"], concurrency=4, pid=2, version="0.1.0", now=now)
    workers.heartbeat(web_db, "worker-cut-off", now=now, problem="cannot reach the broker", broker_reconnects=3)
    web_db.commit()
    (worker,) = web_app.test_client().get("/health").get_json()["workers"]
    assert (worker["status"], worker["problem"], worker["broker_reconnects"]) == (
        "unhealthy",
        "cannot reach the broker",
        3,
    )


def test_a_stale_scheduler_heartbeat_is_unhealthy(web_app: Flask, web_db: Session) -> None:
    jobs.start_job(web_db, SCHEDULER_JOB_TYPE, hostname="master", pid=1, now=datetime.now(UTC) - timedelta(seconds=120))
    web_db.commit()
    scheduler = web_app.test_client().get("/health").get_json()["scheduler"]
    assert scheduler["status"] == "unhealthy" and scheduler["age_seconds"] >= 120


@pytest.fixture
def dead_metastore_app(web_settings: Settings) -> Iterator[Flask]:
    settings = web_settings.with_overrides(database_url="postgresql://postgres:hunter2@127.0.0.1:1/nothing")
    app = create_app(settings)
    yield app
    dispose(app)


def test_health_is_503_when_the_metastore_is_unreachable(dead_metastore_app: Flask) -> None:
    for path in ("/health", "/api/v1/health"):
        response = dead_metastore_app.test_client().get(path)
        assert response.status_code == 503
        assert response.get_json()["metadatabase"] == {"status": "unhealthy"}
        assert "hunter2" not in response.text


def test_pages_and_api_say_503_when_the_metastore_is_unreachable(
    dead_metastore_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = dead_metastore_app.test_client()
    client.get("/login")
    with client.session_transaction() as session:
        session["session_secret"] = "a-session-from-before-the-metastore-went-away"  # a logged-in browser
    page = client.get("/")
    assert page.status_code == 503 and "The metastore does not answer" in page.text
    assert "hunter2" not in page.text and "127.0.0.1" not in page.text
    api = client.get("/api/v1/dags", auth=("admin", "x"))
    assert api.status_code == 503 and api.get_json()["title"] == "Service Unavailable"
    assert "cannot reach the metastore at postgresql://postgres:***@127.0.0.1:1/nothing" in caplog.text


# --- REST API --------------------------------------------------------------------------------------


def test_api_lists_dags_with_tags_search_and_paging(web_app: Flask, three_dags: None) -> None:
    client = web_app.test_client()

    def ids(query: str) -> tuple[list[str], int]:
        body = client.get(f"/api/v1/dags{query}", auth=basic_auth("Viewer")).get_json()
        return [d["dag_id"] for d in body["dags"]], body["total_entries"]

    assert ids("") == (["ETL_customers", "etl_orders", "report_weekly"], 3)
    assert ids("?tags=etl") == (["ETL_customers", "etl_orders"], 2)
    assert ids("?tags=sales&tags=reports") == (["etl_orders", "report_weekly"], 2)
    assert ids("?dag_id_pattern=ORDERS") == (["etl_orders"], 1)
    assert ids("?order_by=-dag_id&limit=1") == (["report_weekly"], 3)
    assert ids("?limit=1&offset=1") == (["etl_orders"], 3)
    assert ids("?paused=true") == (["report_weekly"], 1)


def test_api_dag_shape(web_app: Flask, three_dags: None) -> None:
    body = web_app.test_client().get("/api/v1/dags/etl_orders", auth=basic_auth("Viewer")).get_json()
    assert body["dag_id"] == "etl_orders"
    assert body["tags"] == [{"name": "etl"}, {"name": "sales"}]
    assert body["owners"] == ["alice"]
    assert body["is_paused"] is False and body["is_active"] is True
    assert body["timetable_description"] == "0 3 * * *"
    assert body["fileloc"] == "/dags/etl_orders.py"


@pytest.mark.parametrize("query", ["?limit=abc", "?limit=-1", "?limit=100000", "?offset=-5", "?paused=maybe"])
def test_api_bad_query_parameters_are_400(web_app: Flask, query: str) -> None:
    response = web_app.test_client().get(f"/api/v1/dags{query}", auth=basic_auth("Viewer"))
    assert response.status_code == 400
    body = response.get_json()
    assert body["status"] == 400 and body["title"] == "Bad Request" and body["detail"]


def test_api_unknown_dag_is_404_json(web_app: Flask) -> None:
    client = web_app.test_client()
    for method, body in (("GET", None), ("PATCH", {"is_paused": True})):
        response = client.open("/api/v1/dags/nope", method=method, json=body, auth=basic_auth("Op"))
        assert response.status_code == 404
        assert response.get_json() == {"title": "Not Found", "detail": "no DAG with id 'nope'", "status": 404}


def test_api_unknown_path_and_wrong_method_are_json(web_app: Flask) -> None:
    client = web_app.test_client()
    assert client.get("/api/v1/nothing", auth=basic_auth("Viewer")).get_json()["status"] == 404
    wrong = client.delete("/api/v1/dags", auth=basic_auth("Admin"))
    assert wrong.status_code == 405 and wrong.get_json()["title"] == "Method Not Allowed"


@pytest.mark.parametrize(
    "body",
    [{"is_paused": "yes"}, {"is_paused": 1}, {"is_paused": None}, {}, [True], {"is_paused": True, "owners": "me"}],
)
def test_api_patch_with_a_bad_body_is_400_and_changes_nothing(
    web_app: Flask, three_dags: None, web_db: Session, body: object
) -> None:
    response = web_app.test_client().patch("/api/v1/dags/etl_orders", json=body, auth=basic_auth("Op"))
    assert response.status_code == 400, response.text
    assert response.get_json()["detail"]
    web_db.expire_all()
    assert dags.get_dag(web_db, "etl_orders").is_paused is False  # type: ignore[union-attr]
    assert audit.list_events(web_db, "etl_orders") == []


def test_api_patch_pauses_and_records_the_user(web_app: Flask, three_dags: None, web_db: Session) -> None:
    response = web_app.test_client().patch(
        "/api/v1/dags/etl_orders", json={"is_paused": True}, auth=basic_auth("Admin")
    )
    assert response.status_code == 200 and response.get_json()["is_paused"] is True
    [event] = audit.list_events(web_db, "etl_orders")
    assert (event.event, event.owner, event.extra) == ("pause", "admin", {"source": "api"})


def test_api_patch_without_json_is_400(web_app: Flask, three_dags: None) -> None:
    response = web_app.test_client().patch("/api/v1/dags/etl_orders", data="is_paused=true", auth=basic_auth("Op"))
    assert response.status_code == 400


def test_api_refuses_a_body_over_the_limit(web_settings: Settings, web_app: Flask, three_dags: None) -> None:
    app = create_app(web_settings.with_overrides(webserver_max_request_bytes=100))
    try:
        response = app.test_client().patch(
            "/api/v1/dags/etl_orders", json={"is_paused": True, "x": "y" * 200}, auth=basic_auth("Op")
        )
        assert response.status_code == 413 and response.get_json()["status"] == 413
    finally:
        dispose(app)


def test_api_lists_import_errors(web_app: Flask, web_db: Session) -> None:
    store_import_error(web_db, "/dags/b.py", "SyntaxError: b\n")
    store_import_error(web_db, "/dags/a.py", "ImportError: a\n")
    web_db.commit()
    client = web_app.test_client()
    body = client.get("/api/v1/importErrors?order_by=filename", auth=basic_auth("Viewer")).get_json()
    assert body["total_entries"] == 2
    assert [(e["filename"], e["stack_trace"]) for e in body["import_errors"]] == [
        ("/dags/a.py", "ImportError: a\n"),
        ("/dags/b.py", "SyntaxError: b\n"),
    ]
    assert all(e["timestamp"] and isinstance(e["import_error_id"], int) for e in body["import_errors"])
    paged = client.get("/api/v1/importErrors?limit=1&offset=1", auth=basic_auth("Viewer")).get_json()
    assert [e["filename"] for e in paged["import_errors"]] == ["/dags/a.py"]  # by id, as Airflow


def test_openapi_document_describes_every_api_route(web_app: Flask) -> None:
    response = web_app.test_client().get("/api/v1/openapi.json", auth=basic_auth("Viewer"))
    document = response.get_json()
    assert document["openapi"].startswith("3.0.")
    assert document["info"]["title"] and document["info"]["version"]
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    routed = set()
    for rule in web_app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            routed |= {(path, m.lower()) for m in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    assert documented == routed
    assert {
        "/api/v1/dags",
        "/api/v1/dags/{dag_id}",
        "/api/v1/importErrors",
        "/api/v1/health",
        "/api/v1/openapi.json",
    } <= set(document["paths"])
    _assert_refs_resolve(document, document)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                assert operation["responses"], (path, method)
                assert operation["operationId"], (path, method)


def _assert_refs_resolve(node: object, document: dict) -> None:  # type: ignore[type-arg]
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            target: object = document
            for part in ref.removeprefix("#/").split("/"):
                assert isinstance(target, dict) and part in target, ref
                target = target[part]
        for value in node.values():
            _assert_refs_resolve(value, document)
    elif isinstance(node, list):
        for value in node:
            _assert_refs_resolve(value, document)


def test_app_builds_without_touching_the_database(web_settings: Settings) -> None:
    app = create_app(
        web_settings.with_overrides(database_url="postgresql://postgres@127.0.0.1:1/none", secret_key=SECRET_KEY)
    )
    dispose(app)
