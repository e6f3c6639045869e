"""``/api/v1/connections`` (Admin for every call: connections hold credentials): list, read,
create, change and delete. A password is always answered as ``***``; so are secret-looking keys
of the extra. The routes are every keyed resource's (``keyed_resources``); a connection's own are
its JSON and its schema."""

from __future__ import annotations

from typing import Any

from tradewind.master.webserver import masking
from tradewind.master.webserver.api.keyed_resources import KeyedResource, blueprint, openapi_paths, openapi_schemas
from tradewind.metastore import connections
from tradewind.metastore.connections import ConnectionValue


def connection_json(connection: ConnectionValue) -> dict[str, Any]:
    return {
        "conn_id": connection.conn_id,
        "conn_type": connection.conn_type,
        "description": connection.description,
        "host": connection.host,
        "schema": connection.schema,
        "login": connection.login,
        "password": masking.password(connection.password),
        "port": connection.port,
        "extra": masking.extra(connection.extra),
    }


RESOURCE: KeyedResource[ConnectionValue] = KeyedResource(
    rows=connections.ROWS, save=connections.set_connection, to_json=connection_json
)
bp = blueprint(__name__, RESOURCE)


_TEXT = {"type": "string", "nullable": True}

OPENAPI_SCHEMAS: dict[str, Any] = openapi_schemas(
    RESOURCE,
    {
        "type": "object",
        "properties": {
            "conn_id": {"type": "string"},
            "conn_type": {"type": "string"},
            "description": _TEXT,
            "host": _TEXT,
            "schema": _TEXT,
            "login": _TEXT,
            "password": {"type": "string", "nullable": True, "description": "Written as given; always read as ***."},
            "port": {"type": "integer", "nullable": True},
            "extra": {
                "type": "string",
                "nullable": True,
                "description": "JSON text; values of secret-looking keys read as ***.",
            },
        },
    },
)

OPENAPI_PATHS: dict[str, Any] = openapi_paths(
    RESOURCE,
    why_admin="connections hold credentials",
    listed="Connections, secrets masked.",
    change="Change fields of a connection.",
)
