"""``Connection``: how task code reaches another system, with Airflow's names and URI format.

A connection is built from fields, from a URI (``postgres://user:pa%40ss@db:5432/sales?sslmode=require``)
or from the JSON form Airflow 2.3+ accepts in environment variables, and turns back into either.
``Connection.get_connection_from_secrets`` looks it up where Airflow does: the secrets backend, the
environment (``TRADEWIND_CONN_<ID>`` or ``AIRFLOW_CONN_<ID>``), then the metastore.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from tradewind.errors import AirflowException
from tradewind.sdk.json_object import parse_json_object

#: The query parameter that carries an extra which is not a flat mapping of text.
EXTRA_KEY = "__extra__"

#: The fields a connection has besides its id, in the order Airflow lists them.
FIELD_NAMES: tuple[str, ...] = ("conn_type", "description", "host", "login", "password", "schema", "port", "extra")


class Connection:
    """One connection; ``password`` and ``extra`` are the clear values (the metastore encrypts them)."""

    def __init__(
        self,
        conn_id: str | None = None,
        conn_type: str | None = None,
        description: str | None = None,
        host: str | None = None,
        login: str | None = None,
        password: str | None = None,
        schema: str | None = None,
        port: int | None = None,
        extra: str | dict[str, Any] | None = None,
        uri: str | None = None,
    ) -> None:
        self.conn_id = conn_id
        self.description = description
        if uri is not None:
            if any(value is not None for value in (conn_type, host, login, password, schema, port, extra)):
                raise AirflowException("a connection takes either a URI or separate fields, not both")
            self._parse_uri(uri)
        else:
            self.conn_type = conn_type
            self.host = host
            self.login = login
            self.password = password
            self.schema = schema
            self.port = _port(port)
            self.extra = _extra_text(extra)
        self._mask_secrets()

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickled (read through the worker, ``try_services.py``): masked here as well."""
        self.__dict__.update(state)
        self._mask_secrets()

    def _mask_secrets(self) -> None:
        # As in Airflow, a connection's secrets are hidden from this process's task log once it exists.
        from tradewind.secrets.masker import mask_secret

        if self.password:
            mask_secret(self.password)
        mask_secret(self.extra_dejson)

    # -- reading ------------------------------------------------------------------------------

    @property
    def extra_dejson(self) -> dict[str, Any]:
        """The extra as a dict (``{}`` when it is empty or not a JSON object)."""
        if not self.extra:
            return {}
        try:
            value = json.loads(self.extra)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def get_password(self) -> str | None:
        return self.password

    def get_extra(self) -> str | None:
        return self.extra

    def to_dict(self) -> dict[str, Any]:
        """The fields as Airflow's ``connections export`` writes them (``extra`` as text)."""
        return {
            "conn_type": self.conn_type,
            "description": self.description,
            "host": self.host,
            "login": self.login,
            "password": self.password,
            "schema": self.schema,
            "port": self.port,
            "extra": self.extra,
        }

    def as_json(self) -> str:
        """The JSON form accepted by ``TRADEWIND_CONN_<ID>`` (``extra`` as an object when it is one)."""
        values = {name: value for name, value in self.to_dict().items() if value is not None}
        if self.extra and self.extra_dejson:
            values["extra"] = self.extra_dejson
        return json.dumps(values)

    def get_uri(self) -> str:
        """The URI form: ``type://login:password@host:port/schema?extra`` with each part percent-encoded."""
        uri = f"{self.conn_type.lower().replace('_', '-')}://" if self.conn_type else "//"
        protocol, host = self.host.split("://", 1) if self.host and "://" in self.host else (None, self.host)
        if protocol:
            uri += f"{protocol}://"
        authority = ""
        if self.login is not None:
            authority += quote(self.login, safe="")
        if self.password is not None:
            authority += ":" + quote(self.password, safe="")
        if authority:
            uri += authority + "@"
        host_part = quote(host, safe="") if host else ""
        if self.port:
            host_part += f":{self.port}" if host_part or authority else f"@:{self.port}"
        if self.schema:
            host_part += "/" + quote(self.schema, safe="")
        uri += host_part
        if self.extra:
            uri += ("?" if self.schema else "/?") + _extra_query(self.extra, self.extra_dejson)
        return uri

    def __repr__(self) -> str:
        return f"Connection(conn_id={self.conn_id!r}, conn_type={self.conn_type!r}, host={self.host!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Connection):
            return NotImplemented
        return self.conn_id == other.conn_id and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    # -- building -----------------------------------------------------------------------------

    @classmethod
    def from_json(cls, value: str, conn_id: str | None = None) -> Connection:
        """A connection from Airflow's JSON form; ``extra`` may be an object or text."""
        # Bad JSON raises NotAJsonObject, an AirflowException: what callers of a connection catch.
        return cls.from_fields(
            conn_id, parse_json_object(value, f"the JSON form of connection {conn_id!r}", "must be an object")
        )

    @classmethod
    def from_fields(cls, conn_id: str | None, fields: dict[str, Any]) -> Connection:
        """A connection from a mapping of field names; unknown names are a clear error."""
        fields = dict(fields)
        fields.pop("conn_id", None)
        unknown = sorted(set(fields) - set(FIELD_NAMES))
        if unknown:
            raise AirflowException(f"connection {conn_id!r}: unknown fields {', '.join(unknown)}")
        return cls(conn_id=conn_id, **fields)

    @classmethod
    def get_connection_from_secrets(cls, conn_id: str) -> Connection:
        """The connection named ``conn_id`` from the secrets backend, the environment or the
        metastore; raises ``AirflowNotFoundException`` naming it when none has it."""
        from tradewind.sdk import runtime_services

        return runtime_services.current().get_connection(conn_id)

    def _parse_uri(self, uri: str) -> None:
        if uri.count("://") > 2:
            raise AirflowException(f"invalid connection URI {_redacted(uri)!r}: more than two '://'")
        parts = urlsplit(uri)
        if not parts.scheme or not uri.startswith(f"{parts.scheme}://"):
            raise AirflowException(
                f"invalid connection URI {_redacted(uri)!r}: use type://login:password@host:port/schema?extra"
            )
        self.conn_type = parts.scheme.replace("-", "_")
        rest = uri[len(parts.scheme) + 3 :]
        protocol = None
        if "://" in rest:
            protocol, rest = rest.split("://", 1)
            if "@" in protocol or ":" in protocol:
                raise AirflowException(f"invalid connection URI {_redacted(uri)!r}")
        parts = urlsplit("//" + rest)
        try:
            self.port = parts.port
        except ValueError:
            raise AirflowException(f"invalid connection URI {_redacted(uri)!r}: the port is not a number") from None
        host = _hostname(parts.netloc)
        self.host = f"{protocol}://{host}" if protocol else host
        self.schema = unquote(parts.path[1:]) if parts.path[1:] else None
        self.login = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.extra = None
        if parts.query:
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            self.extra = query[EXTRA_KEY] if EXTRA_KEY in query else json.dumps(query)


def _hostname(netloc: str) -> str | None:
    """The host of a netloc as written (``urlsplit`` lower-cases it), percent-decoded."""
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        host = host[: host.find("]") + 1]
    else:
        host = host.partition(":")[0]
    return unquote(host) or None


def _extra_query(extra: str, as_dict: dict[str, Any]) -> str:
    """A flat mapping of text becomes plain query parameters; anything else rides in ``__extra__``."""
    if as_dict and all(isinstance(key, str) and isinstance(value, str) for key, value in as_dict.items()):
        query = urlencode(as_dict)
        if dict(parse_qsl(query, keep_blank_values=True)) == as_dict:
            return query
    return urlencode({EXTRA_KEY: extra})


def _extra_text(extra: str | dict[str, Any] | None) -> str | None:
    if extra is None or isinstance(extra, str):
        return extra
    if isinstance(extra, dict):
        return json.dumps(extra)
    raise AirflowException(f"a connection's extra must be text or a dict, not {type(extra).__name__}")


def _port(port: Any) -> int | None:
    if port is None or port == "":
        return None
    try:
        return int(port)
    except (TypeError, ValueError):
        raise AirflowException(f"a connection's port must be a whole number, not {port!r}") from None


def _redacted(uri: str) -> str:
    """The URI with its password hidden, for error messages."""
    scheme, sep, rest = uri.partition("://")
    authority, at, tail = rest.rpartition("@")
    if not at or ":" not in authority:
        return uri
    return f"{scheme}{sep}{authority.split(':', 1)[0]}:***@{tail}"
