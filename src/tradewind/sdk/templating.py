"""Jinja rendering of operator ``template_fields``, the way Airflow 2 renders them.

It owns the DAG's Jinja environment (search path, undefined policy, native mode, user macros and
filters) and the recursive rendering of field values, which it sets back on the task before
``execute()`` runs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import jinja2
import jinja2.ext
import jinja2.nativetypes
import jinja2.sandbox

from tradewind.errors import TradewindException


class TemplateRenderError(TradewindException):
    """A templated field could not be rendered; the message names the task and the field."""


def _ds(value: Any) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%d")


def _ds_nodash(value: Any) -> str | None:
    return None if value is None else value.strftime("%Y%m%d")


def _ts(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _ts_nodash(value: Any) -> str | None:
    return None if value is None else value.strftime("%Y%m%dT%H%M%S")


def _ts_nodash_with_tz(value: Any) -> str | None:
    return None if value is None else value.isoformat().replace("-", "").replace(":", "")


#: Airflow's built-in date filters: ``{{ data_interval_end | ds }}``.
FILTERS = {
    "ds": _ds,
    "ds_nodash": _ds_nodash,
    "ts": _ts,
    "ts_nodash": _ts_nodash,
    "ts_nodash_with_tz": _ts_nodash_with_tz,
}


class SandboxedEnvironment(jinja2.sandbox.SandboxedEnvironment):
    """Airflow's default environment: sandboxed, but ``_private`` attributes stay reachable."""

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return not attr.startswith("__")


def _search_path(dag: Any) -> list[str]:
    """The DAG file's folder first, then ``template_searchpath`` (Airflow's order)."""
    paths: list[str] = []
    fileloc = getattr(dag, "fileloc", None)
    if fileloc:
        paths.append(os.path.dirname(os.path.abspath(fileloc)))
    extra = getattr(dag, "template_searchpath", None)
    if isinstance(extra, str | os.PathLike):
        extra = [extra]
    paths.extend(os.fspath(path) for path in extra or ())
    return paths


def make_environment(dag: Any = None) -> jinja2.Environment:
    """The Jinja environment for the tasks of ``dag`` (a default one when ``dag`` is ``None``)."""
    options: dict[str, Any] = {
        "loader": jinja2.FileSystemLoader(_search_path(dag)),
        "undefined": getattr(dag, "template_undefined", None) or jinja2.StrictUndefined,
        "extensions": ["jinja2.ext.do"],
        # Template files can change between tries while the worker process stays warm.
        "cache_size": 0,
    }
    # Context dates are pendulum DateTimes and print as Airflow's do: ``2024-01-01 00:00:00+00:00``.
    native = bool(getattr(dag, "render_template_as_native_obj", False))
    options.update(getattr(dag, "jinja_environment_kwargs", None) or {})
    env_class = jinja2.nativetypes.NativeEnvironment if native else SandboxedEnvironment
    env = env_class(**options)
    env.filters.update(FILTERS)
    env.globals.update(getattr(dag, "user_defined_macros", None) or {})
    env.filters.update(getattr(dag, "user_defined_filters", None) or {})
    return env


def keeps_plain_text(env: jinja2.Environment) -> bool:
    """Whether ``env`` renders a text with no ``{``, no carriage return and no trailing newline as
    that very text: Jinja's default delimiters and newline handling, no native types (which would
    turn ``"42"`` into ``42``), and no extension that rewrites a template's source or tokens."""
    return (
        not isinstance(env, jinja2.nativetypes.NativeEnvironment)
        and (env.block_start_string, env.variable_start_string, env.comment_start_string) == ("{%", "{{", "{#")
        and env.line_statement_prefix is None
        and env.line_comment_prefix is None
        and env.newline_sequence == "\n"
        and not env.keep_trailing_newline
        and all(
            type(extension).preprocess is jinja2.ext.Extension.preprocess
            and type(extension).filter_stream is jinja2.ext.Extension.filter_stream
            for extension in env.extensions.values()
        )
    )


def _is_plain_text(value: Any) -> bool:
    # A str subclass (an Enum member, Markup) comes out of Jinja as a plain str: rendered for real.
    return type(value) is str and "{" not in value and "\r" not in value and not value.endswith("\n")


#: The DAG settings that make its environment other than the default one.
_ENVIRONMENT_SETTINGS = (
    "jinja_environment_kwargs",
    "render_template_as_native_obj",
    "user_defined_macros",
    "user_defined_filters",
    "template_searchpath",
    "template_undefined",
)


class _Environment:
    """A DAG's Jinja environment, made when a value first needs one. Most fields of most tasks
    (a command with no ``{{``, an empty ``op_kwargs``) render as they are: making the environment
    and compiling such a text would cost a fresh task process a few milliseconds, for the same
    result (``keeps_plain_text``). A DAG that sets up its environment (macros, filters, a search
    path, Jinja options) gets it made at once, so a mistake there fails each of its tasks, as in
    Airflow."""

    def __init__(self, dag: Any = None, env: jinja2.Environment | None = None) -> None:
        self._dag = dag
        self._env = env
        if env is None and any(getattr(dag, name, None) for name in _ENVIRONMENT_SETTINGS):
            self._env = make_environment(dag)

    def get(self) -> jinja2.Environment:
        if self._env is None:
            self._env = make_environment(self._dag)
        return self._env

    def renders_as_is(self, value: str) -> bool:
        """Whether ``value`` renders as itself, in this environment."""
        if not _is_plain_text(value):
            return False
        # Not made yet: the DAG sets nothing up (``__init__``), and a default one keeps plain text.
        return self._env is None or keeps_plain_text(self._env)


def _load_file(name: str, env: jinja2.Environment) -> jinja2.Template:
    try:
        return env.get_template(name)
    except jinja2.TemplateNotFound as err:
        searched = getattr(env.loader, "searchpath", None)
        raise jinja2.TemplateNotFound(
            name, message=f"template file {name!r} not found in the template search path {searched!r}"
        ) from err


def render_template(
    value: Any, context: Mapping[str, Any], env: jinja2.Environment, *, template_ext: Sequence[str] = ()
) -> Any:
    """``value`` rendered: strings as templates (or template files when they end with one of
    ``template_ext``), containers element by element, and objects that declare
    ``template_fields`` rendered in place. Other values come back unchanged.
    """
    return _render(value, context, _Environment(env=env), tuple(template_ext), set())


def _render(
    value: Any,
    context: Mapping[str, Any],
    env: _Environment,
    template_ext: tuple[str, ...],
    seen: set[int],
) -> Any:
    def again(item: Any) -> Any:
        return _render(item, context, env, template_ext, seen)

    if isinstance(value, str):
        if template_ext and value.endswith(template_ext):
            template = _load_file(value, env.get())
        elif env.renders_as_is(value):
            return value
        else:
            template = env.get().from_string(value)
        return template.render(context)
    if type(value) is tuple:
        return tuple(again(item) for item in value)
    if isinstance(value, tuple):  # a named tuple
        return type(value)(*(again(item) for item in value))
    if isinstance(value, list):
        return [again(item) for item in value]
    if isinstance(value, dict):
        return {key: again(item) for key, item in value.items()}
    if isinstance(value, set):
        return {again(item) for item in value}
    _render_nested(value, context, env, template_ext, seen)
    return value


def _render_nested(
    obj: Any,
    context: Mapping[str, Any],
    env: _Environment,
    template_ext: tuple[str, ...],
    seen: set[int],
) -> None:
    """Render the ``template_fields`` of an object held by a field, in place, once per object."""
    fields = getattr(obj, "template_fields", None)
    if fields is None or id(obj) in seen:
        return
    seen.add(id(obj))
    for name in _field_names(fields):
        value = getattr(obj, name)
        if value:
            setattr(obj, name, _render(value, context, env, template_ext, seen))


def _field_names(fields: str | Sequence[str]) -> tuple[str, ...]:
    # ``template_fields = ("cmd")`` is a common slip for ``("cmd",)``: treat it as the one name.
    return (fields,) if isinstance(fields, str) else tuple(fields)


def render_task_fields(task: Any, context: Mapping[str, Any]) -> dict[str, Any]:
    """Render every field in ``task.template_fields``, set the results back on the task, and
    return them JSON-safe (what the UI shows for the try).
    """
    env = _Environment(getattr(task, "dag", None))
    template_ext = tuple(getattr(task, "template_ext", None) or ())
    seen: set[int] = {id(task)}
    shown: dict[str, Any] = {}
    for name in _field_names(getattr(task, "template_fields", None) or ()):
        where = f"{getattr(task, 'task_id', '?')}.{name}"
        if not hasattr(task, name):
            raise TemplateRenderError(
                f"cannot render {where}: {name!r} is a template field but {type(task).__name__} has no such attribute"
            )
        value = getattr(task, name)
        if value:
            try:
                value = _render(value, context, env, template_ext, seen)
            except TradewindException:
                raise
            except jinja2.TemplateError as err:
                raise TemplateRenderError(f"cannot render {where}: {err}") from err
            except Exception as err:
                raise TemplateRenderError(f"cannot render {where}: {type(err).__name__}: {err}") from err
            setattr(task, name, value)
        shown[name] = json_safe(value)
    return shown


def json_safe(value: Any) -> Any:
    """``value`` with everything JSON cannot hold turned into its ``str()``."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    # Concrete types before the Mapping ABC: an ABC check that misses its caches walks every
    # registered subclass, and a task process's caches are only as warm as its fork server's
    # (a DAG file that registers a class with an ABC empties the negative ones).
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, set | frozenset):
        items = [json_safe(item) for item in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, dict | Mapping):
        return {key if isinstance(key, str) else str(key): json_safe(item) for key, item in value.items()}
    return str(value)
