"""The audit log page ``/audit-log`` (``?dag_id=`` for one DAG): who did what, when, from where."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tradewind.master.webserver import masking
from tradewind.master.webserver.api import query_int
from tradewind.master.webserver.db import get_session
from tradewind.metastore import browse

bp = Blueprint("audit", __name__)

PAGE_SIZE = 100


@bp.get("/audit-log")
def audit_log() -> ResponseReturnValue:
    dag_id = request.args.get("dag_id") or None
    page = query_int("page", 1, minimum=1)
    rows, total = browse.audit_page(get_session(), dag_id=dag_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    last_page = max(1, -(-total // PAGE_SIZE))
    extra = {
        row.id: json.dumps(masking.details(row.extra), sort_keys=True, default=str) if row.extra else "" for row in rows
    }

    def url(number: int) -> str:
        query: dict[str, Any] = {"dag_id": dag_id} if dag_id else {}
        if number > 1:
            query["page"] = number
        return url_for("audit.audit_log", **query)

    return render_template(
        "audit/list.html",
        dag_id=dag_id,
        events=rows,
        extra=extra,
        total=total,
        prev_url=url(page - 1) if page > 1 else None,
        next_url=url(page + 1) if page < last_page else None,
        page_number=page,
        last_page=last_page,
    )
