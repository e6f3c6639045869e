"""``EmptyOperator`` (and its old name ``DummyOperator``): a task that does nothing.

Used to group, join or mark points in a DAG; its success only depends on its trigger rule.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tradewind.sdk.baseoperator import BaseOperator


class EmptyOperator(BaseOperator):
    """A task that does nothing when it runs."""

    ui_color: ClassVar[str] = "#e8f7e4"
    #: Airflow's scheduler marks such tasks successful without sending them to a worker (when they
    #: have no callbacks or outlets); the scheduler may read this flag to do the same.
    inherits_from_empty_operator: ClassVar[bool] = True

    def execute(self, context: dict[str, Any]) -> None:
        return None


class DummyOperator(EmptyOperator):
    """Airflow 1's name for :class:`EmptyOperator`, kept so old DAG files import unchanged."""
