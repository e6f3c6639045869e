"""Hostile and clumsy input never makes the webserver fail with a 500: every route of the app's
``url_map`` (so routes added later too) is sent oversized, deeply nested, wrongly typed, unknown
and out-of-range values in its path, its query string, its JSON body and its form fields, by an
Admin who may reach all of them. Each answer must be below 500; the per-finding tests elsewhere
check the messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from web_helpers import csrf_token
from web_routes import Route, populate, routes

pytestmark = pytest.mark.integration

pytest_plugins = ["web_fixtures"]

HUGE = "9" * 25
#: Text values for paths, query strings and form fields.
HOSTILE_TEXT = [
    "x" * 10_000,
    HUGE,
    "-" + HUGE,
    "-1",
    "",
    "\x00",
    "line\r\nX-Injected: 1",
    "team/a",
    "..",
    "2024-01-01",
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+00:00",
    "not a date",
    "1e400",
    "[1]",
    "<script>alert(1)</script>",
]
_DEEP = 100_000
#: JSON values for the fields of a body.
HOSTILE_JSON: list[Any] = [
    "x" * 10_000,
    10**25,
    -(10**25),
    1e308,
    -1,
    0.5,
    [],
    {},
    None,
    True,
    "\x00",
    "team/a",
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+00:00",
    "2024-01-01",
    {"a": {"b": {"c": [1, 2, {"d": None}]}}},
    json.loads("[" * 500 + "]" * 500),
]
#: Names a route may read from its query string, form or JSON body.
FIELDS = [
    # runs, task instances and actions
    "dag_run_id", "run_id", "logical_date", "execution_date", "conf", "note", "state", "new_state", "dry_run",
    "task_id", "task_ids", "map_index", "map_indexes", "include_upstream", "include_downstream", "include_past",
    "include_future", "only_failed", "only_running", "reset_dag_runs", "upstream", "downstream", "past",
    "future", "start_date", "end_date", "is_paused", "paused",
    # pages and lists
    "page", "limit", "offset", "order_by", "search", "tags", "before", "after", "base_date", "num_runs",
    "after_seq", "before_seq", "before_offset", "try", "download", "next", "dag_id", "event", "owner",
    # pools, variables, connections, users
    "name", "pool", "slots", "description", "include_deferred", "key", "val", "value", "conn_id",
    "connection_id", "conn_type", "host", "port", "login", "password", "schema", "extra", "username",
    "role", "email", "update_mask",
]  # fmt: skip
#: Names the pages and the API read from a query string, and one nobody reads.
QUERY_FIELDS = [
    "page", "limit", "offset", "before", "run_id", "map_index", "try", "after_seq", "before_seq",
    "before_offset", "download", "state", "search", "tags", "paused", "dag_id", "next", "task_id",
    "only_failed", "order_by", "unknown_parameter",
]  # fmt: skip
#: Routes that would end the fuzzing session itself.
SKIPPED = {"auth.logout"}


@pytest.fixture
def admin(client_as, web_db: Session) -> Iterator[FlaskClient]:  # type: ignore[no-untyped-def]
    populate(web_db)
    yield client_as("Admin")


class Fuzzer:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token = csrf_token(client)
        self.failures: list[str] = []
        self.sent = 0

    def send(self, route: Route, what: str, path: str, **kwargs: Any) -> None:
        headers = {"X-CSRFToken": self.token}
        if "data" in kwargs and isinstance(kwargs["data"], dict):
            kwargs["data"] = {**kwargs["data"], "csrf_token": self.token}
        response = self.client.open(path, method=route.method, headers=headers, **kwargs)
        self.sent += 1
        if response.status_code >= 500:
            self.failures.append(f"{route.method} {route.rule} with {what}: {response.status}")

    def check(self) -> None:
        assert not self.failures, f"{len(self.failures)} of {self.sent} requests failed with a 500:\n" + "\n".join(
            self.failures
        )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def test_hostile_path_values_never_cause_a_500(web_app: Flask, admin: FlaskClient) -> None:
    fuzz = Fuzzer(admin)
    for route in routes(web_app):
        if route.endpoint in SKIPPED or route.endpoint == "static":
            continue
        for parameter in route.parameters:
            for value in HOSTILE_TEXT:
                if value == "":
                    continue
                fuzz.send(route, f"path {parameter}={_short(value)}", route.path(**{parameter: value}))
    fuzz.check()


def test_hostile_query_values_never_cause_a_500(web_app: Flask, admin: FlaskClient) -> None:
    fuzz = Fuzzer(admin)
    for route in routes(web_app):
        if route.endpoint in SKIPPED:
            continue
        for value in HOSTILE_TEXT:
            everything = urlencode({field: value for field in QUERY_FIELDS})
            fuzz.send(route, f"every query field={_short(value)}", f"{route.path()}?{everything}")
        if route.method != "GET":
            continue
        for field in QUERY_FIELDS:
            fuzz.send(route, f"query {field}={HUGE}", f"{route.path()}?{urlencode({field: HUGE})}")
    fuzz.check()


def _body_routes(app: Flask) -> list[Route]:
    return [r for r in routes(app) if r.method in ("POST", "PUT", "PATCH", "DELETE") and r.endpoint not in SKIPPED]


def test_hostile_json_bodies_never_cause_a_500(web_app: Flask, admin: FlaskClient) -> None:
    fuzz = Fuzzer(admin)
    deep_conf = '{"conf": ' + "[" * _DEEP + "]" * _DEEP + "}"
    deep_object = '{"a": ' * _DEEP + "1" + "}" * _DEEP
    for route in _body_routes(web_app):
        path = route.path()
        for raw, what in (
            (deep_conf, f"a conf nested {_DEEP} levels deep"),
            (deep_object, f"an object nested {_DEEP} levels deep"),
            ("[1, 2]", "a JSON array"),
            ('"text"', "a JSON string"),
            ("{not json", "broken JSON"),
            ("", "an empty body"),
        ):
            fuzz.send(route, what, path, data=raw, content_type="application/json")
        for value in HOSTILE_JSON:
            fuzz.send(route, f"every field={_short(value)}", path, json={field: value for field in FIELDS})
        for field in FIELDS:
            for value in (10**25, [1]):
                fuzz.send(route, f"{field}={_short(value)}", path, json={field: value})
    fuzz.check()


def test_hostile_form_fields_never_cause_a_500(web_app: Flask, admin: FlaskClient) -> None:
    fuzz = Fuzzer(admin)
    for route in _body_routes(web_app):
        if route.rule.startswith("/api/"):
            continue
        path = route.path()
        for value in HOSTILE_TEXT:
            fuzz.send(route, f"every form field={_short(value)}", path, data={field: value for field in FIELDS})
        for field in FIELDS:
            fuzz.send(route, f"form {field}={HUGE}", path, data={field: HUGE})
    fuzz.check()
