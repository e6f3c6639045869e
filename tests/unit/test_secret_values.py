"""Fernet encryption of stored secrets: round trips, several keys, rotation, no key, wrong key."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from tradewind.errors import ConfigurationError, SecretDecryptionError
from tradewind.metastore import connections, secret_values, variables
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
from tradewind.metastore.fernet_rotation import rotate_fernet_key
from tradewind.metastore.models import Connection, Variable
from tradewind.settings import Settings

pytest_plugins = ["metastore_fixtures"]

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_encrypted_value_decodes_and_does_not_contain_the_clear_text():
    keyring = secret_values.parse_keys(NEW)
    stored, encrypted = secret_values.encode(keyring, "s3cret-välue")
    assert encrypted and "s3cret" not in stored
    assert secret_values.decode(keyring, stored, encrypted, "x") == "s3cret-välue"


def test_first_key_encrypts_and_any_key_decrypts():
    old_only = secret_values.parse_keys(OLD)
    stored, _ = secret_values.encode(old_only, "v")
    both = secret_values.parse_keys(f"{NEW}, {OLD}")
    assert secret_values.decode(both, stored, True, "x") == "v"
    fresh, _ = secret_values.encode(both, "v")
    assert secret_values.decode(secret_values.parse_keys(NEW), fresh, True, "x") == "v"
    with pytest.raises(SecretDecryptionError):
        secret_values.decode(old_only, fresh, True, "x")


def test_without_a_key_values_are_stored_as_given():
    keyring = secret_values.parse_keys("")
    assert secret_values.encode(keyring, "v") == ("v", False)
    assert secret_values.decode(keyring, "v", False, "x") == "v"
    assert secret_values.encode(keyring, None) == (None, False)


def test_wrong_key_error_names_the_row_in_one_line():
    stored, _ = secret_values.encode(secret_values.parse_keys(OLD), "v")
    with pytest.raises(SecretDecryptionError) as caught:
        secret_values.decode(secret_values.parse_keys(NEW), stored, True, "the value of variable 'api_token'")
    message = str(caught.value)
    assert "cannot decrypt the value of variable 'api_token'" in message and "\n" not in message


def test_encrypted_row_without_a_key_is_a_clear_error():
    stored, _ = secret_values.encode(secret_values.parse_keys(OLD), "v")
    with pytest.raises(
        SecretDecryptionError, match="the password of connection 'db' is encrypted but TRADEWIND_FERNET_KEY is not set"
    ):
        secret_values.decode(secret_values.parse_keys(""), stored, True, "the password of connection 'db'")


@pytest.mark.parametrize(
    "setting,which",
    [("not-a-key", "the key"), (f"{NEW},short", "key 2 of 2")],
    ids=["not-a-key", "a-good-key-then-a-short-one"],  # the key itself is random: ids stay the same
)
def test_a_malformed_key_is_a_configuration_error(setting, which):
    with pytest.raises(ConfigurationError, match=f"TRADEWIND_FERNET_KEY: {which} is not a Fernet key"):
        secret_values.parse_keys(setting)


def _factory(tmp_path, key):
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'metastore.db'}", fernet_key=key)
    return make_session_factory(create_engine_from_settings(settings))


def test_rows_are_encrypted_with_the_engines_key_and_rotation_moves_them_to_the_first_key(sqlite_metastore, tmp_path):
    plain = _factory(tmp_path, "")
    with session_scope(plain) as session:
        variables.set_variable(session, "written_before_any_key", "clear")
    with session_scope(_factory(tmp_path, OLD)) as session:
        variables.set_variable(session, "api_token", "tok-123456")
        connections.set_connection(
            session, "db", {"conn_type": "postgres", "password": "pw-123456", "extra": '{"a": 1}'}
        )
    with session_scope(plain) as session:
        raw = {row.key: (row.val, row.is_encrypted) for row in session.scalars(select(Variable))}
        assert raw["written_before_any_key"] == ("clear", False)
        assert raw["api_token"][1] and "tok-123456" not in raw["api_token"][0]
        with pytest.raises(SecretDecryptionError, match="variable 'api_token' is encrypted"):
            variables.get_variable(session, "api_token")

    rotating = _factory(tmp_path, f"{NEW},{OLD}")
    with session_scope(rotating) as session:
        assert rotate_fernet_key(session).variables == 2

    new_only = _factory(tmp_path, NEW)
    with session_scope(new_only) as session:
        assert variables.get_variable(session, "api_token").value == "tok-123456"
        assert variables.get_variable(session, "written_before_any_key").value == "clear"
        assert session.scalars(select(Variable.is_encrypted)).all() == [True, True]
        conn = connections.get_connection(session, "db")
        assert (conn.password, conn.extra) == ("pw-123456", '{"a": 1}')
        row = session.get(Connection, "db")
        assert row.is_encrypted and row.is_extra_encrypted and "pw-123456" not in row.password
    with session_scope(_factory(tmp_path, OLD)) as session, pytest.raises(SecretDecryptionError):
        variables.get_variable(session, "api_token")
