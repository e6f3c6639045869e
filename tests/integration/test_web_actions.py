"""Clear, mark and trigger from the pages and the REST API, the audit log and /metrics, over a real
PostgreSQL metastore: every action previews exactly what it changes, then changes it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session
from web_helpers import T0, basic_auth, csrf_token, make_dag, store_dag, store_run

from tradewind import DAG, BashOperator
from tradewind.metastore import dags, logs, runs, task_instances, users, workers
from tradewind.metastore.models import AuditLog, DagRun, TaskInstance
from tradewind.sdk.params import Param
from tradewind.sdk.serialization import serialize_dag

pytestmark = pytest.mark.integration

pytest_plugins = ["web_fixtures"]

DAG_ID = "etl"
TASKS = ("task_0", "task_1", "task_2", "task_3")
EVIL = "<script>x</script>"


@pytest.fixture
def two_runs(web_db: Session) -> None:
    """A chain task_0 >> task_1 >> task_2 >> task_3; run_1 succeeded, run_2 failed at task_1."""
    store_dag(web_db, make_dag(DAG_ID, tasks=4))
    store_run(web_db, DAG_ID, "run_1", "success", logical_date=T0, task_states={t: "success" for t in TASKS})
    store_run(
        web_db,
        DAG_ID,
        "run_2",
        "failed",
        logical_date=T0 + timedelta(days=1),
        task_states={"task_0": "success", "task_1": "failed", "task_2": "upstream_failed", "task_3": "upstream_failed"},
    )
    web_db.commit()


def _states(web_db: Session, run_id: str) -> dict[str, str]:
    web_db.expire_all()
    return {ti.task_id: ti.state for ti in task_instances.get_tis(web_db, DAG_ID, run_id)}


def _run_state(web_db: Session, run_id: str) -> str:
    web_db.expire_all()
    return runs.get_run(web_db, DAG_ID, run_id).state


def _affected(html: str) -> list[str]:
    return re.findall(r'<td class="task-id">([^<]*)</td>', html)


# --- pages -----------------------------------------------------------------------------------------


def test_clear_preview_lists_exactly_the_affected_task_instances_and_changes_nothing(
    client_as, two_runs: None, web_db: Session
) -> None:  # type: ignore[no-untyped-def]
    page = client_as("Viewer").get(f"/dags/{DAG_ID}/clear?run_id=run_2&task_id=task_1&map_index=-1&downstream=true")
    assert page.status_code == 200
    assert _affected(page.text) == ["task_1", "task_2", "task_3"]
    assert "3 task instances will be cleared" in page.text
    assert "Confirm" not in page.text  # a Viewer may look, not act
    assert _states(web_db, "run_2")["task_1"] == "failed"


def test_confirming_a_clear_applies_it_and_requeues_the_run(client_as, two_runs: None, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Op")
    preview = client.get(f"/dags/{DAG_ID}/clear?run_id=run_2&task_id=task_1&downstream=true")
    assert "Confirm" in preview.text
    response = client.post(
        f"/dags/{DAG_ID}/clear",
        data={
            "csrf_token": csrf_token(client),
            "run_id": "run_2",
            "task_id": "task_1",
            "map_index": "-1",
            "downstream": "true",
        },
    )
    assert response.status_code == 302
    assert _states(web_db, "run_2") == {"task_0": "success", "task_1": "none", "task_2": "none", "task_3": "none"}
    assert _run_state(web_db, "run_2") == "queued"
    assert "cleared 3 task instances" in client.get(response.headers["Location"], follow_redirects=True).text


def test_a_viewer_cannot_confirm_and_a_post_without_csrf_is_refused(
    client_as,
    two_runs: None,  # type: ignore[no-untyped-def]
    web_db: Session,
) -> None:
    viewer = client_as("Viewer")
    form = {"run_id": "run_2", "task_id": "task_1"}
    assert viewer.post(f"/dags/{DAG_ID}/clear", data={**form, "csrf_token": csrf_token(viewer)}).status_code == 403
    assert client_as("Op").post(f"/dags/{DAG_ID}/clear", data=form).status_code == 403
    assert _states(web_db, "run_2")["task_1"] == "failed"


def test_mark_failed_with_downstream_reopens_the_run_and_changes_its_descendants(
    client_as, two_runs: None, web_db: Session
) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Op")
    preview = client.get(f"/dags/{DAG_ID}/mark?state=failed&run_id=run_1&task_id=task_2&downstream=true")
    assert _affected(preview.text) == ["task_2", "task_3"]
    response = client.post(
        f"/dags/{DAG_ID}/mark",
        data={
            "csrf_token": csrf_token(client),
            "state": "failed",
            "run_id": "run_1",
            "task_id": "task_2",
            "downstream": "true",
        },
    )
    assert response.status_code == 302
    assert _states(web_db, "run_1") == {
        "task_0": "success",
        "task_1": "success",
        "task_2": "failed",
        "task_3": "failed",
    }
    assert _run_state(web_db, "run_1") == "running"


def test_clearing_only_the_failed_tasks_of_a_whole_run(client_as, two_runs: None, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Op")
    assert _affected(client.get(f"/dags/{DAG_ID}/runs/run_2/clear?only_failed=true").text) == [
        "task_1",
        "task_2",
        "task_3",
    ]
    client.post(f"/dags/{DAG_ID}/runs/run_2/clear", data={"csrf_token": csrf_token(client), "only_failed": "true"})
    assert _states(web_db, "run_2")["task_0"] == "success"
    assert _states(web_db, "run_2")["task_1"] == "none"


def test_marking_a_whole_run_success(client_as, two_runs: None, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Op")
    preview = client.get(f"/dags/{DAG_ID}/runs/run_2/mark?state=success")
    assert _affected(preview.text) == ["task_1", "task_2", "task_3"]
    assert "every task instance becomes success" in preview.text
    client.post(f"/dags/{DAG_ID}/runs/run_2/mark", data={"csrf_token": csrf_token(client), "state": "success"})
    assert set(_states(web_db, "run_2").values()) == {"success"}
    assert _run_state(web_db, "run_2") == "success"


@pytest.fixture
def half_done_run(web_db: Session) -> None:
    """run_3 is running: task_0 succeeded, task_1 runs, task_2 is queued, task_3 not started."""
    store_dag(web_db, make_dag(DAG_ID, tasks=4))
    store_run(
        web_db,
        DAG_ID,
        "run_3",
        "running",
        logical_date=T0,
        task_states={"task_0": "success", "task_1": "running", "task_2": "queued", "task_3": "none"},
    )
    web_db.commit()


def test_marking_a_running_run_failed_from_the_page_keeps_its_successes(
    client_as, half_done_run: None, web_db: Session
) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Op")
    preview = client.get(f"/dags/{DAG_ID}/runs/run_3/mark?state=failed")
    assert _affected(preview.text) == ["task_1", "task_2", "task_3"]
    assert "finished ones keep their state" in preview.text
    form = {"csrf_token": csrf_token(client), "state": "failed"}
    response = client.post(f"/dags/{DAG_ID}/runs/run_3/mark", data=form)
    assert response.status_code == 302
    assert _states(web_db, "run_3") == {
        "task_0": "success",
        "task_1": "failed",
        "task_2": "skipped",
        "task_3": "skipped",
    }
    assert _run_state(web_db, "run_3") == "failed"


def test_a_finished_run_can_be_marked_failed_though_no_task_instance_changes(
    client_as, two_runs: None, web_db: Session
) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Op")
    preview = client.get(f"/dags/{DAG_ID}/runs/run_1/mark?state=failed")
    assert "Nothing to change." in preview.text
    assert re.search(r'<button type="submit" class="primary">Confirm</button>', preview.text)
    client.post(f"/dags/{DAG_ID}/runs/run_1/mark", data={"csrf_token": csrf_token(client), "state": "failed"})
    assert set(_states(web_db, "run_1").values()) == {"success"}
    assert _run_state(web_db, "run_1") == "failed"


def test_api_marking_a_running_run_failed_keeps_its_successes(
    web_app: Flask, half_done_run: None, web_db: Session
) -> None:
    client, auth = web_app.test_client(), basic_auth("Op")
    answer = client.patch(f"/api/v1/dags/{DAG_ID}/dagRuns/run_3", json={"state": "failed"}, auth=auth)
    assert answer.status_code == 200, answer.text
    assert answer.get_json()["state"] == "failed"
    listed = client.get(f"/api/v1/dags/{DAG_ID}/dagRuns/run_3/taskInstances", auth=auth).get_json()
    assert {ti["task_id"]: ti["state"] for ti in listed["task_instances"]} == {
        "task_0": "success",
        "task_1": "failed",
        "task_2": "skipped",
        "task_3": "skipped",
    }
    refused = client.patch(f"/api/v1/dags/{DAG_ID}/dagRuns/run_3", json={"state": "running"}, auth=auth)
    assert refused.status_code == 400
    assert _run_state(web_db, "run_3") == "failed"


def test_api_marking_a_running_run_success_marks_every_task_instance_success(
    web_app: Flask, half_done_run: None, web_db: Session
) -> None:
    client, auth = web_app.test_client(), basic_auth("Op")
    answer = client.patch(f"/api/v1/dags/{DAG_ID}/dagRuns/run_3", json={"state": "success"}, auth=auth)
    assert answer.get_json()["state"] == "success"
    assert set(_states(web_db, "run_3").values()) == {"success"}


# --- clear: Airflow's defaults ------------------------------------------------------------------------


def test_the_clear_page_of_a_task_instance_opens_with_downstream_and_recursive_on(
    client_as, two_runs: None, web_db: Session
) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Op")
    # The link a task instance's page gives: no option named, so Airflow's defaults apply.
    page = client.get(f"/dags/{DAG_ID}/clear?run_id=run_2&task_id=task_1&map_index=-1")
    assert "Options on: downstream, recursive." in page.text
    assert _affected(page.text) == ["task_1", "task_2", "task_3"]
    # Unticking every box in the form shows just the task instance chosen.
    narrowed = client.get(f"/dags/{DAG_ID}/clear?run_id=run_2&task_id=task_1&map_index=-1&options_chosen=1")
    assert "No options on" in narrowed.text
    assert _affected(narrowed.text) == ["task_1"]


def test_a_task_id_with_script_in_a_preview_is_escaped(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    with DAG("xss", schedule=None, start_date=T0) as dag:
        BashOperator(task_id="ok", bash_command="true")
    # The SDK refuses such an id; a metastore written by anything else must still be shown safely.
    serialized = json.loads(json.dumps(serialize_dag(dag)).replace('"ok"', json.dumps(EVIL)))
    dags.upsert_dag(web_db, "xss", "/dags/xss.py", serialized, "hash", None, None, [], "me", 16, 16, False)
    store_run(web_db, "xss", "r1", "success", logical_date=T0, task_states={EVIL: "success"})
    web_db.commit()
    page = client_as("Viewer").get("/dags/xss/runs/r1/clear")
    assert page.status_code == 200
    assert EVIL not in page.text
    assert "&lt;script&gt;x&lt;/script&gt;" in page.text


# --- trigger ----------------------------------------------------------------------------------------


@pytest.fixture
def params_dag(web_db: Session) -> str:
    with DAG("with_params", schedule=None, start_date=T0, params={"rows": Param(10, type="integer", minimum=1)}) as dag:
        BashOperator(task_id="t", bash_command="true")
    store_dag(web_db, dag)
    web_db.commit()
    return "with_params"


def _run_count(web_db: Session, dag_id: str) -> int:
    return web_db.scalar(sa.select(sa.func.count()).select_from(DagRun).where(DagRun.dag_id == dag_id)) or 0


def test_trigger_form_shows_the_params_defaults_and_refuses_bad_conf(
    client_as,
    params_dag: str,  # type: ignore[no-untyped-def]
    web_db: Session,
) -> None:
    client = client_as("Op")
    form = client.get(f"/dags/{params_dag}/trigger")
    assert form.status_code == 200
    assert 'name="param.rows" value="10"' in form.text, "the param's field holds its default"
    for conf, message in (
        ("{not json", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ('{"rows": 0}', "rows"),
        ('{"rows": 3, "ratio": NaN}', "NaN"),
        ('{"rows": 3, "ratio": 1e999}', "Infinity"),
    ):
        response = client.post(f"/dags/{params_dag}/trigger", data={"csrf_token": csrf_token(client), "conf": conf})
        assert response.status_code == 400, conf
        assert message in response.text
    assert _run_count(web_db, params_dag) == 0
    ok = client.post(
        f"/dags/{params_dag}/trigger", data={"csrf_token": csrf_token(client), "conf": '{"rows": 3}', "run_id": "mine"}
    )
    assert ok.status_code == 302
    assert runs.get_run(web_db, params_dag, "mine").conf == {"rows": 3}


def test_trigger_form_fields_report_every_problem_at_once_and_merge_with_the_json(
    client_as,  # type: ignore[no-untyped-def]
    web_db: Session,
) -> None:
    """A user fills the form built from the DAG's params: two wrong fields are both named next to
    their boxes and nothing is triggered; fixed, the run gets the typed values, the extra JSON key
    and the logical date typed in."""
    params = {
        "rows": Param(10, type="integer", minimum=1),
        "env": Param("dev", enum=["dev", "prod"]),
        "full": Param(False, type="boolean"),
        "tables": Param(["a"], type="array"),
    }
    with DAG("form_params", schedule=None, start_date=T0, params=params) as dag:
        BashOperator(task_id="t", bash_command="true")
    store_dag(web_db, dag)
    web_db.commit()
    client = client_as("Op")
    page = client.get("/dags/form_params/trigger").text
    assert '<select id="field-env" name="param.env">' in page and 'type="checkbox"' in page
    assert "one value per line" in page and 'name="logical_date"' in page

    base = {"csrf_token": csrf_token(client), "fields_shown": "1", "param.env": '"prod"', "param.tables": "x\ny"}
    wrong = client.post("/dags/form_params/trigger", data={**base, "param.rows": "0", "param.env": '"qa"'})
    assert wrong.status_code == 400
    assert "2 field(s) need a change: env, rows" in wrong.text
    assert "0 is less than the minimum of 1" in wrong.text and "is not one of the choices" in wrong.text
    assert 'name="param.rows" value="0"' in wrong.text, "what the user typed is kept"
    assert _run_count(web_db, "form_params") == 0

    ok = client.post(
        "/dags/form_params/trigger",
        data={
            **base,
            "param.rows": "5",
            "param.full": "true",
            "conf": '{"extra": 1}',
            "run_id": "from_form",
            "logical_date": "2024-05-06T07:08",
        },
    )
    assert ok.status_code == 302, ok.text
    run = runs.get_run(web_db, "form_params", "from_form")
    assert run.conf == {"rows": 5, "env": "prod", "full": True, "tables": ["x", "y"], "extra": 1}
    assert run.logical_date.replace(tzinfo=UTC) == datetime(2024, 5, 6, 7, 8, tzinfo=UTC)
    bad_date = client.post("/dags/form_params/trigger", data={**base, "param.rows": "5", "logical_date": "soon"})
    assert bad_date.status_code == 400 and "is not a date and time" in bad_date.text


# --- API --------------------------------------------------------------------------------------------


def test_api_trigger_then_conflict_then_bad_conf(web_app: Flask, params_dag: str) -> None:
    client, auth = web_app.test_client(), basic_auth("Op")
    url = f"/api/v1/dags/{params_dag}/dagRuns"
    created = client.post(url, json={"conf": {"rows": 2}, "dag_run_id": "api_run"}, auth=auth)
    assert created.status_code == 200, created.text
    assert created.get_json()["dag_run_id"] == "api_run" and created.get_json()["state"] == "queued"
    assert client.post(url, json={"dag_run_id": "api_run"}, auth=auth).status_code == 409
    bad = client.post(url, json={"conf": {"rows": "many"}}, auth=auth)
    assert bad.status_code == 400 and bad.get_json()["status"] == 400
    assert client.post(url, json={}, auth=basic_auth("Viewer")).status_code == 403
    listed = client.get(f"{url}?state=queued", auth=basic_auth("Viewer")).get_json()
    assert [r["dag_run_id"] for r in listed["dag_runs"]] == ["api_run"]
    assert client.get(f"{url}/nope", auth=auth).status_code == 404


def test_api_clear_is_a_dry_run_by_default(web_app: Flask, two_runs: None, web_db: Session) -> None:
    client, auth = web_app.test_client(), basic_auth("Op")
    body = {"task_ids": ["task_1"], "dag_run_id": "run_2", "include_downstream": True}
    dry = client.post(f"/api/v1/dags/{DAG_ID}/clearTaskInstances", json=body, auth=auth).get_json()
    assert dry["dry_run"] is True
    assert [ti["task_id"] for ti in dry["task_instances"]] == ["task_1", "task_2", "task_3"]
    assert _states(web_db, "run_2")["task_1"] == "failed"
    done = client.post(f"/api/v1/dags/{DAG_ID}/clearTaskInstances", json={**body, "dry_run": False}, auth=auth)
    assert done.get_json()["changed"] == 3
    assert _states(web_db, "run_2")["task_1"] == "none"
    run_clear = client.post(f"/api/v1/dags/{DAG_ID}/dagRuns/run_1/clear", json={}, auth=auth).get_json()
    assert run_clear["total_entries"] == 4 and _run_state(web_db, "run_1") == "success"


def test_api_patch_task_instance_state_and_run_state(web_app: Flask, two_runs: None, web_db: Session) -> None:
    client, auth = web_app.test_client(), basic_auth("Op")
    url = f"/api/v1/dags/{DAG_ID}/dagRuns/run_2/taskInstances/task_1"
    # As in Airflow, a PATCH without "dry_run": false only answers which task instance it would set.
    dry = client.patch(url, json={"new_state": "success"}, auth=auth)
    assert dry.status_code == 200, dry.text
    assert client.get(url, auth=auth).get_json()["state"] == "failed"
    patched = client.patch(url, json={"new_state": "success", "dry_run": False}, auth=auth)
    assert patched.status_code == 200, patched.text
    assert {k: patched.get_json()[k] for k in ("dag_id", "dag_run_id", "task_id")} == {
        "dag_id": DAG_ID,
        "dag_run_id": "run_2",
        "task_id": "task_1",
    }
    assert client.get(url, auth=auth).get_json()["state"] == "success"
    assert _run_state(web_db, "run_2") == "running"
    assert client.patch(url, json={"new_state": "running", "dry_run": False}, auth=auth).status_code == 400
    run = client.patch(f"/api/v1/dags/{DAG_ID}/dagRuns/run_2", json={"state": "failed"}, auth=auth)
    assert run.get_json()["state"] == "failed"
    listed = client.get(f"/api/v1/dags/{DAG_ID}/dagRuns/run_2/taskInstances", auth=auth).get_json()
    # As in Airflow, marking the run failed leaves its finished task instances as they were.
    assert {ti["task_id"]: ti["state"] for ti in listed["task_instances"]} == {
        "task_0": "success",
        "task_1": "success",
        "task_2": "upstream_failed",
        "task_3": "upstream_failed",
    }


def test_api_delete_run_removes_it_with_its_task_instances_and_logs_and_frees_its_date(
    web_app: Flask, two_runs: None, web_db: Session
) -> None:
    key = task_instances.TIKey(DAG_ID, "run_2", "task_1")
    logs.append_log(web_db, key, 1, "it failed\n")
    web_db.commit()
    client, url = web_app.test_client(), f"/api/v1/dags/{DAG_ID}/dagRuns/run_2"
    assert client.delete(url, auth=basic_auth("Viewer")).status_code == 403
    deleted = client.delete(url, auth=basic_auth("Op"))
    assert deleted.status_code == 204 and deleted.data == b""
    assert client.get(url, auth=basic_auth("Op")).status_code == 404
    again = client.delete(url, auth=basic_auth("Op"))
    assert again.status_code == 404 and "run_2" in again.get_json()["detail"]
    web_db.expire_all()
    assert (
        web_db.scalar(sa.select(sa.func.count()).select_from(TaskInstance).where(TaskInstance.run_id == "run_2")) == 0
    )
    assert logs.read_log(web_db, key, 1)[0] == ""
    assert _states(web_db, "run_1") == {t: "success" for t in TASKS}
    events = client.get(f"/api/v1/eventLogs?dag_id={DAG_ID}", auth=basic_auth("Viewer")).get_json()["event_logs"]
    assert [(e["event"], e["run_id"], json.loads(e["extra"])["source"]) for e in events] == [
        ("delete_run", "run_2", "api")
    ]
    # The logical date is free again: a run for that day can be triggered anew.
    retrigger = client.post(
        f"/api/v1/dags/{DAG_ID}/dagRuns",
        json={"dag_run_id": "run_2", "logical_date": (T0 + timedelta(days=1)).isoformat()},
        auth=basic_auth("Op"),
    )
    assert retrigger.status_code == 200, retrigger.text


def test_api_logs_xcoms_and_pools(web_app: Flask, two_runs: None, web_db: Session) -> None:
    key = task_instances.TIKey(DAG_ID, "run_1", "task_0")
    web_db.execute(
        sa.update(TaskInstance)
        .where(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == "run_1")
        .values(try_number=1)
    )
    logs.append_log(web_db, key, 1, "hello <world>\n")
    web_db.commit()
    client, auth = web_app.test_client(), basic_auth("Viewer")
    url = f"/api/v1/dags/{DAG_ID}/dagRuns/run_1/taskInstances/task_0"
    text = client.get(f"{url}/logs/1", auth=auth)
    assert text.mimetype == "text/plain" and text.text == "hello <world>\n"
    as_json = client.get(f"{url}/logs/1?full_content=true", auth=auth, headers={"Accept": "application/json"})
    assert as_json.get_json()["content"] == "hello <world>\n"
    assert client.get(f"{url}/logs/7", auth=auth).status_code == 404
    assert client.get(f"{url}/xcomEntries", auth=auth).get_json()["total_entries"] == 0
    assert "default_pool" in [p["name"] for p in client.get("/api/v1/pools", auth=auth).get_json()["pools"]]


def test_event_logs_show_the_actions_with_the_username(web_app: Flask, client_as, two_runs: None) -> None:  # type: ignore[no-untyped-def]
    page_client = client_as("Op")
    page_client.post(
        f"/dags/{DAG_ID}/mark",
        data={"csrf_token": csrf_token(page_client), "state": "success", "run_id": "run_2", "task_id": "task_1"},
    )
    api = web_app.test_client()
    api.post(f"/api/v1/dags/{DAG_ID}/dagRuns/run_2/clear", json={"dry_run": False}, auth=basic_auth("Admin"))
    events = api.get(f"/api/v1/eventLogs?dag_id={DAG_ID}", auth=basic_auth("Viewer")).get_json()["event_logs"]
    # Oldest first, as Airflow orders the event log by default.
    assert [(e["event"], e["owner"], json.loads(e["extra"])["source"]) for e in events] == [
        ("mark_success", "op", "ui"),
        ("clear", "admin", "api"),
    ]
    assert json.loads(events[0]["extra"])["count"] == 1 and events[0]["task_id"] == "task_1"


def test_metrics_need_credentials_and_name_every_metric(web_app: Flask, two_runs: None, web_db: Session) -> None:
    client = web_app.test_client()
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 302
    token = users.issue_api_token(web_db, "viewer")
    web_db.commit()
    scraped = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert scraped.status_code == 200 and scraped.mimetype == "text/plain"
    for name in (
        "tradewind_task_instances",
        "tradewind_dag_runs",
        "tradewind_queue_depth",
        "tradewind_scheduler_loop_seconds",
        "tradewind_handoff_latency_seconds_bucket",
    ):
        assert name in scraped.text
    assert 'tradewind_task_instances{state="success"} 5.0' in scraped.text
    assert client.get("/metrics", headers={"Authorization": "Bearer tw1.wrong"}).status_code == 302


def test_metrics_count_each_workers_broker_reconnects_and_say_whether_it_can_work(
    web_app: Flask, web_db: Session
) -> None:
    now = datetime.now(UTC)
    for hostname, problem, reconnects in (("worker-ok", None, 2), ("worker-cut-off", "cannot reach the broker", 5)):
        workers.register(web_db, hostname, queues=["default"], concurrency=4, pid=1, version="0.1.0", now=now)
        workers.heartbeat(web_db, hostname, now=now, problem=problem, broker_reconnects=reconnects)
    token = users.issue_api_token(web_db, "viewer")
    web_db.commit()
    text = web_app.test_client().get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    assert 'tradewind_worker_broker_reconnects_total{worker="worker-ok"} 2.0' in text
    assert 'tradewind_worker_broker_reconnects_total{worker="worker-cut-off"} 5.0' in text
    assert 'tradewind_worker_healthy{worker="worker-ok"} 1.0' in text
    assert 'tradewind_worker_healthy{worker="worker-cut-off"} 0.0' in text


def test_every_action_is_in_the_audit_table(client_as, two_runs: None, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Op")
    client.post(f"/dags/{DAG_ID}/runs/run_2/clear", data={"csrf_token": csrf_token(client)})
    rows = list(web_db.scalars(sa.select(AuditLog)))
    assert [(r.event, r.owner, r.run_id) for r in rows] == [("clear", "op", "run_2")]


# --- browse pages -----------------------------------------------------------------------------------


def _run_ids(html: str) -> list[str]:
    return re.findall(r'<td class="run-id"><a href="[^"]*">([^<]*)</a></td>', html)


def test_runs_list_filters_by_dag_state_and_type_and_links_each_run(client_as, two_runs: None, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    store_dag(web_db, make_dag("other_dag", tasks=1))
    runs.create_run(
        web_db,
        dag_id="other_dag",
        run_id="manual__x",
        run_type="manual",
        logical_date=T0 + timedelta(hours=12),
        state="success",
        conf={"rows": 5, "api_password": "hunter2"},
        task_rows=[{"task_id": "task_0"}],
    )
    web_db.commit()
    client = client_as("Viewer")
    every = client.get("/runs").text
    assert _run_ids(every) == ["run_2", "manual__x", "run_1"]
    assert _run_ids(client.get(f"/dags/{DAG_ID}/runs?state=failed").text) == ["run_2"]
    assert _run_ids(client.get("/runs?run_type=manual").text) == ["manual__x"]
    assert _run_ids(client.get(f"/runs?dag_id={DAG_ID}&state=success").text) == ["run_1"]
    assert f'href="/dags/{DAG_ID}/runs/run_2/clear?only_failed=true"' in every
    assert f'<a href="/dags/{DAG_ID}/graph?run_id=run_2">run_2</a>' in every, "a run id links to the run"
    assert "&#34;rows&#34;: 5" in every and "hunter2" not in every, "conf is shown with its secrets masked"
    bad = client.get("/runs?run_type=sometimes")
    assert bad.status_code == 400 and "run_type must be one of" in bad.text


def test_bulk_actions_confirm_first_then_change_every_ticked_run(client_as, two_runs: None, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    """An Op ticks both runs and picks "Set state to failed": a page lists them and changes nothing;
    confirmed, both runs change in one go. Then deleting one removes it and its task instances."""
    op = client_as("Op")
    ticked = [f"{DAG_ID}/run_1", f"{DAG_ID}/run_2"]
    preview = op.post("/runs/bulk", data={"csrf_token": csrf_token(op), "action": "failed", "run": ticked})
    assert preview.status_code == 200 and "Set state to failed: 2 run(s)" in preview.text
    assert _run_state(web_db, "run_1") == "success", "the confirmation page changes nothing"
    done = op.post(
        "/runs/bulk",
        data={"csrf_token": csrf_token(op), "action": "failed", "run": ticked, "confirmed": "1", "next": "/runs"},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/runs")
    assert (_run_state(web_db, "run_1"), _run_state(web_db, "run_2")) == ("failed", "failed")
    assert _states(web_db, "run_1")["task_0"] == "success", "finished tasks keep their state, as in Airflow"

    cleared = op.post(
        "/runs/bulk", data={"csrf_token": csrf_token(op), "action": "clear", "run": ticked[:1], "confirmed": "1"}
    )
    assert cleared.status_code == 302 and _run_state(web_db, "run_1") == "queued"

    op.post("/runs/bulk", data={"csrf_token": csrf_token(op), "action": "delete", "run": ticked[1:], "confirmed": "1"})
    web_db.expire_all()
    assert [r.run_id for r in runs.list_runs(web_db, DAG_ID)] == ["run_1"]
    assert task_instances.get_tis(web_db, DAG_ID, "run_2") == []


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"action": "explode", "run": "d/r"}, 400, "action must be one of"),
        ({"action": "delete"}, 400, "Tick at least one run"),
        ({"action": "delete", "run": "no-separator"}, 400, "does not name a run"),
        ({"action": "delete", "run": f"{DAG_ID}/run_9", "confirmed": "1"}, 404, "Nothing was changed"),
    ],
)
def test_bulk_actions_refuse_what_they_cannot_do_and_change_nothing(  # type: ignore[no-untyped-def]
    client_as, two_runs: None, web_db: Session, form: dict[str, str], status: int, message: str
) -> None:
    op = client_as("Op")
    response = op.post("/runs/bulk", data={"csrf_token": csrf_token(op), **form})
    assert response.status_code == status and message in response.text
    assert _run_state(web_db, "run_2") == "failed"
    assert (
        client_as("Viewer").post("/runs/bulk", data={"csrf_token": csrf_token(op), "action": "delete"}).status_code
        == 403
    )


def test_audit_log_page_shows_who_did_what(client_as, two_runs: None) -> None:  # type: ignore[no-untyped-def]
    op = client_as("Op")
    op.post(f"/dags/{DAG_ID}/runs/run_2/clear", data={"csrf_token": csrf_token(op)})
    page = client_as("Viewer").get(f"/audit-log?dag_id={DAG_ID}").text
    assert re.findall(r'<td class="owner">([^<]*)</td><td class="event">([^<]*)</td>', page) == [("op", "clear")]
    assert client_as("Viewer").get("/audit-log?dag_id=other").text.count('class="audit-row"') == 0


# --- Browse → Task instances --------------------------------------------------------------------------


def _listed_tis(html: str) -> list[tuple[str, str]]:
    rows = re.findall(
        r'<td class="task-id"><a href="[^"]*">([^<]*)</a></td>\s*<td>[^<]*</td>\s*<td class="run-id">([^<]*)</td>', html
    )
    return [(task, run) for task, run in rows]


def test_task_instance_list_filters_across_dags_and_links_each_panel(client_as, two_runs: None) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Viewer")
    every = client.get("/task-instances").text
    assert len(_listed_tis(every)) == 8 and "8 task instances" in every
    assert _listed_tis(client.get("/task-instances?state=failed").text) == [("task_1", "run_2")]
    assert _listed_tis(client.get("/task-instances?task_id=task_3&run_id=run_1").text) == [("task_3", "run_1")]
    assert f'href="/dags/{DAG_ID}/runs/run_2/tasks/task_1?map_index=-1"' in every
    assert client.get("/task-instances?state=sleepy").status_code == 400


def test_bulk_marking_task_instances_changes_exactly_the_ticked_ones(
    client_as, two_runs: None, web_db: Session
) -> None:  # type: ignore[no-untyped-def]
    """An Op ticks task_1 and task_2 of the failed run and sets them to success: the confirmation
    lists exactly those two; confirmed, they change and task_3 (downstream) is left as it was."""
    op = client_as("Op")
    sep = "\x1f"
    ticked = [f"{DAG_ID}{sep}run_2{sep}task_1{sep}-1", f"{DAG_ID}{sep}run_2{sep}task_2{sep}-1"]
    form = {"csrf_token": csrf_token(op), "action": "success", "ti": ticked}
    preview = op.post("/task-instances/bulk", data=form)
    assert preview.status_code == 200 and _affected(preview.text) == ["task_1", "task_2"]
    assert _states(web_db, "run_2")["task_1"] == "failed"
    done = op.post("/task-instances/bulk", data={**form, "confirmed": "1"})
    assert done.status_code == 302
    assert _states(web_db, "run_2") == {
        "task_0": "success",
        "task_1": "success",
        "task_2": "success",
        "task_3": "upstream_failed",
    }
    bad = op.post("/task-instances/bulk", data={"csrf_token": csrf_token(op), "action": "success", "ti": "x"})
    assert bad.status_code == 400 and "does not name a task instance" in bad.text
