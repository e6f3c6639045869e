"""The Datasets pages: ``/datasets`` lists every dataset with the DAGs that produce and consume it
and its latest event (``?uri_pattern=`` narrows it); ``/datasets/detail?uri=`` shows one dataset's
producers, consumers, queued events and its events, newest first, with the runs each one made."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import query_int
from tradewind.master.webserver.db import get_session
from tradewind.metastore import dataset_reads

bp = Blueprint("datasets", __name__)

PAGE_SIZE = 100


@bp.get("/datasets")
def dataset_list() -> ResponseReturnValue:
    pattern = request.args.get("uri_pattern") or None
    page = query_int("page", 1, minimum=1)
    session = get_session()
    rows, total = dataset_reads.list_datasets(
        session, uri_pattern=pattern, order_by="uri", limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    latest = {d.id: dataset_reads.list_events(session, dataset_id=d.id, order_by="-timestamp", limit=1) for d in rows}
    return render_template(
        "datasets/list.html",
        datasets=rows,
        latest={key: events[0] if events else None for key, events in latest.items()},
        pattern=pattern or "",
        total=total,
        **_pages("datasets.dataset_list", page, total, {"uri_pattern": pattern} if pattern else {}),
    )


@bp.get("/datasets/detail")
def dataset_detail() -> ResponseReturnValue:
    uri = request.args.get("uri") or ""
    session = get_session()
    dataset = dataset_reads.get_dataset(session, uri)
    if dataset is None:
        abort(404, description=f"no dataset with URI {uri!r}")
    page = query_int("page", 1, minimum=1)
    total = dataset_reads.count_events(session, dataset_id=dataset.id)
    events = dataset_reads.list_events(
        session, dataset_id=dataset.id, order_by="-timestamp", limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    return render_template(
        "datasets/detail.html",
        dataset=dataset,
        events=events,
        queued=dataset_reads.queued(session, uri=uri),
        total=total,
        **_pages("datasets.dataset_detail", page, total, {"uri": uri}),
    )


def _pages(endpoint: str, page: int, total: int, query: dict[str, Any]) -> dict[str, Any]:
    """The pager's links and numbers for page ``page`` of ``total`` rows of ``endpoint``."""
    last_page = max(1, -(-total // PAGE_SIZE))

    def url(number: int) -> str:
        values: dict[str, Any] = {**query, "page": number} if number > 1 else dict(query)
        return url_for(endpoint, **values)

    return {
        "prev_url": url(page - 1) if page > 1 else None,
        "next_url": url(page + 1) if page < last_page else None,
        "page_number": page,
        "last_page": last_page,
    }
