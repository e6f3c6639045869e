"""``HttpOperator`` (and its older name ``SimpleHttpOperator``): one HTTP request as a task, as
``airflow.providers.http.operators.http`` defines it.

The response's text is the task's XCom (``return_value``) unless ``response_filter`` turns the
response into something else. ``response_check`` returning false fails the task; a status of 400
or more fails it before that (``extra_options={"check_response": False}`` lets it through). Both
callables get the response and whichever context values their signature names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from tradewind.errors import AirflowException
from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.hooks.http import HttpHook
from tradewind.sdk.operators.python import determine_kwargs


def call_with_response(fn: Callable[..., Any], response: Any, context: Mapping[str, Any]) -> Any:
    """``fn(response, **the context values its signature names)``, as Airflow calls
    ``response_check`` and ``response_filter``."""
    return fn(response, **determine_kwargs(fn, [response], {}, context))


class HttpOperator(BaseOperator):
    """Send ``method`` to ``endpoint`` of ``http_conn_id`` with ``data`` and ``headers``."""

    template_fields: ClassVar[tuple[str, ...]] = ("endpoint", "data", "headers")
    template_fields_renderers: ClassVar[dict[str, str]] = {"headers": "json", "data": "py"}
    template_ext: ClassVar[tuple[str, ...]] = ()
    ui_color: ClassVar[str] = "#f4a460"

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        method: str = "POST",
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        response_check: Callable[..., bool] | None = None,
        response_filter: Callable[..., Any] | None = None,
        extra_options: Mapping[str, Any] | None = None,
        request_kwargs: Mapping[str, Any] | None = None,
        http_conn_id: str = "http_default",
        log_response: bool = False,
        auth_type: Callable[..., Any] | None = None,
        tcp_keep_alive: bool = True,
        tcp_keep_alive_idle: int = 120,
        tcp_keep_alive_count: int = 20,
        tcp_keep_alive_interval: int = 30,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.endpoint = endpoint
        self.method = method
        self.data = data
        self.headers = dict(headers or {})
        self.response_check = response_check
        self.response_filter = response_filter
        self.extra_options = dict(extra_options or {})
        self.request_kwargs = dict(request_kwargs or {})
        self.http_conn_id = http_conn_id
        self.log_response = log_response
        self.auth_type = auth_type
        self.tcp_keep_alive = tcp_keep_alive

    @property
    def hook(self) -> HttpHook:
        return HttpHook(self.method, http_conn_id=self.http_conn_id, auth_type=self.auth_type)

    def execute(self, context: dict[str, Any]) -> Any:
        self.log.info("Calling HTTP method")
        response = self.hook.run(self.endpoint, self.data, self.headers, self.extra_options, **self.request_kwargs)
        return self.process_response(context, response)

    def process_response(self, context: Mapping[str, Any], response: Any) -> Any:
        """What the task returns: the response's text, or what ``response_filter`` makes of it."""
        if self.log_response:
            self.log.info(response.text)
        if self.response_check is not None and not call_with_response(self.response_check, response, context):
            raise AirflowException("Response check returned False.")
        if self.response_filter is not None:
            return call_with_response(self.response_filter, response, context)
        return response.text


class SimpleHttpOperator(HttpOperator):
    """Airflow's older name of ``HttpOperator``."""
