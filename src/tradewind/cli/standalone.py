"""``tradewind standalone``: every role on this machine with nothing installed.

It migrates the embedded SQLite metastore, then runs the scheduler, a worker (over the embedded
broker, not Redis), a triggerer and the webserver when it is installed, each as a child process whose output
is shown with its name in front. Ctrl-C (or SIGTERM) stops them all: workers finish what they
are running first.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import click

from tradewind.settings import Settings

#: Without Redis there is no event channel; SQLite makes a short timer cheap instead.
STANDALONE_IDLE_SLEEP = "0.2"
STOP_GRACE_SECONDS = 30.0


@dataclass
class _Role:
    name: str
    args: list[str]


def _roles(settings: Settings, port: int, concurrency: int) -> list[_Role]:
    roles = [
        _Role("scheduler", ["scheduler"]),
        _Role("worker", ["worker", "--hostname", "standalone", "--concurrency", str(concurrency)]),
        _Role("triggerer", ["triggerer"]),
    ]
    if importlib.util.find_spec("tradewind.master.webserver") is not None:
        roles.append(_Role("webserver", ["webserver", "--port", str(port)]))
    return roles


@click.command()
@click.option("--port", default=8080, show_default=True, envvar="TRADEWIND_WEBSERVER_PORT", help="Port of the web UI.")
@click.option(
    "--concurrency",
    default=4,
    show_default=True,
    envvar="TRADEWIND_WORKER_CONCURRENCY",
    help="Task instances the worker runs at once.",
)
@click.pass_obj
def standalone(settings: Settings, port: int, concurrency: int) -> None:
    """Run the scheduler, a worker, a triggerer and the web UI on this machine, with no server installed."""
    from tradewind.metastore.engine import create_engine_from_settings
    from tradewind.metastore.schema_version import ensure_migrated
    from tradewind.redaction import redact

    settings.resolved_dags_folder.mkdir(parents=True, exist_ok=True)
    engine = create_engine_from_settings(settings)
    try:
        ensure_migrated(engine, settings)
        login = _admin_login(settings, engine)
    finally:
        engine.dispose()
    env = dict(os.environ)
    env.setdefault("TRADEWIND_SCHEDULER_IDLE_SLEEP", STANDALONE_IDLE_SLEEP)
    env["TRADEWIND_HOME"] = str(settings.home)
    roles = _roles(settings, port, concurrency)
    children = {role.name: _spawn(role, env) for role in roles}
    click.echo(
        "\ntradewind standalone is running\n"
        f"  metastore   {redact(settings.resolved_database_url)}\n"
        f"  broker      {settings.broker_url or 'embedded (' + str(settings.home / 'broker') + ')'}\n"
        f"  DAG folder  {settings.resolved_dags_folder}\n"
        f"  roles       {', '.join(f'{name} (pid {p.pid})' for name, p in children.items())}\n"
        + (f"  web UI      http://127.0.0.1:{port}  ({login})\n" if "webserver" in children else "")
        + "Try:  tradewind dags list   |   tradewind dags unpause <dag_id>   |   tradewind dags trigger <dag_id>\n"
        "Stop: Ctrl-C\n"
    )
    sys.exit(_supervise(children))


def _admin_login(settings: Settings, engine: object) -> str:
    """Like Airflow's standalone: a first run creates user "admin" with a random password, kept in
    a file only the owner can read, so the web UI can be opened at once."""
    import secrets

    from tradewind.metastore import users
    from tradewind.metastore.engine import make_session_factory, session_scope

    password_file = settings.home / "standalone_admin_password.txt"
    with session_scope(make_session_factory(engine)) as session:  # type: ignore[arg-type]
        if users.list_users(session):
            if password_file.exists():
                return f"log in as admin, password in {password_file}"
            return "log in with a user made by `tradewind users create`"
        password = secrets.token_urlsafe(12)
        users.create_user(session, "admin", password, "Admin")
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    return f"log in as admin / {password}; the password is also in {password_file}"


def _spawn(role: _Role, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tradewind.cli.main", *role.args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    threading.Thread(target=_relay, args=(role.name, process), daemon=True).start()
    return process


def _relay(name: str, process: subprocess.Popen[bytes]) -> None:
    assert process.stdout is not None
    for line in iter(process.stdout.readline, b""):
        click.echo(f"{name:9} | {line.decode(errors='replace').rstrip()}")


def _supervise(children: dict[str, subprocess.Popen[bytes]]) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    while not stop.is_set():
        for name, process in children.items():
            if process.poll() is not None:
                click.echo(f"Error: the {name} stopped (exit code {process.returncode}); stopping the others", err=True)
                code = 1
                stop.set()
                break
        stop.wait(0.5)
    _stop_all(children)
    return code


def _stop_all(children: dict[str, subprocess.Popen[bytes]]) -> None:
    click.echo("stopping: " + ", ".join(children))
    for process in children.values():
        if process.poll() is None:
            # The role's main process only: a task's processes would take SIGTERM as "stop the
            # task", which a warm shutdown lets finish. Each role stops its own children.
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for name, process in children.items():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            click.echo(f"the {name} did not stop in {STOP_GRACE_SECONDS:g} s; killing it", err=True)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
