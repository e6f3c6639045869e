"""The pure planner: given one DAG run's structure and task-instance states, what changes now.

``plan_run`` decides which task instances become scheduled, skipped or upstream_failed, whether
the run has ended, and when something next becomes due. It reads no clock and touches no
database; ``tradewind.scheduling.run_driver`` reads a run's states, calls it, and writes the plan
in one batch.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tradewind.decisions.past_dependencies import PastDependency
from tradewind.decisions.retries import RetryPolicy
from tradewind.decisions.setup_teardown import run_state_leaves
from tradewind.decisions.trigger_rules import UpstreamCounts, Verdict, combine, evaluate, evaluate_setup_constraint
from tradewind.errors import DagCycleError, TradewindException
from tradewind.sdk.expand_input import MissingMapSource, SourceKey, json_sources, map_length
from tradewind.states import FAILED_STATES, FINISHED_STATES, UNFINISHED_STATES, DagRunState
from tradewind.states import TaskInstanceState as TI

#: States the planner may move on; everything else (scheduled, queued, running, finished) is left alone.
_PLANNABLE = frozenset({TI.NONE, TI.UP_FOR_RETRY, TI.UP_FOR_RESCHEDULE})
#: Unfinished states in which something is still under way or due by itself, so no deadlock.
_MOVING = frozenset(
    {TI.SCHEDULED, TI.QUEUED, TI.RUNNING, TI.UP_FOR_RETRY, TI.UP_FOR_RESCHEDULE, TI.RESTARTING, TI.DEFERRED}
)

TIKey = tuple[str, int]

#: Airflow's default ``[core] max_map_length``: the most task instances one mapped task may have.
DEFAULT_MAX_MAP_LENGTH = 1024


@dataclass(frozen=True)
class TaskNode:
    """What the planner needs to know of one task in the DAG."""

    task_id: str
    upstream: frozenset[str]
    trigger_rule: str
    retries: int
    retry: RetryPolicy = RetryPolicy()
    priority_weight: int = 1
    pool: str = "default_pool"
    pool_slots: int = 1
    queue: str = "default"
    #: How the task depends on the DAG's previous run (``depends_on_past``); None: it does not.
    past: PastDependency | None = None
    #: What a mapped task maps over (``ExpandInput.to_json``); None when the task is not mapped.
    expand_input: Mapping[str, Any] | None = field(default=None, compare=False)
    #: The mapped task group the task is mapped with (its tasks share map indexes), if any.
    mapped_group: str | None = None
    #: Its direct upstream tasks that are setup tasks (what a teardown's rule looks at).
    setups: frozenset[str] = frozenset()
    #: Setups it runs inside of without being directly downstream (its implicit all_success).
    indirect_setups: frozenset[str] = frozenset()
    #: A teardown without ``on_failure_fail_dagrun``: its end does not decide the run's state.
    ignored_for_run_state: bool = False


@dataclass(frozen=True)
class TIView:
    """One task instance of the run, as read from the metastore."""

    task_id: str
    map_index: int
    state: TI
    try_number: int
    max_tries: int
    retry_at: datetime | None = None
    next_poke_at: datetime | None = None


@dataclass(frozen=True)
class TIDecision:
    """A task instance that becomes ``scheduled`` (from ``from_state``) with ``try_number``."""

    task_id: str
    map_index: int
    from_state: TI
    try_number: int
    priority_weight: int = 1
    pool: str = "default_pool"
    pool_slots: int = 1
    queue: str = "default"


@dataclass(frozen=True)
class MapExpansion:
    """Mapped task ``task_id`` gets task instances 0..``length``-1 (replacing its unexpanded one,
    adding missing indexes, removing those past the end)."""

    task_id: str
    length: int


@dataclass(frozen=True)
class MapFailure:
    """Mapped task ``task_id`` cannot be expanded; its task instances ``map_indexes`` fail."""

    task_id: str
    map_indexes: tuple[int, ...]
    reason: str


@dataclass(frozen=True)
class RunPlan:
    """Everything ``plan_run`` decided for one run.

    ``schedule`` is ordered highest priority weight first, then upstream before downstream.
    ``run_state`` is None while the run goes on. ``next_wakeup`` is the earliest retry or
    reschedule time still in the future, so the loop knows when to look again.
    """

    schedule: list[TIDecision] = field(default_factory=list)
    skip: list[TIKey] = field(default_factory=list)
    upstream_failed: list[TIKey] = field(default_factory=list)
    run_state: DagRunState | None = None
    next_wakeup: datetime | None = None
    expand: list[MapExpansion] = field(default_factory=list)
    map_failed: list[MapFailure] = field(default_factory=list)


def plan_run(
    tasks: Mapping[str, TaskNode],
    tis: Sequence[TIView],
    now: datetime,
    *,
    held: Collection[str] = (),
    pushed: Mapping[SourceKey, Any] | None = None,
    max_map_length: int = DEFAULT_MAX_MAP_LENGTH,
) -> RunPlan:
    """Decide what changes in one run now.

    Tasks are walked upstream first, and a task instance decided skipped or upstream_failed counts
    as such for its downstream at once, so a skipped branch or a failure propagates down a whole
    chain in one call. A task's upstream counts cover every task instance (all map indexes) of its
    upstream tasks; an upstream task with no task instance in the run counts as one unfinished
    upstream (Airflow counts upstream *tasks*, so it never finishes). Task instances of tasks that
    are not in ``tasks`` are ignored (the loop marks them removed). Task instances of the ``held``
    tasks (``depends_on_past`` not met yet) are not scheduled and count as waiting, not deadlocked.

    A mapped task whose task instances have not started is expanded once its trigger rule lets it
    run and every task it maps over has finished: ``pushed`` holds the values those tasks pushed
    ((task_id, key) -> value). The plan then says how many task instances it gets (``expand``;
    the caller writes them and plans again), skips it when it maps over nothing, or fails it
    (``map_failed``) when a value cannot be mapped over or has more than ``max_map_length`` elements.
    """
    order = topological_order(tasks)
    by_task: dict[str, list[TIView]] = defaultdict(list)
    for ti in tis:
        if ti.task_id in tasks:
            by_task[ti.task_id].append(ti)
    states: dict[TIKey, TI] = {(ti.task_id, ti.map_index): TI(ti.state) for ti in tis if ti.task_id in tasks}
    ranked: list[tuple[int, int, int, TIDecision]] = []
    skip: list[TIKey] = []
    upstream_failed: list[TIKey] = []
    wakeups: list[datetime] = []
    waiting_on_past = False
    expand: list[MapExpansion] = []
    map_failed: list[MapFailure] = []

    for position, task_id in enumerate(order):
        node = tasks[task_id]
        # A task of a mapped task group waits on its upstream tasks in the group element by element,
        # so its verdict is per task instance; any other task's is one for all its task instances.
        in_group = node.mapped_group is not None
        verdict = None if in_group else _verdict(node, by_task, states)
        if verdict is Verdict.WAIT:
            continue
        if (
            (in_group or verdict is Verdict.READY)
            and node.expand_input is not None
            and _not_started(by_task[task_id], states)
        ):
            mapping = _map_decision(node, by_task, states, pushed or {}, max_map_length)
            if isinstance(mapping, MapFailure):
                map_failed.append(mapping)
                states.update({(task_id, index): TI.FAILED for index in mapping.map_indexes})
                continue
            if isinstance(mapping, MapExpansion):
                expand.append(mapping)
                continue
            if mapping is Verdict.WAIT:
                continue
            if mapping in (Verdict.SKIP, Verdict.UPSTREAM_FAILED):
                verdict = mapping
        for ti in sorted(by_task[task_id], key=lambda t: t.map_index):
            key = (ti.task_id, ti.map_index)
            if states[key] not in _PLANNABLE:
                continue
            ti_verdict = verdict or _verdict(node, by_task, states, tasks=tasks, map_index=ti.map_index)
            if ti_verdict is Verdict.WAIT:
                continue
            if ti_verdict is Verdict.SKIP:
                states[key] = TI.SKIPPED
                skip.append(key)
            elif ti_verdict is Verdict.UPSTREAM_FAILED:
                states[key] = TI.UPSTREAM_FAILED
                upstream_failed.append(key)
            elif (due := _due_at(ti)) is not None and due > now:
                wakeups.append(due)
            elif task_id in held:
                waiting_on_past = True
            else:
                states[key] = TI.SCHEDULED
                ranked.append((-node.priority_weight, position, ti.map_index, _decision(node, ti)))

    return RunPlan(
        schedule=[decision for *_, decision in sorted(ranked, key=lambda r: r[:3])],
        skip=skip,
        upstream_failed=upstream_failed,
        # Task instances about to be written change the run's outlook: it is planned again first.
        run_state=None if expand else _run_state(tasks, states, waiting_on_past=waiting_on_past),
        next_wakeup=min(wakeups, default=None),
        expand=expand,
        map_failed=map_failed,
    )


def map_sources_to_read(nodes: Mapping[str, TaskNode], views: Sequence[TIView]) -> set[SourceKey]:
    """The XComs that mapped tasks not started yet map over, of tasks that have finished."""
    states: dict[str, list[TI]] = {}
    for view in views:
        states.setdefault(view.task_id, []).append(TI(view.state))
    wanted: set[SourceKey] = set()
    for node in nodes.values():
        if node.expand_input is None:
            continue
        own = states.get(node.task_id, [])
        if TI.NONE not in own or any(s not in (TI.NONE, TI.REMOVED) for s in own):
            continue
        for source in json_sources(node.expand_input):
            source_states = states.get(source[0], [])
            if source_states and all(s in FINISHED_STATES for s in source_states):
                wanted.add(source)
    return wanted


def _not_started(task_tis: Sequence[TIView], states: Mapping[TIKey, TI]) -> bool:
    """No task instance of the task has been scheduled since it was created or cleared."""
    current = [states[(ti.task_id, ti.map_index)] for ti in task_tis]
    return TI.NONE in current and all(state in (TI.NONE, TI.REMOVED) for state in current)


def _map_decision(
    node: TaskNode,
    by_task: Mapping[str, list[TIView]],
    states: Mapping[TIKey, TI],
    pushed: Mapping[SourceKey, Any],
    max_map_length: int,
) -> MapExpansion | MapFailure | Verdict | None:
    """What a mapped task that may run needs first: WAIT while a task it maps over is unfinished,
    an expansion to its length, SKIP for length 0, a failure, or None when it is expanded already."""
    assert node.expand_input is not None
    for source_task, _ in json_sources(node.expand_input):
        source_tis = by_task.get(source_task, [])
        if not source_tis or any(states[(t.task_id, t.map_index)] not in FINISHED_STATES for t in source_tis):
            return Verdict.WAIT
    waiting = tuple(sorted(t.map_index for t in by_task[node.task_id] if states[(t.task_id, t.map_index)] is TI.NONE))
    try:
        length = map_length(node.task_id, node.expand_input, pushed, max_map_length)
    except MissingMapSource as exc:
        # Nothing to map over because the upstream did not succeed (a trigger rule such as
        # all_done let the mapped task go on): it follows that upstream, as a plain task would.
        source_states = {
            states[(t.task_id, t.map_index)]
            for source_task, _ in json_sources(node.expand_input)
            for t in by_task.get(source_task, [])
        } - {TI.REMOVED}
        if source_states & FAILED_STATES:
            return Verdict.UPSTREAM_FAILED
        if source_states and source_states <= {TI.SKIPPED}:
            return Verdict.SKIP
        return MapFailure(node.task_id, waiting, str(exc))
    except TradewindException as exc:
        return MapFailure(node.task_id, waiting, str(exc))
    if length == 0:
        return Verdict.SKIP
    if waiting != tuple(range(length)):
        return MapExpansion(node.task_id, length)
    return None


def upstream_counts_of(
    tasks: Mapping[str, TaskNode], tis: Sequence[TIView], task_id: str, map_index: int
) -> UpstreamCounts:
    """How the upstream task instances of one task instance stand, counted as ``plan_run`` counts
    them for its trigger rule (``tasks failed-deps`` shows why a task instance waits)."""
    by_task: dict[str, list[TIView]] = defaultdict(list)
    for ti in tis:
        if ti.task_id in tasks:
            by_task[ti.task_id].append(ti)
    states: dict[TIKey, TI] = {(ti.task_id, ti.map_index): TI(ti.state) for ti in tis if ti.task_id in tasks}
    return _upstream_counts(tasks[task_id], by_task, states, tasks=tasks, map_index=map_index)


def _verdict(
    node: TaskNode,
    by_task: Mapping[str, list[TIView]],
    states: Mapping[TIKey, TI],
    *,
    tasks: Mapping[str, TaskNode] | None = None,
    map_index: int | None = None,
) -> Verdict:
    """The task's trigger rule over its upstream task instances, combined with its setup constraint."""
    rule = evaluate(node.trigger_rule, _upstream_counts(node, by_task, states, tasks=tasks, map_index=map_index))
    if not node.indirect_setups or node.trigger_rule == "always":
        return rule
    setup_states: list[TI] = []
    for setup_id in sorted(node.indirect_setups):
        setup_tis = by_task.get(setup_id, [])
        setup_states.extend(states[(ti.task_id, ti.map_index)] for ti in setup_tis)
        if not setup_tis:
            setup_states.append(TI.NONE)
    return combine(evaluate_setup_constraint(UpstreamCounts.from_states(setup_states)), rule)


def _upstream_counts(
    node: TaskNode,
    by_task: Mapping[str, list[TIView]],
    states: Mapping[TIKey, TI],
    *,
    tasks: Mapping[str, TaskNode] | None = None,
    map_index: int | None = None,
) -> UpstreamCounts:
    """The states of the upstream task instances of ``node`` (of its task instance ``map_index``:
    an upstream task in the same mapped task group counts with that map index only)."""
    upstream_states: list[TI] = []
    setup_states: list[TI] = []
    for upstream_id in node.upstream:
        found = len(upstream_states)
        upstream_node = tasks.get(upstream_id) if tasks is not None else None
        if (
            map_index is not None
            and map_index >= 0
            and upstream_node is not None
            and node.mapped_group is not None
            and upstream_node.mapped_group == node.mapped_group
        ):
            upstream_states.append(states.get((upstream_id, map_index), TI.NONE))
            continue
        upstream_tis = by_task.get(upstream_id, [])
        if not upstream_tis:
            upstream_states.append(TI.NONE)
        upstream_states.extend(states[(ti.task_id, ti.map_index)] for ti in upstream_tis)
        if upstream_id in node.setups:
            setup_states.extend(upstream_states[found:])
    return UpstreamCounts.from_states(upstream_states, setup_states)


def _due_at(ti: TIView) -> datetime | None:
    """When a waiting retry or reschedule may go again; None means now."""
    state = TI(ti.state)
    if state is TI.UP_FOR_RETRY:
        return ti.retry_at
    if state is TI.UP_FOR_RESCHEDULE:
        return ti.next_poke_at
    return None


def _decision(node: TaskNode, ti: TIView) -> TIDecision:
    # A reschedule hands back the worker slot without using up a try (as in Airflow).
    state = TI(ti.state)
    try_number = ti.try_number if state is TI.UP_FOR_RESCHEDULE else ti.try_number + 1
    return TIDecision(
        task_id=ti.task_id,
        map_index=ti.map_index,
        from_state=state,
        try_number=try_number,
        priority_weight=node.priority_weight,
        pool=node.pool,
        pool_slots=node.pool_slots,
        queue=node.queue,
    )


def _run_state(
    tasks: Mapping[str, TaskNode], states: Mapping[TIKey, TI], *, waiting_on_past: bool = False
) -> DagRunState | None:
    """The run's end, by Airflow's ``DagRun.update_state`` rule.

    - Nothing unfinished: FAILED if a leaf task instance (removed ones aside) failed or is
      upstream_failed, else SUCCESS (leaves all success or skipped). Teardowns without
      ``on_failure_fail_dagrun`` are not leaves, and the tasks above them may be
      (``setup_teardown.run_state_leaves``).
    - Deadlock: task instances are unfinished but none is scheduled, queued, running, restarting or
      waiting for a retry/reschedule time, so nothing can ever move (Airflow: "all_tasks_deadlocked"):
      FAILED. The plan's own decisions are already applied to ``states`` here.
    - Otherwise None: still running.
    """
    unfinished = [state for state in states.values() if state in UNFINISHED_STATES]
    if not unfinished:
        leaves = run_state_leaves(
            {task_id: node.upstream for task_id, node in tasks.items()},
            {task_id for task_id, node in tasks.items() if node.ignored_for_run_state},
        )
        leaf_states = [s for (task_id, _), s in states.items() if task_id in leaves and s is not TI.REMOVED]
        return DagRunState.FAILED if any(s in FAILED_STATES for s in leaf_states) else DagRunState.SUCCESS
    if not waiting_on_past and not any(state in _MOVING for state in unfinished):
        return DagRunState.FAILED
    return None


def leaf_task_ids(tasks: Mapping[str, TaskNode]) -> frozenset[str]:
    """Tasks that no other task in the DAG depends on."""
    has_downstream = {upstream for node in tasks.values() for upstream in node.upstream}
    return frozenset(task_id for task_id in tasks if task_id not in has_downstream)


def topological_order(tasks: Mapping[str, TaskNode]) -> list[str]:
    """Task ids, every upstream before its downstream; ties broken by task id for a stable plan.

    Upstream ids that are not tasks of the DAG are ignored here. A cycle raises DagCycleError.
    """
    remaining = {task_id: len(node.upstream & tasks.keys()) for task_id, node in tasks.items()}
    downstream: dict[str, list[str]] = defaultdict(list)
    for task_id, node in tasks.items():
        for upstream_id in node.upstream & tasks.keys():
            downstream[upstream_id].append(task_id)
    ready = [task_id for task_id, count in remaining.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        task_id = heapq.heappop(ready)
        order.append(task_id)
        for child in downstream[task_id]:
            remaining[child] -= 1
            if remaining[child] == 0:
                heapq.heappush(ready, child)
    if len(order) < len(tasks):
        stuck = sorted(task_id for task_id, count in remaining.items() if count > 0)
        raise DagCycleError(f"the task graph has a cycle through: {', '.join(stuck)}")
    return order
