"""Sessions end when they should and passwords cannot be guessed quickly: a cookie copied before
logout, a password change or an Admin's "end sessions" is worth nothing afterwards, and a run of
wrong passwords through the login form or HTTP basic auth meets a back-off every webserver
process shares — over a real PostgreSQL metastore."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import Cli
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from web_helpers import ACCOUNTS, csrf_token, login, make_dag, store_dag

from tradewind.master.webserver.app import create_app
from tradewind.master.webserver.auth import SESSION_COOKIE_NAME
from tradewind.master.webserver.db import dispose
from tradewind.metastore import audit, dags, users
from tradewind.settings import Settings

pytestmark = pytest.mark.integration

pytest_plugins = ["web_fixtures"]

DAG_ID = "etl_daily"


@pytest.fixture
def one_dag(web_db: Session) -> str:
    store_dag(web_db, make_dag(DAG_ID), paused=True)
    web_db.commit()
    return DAG_ID


def _copy_of(client: FlaskClient, app: Flask) -> FlaskClient:
    """Another browser holding the same session cookie (what someone who copied it has)."""
    cookie = client.get_cookie(SESSION_COOKIE_NAME)
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(SESSION_COOKIE_NAME, cookie.value)
    return thief


def _paused(web_db: Session) -> bool:
    web_db.expire_all()
    dag = dags.get_dag(web_db, DAG_ID)
    assert dag is not None
    return dag.is_paused


def _logged_out(client: FlaskClient) -> bool:
    response = client.get("/")
    return response.status_code == 302 and response.headers["Location"].startswith("/login?")


# --- sessions --------------------------------------------------------------------------------------


def test_a_cookie_copied_before_logout_can_neither_read_nor_write_after_it(
    client_as, web_app: Flask, web_db: Session, one_dag: str
) -> None:  # type: ignore[no-untyped-def]
    owner = client_as("Op")
    token = csrf_token(owner)
    copy = _copy_of(owner, web_app)
    assert copy.get("/").status_code == 200  # the copy works while the session lives

    owner.post("/logout", data={"csrf_token": token})

    assert _logged_out(copy)
    unpause = copy.post(f"/dags/{DAG_ID}/pause", data={"csrf_token": token, "is_paused": "false"})
    assert unpause.status_code == 302 and unpause.headers["Location"].startswith("/login?")
    assert _paused(web_db)
    api = copy.patch(f"/api/v1/dags/{DAG_ID}", json={"is_paused": False}, headers={"X-CSRFToken": token})
    assert api.status_code == 401
    assert _paused(web_db)


def test_logging_out_in_one_browser_keeps_the_users_other_browsers_logged_in(client_as) -> None:  # type: ignore[no-untyped-def]
    laptop, phone = client_as("Viewer"), client_as("Viewer")
    laptop.post("/logout", data={"csrf_token": csrf_token(laptop)})
    assert _logged_out(laptop)
    assert phone.get("/").status_code == 200


def test_a_password_change_from_the_cli_ends_every_open_session(
    client_as, web_settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    first, second = client_as("Op"), client_as("Op")
    cli = Cli(tmp_path, tmp_path / "dags", web_settings.database_url).with_env(TRADEWIND_USER_PASSWORD="changed-pw")
    result = cli("users", "set-password", "op")
    assert result.returncode == 0, result
    assert _logged_out(first) and _logged_out(second)


def test_an_admin_ends_a_users_sessions_from_the_users_page(client_as, web_app: Flask, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    laptop, phone = client_as("Op"), client_as("Op")
    admin = client_as("Admin")
    page = admin.get("/users")
    assert page.status_code == 200 and "Open sessions" in page.text

    response = admin.post("/users/op/end-sessions", data={"csrf_token": csrf_token(admin)}, follow_redirects=True)

    assert "Ended 2 open session(s) of op" in response.text
    assert _logged_out(laptop) and _logged_out(phone)
    assert admin.get("/").status_code == 200
    # HTTP basic auth on the API is not a session: it keeps working.
    api = web_app.test_client().get("/api/v1/dags", auth=(ACCOUNTS["Op"].username, ACCOUNTS["Op"].password))
    assert api.status_code == 200
    [event] = [e for e in audit.list_events(web_db) if e.event == "user.end_sessions"]
    assert event.owner == "admin" and event.extra == {"username": "op", "sessions": 2}


def test_users_end_sessions_on_the_command_line_logs_a_user_out_everywhere(
    client_as, web_settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    browser = client_as("Viewer")
    cli = Cli(tmp_path, tmp_path / "dags", web_settings.database_url)

    result = cli("users", "end-sessions", "viewer")

    assert result.returncode == 0, result
    assert "Ended 1 open session(s) of viewer." in result.stdout
    assert _logged_out(browser)
    unknown = cli("users", "end-sessions", "nobody")
    assert unknown.returncode == 1 and unknown.error_line == "Error: no user named 'nobody'"


def test_an_expired_session_is_over_even_with_a_cookie_that_claims_otherwise(
    web_settings: Settings, web_app: Flask
) -> None:
    short = create_app(web_settings.with_overrides(webserver_session_minutes=0))
    try:
        client = short.test_client()
        assert login(client, "viewer", "viewer-password").status_code == 302
        assert _logged_out(client)
    finally:
        dispose(short)


# --- the login back-off ----------------------------------------------------------------------------


@pytest.fixture
def guarded_app(web_settings: Settings, web_app: Flask) -> Iterator[Flask]:
    """The app with a short back-off: 3 free failures per account, 6 per address, waits from 0.5 s."""
    app = create_app(
        web_settings.with_overrides(
            login_max_failures=3,
            login_max_failures_per_address=6,
            login_backoff_seconds=0.5,
            login_backoff_max_seconds=1.0,
        )
    )
    app.config["TESTING"] = True
    yield app
    dispose(app)


def _wait_until_accepted(attempt, limit: float = 5.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while True:
        response = attempt()
        if response.status_code != 429 or time.monotonic() > deadline:
            return response
        time.sleep(min(0.2, float(response.headers["Retry-After"])))


def test_forty_wrong_passwords_in_a_row_then_the_right_one_is_refused_with_429(web_app: Flask, web_db: Session) -> None:
    """The attack with the default settings: the right password after a burst is not even checked."""
    client = web_app.test_client()
    answers = [login(client, "admin", f"guess-{n}").status_code for n in range(40)]
    assert answers[:5] == [401] * 5
    assert set(answers[5:]) == {429}

    right = login(client, "admin", "admin-password")

    assert right.status_code == 429
    assert int(right.headers["Retry-After"]) >= 1
    assert "Too many failed logins for this account or from this address" in right.text
    assert _logged_out(client)
    [event] = [e for e in audit.list_events(web_db) if e.event == "login.throttled"]
    assert event.owner == "admin"
    assert event.extra["account_failures"] == 5 and event.extra["address"] == "127.0.0.1"


def test_the_back_off_ends_by_itself_and_a_success_clears_the_accounts_count(guarded_app: Flask) -> None:
    client = guarded_app.test_client()
    for n in range(3):
        assert login(client, "op", f"guess-{n}").status_code == 401
    assert login(client, "op", "op-password").status_code == 429

    accepted = _wait_until_accepted(lambda: login(client, "op", "op-password"))

    assert accepted.status_code == 302
    # The count started again: three more wrong passwords before the next wait.
    other = guarded_app.test_client()
    assert [login(other, "op", f"again-{n}").status_code for n in range(3)] == [401, 401, 401]


def test_many_accounts_tried_from_one_address_meet_the_address_back_off(guarded_app: Flask) -> None:
    client = guarded_app.test_client()
    answers = [login(client, f"user{n}", "guess").status_code for n in range(6)]
    assert answers == [401] * 6

    # Another account, never tried before, from the same address: the address must wait.
    response = login(client, "viewer", "viewer-password")

    assert response.status_code == 429
    assert _wait_until_accepted(lambda: login(client, "viewer", "viewer-password")).status_code == 302


def test_basic_auth_on_the_api_meets_the_same_back_off(guarded_app: Flask) -> None:
    client = guarded_app.test_client()
    for n in range(3):
        assert client.get("/api/v1/dags", auth=("op", f"guess-{n}")).status_code == 401

    response = client.get("/api/v1/dags", auth=("op", "op-password"))

    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    assert "Too many failed logins" in response.get_json()["detail"]
    assert int(response.headers["Retry-After"]) >= 1
    # The login form counts against the same account.
    assert login(guarded_app.test_client(), "op", "op-password").status_code == 429
    ok = _wait_until_accepted(lambda: client.get("/api/v1/dags", auth=("op", "op-password")))
    assert ok.status_code == 200


def test_every_webserver_process_shares_the_counters(guarded_app: Flask, web_settings: Settings) -> None:
    """Two apps over one metastore stand for two webserver processes behind a load balancer."""
    second = create_app(guarded_app.config["TRADEWIND_SETTINGS"])
    try:
        first_client, second_client = guarded_app.test_client(), second.test_client()
        for n in range(3):
            client = first_client if n % 2 == 0 else second_client
            assert login(client, "admin", f"guess-{n}").status_code == 401
        assert login(second_client, "admin", "admin-password").status_code == 429
    finally:
        dispose(second)


def test_an_api_token_is_not_held_back_by_failed_passwords(guarded_app: Flask, web_db: Session) -> None:
    token = users.issue_api_token(web_db, "op")
    web_db.commit()
    client = guarded_app.test_client()
    for n in range(5):
        client.get("/api/v1/dags", auth=("op", f"guess-{n}"))
    assert client.get("/api/v1/dags", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_newline_in_next_is_ignored_and_the_login_still_works(web_app: Flask) -> None:
    client = web_app.test_client()
    response = login(client, "viewer", "viewer-password", next="/\r\nSet-Cookie: evil=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "evil" not in str(response.headers)
    page = client.get("/login?next=/%0d%0aX-Evil:%201")
    assert page.status_code == 200 and "X-Evil" not in str(page.headers)
