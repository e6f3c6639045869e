"""What a trigger rule decides: the verdict for a task whose upstream task instances stand so.

``evaluate(rule, counts)`` follows Airflow 2.x's ``TriggerRuleDep`` behaviour (its decisions, not its
code): it never changes a state, it only says what the scheduler should do with a waiting task.
The rules' names, which DAG authors set, are ``tradewind.sdk.trigger_rules.TriggerRule``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from tradewind.sdk.trigger_rules import TriggerRule
from tradewind.states import TaskInstanceState as TI


class Verdict(StrEnum):
    """What the scheduler should do with a task instance that waits on its upstream tasks."""

    READY = "ready"
    """Run it now: the rule is met."""
    WAIT = "wait"
    """Not decided yet: some upstream task has not finished."""
    SKIP = "skip"
    """The rule can never be met in a way that calls for running; the task becomes skipped."""
    UPSTREAM_FAILED = "upstream_failed"
    """An upstream failure makes the rule impossible; the task becomes upstream_failed."""


@dataclass(frozen=True)
class UpstreamCounts:
    """How the task instances of a task's upstream tasks stand; ``done`` is derived.

    ``setups``, ``setup_success`` and ``setup_skipped`` count the upstream task instances that are
    setup tasks (already counted in the totals above): what a teardown's rule looks at.
    """

    total: int
    success: int = 0
    skipped: int = 0
    failed: int = 0
    upstream_failed: int = 0
    removed: int = 0
    setups: int = 0
    setup_success: int = 0
    setup_skipped: int = 0
    done: int = field(init=False)

    def __post_init__(self) -> None:
        done = self.success + self.skipped + self.failed + self.upstream_failed + self.removed
        if min(self.total, self.success, self.skipped, self.failed, self.upstream_failed, self.removed) < 0:
            raise ValueError(f"upstream counts cannot be negative: {self}")
        if done > self.total:
            raise ValueError(f"{done} finished upstream task instances out of {self.total}")
        if min(self.setups, self.setup_success, self.setup_skipped) < 0 or (
            self.setup_success + self.setup_skipped > self.setups
        ):
            raise ValueError(
                f"inconsistent setup counts: {self.setup_success} succeeded and {self.setup_skipped} skipped "
                f"out of {self.setups} setups"
            )
        object.__setattr__(self, "done", done)

    @classmethod
    def from_states(cls, states: Iterable[TI | str], setup_states: Iterable[TI | str] = ()) -> UpstreamCounts:
        """Count upstream states; unfinished ones only add to ``total``. ``setup_states`` are those
        of the upstream setup tasks, which ``states`` must include as well."""
        counter = Counter(TI(state) for state in states)
        setups = Counter(TI(state) for state in setup_states)
        return cls(
            total=sum(counter.values()),
            success=counter[TI.SUCCESS],
            skipped=counter[TI.SKIPPED],
            failed=counter[TI.FAILED],
            upstream_failed=counter[TI.UPSTREAM_FAILED],
            removed=counter[TI.REMOVED],
            setups=sum(setups.values()),
            setup_success=setups[TI.SUCCESS],
            setup_skipped=setups[TI.SKIPPED],
        )


def evaluate(rule: TriggerRule | str, counts: UpstreamCounts) -> Verdict:
    """The verdict of ``rule`` for a task whose upstream task instances stand at ``counts``.

    Decisions, as Airflow 2.x takes them (``failed`` below means failed or upstream_failed):

    - No upstream at all: READY under every rule (Airflow does not look at the rule then).
    - ``always``: READY.
    - ``all_success``: failed -> UPSTREAM_FAILED, else skipped -> SKIP; all succeeded -> READY.
    - ``all_failed``: any success or skipped -> SKIP; all failed -> READY.
    - ``all_done``: READY once every upstream has finished, whatever the outcome.
    - ``all_skipped``: any success or failed -> SKIP; all skipped -> READY.
    - ``one_success``: one success -> READY at once, even while others run. All finished with no
      success: all skipped -> SKIP, otherwise (something failed) -> UPSTREAM_FAILED.
    - ``one_failed``: one failed -> READY at once; all finished and none failed -> SKIP.
    - ``one_done``: one success or ``failed`` proper -> READY at once; all finished without either
      -> SKIP. As in Airflow, an ``upstream_failed`` upstream is not "done" for this rule, so all
      upstream_failed -> SKIP.
    - ``none_failed``: failed -> UPSTREAM_FAILED; all finished as success/skipped -> READY.
    - ``none_failed_min_one_success``: failed -> UPSTREAM_FAILED; all skipped -> SKIP; all finished
      as success/skipped with at least one success -> READY.
    - ``none_skipped``: skipped -> SKIP; all finished (failures included) -> READY.
    - ``all_done_setup_success`` (a teardown's): WAIT until every upstream has finished; then, when
      it has upstream setups, all of them skipped -> SKIP, none succeeded -> UPSTREAM_FAILED,
      otherwise READY — so a teardown runs after its work failed, as long as a setup succeeded.

    Removed upstream task instances (a mapped task that shrank) count as finished and are otherwise
    left out, as though they were not upstream at all; Airflow does the same for mapped task
    instances. Consequently an upstream made only of removed task instances is READY, like no
    upstream, and ``skipped + removed`` under ``one_success`` is SKIP (Airflow would say
    upstream_failed there because it compares ``done == skipped``).
    """
    rule = TriggerRule.parse(rule)
    present = counts.total - counts.removed
    if counts.total == 0 or present == 0 or rule is TriggerRule.ALWAYS:
        return Verdict.READY
    failures = counts.failed + counts.upstream_failed
    all_done = counts.done >= counts.total
    decide = _RULES[rule]
    return decide(counts, present, failures, all_done)


def _all_success(c: UpstreamCounts, present: int, failures: int, all_done: bool) -> Verdict:
    if failures:
        return Verdict.UPSTREAM_FAILED
    if c.skipped:
        return Verdict.SKIP
    return Verdict.READY if c.success == present else Verdict.WAIT


def _all_failed(c: UpstreamCounts, present: int, failures: int, all_done: bool) -> Verdict:
    if c.success or c.skipped:
        return Verdict.SKIP
    return Verdict.READY if failures == present else Verdict.WAIT


def _all_done(c: UpstreamCounts, present: int, failures: int, all_done: bool) -> Verdict:
    return Verdict.READY if all_done else Verdict.WAIT


def _all_skipped(c: UpstreamCounts, present: int, failures: int, all_done: bool) -> Verdict:
    if c.success or failures:
        return Verdict.SKIP
    return Verdict.READY if c.skipped == present else Verdict.WAIT


def _one_success(c: UpstreamCounts, present: int, failures: int, all_done: bool) -> Verdict:
    if c.success:
        return Verdict.READY
    if not all_done:
        return Verdict.WAIT
    return Verdict.SKIP if c.skipped == present else Verdict.UPSTREAM_FAILED


def _one_failed(c: UpstreamCounts, present: int, failures: int, all_done: bool) -> Verdict:
    if failures:
        return Verdict.READY
    return Verdict.SKIP if all_done else Verdict.WAIT


def _one_done(c: UpstreamCounts, present: int, failures: int, all_done: bool) -> Verdict:
    if c.success or c.failed:
        return Verdict.READY
    return Verdict.SKIP if all_done else Verdict.WAIT


def _none_failed(c: UpstreamCounts, present: int, failures: int, all_done: bool) -> Verdict:
    if failures:
        return Verdict.UPSTREAM_FAILED
    return Verdict.READY if all_done else Verdict.WAIT


def _none_failed_min_one_success(c: UpstreamCounts, present: int, failures: int, all_done: bool) -> Verdict:
    if failures:
        return Verdict.UPSTREAM_FAILED
    if c.skipped == present:
        return Verdict.SKIP
    return Verdict.READY if all_done else Verdict.WAIT


def _none_skipped(c: UpstreamCounts, present: int, failures: int, all_done: bool) -> Verdict:
    if c.skipped:
        return Verdict.SKIP
    return Verdict.READY if all_done else Verdict.WAIT


def _all_done_setup_success(c: UpstreamCounts, present: int, failures: int, all_done: bool) -> Verdict:
    if not all_done:
        return Verdict.WAIT
    if c.setups and c.setup_skipped >= c.setups:
        return Verdict.SKIP
    if c.setups and c.setup_success == 0:
        return Verdict.UPSTREAM_FAILED
    return Verdict.READY


def evaluate_setup_constraint(counts: UpstreamCounts) -> Verdict:
    """The verdict of a task's *indirect* setups — setups above it, not directly upstream, whose
    teardown is below it (or that have none): Airflow's implicit ``all_success`` on them, so a
    cleared work task waits for its re-run setup. A failed or upstream_failed one ->
    UPSTREAM_FAILED and a skipped one -> SKIP at once; WAIT until all have finished; then READY.
    ``counts.total`` 0 (no indirect setup) is READY."""
    if counts.failed or counts.upstream_failed:
        return Verdict.UPSTREAM_FAILED
    if counts.skipped:
        return Verdict.SKIP
    return Verdict.READY if counts.done >= counts.total else Verdict.WAIT


def combine(setup_verdict: Verdict, rule_verdict: Verdict) -> Verdict:
    """A task's verdict from its setup constraint and its trigger rule: a state either decides
    (the constraint's first) wins; otherwise it runs only when both are met."""
    for verdict in (setup_verdict, rule_verdict):
        if verdict in (Verdict.SKIP, Verdict.UPSTREAM_FAILED):
            return verdict
    if Verdict.WAIT in (setup_verdict, rule_verdict):
        return Verdict.WAIT
    return Verdict.READY


_RULES = {
    TriggerRule.ALL_SUCCESS: _all_success,
    TriggerRule.ALL_FAILED: _all_failed,
    TriggerRule.ALL_DONE: _all_done,
    TriggerRule.ALL_SKIPPED: _all_skipped,
    TriggerRule.ONE_SUCCESS: _one_success,
    TriggerRule.ONE_FAILED: _one_failed,
    TriggerRule.ONE_DONE: _one_done,
    TriggerRule.NONE_FAILED: _none_failed,
    TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS: _none_failed_min_one_success,
    TriggerRule.NONE_SKIPPED: _none_skipped,
    TriggerRule.ALL_DONE_SETUP_SUCCESS: _all_done_setup_success,
}
