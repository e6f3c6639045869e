"""Every route of the web app answers anonymous users, Viewers, Ops and Admins as the role table
below says. The routes come from the app's ``url_map``: a route added without a row here fails the
test, so nothing new can slip in unprotected (or, by mistake, closed)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from web_helpers import ACCOUNTS, ROLES, basic_auth, csrf_token, login
from web_routes import Route, populate, routes

pytestmark = pytest.mark.integration

pytest_plugins = ["web_fixtures"]

PUBLIC = None
#: The least role each endpoint admits (PUBLIC: anyone, logged in or not).
ROLE_TABLE: dict[str, str | None] = {
    # public
    "static": PUBLIC,
    "auth.login": PUBLIC,
    "health.health": PUBLIC,
    # reading: any logged-in user
    "auth.logout": "Viewer",
    "dags.dag_list": "Viewer",
    "runs.all_runs": "Viewer",
    "runs.dag_runs": "Viewer",
    "runs.run_details": "Viewer",
    "task_instance_list.task_instance_list": "Viewer",
    "dag_dependencies.dag_dependencies_view": "Viewer",
    "audit.audit_log": "Viewer",
    "datasets.dataset_list": "Viewer",
    "datasets.dataset_detail": "Viewer",
    "grid.grid_view": "Viewer",
    "grid.grid_data": "Viewer",
    "graph.graph_view": "Viewer",
    "graph.run_states": "Viewer",
    "gantt.gantt_view": "Viewer",
    "task_charts.duration_view": "Viewer",
    "task_charts.tries_view": "Viewer",
    "task_charts.landing_times_view": "Viewer",
    "task_charts.calendar_view": "Viewer",
    "code.code_view": "Viewer",
    "task_instance.panel": "Viewer",
    "task_instance.log": "Viewer",
    "task_instance.log_page": "Viewer",
    "task_instance.log_tail": "Viewer",
    "actions.clear_preview": "Viewer",
    "actions.mark_preview": "Viewer",
    "actions.run_clear_preview": "Viewer",
    "actions.run_mark_preview": "Viewer",
    "actions.trigger_form": "Viewer",
    "metrics.prometheus_metrics": "Viewer",
    # acting on DAGs and runs: Op
    "dags.set_paused": "Op",
    "actions.clear_apply": "Op",
    "actions.mark_apply": "Op",
    "actions.run_clear_apply": "Op",
    "actions.run_mark_apply": "Op",
    "actions.trigger_submit": "Op",
    "runs.bulk_action": "Op",
    "task_instance_list.bulk_action": "Op",
    # users, pools, variables, connections: Admin
    "users.user_list": "Admin",
    "users.create_user": "Admin",
    "users.delete_user": "Admin",
    "users.update_user": "Admin",
    "users.end_sessions": "Admin",
    "pools.pool_list": "Admin",
    "pools.set_pool": "Admin",
    "pools.delete_pool": "Admin",
    "variables.variable_list": "Admin",
    "variables.set_variable": "Admin",
    "variables.delete_variable": "Admin",
    "connections.connection_list": "Admin",
    "connections.add_connection": "Admin",
    "connections.delete_connection": "Admin",
    "connections.test_connection": "Admin",
    # the REST API (/api/v1), as Airflow 2.10 serves it: reads for any user, writes Op, admin Admin
    "api_health.get_health": PUBLIC,
    "api_version.get_version": PUBLIC,
    "api_dag_details.get_dag_details": "Viewer",
    "api_dag_details.get_task": "Viewer",
    "api_dag_details.get_tasks": "Viewer",
    "api_dag_runs.get_dag_run": "Viewer",
    "api_dag_runs.get_dag_runs": "Viewer",
    "api_dag_runs.get_dag_runs_batch": "Viewer",
    "api_dag_runs.get_upstream_dataset_events": "Viewer",
    "api_dag_sources.get_dag_source": "Viewer",
    "api_dag_stats.get_dag_stats": "Viewer",
    "api_dag_warnings.get_dag_warnings": "Viewer",
    "api_dags.get_dag": "Viewer",
    "api_dags.get_dags": "Viewer",
    "api_datasets.get_dag_dataset_queued_event": "Viewer",
    "api_datasets.get_dag_dataset_queued_events": "Viewer",
    "api_datasets.get_dataset": "Viewer",
    "api_datasets.get_dataset_events": "Viewer",
    "api_datasets.get_dataset_queued_events": "Viewer",
    "api_datasets.get_datasets": "Viewer",
    "api_event_logs.get_event_log": "Viewer",
    "api_event_logs.get_event_logs": "Viewer",
    "api_import_errors.get_import_error": "Viewer",
    "api_import_errors.get_import_errors": "Viewer",
    "api_openapi.openapi_document": "Viewer",
    "api_pools.get_pool": "Viewer",
    "api_pools.get_pools": "Viewer",
    "api_providers.get_plugins": "Viewer",
    "api_providers.get_providers": "Viewer",
    "api_task_instances.get_extra_links": "Viewer",
    "api_task_instances.get_mapped_task_instance": "Viewer",
    "api_task_instances.get_mapped_task_instance_tries": "Viewer",
    "api_task_instances.get_mapped_task_instance_try_details": "Viewer",
    "api_task_instances.get_mapped_task_instances": "Viewer",
    "api_task_instances.get_task_instance": "Viewer",
    "api_task_instances.get_task_instance_dependencies": "Viewer",
    "api_task_instances.get_mapped_task_instance_dependencies": "Viewer",
    "api_task_instances.get_task_instance_tries": "Viewer",
    "api_task_instances.get_task_instance_try_details": "Viewer",
    "api_task_instances.get_task_instances": "Viewer",
    "api_task_instances.get_task_instances_batch": "Viewer",
    "api_task_logs.get_log": "Viewer",
    "api_xcoms.get_xcom_entries": "Viewer",
    "api_xcoms.get_xcom_entry": "Viewer",
    "api_dag_runs.clear_dag_run": "Op",
    "api_dag_runs.delete_dag_run": "Op",
    "api_dag_runs.post_dag_run": "Op",
    "api_dag_runs.set_dag_run_note": "Op",
    "api_dag_runs.update_dag_run_state": "Op",
    "api_dags.delete_dag": "Op",
    "api_dag_parsing.reparse_dag_file": "Op",
    "api_dags.patch_dag": "Op",
    "api_dags.patch_dags": "Op",
    "api_datasets.create_dataset_event": "Op",
    "api_datasets.delete_dag_dataset_queued_event": "Op",
    "api_datasets.delete_dag_dataset_queued_events": "Op",
    "api_datasets.delete_dataset_queued_events": "Op",
    "api_task_instance_actions.post_clear_task_instances": "Op",
    "api_task_instance_actions.post_set_task_instances_state": "Op",
    "api_task_instances.patch_mapped_task_instance": "Op",
    "api_task_instances.patch_task_instance": "Op",
    "api_task_instances.set_mapped_task_instance_note": "Op",
    "api_task_instances.set_task_instance_note": "Op",
    "api_config.get_config": "Admin",
    "api_config.get_value": "Admin",
    "api_connections.create_connection": "Admin",
    "api_connections.delete_connection": "Admin",
    "api_connections.get_connection": "Admin",
    "api_connections.list_connections": "Admin",
    "api_connections.patch_connection": "Admin",
    "api_connections.test_connection": "Admin",
    "api_pools.delete_pool": "Admin",
    "api_pools.patch_pool": "Admin",
    "api_pools.post_pool": "Admin",
    "api_roles.get_permissions": "Admin",
    "api_roles.get_role": "Admin",
    "api_roles.get_roles": "Admin",
    "api_users.get_user": "Admin",
    "api_users.post_user": "Admin",
    "api_users.patch_user": "Admin",
    "api_users.delete_user": "Admin",
    "api_users.get_users": "Admin",
    "api_variables.create_variable": "Admin",
    "api_variables.delete_variable": "Admin",
    "api_variables.get_variable": "Admin",
    "api_variables.list_variables": "Admin",
    "api_variables.patch_variable": "Admin",
}


#: Routes a setting keeps off (as in Airflow): an admitted user is refused with a 403 naming the setting.
OFF_BY_DEFAULT = frozenset({"api_connections.test_connection", "connections.test_connection"})


def _allowed(role: str | None, least: str | None) -> bool:
    return least is None or (role is not None and ROLES.index(role) >= ROLES.index(least))


def _request(app: Flask, route: Route, role: str | None) -> Any:
    path = route.path()
    is_api = path.startswith("/api/")
    client: FlaskClient = app.test_client()
    if is_api:
        body = {} if route.method in ("POST", "PATCH", "PUT") else None
        return client.open(path, method=route.method, json=body, auth=basic_auth(role) if role else None)
    if role is not None:
        assert login(client, ACCOUNTS[role].username, ACCOUNTS[role].password).status_code == 302
    data = {"csrf_token": csrf_token(client)} if route.method != "GET" else None
    return client.open(path, method=route.method, data=data)


def test_every_route_has_a_row_in_the_role_table(web_app: Flask) -> None:
    endpoints = {route.endpoint for route in routes(web_app)}
    assert sorted(endpoints - ROLE_TABLE.keys()) == [], "routes missing from ROLE_TABLE: say who may use them"
    assert sorted(ROLE_TABLE.keys() - endpoints) == [], "ROLE_TABLE names routes the app no longer has"


@pytest.mark.parametrize("role", [None, *ROLES], ids=["anonymous", *ROLES])
def test_every_route_answers_each_role_as_the_table_says(role: str | None, web_app: Flask, web_db: Session) -> None:
    populate(web_db)
    wrong = []
    for route in routes(web_app):
        least = ROLE_TABLE.get(route.endpoint, "missing from ROLE_TABLE")
        if least not in (None, *ROLES):
            continue  # the test above names it
        response = _request(web_app, route, role)
        location = response.headers.get("Location", "")
        to_login = response.status_code == 302 and location.startswith("/login?")
        if least is PUBLIC:
            ok = response.status_code < 500 and not to_login  # (a login without a password is a 401)
            expected = "answered without a login"
        elif _allowed(role, least):
            refused_by_setting = route.endpoint in OFF_BY_DEFAULT and "TRADEWIND_" in response.text
            ok = (response.status_code not in (401, 403) or refused_by_setting) and not to_login
            ok = ok and response.status_code < 500
            expected = "admitted"
        elif role is None:
            ok = response.status_code == 401 if route.rule.startswith("/api/") else to_login
            expected = "asked to log in"
        else:
            ok = response.status_code == 403 and f"needs the {least} role" in response.text
            expected = "refused with 403"
        if not ok:
            wrong.append(f"{route.method} {route.rule} ({route.endpoint}): expected {expected}, got {response.status}")
    assert wrong == []
