"""Every link the pages build to a run is a link that works, whatever characters the run id has:
a manual run's id holds ``+`` and ``:`` (``manual__2024-03-01T00:00:00+00:00``), and a ``+`` left
unencoded in a query string reads back as a space. The test walks the pages of such a run and
follows every link to it."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote, unquote_plus, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from web_routes import DAG_ID, RUN_ID, TASK_ID, populate

pytestmark = pytest.mark.integration

pytest_plugins = ["web_fixtures"]

#: Links a browser follows with a GET: anchors, scripts' data URLs (form posts are the action tests').
_LINK = re.compile(r'(?:href|src|data-[a-z-]*url)="([^"]+)"')
START_PAGES = [
    f"/dags/{DAG_ID}/grid",
    f"/dags/{DAG_ID}/runs",
    "/runs",
    "/audit-log",
]


def _links(page: str) -> list[str]:
    return [html.unescape(found) for found in _LINK.findall(page)]


def _names_the_run(url: str) -> bool:
    """Whether the link is meant for the run: its id is in it, encoded or not (a link that left a
    ``+`` unencoded is meant for the run too, and must work)."""
    return not urlsplit(url).netloc and (RUN_ID in unquote(url) or RUN_ID in unquote_plus(url))


def test_every_link_to_a_run_whose_id_has_plus_and_colon_leads_to_that_run(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    populate(web_db)
    client: FlaskClient = client_as("Op")
    seen: set[str] = set()
    queue = list(START_PAGES)
    followed: dict[str, int] = {}
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        page = response.text if response.status_code == 200 and response.mimetype == "text/html" else ""
        response.close()
        if url not in START_PAGES:
            followed[url] = response.status_code
        for link in _links(page):
            if _names_the_run(link) and link not in seen and len(seen) < 200:
                queue.append(link)
    broken = {url: status for url, status in followed.items() if status >= 400}
    assert broken == {}
    graph_from_panel = f"/dags/{DAG_ID}/graph?run_id=manual__2024-03-01T00%3A00%3A00%2B00%3A00"
    panel = next(url for url in followed if url.startswith(f"/dags/{DAG_ID}/runs/") and f"/tasks/{TASK_ID}" in url)
    assert graph_from_panel in followed, sorted(followed)
    assert len(followed) >= 10, sorted(followed)
    assert RUN_ID in client.get(panel).text
