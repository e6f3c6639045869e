"""``tradewind connections``: add, show, list, delete, export and import connections (Airflow 2's options).

Passwords and the secret fields of extras are shown as ``***``; ``export`` writes the real values,
since its output is meant to be imported elsewhere.
"""

from __future__ import annotations

import json
from typing import Any

import click

from tradewind.cli.arguments import BadArgument, json_object_argument
from tradewind.cli.exchange_files import read_json_object, read_text, write_export
from tradewind.cli.metastore_access import metastore_session
from tradewind.cli.output import OUTPUT_OPTION, STRUCTURED, emit
from tradewind.errors import AirflowException, ConfigurationError, ConnectionNotFound
from tradewind.settings import Settings

COLUMNS = ("conn_id", "conn_type", "description", "host", "schema", "login", "password", "port", "extra", "uri")
LIST_COLUMNS = ("conn_id", "conn_type", "host", "port", "schema", "login", "description")


@click.group()
def connections() -> None:
    """Manage connections (what `BaseHook.get_connection` and `{{ conn.<id> }}` find)."""


@connections.command("add")
@click.argument("conn_id")
@click.option("--conn-uri", help="The whole connection as a URI: type://login:password@host:port/schema?extra.")
@click.option("--conn-json", help='The whole connection as JSON: {"conn_type": ..., "extra": {...}}.')
@click.option("--conn-type", help="Connection type, e.g. postgres, http (needed without --conn-uri/--conn-json).")
@click.option("--conn-host", help="Host.")
@click.option("--conn-login", help="Login (user name).")
@click.option("--conn-password", help="Password.")
@click.option("--conn-schema", help="Schema (database name for SQL connections).")
@click.option("--conn-port", help="Port.")
@click.option("--conn-extra", help="Extra, as a JSON object.")
@click.option("--conn-description", help="Description.")
@click.pass_obj
def add(
    settings: Settings,
    conn_id: str,
    conn_uri: str | None,
    conn_json: str | None,
    conn_type: str | None,
    conn_host: str | None,
    conn_login: str | None,
    conn_password: str | None,
    conn_schema: str | None,
    conn_port: str | None,
    conn_extra: str | None,
    conn_description: str | None,
) -> None:
    """Add connection CONN_ID (an existing one is an error: delete it first)."""
    from tradewind.metastore import connections as rows

    fields = {
        "host": conn_host,
        "login": conn_login,
        "password": conn_password,
        "schema": conn_schema,
        "port": conn_port,
        "extra": conn_extra,
    }
    connection = _connection_from_options(conn_id, conn_uri, conn_json, conn_type, fields)
    if conn_description is not None:
        connection.description = conn_description
    with metastore_session(settings) as session:
        try:
            rows.get_connection(session, conn_id)
        except ConnectionNotFound:
            pass
        else:
            raise BadArgument(f"a connection with conn_id {conn_id!r} exists already; delete it first")
        _store(session, connection)
    click.echo(f"Successfully added `conn_id`={conn_id} : {_display_uri(connection)}")


@connections.command("get")
@click.argument("conn_id")
@OUTPUT_OPTION
@click.pass_obj
def get(settings: Settings, conn_id: str, output: str) -> None:
    """Show connection CONN_ID as tasks see it: from the secrets backend, TRADEWIND_CONN_<ID> or
    AIRFLOW_CONN_<ID>, else from the metastore (password masked)."""
    from tradewind.metastore import connections as rows
    from tradewind.secrets.lookup import connection_outside_metastore

    try:
        connection = connection_outside_metastore(conn_id, settings)
    except ConfigurationError:
        raise
    except AirflowException as exc:
        raise BadArgument(f"connection {conn_id!r} outside the metastore: {exc}") from None
    if connection is None:
        with metastore_session(settings) as session:
            connection = _to_connection(rows.get_connection(session, conn_id))
    emit([display_row(connection)], COLUMNS, output)


@connections.command("list")
@click.option("--conn-id", help="Show only this connection.")
@OUTPUT_OPTION
@click.pass_obj
def list_connections(settings: Settings, conn_id: str | None, output: str) -> None:
    """List the connections in the metastore (passwords masked)."""
    from tradewind.metastore import connections as rows

    with metastore_session(settings) as session:
        found = [_to_connection(value) for value in rows.list_connections(session)]
    found = [c for c in found if conn_id is None or c.conn_id == conn_id]
    emit([display_row(c) for c in found], COLUMNS if output in STRUCTURED else LIST_COLUMNS, output)


@connections.command("delete")
@click.argument("conn_id")
@click.pass_obj
def delete(settings: Settings, conn_id: str) -> None:
    """Delete connection CONN_ID."""
    from tradewind.metastore import connections as rows

    with metastore_session(settings) as session:
        rows.delete_connection(session, conn_id)
    click.echo(f"Successfully deleted connection with `conn_id`={conn_id}")


@connections.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--file-format",
    "--format",
    "file_format",
    type=click.Choice(["json", "env"]),
    default=None,
    help="json: {conn_id: {fields}}; env: one conn_id=URI per line. Default: from the file's extension, else json.",
)
@click.option(
    "--serialization-format",
    type=click.Choice(["uri", "json"]),
    default="uri",
    show_default=True,
    help="How each connection is written in the env format.",
)
@click.pass_obj
def export(settings: Settings, file: str, file_format: str | None, serialization_format: str) -> None:
    """Write every connection, with its real password, to FILE (`-` for stdout)."""
    from tradewind.metastore import connections as rows

    with metastore_session(settings) as session:
        found = [_to_connection(value) for value in rows.list_connections(session)]
    chosen = file_format or ("env" if file.endswith(".env") else "json")
    if chosen == "env":
        text = "".join(f"{c.conn_id}={c.get_uri() if serialization_format == 'uri' else c.as_json()}\n" for c in found)
    else:
        text = json.dumps({c.conn_id: c.to_dict() for c in found}, indent=2) + "\n"
    write_export(file, text, f"Connections successfully exported to {file}: {len(found)} connection(s).")


@connections.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--overwrite", is_flag=True, help="Replace connections that exist already (default: keep them).")
@click.pass_obj
def import_(settings: Settings, file: str, overwrite: bool) -> None:
    """Add the connections in FILE (`-` for stdin): JSON {conn_id: {fields}} or `conn_id=URI` lines (.env)."""
    from tradewind.metastore import connections as rows

    parsed = _parse_import(file)
    added, skipped = 0, []
    with metastore_session(settings) as session:
        existing = {value.conn_id for value in rows.list_connections(session)}
        for connection in parsed:
            if connection.conn_id in existing and not overwrite:
                skipped.append(connection.conn_id)
                continue
            if connection.conn_id in existing:
                rows.delete_connection(session, connection.conn_id)
            _store(session, connection)
            added += 1
    for conn_id in skipped:
        click.echo(f"Could not import connection {conn_id}: connection already exists (use --overwrite).")
    click.echo(f"Imported {added} connection(s) from {file}.")


def display_row(connection: Any) -> dict[str, Any]:
    """A connection as commands show it: the password as ``***``, secret extra fields masked."""
    from tradewind.secrets.masker import REDACTED, redact_value

    extra = connection.extra
    if extra and connection.extra_dejson:
        extra = json.dumps(redact_value(connection.extra_dejson))
    return {
        "conn_id": connection.conn_id,
        "conn_type": connection.conn_type,
        "description": connection.description,
        "host": connection.host,
        "schema": connection.schema,
        "login": connection.login,
        "password": REDACTED if connection.password else connection.password,
        "port": connection.port,
        "extra": extra,
        "uri": _display_uri(connection),
    }


def _display_uri(connection: Any) -> str:
    from tradewind.sdk.connection import Connection
    from tradewind.secrets.masker import REDACTED, redact_value

    shown = Connection.from_fields(connection.conn_id, connection.to_dict())
    if shown.password:
        shown.password = REDACTED
    if shown.extra_dejson:
        shown.extra = json.dumps(redact_value(shown.extra_dejson))
    return shown.get_uri().replace("%2A%2A%2A", REDACTED)


def _connection_from_options(
    conn_id: str, conn_uri: str | None, conn_json: str | None, conn_type: str | None, fields: dict[str, str | None]
) -> Any:
    from tradewind.sdk.connection import Connection

    given = [
        name
        for name, value in (("--conn-uri", conn_uri), ("--conn-json", conn_json), ("--conn-type", conn_type))
        if value is not None
    ]
    if not given:
        raise BadArgument("give the connection with --conn-uri, --conn-json or --conn-type")
    if len(given) > 1:
        raise BadArgument(f"{' and '.join(given)} cannot be used together: give one of them")
    # As in Airflow, --conn-extra may replace the extra of a --conn-uri; nothing else is added to a whole connection.
    separate = sorted(
        f"--conn-{name}"
        for name, value in fields.items()
        if value is not None and not (name == "extra" and conn_uri is not None)
    )
    if conn_type is None and separate:
        raise BadArgument(f"{given[0]} describes the whole connection; {', '.join(separate)} cannot be added to it")
    try:
        extra = fields["extra"]
        if extra is not None:
            json_object_argument(extra, "--conn-extra", 'must be a JSON object such as \'{"sslmode": "require"}\'')
        if conn_uri is not None:
            connection = Connection(conn_id=conn_id, uri=conn_uri)
            if extra is not None:
                connection.extra = extra
            return connection
        if conn_json is not None:
            return Connection.from_json(conn_json, conn_id=conn_id)
        return Connection(conn_id=conn_id, conn_type=conn_type, **fields)  # type: ignore[arg-type]
    except AirflowException as exc:
        raise BadArgument(str(exc)) from None


def _parse_import(file: str) -> list[Any]:
    from tradewind.sdk.connection import Connection
    from tradewind.secrets.environment import parse_connection

    try:
        if file.endswith(".env"):
            parsed = []
            for number, line in enumerate(read_text(file).splitlines(), start=1):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                conn_id, sep, value = line.partition("=")
                if not sep or not conn_id.strip():
                    raise BadArgument(f"{file}, line {number}: expected conn_id=URI or conn_id=JSON")
                parsed.append(parse_connection(conn_id.strip(), value.strip()))
            return parsed
        connections_json = read_json_object(file, '{conn_id: {"conn_type": ..., ...}}')
        parsed = []
        for conn_id, fields in connections_json.items():
            if isinstance(fields, str):
                parsed.append(parse_connection(conn_id, fields))
                continue
            if not isinstance(fields, dict):
                raise BadArgument(f"{file}: connection {conn_id!r} must be an object of fields or a URI")
            parsed.append(Connection.from_fields(conn_id, fields))
        return parsed
    except BadArgument:
        raise
    except AirflowException as exc:
        raise BadArgument(f"{file}: {exc}") from None


def _store(session: Any, connection: Any) -> None:
    from tradewind.metastore import connections as rows

    values = {name: value for name, value in connection.to_dict().items() if value is not None}
    if not values.get("conn_type"):
        raise BadArgument(f"connection {connection.conn_id!r} needs a conn_type")
    try:
        rows.set_connection(session, connection.conn_id, values)
    except ValueError as exc:
        raise BadArgument(str(exc)) from None


def _to_connection(value: Any) -> Any:
    from tradewind.sdk.connection import Connection

    return Connection(
        conn_id=value.conn_id,
        conn_type=value.conn_type,
        description=value.description,
        host=value.host,
        login=value.login,
        password=value.password,
        schema=value.schema,
        port=value.port,
        extra=value.extra,
    )
