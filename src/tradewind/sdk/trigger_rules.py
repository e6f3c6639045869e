"""Trigger rules: the names a DAG author sets on a task.

What each rule decides for a waiting task is ``tradewind.decisions.trigger_rules.evaluate``.
"""

from __future__ import annotations

from enum import StrEnum

from tradewind.errors import InvalidTriggerRuleError


class TriggerRule(StrEnum):
    """When a task may run, given how its upstream tasks ended (Airflow 2 names)."""

    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_SKIPPED = "all_skipped"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"
    #: A teardown task's rule (Airflow 2.7+): every upstream finished and a direct setup succeeded.
    ALL_DONE_SETUP_SUCCESS = "all_done_setup_success"

    @classmethod
    def parse(cls, value: TriggerRule | str) -> TriggerRule:
        """The rule named ``value``, accepting Airflow's deprecated names too."""
        if isinstance(value, TriggerRule):
            return value
        if isinstance(value, str):
            if value in _DEPRECATED_NAMES:
                return _DEPRECATED_NAMES[value]
            try:
                return cls(value)
            except ValueError:
                pass
        expected = ", ".join(rule.value for rule in cls)
        raise InvalidTriggerRuleError(f"unknown trigger rule {value!r}; expected one of: {expected}")

    @classmethod
    def is_valid(cls, value: object) -> bool:
        """Whether ``parse(value)`` would succeed."""
        return isinstance(value, str) and (value in _DEPRECATED_NAMES or value in cls._value2member_map_)


#: Names Airflow 1.10/2.x still accepts for backwards compatibility.
_DEPRECATED_NAMES: dict[str, TriggerRule] = {
    "dummy": TriggerRule.ALWAYS,
    "none_failed_or_skipped": TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
}
