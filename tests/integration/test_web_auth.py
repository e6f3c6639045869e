"""Who may do what in the web UI and the REST API: login, roles, CSRF, cookies, API credentials,
and escaping of everything shown — over a real PostgreSQL metastore."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from web_helpers import (
    ACCOUNTS,
    ROLES,
    SECRET_KEY,
    basic_auth,
    csrf_token,
    login,
    make_dag,
    store_dag,
    store_import_error,
    store_raw_dag,
)

from tradewind.errors import ConfigurationError
from tradewind.master.webserver.app import create_app
from tradewind.master.webserver.auth import PUBLIC_ATTRIBUTE, PUBLIC_ENDPOINTS
from tradewind.master.webserver.db import dispose
from tradewind.master.webserver.secret_key import secret_file
from tradewind.metastore import dags, users
from tradewind.settings import Settings

pytestmark = pytest.mark.integration

pytest_plugins = ["web_fixtures"]

DAG_ID = "etl_daily"


@pytest.fixture
def one_dag(web_db: Session) -> str:
    store_dag(web_db, make_dag(DAG_ID, tags=["etl"]))
    web_db.commit()
    return DAG_ID


def _paused(web_db: Session, dag_id: str = DAG_ID) -> bool:
    web_db.expire_all()
    dag = dags.get_dag(web_db, dag_id)
    assert dag is not None
    return dag.is_paused


# --- the permission matrix -------------------------------------------------------------------------

#: (method, path, least role, JSON body) for every route this foundation has; None = public.
ROUTES = [
    ("GET", "/", "Viewer", None),
    ("POST", f"/dags/{DAG_ID}/pause", "Op", None),
    ("POST", "/logout", "Viewer", None),
    ("GET", "/api/v1/dags", "Viewer", None),
    ("GET", f"/api/v1/dags/{DAG_ID}", "Viewer", None),
    ("PATCH", f"/api/v1/dags/{DAG_ID}", "Op", {"is_paused": False}),
    ("GET", "/api/v1/importErrors", "Viewer", None),
    ("GET", "/api/v1/openapi.json", "Viewer", None),
    ("GET", f"/dags/{DAG_ID}/clear", "Viewer", None),
    ("POST", f"/dags/{DAG_ID}/clear", "Op", None),
    ("GET", f"/dags/{DAG_ID}/trigger", "Viewer", None),
    ("GET", f"/dags/{DAG_ID}/runs", "Viewer", None),
    ("GET", "/runs", "Viewer", None),
    ("GET", "/audit-log", "Viewer", None),
    ("GET", f"/api/v1/dags/{DAG_ID}/dagRuns", "Viewer", None),
    ("POST", f"/api/v1/dags/{DAG_ID}/clearTaskInstances", "Op", {}),
    ("GET", "/api/v1/pools", "Viewer", None),
    ("GET", "/api/v1/pools/default_pool", "Viewer", None),
    ("GET", "/users", "Admin", None),
    ("GET", "/pools", "Admin", None),
    ("GET", "/variables", "Admin", None),
    ("GET", "/connections", "Admin", None),
    ("POST", "/variables", "Admin", None),
    ("GET", "/api/v1/variables", "Admin", None),
    ("GET", "/api/v1/connections", "Admin", None),
    ("POST", "/api/v1/pools", "Admin", {"name": "extra_pool", "slots": 3}),
    ("GET", "/api/v1/eventLogs", "Viewer", None),
    ("GET", "/health", None, None),
    ("GET", "/api/v1/health", None, None),
    ("GET", "/login", None, None),
    ("GET", "/static/tradewind.css", None, None),
]


def _allowed(role: str | None, least: str | None) -> bool:
    return least is None or (role is not None and ROLES.index(role) >= ROLES.index(least))


def _page_request(client, method: str, path: str):  # type: ignore[no-untyped-def]
    data = {"csrf_token": csrf_token(client), "is_paused": "true"} if method == "POST" else None
    return client.open(path, method=method, data=data)


@pytest.mark.parametrize("role", [None, *ROLES], ids=["anonymous", *ROLES])
def test_page_permission_matrix(role: str | None, client_as, one_dag: str) -> None:  # type: ignore[no-untyped-def]
    for method, path, least, _body in ROUTES:
        if path.startswith("/api/"):
            continue
        client = client_as(role)  # a fresh login each time: /logout ends the session
        response = _page_request(client, method, path)
        if _allowed(role, least):
            assert response.status_code in (200, 302), (method, path, role, response.status_code)
            if response.status_code == 302:
                assert not response.headers["Location"].startswith("/login?"), (method, path, role)
        elif role is None:
            assert response.status_code == 302, (method, path)
            assert response.headers["Location"].startswith("/login?next="), (method, path)
        else:
            assert response.status_code == 403, (method, path, role)
            assert f"needs the {least} role" in response.text


@pytest.mark.parametrize("role", [None, *ROLES], ids=["anonymous", *ROLES])
def test_api_permission_matrix(role: str | None, web_app: Flask, one_dag: str) -> None:
    client = web_app.test_client()
    auth = basic_auth(role) if role is not None else None
    for method, path, least, body in ROUTES:
        if not path.startswith("/api/"):
            continue
        response = client.open(path, method=method, json=body, auth=auth)
        if _allowed(role, least):
            assert response.status_code == 200, (method, path, role, response.text)
        else:
            expected = 401 if role is None else 403
            assert response.status_code == expected, (method, path, role, response.status_code)
            assert response.get_json() == {
                "title": "Unauthorized" if role is None else "Forbidden",
                "detail": response.get_json()["detail"],
                "status": expected,
            }
            assert response.mimetype == "application/problem+json"


def test_every_route_but_the_public_ones_refuses_anonymous_requests(web_app: Flask) -> None:
    """Also covers routes added later: login is the default, ``@public`` the exception."""
    client = web_app.test_client()
    public = set()
    for rule in web_app.url_map.iter_rules():
        view = web_app.view_functions[rule.endpoint]
        if rule.endpoint in PUBLIC_ENDPOINTS or getattr(view, PUBLIC_ATTRIBUTE, False):
            public.add(rule.rule)
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"x_\1", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method)
            if rule.rule.startswith("/api/"):
                assert response.status_code == 401, (method, rule.rule)
            else:
                assert response.status_code == 302, (method, rule.rule)
                assert response.headers["Location"].startswith("/login?next="), (method, rule.rule)
    # /api/v1/version needs no login, as in Airflow.
    assert public == {"/login", "/health", "/api/v1/health", "/api/v1/version", "/static/<path:filename>"}


# --- login, logout, sessions ---------------------------------------------------------------------


def test_login_with_a_wrong_password_fails_with_a_message(web_app: Flask) -> None:
    client = web_app.test_client()
    response = login(client, "op", "not-the-password")
    assert response.status_code == 401
    assert "Invalid username or password." in response.text
    assert client.get("/").status_code == 302
    unknown = login(client, "nobody", "op-password")
    assert unknown.status_code == 401 and "Invalid username or password." in unknown.text


def test_login_goes_back_to_the_page_asked_for_but_never_to_another_site(web_app: Flask) -> None:
    client = web_app.test_client()
    first = client.get("/?search=etl")
    assert first.headers["Location"] == "/login?next=/?search%3Detl"
    assert login(client, "viewer", "viewer-password", next="/?search=etl").headers["Location"] == "/?search=etl"
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        other = web_app.test_client()
        assert login(other, "viewer", "viewer-password", next=target).headers["Location"] == "/"


def test_login_records_the_time_of_the_last_login(web_app: Flask, web_db: Session) -> None:
    login(web_app.test_client(), "op", "op-password")
    user = users.get_user_by_name(web_db, "op")
    assert user is not None and user.last_login is not None


def test_logout_ends_the_session(client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Op")
    assert client.get("/").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_a_password_change_ends_open_sessions(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Op")
    users.set_password(web_db, "op", "a-new-password", hash_method="pbkdf2:sha256:1000")
    web_db.commit()
    assert client.get("/").status_code == 302


def test_a_deleted_users_session_and_token_stop_working(client_as, web_app: Flask, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Op")
    token = users.issue_api_token(web_db, "op")
    web_db.commit()
    users.delete_user(web_db, "op")
    web_db.commit()
    assert client.get("/").status_code == 302
    api = web_app.test_client().get("/api/v1/dags", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401


def test_session_cookie_is_httponly_and_samesite_lax(web_app: Flask) -> None:
    response = login(web_app.test_client(), "viewer", "viewer-password")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("tradewind_session="))
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "secure" not in flags


def test_session_cookie_is_secure_when_configured(web_settings: Settings, web_app: Flask) -> None:
    app = create_app(web_settings.with_overrides(webserver_cookie_secure=True))
    try:
        response = login(app.test_client(), "viewer", "viewer-password")
        cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("tradewind_session="))
        assert "secure" in [part.strip().lower() for part in cookie.split(";")]
    finally:
        dispose(app)


def test_pages_send_headers_against_framing_sniffing_and_caching(client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as("Viewer").get("/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


# --- CSRF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["missing", "wrong"])
def test_a_form_post_without_the_sessions_csrf_token_is_refused(
    token: str | None,
    client_as,
    one_dag: str,
    web_db: Session,  # type: ignore[no-untyped-def]
) -> None:
    client = client_as("Op")
    data = {"is_paused": "true"} | ({"csrf_token": token} if token else {})
    response = client.post(f"/dags/{DAG_ID}/pause", data=data)
    assert response.status_code == 403
    assert "CSRF token is missing or does not match" in response.text
    assert _paused(web_db) is False


def test_the_login_form_needs_its_csrf_token_too(web_app: Flask) -> None:
    response = web_app.test_client().post("/login", data={"username": "op", "password": "op-password"})
    assert response.status_code == 403


def test_an_api_call_by_browser_session_needs_the_csrf_header(client_as, one_dag: str, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Op")
    refused = client.patch(f"/api/v1/dags/{DAG_ID}", json={"is_paused": True})
    assert refused.status_code == 403
    assert "X-CSRFToken" in refused.get_json()["detail"]
    assert _paused(web_db) is False
    accepted = client.patch(
        f"/api/v1/dags/{DAG_ID}", json={"is_paused": True}, headers={"X-CSRFToken": csrf_token(client)}
    )
    assert accepted.status_code == 200
    assert _paused(web_db) is True


def test_an_api_call_with_basic_auth_or_a_token_needs_no_csrf_token(
    web_app: Flask, one_dag: str, web_db: Session
) -> None:
    client = web_app.test_client()
    assert client.patch(f"/api/v1/dags/{DAG_ID}", json={"is_paused": True}, auth=basic_auth("Op")).status_code == 200
    token = users.issue_api_token(web_db, "op")
    web_db.commit()
    response = client.patch(
        f"/api/v1/dags/{DAG_ID}", json={"is_paused": False}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert _paused(web_db) is False


# --- API credentials -----------------------------------------------------------------------------


def test_api_takes_basic_auth_and_refuses_a_wrong_password(web_app: Flask) -> None:
    client = web_app.test_client()
    assert client.get("/api/v1/dags", auth=basic_auth("Viewer")).status_code == 200
    refused = client.get("/api/v1/dags", auth=("viewer", "wrong"))
    assert refused.status_code == 401
    # Never a Basic challenge: a browser would then replay the credentials on forged requests.
    assert refused.headers["WWW-Authenticate"].lower().startswith("bearer")


def test_api_takes_a_token_and_refuses_a_wrong_an_old_or_an_expired_one(web_app: Flask, web_db: Session) -> None:
    client = web_app.test_client()
    first = users.issue_api_token(web_db, "viewer")
    second = users.issue_api_token(web_db, "viewer")
    expired = users.issue_api_token(web_db, "admin", ttl=timedelta(hours=1), now=datetime.now(UTC) - timedelta(hours=2))
    web_db.commit()

    def status(token: str) -> int:
        return client.get("/api/v1/dags", headers={"Authorization": f"Bearer {token}"}).status_code

    assert status(second) == 200
    assert status(first) == 401  # replaced by the second
    assert status(expired) == 401
    assert status(second[:-2] + "xx") == 401
    assert status("not-a-token") == 401
    # An expiry edited into a stolen token does not revive it: the stored hash covers the whole token.
    prefix, _, secret = expired.split(".")
    assert status(f"{prefix}.0.{secret}") == 401


def test_api_credentials_do_not_log_in_to_pages(web_app: Flask) -> None:
    response = web_app.test_client().get("/", auth=basic_auth("Admin"))
    assert response.status_code == 302


# --- escaping --------------------------------------------------------------------------------------

SCRIPT = "<script>alert('x')</script>"


def test_script_in_a_dag_id_tag_owner_or_traceback_is_shown_as_text(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    store_raw_dag(web_db, f"evil{SCRIPT}", tags=[f"tag{SCRIPT}"], owners=f"owner{SCRIPT}", description=f"about{SCRIPT}")
    store_import_error(
        web_db, f"/dags/broken{SCRIPT}.py", f"Traceback (most recent call last):\n  {SCRIPT}\nSyntaxError"
    )
    web_db.commit()
    for role in ("Viewer", "Op"):
        page = client_as(role).get("/")
        assert page.status_code == 200
        assert "<script>" not in page.text
        assert page.text.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") >= 5


def test_script_in_a_search_is_shown_as_text(client_as) -> None:  # type: ignore[no-untyped-def]
    page = client_as("Viewer").get("/", query_string={"search": SCRIPT, "tags": SCRIPT})
    assert page.status_code == 200
    assert "<script>" not in page.text


# --- the secret key --------------------------------------------------------------------------------


def test_a_cluster_webserver_refuses_to_start_without_a_secret_key(web_settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="TRADEWIND_SECRET_KEY is empty"):
        create_app(web_settings.with_overrides(secret_key="", home=tmp_path))


def test_a_standalone_webserver_generates_its_key_once_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    first, second = create_app(settings), create_app(settings)
    try:
        assert first.secret_key == second.secret_key
        assert first.secret_key and first.secret_key != SECRET_KEY
        assert secret_file(settings).read_text().strip() == first.secret_key
        assert secret_file(settings).stat().st_mode & 0o077 == 0
    finally:
        dispose(first)
        dispose(second)


def test_roles_are_ranked_viewer_op_admin() -> None:
    assert [ACCOUNTS[r].role for r in ROLES] == list(users.ROLES)
