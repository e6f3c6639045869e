"""Dataset events as a running task sees them (Airflow 2.10): ``outlet_events`` (the extra of the
events its success will send, and the datasets it adds to an alias), ``inlet_events`` (the events
of a dataset so far) and ``triggering_dataset_events`` (the events that made a dataset-triggered run).

Reads go through the runtime services on first use, so a task that never looks costs nothing;
``emitted_events`` is what the try's success reports, one event per outlet dataset.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tradewind.sdk import runtime_services
from tradewind.sdk.datasets import Dataset, DatasetAlias, as_outlet_key, check_uri


@dataclass(frozen=True)
class DatasetView:
    """``event.dataset``: the dataset an event updated."""

    uri: str
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetEventView:
    """One dataset event, under Airflow's ``DatasetEvent`` attribute names."""

    id: int
    dataset_id: int
    dataset_uri: str
    extra: Mapping[str, Any]
    source_dag_id: str | None
    source_task_id: str | None
    source_run_id: str | None
    source_map_index: int | None
    timestamp: datetime

    @property
    def dataset(self) -> DatasetView:
        return DatasetView(self.dataset_uri)

    @property
    def uri(self) -> str:
        return self.dataset_uri

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DatasetEventView:
        stamp = data["timestamp"]
        return cls(
            id=int(data["id"]),
            dataset_id=int(data["dataset_id"]),
            dataset_uri=str(data["dataset_uri"]),
            extra=dict(data.get("extra") or {}),
            source_dag_id=data.get("source_dag_id"),
            source_task_id=data.get("source_task_id"),
            source_run_id=data.get("source_run_id"),
            source_map_index=data.get("source_map_index"),
            timestamp=datetime.fromisoformat(stamp) if isinstance(stamp, str) else stamp,
        )


class OutletEventAccessor:
    """``outlet_events[dataset_or_alias]``: set ``extra`` for the dataset's event; on an alias,
    ``add(dataset, extra)`` sends an event of that dataset through the alias."""

    def __init__(self, raw_key: Dataset | DatasetAlias) -> None:
        self.raw_key = raw_key
        self.extra: dict[str, Any] = {}
        #: (uri, extra) of each dataset added through this alias
        self.added: list[tuple[str, dict[str, Any]]] = []

    def add(self, dataset: Dataset | str, extra: Mapping[str, Any] | None = None) -> None:
        if not isinstance(self.raw_key, DatasetAlias):
            raise TypeError(f"add() is for dataset aliases; {self.raw_key!r} is a dataset: set its .extra instead")
        uri = dataset.uri if isinstance(dataset, Dataset) else check_uri(dataset)
        self.added.append((uri, dict(extra or {})))


class OutletEventAccessors(Mapping[Any, OutletEventAccessor]):
    """``outlet_events``: an accessor per dataset or alias, made on first use."""

    def __init__(self) -> None:
        self._accessors: dict[str, OutletEventAccessor] = {}

    def __getitem__(self, key: Any) -> OutletEventAccessor:
        name = as_outlet_key(key)
        if name not in self._accessors:
            self._accessors[name] = OutletEventAccessor(Dataset(key) if isinstance(key, str) else key)
        return self._accessors[name]

    def __iter__(self) -> Iterator[Any]:
        return (accessor.raw_key for accessor in self._accessors.values())

    def __len__(self) -> int:
        return len(self._accessors)


class InletEventsAccessors(Mapping[Any, Sequence[DatasetEventView]]):
    """``inlet_events[dataset]``: the dataset's events so far, oldest first (read on first use)."""

    def __init__(self, inlets: Sequence[Any]) -> None:
        self._inlets = list(inlets)
        self._read: dict[str, list[DatasetEventView]] = {}

    def __getitem__(self, key: Any) -> Sequence[DatasetEventView]:
        uri = key.uri if isinstance(key, Dataset) else check_uri(key)
        if uri not in self._read:
            rows = runtime_services.current().dataset_events(uri)
            self._read[uri] = [DatasetEventView.from_json(row) for row in rows]
        return self._read[uri]

    def __iter__(self) -> Iterator[Any]:
        return iter(item for item in self._inlets if isinstance(item, Dataset))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class LazyEventsByUri(Mapping[str, list[DatasetEventView]]):
    """``triggering_dataset_events``: URI -> the events that made the run, read on first use
    (empty for a run that datasets did not trigger)."""

    def __init__(self, load: Callable[[], Sequence[Mapping[str, Any]]]) -> None:
        self._load = load
        self._events: dict[str, list[DatasetEventView]] | None = None

    def _loaded(self) -> dict[str, list[DatasetEventView]]:
        if self._events is None:
            grouped: dict[str, list[DatasetEventView]] = {}
            for row in self._load():
                event = DatasetEventView.from_json(row)
                grouped.setdefault(event.dataset_uri, []).append(event)
            self._events = grouped
        return self._events

    def __getitem__(self, uri: str) -> list[DatasetEventView]:
        return self._loaded()[uri]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())

    def __repr__(self) -> str:
        return repr(self._loaded())


def triggering_events(dag_id: str, run_id: str, run_type: str) -> LazyEventsByUri:
    """The ``triggering_dataset_events`` of a run."""
    if run_type != "dataset_triggered":
        return LazyEventsByUri(list)
    return LazyEventsByUri(lambda: runtime_services.current().run_dataset_events(dag_id, run_id))


def emitted_events(outlets: Sequence[Any], accessors: OutletEventAccessors) -> list[dict[str, Any]]:
    """The events a successful try sends: one per outlet dataset with the extra the task set, and
    one per dataset added through an outlet alias (the same dataset and extra through several
    aliases is one event). Plain JSON, as the try's outcome carries it."""
    events: list[dict[str, Any]] = []
    through_alias: dict[tuple[str, str], dict[str, Any]] = {}
    for outlet in outlets:
        if isinstance(outlet, Dataset):
            events.append({"uri": outlet.uri, "extra": dict(accessors[outlet].extra), "aliases": []})
        elif isinstance(outlet, DatasetAlias):
            for uri, extra in accessors[outlet].added:
                key = (uri, json.dumps(extra, sort_keys=True, default=str))
                entry = through_alias.setdefault(key, {"uri": uri, "extra": extra, "aliases": []})
                if outlet.name not in entry["aliases"]:
                    entry["aliases"].append(outlet.name)
    return events + list(through_alias.values())
