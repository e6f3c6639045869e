"""``/api/v1/connections`` (Admin for every call: connections hold credentials): list, read,
create, change, delete and test. A password is always answered as ``***``; so are secret-looking
keys of the extra. The routes are every keyed resource's (``keyed_resources``); a connection's own
are its JSON, its schema and the test.

Testing a connection runs tradewind's SQL hook for its type (``SELECT 1``) from the webserver, so,
as in Airflow, it is off unless ``TRADEWIND_WEBSERVER_TEST_CONNECTION`` is set.
"""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver import masking
from tradewind.master.webserver.api import API_PREFIX
from tradewind.master.webserver.api.keyed_resources import KeyedResource, blueprint, openapi_paths
from tradewind.master.webserver.api.request_check import body
from tradewind.master.webserver.api.spec import (
    BAD_REQUEST,
    FORBIDDEN,
    boolean,
    collection,
    integer,
    obj,
    operation,
    string,
)
from tradewind.master.webserver.auth import require_role
from tradewind.master.webserver.db import get_settings
from tradewind.metastore import connections
from tradewind.metastore.connections import ConnectionValue


def connection_json(connection: ConnectionValue) -> dict[str, Any]:
    """A connection as the API answers it: a password only as ``***``, and only when there is one
    (Airflow never answers it; its client refuses a null one)."""
    answer = {
        "connection_id": connection.conn_id,
        "conn_type": connection.conn_type,
        "description": connection.description,
        "host": connection.host,
        "login": connection.login,
        "schema": connection.schema,
        "port": connection.port,
        "extra": masking.extra(connection.extra),
    }
    if connection.password:
        answer["password"] = masking.password(connection.password)
    return answer


RESOURCE: KeyedResource[ConnectionValue] = KeyedResource(
    rows=connections.ROWS,
    body_key="connection_id",
    path_key="connection_id",
    save=connections.set_connection,
    to_json=connection_json,
    schema="Connection",
    create_conflicts=True,
)
bp = blueprint(__name__, RESOURCE)


@bp.post("/test")
@require_role("Admin")
def test_connection() -> ResponseReturnValue:
    """Connect with the connection given in the body (nothing is stored): ``{status, message}``."""
    if not get_settings().webserver_test_connection:
        abort(403, description="Testing connections is off; set TRADEWIND_WEBSERVER_TEST_CONNECTION=true to allow it.")
    from tradewind.sdk.connection import Connection
    from tradewind.sdk.hooks import registry

    form = dict(body())
    conn_id = str(form.pop("connection_id", "") or "tradewind_test_connection")
    status, message = registry.test_connection(Connection(conn_id=conn_id, **form))
    return jsonify(status=status, message=message)


_TEXT = string(nullable=True)

OPENAPI_SCHEMAS: dict[str, Any] = {
    "Connection": obj(
        {
            "connection_id": string(),
            "conn_type": string(),
            "description": _TEXT,
            "host": _TEXT,
            "login": _TEXT,
            "schema": _TEXT,
            "port": integer(nullable=True),
            "password": string(description="Written as given; read as ***, and not at all when there is none."),
            "extra": string(nullable=True, description="JSON text; values of secret-looking keys read as ***."),
        }
    ),
    "ConnectionCollection": collection("connections", "Connection"),
    "ConnectionTest": obj({"status": boolean(), "message": string()}),
}

OPENAPI_PATHS: dict[str, Any] = openapi_paths(
    RESOURCE,
    why_admin="connections hold credentials",
    listed="List connections, secrets masked.",
    change="Change fields of a connection.",
) | {
    f"{API_PREFIX}/connections/test": {
        "post": operation(
            "test_connection",
            "Try a connection (Admin; off unless TRADEWIND_WEBSERVER_TEST_CONNECTION is set)",
            "Connection",
            ok="ConnectionTest",
            body="Connection",
            errors=(BAD_REQUEST, FORBIDDEN),
        ),
    }
}
