"""Fixtures of the web tests, loaded by a test module with ``pytest_plugins = ["web_fixtures"]``:
the Flask app over a real PostgreSQL metastore emptied before each test, holding one user of each
role (``web_app``), a session on that metastore (``web_db``) and logged-in clients (``client_as``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_contract import watch_answers
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from web_helpers import ACCOUNTS, FAST_HASH, SECRET_KEY, empty_metastore, login

from tradewind.master.webserver.app import create_app
from tradewind.master.webserver.db import dispose, metastore
from tradewind.metastore import users
from tradewind.metastore.engine import session_scope
from tradewind.metastore.migrate import migrate
from tradewind.settings import Settings


@pytest.fixture(scope="session")
def web_settings(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("web-home"), database_url=pg_url, secret_key=SECRET_KEY)
    migrate(settings)
    return settings


@pytest.fixture
def web_app(web_settings: Settings) -> Iterator[Flask]:
    """The app over an emptied metastore holding default_pool and the three ACCOUNTS; every API
    answer it gives is checked against its OpenAPI document (``api_contract``)."""
    empty_metastore(web_settings)
    app = create_app(web_settings)
    app.config["TESTING"] = True
    mismatches = watch_answers(app)
    with session_scope(metastore(app).factory) as session:
        for account in ACCOUNTS.values():
            users.create_user(session, account.username, account.password, account.role, hash_method=FAST_HASH)
    yield app
    dispose(app)
    assert not mismatches, "answers that do not match the OpenAPI document:\n" + "\n".join(mismatches)


@pytest.fixture
def web_db(web_app: Flask) -> Iterator[Session]:
    """A session on the app's metastore; commit what a test writes before requesting a page."""
    session = metastore(web_app).factory()
    yield session
    session.close()


@pytest.fixture
def client_as(web_app: Flask) -> Any:
    """``client_as("Op")``: a test client logged in through the login form as that role."""

    def make(role: str | None) -> FlaskClient:
        client = web_app.test_client()
        if role is not None:
            response = login(client, ACCOUNTS[role].username, ACCOUNTS[role].password)
            assert response.status_code == 302, response.text
        return client

    return make
