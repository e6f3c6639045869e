"""``tradewind webserver``: the web UI and REST API, served by gunicorn."""

from __future__ import annotations

import click

from tradewind.settings import Settings


@click.command()
@click.option("--host", "-H", default=None, help="Address to listen on [TRADEWIND_WEBSERVER_HOST; 0.0.0.0].")
@click.option(
    "--port",
    "-p",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port to listen on [TRADEWIND_WEBSERVER_PORT; 8080].",
)
@click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes [TRADEWIND_WEBSERVER_WORKERS; 1].",
)
@click.pass_obj
def webserver(settings: Settings, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the web UI and the REST API (/api/v1) on this machine."""
    from tradewind.master.webserver.server import serve

    overrides = {"webserver_host": host, "webserver_port": port, "webserver_workers": workers}
    serve(settings.with_overrides(**{name: value for name, value in overrides.items() if value is not None}))
