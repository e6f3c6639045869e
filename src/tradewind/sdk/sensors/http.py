"""``HttpSensor``: wait until an HTTP endpoint answers (and ``response_check`` likes the answer),
as ``airflow.providers.http.sensors.http.HttpSensor`` waits.

Each poke sends one request. A status listed in ``response_error_codes_allowlist`` (404 by
default) means "not yet"; any other status of 400 or more, or a server that cannot be reached,
fails the try. Poke and reschedule modes, timeouts and ``soft_fail`` are the base sensor's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from tradewind.errors import AirflowException
from tradewind.sdk.hooks.http import HttpHook
from tradewind.sdk.operators.http import call_with_response
from tradewind.sdk.sensors.base import BaseSensorOperator


class HttpSensor(BaseSensorOperator):
    """Poke ``endpoint`` of ``http_conn_id`` with ``method`` until it answers to satisfaction."""

    template_fields: ClassVar[tuple[str, ...]] = ("endpoint", "request_params", "headers")

    def __init__(
        self,
        *,
        endpoint: str,
        http_conn_id: str = "http_default",
        method: str = "GET",
        request_params: Mapping[str, Any] | None = None,
        request_kwargs: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        response_error_codes_allowlist: Sequence[str] | None = None,
        response_check: Callable[..., bool] | None = None,
        extra_options: Mapping[str, Any] | None = None,
        tcp_keep_alive: bool = True,
        tcp_keep_alive_idle: int = 120,
        tcp_keep_alive_count: int = 20,
        tcp_keep_alive_interval: int = 30,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.endpoint = endpoint
        self.http_conn_id = http_conn_id
        self.method = method
        self.request_params = dict(request_params or {})
        self.request_kwargs = dict(request_kwargs or {})
        self.headers = dict(headers or {})
        self.response_error_codes_allowlist = tuple(
            str(code) for code in (response_error_codes_allowlist if response_error_codes_allowlist else ("404",))
        )
        self.response_check = response_check
        self.extra_options = dict(extra_options or {})

    def poke(self, context: dict[str, Any]) -> bool:
        hook = HttpHook(method=self.method, http_conn_id=self.http_conn_id)
        self.log.info("Poking: %s", self.endpoint)
        try:
            response = hook.run(
                self.endpoint,
                data=self.request_params,
                headers=self.headers,
                extra_options=self.extra_options,
                **self.request_kwargs,
            )
        except AirflowException as exc:
            if str(exc).startswith(self.response_error_codes_allowlist):
                return False
            raise
        if self.response_check is not None:
            return bool(call_with_response(self.response_check, response, context))
        return True
