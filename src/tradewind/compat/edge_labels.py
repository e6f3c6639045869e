"""``Label`` (Airflow's ``airflow.utils.edgemodifier.Label``): a name written on a ``>>`` edge.

Tradewind draws no edge labels, so a label only passes the dependency through:
``a >> Label("valid") >> b`` makes ``b`` run after ``a``, exactly as ``a >> b``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tradewind.sdk.dependencies import DependencyMixin, _flatten

if TYPE_CHECKING:
    from tradewind.sdk.baseoperator import BaseOperator


class Label(DependencyMixin):
    """Sits between tasks in ``>>`` / ``<<`` chains and links what is on its two sides."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._upstream: list[DependencyMixin] = []
        self._downstream: list[DependencyMixin] = []

    # A label has no tasks of its own: linking "to" it links nothing until its other side is known.
    @property
    def roots(self) -> list[BaseOperator]:
        return []

    @property
    def leaves(self) -> list[BaseOperator]:
        return []

    def update_relative(self, other: Any, upstream: bool = True) -> None:
        """Told by the task on the other side of ``a >> label`` (``upstream``) or ``b << label``."""
        if upstream:
            self.set_upstream(other)
        else:
            self.set_downstream(other)

    def set_upstream(self, other: Any) -> None:
        sources = _flatten(other)
        self._upstream.extend(sources)
        for target in self._downstream:
            target.set_upstream(sources)

    def set_downstream(self, other: Any) -> None:
        targets = _flatten(other)
        self._downstream.extend(targets)
        for source in self._upstream:
            source.set_downstream(targets)

    def __repr__(self) -> str:
        return f"Label({self.label!r})"
