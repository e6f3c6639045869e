"""Connection: Airflow's URI format both ways (special characters, protocol hosts, extras), JSON form,
environment lookup and the errors a user sees."""

from __future__ import annotations

import json

import pytest

from tradewind.errors import AirflowException, AirflowNotFoundException
from tradewind.sdk.connection import Connection
from tradewind.secrets import environment

pytest_plugins = ["metastore_fixtures"]


def test_uri_parts_are_decoded_and_type_dashes_become_underscores():
    conn = Connection(conn_id="db", uri="google-cloud-platform://us%40er:p%40ss%2Fw%3Ard@My-Host:5432/sales%2Fdb")
    assert (conn.conn_type, conn.login, conn.password, conn.host, conn.port, conn.schema) == (
        "google_cloud_platform",
        "us@er",
        "p@ss/w:rd",
        "My-Host",
        5432,
        "sales/db",
    )


@pytest.mark.parametrize("password", ["p@ss:w/rd?#%&=+ ", "ünïcødé", "a'b\"c\\d", "%2F", "plain"])
def test_fields_round_trip_through_the_uri(password):
    conn = Connection(
        conn_id="x",
        conn_type="postgres",
        host="db.example.com",
        login="us er@corp",
        password=password,
        schema="my db",
        port=6543,
        extra={"sslmode": "require", "k": "a&b=c"},
    )
    again = Connection(conn_id="x", uri=conn.get_uri())
    assert again == conn


def test_nested_extra_travels_in_the_extra_parameter():
    conn = Connection(conn_id="x", conn_type="http", host="h", extra={"headers": {"a": 1}, "retries": 3})
    uri = conn.get_uri()
    assert "__extra__=" in uri
    assert Connection(conn_id="x", uri=uri).extra_dejson == {"headers": {"a": 1}, "retries": 3}


def test_query_parameters_become_the_extra():
    conn = Connection(conn_id="x", uri="mysql://u:p@h/db?charset=utf8&ssl=")
    assert conn.extra_dejson == {"charset": "utf8", "ssl": ""}


def test_host_with_a_protocol():
    conn = Connection(conn_id="x", uri="http://https://example.com:8443/path")
    assert (conn.conn_type, conn.host, conn.port, conn.schema) == ("http", "https://example.com", 8443, "path")
    assert Connection(conn_id="x", uri=conn.get_uri()) == conn


def test_port_without_host_and_empty_connection():
    assert Connection(conn_id="x", uri="mysql://@:3306").port == 3306
    empty = Connection(conn_id="x", uri="aws://")
    assert (empty.conn_type, empty.host, empty.login, empty.password, empty.extra) == ("aws", None, None, None, None)
    assert empty.get_uri() == "aws://"


@pytest.mark.parametrize("uri", ["nope", "postgres:/host", "a://b://c://d"])
def test_bad_uri_is_a_clear_error(uri):
    with pytest.raises(AirflowException, match="invalid connection URI"):
        Connection(conn_id="x", uri=uri)


def test_bad_uri_error_hides_the_password():
    with pytest.raises(AirflowException) as caught:
        Connection(conn_id="x", uri="postgres://user:hunter22@h:notaport/db")
    assert "hunter22" not in str(caught.value) and "port" in str(caught.value)


def test_uri_and_fields_together_are_refused():
    with pytest.raises(AirflowException, match="either a URI or separate fields"):
        Connection(conn_id="x", uri="postgres://h", host="other")


def test_json_form_with_extra_object():
    conn = Connection.from_json('{"conn_type": "postgres", "host": "h", "port": "5432", "extra": {"a": 1}}', "db")
    assert (conn.conn_id, conn.port, conn.extra_dejson) == ("db", 5432, {"a": 1})
    assert Connection.from_json(conn.as_json(), "db") == conn


@pytest.mark.parametrize(
    "text,message",
    [
        ("{x", "not valid JSON"),
        ("[1]", "must be an object"),
        ('{"conn_type": "x", "hots": "h"}', "unknown fields hots"),
    ],
)
def test_bad_json_form(text, message):
    with pytest.raises(AirflowException, match=message):
        Connection.from_json(text, "db")


def test_extra_dejson_is_empty_for_missing_or_non_object_extra():
    assert Connection(conn_id="x", conn_type="t").extra_dejson == {}
    assert Connection(conn_id="x", conn_type="t", extra="not json").extra_dejson == {}
    assert Connection(conn_id="x", conn_type="t", extra="[1]").extra_dejson == {}


def test_environment_connection_as_uri_or_json_tradewind_name_first():
    env = {
        "AIRFLOW_CONN_MY_DB": "postgres://a@airflow-host/db",
        "TRADEWIND_CONN_MY_DB": json.dumps({"conn_type": "postgres", "host": "tw-host"}),
    }
    assert environment.connection_from_env("my_db", env).host == "tw-host"
    del env["TRADEWIND_CONN_MY_DB"]
    assert environment.connection_from_env("my_db", env).host == "airflow-host"
    assert environment.connection_from_env("other", env) is None


def test_environment_variable_lookup():
    env = {"AIRFLOW_VAR_REGION": "eu", "TRADEWIND_VAR_BUCKET": "b1"}
    assert environment.variable_from_env("region", env) == "eu"
    assert environment.variable_from_env("bucket", env) == "b1"
    assert environment.variable_from_env("missing", env) is None


def test_connection_from_environment_through_base_hook(monkeypatch):
    from tradewind.sdk.hooks.base import BaseHook

    monkeypatch.setenv("TRADEWIND_CONN_WAREHOUSE", "postgres://etl:s3cret-pw@wh:5432/dw")
    conn = BaseHook.get_connection("warehouse")
    assert (conn.conn_id, conn.host, conn.password) == ("warehouse", "wh", "s3cret-pw")


def test_missing_connection_names_its_id(sqlite_metastore):
    from tradewind.sdk.hooks.base import BaseHook

    with pytest.raises(AirflowNotFoundException, match="`nowhere` isn't defined"):
        BaseHook.get_connection("nowhere")


def test_a_connection_built_in_task_code_hides_its_password_and_secret_extra():
    from tradewind.secrets.masker import redact

    Connection(conn_id="x", uri="http://u:built-pw-123@h/?api_key=built-key-456&region=eu-west-1")
    assert redact("built-pw-123 built-key-456 eu-west-1") == "*** *** eu-west-1"
