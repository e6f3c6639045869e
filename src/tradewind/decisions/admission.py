"""Which scheduled task instances may be queued now: the pure rule behind the queueing duty.

Candidates come highest priority first. Each is admitted while every limit has room: the global
``parallelism`` (queued + running), its pool's free slots (a task instance takes ``pool_slots``),
its DAG's ``max_active_tasks`` and its task's ``max_active_tis_per_dag``. A candidate that does not
fit is passed over and a lower-priority one that fits still goes (as in Airflow). A task instance
whose pool does not exist can never run and is reported apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Candidate:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    pool: str
    pool_slots: int
    queue: str | None
    max_active_tis_per_dag: int | None = None


@dataclass
class Usage:
    """Task instances queued or running now: in all, slots per pool, per DAG, per task."""

    total: int = 0
    pool_slots: Counter[str] = field(default_factory=Counter)
    per_dag: Counter[str] = field(default_factory=Counter)
    per_task: Counter[tuple[str, str]] = field(default_factory=Counter)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, str, int, int]]) -> Usage:
        """From (dag_id, task_id, pool, count, slots) rows."""
        usage = cls()
        for dag_id, task_id, pool, count, slots in rows:
            usage.total += count
            usage.pool_slots[pool] += slots
            usage.per_dag[dag_id] += count
            usage.per_task[(dag_id, task_id)] += count
        return usage

    def take(self, candidate: Candidate) -> None:
        self.total += 1
        self.pool_slots[candidate.pool] += candidate.pool_slots
        self.per_dag[candidate.dag_id] += 1
        self.per_task[(candidate.dag_id, candidate.task_id)] += 1


@dataclass(frozen=True)
class Limits:
    parallelism: int
    #: pool name -> slots
    pools: Mapping[str, int]
    #: dag_id -> max_active_tasks
    max_active_tasks: Mapping[str, int]

    def free_parallelism(self, usage: Usage) -> int:
        return max(0, self.parallelism - usage.total)

    def full_pools(self, usage: Usage) -> list[str]:
        return sorted(pool for pool, slots in self.pools.items() if usage.pool_slots[pool] >= slots)


@dataclass(frozen=True)
class Admission:
    queue: list[Candidate] = field(default_factory=list)
    unknown_pool: list[Candidate] = field(default_factory=list)


def admit(candidates: Sequence[Candidate], usage: Usage, limits: Limits) -> Admission:
    """Admit candidates in order while the limits allow; ``usage`` is updated with those admitted."""
    admitted: list[Candidate] = []
    unknown: list[Candidate] = []
    for candidate in candidates:
        if candidate.pool not in limits.pools:
            unknown.append(candidate)
            continue
        if usage.total >= limits.parallelism:
            continue
        if usage.pool_slots[candidate.pool] + candidate.pool_slots > limits.pools[candidate.pool]:
            continue
        dag_limit = limits.max_active_tasks.get(candidate.dag_id)
        if dag_limit is not None and usage.per_dag[candidate.dag_id] >= dag_limit:
            continue
        task_limit = candidate.max_active_tis_per_dag
        if task_limit is not None and usage.per_task[(candidate.dag_id, candidate.task_id)] >= task_limit:
            continue
        usage.take(candidate)
        admitted.append(candidate)
    return Admission(queue=admitted, unknown_pool=unknown)
