"""The secrets masker: what is registered, how text, log records and streams are masked."""

from __future__ import annotations

import io
import logging

import pytest

from tradewind.secrets.masker import (
    DEFAULT_SENSITIVE_NAMES,
    MAX_DEPTH,
    MaskingFilter,
    MaskingStream,
    SecretsMasker,
    display_copy,
    sensitive_names,
    should_hide_value_for_key,
    use_sensitive_names,
)
from tradewind.settings import Settings


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "DB_PASSWORD",
        "api_key",
        "my_secret_x",
        "access_token",
        "service_account_json",
        "keyfile_dict",
        "Authorization",
        "passphrase",
    ],
)
def test_secret_looking_names(name):
    assert should_hide_value_for_key(name)


@pytest.mark.parametrize("name", ["host", "bucket", "region", None, 3])
def test_ordinary_names(name):
    assert not should_hide_value_for_key(name)


def test_registered_secret_and_its_url_encoded_form_are_masked():
    masker = SecretsMasker()
    masker.add_mask("p@ss/word!")
    masked = masker.redact("uri postgres://u:p%40ss%2Fword%21@h and p@ss/word! end")
    assert masked == "uri postgres://u:***@h and *** end"


def test_longer_secret_wins_over_a_secret_it_contains():
    masker = SecretsMasker()
    masker.add_mask("abcde")
    masker.add_mask("abcdefgh")
    assert masker.redact("abcdefgh abcde") == "*** ***"


def test_short_values_and_non_secret_names_are_not_registered():
    masker = SecretsMasker()
    masker.add_mask("abc")
    masker.add_mask("eu-west-1", name="region")
    masker.add_mask({"password": "hunter22", "host": "db.example.com", "nested": {"token": "t0k3n-x"}})
    assert masker.redact("abc eu-west-1 hunter22 db.example.com t0k3n-x") == "abc eu-west-1 *** db.example.com ***"


def test_each_line_of_a_multiline_secret_is_masked():
    masker = SecretsMasker()
    masker.add_mask("-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----")
    assert "MIIEvQIBADANBg" not in masker.redact("line: MIIEvQIBADANBg")


def test_redact_value_masks_values_of_secret_keys_for_display():
    masker = SecretsMasker()
    assert masker.redact_value({"api_key": "k", "region": "eu", "auth": {"password": "x"}}) == {
        "api_key": "***",
        "region": "eu",
        "auth": {"password": "***"},
    }
    assert masker.redact_value("value", "db_password") == "***"


def test_stream_masks_a_secret_written_in_pieces():
    from tradewind.secrets import masker as process

    process.mask_secret("piecewise-secret")
    target = io.StringIO()
    stream = MaskingStream(target)
    print("the secret is", "piecewise-", end="", file=stream)
    print("secret", file=stream)
    stream.write("unfinished piecewise-secret")
    assert target.getvalue() == "the secret is ***\n"
    stream.flush()
    assert target.getvalue() == "the secret is ***\nunfinished ***"


def test_filter_masks_message_arguments_and_tracebacks():
    from tradewind.secrets import masker as process

    process.mask_secret("filter-secret-1")
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.addFilter(MaskingFilter())
    log = logging.getLogger("test.masker")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("connecting with %s", "filter-secret-1")
        try:
            raise ValueError("bad password filter-secret-1")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    assert "filter-secret-1" not in output.getvalue()
    assert "connecting with ***\n" in output.getvalue()
    assert "ValueError: bad password ***\n" in output.getvalue()


def test_masked_standard_streams_wraps_and_restores(capsys):
    import sys

    from tradewind.secrets import masker as process

    process.mask_secret("stream-secret-2")
    before = sys.stdout
    with process.masked_standard_streams():
        print("value stream-secret-2")
    assert sys.stdout is before
    assert capsys.readouterr().out == "value ***\n"


@pytest.mark.parametrize(
    "name", ["db_credential", "GCP_CREDENTIALS", "aws_access_key", "my_private", "ssh_private_key"]
)
def test_names_airflow_misses_are_secret_by_default(name):
    assert should_hide_value_for_key(name)


@pytest.fixture
def restore_sensitive_names():
    yield
    use_sensitive_names([])


def test_sensitive_names_setting_extends_the_default_list_and_never_shrinks_it(restore_sensitive_names):
    assert not should_hide_value_for_key("atm_pin_code")

    use_sensitive_names([" PIN_code", "", "iban "])

    assert should_hide_value_for_key("atm_pin_code") and should_hide_value_for_key("customer_IBAN")
    assert should_hide_value_for_key("db_password"), "the defaults stay"
    assert sensitive_names() == DEFAULT_SENSITIVE_NAMES | {"pin_code", "iban"}
    use_sensitive_names([])
    assert not should_hide_value_for_key("atm_pin_code")


def test_settings_read_the_words_from_tradewind_sensitive_names():
    settings = Settings.from_env({"TRADEWIND_SENSITIVE_NAMES": "pin_code, iban,,"})
    assert settings.sensitive_name_list == ["pin_code", "iban"]
    assert Settings().sensitive_name_list == []


def test_everything_beneath_a_secret_key_is_hidden_for_display_and_registered():
    masker = SecretsMasker()
    value = {"credentials": {"user": "etl-user", "keys": ["key-number-1", {"id": "inner-id-9"}]}, "n": 3}
    assert masker.redact_value(value) == {"credentials": {"user": "***", "keys": ["***", {"id": "***"}]}, "n": 3}
    masker.add_mask(value)
    assert masker.redact("etl-user key-number-1 inner-id-9") == "*** *** ***"


def test_nesting_deeper_than_the_limit_is_hidden_whole_not_walked_forever():
    deep: object = "bottom-value"
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    shown = SecretsMasker().redact_value(deep)
    for _ in range(MAX_DEPTH + 1):
        shown = shown[0]
    assert shown == "***"


def test_display_copy_is_none_when_nothing_is_hidden(restore_sensitive_names):
    from tradewind.secrets import masker as process

    process.mask_secret("display-copy-secret")
    assert display_copy({"rows": 3, "region": "eu"}, "return_value") is None
    assert display_copy("got display-copy-secret", "return_value") == "got ***"
    assert display_copy("plain text", "api_token") == "***", "an XCom key that looks secret hides its value"
