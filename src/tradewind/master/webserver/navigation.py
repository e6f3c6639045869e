"""The top bar's menus, and whether a page exists yet.

A menu entry names a path, not an endpoint, so an entry can be listed before its page is built:
until a route answers that path, the entry is shown greyed out instead of linking to a 404.
A page author adds an entry here (or finds it here already) when the page lands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from tradewind.master.webserver.auth import CurrentUser


@dataclass(frozen=True)
class NavLink:
    label: str
    path: str
    role: str = "Viewer"


@dataclass(frozen=True)
class NavMenu:
    label: str
    links: tuple[NavLink, ...]
    role: str = "Viewer"


@dataclass(frozen=True)
class NavItem:
    """What the template draws: ``url`` is None for a page that does not exist yet."""

    label: str
    url: str | None
    children: list[NavItem] = field(default_factory=list)


NAV: tuple[NavLink | NavMenu, ...] = (
    NavLink("DAGs", "/"),
    NavLink("Datasets", "/datasets"),
    NavMenu(
        "Browse",
        (
            NavLink("DAG runs", "/runs"),
            NavLink("Task instances", "/task-instances"),
            NavLink("DAG Dependencies", "/dag-dependencies"),
            NavLink("Audit log", "/audit-log"),
        ),
    ),
    NavMenu(
        "Admin",
        (
            NavLink("Users", "/users"),
            NavLink("Pools", "/pools"),
            NavLink("Variables", "/variables"),
            NavLink("Connections", "/connections"),
        ),
        role="Admin",
    ),
)


def route_exists(path: str, method: str = "GET") -> bool:
    """Whether this app has a route answering ``method`` on ``path``."""
    adapter = current_app.url_map.bind("localhost")
    try:
        adapter.match(path, method=method)
    except RequestRedirect:
        return True
    except (NotFound, MethodNotAllowed):
        return False
    return True


def nav_for(user: CurrentUser | None) -> list[NavItem]:
    """The menus ``user`` may see, each entry linked when its page exists."""
    if user is None:
        return []
    items: list[NavItem] = []
    for entry in NAV:
        if not user.has_role(entry.role):
            continue
        if isinstance(entry, NavLink):
            items.append(_item(entry))
        else:
            items.append(NavItem(entry.label, None, [_item(link) for link in entry.links if user.has_role(link.role)]))
    return items


def _item(link: NavLink) -> NavItem:
    return NavItem(link.label, link.path if route_exists(link.path) else None)
