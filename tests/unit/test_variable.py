"""Variable's Airflow API over an SQLite metastore, the environment lookup order, the template
accessors ``var``/``conn``, and the masking of what they return."""

from __future__ import annotations

import pytest

from tradewind.errors import AirflowNotFoundException
from tradewind.sdk.connection import Connection
from tradewind.sdk.template_accessors import ConnectionAccessor, VariableAccessors
from tradewind.sdk.templating import make_environment
from tradewind.sdk.variable import Variable
from tradewind.secrets.masker import redact

pytest_plugins = ["metastore_fixtures"]


def test_set_get_delete(sqlite_metastore):
    Variable.set("bucket", "s3://data", description="where files land")
    assert Variable.get("bucket") == "s3://data"
    assert Variable.delete("bucket") == 1
    assert Variable.delete("bucket") == 0
    with pytest.raises(KeyError, match="Variable bucket does not exist"):
        Variable.get("bucket")


def test_default_is_returned_for_a_missing_variable_even_none(sqlite_metastore):
    assert Variable.get("missing", default_var="fallback") == "fallback"
    assert Variable.get("missing", default_var=None) is None


def test_json_values(sqlite_metastore):
    Variable.set("cfg", {"tables": ["a", "b"], "limit": 3}, serialize_json=True)
    assert Variable.get("cfg", deserialize_json=True) == {"tables": ["a", "b"], "limit": 3}
    Variable.set("not_json", "{oops")
    with pytest.raises(ValueError, match="Variable not_json is not valid JSON"):
        Variable.get("not_json", deserialize_json=True)


def test_setdefault_and_update(sqlite_metastore):
    assert Variable.setdefault("region", "eu") == "eu"
    assert Variable.setdefault("region", "us") == "eu"
    Variable.update("region", "us")
    assert Variable.get("region") == "us"
    with pytest.raises(KeyError):
        Variable.update("never_set", "x")


def test_environment_wins_over_the_metastore(sqlite_metastore, monkeypatch):
    Variable.set("region", "from-metastore")
    monkeypatch.setenv("AIRFLOW_VAR_REGION", "from-airflow-env")
    assert Variable.get("region") == "from-airflow-env"
    monkeypatch.setenv("TRADEWIND_VAR_REGION", "from-tradewind-env")
    assert Variable.get("region") == "from-tradewind-env"


def test_secret_looking_variable_is_registered_for_masking(sqlite_metastore):
    Variable.set("partner_api_key", "k3y-for-masking")
    Variable.set("greeting", "hello-world")
    assert Variable.get("partner_api_key") == "k3y-for-masking"
    assert Variable.get("greeting") == "hello-world"
    assert redact("k3y-for-masking hello-world") == "*** hello-world"


def test_connection_from_the_metastore_masks_its_password(sqlite_metastore):
    from tradewind.metastore import connections
    from tradewind.metastore.engine import session_scope

    with session_scope(sqlite_metastore) as session:
        connections.set_connection(
            session,
            "warehouse",
            {"conn_type": "postgres", "host": "wh", "login": "etl", "password": "pw-from-metastore", "port": 5432},
        )
    conn = Connection.get_connection_from_secrets("warehouse")
    assert (conn.host, conn.login, conn.password, conn.port) == ("wh", "etl", "pw-from-metastore", 5432)
    assert redact("password=pw-from-metastore") == "password=***"


def test_templates_see_var_and_conn(sqlite_metastore, monkeypatch):
    Variable.set("env_name", "prod")
    Variable.set("cfg", '{"path": "/data"}')
    monkeypatch.setenv("TRADEWIND_CONN_API", "http://user:pw-template@api.example.com:8443")
    context = {"var": VariableAccessors(), "conn": ConnectionAccessor()}
    template = make_environment(None).from_string(
        "{{ var.value.env_name }} {{ var.json.cfg.path }} {{ var.value.get('nope', 'dflt') }} "
        "{{ var.value['env_name'] }} {{ conn.api.host }}:{{ conn.api.port }} {{ conn.get('nope', 'none') }}"
    )
    assert template.render(context) == "prod /data dflt prod api.example.com:8443 none"


def test_missing_variable_or_connection_in_a_template_fails_naming_it(sqlite_metastore):
    env = make_environment(None)
    context = {"var": VariableAccessors(), "conn": ConnectionAccessor()}
    with pytest.raises(KeyError, match="Variable absent does not exist"):
        env.from_string("{{ var.value.absent }}").render(context)
    with pytest.raises(AirflowNotFoundException, match="`absent_conn` isn't defined"):
        env.from_string("{{ conn.absent_conn.host }}").render(context)


def test_the_task_context_offers_var_and_conn_and_builds_without_a_metastore():
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from tradewind.sdk.context import RunInfo, build_context

    when = datetime(2024, 3, 5, tzinfo=UTC)
    run = RunInfo(
        dag_id="etl",
        run_id="r",
        run_type="manual",
        logical_date=when,
        data_interval_start=when,
        data_interval_end=when,
        conf={},
    )
    context = build_context(
        dag=SimpleNamespace(dag_id="etl"),
        task=SimpleNamespace(task_id="t"),
        run=run,
        ti=SimpleNamespace(try_number=1, map_index=-1),
        params={},
    )
    assert isinstance(context["var"], VariableAccessors) and isinstance(context["conn"], ConnectionAccessor)
