"""Every trigger rule against every upstream mix, with what Airflow 2.x does and why."""

from __future__ import annotations

import pytest

from tradewind.decisions.trigger_rules import UpstreamCounts, Verdict, evaluate
from tradewind.errors import InvalidTriggerRuleError
from tradewind.sdk.trigger_rules import TriggerRule
from tradewind.states import TaskInstanceState as TI

R = TriggerRule
READY, WAIT, SKIP, UF = Verdict.READY, Verdict.WAIT, Verdict.SKIP, Verdict.UPSTREAM_FAILED

MIXES: dict[str, list[TI]] = {
    "all_success": [TI.SUCCESS, TI.SUCCESS],
    "all_failed": [TI.FAILED, TI.FAILED],
    "all_skipped": [TI.SKIPPED, TI.SKIPPED],
    "all_upstream_failed": [TI.UPSTREAM_FAILED, TI.UPSTREAM_FAILED],
    "success+failed": [TI.SUCCESS, TI.FAILED],
    "success+skipped": [TI.SUCCESS, TI.SKIPPED],
    "failed+skipped": [TI.FAILED, TI.SKIPPED],
    "running+success": [TI.RUNNING, TI.SUCCESS],
    "running+failed": [TI.RUNNING, TI.FAILED],
    "running+skipped": [TI.RUNNING, TI.SKIPPED],
    "no_upstream": [],
}

# (rule, upstream mix, expected verdict, why — what Airflow 2.x does)
TABLE: list[tuple[TriggerRule, str, Verdict, str]] = [
    (R.ALL_SUCCESS, "all_success", READY, "every upstream succeeded"),
    (R.ALL_SUCCESS, "all_failed", UF, "a failure can never become a success"),
    (R.ALL_SUCCESS, "all_skipped", SKIP, "skips propagate down an all_success chain"),
    (R.ALL_SUCCESS, "all_upstream_failed", UF, "upstream_failed propagates like failed"),
    (R.ALL_SUCCESS, "success+failed", UF, "one failure is enough"),
    (R.ALL_SUCCESS, "success+skipped", SKIP, "one skip is enough"),
    (R.ALL_SUCCESS, "failed+skipped", UF, "Airflow checks failures before skips"),
    (R.ALL_SUCCESS, "running+success", WAIT, "one upstream still runs"),
    (R.ALL_SUCCESS, "running+failed", UF, "decided at once, without waiting for the runner"),
    (R.ALL_SUCCESS, "running+skipped", SKIP, "decided at once, without waiting for the runner"),
    (R.ALL_SUCCESS, "no_upstream", READY, "a root task ignores its rule"),
    (R.ALL_FAILED, "all_success", SKIP, "a success makes all_failed impossible"),
    (R.ALL_FAILED, "all_failed", READY, "every upstream failed"),
    (R.ALL_FAILED, "all_skipped", SKIP, "a skip makes all_failed impossible"),
    (R.ALL_FAILED, "all_upstream_failed", READY, "upstream_failed counts as failed"),
    (R.ALL_FAILED, "success+failed", SKIP, "a success makes all_failed impossible"),
    (R.ALL_FAILED, "success+skipped", SKIP, "a success makes all_failed impossible"),
    (R.ALL_FAILED, "failed+skipped", SKIP, "a skip makes all_failed impossible"),
    (R.ALL_FAILED, "running+success", SKIP, "decided at once: the success is final"),
    (R.ALL_FAILED, "running+failed", WAIT, "the runner may still fail"),
    (R.ALL_FAILED, "running+skipped", SKIP, "decided at once: the skip is final"),
    (R.ALL_FAILED, "no_upstream", READY, "a root task ignores its rule"),
    (R.ALL_DONE, "all_success", READY, "all finished"),
    (R.ALL_DONE, "all_failed", READY, "all finished; outcome does not matter"),
    (R.ALL_DONE, "all_skipped", READY, "all finished; outcome does not matter"),
    (R.ALL_DONE, "all_upstream_failed", READY, "all finished; outcome does not matter"),
    (R.ALL_DONE, "success+failed", READY, "all finished"),
    (R.ALL_DONE, "success+skipped", READY, "all finished"),
    (R.ALL_DONE, "failed+skipped", READY, "all finished"),
    (R.ALL_DONE, "running+success", WAIT, "one upstream still runs"),
    (R.ALL_DONE, "running+failed", WAIT, "one upstream still runs"),
    (R.ALL_DONE, "running+skipped", WAIT, "one upstream still runs"),
    (R.ALL_DONE, "no_upstream", READY, "a root task ignores its rule"),
    (R.ALL_SKIPPED, "all_success", SKIP, "a success makes all_skipped impossible"),
    (R.ALL_SKIPPED, "all_failed", SKIP, "a failure makes all_skipped impossible"),
    (R.ALL_SKIPPED, "all_skipped", READY, "every upstream skipped"),
    (R.ALL_SKIPPED, "all_upstream_failed", SKIP, "upstream_failed makes all_skipped impossible"),
    (R.ALL_SKIPPED, "success+failed", SKIP, "not all skipped"),
    (R.ALL_SKIPPED, "success+skipped", SKIP, "a success makes all_skipped impossible"),
    (R.ALL_SKIPPED, "failed+skipped", SKIP, "a failure makes all_skipped impossible"),
    (R.ALL_SKIPPED, "running+success", SKIP, "decided at once: the success is final"),
    (R.ALL_SKIPPED, "running+failed", SKIP, "decided at once: the failure is final"),
    (R.ALL_SKIPPED, "running+skipped", WAIT, "the runner may still skip"),
    (R.ALL_SKIPPED, "no_upstream", READY, "a root task ignores its rule"),
    (R.ONE_SUCCESS, "all_success", READY, "at least one success"),
    (R.ONE_SUCCESS, "all_failed", UF, "all done, no success, not all skipped"),
    (R.ONE_SUCCESS, "all_skipped", SKIP, "all done and all skipped"),
    (R.ONE_SUCCESS, "all_upstream_failed", UF, "all done, no success, not all skipped"),
    (R.ONE_SUCCESS, "success+failed", READY, "at least one success"),
    (R.ONE_SUCCESS, "success+skipped", READY, "at least one success"),
    (R.ONE_SUCCESS, "failed+skipped", UF, "all done, no success, something failed"),
    (R.ONE_SUCCESS, "running+success", READY, "runs as soon as one succeeds"),
    (R.ONE_SUCCESS, "running+failed", WAIT, "the runner may still succeed"),
    (R.ONE_SUCCESS, "running+skipped", WAIT, "the runner may still succeed"),
    (R.ONE_SUCCESS, "no_upstream", READY, "a root task ignores its rule"),
    (R.ONE_FAILED, "all_success", SKIP, "all done and none failed"),
    (R.ONE_FAILED, "all_failed", READY, "at least one failed"),
    (R.ONE_FAILED, "all_skipped", SKIP, "all done and none failed"),
    (R.ONE_FAILED, "all_upstream_failed", READY, "upstream_failed counts as failed"),
    (R.ONE_FAILED, "success+failed", READY, "at least one failed"),
    (R.ONE_FAILED, "success+skipped", SKIP, "all done and none failed"),
    (R.ONE_FAILED, "failed+skipped", READY, "at least one failed"),
    (R.ONE_FAILED, "running+success", WAIT, "the runner may still fail"),
    (R.ONE_FAILED, "running+failed", READY, "runs as soon as one fails"),
    (R.ONE_FAILED, "running+skipped", WAIT, "the runner may still fail"),
    (R.ONE_FAILED, "no_upstream", READY, "a root task ignores its rule"),
    (R.ONE_DONE, "all_success", READY, "a success counts as done"),
    (R.ONE_DONE, "all_failed", READY, "a failure counts as done"),
    (R.ONE_DONE, "all_skipped", SKIP, "all finished, none succeeded or failed"),
    (R.ONE_DONE, "all_upstream_failed", SKIP, "Airflow counts only success/failed, not upstream_failed"),
    (R.ONE_DONE, "success+failed", READY, "at least one done"),
    (R.ONE_DONE, "success+skipped", READY, "at least one done"),
    (R.ONE_DONE, "failed+skipped", READY, "at least one done"),
    (R.ONE_DONE, "running+success", READY, "runs as soon as one succeeds"),
    (R.ONE_DONE, "running+failed", READY, "runs as soon as one fails"),
    (R.ONE_DONE, "running+skipped", WAIT, "the runner may still succeed or fail"),
    (R.ONE_DONE, "no_upstream", READY, "a root task ignores its rule"),
    (R.NONE_FAILED, "all_success", READY, "all done, nothing failed"),
    (R.NONE_FAILED, "all_failed", UF, "a failure is final"),
    (R.NONE_FAILED, "all_skipped", READY, "skips are fine for none_failed"),
    (R.NONE_FAILED, "all_upstream_failed", UF, "upstream_failed counts as failed"),
    (R.NONE_FAILED, "success+failed", UF, "a failure is final"),
    (R.NONE_FAILED, "success+skipped", READY, "all done, nothing failed"),
    (R.NONE_FAILED, "failed+skipped", UF, "a failure is final"),
    (R.NONE_FAILED, "running+success", WAIT, "the runner may still fail"),
    (R.NONE_FAILED, "running+failed", UF, "decided at once: the failure is final"),
    (R.NONE_FAILED, "running+skipped", WAIT, "the runner may still fail"),
    (R.NONE_FAILED, "no_upstream", READY, "a root task ignores its rule"),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "all_success", READY, "nothing failed, one success"),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "all_failed", UF, "a failure is final"),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "all_skipped", SKIP, "nothing succeeded: all skipped"),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "all_upstream_failed", UF, "upstream_failed counts as failed"),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "success+failed", UF, "a failure is final"),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "success+skipped", READY, "the join after a branch runs"),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "failed+skipped", UF, "a failure is final"),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "running+success", WAIT, "the runner may still fail"),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "running+failed", UF, "decided at once: the failure is final"),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "running+skipped", WAIT, "the runner may still succeed"),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "no_upstream", READY, "a root task ignores its rule"),
    (R.NONE_SKIPPED, "all_success", READY, "all done, nothing skipped"),
    (R.NONE_SKIPPED, "all_failed", READY, "failures are fine for none_skipped"),
    (R.NONE_SKIPPED, "all_skipped", SKIP, "a skip is final"),
    (R.NONE_SKIPPED, "all_upstream_failed", READY, "upstream_failed is not a skip"),
    (R.NONE_SKIPPED, "success+failed", READY, "all done, nothing skipped"),
    (R.NONE_SKIPPED, "success+skipped", SKIP, "a skip is final"),
    (R.NONE_SKIPPED, "failed+skipped", SKIP, "a skip is final"),
    (R.NONE_SKIPPED, "running+success", WAIT, "the runner may still skip"),
    (R.NONE_SKIPPED, "running+failed", WAIT, "the runner may still skip"),
    (R.NONE_SKIPPED, "running+skipped", SKIP, "decided at once: the skip is final"),
    (R.NONE_SKIPPED, "no_upstream", READY, "a root task ignores its rule"),
] + [(R.ALWAYS, mix, READY, "always runs, whatever the upstream") for mix in MIXES]
# A teardown rule with no setup among the upstream tasks is all_done (the setup cases are in
# test_setup_teardown_rules.py).
TABLE += [
    (R.ALL_DONE_SETUP_SUCCESS, mix, WAIT if mix.startswith("running") else READY, "no setup upstream: all_done")
    for mix in MIXES
]


def test_table_covers_every_rule_against_every_mix() -> None:
    covered = {(rule, mix) for rule, mix, _, _ in TABLE}
    assert covered == {(rule, mix) for rule in TriggerRule for mix in MIXES}
    assert len(TABLE) == len(covered)


@pytest.mark.parametrize(
    ("rule", "mix", "expected", "why"),
    [pytest.param(*row, id=f"{row[0]}-{row[1]}") for row in TABLE],
)
def test_trigger_rule_verdict(rule: TriggerRule, mix: str, expected: Verdict, why: str) -> None:
    counts = UpstreamCounts.from_states(MIXES[mix])
    assert evaluate(rule, counts) is expected, why


def test_evaluate_accepts_rule_names_as_strings() -> None:
    counts = UpstreamCounts.from_states(["success", "skipped"])
    assert evaluate("none_failed_or_skipped", counts) is READY
    assert evaluate("all_success", counts) is SKIP


@pytest.mark.parametrize("rule", list(TriggerRule))
def test_only_removed_upstreams_count_as_no_upstream(rule: TriggerRule) -> None:
    counts = UpstreamCounts.from_states([TI.REMOVED, TI.REMOVED])
    assert evaluate(rule, counts) is READY


def test_removed_upstreams_are_left_out_of_all_success() -> None:
    counts = UpstreamCounts.from_states([TI.SUCCESS, TI.REMOVED, TI.SUCCESS])
    assert evaluate(R.ALL_SUCCESS, counts) is READY


def test_skipped_and_removed_under_one_success_is_skip() -> None:
    counts = UpstreamCounts.from_states([TI.SKIPPED, TI.REMOVED])
    assert evaluate(R.ONE_SUCCESS, counts) is SKIP


def test_from_states_counts_finished_and_unfinished() -> None:
    counts = UpstreamCounts.from_states(
        ["success", TI.SKIPPED, TI.FAILED, TI.UPSTREAM_FAILED, TI.REMOVED, TI.RUNNING, TI.NONE]
    )
    assert counts == UpstreamCounts(total=7, success=1, skipped=1, failed=1, upstream_failed=1, removed=1)
    assert counts.done == 5


def test_counts_reject_more_finished_than_total() -> None:
    with pytest.raises(ValueError, match="finished"):
        UpstreamCounts(total=1, success=2)


@pytest.mark.parametrize(
    ("name", "rule"),
    [("dummy", R.ALWAYS), ("none_failed_or_skipped", R.NONE_FAILED_MIN_ONE_SUCCESS)],
)
def test_parse_accepts_deprecated_names(name: str, rule: TriggerRule) -> None:
    assert TriggerRule.parse(name) is rule
    assert TriggerRule.is_valid(name)


def test_parse_accepts_every_current_name() -> None:
    for rule in TriggerRule:
        assert TriggerRule.parse(rule.value) is rule
        assert TriggerRule.parse(rule) is rule


def test_parse_rejects_unknown_name_listing_the_valid_ones() -> None:
    with pytest.raises(InvalidTriggerRuleError) as info:
        TriggerRule.parse("all_sucess")
    message = str(info.value)
    assert message.startswith("unknown trigger rule 'all_sucess'; expected one of: all_success, ")
    assert "none_failed_min_one_success" in message
    assert not TriggerRule.is_valid("all_sucess")


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(InvalidTriggerRuleError, match="unknown trigger rule None"):
        TriggerRule.parse(None)  # type: ignore[arg-type]
    assert not TriggerRule.is_valid(None)
