"""``AirflowPlugin`` (``airflow.plugins_manager``) and the plugins this process has loaded.

A plugin is a class in a file of the plugins folder; what tradewind takes from it:

- ``timetables``: custom timetable classes, found by their class path when a stored DAG is read
  (the scheduler and the webserver never import DAG files, so this is the only way they know one);
- ``macros``: functions templates reach as ``{{ macros.<plugin name>.<function>() }}``.

Every other attribute Airflow defines (``hooks``, ``operators``, ``flask_blueprints``,
``appbuilder_views``, ``listeners`` …) is accepted and listed by ``tradewind plugins``, with no effect.
The folder is loaded once per process, on first need, by ``plugins_folder``; each role names the
folder with ``configure`` when it starts.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

from tradewind.errors import PluginError

logger = logging.getLogger(__name__)

#: The attributes of an AirflowPlugin that tradewind uses.
EFFECTIVE_ATTRIBUTES = ("macros", "timetables")
#: The attributes Airflow 2 defines that tradewind accepts without effect.
INERT_ATTRIBUTES = (
    "hooks",
    "operators",
    "sensors",
    "executors",
    "admin_views",
    "flask_blueprints",
    "menu_links",
    "appbuilder_views",
    "appbuilder_menu_items",
    "global_operator_extra_links",
    "operator_extra_links",
    "listeners",
    "ti_deps",
    "priority_weight_strategies",
)


class AirflowPlugin:
    """Subclass it in a plugins-folder file and set ``name`` (and ``macros``, ``timetables`` …)."""

    name: ClassVar[str | None] = None
    macros: ClassVar[list[Any]] = []
    timetables: ClassVar[list[type]] = []
    hooks: ClassVar[list[Any]] = []
    operators: ClassVar[list[Any]] = []
    sensors: ClassVar[list[Any]] = []
    executors: ClassVar[list[Any]] = []
    admin_views: ClassVar[list[Any]] = []
    flask_blueprints: ClassVar[list[Any]] = []
    menu_links: ClassVar[list[Any]] = []
    appbuilder_views: ClassVar[list[Any]] = []
    appbuilder_menu_items: ClassVar[list[Any]] = []
    global_operator_extra_links: ClassVar[list[Any]] = []
    operator_extra_links: ClassVar[list[Any]] = []
    listeners: ClassVar[list[Any]] = []
    ti_deps: ClassVar[list[Any]] = []
    priority_weight_strategies: ClassVar[list[Any]] = []
    source: Any = None

    @classmethod
    def validate(cls) -> None:
        """Raise if the plugin cannot be used (Airflow: it needs a name)."""
        if not cls.name or not isinstance(cls.name, str):
            raise PluginError(f'plugin class {cls.__qualname__} needs a name (set `name = "..."`)')

    @classmethod
    def on_load(cls, *args: Any, **kwargs: Any) -> None:
        """Called once when the plugin is loaded."""


def qualified_name(cls: type) -> str:
    """A class's ``module.qualname``: how a custom timetable is named in a serialized DAG."""
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass
class _Registry:
    folder: Path | None = None
    loaded_folder: Path | None = None
    plugins: list[AirflowPlugin] = field(default_factory=list)
    #: plugin file -> the one-line reason it could not be loaded
    errors: dict[str, str] = field(default_factory=dict)


_registry = _Registry()
_lock = threading.RLock()


def configure(folder: Path | None) -> None:
    """Name the plugins folder of this process (loaded on first need)."""
    with _lock:
        _registry.folder = folder


def ensure_loaded() -> None:
    """Load the configured folder if it has not been: once per process, errors recorded, never raised."""
    with _lock:
        folder = _registry.folder
        if folder is None or _registry.loaded_folder == folder:
            return
        _registry.loaded_folder = folder
        from tradewind.sdk.plugins_folder import load_folder

        load_folder(folder)


def load_now(folder: Path) -> None:
    """A role's start: name ``folder`` and load it at once, so a broken plugin file shows in the
    role's log from the start (logged, never raised)."""
    configure(folder)
    ensure_loaded()
    for source, message in errors().items():
        logger.error("plugin file %s could not be loaded: %s", source, message)


def register(plugin: AirflowPlugin, source: str) -> None:
    """Add a loaded plugin; a second plugin of the same name is an error for its file."""
    cls = type(plugin)
    cls.validate()
    for timetable in cls.timetables:
        from tradewind.sdk.timetables.base import Timetable

        if not (isinstance(timetable, type) and issubclass(timetable, Timetable)):
            raise PluginError(f"plugin {cls.name!r}: {timetable!r} in `timetables` is not a Timetable subclass")
    for macro in cls.macros:
        if not callable(macro) or not hasattr(macro, "__name__"):
            raise PluginError(f"plugin {cls.name!r}: {macro!r} in `macros` is not a function")
    with _lock:
        if any(p.name == cls.name for p in _registry.plugins):
            raise PluginError(f"a plugin named {cls.name!r} is already loaded; {source} defines another")
        plugin.source = source
        _registry.plugins.append(plugin)
    cls.on_load()
    logger.info("loaded plugin %s from %s", cls.name, source)


def record_error(source: str, message: str) -> None:
    with _lock:
        _registry.errors[source] = message


def loaded() -> list[AirflowPlugin]:
    """The plugins loaded in this process."""
    ensure_loaded()
    return list(_registry.plugins)


def errors() -> dict[str, str]:
    """Plugin files that could not be loaded, with the reason."""
    ensure_loaded()
    return dict(_registry.errors)


def registered_timetables() -> dict[str, type]:
    """Every plugin timetable class by its class path."""
    return {qualified_name(t): t for plugin in loaded() for t in type(plugin).timetables}


def macro_namespaces() -> dict[str, SimpleNamespace]:
    """``{plugin name: namespace of its macros}`` for plugins that have macros."""
    return {str(type(p).name): SimpleNamespace(**{m.__name__: m for m in type(p).macros}) for p in loaded() if p.macros}


def reset() -> None:
    """Forget every loaded plugin and the configured folder (tests)."""
    with _lock:
        _registry.plugins.clear()
        _registry.errors.clear()
        _registry.folder = _registry.loaded_folder = None
