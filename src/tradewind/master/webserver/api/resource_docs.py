"""OpenAPI fragments shared by the admin resources (variables, connections, pools)."""

from __future__ import annotations

from typing import Any

from tradewind.master.webserver.api import json_response, problem_response

#: The problem answers of an Admin's write.
WRITE_ERRORS = {"400": "Bad input.", "403": "The user is not an Admin, or a session request lacks X-CSRFToken."}


def operation(
    op_id: str,
    summary: str,
    tag: str,
    ok: tuple[str, str],
    *,
    body: str | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One operation: its 200 answer ``ok`` (description, schema), a JSON ``body`` schema, and the
    problem answers named in ``extra`` (status -> description) besides 401."""
    responses: dict[str, Any] = {
        "200": json_response(*ok) if ok[1] else {"description": ok[0]},
        "401": problem_response("No or invalid credentials."),
    }
    responses.update({status: problem_response(text) for status, text in (extra or {}).items()})
    found: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": [tag], "responses": responses}
    if body is not None:
        found["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        }
    return found
