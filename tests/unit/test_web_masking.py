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
