"""Helpers for the web tests: the accounts of each role, logging in through the form, and DAGs,
runs and import errors written the way the dag processor and the scheduler write them.
The fixtures using them are in ``web_fixtures.py``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tradewind import DAG, BashOperator
from tradewind.master.webserver.db import metastore
from tradewind.metastore import dags, import_errors, pools, runs
from tradewind.metastore.engine import create_engine_from_settings
from tradewind.metastore.models import Base, TaskInstance
from tradewind.sdk.serialization import dag_hash, serialize_dag
from tradewind.settings import Settings

#: Cheap hashing: the tests log in hundreds of times; scrypt would cost a tenth of a second each.
FAST_HASH = "pbkdf2:sha256:1000"
SECRET_KEY = "web-tests-secret-key-0123456789abcdef"
T0 = datetime(2024, 3, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    role: str


ACCOUNTS = {
    "Viewer": Account("viewer", "viewer-password", "Viewer"),
    "Op": Account("op", "op-password", "Op"),
    "Admin": Account("admin", "admin-password", "Admin"),
}
ROLES = ("Viewer", "Op", "Admin")


def empty_metastore(settings: Settings) -> None:
    engine = create_engine_from_settings(settings)
    try:
        with engine.begin() as connection:
            quote = connection.dialect.identifier_preparer.quote
            tables = ", ".join(quote(table.name) for table in Base.metadata.sorted_tables)
            connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            session = Session(bind=connection)
            pools.ensure_default_pool(session, settings.default_pool_slots)
            session.flush()
    finally:
        engine.dispose()


def graph_data(page: str) -> dict[str, Any]:
    """The JSON document the graph page hands its script (tasks, group tree, edges, states)."""
    found = re.search(r'<script type="application/json" id="graph-data">(.*?)</script>', page, re.S)
    assert found, page[:2000]
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def csrf_token(client: FlaskClient) -> str:
    """The client's session CSRF token, as the pages embed it (fetching the login page makes one)."""
    with client.session_transaction() as session:
        token = session.get("csrf_token")
    if token is None:
        page = client.get("/login").text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found, page
        token = found.group(1)
    return str(token)


def login(client: FlaskClient, username: str, password: str, **extra: str) -> Any:
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf_token(client), **extra}
    )


def basic_auth(role: str) -> tuple[str, str]:
    return ACCOUNTS[role].username, ACCOUNTS[role].password


def make_dag(
    dag_id: str,
    *,
    tags: list[str] | None = None,
    schedule: Any = "@daily",
    owner: str = "data-team",
    tasks: int = 2,
    description: str | None = None,
) -> DAG:
    with DAG(
        dag_id,
        schedule=schedule,
        start_date=T0,
        tags=tags or [],
        description=description,
        default_args={"owner": owner},
    ) as dag:
        previous = None
        for index in range(tasks):
            task = BashOperator(task_id=f"task_{index}", bash_command="echo hi")
            if previous is not None:
                previous >> task
            previous = task
    return dag


def store_dag(session: Session, dag: DAG, *, paused: bool = False, fileloc: str | None = None) -> None:
    """Record ``dag`` as the dag processor does after parsing its file."""
    serialized = serialize_dag(dag)
    dags.upsert_dag(
        session,
        dag_id=dag.dag_id,
        fileloc=fileloc or f"/dags/{dag.dag_id}.py",
        serialized=serialized,
        dag_hash=dag_hash(serialized),
        schedule_description=dag.timetable.summary,
        description=dag.description,
        tags=dag.tags,
        owners=dag.owner,
        max_active_runs=dag.max_active_runs,
        max_active_tasks=dag.max_active_tasks,
        is_paused_upon_creation=paused,
        dag_display_name=dag.dag_display_name,
    )


def store_raw_dag(session: Session, dag_id: str, *, tags: list[str], owners: str, description: str) -> None:
    """A DAG row with any text in it (the SDK would refuse some of these ids)."""
    dags.upsert_dag(
        session,
        dag_id,
        f"/dags/{dag_id}.py",
        {"dag_id": dag_id, "tasks": []},
        "hash",
        "@daily",
        description,
        tags,
        owners,
        16,
        16,
        False,
    )


def store_run(
    session: Session, dag_id: str, run_id: str, state: str, *, logical_date: datetime, task_states: Mapping[str, str]
) -> None:
    """A run whose task instances are in ``task_states`` (task id -> state)."""
    runs.create_run(
        session,
        dag_id=dag_id,
        run_id=run_id,
        run_type="scheduled",
        logical_date=logical_date,
        state=state,
        task_rows=[{"task_id": task_id} for task_id in task_states],
    )
    for task_id, ti_state in task_states.items():
        session.execute(
            sa.update(TaskInstance)
            .where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
            )
            .values(state=ti_state)
        )


def store_import_error(session: Session, filename: str, stacktrace: str) -> None:
    import_errors.record_import_error(session, filename, stacktrace)


@contextmanager
def counting_queries(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs inside the block (to check a page's query count)."""
    statements: list[str] = []
    engine = metastore(app).engine

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
