"""The trigger form's fields, built from a DAG's params, and the conf read back from them.

Airflow 2 draws a field per param from its JSON schema: a text box for a string (a date, time or
date-time picker for those formats, a text area for ``format: "multiline"``), a number box for
``integer`` and ``number``, a switch for ``boolean``, a select for ``enum`` (labelled by
``values_display``), a text area of one value per line for an array of strings (a multi-select
when it lists ``examples``), and JSON for objects and everything else; ``title`` labels the field,
``description`` sits under it, ``section`` groups fields, and ``const`` is hidden. A param without
a ``type`` is drawn after its default's type. This module decides all that and turns the posted
form back into typed values, with every schema error of every field (not only the first), so the
page can show each next to its field. It is pure: no Flask, no database.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from tradewind.sdk.json_object import loads_json
from tradewind.sdk.params import NOTSET, Param, schema_problems

#: Sent by the form: its fields were drawn, so an unticked switch means false.
FIELDS_SHOWN = "fields_shown"
#: The form field of a param ``name``.
FIELD_PREFIX = "param."

REQUIRED = "a value is required"


@dataclass(frozen=True)
class TriggerField:
    """One param's field: how to draw it and what it shows."""

    name: str
    label: str
    #: text, multiline, integer, number, boolean, select, multiselect, lines, json, date,
    #: datetime, time or const.
    kind: str
    #: What the input shows (for a select, the chosen option's key).
    shown: str
    description: str | None = None
    #: A description written in Markdown (``description_md``), rendered safely by the page.
    description_md: str | None = None
    required: bool = False
    section: str | None = None
    #: (key, label) of each option of a select or multi-select.
    options: tuple[tuple[str, str], ...] = ()
    #: The chosen keys of a multi-select.
    chosen: frozenset[str] = frozenset()
    #: The schema's bounds shown on a number box.
    minimum: Any = None
    maximum: Any = None
    errors: tuple[str, ...] = field(default=())

    @property
    def input_name(self) -> str:
        return FIELD_PREFIX + self.name

    @property
    def checked(self) -> bool:
        return self.kind == "boolean" and self.shown == "true"


def _types(schema: Mapping[str, Any], default: Any) -> tuple[str | None, bool]:
    """The schema's main type and whether ``null`` is allowed; inferred from the default if unset."""
    declared = schema.get("type")
    if isinstance(declared, list):
        named = [t for t in declared if t != "null"]
        return (named[0] if len(named) == 1 else None), "null" in declared
    if isinstance(declared, str):
        return declared, declared == "null"
    inferred = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    return inferred.get(type(default)), default is None or default is NOTSET


def _kind(schema: Mapping[str, Any], main: str | None) -> str:
    if "const" in schema:
        return "const"
    if "enum" in schema:
        return "select"
    if main == "string":
        formats = {"date": "date", "date-time": "datetime", "time": "time", "multiline": "multiline"}
        return formats.get(str(schema.get("format")), "text")
    if main in ("integer", "number", "boolean"):
        return main
    if main == "array":
        items = schema.get("items")
        item_type = items.get("type") if isinstance(items, Mapping) else None
        if item_type in (None, "string"):
            return "multiselect" if schema.get("examples") else "lines"
    return "json" if main in ("array", "object") or main is None else "text"


def _option_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _shown(kind: str, value: Any) -> str:
    """How a value is written into its field."""
    if value is None or value is NOTSET:
        return ""
    if kind == "boolean":
        return "true" if value else "false"
    if kind in ("select", "const"):
        return _option_key(value)
    if kind in ("lines", "multiselect"):
        return "\n".join(str(v) for v in value) if isinstance(value, list) else str(value)
    if kind == "json":
        return json.dumps(value, indent=2, sort_keys=True, default=str)
    if kind == "datetime" and isinstance(value, str):
        return _datetime_local(value)
    return str(value)


def _datetime_local(text: str) -> str:
    """An ISO date-time as a ``datetime-local`` input shows it: UTC, without the offset."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.isoformat(timespec="seconds")


def build_fields(
    params: Iterable[tuple[str, Param]],
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, list[str]] | None = None,
) -> list[TriggerField]:
    """A field per param, showing ``values`` (what was posted) or else the param's default."""
    values = values or {}
    errors = errors or {}
    fields = []
    for name, param in params:
        schema = param.schema
        main, nullable = _types(schema, param.value)
        kind = _kind(schema, main)
        value = values.get(name, param.value)
        options: tuple[tuple[str, str], ...] = ()
        chosen: frozenset[str] = frozenset()
        if kind == "select":
            display = schema.get("values_display") or {}
            options = tuple((_option_key(v), str(display.get(str(v), v))) for v in schema["enum"])
        elif kind == "multiselect":
            options = tuple((str(v), str(v)) for v in schema.get("examples") or ())
            chosen = frozenset(str(v) for v in value) if isinstance(value, list) else frozenset()
        fields.append(
            TriggerField(
                name=name,
                label=str(schema.get("title") or name),
                kind=kind,
                shown=_shown(kind, value),
                description=param.description or schema.get("description"),
                description_md=schema.get("description_md"),
                required=param.value is NOTSET and not nullable,
                section=schema.get("section"),
                options=options,
                chosen=chosen,
                minimum=schema.get("minimum"),
                maximum=schema.get("maximum"),
                errors=tuple(errors.get(name, ())),
            )
        )
    return fields


def _read(kind: str, raw: str, nullable: bool, options: Mapping[str, Any]) -> Any:
    """The typed value of one posted field; ``ValueError`` with the reason when it cannot be."""
    text = raw.strip() if kind not in ("multiline", "text") else raw
    if text == "" and kind not in ("lines", "multiselect"):
        if nullable:
            return None
        if kind in ("text", "multiline"):
            return ""
        raise ValueError(REQUIRED)
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"{text!r} is not a finite number")
        return int(number) if number.is_integer() and not any(c in text for c in ".eE") else number
    if kind in ("select", "const"):
        if text not in options:
            raise ValueError(f"{text!r} is not one of the choices")
        return options[text]
    if kind == "lines":
        return [line.strip() for line in raw.splitlines() if line.strip()]
    if kind == "json":
        try:
            return loads_json(text)
        except ValueError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
    if kind == "datetime":
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{text!r} is not a date and time") from None
        aware = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
        return aware.isoformat()
    return text


def read_fields(
    params: Iterable[tuple[str, Param]], form: MultiDict[str, str]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The conf the posted fields give and every problem of each field, keyed by param name.

    A param whose field was not posted keeps its default (and is left out of the conf, as Airflow
    leaves defaults to the params). Each value is checked against its param's whole schema, and
    every reason it does not fit is listed.
    """
    conf: dict[str, Any] = {}
    problems: dict[str, list[str]] = {}
    for name, param in params:
        schema = param.schema
        main, nullable = _types(schema, param.value)
        kind = _kind(schema, main)
        key = FIELD_PREFIX + name
        if kind == "multiselect":
            value: Any = [v for v in form.getlist(key) if v]
        elif kind == "boolean":
            # A switch left off is not posted at all: the form was drawn, so off means false.
            value = any(v in ("true", "on", "1") for v in form.getlist(key))
        else:
            raw = form.get(key)
            if raw is None:
                continue
            options: dict[str, Any] = {}
            if kind == "select":
                options = {_option_key(v): v for v in schema["enum"]}
            elif kind == "const":
                options = {_option_key(schema["const"]): schema["const"]}
            try:
                value = _read(kind, raw or "", nullable, options)
            except ValueError as exc:
                problems[name] = [str(exc)]
                continue
        reasons = [REQUIRED] if param.value is NOTSET and value in ("", []) else schema_problems(value, schema)
        if reasons:
            problems[name] = reasons
        conf[name] = value
    return conf, problems
