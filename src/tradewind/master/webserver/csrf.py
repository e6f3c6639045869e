"""CSRF protection for requests authenticated by the browser's session cookie.

Each session gets one random token. Every state-changing form carries it as the hidden field
``csrf_token`` (``{{ csrf_field() }}`` in a template); a script using the session sends it in the
``X-CSRFToken`` header. A request that comes with an API token or basic auth instead of the cookie
needs no CSRF token: a browser never adds those credentials to a request by itself.
"""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session
from markupsafe import Markup

SESSION_KEY = "csrf_token"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRFToken"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

MISSING_OR_WRONG = (
    "The CSRF token is missing or does not match this session. Reload the page and try again "
    f"(a script using the browser session sends it in the {HEADER} header)."
)


def csrf_token() -> str:
    """This session's token, created on first use."""
    token = session.get(SESSION_KEY)
    if not token:
        token = session[SESSION_KEY] = secrets.token_urlsafe(32)
    return str(token)


def csrf_field() -> Markup:
    """The hidden input every state-changing form includes."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FORM_FIELD, csrf_token())


def check() -> None:
    """Abort with 403 unless the request carries this session's token."""
    expected = session.get(SESSION_KEY)
    sent = request.headers.get(HEADER) or request.form.get(FORM_FIELD)
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        abort(403, description=MISSING_OR_WRONG)
