"""A DAG as plain JSON and back: the only form the scheduler and the web UI ever see.

``serialize_dag`` reads attributes by name, so it serializes a live ``DAG`` and a
``SerializedDAG`` alike; ``deserialize_dag(serialize_dag(dag))`` serializes to the same JSON.
The hash of the canonical JSON tells the dag processor whether a DAG changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from tradewind.sdk.datasets import BaseDataset, decode_condition
from tradewind.sdk.graph_order import topological_order
from tradewind.sdk.legacy_schedule import timetable_from_schedule_json
from tradewind.sdk.params import ParamsDict
from tradewind.sdk.timetables.base import Timetable
from tradewind.sdk.timetables.registry import decode_timetable, encode_timetable
from tradewind.sdk.timezones import decode_timezone, encode_timezone
from tradewind.sdk.xcom_arg import ArgReference, XComArg

FORMAT_VERSION = 1

_TASK_FIELDS = (
    "task_id",
    "label",
    "owner",
    "trigger_rule",
    "retries",
    "retry_exponential_backoff",
    "pool",
    "pool_slots",
    "queue",
    "priority_weight",
    "weight_rule",
    "depends_on_past",
    "wait_for_downstream",
    "ignore_first_depends_on_past",
    "do_xcom_push",
    "doc_md",
    "ui_color",
    "ui_fgcolor",
    "is_sensor",
    "max_active_tis_per_dag",
    "is_setup",
    "is_teardown",
    "on_failure_fail_dagrun",
    "task_display_name",
)
_SENSOR_FIELDS = ("mode", "soft_fail", "exponential_backoff")
_CALLBACKS = ("on_execute_callback", "on_failure_callback", "on_success_callback", "on_retry_callback")


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    return value if isinstance(value, int | float) else value.total_seconds()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def json_safe(value: Any) -> Any:
    """``value`` as JSON: containers walked, XCom references described, anything else as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, XComArg):
        return value.to_json()
    if isinstance(value, ArgReference):
        return {"__ref__": repr(value)}
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [json_safe(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, datetime):
        return value.isoformat()
    if callable(value):
        return f"<callable {getattr(value, '__qualname__', type(value).__name__)}>"
    return str(value)


def serialize_task(task: Any) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(task, name, None) for name in _TASK_FIELDS}
    data["trigger_rule"] = str(data["trigger_rule"])
    data["operator"] = getattr(task, "operator_name", type(task).__name__)
    data["operator_module"] = getattr(task, "operator_module", type(task).__module__)
    data["upstream_task_ids"] = sorted(task.upstream_task_ids)
    data["downstream_task_ids"] = sorted(task.downstream_task_ids)
    data["retry_delay"] = _seconds(task.retry_delay)
    data["max_retry_delay"] = _seconds(task.max_retry_delay)
    data["execution_timeout"] = _seconds(task.execution_timeout)
    data["start_date"] = _iso(task.start_date)
    data["end_date"] = _iso(task.end_date)
    data["params"] = _dump_params(task.params)
    data["template_fields"] = list(task.template_fields)
    data["template_ext"] = list(task.template_ext)
    data["template_values"] = {name: json_safe(getattr(task, name, None)) for name in task.template_fields}
    data["callbacks"] = sorted(
        name for name in _CALLBACKS if getattr(task, name, None) or getattr(task, "has_" + name, False)
    )
    expand_input = getattr(task, "expand_input_json", None)
    if expand_input is not None:
        data["expand_input"] = expand_input
    if getattr(task, "mapped_group_id", None) is not None:
        data["mapped_group"] = task.mapped_group_id
    group = getattr(task, "task_group", None)
    data["task_group_id"] = group.group_id if group is not None else None
    if data["is_sensor"]:
        for name in _SENSOR_FIELDS:
            data[name] = getattr(task, name, None)
        data["poke_interval"] = _seconds(getattr(task, "poke_interval", None))
        data["timeout"] = _seconds(getattr(task, "timeout", None))
    for name in ("inlets", "outlets"):
        lineage = [item.to_json() for item in getattr(task, name, None) or [] if isinstance(item, BaseDataset)]
        if lineage:
            data[name] = lineage
    callable_ = getattr(task, "python_callable", None)
    if callable_ is not None and not isinstance(callable_, str):
        data["python_callable_name"] = getattr(callable_, "__qualname__", repr(callable_))
    elif isinstance(callable_, str):
        data["python_callable_name"] = callable_
    return data


def _dump_params(params: Any) -> dict[str, Any]:
    if isinstance(params, ParamsDict):
        return params.dump()
    return ParamsDict(dict(params or {})).dump()


def serialize_group(group: Any) -> dict[str, Any]:
    children: list[dict[str, Any]] = []
    for child in group.children.values():
        if hasattr(child, "children"):
            children.append({"group": serialize_group(child)})
        else:
            children.append({"task": child.task_id})
    return {
        "group_id": group.group_id,
        "label": group.label,
        "prefix_group_id": group.prefix_group_id,
        "tooltip": group.tooltip,
        "ui_color": group.ui_color,
        "ui_fgcolor": group.ui_fgcolor,
        "children": children,
    }


def serialize_dag(dag: Any) -> dict[str, Any]:
    """The plain-JSON form of ``dag`` (a live DAG or a SerializedDAG)."""
    tasks = sorted(dag.tasks, key=lambda t: t.task_id)
    return {
        "__version": FORMAT_VERSION,
        "dag_id": dag.dag_id,
        "dag_display_name": getattr(dag, "dag_display_name", None) or dag.dag_id,
        "fileloc": dag.fileloc,
        "description": dag.description,
        "doc_md": dag.doc_md,
        "timetable": encode_timetable(dag.timetable),
        "timezone": encode_timezone(dag.timezone),
        "start_date": _iso(dag.start_date),
        "end_date": _iso(dag.end_date),
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "max_active_tasks": dag.max_active_tasks,
        "dagrun_timeout": _seconds(dag.dagrun_timeout),
        "tags": sorted(dag.tags),
        "params": _dump_params(dag.params),
        "is_paused_upon_creation": dag.is_paused_upon_creation,
        "default_view": dag.default_view,
        "orientation": dag.orientation,
        "render_template_as_native_obj": dag.render_template_as_native_obj,
        "template_searchpath": dag.template_searchpath,
        "has_on_success_callback": bool(
            getattr(dag, "has_on_success_callback", False) or getattr(dag, "on_success_callback", None)
        ),
        "has_on_failure_callback": bool(
            getattr(dag, "has_on_failure_callback", False) or getattr(dag, "on_failure_callback", None)
        ),
        "tasks": [serialize_task(t) for t in tasks],
        "task_group": serialize_group(dag.task_group),
    }


def dag_hash(serialized: dict[str, Any]) -> str:
    """A stable hash of the serialized form (unchanged DAG, unchanged hash)."""
    canonical = json.dumps(serialized, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# -- the deserialized form ----------------------------------------------------------------------


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class SerializedTask:
    """A task as the master sees it: its attributes, no code."""

    # The plain fields (``_TASK_FIELDS``), set from the serialized data in ``__init__``.
    task_id: str
    label: str
    owner: str | None
    trigger_rule: str
    retries: int
    retry_exponential_backoff: bool
    pool: str
    pool_slots: int
    queue: str | None
    priority_weight: int
    weight_rule: str
    depends_on_past: bool
    wait_for_downstream: bool
    ignore_first_depends_on_past: bool
    do_xcom_push: bool
    doc_md: str | None
    ui_color: str
    ui_fgcolor: str
    is_sensor: bool
    max_active_tis_per_dag: int | None
    is_setup: bool | None
    is_teardown: bool | None
    on_failure_fail_dagrun: bool | None
    task_display_name: str | None

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        for name in _TASK_FIELDS:
            setattr(self, name, data.get(name))
        if not self.task_display_name:
            self.task_display_name = self.label or self.task_id
        self.operator_name: str = data["operator"]
        self.operator_module: str = data["operator_module"]
        self.upstream_task_ids: set[str] = set(data["upstream_task_ids"])
        self.downstream_task_ids: set[str] = set(data["downstream_task_ids"])
        self.retry_delay: float = data["retry_delay"]
        self.max_retry_delay: float | None = data["max_retry_delay"]
        self.execution_timeout: float | None = data["execution_timeout"]
        self.start_date = _dt(data["start_date"])
        self.end_date = _dt(data["end_date"])
        self.params = ParamsDict.load(data["params"])
        self.template_fields: tuple[str, ...] = tuple(data["template_fields"])
        self.template_ext: tuple[str, ...] = tuple(data["template_ext"])
        self.template_values: dict[str, Any] = dict(data["template_values"])
        for name, value in self.template_values.items():
            # A template field named like this view's own attributes (HttpOperator's ``data``)
            # stays in ``template_values`` only.
            if not hasattr(self, name):
                setattr(self, name, value)
        for name in _CALLBACKS:
            setattr(self, "has_" + name, name in data["callbacks"])
        self.task_group_id: str | None = data["task_group_id"]
        #: What a mapped task maps over (``ExpandInput.to_json``); None for a task that is not mapped.
        self.expand_input_json: dict[str, Any] | None = data.get("expand_input")
        self.is_mapped = self.expand_input_json is not None
        #: The mapped task group the task is mapped with, if that is how it is mapped.
        self.mapped_group_id: str | None = data.get("mapped_group")
        self.task_group: SerializedTaskGroup | None = None
        if data.get("is_sensor"):
            for name in _SENSOR_FIELDS:
                setattr(self, name, data.get(name))
            self.poke_interval = data.get("poke_interval")
            self.timeout = data.get("timeout")
        if "python_callable_name" in data:
            self.python_callable = data["python_callable_name"]
        #: The datasets and aliases the task reads (``inlets``) and updates when it succeeds (``outlets``).
        self.inlets: list[BaseDataset] = [decode_condition(item) for item in data.get("inlets") or []]
        self.outlets: list[BaseDataset] = [decode_condition(item) for item in data.get("outlets") or []]

    def __repr__(self) -> str:
        return f"<SerializedTask({self.operator_name}): {self.task_id}>"


@dataclass
class SerializedTaskGroup:
    group_id: str | None
    label: str | None
    prefix_group_id: bool
    tooltip: str
    ui_color: str
    ui_fgcolor: str
    children: dict[str, Any] = field(default_factory=dict)

    @property
    def is_root(self) -> bool:
        return self.group_id is None

    def iter_tasks(self) -> Iterator[SerializedTask]:
        for child in self.children.values():
            if isinstance(child, SerializedTaskGroup):
                yield from child.iter_tasks()
            else:
                yield child


class SerializedDAG:
    """A DAG as the scheduler and web UI see it: structure and settings, no user code."""

    def __init__(self, data: dict[str, Any]) -> None:
        if data.get("__version") != FORMAT_VERSION:
            raise ValueError(f"serialized DAG format {data.get('__version')!r} is not {FORMAT_VERSION}")
        self.data = data
        self.dag_id: str = data["dag_id"]
        self.dag_display_name: str = data.get("dag_display_name") or self.dag_id
        self.fileloc: str | None = data["fileloc"]
        self.description: str | None = data["description"]
        self.doc_md: str | None = data["doc_md"]
        self.start_date = _dt(data["start_date"])
        self.end_date = _dt(data["end_date"])
        self.timezone, self.timetable = stored_timetable(data)
        self.catchup: bool | None = data["catchup"]
        self.max_active_runs: int = data["max_active_runs"]
        self.max_active_tasks: int = data["max_active_tasks"]
        self.dagrun_timeout: float | None = data["dagrun_timeout"]
        self.tags: list[str] = list(data["tags"])
        self.params = ParamsDict.load(data["params"])
        self.is_paused_upon_creation: bool | None = data["is_paused_upon_creation"]
        self.default_view: str = data["default_view"]
        self.orientation: str = data["orientation"]
        self.render_template_as_native_obj: bool = data["render_template_as_native_obj"]
        self.template_searchpath: list[str] | None = data["template_searchpath"]
        self.has_on_success_callback: bool = data["has_on_success_callback"]
        self.has_on_failure_callback: bool = data["has_on_failure_callback"]
        self.task_dict: dict[str, SerializedTask] = {t["task_id"]: SerializedTask(t) for t in data["tasks"]}
        self.task_group = self._load_group(data["task_group"])

    def _load_group(self, data: dict[str, Any]) -> SerializedTaskGroup:
        group = SerializedTaskGroup(
            group_id=data["group_id"],
            label=data["label"],
            prefix_group_id=data["prefix_group_id"],
            tooltip=data["tooltip"],
            ui_color=data["ui_color"],
            ui_fgcolor=data["ui_fgcolor"],
        )
        for child in data["children"]:
            if "group" in child:
                sub = self._load_group(child["group"])
                group.children[sub.group_id or ""] = sub
            else:
                task = self.task_dict[child["task"]]
                task.task_group = group
                group.children[task.task_id] = task
        return group

    @property
    def tasks(self) -> list[SerializedTask]:
        return list(self.task_dict.values())

    @property
    def task_ids(self) -> list[str]:
        return list(self.task_dict)

    def get_task(self, task_id: str) -> SerializedTask:
        from tradewind.errors import TaskNotFound

        try:
            return self.task_dict[task_id]
        except KeyError:
            raise TaskNotFound(f"DAG {self.dag_id!r} has no task {task_id!r}") from None

    def has_task(self, task_id: str) -> bool:
        return task_id in self.task_dict

    @property
    def roots(self) -> list[SerializedTask]:
        return [t for t in self.tasks if not t.upstream_task_ids]

    @property
    def leaves(self) -> list[SerializedTask]:
        return [t for t in self.tasks if not t.downstream_task_ids]

    def topological_sort(self) -> list[SerializedTask]:
        upstream = {t: self.task_dict[t].upstream_task_ids for t in sorted(self.task_dict)}
        try:
            return [self.task_dict[t] for t in topological_order(upstream)]
        except ValueError as exc:
            raise ValueError(f"serialized DAG {self.dag_id!r}: {exc}") from None

    def resolved_catchup(self, catchup_by_default: bool) -> bool:
        return self.catchup if self.catchup is not None else catchup_by_default

    def __repr__(self) -> str:
        return f"<SerializedDAG: {self.dag_id}>"


def stored_timetable(data: dict[str, Any]) -> tuple[tzinfo, Timetable]:
    """The time zone and timetable of a serialized DAG, without reading the rest of it. Raises
    ``TimetableNotRegistered`` for a custom timetable no loaded plugin registers."""
    if "timetable" in data:
        return decode_timezone(data["timezone"]), decode_timetable(data["timetable"])
    # Stored before timetables: read it as it was meant, until the file is parsed again.
    return timetable_from_schedule_json(data["schedule"], _dt(data["start_date"]))


def deserialize_dag(data: dict[str, Any]) -> SerializedDAG:
    return SerializedDAG(data)
