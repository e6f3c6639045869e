"""What the route-by-route tests share: a metastore holding one of everything a route can name
(a DAG, a manual run whose id has ``+`` and ``:``, its task instances with a try and a log, a
variable, a connection, a pool, a user), and real values for every path parameter of the app's
``url_map``, so a route added later is reached with values that exist."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session
from web_helpers import FAST_HASH, T0, make_dag, store_dag, store_run

from tradewind.metastore import connections, logs, pools, users, variables
from tradewind.metastore.models import TaskInstance
from tradewind.metastore.task_instances import TIKey

DAG_ID = "etl_daily"
#: A manual run's id as tradewind makes it: it holds "+" and ":".
RUN_ID = "manual__2024-03-01T00:00:00+00:00"
TASK_ID = "task_0"
TARGET_USER = "someone"

#: Real values for the path parameters of every route, by parameter name.
PATH_VALUES = {
    "dag_id": DAG_ID,
    "run_id": RUN_ID,
    "dag_run_id": RUN_ID,
    "task_id": TASK_ID,
    "map_index": "-1",
    "try_number": "1",
    "key": "region",
    "variable_key": "region",
    "conn_id": "warehouse",
    "connection_id": "warehouse",
    "name": "etl_pool",
    "pool_name": "etl_pool",
    "username": TARGET_USER,
    "filename": "tradewind.css",
    "event_log_id": "1",
    "import_error_id": "1",
    "xcom_key": "return_value",
}
_PARAMETER = re.compile(r"<(?:(?P<converter>[^:>]+):)?(?P<name>[^>]+)>")
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Route:
    endpoint: str
    method: str
    rule: str

    def path(self, **overrides: str) -> str:
        """The rule with real values (or ``overrides``) for its parameters, each URL-quoted."""
        from urllib.parse import quote

        def value(match: re.Match[str]) -> str:  # noqa: E306
            name = match.group("name")
            raw = overrides.get(name, PATH_VALUES.get(name, "x"))
            return quote(raw, safe="/" if match.group("converter") == "path" else "")

        return _PARAMETER.sub(value, self.rule)

    @property
    def parameters(self) -> list[str]:
        return [m.group("name") for m in _PARAMETER.finditer(self.rule)]


def routes(app: Flask) -> Iterator[Route]:
    """Every (endpoint, method) of the app; reads before writes, deletions last."""
    order = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
    found = [
        Route(rule.endpoint, method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in sorted((rule.methods or set()) - IGNORED_METHODS)
    ]
    yield from sorted(found, key=lambda r: (order.get(r.method, 1), "delete" in r.endpoint, r.rule))


def populate(session: Session) -> None:
    """One of everything a route can name (see ``PATH_VALUES``)."""
    store_dag(session, make_dag(DAG_ID))
    store_run(session, DAG_ID, RUN_ID, "running", logical_date=T0, task_states={"task_0": "success", "task_1": "none"})
    session.execute(
        sa.update(TaskInstance)
        .where(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == RUN_ID, TaskInstance.task_id == TASK_ID)
        .values(try_number=1)
    )
    logs.append_log(session, TIKey(DAG_ID, RUN_ID, TASK_ID, -1), 1, "hello from the task\n")
    variables.set_variable(session, "region", "eu-west-1")
    connections.set_connection(session, "warehouse", {"conn_type": "postgres", "host": "db", "password": "pw"})
    pools.set_pool(session, "etl_pool", 4)
    users.create_user(session, TARGET_USER, "someone-password", "Viewer", hash_method=FAST_HASH)
    session.commit()
