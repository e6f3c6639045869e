"""Datasets as Airflow 2.10 has them (``airflow.datasets``): ``Dataset(uri, extra)``, ``DatasetAlias``
and the conditions ``&`` / ``|`` build (``DatasetAll``, ``DatasetAny``), with their JSON form.

A condition is evaluated purely: ``evaluate(updated)`` says whether it holds when the datasets
whose URIs are in ``updated`` have new events; an alias stands for the datasets events were
attached to through it (``alias_members``), and holds when any of them was updated. A URI is
checked as Airflow checks it: ASCII, not empty or blank, at most 3000 characters, and never the
``airflow`` scheme, which Airflow reserves.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Collection, Iterator, Mapping
from typing import Any

#: The longest URI Airflow accepts (its column's length).
MAX_URI_LENGTH = 3000

#: alias name -> the URIs of the datasets events were attached to through it
AliasMembers = Mapping[str, Collection[str]]


def check_uri(uri: object) -> str:
    """``uri`` if it is a dataset URI Airflow accepts; ``ValueError`` saying why not otherwise."""
    if not isinstance(uri, str):
        raise ValueError(f"a dataset URI must be a string, not {type(uri).__name__}")
    if not uri:
        raise ValueError("a dataset URI cannot be empty")
    if uri.isspace():
        raise ValueError("a dataset URI cannot be just whitespace")
    if len(uri) > MAX_URI_LENGTH:
        raise ValueError(f"a dataset URI may have at most {MAX_URI_LENGTH} characters, not {len(uri)}")
    if not uri.isascii():
        raise ValueError(f"dataset URI {uri!r} must only consist of ASCII characters")
    if urllib.parse.urlsplit(uri).scheme.lower() == "airflow":
        raise ValueError(f"dataset URI {uri!r}: the scheme 'airflow' is reserved")
    return uri


class BaseDataset:
    """What ``schedule=`` accepts as a condition: a dataset, an alias, or ``&`` / ``|`` of them."""

    def __and__(self, other: BaseDataset) -> DatasetAll:
        if not isinstance(other, BaseDataset):
            return NotImplemented
        return DatasetAll(self, other)

    def __or__(self, other: BaseDataset) -> DatasetAny:
        if not isinstance(other, BaseDataset):
            return NotImplemented
        return DatasetAny(self, other)

    def evaluate(self, updated: Collection[str], alias_members: AliasMembers | None = None) -> bool:
        """Whether the condition holds when the datasets of ``updated`` (URIs) have new events."""
        raise NotImplementedError

    def iter_datasets(self) -> Iterator[Dataset]:
        """Every dataset the condition names."""
        return iter(())

    def iter_aliases(self) -> Iterator[DatasetAlias]:
        """Every alias the condition names."""
        return iter(())

    def as_expression(self) -> Any:
        """The condition as Airflow's REST API shows it (``dataset_expression``)."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError


class Dataset(BaseDataset):
    """A piece of data named by a URI; a task's ``outlets`` update it, a DAG's ``schedule`` waits on it."""

    def __init__(self, uri: str, extra: Mapping[str, Any] | None = None) -> None:
        self.uri = check_uri(uri)
        if extra is not None and not isinstance(extra, Mapping):
            raise ValueError(f"dataset {uri!r}: extra must be a dict, not {type(extra).__name__}")
        self.extra: dict[str, Any] = dict(extra or {})

    def evaluate(self, updated: Collection[str], alias_members: AliasMembers | None = None) -> bool:
        return self.uri in updated

    def iter_datasets(self) -> Iterator[Dataset]:
        yield self

    def as_expression(self) -> Any:
        return self.uri

    def to_json(self) -> dict[str, Any]:
        return {"__type": "dataset", "uri": self.uri, "extra": self.extra}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dataset) and other.uri == self.uri

    def __hash__(self) -> int:
        return hash(("dataset", self.uri))

    def __repr__(self) -> str:
        return f"Dataset(uri={self.uri!r}, extra={self.extra!r})"


class DatasetAlias(BaseDataset):
    """A name a task's events may attach datasets to at run time (``outlet_events[alias].add(...)``);
    a DAG scheduled on it waits on the datasets attached so far."""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError("a dataset alias needs a non-empty name")
        if len(name) > MAX_URI_LENGTH:
            raise ValueError(f"a dataset alias name may have at most {MAX_URI_LENGTH} characters")
        self.name = name

    def evaluate(self, updated: Collection[str], alias_members: AliasMembers | None = None) -> bool:
        members = (alias_members or {}).get(self.name, ())
        return any(uri in updated for uri in members)

    def iter_aliases(self) -> Iterator[DatasetAlias]:
        yield self

    def as_expression(self) -> Any:
        return {"alias": self.name}

    def to_json(self) -> dict[str, Any]:
        return {"__type": "dataset_alias", "name": self.name}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DatasetAlias) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("alias", self.name))

    def __repr__(self) -> str:
        return f"DatasetAlias(name={self.name!r})"


class _Combined(BaseDataset):
    _kind = ""

    def __init__(self, *objects: BaseDataset) -> None:
        if not objects:
            raise ValueError(f"{type(self).__name__} needs at least one dataset")
        for item in objects:
            if not isinstance(item, BaseDataset):
                raise ValueError(f"{type(self).__name__} takes datasets and aliases, not {item!r}")
        self.objects: tuple[BaseDataset, ...] = objects

    def iter_datasets(self) -> Iterator[Dataset]:
        for item in self.objects:
            yield from item.iter_datasets()

    def iter_aliases(self) -> Iterator[DatasetAlias]:
        for item in self.objects:
            yield from item.iter_aliases()

    def as_expression(self) -> Any:
        return {self._kind: [item.as_expression() for item in self.objects]}

    def to_json(self) -> dict[str, Any]:
        return {"__type": f"dataset_{self._kind}", "objects": [item.to_json() for item in self.objects]}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.objects == self.objects  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self._kind, self.objects))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.objects))})"


class DatasetAll(_Combined):
    """Holds when every part holds (``ds1 & ds2``; a ``schedule=[ds1, ds2]`` list)."""

    _kind = "all"

    def __and__(self, other: BaseDataset) -> DatasetAll:
        if not isinstance(other, BaseDataset):
            return NotImplemented
        return DatasetAll(*self.objects, other)

    def evaluate(self, updated: Collection[str], alias_members: AliasMembers | None = None) -> bool:
        return all(item.evaluate(updated, alias_members) for item in self.objects)


class DatasetAny(_Combined):
    """Holds when any part holds (``ds1 | ds2``)."""

    _kind = "any"

    def __or__(self, other: BaseDataset) -> DatasetAny:
        if not isinstance(other, BaseDataset):
            return NotImplemented
        return DatasetAny(*self.objects, other)

    def evaluate(self, updated: Collection[str], alias_members: AliasMembers | None = None) -> bool:
        return any(item.evaluate(updated, alias_members) for item in self.objects)


def condition_from_schedule(value: object) -> BaseDataset | None:
    """The condition a DAG's ``schedule`` names (a dataset, an alias, a condition, or a list of
    datasets and aliases, which must all be updated), or None when it names none."""
    if isinstance(value, BaseDataset):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        if not items:
            raise ValueError("schedule=[] names no dataset")
        if not all(isinstance(item, Dataset | DatasetAlias) for item in items):
            raise ValueError("all elements in 'schedule' should be datasets or dataset aliases")
        return DatasetAll(*items)
    return None


def decode_condition(data: Mapping[str, Any]) -> BaseDataset:
    """The condition ``to_json`` described; ``ValueError`` naming what is wrong otherwise."""
    kind = data.get("__type")
    if kind == "dataset":
        return Dataset(data["uri"], data.get("extra") or {})
    if kind == "dataset_alias":
        return DatasetAlias(data["name"])
    if kind in ("dataset_all", "dataset_any"):
        parts = [decode_condition(item) for item in data.get("objects") or []]
        return DatasetAll(*parts) if kind == "dataset_all" else DatasetAny(*parts)
    raise ValueError(f"not a serialized dataset condition: {dict(data)!r}")


def as_outlet_key(item: object) -> str:
    """How ``outlet_events`` / ``inlet_events`` find a dataset or alias: ``dataset:<uri>`` or
    ``alias:<name>`` (a plain string is a dataset's URI)."""
    if isinstance(item, Dataset):
        return f"dataset:{item.uri}"
    if isinstance(item, DatasetAlias):
        return f"alias:{item.name}"
    if isinstance(item, str):
        return f"dataset:{check_uri(item)}"
    raise TypeError(f"expected a Dataset, a DatasetAlias or a dataset URI, not {item!r}")
