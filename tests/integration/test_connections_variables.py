"""Connections and variables on a real PostgreSQL metastore: encrypted at rest, re-encrypted by
``rotate-fernet-key``, managed with the ``connections``/``variables`` commands, and masked in the log
of a task run by a real ``tradewind worker``."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from cli_helpers import Cli, metastore_session
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from tradewind.metastore import connections, task_instances, variables
from tradewind.metastore.migrate import migrate

pytestmark = pytest.mark.integration
pytest_plugins = ["web_fixtures"]

OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()
PASSWORD = "Wh-p@ss:w/rd!9z"
API_KEY = "api-k3y-4f9e2d"


@pytest.fixture
def cli(fresh_pg_url: str, tmp_path: Path) -> Cli:
    (tmp_path / "dags").mkdir()
    base = Cli(home=tmp_path, dags_folder=tmp_path / "dags", database_url=fresh_pg_url)
    migrate(base.settings())
    return base.with_env(TRADEWIND_FERNET_KEY=OLD_KEY)


def _raw(cli: Cli, sql: str, **params: str) -> list[tuple]:
    with metastore_session(cli.settings()) as session:
        return [tuple(row) for row in session.execute(sa.text(sql), params)]


@pytest.fixture
def keyed_session(cli: Cli) -> Iterator[Session]:
    with metastore_session(cli.settings().with_overrides(fernet_key=OLD_KEY)) as session:
        yield session


# -- encryption at rest ------------------------------------------------------------------------------


def test_stored_password_extra_and_value_are_not_readable_in_the_raw_tables(cli: Cli, keyed_session: Session):
    connections.set_connection(
        keyed_session,
        "warehouse",
        {
            "conn_type": "postgres",
            "host": "wh",
            "login": "etl",
            "password": PASSWORD,
            "extra": json.dumps({"api_key": API_KEY}),
        },
    )
    variables.set_variable(keyed_session, "partner_api_key", API_KEY)
    keyed_session.commit()

    [(password, extra, is_encrypted, is_extra_encrypted)] = _raw(
        cli,
        "SELECT password, extra, is_encrypted, is_extra_encrypted FROM connection WHERE conn_id = :id",
        id="warehouse",
    )
    assert is_encrypted and is_extra_encrypted
    assert PASSWORD not in password and API_KEY not in extra
    [(val, var_encrypted)] = _raw(cli, "SELECT val, is_encrypted FROM variable WHERE key = :k", k="partner_api_key")
    assert var_encrypted and API_KEY not in val
    assert Fernet(OLD_KEY.encode()).decrypt(val.encode()).decode() == API_KEY
    assert connections.get_connection(keyed_session, "warehouse").password == PASSWORD


def test_without_a_key_values_are_stored_readable_with_a_warning(cli: Cli):
    plain = cli.with_env(TRADEWIND_FERNET_KEY="")
    result = plain("variables", "set", "region", "eu-west-1")
    assert result.returncode == 0, result
    assert "TRADEWIND_FERNET_KEY is not set" in result.stderr
    assert _raw(cli, "SELECT val, is_encrypted FROM variable") == [("eu-west-1", False)]
    # A key set later leaves the old row readable, and rotation encrypts it.
    assert cli("variables", "get", "region").stdout == "eu-west-1\n"
    assert cli("rotate-fernet-key").returncode == 0
    [(val, is_encrypted)] = _raw(cli, "SELECT val, is_encrypted FROM variable")
    assert is_encrypted and "eu-west-1" not in val


def test_rotation_re_encrypts_every_row_with_the_new_key(cli: Cli):
    assert cli("variables", "set", "partner_api_key", API_KEY).returncode == 0
    assert (
        cli(
            "connections", "add", "warehouse", "--conn-uri", f"postgres://etl:{quote(PASSWORD, safe='')}@wh/dw"
        ).returncode
        == 0
    )
    before = _raw(cli, "SELECT val FROM variable") + _raw(cli, "SELECT password FROM connection")

    rotating = cli.with_env(TRADEWIND_FERNET_KEY=f"{NEW_KEY},{OLD_KEY}")
    result = rotating("rotate-fernet-key")
    assert result.returncode == 0, result
    assert result.stdout == (
        "Re-encrypted 1 variable(s) and 1 connection(s) with the first key of TRADEWIND_FERNET_KEY.\n"
    )
    after = _raw(cli, "SELECT val FROM variable") + _raw(cli, "SELECT password FROM connection")
    new = Fernet(NEW_KEY.encode())
    assert [new.decrypt(v.encode()).decode() for (v,) in after] == [API_KEY, PASSWORD]
    assert set(after).isdisjoint(before)

    new_only = cli.with_env(TRADEWIND_FERNET_KEY=NEW_KEY)
    assert new_only("variables", "export", "-").json() == {"partner_api_key": API_KEY}
    old_only = cli("variables", "export", "-")
    assert old_only.returncode == 1
    assert old_only.error_line.startswith("Error: cannot decrypt the value of variable 'partner_api_key': none of")


def test_rotation_without_a_key_is_one_line(cli: Cli):
    result = cli.with_env(TRADEWIND_FERNET_KEY="")("rotate-fernet-key")
    assert result.returncode == 1
    assert result.error_line == "Error: TRADEWIND_FERNET_KEY is not set: there is no key to encrypt with"


def test_a_malformed_key_is_one_line(cli: Cli):
    result = cli.with_env(TRADEWIND_FERNET_KEY="not-a-fernet-key")("variables", "set", "k", "v")
    assert result.returncode == 1
    assert result.error_line.startswith("Error: TRADEWIND_FERNET_KEY: the key is not a Fernet key")


# -- the commands --------------------------------------------------------------------------------------


def test_connections_commands_end_to_end(cli: Cli, tmp_path: Path):
    added = cli(
        "connections",
        "add",
        "warehouse",
        "--conn-type",
        "postgres",
        "--conn-host",
        "db.internal",
        "--conn-port",
        "5432",
        "--conn-login",
        "etl",
        "--conn-password",
        PASSWORD,
        "--conn-schema",
        "dw",
        "--conn-extra",
        json.dumps({"sslmode": "require", "api_key": API_KEY}),
    )
    assert added.returncode == 0, added
    assert added.stdout.startswith("Successfully added `conn_id`=warehouse : postgres://etl:***@db.internal:5432/dw")
    assert cli("connections", "add", "api", "--conn-uri", "http://https%3A%2F%2Fapi.example.com").returncode == 0
    assert (
        cli("connections", "add", "js", "--conn-json", '{"conn_type": "http", "host": "h", "port": 81}').returncode == 0
    )
    assert (
        cli(
            "connections",
            "add",
            "uri_extra",
            "--conn-uri",
            "mysql://u@h/db?charset=latin1",
            "--conn-extra",
            '{"charset": "utf8mb4"}',
        ).returncode
        == 0
    )
    assert cli("connections", "get", "uri_extra", "-o", "json").json()[0]["extra"] == '{"charset": "utf8mb4"}'
    assert cli("connections", "delete", "uri_extra").returncode == 0

    shown = cli("connections", "get", "warehouse", "-o", "json").json()[0]
    assert (shown["host"], shown["port"], shown["login"], shown["password"]) == ("db.internal", 5432, "etl", "***")
    assert json.loads(shown["extra"]) == {"sslmode": "require", "api_key": "***"}
    for command in (
        ("connections", "get", "warehouse"),
        ("connections", "list"),
        ("connections", "list", "-o", "json"),
    ):
        result = cli(*command)
        assert PASSWORD not in result.stdout and API_KEY not in result.stdout, result
    assert [row["conn_id"] for row in cli("connections", "list").table()] == ["api", "js", "warehouse"]
    assert cli("connections", "get", "api", "-o", "json").json()[0]["host"] == "https://api.example.com"

    exported = cli("connections", "export", "-")
    assert exported.json()["warehouse"]["password"] == PASSWORD
    export_file = tmp_path / "connections.json"
    assert cli("connections", "export", str(export_file)).returncode == 0
    env_file = tmp_path / "connections.env"
    assert cli("connections", "export", str(env_file)).returncode == 0
    assert env_file.read_text().splitlines()[0] == "api=http://https://api.example.com"

    for conn_id in ("api", "js", "warehouse"):
        assert cli("connections", "delete", conn_id).returncode == 0
    assert cli("connections", "list", "-o", "json").json() == []
    imported = cli("connections", "import", str(export_file))
    assert imported.stdout == f"Imported 3 connection(s) from {export_file}.\n"
    again = cli("connections", "import", str(export_file))
    assert "Could not import connection warehouse: connection already exists" in again.stdout
    assert cli("connections", "import", str(env_file), "--overwrite").returncode == 0
    with metastore_session(cli.settings().with_overrides(fernet_key=OLD_KEY)) as session:
        stored = connections.get_connection(session, "warehouse")
    assert (stored.password, json.loads(stored.extra)["api_key"], stored.port) == (PASSWORD, API_KEY, 5432)


@pytest.mark.parametrize(
    "args,message",
    [
        (("connections", "add", "x"), "Error: give the connection with --conn-uri, --conn-json or --conn-type"),
        (("connections", "add", "x", "--conn-uri", "nope"), "Error: invalid connection URI 'nope'"),
        (
            ("connections", "add", "x", "--conn-uri", "http://h", "--conn-host", "h"),
            "Error: --conn-uri describes the whole connection; --conn-host cannot be added to it",
        ),
        (
            ("connections", "add", "x", "--conn-json", '{"conn_type": "http"}', "--conn-extra", "{}"),
            "Error: --conn-json describes the whole connection; --conn-extra cannot be added to it",
        ),
        (
            ("connections", "add", "x", "--conn-uri", "http://h", "--conn-json", "{}"),
            "Error: --conn-uri and --conn-json cannot be used together",
        ),
        (
            ("connections", "add", "x", "--conn-type", "http", "--conn-port", "eighty"),
            "Error: a connection's port must be a whole number, not 'eighty'",
        ),
        (
            ("connections", "add", "x", "--conn-type", "http", "--conn-extra", "{bad"),
            "Error: --conn-extra is not valid JSON",
        ),
        (("connections", "get", "absent"), "Error: no connection with id 'absent'"),
        (("connections", "delete", "absent"), "Error: no connection with id 'absent'"),
        (("connections", "import", "/no/such/file.json"), "Error: no such file: /no/such/file.json"),
        (("variables", "get", "absent"), "Error: Variable absent does not exist"),
        (("variables", "delete", "absent"), "Error: no variable with key 'absent'"),
        (("variables", "set", "k", "{bad", "--json"), "Error: the value of k is not valid JSON"),
        (("variables", "import", "/no/such/file.json"), "Error: no such file: /no/such/file.json"),
    ],
)
def test_bad_input_is_one_error_line(cli: Cli, args: tuple[str, ...], message: str):
    result = cli(*args)
    assert result.returncode == 1
    assert result.error_line.startswith(message), result


def test_adding_an_existing_connection_is_refused_and_keeps_it(cli: Cli):
    assert cli("connections", "add", "db", "--conn-uri", "postgres://a:first-pw@h1/db").returncode == 0
    second = cli("connections", "add", "db", "--conn-uri", "postgres://b:other-pw@h2/db")
    assert second.error_line == "Error: a connection with conn_id 'db' exists already; delete it first"
    assert cli("connections", "get", "db", "-o", "json").json()[0]["host"] == "h1"


def test_variables_commands_end_to_end(cli: Cli, tmp_path: Path):
    assert cli("variables", "set", "region", "eu-west-1", "--description", "where we run").stdout == (
        "Variable region created\n"
    )
    assert cli("variables", "set", "db_password", PASSWORD).returncode == 0
    assert cli("variables", "set", "tables", '["a", "b"]', "--json").returncode == 0

    assert cli("variables", "get", "region").stdout == "eu-west-1\n"
    assert cli("variables", "get", "db_password").stdout == "***\n"
    assert json.loads(cli("variables", "get", "tables", "--json").stdout) == ["a", "b"]
    assert cli("variables", "get", "absent", "--default", "fallback").stdout == "fallback\n"
    listed = cli("variables", "list")
    assert PASSWORD not in listed.stdout
    assert [(r["key"], r["value"], r["description"]) for r in listed.table()] == [
        ("db_password", "***", ""),
        ("region", "eu-west-1", "where we run"),
        ("tables", '["a", "b"]', ""),
    ]

    export_file = tmp_path / "variables.json"
    exported = cli("variables", "export", str(export_file))
    assert exported.stdout == f"3 variables successfully exported to {export_file}\n"
    assert json.loads(export_file.read_text()) == {"db_password": PASSWORD, "region": "eu-west-1", "tables": ["a", "b"]}
    for key in ("db_password", "region", "tables"):
        assert cli("variables", "delete", key).stdout == f"Variable {key} deleted\n"
    assert cli("variables", "list", "-o", "json").json() == []

    assert cli("variables", "import", str(export_file)).stdout == "3 of 3 variables successfully updated.\n"
    assert cli("variables", "get", "tables").stdout.replace(" ", "") == '["a","b"]\n'
    export_file.write_text(json.dumps({"region": "us-east-1", "new_key": {"n": 1}}))
    refused = cli("variables", "import", str(export_file), "--action-on-existing-key", "fail")
    assert refused.error_line == "Error: variables exist already: region (nothing was imported)"
    assert cli("variables", "get", "new_key").returncode == 1
    skipped = cli("variables", "import", str(export_file), "-a", "skip")
    assert skipped.stdout == "1 of 2 variables successfully updated.\nSkipped existing variables: region\n"
    assert cli("variables", "get", "region").stdout == "eu-west-1\n"


def test_variables_import_from_stdin(cli: Cli):
    import subprocess

    from cli_helpers import TRADEWIND

    done = subprocess.run(
        [str(TRADEWIND), "variables", "import", "-"],
        input='{"from_stdin": "yes"}',
        env=cli.env,
        cwd=cli.home,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert cli("variables", "get", "from_stdin").stdout == "yes\n"


# -- a task run by a real worker ------------------------------------------------------------------------

_MASKING_DAG = """
import logging
import pendulum
from airflow import DAG
from airflow.hooks.base import BaseHook
from airflow.models import Variable
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator
from airflow.utils.log.secrets_masker import mask_secret


def use_secrets():
    conn = BaseHook.get_connection("warehouse")
    print("python print:", conn.password)
    logging.getLogger("user.code").info("logged uri %s", conn.get_uri())
    print("api key", Variable.get("partner_api_key"), "region", Variable.get("region", default_var="none"))
    mask_secret("my-custom-value-42")
    print("custom value", "my-custom-value-42")


with DAG({dag_id!r}, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None) as dag:
    PythonOperator(task_id="work", python_callable=use_secrets)
    BashOperator(task_id="bash",
                 bash_command="echo bash says {{{{ conn.warehouse.password }}}} at {{{{ conn.warehouse.host }}}}")
"""


def test_a_task_run_by_a_worker_logs_the_password_as_stars(worker_stack, keyed_worker):
    from test_worker import log_text, wait_for_state

    stack = worker_stack
    with metastore_session(stack.settings) as session:
        connections.set_connection(
            session, "warehouse", {"conn_type": "postgres", "host": "wh.internal", "login": "etl", "password": PASSWORD}
        )
        variables.set_variable(session, "partner_api_key", API_KEY)
    keys = _queue_both(stack, f"secrets_{uuid.uuid4().hex[:8]}")
    texts = {}
    for key in keys:
        row = wait_for_state(stack, key, {"success", "failed"}, timeout=60)
        texts[key.task_id] = log_text(stack, key)
        assert row.state == "success", texts[key.task_id]
    for text in texts.values():
        assert PASSWORD not in text and API_KEY not in text and "p%40ss" not in text, text
    assert "python print: ***" in texts["work"]
    assert "logged uri postgres://etl:***@wh.internal" in texts["work"]
    assert "api key *** region none" in texts["work"]
    assert "bash says *** at wh.internal" in texts["bash"]
    assert "custom value ***" in texts["work"]
    with metastore_session(stack.settings) as session:
        rendered = task_instances.get_ti(session, keys[1].dag_id, keys[1].run_id, "bash", -1).rendered_fields
    assert rendered["bash_command"] == "echo bash says *** at wh.internal", rendered


def _queue_both(stack, dag_id: str) -> list:
    """Record the DAG and a run, queue both of its tasks and send their messages, as the scheduler would."""
    from datetime import UTC, datetime

    from test_worker import MAIN_QUEUE, T0, send

    from tradewind.metastore import dags, runs, task_instances
    from tradewind.metastore.engine import session_scope
    from tradewind.metastore.task_instances import TIKey
    from tradewind.queue.messages import TaskMessage
    from tradewind.sdk.dag_file import load_dag_file
    from tradewind.sdk.serialization import dag_hash, serialize_dag

    path = stack.dags_folder / f"{dag_id}.py"
    path.write_text(_MASKING_DAG.format(dag_id=dag_id))
    result = load_dag_file(path)
    assert result.error is None, result.error
    serialized = serialize_dag(result.dags[0])
    run_id = f"manual__{T0.isoformat()}"
    keys = [TIKey(dag_id, run_id, task_id) for task_id in ("work", "bash")]
    with session_scope(stack.factory) as session:
        dags.upsert_dag(
            session, dag_id, str(path), serialized, dag_hash(serialized), None, None, [], None, None, None, False
        )
        runs.create_run(
            session,
            dag_id=dag_id,
            run_id=run_id,
            run_type="manual",
            logical_date=T0,
            state="running",
            task_rows=[{"task_id": key.task_id, "operator": "x", "max_tries": 0} for key in keys],
        )
        for key in keys:
            assert task_instances.transition(session, key, expected_state="none", target_state="scheduled")
            assert task_instances.transition(
                session,
                key,
                expected_state="scheduled",
                target_state="queued",
                try_number=1,
                queued_dttm=datetime.now(UTC),
            )
    for key in keys:
        send(stack, TaskMessage(dag_id, run_id, key.task_id, -1, 1).encode(), MAIN_QUEUE)
    return keys


@pytest.fixture(scope="module")
def worker_stack(module_pg_url: str, _redis_db: int, tmp_path_factory: pytest.TempPathFactory):
    import redis
    from test_worker import QUEUE_PREFIX, Stack

    from tradewind.metastore.engine import create_engine_from_settings, make_session_factory
    from tradewind.queue.app import make_celery_app
    from tradewind.settings import Settings

    module_redis_url = f"redis://127.0.0.1:6379/{_redis_db}"
    home = tmp_path_factory.mktemp("secrets-worker-home")
    (home / "dags").mkdir()
    (home / "process-logs").mkdir()
    settings = Settings(
        home=home,
        database_url=module_pg_url,
        broker_url=module_redis_url,
        dags_folder=home / "dags",
        fernet_key=OLD_KEY,
    )
    migrate(settings)
    engine = create_engine_from_settings(settings)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEWIND_", "AIRFLOW_"))}
    env = {
        **inherited,
        "HOME": str(home),
        "TRADEWIND_HOME": str(home),
        "TRADEWIND_DATABASE_URL": module_pg_url,
        "TRADEWIND_BROKER_URL": module_redis_url,
        "TRADEWIND_DAGS_FOLDER": str(home / "dags"),
        "TRADEWIND_FERNET_KEY": OLD_KEY,
        "TRADEWIND_WORKER_HEARTBEAT_INTERVAL": "1",
    }
    app = make_celery_app(settings)
    yield Stack(settings, make_session_factory(engine), app, env, home / "process-logs")
    app.close()
    engine.dispose()
    client = redis.Redis.from_url(module_redis_url)
    for key in client.scan_iter(match=f"*{QUEUE_PREFIX}*"):
        client.delete(key)
    client.close()


@pytest.fixture(scope="module")
def keyed_worker(worker_stack):
    from test_worker import start_worker, stop_worker

    process = start_worker(worker_stack, "worker-secrets")
    yield process
    stop_worker(process)


def test_tasks_test_prints_the_password_as_stars(cli: Cli):
    (cli.dags_folder / "uses_secret.py").write_text("""
import pendulum
from airflow import DAG
from airflow.hooks.base import BaseHook
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator

def show():
    print("password:", BaseHook.get_connection("warehouse").password)

with DAG("uses_secret", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None):
    PythonOperator(task_id="show", python_callable=show)
    BashOperator(task_id="echo", bash_command="echo bash: {{ conn.warehouse.password }}")
""")
    with_conn = cli.with_env(TRADEWIND_CONN_WAREHOUSE=f"postgres://etl:{quote(PASSWORD, safe='')}@wh/dw")
    for task_id, line in (("show", "password: ***"), ("echo", "bash: ***")):
        result = with_conn("tasks", "test", "uses_secret", task_id, "2024-01-01")
        assert result.returncode == 0, result
        assert line in result.stdout.splitlines() and PASSWORD not in result.stdout + result.stderr, result


def test_get_shows_what_tasks_see_the_environment_first(cli: Cli):
    assert cli("variables", "set", "region", "from-metastore").returncode == 0
    assert cli("connections", "add", "db", "--conn-uri", "postgres://a@metastore-host/db").returncode == 0
    env = cli.with_env(AIRFLOW_VAR_REGION="from-env", TRADEWIND_CONN_DB="postgres://b:env-secret-pw@env-host/db")
    assert env("variables", "get", "region").stdout == "from-env\n"
    shown = env("connections", "get", "db", "-o", "json")
    assert (shown.json()[0]["host"], shown.json()[0]["password"]) == ("env-host", "***")
    assert "env-secret-pw" not in shown.stdout
    assert cli("connections", "get", "db", "-o", "json").json()[0]["host"] == "metastore-host"


def test_get_asks_the_secrets_backend_first(cli: Cli, tmp_path: Path):
    (tmp_path / "vars.json").write_text(json.dumps({"region": "from-file"}))
    (tmp_path / "conns.env").write_text("db=postgres://u:file-pw-1234@file-host/db\n")
    backend = cli.with_env(
        TRADEWIND_SECRETS_BACKEND="airflow.secrets.local_filesystem.LocalFilesystemBackend",
        TRADEWIND_SECRETS_BACKEND_KWARGS=json.dumps(
            {"variables_file_path": str(tmp_path / "vars.json"), "connections_file_path": str(tmp_path / "conns.env")}
        ),
        TRADEWIND_VAR_REGION="from-env",
    )
    assert backend("variables", "get", "region").stdout == "from-file\n"
    shown = backend("connections", "get", "db", "-o", "json")
    assert shown.json()[0]["host"] == "file-host" and "file-pw-1234" not in shown.stdout
    broken = cli.with_env(TRADEWIND_SECRETS_BACKEND="no_such.Backend")("variables", "get", "region")
    assert broken.error_line.startswith("Error: TRADEWIND_SECRETS_BACKEND='no_such.Backend' cannot be imported")


# -- the web UI and API with a key that cannot decrypt -------------------------------------------------


def test_web_page_and_api_name_the_variable_a_wrong_key_cannot_decrypt(web_app, web_settings, client_as):
    with metastore_session(web_settings.with_overrides(fernet_key=OLD_KEY)) as session:
        variables.set_variable(session, "partner_api_key", API_KEY)
    admin = client_as("Admin")
    page = admin.get("/variables")
    assert page.status_code == 500
    assert (
        "the value of variable &#39;partner_api_key&#39; is encrypted but TRADEWIND_FERNET_KEY is not set" in page.text
    )
    api = admin.get("/api/v1/variables")
    assert api.status_code == 500
    assert api.json["detail"] == (
        "the value of variable 'partner_api_key' is encrypted but TRADEWIND_FERNET_KEY is not set"
    )
    assert API_KEY not in page.text + api.text
