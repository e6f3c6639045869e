"""What the UI and the REST API show of secrets follows the same rule as task logs and the CLI:
Airflow's sensitive names, matched anywhere in the key, in any case."""

from __future__ import annotations

import json

import pytest

from tradewind.master.webserver import masking
from tradewind.secrets.masker import should_hide_value_for_key


@pytest.mark.parametrize(
    ("key", "shown"),
    [("DB_PASSWORD", "***"), ("slack_token", "***"), ("my_api_key", "***"), ("s3_bucket", "v"), ("region", "v")],
)
def test_a_variable_is_masked_exactly_when_the_cli_and_the_task_log_would_mask_it(key: str, shown: str) -> None:
    assert masking.variable_value(key, "v") == shown
    assert (shown == "***") == should_hide_value_for_key(key)


def test_a_connection_extra_keeps_its_harmless_fields_and_masks_nested_secrets() -> None:
    extra = {"region": "eu", "auth": {"client_secret": "s3cr3t-value", "scopes": ["read"]}, "ports": [1, 2]}
    assert json.loads(masking.extra(json.dumps(extra)) or "") == {
        "region": "eu",
        "auth": {"client_secret": "***", "scopes": ["read"]},
        "ports": [1, 2],
    }


def test_an_extra_that_is_not_json_is_hidden_whole_and_an_empty_one_stays_empty() -> None:
    assert masking.extra("password=hunter22") == "***"
    assert masking.extra("") == "" and masking.extra(None) is None
    assert masking.password("pw") == "***" and masking.password("") is None


def test_an_xcom_shows_the_copy_its_task_stored_and_hides_secret_looking_keys_of_older_values() -> None:
    assert masking.xcom_value("return_value", "s3cr3t-password", "***") == "***"
    assert masking.xcom_value("return_value", {"rows": 3}, None) == {"rows": 3}
    # Pushed before display copies existed: the key, and the keys inside, still decide.
    assert masking.xcom_value("api_token", "t0k3n-value", None) == "***"
    assert masking.xcom_value("return_value", {"db_credential": "c", "n": 1}, None) == {"db_credential": "***", "n": 1}


def test_a_run_conf_keeps_its_shape_and_hides_secret_values_at_any_depth() -> None:
    conf = {"password": "pw-12345", "api_token": "tok-12345", "target": {"client_secret": "cs"}, "region": "eu"}
    assert masking.details(conf) == {
        "password": "***",
        "api_token": "***",
        "target": {"client_secret": "***"},
        "region": "eu",
    }
