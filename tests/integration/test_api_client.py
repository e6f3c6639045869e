"""The REST API driven as Airflow's users drive it: with the official ``apache-airflow-client`` 2.10,
against the real webserver answering HTTP on 127.0.0.1 (in a thread) over a PostgreSQL metastore.

Each test is a script a user would write; it asserts what the script would rely on: the right runs
in the right order, the right states, the right task instances cleared or marked. The client
checks every answer against Airflow's own models, and the web fixture checks every answer against
tradewind's OpenAPI document.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from airflow_client import client as af
from airflow_client.client.api import (
    config_api,
    connection_api,
    dag_api,
    dag_run_api,
    dag_stats_api,
    dag_warning_api,
    dataset_api,
    event_log_api,
    import_error_api,
    monitoring_api,
    permission_api,
    plugin_api,
    pool_api,
    provider_api,
    role_api,
    task_instance_api,
    user_api,
    variable_api,
    x_com_api,
)
from airflow_client.client.model.clear_task_instances import ClearTaskInstances
from airflow_client.client.model.connection import Connection
from airflow_client.client.model.dag import DAG as DagPatch
from airflow_client.client.model.dag_run import DAGRun
from airflow_client.client.model.list_dag_runs_form import ListDagRunsForm
from airflow_client.client.model.list_task_instance_form import ListTaskInstanceForm
from airflow_client.client.model.pool import Pool
from airflow_client.client.model.set_dag_run_note import SetDagRunNote
from airflow_client.client.model.set_task_instance_note import SetTaskInstanceNote
from airflow_client.client.model.update_dag_run_state import UpdateDagRunState
from airflow_client.client.model.update_task_instance import UpdateTaskInstance
from airflow_client.client.model.update_task_instances_state import UpdateTaskInstancesState
from airflow_client.client.model.update_task_state import UpdateTaskState
from airflow_client.client.model.user import User
from airflow_client.client.model.user_collection_item_roles import UserCollectionItemRoles
from airflow_client.client.model.variable import Variable
from flask import Flask
from sqlalchemy.orm import Session
from web_helpers import ACCOUNTS, T0, make_dag, store_dag, store_import_error, store_run
from werkzeug.serving import make_server

from tradewind.metastore import dag_code, dag_files, task_instances, xcoms
from tradewind.metastore.models import TaskInstance
from tradewind.metastore.task_instances import TIKey

pytestmark = pytest.mark.integration
pytest_plugins = ["web_fixtures"]

DAG_ID = "etl"
TASKS = ("task_0", "task_1", "task_2", "task_3")


@pytest.fixture
def server(web_app: Flask) -> Iterator[str]:
    """The web app answering HTTP on a free port of 127.0.0.1; its /api/v1 URL."""
    httpd = make_server("127.0.0.1", 0, web_app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/api/v1"
    httpd.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def api(server: str) -> Any:
    """``api("Op")``: an ``ApiClient`` of the official client, logged in with basic auth as that role."""
    made: list[af.ApiClient] = []

    def make(role: str) -> af.ApiClient:
        account = ACCOUNTS[role]
        configuration = af.Configuration(host=server, username=account.username, password=account.password)
        made.append(af.ApiClient(configuration))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def two_runs(web_db: Session) -> None:
    """A chain task_0 >> … >> task_3 whose file source is stored; run_1 succeeded, run_2 failed at
    task_1 (task_2 and task_3 upstream_failed), run_3 is queued and nothing in it has run yet."""
    dag = make_dag(DAG_ID, tags=["sales"], tasks=4)
    store_dag(web_db, dag)
    dag_code.set_code(web_db, f"/dags/{DAG_ID}.py", "# the etl DAG\n", "hash")
    store_run(web_db, DAG_ID, "run_1", "success", logical_date=T0, task_states={t: "success" for t in TASKS})
    failed = {"task_0": "success", "task_1": "failed", "task_2": "upstream_failed", "task_3": "upstream_failed"}
    store_run(web_db, DAG_ID, "run_2", "failed", logical_date=T0 + timedelta(days=1), task_states=failed)
    store_run(
        web_db, DAG_ID, "run_3", "queued", logical_date=T0 + timedelta(days=2), task_states=dict.fromkeys(TASKS, "none")
    )
    store_dag(web_db, make_dag("reports", tags=["finance"], tasks=1))
    web_db.commit()


def _states(web_db: Session, run_id: str) -> dict[str, str]:
    web_db.expire_all()
    return {ti.task_id: ti.state for ti in task_instances.get_tis(web_db, DAG_ID, run_id)}


def test_a_user_lists_and_pauses_dags_and_reads_their_details_tasks_and_source(api: Any, two_runs: None) -> None:
    dags = dag_api.DAGApi(api("Op"))
    listed = dags.get_dags(dag_id_pattern="ET", order_by="-dag_id")
    assert [d.dag_id for d in listed.dags] == ["etl"] and listed.total_entries == 1
    assert [d.dag_id for d in dags.get_dags(tags=["finance"]).dags] == ["reports"]
    etl = dags.get_dag(DAG_ID)
    assert etl.schedule_interval.value == "@daily" and etl.is_paused is False and etl.owners == ["data-team"]
    paused = dags.patch_dag(DAG_ID, DagPatch(is_paused=True), update_mask=["is_paused"])
    assert paused.is_paused is True
    assert [d.dag_id for d in dags.get_dags(paused=True).dags] == ["etl"]
    details = dags.get_dag_details(DAG_ID)
    assert details.start_date == T0 and details.catchup is False and details.timezone
    tasks = dags.get_tasks(DAG_ID)
    assert [t.task_id for t in tasks.tasks] == list(TASKS)
    task = dags.get_task(DAG_ID, "task_1")
    assert task.downstream_task_ids == ["task_2"] and task.class_ref.class_name == "BashOperator"
    assert dags.get_dag_source(etl.file_token)["content"] == "# the etl DAG\n"
    with pytest.raises(af.ApiException) as missing:
        dags.get_dag("nope")
    assert missing.value.status == 404


def test_deleting_a_dag_removes_its_history_but_never_while_one_of_its_tasks_runs(
    api: Any, two_runs: None, web_db: Session
) -> None:
    with pytest.raises(af.ApiException) as viewer:
        dag_api.DAGApi(api("Viewer")).delete_dag(DAG_ID)
    assert viewer.value.status == 403
    web_db.execute(
        sa.update(TaskInstance)
        .where(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == "run_3", TaskInstance.task_id == "task_0")
        .values(state="running")
    )
    web_db.commit()
    dags = dag_api.DAGApi(api("Op"))
    with pytest.raises(af.ApiException) as running:
        dags.delete_dag(DAG_ID)
    assert running.value.status == 409 and "1 task instance(s) running" in running.value.body
    assert _states(web_db, "run_3")["task_0"] == "running"
    dags.delete_dag("reports")
    with pytest.raises(af.ApiException) as gone:
        dags.get_dag("reports")
    assert gone.value.status == 404
    assert [d.dag_id for d in dags.get_dags().dags] == [DAG_ID]


def test_a_script_triggers_a_run_with_conf_and_finds_it_by_state_order_and_date(api: Any, two_runs: None) -> None:
    runs = dag_run_api.DAGRunApi(api("Op"))
    created = runs.post_dag_run(DAG_ID, DAGRun(dag_run_id="from_script", conf={"rows": 5}, note="nightly by hand"))
    assert created.state.value == "queued" and created.conf == {"rows": 5} and created.note == "nightly by hand"
    assert created.execution_date == created.logical_date
    assert runs.get_dag_run(DAG_ID, "from_script").run_type == "manual"
    newest_first = runs.get_dag_runs(DAG_ID, order_by="-execution_date", limit=2)
    assert [r.dag_run_id for r in newest_first.dag_runs] == ["from_script", "run_3"]
    assert newest_first.total_entries == 4
    finished = runs.get_dag_runs(DAG_ID, state=["success", "failed"], order_by="execution_date")
    assert [r.dag_run_id for r in finished.dag_runs] == ["run_1", "run_2"]
    day_two = runs.get_dag_runs(
        DAG_ID, execution_date_gte=T0 + timedelta(days=1), execution_date_lte=T0 + timedelta(days=1)
    )
    assert [r.dag_run_id for r in day_two.dag_runs] == ["run_2"]
    batch = runs.get_dag_runs_batch(ListDagRunsForm(dag_ids=[DAG_ID, "reports"], states=["queued"]))
    assert sorted(r.dag_run_id for r in batch.dag_runs) == ["from_script", "run_3"]
    everywhere = runs.get_dag_runs("~")
    assert everywhere.total_entries == 4
    with pytest.raises(af.ApiException) as conflict:
        runs.post_dag_run(DAG_ID, DAGRun(dag_run_id="from_script"))
    assert conflict.value.status == 409


def test_polling_a_run_that_has_not_started_reads_every_task_instance(api: Any, two_runs: None) -> None:
    """A task instance that never ran has no host: Airflow answers "" and a null state, which the
    client needs to read the list at all."""
    tis = task_instance_api.TaskInstanceApi(api("Viewer"))
    listed = tis.get_task_instances(DAG_ID, "run_3")
    assert [(t.task_id, t.state, t.hostname) for t in listed.task_instances] == [(t, None, "") for t in TASKS]
    failed = tis.get_task_instances(DAG_ID, "run_2", state=["failed", "upstream_failed"])
    assert [t.task_id for t in failed.task_instances] == ["task_1", "task_2", "task_3"]
    batch = tis.get_task_instances_batch(ListTaskInstanceForm(dag_run_ids=["run_1", "run_2"], task_ids=["task_0"]))
    assert sorted(t.dag_run_id for t in batch.task_instances) == ["run_1", "run_2"]
    one = tis.get_task_instance(DAG_ID, "run_2", "task_1")
    assert one.state.value == "failed" and one.execution_date == (T0 + timedelta(days=1)).isoformat()


def test_a_user_asks_why_a_task_instance_waits_and_has_its_file_parsed_again(
    api: Any, two_runs: None, web_db: Session
) -> None:
    tis = task_instance_api.TaskInstanceApi(api("Viewer"))
    waiting = tis.get_task_instance_dependencies(DAG_ID, "run_3", "task_1")
    names = [d.name for d in waiting.dependencies]
    assert "Trigger Rule" in names and "Dagrun Running" in names, names
    reason = next(d.reason for d in waiting.dependencies if d.name == "Trigger Rule")
    assert "all_success" in reason, reason
    done = tis.get_task_instance_dependencies(DAG_ID, "run_1", "task_0")
    assert [d.name for d in done.dependencies] == ["Task Instance State", "Dagrun Running"]  # both ended
    with pytest.raises(af.ApiException) as missing:
        tis.get_task_instance_dependencies(DAG_ID, "run_3", "nope")
    assert missing.value.status == 404

    fileloc = f"/dags/{DAG_ID}.py"
    dag_files.record_file(web_db, fileloc, "hash-of-the-parsed-file", dag_ids=[DAG_ID])
    web_db.commit()
    dags = dag_api.DAGApi(api("Op"))
    dags.reparse_dag_file(dags.get_dag(DAG_ID).file_token)
    web_db.expire_all()
    assert dag_files.get_known_files(web_db)[fileloc].content_hash == ""  # imported again at the next scan
    with pytest.raises(af.ApiException) as forged:
        dags.reparse_dag_file("not-a-token")
    assert forged.value.status == 404
    with pytest.raises(af.ApiException) as viewer:
        dag_api.DAGApi(api("Viewer")).reparse_dag_file(dags.get_dag(DAG_ID).file_token)
    assert viewer.value.status == 403


def test_clearing_takes_only_the_failed_task_instances_unless_told_and_is_a_dry_run_by_default(
    api: Any, two_runs: None, web_db: Session
) -> None:
    dags = dag_api.DAGApi(api("Op"))
    preview = dags.post_clear_task_instances(DAG_ID, ClearTaskInstances(dag_run_id="run_2"))
    assert sorted(t.task_id for t in preview.task_instances) == ["task_1", "task_2", "task_3"]
    assert _states(web_db, "run_2")["task_1"] == "failed"
    done = dags.post_clear_task_instances(DAG_ID, ClearTaskInstances(dag_run_id="run_2", dry_run=False))
    assert sorted(t.task_id for t in done.task_instances) == ["task_1", "task_2", "task_3"]
    assert _states(web_db, "run_2") == {"task_0": "success", "task_1": "none", "task_2": "none", "task_3": "none"}
    everything = dags.post_clear_task_instances(
        DAG_ID, ClearTaskInstances(dag_run_id="run_1", only_failed=False, task_ids=["task_3"])
    )
    assert [t.task_id for t in everything.task_instances] == ["task_3"]
    assert _states(web_db, "run_1")["task_3"] == "success"


def test_marking_task_instances_and_runs_and_writing_notes(api: Any, two_runs: None, web_db: Session) -> None:
    tis = task_instance_api.TaskInstanceApi(api("Op"))
    dry = tis.patch_task_instance(DAG_ID, "run_2", "task_1", UpdateTaskInstance(new_state=UpdateTaskState("success")))
    assert dry.task_id == "task_1" and _states(web_db, "run_2")["task_1"] == "failed"
    tis.patch_task_instance(
        DAG_ID, "run_2", "task_1", UpdateTaskInstance(new_state=UpdateTaskState("success"), dry_run=False)
    )
    assert _states(web_db, "run_2")["task_1"] == "success"
    marked = dag_api.DAGApi(api("Op")).post_set_task_instances_state(
        DAG_ID,
        UpdateTaskInstancesState(
            task_id="task_2",
            dag_run_id="run_2",
            include_downstream=True,
            new_state=UpdateTaskState("skipped"),
            dry_run=False,
        ),
    )
    assert sorted(t.task_id for t in marked.task_instances) == ["task_2", "task_3"]
    assert _states(web_db, "run_2")["task_3"] == "skipped"
    noted = tis.set_task_instance_note(DAG_ID, "run_2", "task_1", SetTaskInstanceNote(note="fixed upstream"))
    assert noted.note == "fixed upstream"
    runs = dag_run_api.DAGRunApi(api("Op"))
    assert runs.set_dag_run_note(DAG_ID, "run_2", SetDagRunNote(note="re-run after fix")).note == "re-run after fix"
    assert runs.update_dag_run_state(DAG_ID, "run_1", UpdateDagRunState(state="failed")).state.value == "failed"
    runs.delete_dag_run(DAG_ID, "run_1")
    assert [r.dag_run_id for r in runs.get_dag_runs(DAG_ID).dag_runs] == ["run_2", "run_3"]
    with pytest.raises(af.ApiException) as viewer:
        tis_as_viewer = task_instance_api.TaskInstanceApi(api("Viewer"))
        tis_as_viewer.patch_task_instance(DAG_ID, "run_2", "task_1", UpdateTaskInstance(dry_run=False))
    assert viewer.value.status == 403


def test_a_script_reads_logs_tries_and_xcoms(api: Any, two_runs: None, web_db: Session) -> None:
    from tradewind.metastore import logs

    key = TIKey(DAG_ID, "run_1", "task_0")
    ti = task_instances.get_ti(web_db, DAG_ID, "run_1", "task_0")
    assert ti is not None
    ti.try_number = 1
    logs.append_log(web_db, key, 1, "hello from task_0\n")
    xcoms.set_xcom(web_db, key, "return_value", {"rows": 5})
    web_db.commit()
    tis = task_instance_api.TaskInstanceApi(api("Viewer"))
    log = tis.get_log(DAG_ID, "run_1", "task_0", 1)
    assert log.content == "hello from task_0\n"
    assert tis.get_log(DAG_ID, "run_1", "task_0", 1, token=log.continuation_token).content == ""
    entries = x_com_api.XComApi(api("Viewer")).get_xcom_entries(DAG_ID, "run_1", "task_0")
    assert [e.key for e in entries.xcom_entries] == ["return_value"]
    entry = x_com_api.XComApi(api("Viewer")).get_xcom_entry(DAG_ID, "run_1", "task_0", "return_value", stringify=False)
    assert entry.value == {"rows": 5}
    assert tis.get_extra_links(DAG_ID, "run_1", "task_0").extra_links == []


def test_admin_resources_pools_connections_variables_config_users_and_roles(api: Any, two_runs: None) -> None:
    admin = api("Admin")
    pools = pool_api.PoolApi(admin)
    pools.post_pool(Pool(name="db", slots=3, description="the database"))
    assert pools.get_pool("db").open_slots == 3 and pools.get_pool("db").occupied_slots == 0
    assert pools.patch_pool("db", Pool(name="db", slots=5), update_mask=["slots"]).slots == 5
    pools.delete_pool("db")
    assert [p.name for p in pools.get_pools().pools] == ["default_pool"]
    connections = connection_api.ConnectionApi(admin)
    created = connections.post_connection(Connection(connection_id="wh", conn_type="postgres", host="db", login="etl"))
    assert created.connection_id == "wh"
    assert [c.connection_id for c in connections.get_connections().connections] == ["wh"]
    assert (
        connections.patch_connection("wh", Connection(connection_id="wh", conn_type="postgres", port=5433)).port == 5433
    )
    connections.delete_connection("wh")
    variables = variable_api.VariableApi(admin)
    variables.post_variables(Variable(key="region", value="eu"))
    assert variables.get_variable("region").value == "eu"
    variables.delete_variable("region")
    config = config_api.ConfigApi(admin).get_config()
    options = {(s.name, o.key): o.value for s in config.sections for o in s.options}
    assert options[("webserver", "secret_key")] == "***" and options[("database", "database_url")].startswith(
        "postgresql"
    )
    assert [u.username for u in user_api.UserApi(admin).get_users().users] == ["admin", "op", "viewer"]
    roles = role_api.RoleApi(admin).get_roles()
    assert [r.name for r in roles.roles] == ["Admin", "Op", "Viewer"]
    assert {a.name for a in permission_api.PermissionApi(admin).get_permissions().actions} >= {"can_read", "can_edit"}


def test_an_admin_script_creates_changes_and_deletes_a_user(api: Any, server: str) -> None:
    admin = user_api.UserApi(api("Admin"))
    analyst = User(
        username="analyst",
        password="first-pw-123",
        email="analyst@example.com",
        first_name="",
        last_name="",
        roles=[UserCollectionItemRoles(name="Viewer")],
    )
    created = admin.post_user(analyst)
    assert (created.username, [r.name for r in created.roles]) == ("analyst", ["Viewer"])
    with pytest.raises(af.ApiException) as taken:
        admin.post_user(analyst)
    assert taken.value.status == 409
    promoted = admin.patch_user("analyst", User(roles=[UserCollectionItemRoles(name="Op")]), update_mask=["roles"])
    assert [r.name for r in promoted.roles] == ["Op"]
    admin.patch_user("analyst", User(password="second-pw-456"), update_mask=["password"])
    # The new password works and the old one no longer does.
    with_new = af.Configuration(host=server, username="analyst", password="second-pw-456")
    assert dag_api.DAGApi(af.ApiClient(with_new)).get_dags().total_entries >= 0
    with_old = af.Configuration(host=server, username="analyst", password="first-pw-123")
    with pytest.raises(af.ApiException) as refused:
        dag_api.DAGApi(af.ApiClient(with_old)).get_dags()
    assert refused.value.status == 401
    with pytest.raises(af.ApiException) as two_roles:
        admin.patch_user(
            "analyst",
            User(roles=[UserCollectionItemRoles(name="Op"), UserCollectionItemRoles(name="Admin")]),
            update_mask=["roles"],
        )
    assert two_roles.value.status == 400 and "exactly one" in two_roles.value.body
    with pytest.raises(af.ApiException) as own:
        admin.delete_user("admin")
    assert own.value.status == 400 and "your own account" in own.value.body
    admin.delete_user("analyst")
    assert "analyst" not in [u.username for u in admin.get_users().users]
    with pytest.raises(af.ApiException) as viewer:
        user_api.UserApi(api("Viewer")).delete_user("op")
    assert viewer.value.status == 403


def test_monitoring_health_version_event_logs_import_errors_and_empty_resources(
    api: Any, two_runs: None, web_db: Session
) -> None:
    store_import_error(web_db, "/dags/broken.py", "SyntaxError: broken\n")
    web_db.commit()
    viewer = api("Viewer")
    health = monitoring_api.MonitoringApi(viewer).get_health()
    assert health.metadatabase.status.value == "healthy" and health.scheduler.status.value == "unhealthy"
    assert monitoring_api.MonitoringApi(viewer).get_version().version
    dag_api.DAGApi(api("Op")).patch_dag(DAG_ID, DagPatch(is_paused=True))
    events = event_log_api.EventLogApi(viewer).get_event_logs(dag_id=DAG_ID, event="pause")
    assert [(e.event, e.owner, json.loads(e.extra)["source"]) for e in events.event_logs] == [("pause", "op", "api")]
    one = event_log_api.EventLogApi(viewer).get_event_log(events.event_logs[0].event_log_id)
    assert one.dag_id == DAG_ID
    errors = import_error_api.ImportErrorApi(viewer).get_import_errors()
    assert [e.filename for e in errors.import_errors] == ["/dags/broken.py"]
    assert import_error_api.ImportErrorApi(viewer).get_import_error(errors.import_errors[0].import_error_id)
    stats = dag_stats_api.DagStatsApi(viewer).get_dag_stats(dag_ids=DAG_ID)
    counts = {s.state: s.count for s in stats.dags[0].stats}
    assert counts == {"queued": 1, "running": 0, "success": 1, "failed": 1}
    assert dag_warning_api.DagWarningApi(viewer).get_dag_warnings().dag_warnings == []
    assert dataset_api.DatasetApi(viewer).get_datasets().datasets == []
    assert dataset_api.DatasetApi(viewer).get_dataset_events().dataset_events == []
    providers = provider_api.ProviderApi(viewer).get_providers()["providers"]
    assert "apache-airflow-providers-postgres" in [p["package_name"] for p in providers]
    assert plugin_api.PluginApi(viewer).get_plugins().plugins == []


def test_bad_parameters_and_bodies_are_a_400_naming_them(server: str, two_runs: None) -> None:
    import urllib.error
    import urllib.request
    from base64 import b64encode

    auth = "Basic " + b64encode(b"op:op-password").decode()

    def call(method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{server}{path}", data=data, method=method)
        request.add_header("Authorization", auth)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    status, problem = call("GET", f"/dags/{DAG_ID}/dagRuns?search=x")
    assert status == 400 and "search" in problem["detail"]
    status, problem = call("GET", f"/dags/{DAG_ID}/dagRuns?limit=lots")
    assert status == 400 and "limit" in problem["detail"]
    status, problem = call("GET", f"/dags/{DAG_ID}/dagRuns?execution_date_gte=yesterday")
    assert status == 400 and "execution_date_gte" in problem["detail"]
    status, problem = call("GET", f"/dags/{DAG_ID}/dagRuns?order_by=colour")
    assert status == 400 and "order_by" in problem["detail"]
    status, problem = call("POST", f"/dags/{DAG_ID}/clearTaskInstances", {"task_idz": ["task_1"]})
    assert status == 400 and "task_idz" in problem["detail"]
    status, problem = call("POST", f"/dags/{DAG_ID}/clearTaskInstances", {"dry_run": "yes"})
    assert status == 400 and "dry_run" in problem["detail"]
    status, problem = call("GET", f"/dags/{DAG_ID}/dagRuns/run_2/taskInstances/task_1/logs/first")
    assert status == 400 and "task_try_number" in problem["detail"]


def test_the_official_client_sends_dataset_events_and_reads_what_they_triggered(
    api: Any, web_db: Session, web_settings: Any
) -> None:
    from datetime import UTC, datetime

    from airflow_client.client.model.create_dataset_event import CreateDatasetEvent

    from tradewind import DAG, BashOperator
    from tradewind.master.scheduler.duties.run_creation import create_scheduled_runs
    from tradewind.metastore import datasets
    from tradewind.scheduling.dag_cache import DagCache
    from tradewind.sdk.datasets import Dataset

    orders = Dataset("s3://shop/orders.parquet")
    with DAG("orders_report", schedule=[orders], start_date=T0) as consumer:
        BashOperator(task_id="report", bash_command="true")
    store_dag(web_db, consumer)
    datasets.sync_parsed_dag(web_db, consumer)
    web_db.commit()

    sent = dataset_api.DatasetApi(api("Op")).create_dataset_event(
        CreateDatasetEvent(dataset_uri=orders.uri, extra={"rows": 3})
    )
    assert (sent.dataset_uri, sent.extra) == (orders.uri, {"rows": 3, "from_rest_api": True})
    viewer = dataset_api.DatasetApi(api("Viewer"))
    queued = viewer.get_dag_dataset_queued_events("orders_report")
    assert [(q.uri, q.dag_id) for q in queued.datasets] == [(orders.uri, "orders_report")]
    assert viewer.get_dataset(orders.uri).consuming_dags[0].dag_id == "orders_report"

    create_scheduled_runs(web_db, DagCache(), web_settings, datetime.now(UTC))
    web_db.commit()
    (run,) = dag_run_api.DAGRunApi(api("Viewer")).get_dag_runs("orders_report").dag_runs
    assert run.run_type == "dataset_triggered"
    upstream = dag_run_api.DAGRunApi(api("Viewer")).get_upstream_dataset_events("orders_report", run.dag_run_id)
    assert [e.dataset_uri for e in upstream.dataset_events] == [orders.uri]
    with pytest.raises(af.ApiException) as bad:
        dataset_api.DatasetApi(api("Op")).create_dataset_event(CreateDatasetEvent(dataset_uri="airflow://x"))
    assert bad.value.status == 400 and "reserved" in bad.value.body
