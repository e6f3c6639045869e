"""``HttpHook``: HTTP requests to the server a connection names, on ``requests``, as
``airflow.providers.http.hooks.http.HttpHook`` makes them.

The connection gives the base URL (a host holding a whole URL, or ``schema://host:port``; the
scheme defaults to the connection type when it is ``https``, else ``http``), basic auth from its
login and password, and default headers from its extra (besides the session options ``proxies``,
``stream``, ``verify``, ``cert``, ``max_redirects``, ``trust_env``). ``run`` sends one request;
a status of 400 or more is an ``AirflowException`` reading ``"<status>:<reason>"`` unless
``extra_options={"check_response": False}``. ``run_with_advanced_retry`` retries ``run`` with
tenacity's arguments when the DAG file has tenacity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import requests
from requests.auth import HTTPBasicAuth
from requests.models import DEFAULT_REDIRECT_LIMIT

from tradewind.errors import AirflowException
from tradewind.sdk.connection import Connection
from tradewind.sdk.hooks.base import BaseHook

#: Keys of a connection's extra that configure the session rather than being headers.
SESSION_EXTRAS = ("proxies", "proxy", "stream", "verify", "verify_ssl", "cert", "max_redirects", "trust_env")
#: Keys of a connection's extra that are per-request options in Airflow and never headers.
_REQUEST_EXTRAS = ("timeout", "allow_redirects")


def base_url(connection: Connection) -> str:
    """The URL every endpoint of the connection is relative to."""
    host = connection.host or ""
    if "://" in host:
        return host
    default_scheme = "https" if (connection.conn_type or "").lower() == "https" else "http"
    url = f"{connection.schema or default_scheme}://{host}"
    return f"{url}:{connection.port}" if connection.port else url


def url_from_endpoint(base: str, endpoint: str | None) -> str:
    """``endpoint`` joined to ``base`` with exactly the slash the two of them lack."""
    if base and not base.endswith("/") and endpoint and not endpoint.startswith("/"):
        return f"{base}/{endpoint}"
    return base + (endpoint or "")


def extra_headers(extra: Mapping[str, Any]) -> dict[str, str]:
    """The headers a connection's extra sets: every key that is not a session or request option."""
    skipped = (*SESSION_EXTRAS, *_REQUEST_EXTRAS)
    return {str(key): str(value) for key, value in extra.items() if key not in skipped}


class HttpHook(BaseHook):
    """``HttpHook(method="POST", http_conn_id="http_default", auth_type=HTTPBasicAuth)``."""

    conn_name_attr: ClassVar[str] = "http_conn_id"  # type: ignore[misc]
    default_conn_name: ClassVar[str] = "http_default"  # type: ignore[misc]
    conn_type: ClassVar[str] = "http"  # type: ignore[misc]
    hook_name: ClassVar[str] = "HTTP"  # type: ignore[misc]

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The schema field holds the URL scheme (http or https), as in Airflow's HTTP provider."""
        return {
            "hidden_fields": [],
            "relabeling": {"schema": "Scheme"},
            "placeholders": {"host": "api.example.com", "schema": "https", "extra": '{"Authorization": "..."}'},
        }

    def __init__(
        self,
        method: str = "POST",
        http_conn_id: str = default_conn_name,
        auth_type: Callable[..., Any] | None = None,
        tcp_keep_alive: bool = True,
        tcp_keep_alive_idle: int = 120,
        tcp_keep_alive_count: int = 20,
        tcp_keep_alive_interval: int = 30,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.http_conn_id = http_conn_id
        self.method = method.upper()
        self.base_url: str = ""
        self._auth_type = auth_type
        self._retry_obj: Any = None
        # Accepted as in Airflow; requests' own keep-alive pooling is what tradewind uses.
        self.tcp_keep_alive = tcp_keep_alive

    @property
    def auth_type(self) -> Callable[..., Any]:
        return self._auth_type or HTTPBasicAuth

    @auth_type.setter
    def auth_type(self, value: Callable[..., Any] | None) -> None:
        self._auth_type = value

    def get_conn(self, headers: Mapping[str, Any] | None = None) -> requests.Session:
        """A ``requests.Session`` set up from the connection, with ``headers`` over its defaults."""
        session = requests.Session()
        connection = self.get_connection(self.http_conn_id)
        self.base_url = base_url(connection)
        if connection.login:
            session.auth = self.auth_type(connection.login, connection.password)
        elif self._auth_type is not None:
            session.auth = self.auth_type()
        extra = connection.extra_dejson
        session.proxies = extra.get("proxies", extra.get("proxy", {}))
        session.stream = bool(extra.get("stream", False))
        session.verify = extra.get("verify", extra.get("verify_ssl", True))
        session.cert = extra.get("cert")
        session.max_redirects = int(extra.get("max_redirects", DEFAULT_REDIRECT_LIMIT))
        session.trust_env = bool(extra.get("trust_env", True))
        session.headers.update(extra_headers(extra))
        if headers:
            session.headers.update(headers)
        return session

    def url_from_endpoint(self, endpoint: str | None) -> str:
        return url_from_endpoint(self.base_url, endpoint)

    def run(
        self,
        endpoint: str | None = None,
        data: Any = None,
        headers: Mapping[str, Any] | None = None,
        extra_options: Mapping[str, Any] | None = None,
        **request_kwargs: Any,
    ) -> requests.Response:
        """Send one request to ``endpoint``: ``data`` is the query string of a GET (and ignored
        by HEAD), the body otherwise; ``request_kwargs`` go to ``requests.Request`` (``json=``…)."""
        session = self.get_conn(headers)
        url = self.url_from_endpoint(endpoint)
        if self.method == "GET":
            request = requests.Request(self.method, url, params=data, headers=headers, **request_kwargs)
        elif self.method == "HEAD":
            request = requests.Request(self.method, url, headers=headers, **request_kwargs)
        else:
            request = requests.Request(self.method, url, data=data, headers=headers, **request_kwargs)
        prepared = session.prepare_request(request)
        self.log.info("Sending '%s' to url: %s", self.method, url)
        return self.run_and_check(session, prepared, extra_options or {})

    def run_and_check(
        self, session: requests.Session, prepped_request: requests.PreparedRequest, extra_options: Mapping[str, Any]
    ) -> requests.Response:
        """Send a prepared request with ``extra_options`` (``timeout``, ``allow_redirects``,
        ``check_response``, ``stream``, ``verify``, ``proxies``, ``cert``)."""
        settings = session.merge_environment_settings(
            prepped_request.url or "",
            proxies=extra_options.get("proxies", session.proxies),
            stream=extra_options.get("stream", session.stream),
            verify=extra_options.get("verify", session.verify),
            cert=extra_options.get("cert", session.cert),
        )
        response = session.send(
            prepped_request,
            timeout=extra_options.get("timeout"),
            allow_redirects=extra_options.get("allow_redirects", True),
            **settings,
        )
        if extra_options.get("check_response", True):
            self.check_response(response)
        return response

    def check_response(self, response: requests.Response) -> None:
        """Raise ``AirflowException("<status>:<reason>")`` for a status of 400 or more."""
        try:
            response.raise_for_status()
        except requests.HTTPError:
            self.log.error("HTTP error: %s", response.reason)
            self.log.error(response.text)
            raise AirflowException(f"{response.status_code}:{response.reason}") from None

    def run_with_advanced_retry(self, _retry_args: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any:
        """``run(*args, **kwargs)`` retried as ``tenacity.Retrying(**_retry_args)`` says, as in
        Airflow; the DAG file builds those arguments with tenacity, so it is installed there."""
        try:
            import tenacity
        except ImportError:
            raise AirflowException(
                "run_with_advanced_retry needs the tenacity package, which builds its retry arguments"
            ) from None
        self._retry_obj = tenacity.Retrying(**_retry_args)
        return self._retry_obj(self.run, *args, **kwargs)

    def test_connection(self) -> tuple[bool, str]:
        """Send the hook's method to the base URL: (True, message) when it answers below 400."""
        try:
            self.run()
        except Exception as exc:  # noqa: BLE001 - the UI shows any failure as text
            return False, str(exc)
        return True, "Connection successfully tested"
