"""Where task email goes and what it says, without a server: the SMTP settings with the
smtp_default connection over them, the recipients of a message, and the failure alert's text."""

from __future__ import annotations

from pathlib import Path

from tradewind.sdk.connection import Connection
from tradewind.sdk.mail import address_list, build_mime_message, smtp_config, task_alert
from tradewind.settings import Settings


def test_smtp_settings_come_from_tradewind_smtp_variables():
    settings = Settings.from_env({"TRADEWIND_SMTP_HOST": "mail.internal", "TRADEWIND_SMTP_PORT": "587",
                                  "TRADEWIND_SMTP_SSL": "true", "TRADEWIND_SMTP_PASSWORD": "pw"})  # fmt: skip
    config = smtp_config(settings, None)
    assert (config.host, config.port, config.ssl, config.starttls, config.password) == ("mail.internal", 587, True,
                                                                                         True, "pw")  # fmt: skip
    assert "pw" not in repr(config)


def test_the_connection_overrides_what_it_sets_and_keeps_the_rest():
    connection = Connection(
        conn_type="smtp",
        host="relay",
        port=2525,
        login="robot",
        password="s3cret",
        extra={"from_email": "bot@example.com", "disable_tls": True, "timeout": "7"},
    )
    config = smtp_config(Settings(smtp_mail_from="x@example.com", smtp_retry_limit=2), connection)
    assert (config.host, config.port, config.user, config.password) == ("relay", 2525, "robot", "s3cret")
    assert (config.mail_from, config.starttls, config.ssl, config.timeout, config.retry_limit) == (
        "bot@example.com",
        False,
        False,
        7,
        2,
    )


def test_addresses_may_be_a_list_or_one_string_with_commas_or_semicolons():
    assert address_list("a@x.com, b@x.com;c@x.com") == ["a@x.com", "b@x.com", "c@x.com"]
    assert address_list(["a@x.com", "b@x.com; c@x.com"]) == ["a@x.com", "b@x.com", "c@x.com"]
    assert address_list(None) == []


def test_bcc_recipients_get_the_mail_but_appear_in_no_header(tmp_path: Path):
    attachment = tmp_path / "report.csv"
    attachment.write_text("a,b\n")
    message, recipients = build_mime_message(
        "from@x.com", "to@x.com", "Hi", "<p>body</p>", files=[str(attachment)], cc="cc@x.com", bcc="bcc@x.com",
        custom_headers={"X-Job": "nightly"},
    )  # fmt: skip
    assert recipients == ["to@x.com", "cc@x.com", "bcc@x.com"]
    text = message.as_string()
    assert "bcc@x.com" not in text
    assert (message["To"], message["CC"], message["X-Job"]) == ("to@x.com", "cc@x.com", "nightly")
    assert [part.get_filename() for part in message.walk() if part.get_filename()] == ["report.csv"]


def test_the_alert_names_the_task_instance_and_escapes_the_error():
    subject, body = task_alert(
        dag_id="d", task_id="t", run_id="r", state="failed", try_number=2, max_tries=1, host="w1", error="E: <x>"
    )
    assert subject == "Airflow alert: <TaskInstance: d.t r [failed]>"
    assert body == "Try 2 out of 2<br>Exception:<br>E: &lt;x&gt;<br>Host: w1<br>"
