"""Email through a real SMTP server this test starts on 127.0.0.1 (aiosmtpd): ``tradewind dags
test`` runs example_email and DAGs of EmailOperator (core and smtp-provider paths),
``send_email`` and ``email_on_failure`` / ``email_on_retry``, and the test reads the mail that
arrived: sender, recipients, subject, body, attachment."""

from __future__ import annotations

import email
import json
import shutil
import socket
import textwrap
import threading
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cli_helpers import EXAMPLE_DAGS, LOGICAL_DATE, Cli, expected_states_with_a_server

pytestmark = pytest.mark.integration


class Inbox:
    """aiosmtpd's handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        with self._lock:
            self.messages.append(
                (envelope.mail_from, list(envelope.rcpt_tos), email.message_from_bytes(envelope.content))
            )
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        with self._lock:
            return [str(message["Subject"]) for _, _, message in self.messages]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def cli_for(new_pg_url: Callable[[], str], tmp_path: Path) -> Callable[..., Cli]:
    """A CLI whose SMTP settings point at ``port`` (STARTTLS off: the test server speaks plain SMTP)."""

    def make(port: int, **env: str) -> Cli:
        dags = tmp_path / "dags"
        dags.mkdir(exist_ok=True)
        cli = Cli(home=tmp_path, dags_folder=dags, database_url=new_pg_url()).with_env(
            TRADEWIND_SMTP_HOST="127.0.0.1",
            TRADEWIND_SMTP_PORT=str(port),
            TRADEWIND_SMTP_STARTTLS="false",
            TRADEWIND_SMTP_MAIL_FROM="tradewind@test.example",
            TRADEWIND_SMTP_TIMEOUT="5",
            TRADEWIND_SMTP_RETRY_LIMIT="1",
            **env,
        )
        assert cli("db", "migrate").returncode == 0
        return cli

    return make


def _html(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode()
    raise AssertionError(f"no HTML part in {message}")


def _states(result: Any) -> dict[str, str]:
    return {row["task_id"]: row["state"] for row in result.table()}


def test_example_email_mails_the_retry_alert_and_the_report(smtp: tuple[Inbox, int], cli_for: Callable[..., Cli]):
    inbox, port = smtp
    cli = cli_for(port)
    shutil.copy(EXAMPLE_DAGS / "example_email.py", cli.dags_folder)
    expected = expected_states_with_a_server()["example_email"]

    result = cli("dags", "test", "example_email", LOGICAL_DATE)

    assert result.summary["state"] == expected["run_state"], result
    assert _states(result) == expected["tasks"]
    (alert_from, alert_to, alert), (report_from, report_to, report) = inbox.messages
    assert alert_from == "tradewind@test.example" and alert_to == ["owner@example.com"]
    assert alert["Subject"].startswith("Airflow alert: <TaskInstance: example_email.load manual__")
    assert alert["Subject"].endswith("[up_for_retry]>")
    assert "Try 1 out of 2" in _html(alert) and "the warehouse was not ready" in _html(alert)
    assert report["Subject"] == f"Daily report for {LOGICAL_DATE}"
    assert sorted(report_to) == ["owner@example.com", "team@example.com"]
    assert report["To"] == "team@example.com" and report["CC"] == "owner@example.com"
    assert _html(report) == f"<h1>{LOGICAL_DATE}</h1><p>42 rows loaded.</p>"
    assert report_from == "tradewind@test.example"


MAIL_DAG = textwrap.dedent("""
    from datetime import datetime, timedelta, timezone
    from airflow import DAG
    from airflow.operators.python import PythonOperator
    from airflow.providers.smtp.operators.smtp import EmailOperator
    from airflow.utils.email import send_email

    def fail():
        raise ValueError("bad <input> & more")

    def mail_from_code(ds):
        send_email(["code@example.com"], f"From code {ds}", "<b>hi</b>", bcc="hidden@example.com",
                   custom_headers={"X-Run": ds})

    with DAG("mail", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
        EmailOperator(task_id="with_file", to="a@example.com; b@example.com", subject="Attached",
                      html_content="see file", files=["{{ params.path }}"], from_email="reports@example.com",
                      params={"path": "PATH"})
        PythonOperator(task_id="code", python_callable=mail_from_code)
        PythonOperator(task_id="fails", python_callable=fail, email="ops@example.com")
        PythonOperator(task_id="fails_quietly", python_callable=fail, email="ops@example.com",
                       email_on_failure=False)
""")


def test_email_operator_send_email_and_failure_alerts(smtp: tuple[Inbox, int], cli_for: Callable[..., Cli]):
    inbox, port = smtp
    cli = cli_for(port)
    attachment = cli.home / "numbers.csv"
    attachment.write_text("a,b\n1,2\n")
    (cli.dags_folder / "mail.py").write_text(MAIL_DAG.replace("PATH", str(attachment)))

    result = cli("dags", "test", "mail", LOGICAL_DATE)

    assert _states(result) == {"with_file": "success", "code": "success", "fails": "failed", "fails_quietly": "failed"}
    by_subject = {str(message["Subject"]): (sender, to, message) for sender, to, message in inbox.messages}
    assert len(inbox.messages) == 3, inbox.subjects()
    sender, to, attached = by_subject["Attached"]
    assert sender == "reports@example.com" and to == ["a@example.com", "b@example.com"]
    (file_part,) = [part for part in attached.walk() if part.get_filename()]
    assert file_part.get_filename() == "numbers.csv" and file_part.get_payload(decode=True) == b"a,b\n1,2\n"
    _, to, from_code = by_subject[f"From code {LOGICAL_DATE}"]
    assert to == ["code@example.com", "hidden@example.com"]
    assert "hidden@example.com" not in str(from_code) and from_code["X-Run"] == LOGICAL_DATE
    (alert_subject,) = [subject for subject in by_subject if subject.startswith("Airflow alert")]
    assert "mail.fails " in alert_subject and alert_subject.endswith("[failed]>")
    assert "ValueError: bad &lt;input&gt; &amp; more" in _html(by_subject[alert_subject][2])


def test_an_alert_that_cannot_be_sent_leaves_the_task_failed_and_says_why(
    smtp: tuple[Inbox, int], cli_for: Callable[..., Cli]
):
    inbox, port = smtp
    cli = cli_for(_free_port())  # nothing listens there
    (cli.dags_folder / "mail.py").write_text(MAIL_DAG.replace("PATH", "/nonexistent"))

    result = cli("dags", "test", "mail", LOGICAL_DATE)

    states = _states(result)
    assert states["fails"] == "failed" and states["code"] == "failed"
    assert "Failed to send the failed email to ops@example.com" in result.stdout + result.stderr
    assert "Connection refused" in result.stdout + result.stderr
    assert inbox.messages == []


def test_the_smtp_default_connection_wins_over_the_settings(smtp: tuple[Inbox, int], cli_for: Callable[..., Cli]):
    inbox, port = smtp
    connection = {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "extra": {"from_email": "conn@example.com"}}
    cli = cli_for(_free_port(), TRADEWIND_CONN_SMTP_DEFAULT=json.dumps(connection))
    (cli.dags_folder / "mail.py").write_text(MAIL_DAG.replace("PATH", "/nonexistent"))

    result = cli("dags", "test", "mail", LOGICAL_DATE)

    assert _states(result)["code"] == "success", result
    senders = sorted(sender for sender, _, _ in inbox.messages)
    assert senders == ["conn@example.com", "conn@example.com"]  # the code's mail and the alert
