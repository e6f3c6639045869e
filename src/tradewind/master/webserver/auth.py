"""Who is asking and what they may do: the login and logout pages, the identity of every request,
and the decorators a view uses to demand a role.

Every route needs a logged-in user unless its view is marked ``@public`` (the login page,
``/health``, static files): ``authenticate`` runs before each request, so a view that forgets a
decorator stays closed. Pages use the session cookie set by the login form, which is worth
something only while its session row lives in the metastore (``metastore.web_sessions``: logout,
a password change and an Admin's "end sessions" delete it); paths under ``/api/`` also take HTTP
basic auth or an API token (``Authorization: Bearer tw1.…``). Passwords, from the form or basic
auth, are checked behind the login back-off (``login_guard``). Roles are ranked
Viewer < Op < Admin (``metastore.users.ROLES``); ``@require_role("Op")`` admits Op and Admin.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import TooManyRequests, Unauthorized

from tradewind.master.webserver import csrf
from tradewind.master.webserver.db import get_session, get_settings
from tradewind.master.webserver.login_guard import LoginThrottled, check_password
from tradewind.metastore import users, web_sessions

logger = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

API_PATH_PREFIX = "/api/"
#: Paths outside /api/ that also take an API token or basic auth (a Prometheus scraper).
CREDENTIAL_PATHS = frozenset({"/metrics"})
SESSION_COOKIE_NAME = "tradewind_session"
PUBLIC_ATTRIBUTE = "tradewind_public"
#: The role a view demands, on the view ``require_role`` returns (for checks that run before it).
ROLE_ATTRIBUTE = "tradewind_role"
PUBLIC_ENDPOINTS = frozenset({"static"})
#: The session cookie's key holding the secret of its row in ``web_session``.
_SESSION_SECRET = "session_secret"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    role: str
    #: How the request proved who it is: "session", "basic" or "token".
    via: str

    def has_role(self, role: str) -> bool:
        return users.role_rank(self.role) >= users.role_rank(role)


def current_user() -> CurrentUser | None:
    """The user making this request (None on public routes and for anonymous requests)."""
    user: CurrentUser | None = g.get("user")
    return user


def current_username() -> str:
    """The name of the user making this request, for views that ``require_role`` (so there is one)."""
    user = current_user()
    assert user is not None
    return user.username


def public(view: F) -> F:
    """Let anyone reach this view without logging in (put it below ``@bp.route``)."""
    setattr(view, PUBLIC_ATTRIBUTE, True)
    return view


def require_role(role: str) -> Callable[[F], F]:
    """Admit only users whose role is ``role`` or above: 401/login for nobody, 403 for too low a role."""
    users.check_role(role)

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return unauthenticated()
            if not user.has_role(role):
                abort(403, description=f"This needs the {role} role; {user.username} is {user.role}.")
            return view(*args, **kwargs)

        setattr(wrapper, ROLE_ATTRIBUTE, role)
        return wrapper  # type: ignore[return-value]

    return decorator


#: Any logged-in user; every non-public route is this already, the decorator says so explicitly.
login_required = require_role("Viewer")


def may_enter(view: Any) -> bool:
    """Whether this request's user has the role ``view`` demands (any user, when it demands none)."""
    role = getattr(view, ROLE_ATTRIBUTE, None)
    user = current_user()
    return role is None or (user is not None and user.has_role(role))


def is_api_request() -> bool:
    return request.path.startswith(API_PATH_PREFIX)


def unauthenticated() -> ResponseReturnValue:
    """401 for the API (never a Basic challenge: browsers would then cache and replay basic
    credentials, which is what makes basic auth open to CSRF); the login page for pages."""
    if is_api_request():
        raise Unauthorized(
            "Log in, or send HTTP basic auth or an API token (Authorization: Bearer <token>).",
            www_authenticate=WWWAuthenticate("bearer", {"realm": "tradewind"}),
        )
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.login", next=target))


def init_app(app: Flask) -> None:
    app.before_request(authenticate)


def authenticate() -> ResponseReturnValue | None:
    """Before every request: find the user; refuse anonymous requests to non-public routes and
    session-authenticated state changes without the CSRF token."""
    g.user = None
    endpoint = request.endpoint
    view = current_app.view_functions.get(endpoint) if endpoint else None
    if view is None or endpoint in PUBLIC_ENDPOINTS or getattr(view, PUBLIC_ATTRIBUTE, False):
        return None
    user = _identify()
    if user is None:
        return unauthenticated()
    g.user = user
    if request.method in csrf.UNSAFE_METHODS and user.via == "session":
        csrf.check()
    return None


def _identify() -> CurrentUser | None:
    if (is_api_request() or request.path in CREDENTIAL_PATHS) and "Authorization" in request.headers:
        return _from_authorization_header()
    secret = session.get(_SESSION_SECRET)
    if not isinstance(secret, str):
        return None
    row = web_sessions.user_of(get_session(), secret, now=datetime.now(UTC))
    if row is None:
        # Logged out, ended by an Admin or a password change, expired, or the user is gone.
        session.clear()
        return None
    return CurrentUser(row.id, row.username, row.role, "session")


def _from_authorization_header() -> CurrentUser | None:
    credentials = request.authorization
    if credentials is None:
        return None
    db = get_session()
    if credentials.type == "basic" and credentials.username and credentials.password:
        try:
            row = check_password(
                db, get_settings(), credentials.username, credentials.password, address=request.remote_addr
            )
        except LoginThrottled as exc:
            raise TooManyRequests(str(exc), retry_after=exc.retry_after) from None
        return CurrentUser(row.id, row.username, row.role, "basic") if row is not None else None
    if credentials.type == "bearer" and credentials.token:
        row = users.verify_api_token(db, credentials.token)
        return CurrentUser(row.id, row.username, row.role, "token") if row is not None else None
    return None


def local_url(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None (no open redirect to another host)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(not ch.isprintable() or ch.isspace() for ch in target):
        # CR/LF would split the Location header; no path this site links to has whitespace.
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    next_url = local_url(request.values.get("next"))
    if request.method == "GET":
        return render_template("auth/login.html", next_url=next_url, error=None, username="")
    csrf.check()
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    db = get_session()
    try:
        user = (
            check_password(db, get_settings(), username, password, address=request.remote_addr)
            if username and password
            else None
        )
    except LoginThrottled as exc:
        page = render_template("auth/login.html", next_url=next_url, username=username, error=str(exc))
        return page, 429, {"Retry-After": str(exc.retry_after)}
    if user is None:
        logger.info("failed login for %r from %s", username, request.remote_addr)
        return render_template(
            "auth/login.html", next_url=next_url, username=username, error="Invalid username or password."
        ), 401
    now = datetime.now(UTC)
    users.touch_last_login(db, user, now=now)
    lifetime = timedelta(minutes=get_settings().webserver_session_minutes)
    secret = web_sessions.open_session(db, user, lifetime=lifetime, now=now)
    db.commit()
    # A new session at login, so a session fixed by someone else before it is worth nothing after.
    session.clear()
    session.permanent = True
    session[_SESSION_SECRET] = secret
    return redirect(next_url or url_for("dags.dag_list"))


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    secret = session.get(_SESSION_SECRET)
    if isinstance(secret, str):
        db = get_session()
        web_sessions.end_session(db, secret)
        db.commit()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
