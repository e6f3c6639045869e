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
    "api_health.health": PUBLIC,
    # reading: any logged-in user
    "auth.logout": "Viewer",
    "dags.dag_list": "Viewer",
    "runs.all_runs": "Viewer",
    "runs.dag_runs": "Viewer",
    "audit.audit_log": "Viewer",
    "grid.grid_view": "Viewer",
    "grid.grid_data": "Viewer",
    "graph.graph_view": "Viewer",
    "graph.run_states": "Viewer",
    "gantt.gantt_view": "Viewer",
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
    "api_dags.list_dags": "Viewer",
    "api_dags.get_dag": "Viewer",
    "api_dag_runs.list_dag_runs": "Viewer",
    "api_dag_runs.get_dag_run": "Viewer",
    "api_dag_runs.list_task_instances": "Viewer",
    "api_dag_runs.get_task_instance": "Viewer",
    "api_dag_runs.get_mapped_task_instance": "Viewer",
    "api_dag_runs.list_mapped_task_instances": "Viewer",
    "api_dag_runs.get_log": "Viewer",
    "api_dag_runs.list_xcom_entries": "Viewer",
    "api_event_logs.list_event_logs": "Viewer",
    "api_import_errors.list_import_errors": "Viewer",
    "api_openapi.openapi_document": "Viewer",
    "api_pools.list_pools": "Viewer",
    "api_pools.get_pool": "Viewer",
    # acting on DAGs and runs: Op
    "dags.set_paused": "Op",
    "actions.clear_apply": "Op",
    "actions.mark_apply": "Op",
    "actions.run_clear_apply": "Op",
    "actions.run_mark_apply": "Op",
    "actions.trigger_submit": "Op",
    "api_dags.patch_dag": "Op",
    "api_dag_runs.trigger_dag_run": "Op",
    "api_dag_runs.set_dag_run_state": "Op",
    "api_dag_runs.delete_dag_run": "Op",
    "api_dag_runs.clear_dag_run": "Op",
    "api_dag_runs.clear_task_instances": "Op",
    "api_dag_runs.set_task_instance_state": "Op",
    # users, pools, variables, connections: Admin
    "users.user_list": "Admin",
    "users.create_user": "Admin",
    "users.delete_user": "Admin",
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
    "api_pools.create_pool": "Admin",
    "api_pools.patch_pool": "Admin",
    "api_pools.delete_pool": "Admin",
    "api_variables.list_variables": "Admin",
    "api_variables.create_variable": "Admin",
    "api_variables.get_variable": "Admin",
    "api_variables.patch_variable": "Admin",
    "api_variables.delete_variable": "Admin",
    "api_connections.list_connections": "Admin",
    "api_connections.create_connection": "Admin",
    "api_connections.get_connection": "Admin",
    "api_connections.patch_connection": "Admin",
    "api_connections.delete_connection": "Admin",
}


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
            ok = response.status_code not in (401, 403) and not to_login and response.status_code < 500
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
