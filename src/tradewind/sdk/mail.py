"""Email from task code: ``send_email`` (Airflow's ``airflow.utils.email.send_email``), which
``EmailOperator``, ``SmtpHook`` and the failure and retry alerts of ``email_on_failure`` /
``email_on_retry`` all go through.

Where the mail goes is ``SmtpConfig``: the ``TRADEWIND_SMTP_*`` settings (Airflow's ``[smtp]``
section), with the ``smtp_default`` connection (or the one named by ``conn_id``), when it is
defined, over them: its host, port, login and password, and in its extra ``from_email``,
``disable_ssl``, ``disable_tls``, ``timeout`` and ``retry_limit``. Building the message and the
alert's text are pure; ``send_mime_email`` is the only function that talks SMTP.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradewind.errors import AirflowNotFoundException
from tradewind.sdk import runtime_services
from tradewind.sdk.connection import Connection

if TYPE_CHECKING:
    # Imported where a mail is built or sent: every task's process imports this module, few mail.
    import smtplib
    from email.mime.multipart import MIMEMultipart

log = logging.getLogger("tradewind.task.email")

#: The connection send_email uses when none is named (Airflow's ``[email] email_conn_id``).
DEFAULT_CONN_ID = "smtp_default"


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 25
    user: str = ""
    password: str = ""
    starttls: bool = True
    ssl: bool = False
    mail_from: str = "tradewind@example.com"
    timeout: float = 30
    retry_limit: int = 5

    def __repr__(self) -> str:  # never the password, in a log or a traceback
        return f"SmtpConfig(host={self.host!r}, port={self.port}, user={self.user!r}, ssl={self.ssl})"


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"} if isinstance(value, str) else bool(value)


def smtp_config(settings: Any, connection: Connection | None) -> SmtpConfig:
    """The settings' SMTP options, with what ``connection`` sets over them."""
    config = SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        user=settings.smtp_user,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        ssl=settings.smtp_ssl,
        mail_from=settings.smtp_mail_from,
        timeout=settings.smtp_timeout,
        retry_limit=settings.smtp_retry_limit,
    )
    if connection is None:
        return config
    extra = connection.extra_dejson
    changes: dict[str, Any] = {}
    if connection.host:
        changes["host"] = connection.host
    if connection.port:
        changes["port"] = connection.port
    if connection.login:
        changes["user"] = connection.login
        changes["password"] = connection.password or ""
    if extra.get("from_email"):
        changes["mail_from"] = str(extra["from_email"])
    if "disable_ssl" in extra:
        changes["ssl"] = not _truthy(extra["disable_ssl"])
    if "disable_tls" in extra:
        changes["starttls"] = not _truthy(extra["disable_tls"])
    for name in ("timeout", "retry_limit"):
        if extra.get(name) is not None:
            changes[name] = type(getattr(config, name))(extra[name])
    return replace(config, **changes)


def address_list(addresses: str | Iterable[str] | None) -> list[str]:
    """Addresses given as a list or as one string separated by commas or semicolons."""
    if not addresses:
        return []
    items = [addresses] if isinstance(addresses, str) else list(addresses)
    return [part.strip() for item in items for part in re.split(r"[,;]", item) if part.strip()]


def build_mime_message(
    mail_from: str,
    to: str | Iterable[str],
    subject: str,
    html_content: str,
    files: Sequence[str] | None = None,
    cc: str | Iterable[str] | None = None,
    bcc: str | Iterable[str] | None = None,
    mime_subtype: str = "mixed",
    mime_charset: str = "utf-8",
    custom_headers: Mapping[str, Any] | None = None,
) -> tuple[MIMEMultipart, list[str]]:
    """The message and every recipient it goes to (To, CC and BCC; BCC in no header)."""
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText
    from email.utils import formatdate

    to_list, cc_list, bcc_list = address_list(to), address_list(cc), address_list(bcc)
    if not to_list:
        raise ValueError("an email needs at least one recipient in 'to'")
    message = MIMEMultipart(mime_subtype)
    message["Subject"] = subject
    message["From"] = mail_from
    message["To"] = ", ".join(to_list)
    if cc_list:
        message["CC"] = ", ".join(cc_list)
    message["Date"] = formatdate(localtime=True)
    message.attach(MIMEText(html_content, "html", mime_charset))
    for file in files or ():
        path = Path(file)
        part = MIMEApplication(path.read_bytes(), Name=path.name)
        part["Content-Disposition"] = f'attachment; filename="{path.name}"'
        message.attach(part)
    for name, value in (custom_headers or {}).items():
        message[name] = str(value)
    return message, to_list + cc_list + bcc_list


def send_mime_email(
    config: SmtpConfig, mail_from: str, recipients: Sequence[str], message: MIMEMultipart, dryrun: bool = False
) -> None:
    """Send ``message`` through the SMTP server, trying ``retry_limit`` times to reach it."""
    import smtplib
    import ssl

    if dryrun:
        log.info("Dry run: not sending the email to %s", ", ".join(recipients))
        return
    attempts = max(1, config.retry_limit)
    for attempt in range(1, attempts + 1):
        try:
            client = _connect(config)
        except (smtplib.SMTPServerDisconnected, TimeoutError) as exc:
            if attempt == attempts:
                raise
            log.warning(
                "SMTP server %s:%s not reached (%s); attempt %s of %s", config.host, config.port, exc, attempt, attempts
            )
            continue
        try:
            if config.starttls and not config.ssl:
                client.starttls(context=ssl.create_default_context())
            if config.user and config.password:
                client.login(config.user, config.password)
            log.info("Sending an email to %s through %s:%s", ", ".join(recipients), config.host, config.port)
            client.sendmail(mail_from, list(recipients), message.as_string())
        finally:
            client.quit()
        return


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    import smtplib
    import ssl

    if config.ssl:
        return smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=ssl.create_default_context())
    return smtplib.SMTP(config.host, config.port, timeout=config.timeout)


def configured_smtp(conn_id: str | None = None) -> SmtpConfig:
    """The SMTP configuration of this process: its settings, and the connection if it is defined."""
    try:
        connection: Connection | None = Connection.get_connection_from_secrets(conn_id or DEFAULT_CONN_ID)
    except AirflowNotFoundException:
        if conn_id and conn_id != DEFAULT_CONN_ID:  # a connection named on purpose must exist
            raise
        connection = None
    return smtp_config(runtime_services.current().settings, connection)


def send_email(
    to: str | Iterable[str],
    subject: str,
    html_content: str,
    files: Sequence[str] | None = None,
    dryrun: bool = False,
    cc: str | Iterable[str] | None = None,
    bcc: str | Iterable[str] | None = None,
    mime_subtype: str = "mixed",
    mime_charset: str = "utf-8",
    conn_id: str | None = None,
    custom_headers: Mapping[str, Any] | None = None,
    from_email: str | None = None,
    **kwargs: Any,
) -> None:
    """Send an HTML email (Airflow's ``send_email``); the sender is ``from_email``, else the
    connection's ``from_email``, else ``TRADEWIND_SMTP_MAIL_FROM``."""
    config = configured_smtp(conn_id)
    mail_from = from_email or config.mail_from
    message, recipients = build_mime_message(
        mail_from, to, subject, html_content, files, cc, bcc, mime_subtype, mime_charset, custom_headers
    )
    send_mime_email(config, mail_from, recipients, message, dryrun=dryrun)


def task_alert(
    *, dag_id: str, task_id: str, run_id: str, state: str, try_number: int, max_tries: int, host: str, error: str
) -> tuple[str, str]:
    """The subject and HTML body of a failure or retry alert, worded as Airflow's default ones."""
    subject = f"Airflow alert: <TaskInstance: {dag_id}.{task_id} {run_id} [{state}]>"
    body = (
        f"Try {try_number} out of {max_tries + 1}<br>"
        f"Exception:<br>{escape(error).replace(chr(10), '<br>')}<br>"
        f"Host: {escape(host)}<br>"
    )
    return subject, body
