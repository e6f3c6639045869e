"""The scheduler's memory of serialized DAGs, keyed by their hash, so a tick reads a DAG's JSON
only when the dag processor stored a new version of it (and each DAG's hash once a transaction).

A worker's threads share one cache for their follow-ups: reads and updates of the memory hold a
lock, the metastore reads in between do not.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from tradewind.decisions.planner import TaskNode
from tradewind.decisions.task_nodes import task_nodes
from tradewind.metastore import scheduling
from tradewind.sdk.serialization import SerializedDAG, deserialize_dag

logger = logging.getLogger(__name__)

#: Operators that do nothing: the scheduler marks them success itself, as Airflow does.
EMPTY_OPERATORS = frozenset({"EmptyOperator", "DummyOperator"})


@dataclass(frozen=True)
class CachedDag:
    dag: SerializedDAG
    dag_hash: str | None
    nodes: dict[str, TaskNode]
    #: Tasks the scheduler may finish without a worker: empty operators without callbacks or outlets.
    empty_task_ids: frozenset[str]

    @classmethod
    def build(cls, dag: SerializedDAG, dag_hash: str | None) -> CachedDag:
        empty = frozenset(
            task_id
            for task_id, task in dag.task_dict.items()
            if task.operator_name in EMPTY_OPERATORS and not task.data.get("callbacks") and not task.outlets
        )
        return cls(dag=dag, dag_hash=dag_hash, nodes=task_nodes(dag), empty_task_ids=empty)


class DagCache:
    def __init__(self) -> None:
        self._dags: dict[str, CachedDag] = {}
        #: dag_id -> hash of a stored version that could not be read (logged once, not retried).
        self._unreadable: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def get_many(
        self, session: Session, dag_ids: Collection[str], *, stored_hashes: Mapping[str, str | None] | None = None
    ) -> dict[str, CachedDag]:
        """The named DAGs as currently stored (DAGs never parsed, or unreadable, are left out).
        ``stored_hashes``: what this transaction already read of their hashes (``dag_hashes``, for
        all of ``dag_ids``: a DAG missing from it was never parsed)."""
        if stored_hashes is not None:
            _remember_hashes(session, {dag_id: stored_hashes.get(dag_id, _NOT_STORED) for dag_id in dag_ids})
        hashes = _hashes_in_transaction(session, dag_ids)
        with self._lock:
            stale = [
                dag_id
                for dag_id, dag_hash in hashes.items()
                if (dag_id not in self._dags or self._dags[dag_id].dag_hash != dag_hash)
                and (dag_id not in self._unreadable or self._unreadable[dag_id] != dag_hash)
            ]
        built: dict[str, CachedDag] = {}
        unreadable: dict[str, str | None] = {}
        for dag_id, (dag_hash, data) in scheduling.serialized_dags(session, stale).items():
            try:
                built[dag_id] = CachedDag.build(deserialize_dag(data), dag_hash)
            except Exception:  # noqa: BLE001 - one unreadable DAG must not stop the others
                logger.exception("the stored DAG %s cannot be read; its runs wait for a good version", dag_id)
                unreadable[dag_id] = dag_hash
        with self._lock:
            for dag_id, cached in built.items():
                self._dags[dag_id] = cached
                self._unreadable.pop(dag_id, None)
            for dag_id, dag_hash in unreadable.items():
                self._dags.pop(dag_id, None)
                self._unreadable[dag_id] = dag_hash
            return {dag_id: self._dags[dag_id] for dag_id in hashes if dag_id in self._dags}

    def get(self, session: Session, dag_id: str) -> CachedDag | None:
        return self.get_many(session, [dag_id]).get(dag_id)


#: Where a transaction's DAG hashes are kept, in ``Session.info``.
_HASHES_KEY = "tradewind.dag_hashes"


def _hashes_in_transaction(session: Session, dag_ids: Collection[str]) -> dict[str, str | None]:
    """The named DAGs' stored hashes, each read once per transaction: planning a run and then
    queueing its tasks ask about the same DAG, and need not ask the metastore twice."""
    known = _known_hashes(session)
    missing = [dag_id for dag_id in dag_ids if dag_id not in known]
    if missing:
        found = scheduling.dag_hashes(session, missing)
        known.update({dag_id: found.get(dag_id, _NOT_STORED) for dag_id in missing})
    session.info[_HASHES_KEY] = (session.get_transaction(), known)
    return {dag_id: known[dag_id] for dag_id in dag_ids if known[dag_id] != _NOT_STORED}


def _remember_hashes(session: Session, hashes: Mapping[str, str | None]) -> None:
    """Keep hashes this transaction read another way (with the runs it locked)."""
    known = _known_hashes(session)
    known.update(hashes)
    session.info[_HASHES_KEY] = (session.get_transaction(), known)


def _known_hashes(session: Session) -> dict[str, str | None]:
    memo = session.info.get(_HASHES_KEY)
    transaction = session.get_transaction()
    return memo[1] if memo is not None and transaction is not None and memo[0] is transaction else {}


#: A DAG never parsed (or gone): not in the metastore's answer.
_NOT_STORED = "\0not stored"
