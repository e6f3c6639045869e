"""The Admin pages and API (users, pools, variables, connections): who may use them, what of a
secret is shown, and the refusals (default_pool, CSRF) — over a real PostgreSQL metastore."""

from __future__ import annotations

import dataclasses
import json
import socket

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from web_helpers import ROLES, basic_auth, csrf_token

from tradewind.master.webserver.db import SETTINGS_KEY
from tradewind.metastore import connections, pools, users, variables

pytestmark = pytest.mark.integration

pytest_plugins = ["web_fixtures"]

SECRET = "s3cr3t-hunter2"

#: (method, path, JSON body) of every admin route; each needs Admin.
PAGES = [
    ("GET", "/users"),
    ("POST", "/users"),
    ("POST", "/users/op/delete"),
    ("GET", "/pools"),
    ("POST", "/pools"),
    ("POST", "/pools/p1/delete"),
    ("GET", "/variables"),
    ("POST", "/variables"),
    ("POST", "/variables/v1/delete"),
    ("GET", "/connections"),
    ("POST", "/connections"),
    ("POST", "/connections/c1/delete"),
]
API = [
    ("GET", "/api/v1/variables", None),
    ("GET", "/api/v1/variables/v1", None),
    ("POST", "/api/v1/variables", {"key": "v2", "value": "x"}),
    ("PATCH", "/api/v1/variables/v1", {"value": "y"}),
    ("DELETE", "/api/v1/variables/v1", None),
    ("GET", "/api/v1/connections", None),
    ("GET", "/api/v1/connections/c1", None),
    ("POST", "/api/v1/connections", {"connection_id": "c2", "conn_type": "http"}),
    ("PATCH", "/api/v1/connections/c1", {"host": "h"}),
    ("DELETE", "/api/v1/connections/c1", None),
    ("POST", "/api/v1/pools", {"name": "p2", "slots": 1}),
    ("PATCH", "/api/v1/pools/p1", {"slots": 4}),
    ("DELETE", "/api/v1/pools/p1", None),
]


@pytest.fixture
def seeded(web_db: Session) -> None:
    variables.set_variable(web_db, "v1", "plain")
    variables.set_variable(web_db, "db_password", SECRET)
    connections.set_connection(
        web_db,
        "c1",
        {
            "conn_type": "postgres",
            "host": "db",
            "login": "etl",
            "password": SECRET,
            "port": 5432,
            "extra": f'{{"api_key": "{SECRET}", "region": "eu"}}',
        },
    )
    pools.set_pool(web_db, "p1", 2)
    web_db.commit()


@pytest.mark.parametrize("role", ["Viewer", "Op"])
def test_viewer_and_op_get_403_on_admin_pages_and_api(role: str, client_as, web_app: Flask, seeded: None) -> None:  # type: ignore[no-untyped-def]
    for method, path in PAGES:
        client = client_as(role)
        response = client.open(path, method=method, data={"csrf_token": csrf_token(client)})
        assert response.status_code == 403, (method, path)
    client = web_app.test_client()
    for method, path, body in API:
        response = client.open(path, method=method, json=body, auth=basic_auth(role))
        assert response.status_code == 403, (method, path)


def test_admin_may_use_every_admin_route(client_as, web_app: Flask, seeded: None) -> None:  # type: ignore[no-untyped-def]
    for method, path in PAGES:
        client = client_as("Admin")
        response = client.open(path, method=method, data={"csrf_token": csrf_token(client), "confirmed": "yes"})
        assert response.status_code in (200, 302), (method, path)
    for method, path, body in API:
        if path.endswith(("/v1", "/c1", "/p1")) and method != "GET":
            continue  # deleted by the page round above
        response = web_app.test_client().open(path, method=method, json=body, auth=basic_auth("Admin"))
        assert response.status_code in (200, 404), (method, path, response.text)


def test_viewer_may_read_pools_through_the_api(web_app: Flask, seeded: None) -> None:
    body = web_app.test_client().get("/api/v1/pools", auth=basic_auth("Viewer")).get_json()
    assert {p["name"]: p["open_slots"] for p in body["pools"]}["p1"] == 2


def test_a_secret_looking_variable_is_masked_in_the_page_and_the_api(client_as, web_app: Flask, seeded: None) -> None:  # type: ignore[no-untyped-def]
    page = client_as("Admin").get("/variables").text
    assert "db_password" in page and "***" in page and SECRET not in page and "plain" in page
    client = web_app.test_client()
    listed = client.get("/api/v1/variables", auth=basic_auth("Admin")).get_json()
    assert {v["key"]: v["value"] for v in listed["variables"]} == {"db_password": "***", "v1": "plain"}
    one = client.get("/api/v1/variables/db_password", auth=basic_auth("Admin")).get_json()
    assert one["value"] == "***"


def test_a_connection_password_never_appears_in_any_response(client_as, web_app: Flask, seeded: None) -> None:  # type: ignore[no-untyped-def]
    bodies = [client_as("Admin").get("/connections").text]
    client = web_app.test_client()
    for path in ("/api/v1/connections", "/api/v1/connections/c1"):
        bodies.append(client.get(path, auth=basic_auth("Admin")).text)
    bodies.append(client.patch("/api/v1/connections/c1", json={"password": SECRET}, auth=basic_auth("Admin")).text)
    bodies.append(
        client.post(
            "/api/v1/connections",
            json={"connection_id": "c3", "conn_type": "http", "password": SECRET},
            auth=basic_auth("Admin"),
        ).text
    )
    for body in bodies:
        assert SECRET not in body
        assert "***" in body
    one = client.get("/api/v1/connections/c1", auth=basic_auth("Admin")).get_json()
    assert one["password"] == "***" and '"region": "eu"' in one["extra"] and one["login"] == "etl"


def test_the_stored_values_are_the_ones_given(web_db: Session, seeded: None) -> None:
    assert variables.get_variable(web_db, "db_password").value == SECRET
    assert connections.get_connection(web_db, "c1").password == SECRET


def test_default_pool_cannot_be_deleted(client_as, web_app: Flask, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Admin")
    form = {"csrf_token": csrf_token(client), "confirmed": "yes"}
    response = client.post("/pools/default_pool/delete", data=form, follow_redirects=True)
    assert "cannot be deleted" in response.text
    api = web_app.test_client().delete("/api/v1/pools/default_pool", auth=basic_auth("Admin"))
    # 400, as Airflow answers.
    assert api.status_code == 400 and "cannot be deleted" in api.get_json()["detail"]
    assert pools.get_pool(web_db, "default_pool") is not None


def test_pool_slots_can_be_set_from_the_page(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Admin")
    client.post("/pools", data={"csrf_token": csrf_token(client), "name": "etl", "slots": "7"})
    pool = pools.get_pool(web_db, "etl")
    assert pool is not None and pool.slots == 7


def test_admin_forms_need_the_csrf_token(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Admin")
    for path, data in (
        ("/variables", {"key": "k", "value": "v"}),
        ("/pools", {"name": "x", "slots": "1"}),
        ("/users", {"username": "u", "password": "p", "role": "Viewer"}),
        ("/connections", {"conn_id": "c", "conn_type": "http"}),
    ):
        assert client.post(path, data=data).status_code == 403, path
    web_db.expire_all()
    assert variables.list_variables(web_db) == [] and users.get_user_by_name(web_db, "u") is None


def test_a_user_is_created_with_a_role_and_deleted(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    client = client_as("Admin")
    client.post(
        "/users", data={"csrf_token": csrf_token(client), "username": "newbie", "password": "pw-123", "role": "Op"}
    )
    created = users.get_user_by_name(web_db, "newbie")
    assert created is not None and created.role == "Op"
    assert "newbie" in client.get("/users").text
    client.post("/users/newbie/delete", data={"csrf_token": csrf_token(client), "confirmed": "yes"})
    assert users.get_user_by_name(web_db, "newbie") is None
    own = client.post("/users/admin/delete", data={"csrf_token": csrf_token(client)}, follow_redirects=True)
    assert "cannot delete your own account" in own.text


@pytest.mark.parametrize(
    ("path", "noun", "key", "still_there"),
    [
        ("/variables/v1/delete", "variable", "v1", lambda db: any(v.key == "v1" for v in variables.list_variables(db))),
        (
            "/connections/c1/delete",
            "connection",
            "c1",
            lambda db: any(c.conn_id == "c1" for c in connections.list_connections(db)),
        ),
        ("/pools/p1/delete", "pool", "p1", lambda db: pools.get_pool(db, "p1") is not None),
        ("/users/op/delete", "user", "op", lambda db: users.get_user_by_name(db, "op") is not None),
    ],
)
def test_an_admin_delete_asks_first_and_deletes_only_once_confirmed(  # type: ignore[no-untyped-def]
    client_as, web_db: Session, seeded: None, path: str, noun: str, key: str, still_there
) -> None:
    client = client_as("Admin")
    # The list's Delete button: a page asking to confirm, and nothing deleted yet.
    asked = client.post(path, data={"csrf_token": csrf_token(client)})
    assert asked.status_code == 200
    assert f"Delete {noun} {key}?" in asked.text and "cannot be undone" in asked.text
    assert '<input type="hidden" name="confirmed" value="yes">' in asked.text
    web_db.expire_all()
    assert still_there(web_db)
    done = client.post(path, data={"csrf_token": csrf_token(client), "confirmed": "yes"}, follow_redirects=True)
    assert f"{noun.capitalize()} {key} deleted." in done.text
    web_db.expire_all()
    assert not still_there(web_db)


def test_script_in_a_variable_value_is_shown_as_text(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    variables.set_variable(web_db, "banner", "<script>alert(1)</script>")
    web_db.commit()
    page = client_as("Admin").get("/variables").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_admin_menu_links_the_new_pages(client_as) -> None:  # type: ignore[no-untyped-def]
    page = client_as("Admin").get("/").text
    for path in ("/users", "/pools", "/variables", "/connections"):
        assert f'href="{path}"' in page, path


def test_roles_are_the_three_the_matrix_covers() -> None:
    assert tuple(users.ROLES) == ROLES


def test_a_connection_whose_extra_is_not_a_json_object_is_refused_on_the_form_and_the_api(  # type: ignore[no-untyped-def]
    client_as, web_app: Flask, web_db: Session
) -> None:
    client = client_as("Admin")
    form = {"csrf_token": csrf_token(client), "conn_id": "shop", "conn_type": "http", "host": "shop.example"}
    bad = client.post("/connections", data={**form, "extra": "{'timeout': 5}"}, follow_redirects=True)
    assert "connection &#39;shop&#39;: the extra is not valid JSON" in bad.text
    listed = client.post("/connections", data={**form, "extra": "[1, 2]"}, follow_redirects=True)
    assert "the extra must be a JSON object such as" in listed.text
    assert connections.list_connections(web_db) == []
    api, auth = web_app.test_client(), basic_auth("Admin")
    body = {"connection_id": "shop", "conn_type": "http", "extra": "{not json"}
    refused = api.post("/api/v1/connections", json=body, auth=auth)
    assert refused.status_code == 400 and "the extra is not valid JSON" in refused.get_json()["detail"]
    good = client.post("/connections", data={**form, "extra": '{"timeout": 5}'}, follow_redirects=True)
    assert "Connection shop saved." in good.text
    patched = api.patch("/api/v1/connections/shop", json={"extra": "nope"}, auth=auth)
    assert patched.status_code == 400
    web_db.expire_all()
    assert connections.get_connection(web_db, "shop").extra == '{"timeout": 5}'


# --- editing ---------------------------------------------------------------------------------------


def test_editing_a_connection_keeps_its_password_and_masked_extra_values(
    client_as, web_db: Session, seeded: None
) -> None:  # type: ignore[no-untyped-def]
    """An Admin opens c1 to change its host: the form shows every field but the password, the
    extra's secret as ***; saved with the password empty and the *** untouched, both secrets stay."""
    admin = client_as("Admin")
    page = admin.get("/connections?edit=c1").text
    assert "Edit connection c1" in page and 'name="host" value="db"' in page
    assert SECRET not in page and "&#34;api_key&#34;: &#34;***&#34;" in page
    assert '<option value="postgres" selected>Postgres</option>' in page
    saved = admin.post(
        "/connections",
        data={
            "csrf_token": csrf_token(admin),
            "editing": "c1",
            "conn_id": "c1",
            "conn_type": "postgres",
            "host": "db2",
            "login": "etl",
            "port": "5432",
            "password": "",
            "extra": '{"api_key": "***", "region": "us"}',
        },
    )
    assert saved.status_code == 302
    web_db.expire_all()
    stored = connections.get_connection(web_db, "c1")
    assert (stored.host, stored.password) == ("db2", SECRET)
    assert json.loads(stored.extra or "") == {"api_key": SECRET, "region": "us"}
    assert admin.get("/connections?edit=nope").status_code == 404


def test_the_test_button_connects_with_what_the_form_holds_when_allowed(  # type: ignore[no-untyped-def]
    client_as, web_app: Flask, web_db: Session, tmp_path
) -> None:
    admin = client_as("Admin")
    form = {"csrf_token": csrf_token(admin), "conn_id": "local", "conn_type": "sqlite", "host": str(tmp_path / "t.db")}
    off = admin.post("/connections/test", data=form)
    assert off.status_code == 403 and "TRADEWIND_WEBSERVER_TEST_CONNECTION" in off.text
    assert 'disabled title="Testing is off' in admin.get("/connections").text

    web_app.config[SETTINGS_KEY] = dataclasses.replace(web_app.config[SETTINGS_KEY], webserver_test_connection=True)
    worked = admin.post("/connections/test", data=form)
    assert worked.status_code == 200 and "Connection test succeeded" in worked.text
    assert f'name="host" value="{tmp_path / "t.db"}"' in worked.text, "the form keeps what was typed"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    refused = admin.post(
        "/connections/test",
        data={**form, "conn_type": "postgres", "host": "127.0.0.1", "port": str(closed_port), "login": "x"},
    )
    assert refused.status_code == 200 and "Connection test failed" in refused.text
    assert connections.list_connections(web_db) == [], "testing saves nothing"


def test_variables_pools_and_users_are_edited_in_place(client_as, web_db: Session, seeded: None) -> None:  # type: ignore[no-untyped-def]
    admin = client_as("Admin")
    page = admin.get("/variables?edit=db_password").text
    assert "Edit variable db_password" in page and SECRET not in page and ">***</textarea>" in page
    admin.post(
        "/variables",
        data={
            "csrf_token": csrf_token(admin),
            "editing": "1",
            "key": "db_password",
            "value": "***",
            "description": "d",
        },
    )
    web_db.expire_all()
    kept = variables.get_variable(web_db, "db_password")
    assert (kept.value, kept.description) == (SECRET, "d"), "*** sent back keeps the secret"

    assert 'name="slots" type="number" min="0" required value="2"' in admin.get("/pools?edit=p1").text
    admin.post("/pools", data={"csrf_token": csrf_token(admin), "name": "p1", "slots": "7", "description": "x"})
    web_db.expire_all()
    assert pools.get_pool(web_db, "p1").slots == 7

    assert "Edit user op" in admin.get("/users?edit=op").text
    changed = admin.post("/users/op", data={"csrf_token": csrf_token(admin), "role": "Viewer", "email": "op@x.io"})
    assert changed.status_code == 302
    web_db.expire_all()
    op = users.get_user_by_name(web_db, "op")
    assert op is not None and (op.role, op.email) == ("Viewer", "op@x.io")
    own = admin.post("/users/admin", data={"csrf_token": csrf_token(admin), "role": "Op"})
    assert own.status_code == 302
    web_db.expire_all()
    me = users.get_user_by_name(web_db, "admin")
    assert me is not None and me.role == "Admin", "an Admin cannot demote themselves"
