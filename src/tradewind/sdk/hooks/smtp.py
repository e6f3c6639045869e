"""``SmtpHook``: the smtp provider's hook (``airflow.providers.smtp.hooks.smtp``), sending through
``mail`` with the connection ``smtp_conn_id`` (``smtp_default``) over the ``TRADEWIND_SMTP_*``
settings. Used as a context manager, as in Airflow: ``with SmtpHook() as hook: hook.send_email_smtp(...)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from tradewind.sdk import mail
from tradewind.sdk.hooks.base import BaseHook


class SmtpHook(BaseHook):
    conn_name_attr: ClassVar[str] = "smtp_conn_id"  # type: ignore[misc]
    default_conn_name: ClassVar[str] = mail.DEFAULT_CONN_ID  # type: ignore[misc]
    conn_type: ClassVar[str] = "smtp"  # type: ignore[misc]
    hook_name: ClassVar[str] = "SMTP"  # type: ignore[misc]

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Mail servers take a user name and a port; the schema means nothing to them."""
        return {
            "hidden_fields": ["schema"],
            "relabeling": {"login": "Username"},
            "placeholders": {"port": "587", "extra": '{"from_email": "...", "disable_ssl": false}'},
        }

    def __init__(self, smtp_conn_id: str = mail.DEFAULT_CONN_ID, auth_type: str = "basic") -> None:
        super().__init__()
        self.smtp_conn_id = smtp_conn_id

    def __enter__(self) -> SmtpHook:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        return None

    def get_conn(self) -> mail.SmtpConfig:
        """Where this hook's mail goes (a connection is opened for each email)."""
        return mail.configured_smtp(self.smtp_conn_id)

    def send_email_smtp(
        self,
        *,
        to: str | Iterable[str],
        subject: str,
        html_content: str,
        from_email: str | None = None,
        files: Sequence[str] | None = None,
        dryrun: bool = False,
        cc: str | Iterable[str] | None = None,
        bcc: str | Iterable[str] | None = None,
        mime_subtype: str = "mixed",
        mime_charset: str = "utf-8",
        custom_headers: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        mail.send_email(
            to,
            subject,
            html_content,
            files=files,
            dryrun=dryrun,
            cc=cc,
            bcc=bcc,
            mime_subtype=mime_subtype,
            mime_charset=mime_charset,
            conn_id=self.smtp_conn_id,
            custom_headers=custom_headers,
            from_email=from_email,
        )
