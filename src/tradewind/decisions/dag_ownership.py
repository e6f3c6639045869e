"""Which file owns which DAG id after a batch of DAG files was imported.

A DAG id belongs to the first file that defined it while the DAG is active and its file still
exists; a second file defining it gets an import error and its copy is ignored. A file that
imported cleanly gives up the ids it no longer defines (they become inactive unless another file
of the batch takes them, so a DAG moved from one file to another keeps going); a file that failed
to import keeps what it had. The files of a batch are taken in order, as if imported one by one,
except that every file gives up its old ids before any claims new ones, so a DAG moved between two
files of the same batch lands in its new file whichever is first.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ImportedFile:
    """A file of the batch: the DAG ids it defines now, in order, or None when it failed to import."""

    filename: str
    dag_ids: Sequence[str] | None


@dataclass
class OwnershipPlan:
    #: filename -> the DAG ids to store from it (every imported file has an entry)
    stored: dict[str, list[str]] = field(default_factory=dict)
    #: filename -> (dag_id, the file that keeps it) for each id the file may not have
    duplicates: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    #: DAG ids nobody defines any more: to become inactive
    deactivate: set[str] = field(default_factory=set)


def plan_ownership(
    files: Sequence[ImportedFile],
    owners: Mapping[str, str],
    previous: Mapping[str, Collection[str]],
    existing: Collection[str],
) -> OwnershipPlan:
    """``owners``: dag_id -> file of each active DAG; ``previous``: filename -> the ids it defined at
    its last good import; ``existing``: the owners' files still on disk (the batch's own files
    count as existing)."""
    owner_of = dict(owners)
    plan = OwnershipPlan()
    released: set[str] = set()
    for item in files:
        if item.dag_ids is None:
            continue
        for dag_id in set(previous.get(item.filename, ())) - set(item.dag_ids):
            if owner_of.get(dag_id) == item.filename:
                del owner_of[dag_id]
                released.add(dag_id)
    in_batch = {item.filename for item in files}
    for item in files:
        if item.dag_ids is None:
            continue
        stored = plan.stored.setdefault(item.filename, [])
        for dag_id in item.dag_ids:
            owner = owner_of.get(dag_id)
            if owner is not None and owner != item.filename and (owner in in_batch or owner in existing):
                plan.duplicates.setdefault(item.filename, []).append((dag_id, owner))
                continue
            owner_of[dag_id] = item.filename
            stored.append(dag_id)
    plan.deactivate = {dag_id for dag_id in released if dag_id not in owner_of}
    return plan
