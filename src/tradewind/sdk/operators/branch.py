"""``BaseBranchOperator``: subclass it and return from ``choose_branch`` the task id(s) (or task
group ids) to follow; the other direct downstream tasks are skipped, as in Airflow 2."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.operators.python import BranchMixIn

__all__ = ["BaseBranchOperator", "branch_choice"]


def branch_choice(task_ids: str | Iterable[str]) -> str | list[str]:
    """A ``follow_task_ids_if_…`` argument as ``choose_branch`` returns it."""
    return task_ids if isinstance(task_ids, str) else list(task_ids)


class BaseBranchOperator(BaseOperator, BranchMixIn):
    """A branching operator whose choice is a method rather than a callable."""

    def choose_branch(self, context: dict[str, Any]) -> str | list[str] | None:
        """The task id(s) to follow for this run; None follows none of them."""
        raise NotImplementedError(f"{type(self).__name__} must implement choose_branch(context)")

    def execute(self, context: dict[str, Any]) -> Any:
        return self.do_branch(context, self.choose_branch(context))
