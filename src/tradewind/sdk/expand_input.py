"""What a mapped task is mapped over, and which element each of its task instances gets.

``.expand(x=[1, 2], y=other.output)`` maps over the cross product of its arguments (the last
argument varies fastest, as ``itertools.product`` and Airflow do); ``.expand_kwargs(list_of_dicts)``
maps over a list whose elements are keyword arguments. An argument is a literal list or dict (a
dict's elements are its ``(key, value)`` pairs) or an ``XComArg`` whose value is one at run time.

The same rules serve three places: the scheduler computes the number of task instances from the
JSON form and the pushed XCom values (``map_length``), the worker picks one task instance's element
(``element_kwargs``), and the DAG file is checked when it is parsed (``check_mappable``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tradewind.errors import TradewindException
from tradewind.sdk.xcom_arg import XComArg

#: ``expand(**kwargs)``: a dict of argument name -> list/dict/XComArg; the cross product.
DICT_OF_LISTS = "dict_of_lists"
#: ``expand_kwargs(list_or_xcomarg)``: a list of dicts of keyword arguments.
LIST_OF_DICTS = "list_of_dicts"

#: (task_id, key) of a pushed XCom a mapped task maps over.
SourceKey = tuple[str, str]


class UnmappableXComTypePushed(TradewindException):
    """An XCom a task is mapped over is not a list or a dict (Airflow's name)."""


class UnmappableXComLengthPushed(TradewindException):
    """A mapped task would have more task instances than ``max_map_length`` (Airflow's name)."""


class MissingMapSource(TradewindException):
    """The upstream task a mapped task is mapped over pushed no value to map over."""


@dataclass(frozen=True)
class ExpandInput:
    """The live form: ``value`` holds literals and ``XComArg``s exactly as the DAG file gave them."""

    kind: str
    value: Any

    def xcom_args(self) -> list[XComArg]:
        if self.kind == LIST_OF_DICTS:
            if isinstance(self.value, XComArg):
                return [self.value]
            return [v for element in self.value for v in element.values() if isinstance(v, XComArg)]
        return [v for v in self.value.values() if isinstance(v, XComArg)]

    def names(self) -> list[str]:
        """The argument names mapped over (unknown until run time for ``expand_kwargs``)."""
        if self.kind == DICT_OF_LISTS:
            return list(self.value)
        if isinstance(self.value, XComArg):
            return []
        return sorted({name for element in self.value if isinstance(element, Mapping) for name in element})

    def to_json(self) -> dict[str, Any]:
        """The JSON form the scheduler reads: a literal's length, or where its value will come from."""
        if self.kind == LIST_OF_DICTS:
            if isinstance(self.value, XComArg):
                return {"kind": LIST_OF_DICTS, "source": _source_json(self.value)}
            return {"kind": LIST_OF_DICTS, "length": len(self.value)}
        args: dict[str, Any] = {}
        for name, value in self.value.items():
            args[name] = {"source": _source_json(value)} if isinstance(value, XComArg) else {"length": len(value)}
        return {"kind": DICT_OF_LISTS, "args": args}


def _source_json(arg: XComArg) -> dict[str, str]:
    return {"task_id": arg.operator.task_id, "key": arg.key}


def check_mappable(task_label: str, method: str, name: str, value: Any) -> None:
    """Parse time: an ``expand`` argument must be a list, a dict or an XComArg."""
    if isinstance(value, XComArg):
        return
    if not isinstance(value, list | tuple | dict):
        raise TypeError(
            f"task {task_label!r}: {method}() got a {type(value).__name__} for {name!r}; "
            "expand() takes a list, a dict or another task's output (XComArg) for each argument"
        )


def json_sources(expand_json: Mapping[str, Any]) -> list[SourceKey]:
    """The (task_id, key) XComs the JSON form maps over."""
    if expand_json["kind"] == LIST_OF_DICTS:
        source = expand_json.get("source")
        return [(source["task_id"], source["key"])] if source else []
    return [(arg["source"]["task_id"], arg["source"]["key"]) for arg in expand_json["args"].values() if "source" in arg]


def map_length(
    task_id: str, expand_json: Mapping[str, Any], pushed: Mapping[SourceKey, Any], max_map_length: int
) -> int:
    """How many task instances the mapped task has, given the values of the XComs it maps over
    (``pushed``: (task_id, key) -> value; a source missing from it pushed nothing).

    Raises ``UnmappableXComTypePushed``, ``MissingMapSource`` or ``UnmappableXComLengthPushed``
    with a message that names the task.
    """
    if expand_json["kind"] == LIST_OF_DICTS:
        lengths = [_one_length(task_id, "expand_kwargs", expand_json, pushed, lists_only=True)]
    else:
        lengths = [
            _one_length(task_id, name, arg, pushed, lists_only=False) for name, arg in expand_json["args"].items()
        ]
    length = math.prod(lengths)
    if length > max_map_length:
        raise UnmappableXComLengthPushed(
            f"mapped task {task_id!r} would expand into {length} task instances, more than the limit of "
            f"{max_map_length} (TRADEWIND_MAX_MAP_LENGTH)"
        )
    return length


def _one_length(
    task_id: str, name: str, arg: Mapping[str, Any], pushed: Mapping[SourceKey, Any], *, lists_only: bool
) -> int:
    if "length" in arg:
        return int(arg["length"])
    source = (arg["source"]["task_id"], arg["source"]["key"])
    if source not in pushed:
        raise MissingMapSource(
            f"mapped task {task_id!r} maps {name!r} over the XCom {source[1]!r} of task {source[0]!r}, "
            "which pushed no value"
        )
    value = pushed[source]
    allowed = (list,) if lists_only else (list, dict)
    if not isinstance(value, allowed):
        wanted = "a list of dicts" if lists_only else "a list or a dict"
        raise UnmappableXComTypePushed(
            f"mapped task {task_id!r} cannot map {name!r} over the XCom {source[1]!r} of task {source[0]!r}: "
            f"it is a {type(value).__name__} ({_preview(value)}), and mapping needs {wanted}"
        )
    return len(value)


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def element_kwargs(task_id: str, kind: str, resolved: Any, map_index: int) -> dict[str, Any]:
    """The keyword arguments of task instance ``map_index``, from the mapped values resolved at run
    time (``resolved``: name -> list/dict for ``expand``, a list of dicts for ``expand_kwargs``)."""
    if kind == LIST_OF_DICTS:
        if not isinstance(resolved, list | tuple):
            raise UnmappableXComTypePushed(
                f"mapped task {task_id!r}: expand_kwargs() needs a list of dicts, got a {type(resolved).__name__}"
            )
        _check_index(task_id, map_index, len(resolved))
        element = resolved[map_index]
        if not isinstance(element, Mapping) or not all(isinstance(k, str) for k in element):
            raise UnmappableXComTypePushed(
                f"mapped task {task_id!r}: expand_kwargs() element {map_index} is a {type(element).__name__} "
                f"({_preview(element)}), not a dict of keyword arguments"
            )
        return dict(element)
    sequences: dict[str, list[Any]] = {}
    for name, value in resolved.items():
        if isinstance(value, Mapping):
            sequences[name] = [tuple(item) for item in value.items()]
        elif isinstance(value, list | tuple):
            sequences[name] = list(value)
        else:
            raise UnmappableXComTypePushed(
                f"mapped task {task_id!r} cannot map {name!r} over a {type(value).__name__} ({_preview(value)}); "
                "mapping needs a list or a dict"
            )
    _check_index(task_id, map_index, math.prod(len(v) for v in sequences.values()))
    chosen: dict[str, Any] = {}
    index = map_index
    for name in reversed(list(sequences)):
        values = sequences[name]
        chosen[name] = values[index % len(values)]
        index //= len(values)
    return {name: chosen[name] for name in sequences}


def resolved_length(kind: str, resolved: Any) -> int:
    """The number of task instances, from the values resolved at run time (checked by
    ``element_kwargs`` already)."""
    if kind == LIST_OF_DICTS:
        return len(resolved)
    return math.prod(len(value) for value in resolved.values())


def _check_index(task_id: str, map_index: int, length: int) -> None:
    if not 0 <= map_index < length:
        raise IndexError(
            f"mapped task {task_id!r} has no element {map_index}: the values it maps over have "
            f"{length} elements now (an upstream task pushed a different value since it was expanded)"
        )
