"""Connections: how DAGs reach other systems (type, host, port, schema, login, password, extra).

The password and the extra are stored encrypted with the Fernet key of the session's engine (see
``secret_values``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy.orm import Session

from tradewind.errors import ConnectionNotFound, NotAJsonObject
from tradewind.metastore import secret_values
from tradewind.metastore.column_limits import check_fits
from tradewind.metastore.keyed_rows import KeyedRows
from tradewind.metastore.models import Connection
from tradewind.sdk.json_object import parse_json_object


@dataclass(frozen=True)
class ConnectionValue:
    conn_id: str
    conn_type: str
    description: str | None = None
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    port: int | None = None
    extra: str | None = None


#: The fields a caller may set (everything but the id).
FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ConnectionValue) if f.name != "conn_id")


def _decode(keyring: secret_values.Keyring, row: Connection) -> ConnectionValue:
    name = f"connection {row.conn_id!r}"
    return ConnectionValue(
        conn_id=row.conn_id,
        conn_type=row.conn_type,
        description=row.description,
        host=row.host,
        schema=row.schema,
        login=row.login,
        password=secret_values.decode(keyring, row.password, row.is_encrypted, f"the password of {name}"),
        port=row.port,
        extra=secret_values.decode(keyring, row.extra, row.is_extra_encrypted, f"the extra of {name}"),
    )


#: Connections by id.
ROWS: KeyedRows[Connection, ConnectionValue] = KeyedRows(
    Connection, key="conn_id", noun="connection", key_name="id", not_found=ConnectionNotFound, decode=_decode
)


def list_connections(session: Session) -> list[ConnectionValue]:
    return ROWS.read_all(session)


def get_connection(session: Session, conn_id: str) -> ConnectionValue:
    """The connection; raises ``ConnectionNotFound``."""
    return ROWS.read(session, conn_id)


def set_connection(session: Session, conn_id: str, values: Mapping[str, Any]) -> ConnectionValue:
    """Create the connection or change the fields named in ``values`` (a new one needs ``conn_type``)."""
    conn_id = ROWS.checked_key(conn_id)
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ValueError(f"connection {conn_id!r}: unknown fields {', '.join(unknown)}")
    keyring = secret_values.keyring_for(session)
    row = session.get(Connection, conn_id)
    current = _decode(keyring, row) if row is not None else ConnectionValue(conn_id, "")
    merged = {name: getattr(current, name) for name in FIELDS} | dict(values)
    _check_fields(conn_id, merged)
    _check_extra(conn_id, values.get("extra"))
    if row is None:
        row = Connection(conn_id=conn_id)
        session.add(row)
    for name in ("conn_type", "description", "host", "schema", "login", "port"):
        setattr(row, name, merged[name])
    row.password, row.is_encrypted = secret_values.encode(keyring, merged["password"])
    row.extra, row.is_extra_encrypted = secret_values.encode(keyring, merged["extra"])
    session.flush()
    return _decode(keyring, row)


def delete_connection(session: Session, conn_id: str) -> None:
    """Delete the connection; raises ``ConnectionNotFound``."""
    ROWS.delete(session, conn_id)


_EXTRA_EXPECTED = 'must be a JSON object such as {"sslmode": "require"}'


def _check_extra(conn_id: str, extra: Any) -> None:
    """A new extra must be a JSON object, as every hook reads it (``extra_dejson``); Airflow's form
    refuses text that is not JSON too. Checked only when given, so a row stored before still opens."""
    if not isinstance(extra, str) or not extra.strip():
        return
    try:
        parse_json_object(extra, f"connection {conn_id!r}: the extra", _EXTRA_EXPECTED)
    except NotAJsonObject as exc:
        raise ValueError(str(exc)) from None


def _check_fields(conn_id: str, values: Mapping[str, Any]) -> None:
    if not isinstance(values["conn_type"], str) or not values["conn_type"].strip():
        raise ValueError(f"connection {conn_id!r} needs a conn_type")
    port = values["port"]
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
        raise ValueError(f"connection {conn_id!r}: port must be a whole number from 1 to 65535, not {port!r}")
    for name in FIELDS:
        if name != "port" and values[name] is not None and not isinstance(values[name], str):
            raise ValueError(f"connection {conn_id!r}: {name} must be text")
    check_fits(Connection, **{name: values[name] for name in ("conn_type", "host", "schema", "port")})
