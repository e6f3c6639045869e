"""``tradewind users`` and ``tradewind webserver`` as a person runs them: real processes, a real
gunicorn on a free port, a login through the form, the API with a token — and clear one-line
errors when the metastore or the secret key is missing."""

from __future__ import annotations

import base64
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tradewind.metastore import users
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
from tradewind.settings import Settings

pytestmark = pytest.mark.integration

TRADEWIND = Path(sys.executable).with_name("tradewind")
SECRET = "cli-test-secret-key-0123456789abcdef"


def _env(home: Path, database_url: str, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "TRADEWIND_HOME": str(home),
        "TRADEWIND_DAGS_FOLDER": str(home / "dags"),
        "TRADEWIND_DATABASE_URL": database_url,
        **extra,
    }


def _run(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    # stdin is never a terminal here, so a missing password is an error rather than a prompt.
    return subprocess.run(
        [str(TRADEWIND), *args],
        env=env,
        cwd=env["HOME"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in done.stderr, done.stderr
    return [line for line in done.stderr.splitlines() if line.startswith("Error:")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def cli_env(fresh_pg_url: str, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "dags").mkdir()
    env = _env(tmp_path, fresh_pg_url, TRADEWIND_SECRET_KEY=SECRET)
    migrated = _run(env, "db", "migrate")
    assert migrated.returncode == 0, migrated.stderr
    return env


def _settings(env: dict[str, str]) -> Settings:
    return Settings(home=Path(env["TRADEWIND_HOME"]), database_url=env["TRADEWIND_DATABASE_URL"])


def _verify(env: dict[str, str], username: str, password: str) -> bool:
    engine = create_engine_from_settings(_settings(env))
    try:
        with session_scope(make_session_factory(engine)) as session:
            return users.verify_password(session, username, password) is not None
    finally:
        engine.dispose()


# --- tradewind users -------------------------------------------------------------------------------


def test_users_create_list_set_password_and_delete(cli_env: dict[str, str]) -> None:
    created = _run(
        cli_env,
        "users",
        "create",
        "--username",
        "ada",
        "--password",
        "first-pw",
        "--role",
        "Op",
        "--email",
        "ada@example.com",
        "--token",
    )
    assert created.returncode == 0, created.stderr
    assert "User ada created with role Op." in created.stdout
    token = created.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"tw1\.\d+\.[\w-]{40,}", token), created.stdout
    assert "shown only now" in created.stderr

    listed = _run(cli_env, "users", "list", "-o", "json")
    [row] = json.loads(listed.stdout)
    assert (row["username"], row["role"], row["email"], row["active"], row["has_api_token"]) == (
        "ada",
        "Op",
        "ada@example.com",
        True,
        True,
    )

    again = _run(cli_env, "users", "create", "-u", "ada", "-p", "x", "-r", "Op")
    assert again.returncode == 1 and _error_lines(again) == ["Error: user 'ada' already exists"]
    assert _run(cli_env, "users", "create", "-u", "ada", "-p", "x", "-r", "Op", "--exists-ok").returncode == 0
    assert _verify(cli_env, "ada", "first-pw")

    changed = _run({**cli_env, "TRADEWIND_USER_PASSWORD": "second-pw"}, "users", "set-password", "ada")
    assert changed.returncode == 0, changed.stderr
    assert _verify(cli_env, "ada", "second-pw") and not _verify(cli_env, "ada", "first-pw")

    assert _run(cli_env, "users", "delete", "ada").returncode == 0
    assert json.loads(_run(cli_env, "users", "list", "-o", "json").stdout) == []
    gone = _run(cli_env, "users", "delete", "ada")
    assert gone.returncode == 1 and _error_lines(gone) == ["Error: no user named 'ada'"]


def test_users_create_takes_everything_from_the_environment(cli_env: dict[str, str]) -> None:
    env = {
        **cli_env,
        "TRADEWIND_USER_NAME": "admin",
        "TRADEWIND_USER_PASSWORD": "from-env",
        "TRADEWIND_USER_ROLE": "Admin",
    }
    done = _run(env, "users", "create")
    assert done.returncode == 0, done.stderr
    assert _verify(cli_env, "admin", "from-env")


def test_users_create_refuses_an_unknown_role_and_a_missing_password(cli_env: dict[str, str]) -> None:
    bad_role = _run(cli_env, "users", "create", "-u", "x", "-p", "y", "-r", "Root")
    assert bad_role.returncode == 2 and "'Root' is not one of" in bad_role.stderr
    no_password = _run(cli_env, "users", "create", "-u", "x", "-r", "Viewer")
    assert no_password.returncode == 1
    assert _error_lines(no_password) == ["Error: no password: pass --password or set TRADEWIND_USER_PASSWORD"]


# --- tradewind webserver ---------------------------------------------------------------------------


@pytest.fixture
def webserver(
    cli_env: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """A webserver on a free port; ``@pytest.mark.parametrize("webserver", [{"workers": N}], indirect=True)``
    gives it N gunicorn workers."""
    options = getattr(request, "param", {})
    if "workers" in options:
        cli_env = {**cli_env, "TRADEWIND_WEBSERVER_WORKERS": str(options["workers"])}
    port = _free_port()
    log = tmp_path / "webserver.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(TRADEWIND), "webserver", "--host", "127.0.0.1", "--port", str(port)],
            env=cli_env,
            cwd=cli_env["HOME"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/health", process, log)
        yield base, log, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the webserver exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:  # refused while it binds, or (a loaded machine) no answer yet: ask again
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s:\n{log.read_text()}")


def _get_json(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_webserver_answers_health_a_login_and_the_api(cli_env: dict[str, str], webserver) -> None:  # type: ignore[no-untyped-def]
    created = _run(cli_env, "users", "create", "-u", "admin", "-p", "admin-pw", "-r", "Admin", "--token")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    base, log, process = webserver

    status, health = _get_json(f"{base}/health", {})
    assert status == 200 and health["metadatabase"] == {"status": "healthy"}

    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with browser.open(f"{base}/", timeout=10) as redirected:  # anonymous: sent to the login form
        assert redirected.url.startswith(f"{base}/login?next=")
        form = redirected.read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf, form
    body = urllib.parse.urlencode(
        {"username": "admin", "password": "admin-pw", "csrf_token": csrf.group(1), "next": "/"}
    ).encode()
    with browser.open(f"{base}/login", data=body, timeout=10) as home:
        page = home.read().decode()
        assert home.status == 200 and home.url == f"{base}/"
    assert "<h1>DAGs</h1>" in page and '<span class="username">admin</span>' in page
    cookie = next(c for c in jar if c.name == "tradewind_session")
    assert cookie.has_nonstandard_attr("HttpOnly")

    status, listed = _get_json(f"{base}/api/v1/dags", {"Authorization": f"Bearer {token}"})
    assert status == 200 and listed == {"dags": [], "total_entries": 0}
    basic = base64.b64encode(b"admin:admin-pw").decode()
    assert _get_json(f"{base}/api/v1/importErrors", {"Authorization": f"Basic {basic}"})[0] == 200
    status, refused = _get_json(f"{base}/api/v1/dags", {"Authorization": "Bearer tw1.0.wrong"})
    assert status == 401 and refused["status"] == 401

    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    output = log.read_text()
    assert '"GET /health HTTP/1.1" 200' in output  # the access log, on stdout
    assert "sessions signed with TRADEWIND_SECRET_KEY" in output


def test_webserver_with_a_dead_metastore_says_so_in_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path, "postgresql://postgres:s3cret-pw@127.0.0.1:1/nothing", TRADEWIND_SECRET_KEY=SECRET)
    done = _run(env, "webserver", "--port", str(_free_port()), timeout=30)
    assert done.returncode == 1
    [line] = _error_lines(done)
    assert line.startswith("Error: cannot reach the metastore at postgresql://postgres:***@127.0.0.1:1/nothing")
    assert "s3cret-pw" not in done.stderr + done.stdout


def test_webserver_on_a_cluster_metastore_needs_a_secret_key(cli_env: dict[str, str]) -> None:
    env = {key: value for key, value in cli_env.items() if key != "TRADEWIND_SECRET_KEY"}
    done = _run(env, "webserver", "--port", str(_free_port()), timeout=30)
    assert done.returncode == 1
    [line] = _error_lines(done)
    assert line.startswith("Error: TRADEWIND_SECRET_KEY is empty")


def test_webserver_refuses_a_metastore_that_is_not_migrated(fresh_pg_url: str, tmp_path: Path) -> None:
    env = _env(tmp_path, fresh_pg_url, TRADEWIND_SECRET_KEY=SECRET)
    done = _run(env, "webserver", "--port", str(_free_port()), timeout=30)
    assert done.returncode == 1
    [line] = _error_lines(done)
    assert "run `tradewind db migrate`" in line


@pytest.mark.parametrize("webserver", [{"workers": 2}], indirect=True, ids=["two-workers"])
def test_webserver_workers_forked_from_one_built_app_each_use_their_own_connections(
    cli_env: dict[str, str], webserver
) -> None:  # type: ignore[no-untyped-def]
    """The app is built once in gunicorn's master and the workers are forked from it. Many requests
    at once, over both workers, all answer; a worker killed outright is replaced by a fresh fork
    that answers too. A connection shared between processes would garble answers or fail them."""
    created = _run(cli_env, "users", "create", "-u", "admin", "-p", "admin-pw", "-r", "Admin", "--token")
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
    base, log, process = webserver

    def workers() -> list[int]:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def many_requests() -> list[tuple[int, Any]]:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=16) as pool:
            return list(pool.map(lambda _: _get_json(f"{base}/api/v1/dags", headers), range(64)))

    deadline = time.monotonic() + 30
    while len(workers()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(workers()) == 2, log.read_text()
    assert many_requests() == [(200, {"dags": [], "total_entries": 0})] * 64

    killed = workers()[0]
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while (killed in workers() or len(workers()) < 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert killed not in workers() and len(workers()) == 2, log.read_text()
    assert many_requests() == [(200, {"dags": [], "total_entries": 0})] * 64
