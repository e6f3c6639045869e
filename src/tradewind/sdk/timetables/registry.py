"""A timetable as JSON and back: ``{"__type": <class path>, "__var": <its serialize()>}``.

The built-ins go by their Airflow class paths. A custom timetable goes by its class's
``module.qualname`` and is found again only among the timetables that loaded plugins registered —
the scheduler and the webserver never import DAG files — so an unregistered one is an error that
names it, when the file is parsed and again when a stored DAG is read.
"""

from __future__ import annotations

from typing import Any

from tradewind.errors import InvalidScheduleError, TimetableNotRegistered
from tradewind.sdk import plugins
from tradewind.sdk.timetables.base import Timetable
from tradewind.sdk.timetables.datasets import DatasetOrTimeSchedule, DatasetTriggeredTimetable
from tradewind.sdk.timetables.events import EventsTimetable
from tradewind.sdk.timetables.interval import CronDataIntervalTimetable, DeltaDataIntervalTimetable
from tradewind.sdk.timetables.simple import ContinuousTimetable, NullTimetable, OnceTimetable
from tradewind.sdk.timetables.trigger import CronTriggerTimetable

#: The built-in timetables under the class paths Airflow gives them.
BUILT_IN: dict[str, type[Timetable]] = {
    "airflow.timetables.interval.CronDataIntervalTimetable": CronDataIntervalTimetable,
    "airflow.timetables.interval.DeltaDataIntervalTimetable": DeltaDataIntervalTimetable,
    "airflow.timetables.trigger.CronTriggerTimetable": CronTriggerTimetable,
    "airflow.timetables.events.EventsTimetable": EventsTimetable,
    "airflow.timetables.simple.NullTimetable": NullTimetable,
    "airflow.timetables.simple.OnceTimetable": OnceTimetable,
    "airflow.timetables.simple.ContinuousTimetable": ContinuousTimetable,
    "airflow.timetables.simple.DatasetTriggeredTimetable": DatasetTriggeredTimetable,
    "airflow.timetables.datasets.DatasetOrTimeSchedule": DatasetOrTimeSchedule,
}
_BUILT_IN_NAMES = {cls: name for name, cls in BUILT_IN.items()}


def class_path(cls: type) -> str:
    """How a timetable class is named in a serialized DAG."""
    return _BUILT_IN_NAMES.get(cls) or f"{cls.__module__}.{cls.__qualname__}"


def _not_registered(name: str) -> TimetableNotRegistered:
    return TimetableNotRegistered(
        f"timetable class {name!r} is not registered: list it in the `timetables` of an AirflowPlugin "
        "in the plugins folder (TRADEWIND_PLUGINS_FOLDER), as Airflow requires"
    )


def encode_timetable(timetable: Timetable) -> dict[str, Any]:
    """The timetable as JSON; a custom one must be registered by a plugin."""
    cls = type(timetable)
    name = class_path(cls)
    if cls not in _BUILT_IN_NAMES and plugins.registered_timetables().get(name) is not cls:
        raise _not_registered(name)
    return {"__type": name, "__var": timetable.serialize()}


def decode_timetable(data: dict[str, Any]) -> Timetable:
    """The timetable ``encode_timetable`` described."""
    name = data.get("__type")
    if not isinstance(name, str):
        raise InvalidScheduleError(f"a serialized timetable has no class name: {data!r}")
    cls = BUILT_IN.get(name) or plugins.registered_timetables().get(name)
    if cls is None:
        raise _not_registered(name)
    timetable = cls.deserialize(dict(data.get("__var") or {}))  # type: ignore[attr-defined]
    if not isinstance(timetable, Timetable):
        raise InvalidScheduleError(f"{name}.deserialize returned {timetable!r}, not a timetable")
    return timetable
