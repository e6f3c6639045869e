"""Secrets backends: the local-filesystem backend's files, a custom backend written against
Airflow's ``BaseSecretsBackend``, the lookup order, and the errors a misconfiguration gives."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from tradewind.errors import AirflowException, ConfigurationError
from tradewind.sdk.connection import Connection
from tradewind.sdk.variable import Variable
from tradewind.secrets.local_filesystem import LocalFilesystemBackend
from tradewind.secrets.masker import redact

pytest_plugins = ["metastore_fixtures"]

LOCAL = "airflow.secrets.local_filesystem.LocalFilesystemBackend"


def test_json_files(tmp_path):
    (tmp_path / "vars.json").write_text(json.dumps({"region": "eu", "cfg": {"a": [1]}}))
    (tmp_path / "conns.json").write_text(
        json.dumps(
            {"db": "postgres://u:p%40ss@h:5432/d", "api": {"conn_type": "http", "host": "api", "extra": {"k": "v"}}}
        )
    )
    backend = LocalFilesystemBackend(
        variables_file_path=str(tmp_path / "vars.json"), connections_file_path=str(tmp_path / "conns.json")
    )
    assert backend.get_variable("region") == "eu"
    assert json.loads(backend.get_variable("cfg")) == {"a": [1]}
    assert backend.get_variable("absent") is None
    db = backend.get_connection("db")
    assert (db.conn_id, db.password, db.port) == ("db", "p@ss", 5432)
    assert backend.get_connection("api").extra_dejson == {"k": "v"}
    assert backend.get_connection("absent") is None


def test_env_files(tmp_path):
    (tmp_path / "vars.env").write_text("# comment\nregion=eu\n\n")
    (tmp_path / "conns.env").write_text('db=postgres://u@h/d\napi={"conn_type": "http", "host": "api"}\n')
    backend = LocalFilesystemBackend(
        variables_file_path=str(tmp_path / "vars.env"), connections_file_path=str(tmp_path / "conns.env")
    )
    assert backend.get_variable("region") == "eu"
    assert backend.get_connection("db").host == "h"
    assert backend.get_connection("api").conn_type == "http"


@pytest.mark.parametrize(
    "name,text,message",
    [
        ("v.json", "[1]", "must hold a JSON object"),
        ("v.json", "{oops", "is not valid JSON"),
        ("v.env", "no equals sign", "line 1: expected NAME=value"),
        ("v.env", "a=1\na=2", "line 2: a is defined twice"),
    ],
)
def test_bad_files_are_clear_errors(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(AirflowException, match=message):
        LocalFilesystemBackend(variables_file_path=str(tmp_path / name)).get_variable("a")


def test_backend_comes_before_the_environment_and_the_metastore(
    sqlite_metastore, restart_with_env, tmp_path, monkeypatch
):
    (tmp_path / "vars.json").write_text(json.dumps({"region": "from-file", "vault_token": "file-token-123"}))
    (tmp_path / "conns.json").write_text(json.dumps({"db": "postgres://u:file-pw-123@file-host/d"}))
    Variable.set("region", "from-metastore")
    Variable.set("only_in_metastore", "yes")
    monkeypatch.setenv("TRADEWIND_VAR_REGION", "from-env")
    monkeypatch.setenv("TRADEWIND_CONN_DB", "postgres://u@env-host/d")
    monkeypatch.setenv("TRADEWIND_SECRETS_BACKEND", LOCAL)
    monkeypatch.setenv(
        "TRADEWIND_SECRETS_BACKEND_KWARGS",
        json.dumps(
            {"variables_file_path": str(tmp_path / "vars.json"), "connections_file_path": str(tmp_path / "conns.json")}
        ),
    )
    restart_with_env()
    assert Variable.get("region") == "from-file"
    assert Variable.get("only_in_metastore") == "yes"
    assert Connection.get_connection_from_secrets("db").host == "file-host"
    assert Variable.get("vault_token") == "file-token-123"
    assert redact("file-token-123 file-pw-123") == "*** ***"


def test_a_custom_backend_written_for_airflow(sqlite_metastore, restart_with_env, tmp_path, monkeypatch):
    (tmp_path / "my_vault.py").write_text(
        textwrap.dedent("""
        from airflow.secrets import BaseSecretsBackend

        class VaultBackend(BaseSecretsBackend):
            def __init__(self, prefix, **kwargs):
                super().__init__(**kwargs)
                self.prefix = prefix

            def get_conn_value(self, conn_id):
                if conn_id == "broken":
                    raise RuntimeError("vault is down")
                return "mysql://vault-user@" + self.build_path(self.prefix, conn_id, ".") if conn_id != "no" else None

            def get_variable(self, key):
                return None
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from tradewind.compat import airflow_shim

    airflow_shim.install()
    monkeypatch.setenv("TRADEWIND_SECRETS_BACKEND", "my_vault.VaultBackend")
    monkeypatch.setenv("TRADEWIND_SECRETS_BACKEND_KWARGS", '{"prefix": "team"}')
    monkeypatch.setenv("TRADEWIND_CONN_BROKEN", "http://env-host")
    restart_with_env()
    try:
        assert Connection.get_connection_from_secrets("db").host == "team.db"
        # A backend that fails is skipped with a warning; the environment still answers.
        assert Connection.get_connection_from_secrets("broken").host == "env-host"
        Variable.set("x", "from-metastore")
        assert Variable.get("x") == "from-metastore"
    finally:
        sys.modules.pop("my_vault", None)


@pytest.mark.parametrize(
    "path,kwargs,message",
    [
        ("no_such_module.Backend", "", "cannot be imported"),
        ("tradewind.secrets.backend.NoSuchClass", "", "names no class"),
        (LOCAL, "{bad", "TRADEWIND_SECRETS_BACKEND_KWARGS is not valid JSON"),
        (LOCAL, "[1]", "TRADEWIND_SECRETS_BACKEND_KWARGS must be a JSON object"),
        (
            "tradewind.secrets.masker.SecretsMasker",
            '{"vault_url": "x"}',
            "TRADEWIND_SECRETS_BACKEND tradewind.secrets.masker.SecretsMasker: "
            ".*unexpected keyword argument 'vault_url'",
        ),
    ],
)
def test_a_misconfigured_backend_is_a_configuration_error(
    sqlite_metastore, restart_with_env, monkeypatch, path, kwargs, message
):
    monkeypatch.setenv("TRADEWIND_SECRETS_BACKEND", path)
    monkeypatch.setenv("TRADEWIND_SECRETS_BACKEND_KWARGS", kwargs)
    restart_with_env()
    with pytest.raises(ConfigurationError, match=message):
        Variable.get("x", default_var="d")
