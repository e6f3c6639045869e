"""Pages for a real browser without a server: Playwright's request routing answers every request to
``ORIGIN`` from a Flask test client (logged in as whoever the test chose), forms included."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

ORIGIN = "http://tradewind.test"


def serve_from(client: FlaskClient) -> Any:
    """A Playwright route handler answering from the Flask app as ``client``; a redirect to a path
    stays on ``ORIGIN``."""

    def handle(route: Any) -> None:
        request = route.request
        path = request.url.removeprefix(ORIGIN)
        if request.method == "POST":
            answer = client.post(
                path, data=request.post_data_buffer, headers={"Content-Type": request.headers["content-type"]}
            )
        else:
            answer = client.get(path)
        headers = dict(answer.headers)
        if headers.get("Location", "").startswith("/"):
            headers["Location"] = ORIGIN + headers["Location"]
        route.fulfill(status=answer.status_code, headers=headers, body=answer.get_data())

    return handle
