"""The ``tradewind`` click group. Commands import their role modules inside the function, so
``tradewind --help`` and ``dags list`` start fast."""

from __future__ import annotations

import gc
import logging
import sys

import click

from tradewind.cli.output import fail
from tradewind.cli.short_lived import process_ends_with_command
from tradewind.errors import TradewindException
from tradewind.sdk import plugins, runtime_services
from tradewind.secrets import masker
from tradewind.settings import Settings
from tradewind.version import __version__


class _Group(click.Group):
    """Turns tradewind's own errors into one clear line and exit code 1, not a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except TradewindException as exc:
            fail(str(exc))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="tradewind")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """tradewind: write DAGs the Airflow way; run them on a cluster with millisecond hand-offs.

    Settings come from TRADEWIND_* environment variables (see `tradewind info`); with none set,
    an SQLite metastore and the DAG folder live under ~/tradewind.
    """
    try:
        settings = Settings.from_env()
    except TradewindException as exc:
        fail(str(exc))
    logging.basicConfig(
        level=settings.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Library chatter (e.g. Alembic's "Context impl" lines) would drown the commands' own output.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    ctx.obj = settings
    # What looks secret, for this command's output and every process it starts (tasks, web workers).
    masker.use_sensitive_names(settings.sensitive_name_list)
    # Custom timetables and plugin macros, for every command that reads a DAG (loaded on first need).
    plugins.configure(settings.resolved_plugins_folder)
    # User code a command runs (dags test, tasks test, DAG files it imports) reaches these settings' metastore.
    runtime_services.set_default(lambda: _runtime_services_for(settings))


def _runtime_services_for(settings: Settings) -> runtime_services.RuntimeServices:
    from tradewind.task_services import MetastoreServices

    return MetastoreServices(settings)


def _register() -> None:
    from tradewind.cli import (
        config,
        connections,
        dags,
        db,
        extensions,
        fernet_key,
        info,
        jobs,
        pools,
        scheduler,
        standalone,
        tasks,
        triggerer,
        users,
        variables,
        webserver,
        worker,
    )
    from tradewind.cli.datasets import datasets as datasets_command
    from tradewind.cli.plugins import plugins_command

    cli.add_command(db.db)
    cli.add_command(dags.dags)
    cli.add_command(tasks.tasks)
    cli.add_command(info.version)
    cli.add_command(info.info)
    cli.add_command(scheduler.scheduler)
    cli.add_command(triggerer.triggerer)
    cli.add_command(jobs.jobs)
    cli.add_command(worker.worker)
    cli.add_command(worker.workers)
    cli.add_command(users.users)
    cli.add_command(webserver.webserver)
    cli.add_command(standalone.standalone)
    cli.add_command(connections.connections)
    cli.add_command(variables.variables)
    cli.add_command(pools.pools)
    cli.add_command(config.config)
    cli.add_command(extensions.providers)
    cli.add_command(fernet_key.rotate_fernet_key)
    cli.add_command(plugins_command)
    cli.add_command(datasets_command)


_register()


def main() -> None:
    process_ends_with_command()
    try:
        cli(prog_name="tradewind")
    finally:
        # The collector's passes over what the command built, while the interpreter shuts down (a
        # third of a second after a command that used the metastore), would only delay the exit and
        # take a core from the runs just triggered: the memory goes with the process. (What only the
        # collector frees — objects in reference cycles — then never runs its ``__del__``; the
        # commands close their files and connections with ``with``, and atexit and
        # weakref.finalize callbacks still run.)
        gc.freeze()


if __name__ == "__main__":
    main()
