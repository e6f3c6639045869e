"""``EmailOperator``: send an email as a task, as both ``airflow.operators.email`` and the smtp
provider's ``airflow.providers.smtp.operators.smtp`` define it (one class serves both: the
provider's ``from_email`` and ``conn_id`` are arguments here too). The mail goes through
``mail.send_email``: ``TRADEWIND_SMTP_*`` and the ``smtp_default`` connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.mail import send_email


class EmailOperator(BaseOperator):
    """Send ``html_content`` as ``subject`` to ``to`` (a list, or a string separated by commas)."""

    template_fields: ClassVar[tuple[str, ...]] = ("to", "from_email", "subject", "html_content", "files")
    template_fields_renderers: ClassVar[dict[str, str]] = {"html_content": "html"}
    template_ext: ClassVar[tuple[str, ...]] = (".html",)
    ui_color: ClassVar[str] = "#e6faf9"

    def __init__(
        self,
        *,
        to: str | Iterable[str],
        subject: str,
        html_content: str,
        files: Sequence[str] | None = None,
        cc: str | Iterable[str] | None = None,
        bcc: str | Iterable[str] | None = None,
        mime_subtype: str = "mixed",
        mime_charset: str = "utf-8",
        conn_id: str | None = None,
        custom_headers: Mapping[str, Any] | None = None,
        from_email: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.to = to
        self.subject = subject
        self.html_content = html_content
        self.files = list(files or [])
        self.cc = cc
        self.bcc = bcc
        self.mime_subtype = mime_subtype
        self.mime_charset = mime_charset
        self.conn_id = conn_id
        self.custom_headers = dict(custom_headers or {})
        self.from_email = from_email

    def execute(self, context: dict[str, Any]) -> None:
        send_email(
            self.to,
            self.subject,
            self.html_content,
            files=self.files,
            cc=self.cc,
            bcc=self.bcc,
            mime_subtype=self.mime_subtype,
            mime_charset=self.mime_charset,
            conn_id=self.conn_id,
            custom_headers=self.custom_headers,
            from_email=self.from_email,
        )
