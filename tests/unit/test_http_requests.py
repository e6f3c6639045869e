"""The HTTP provider's decisions without a server: the URL a connection and an endpoint make, the
headers a connection's extra sets, and what HttpOperator returns or raises for a response."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests

from tradewind import DAG
from tradewind.errors import AirflowException
from tradewind.sdk.connection import Connection
from tradewind.sdk.hooks.http import base_url, extra_headers, url_from_endpoint
from tradewind.sdk.operators.http import HttpOperator, SimpleHttpOperator


@pytest.mark.parametrize(
    ("connection", "url"),
    [
        (Connection(conn_type="http", host="api.example.com"), "http://api.example.com"),
        (Connection(conn_type="http", host="127.0.0.1", port=8080), "http://127.0.0.1:8080"),
        (Connection(conn_type="http", host="api.example.com", schema="https"), "https://api.example.com"),
        (Connection(conn_type="https", host="api.example.com"), "https://api.example.com"),
        (Connection(conn_type="http", host="https://api.example.com/v2/"), "https://api.example.com/v2/"),
        (Connection(uri="http://robot:pw@127.0.0.1:9000"), "http://127.0.0.1:9000"),
    ],
)
def test_the_base_url_comes_from_the_connection_as_airflow_builds_it(connection, url):
    assert base_url(connection) == url


@pytest.mark.parametrize(
    ("base", "endpoint", "url"),
    [
        ("http://h", "api/v1", "http://h/api/v1"),
        ("http://h/", "api/v1", "http://h/api/v1"),
        ("http://h", "/api/v1", "http://h/api/v1"),
        ("http://h", None, "http://h"),
        ("http://h", "?q=1", "http://h/?q=1"),
    ],
)
def test_an_endpoint_joins_the_base_url_with_one_slash(base, endpoint, url):
    assert url_from_endpoint(base, endpoint) == url


def test_a_connection_extra_is_headers_except_the_session_options():
    extra = {"X-Team": "data", "Authorization": "Bearer t", "verify": False, "timeout": 3, "proxies": {}}
    assert extra_headers(extra) == {"X-Team": "data", "Authorization": "Bearer t"}


def _response(status: int, body: object) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.encoding = "utf-8"
    return response


def _operator(**kwargs) -> HttpOperator:
    with DAG("http_unit", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)):
        return HttpOperator(task_id="call", endpoint="orders", **kwargs)


def test_the_response_text_is_the_xcom_unless_a_filter_makes_something_else():
    response = _response(200, {"id": 7})
    assert _operator().process_response({}, response) == '{"id": 7}'
    assert _operator(response_filter=lambda r: r.json()["id"]).process_response({}, response) == 7


def test_response_check_and_filter_get_the_context_values_they_name():
    seen = {}

    def check(response, ds):
        seen["ds"] = ds
        return response.json()["id"] == 7

    operator = _operator(response_check=check, response_filter=lambda response, **context: context["ds"])
    assert operator.process_response({"ds": "2024-01-01"}, _response(200, {"id": 7})) == "2024-01-01"
    assert seen == {"ds": "2024-01-01"}


def test_a_response_check_returning_false_fails_the_task():
    with pytest.raises(AirflowException, match="Response check returned False."):
        _operator(response_check=lambda response: False).process_response({}, _response(200, {}))


def test_simple_http_operator_is_the_older_name_of_http_operator():
    assert issubclass(SimpleHttpOperator, HttpOperator)
    assert HttpOperator.template_fields == ("endpoint", "data", "headers")


def test_run_with_advanced_retry_retries_run_as_tenacity_says():
    import tenacity

    from tradewind.sdk.hooks.http import HttpHook

    class FlakyHook(HttpHook):
        calls = 0

        def run(self, endpoint=None, *args, **kwargs):
            FlakyHook.calls += 1
            if FlakyHook.calls < 3:
                raise requests.ConnectionError("refused")
            return f"answered {endpoint}"

    retry_args = {
        "stop": tenacity.stop_after_attempt(5),
        "wait": tenacity.wait_none(),
        "retry": tenacity.retry_if_exception_type(requests.ConnectionError),
    }
    assert FlakyHook(method="GET").run_with_advanced_retry(retry_args, endpoint="health") == "answered health"
    assert FlakyHook.calls == 3
