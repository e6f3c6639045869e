"""The ``>>`` / ``<<`` dependency operators, shared by operators, task groups and XCom arguments.

Anything with ``roots`` and ``leaves`` (lists of operators) can sit on either side, and so can a
list of such things, as in Airflow: ``a >> [b, c] >> d``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradewind.sdk.baseoperator import BaseOperator


class DependencyMixin:
    """Adds ``>>``, ``<<``, ``set_upstream`` and ``set_downstream`` to anything with roots/leaves."""

    @property
    def roots(self) -> list[BaseOperator]:
        raise NotImplementedError

    @property
    def leaves(self) -> list[BaseOperator]:
        raise NotImplementedError

    def set_downstream(self, other: Any) -> None:
        for target in _flatten(other):
            for leaf in self.leaves:
                for root in target.roots:
                    leaf._add_downstream(root)
            target.update_relative(self, upstream=True)

    def set_upstream(self, other: Any) -> None:
        for source in _flatten(other):
            for leaf in source.leaves:
                for root in self.roots:
                    leaf._add_downstream(root)
            source.update_relative(self, upstream=False)

    def update_relative(self, other: DependencyMixin, upstream: bool = True) -> None:
        """Told of the other side of a ``>>``; an edge label uses it to pass the link through."""

    def __rshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Any) -> Any:
        # [a, b] >> self
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> Any:
        # [a, b] << self
        self.set_downstream(other)
        return self


def _flatten(value: Any) -> list[DependencyMixin]:
    if isinstance(value, DependencyMixin):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        items: list[DependencyMixin] = []
        for item in value:
            items.extend(_flatten(item))
        return items
    raise TypeError(f"cannot set a dependency on {value!r}: expected a task, a task group or a list of them")


def chain(*elements: Any) -> None:
    """``chain(a, [b, c], d)``: each element runs after the previous; two lists side by side must
    be the same length and are linked pairwise (Airflow's rule)."""
    for left, right in zip(elements, elements[1:], strict=False):
        left_is_list = isinstance(left, Sequence) and not isinstance(left, str)
        right_is_list = isinstance(right, Sequence) and not isinstance(right, str)
        if left_is_list and right_is_list:
            if len(left) != len(right):
                raise ValueError(f"chain() got lists of different lengths side by side ({len(left)} and {len(right)})")
            for a, b in zip(left, right, strict=True):
                for source in _flatten(a):
                    source.set_downstream(b)
        else:
            for source in _flatten(left):
                source.set_downstream(right)


def cross_downstream(from_tasks: Sequence[Any], to_tasks: Any) -> None:
    """Every task of ``from_tasks`` becomes upstream of every task of ``to_tasks``."""
    for task in from_tasks:
        for source in _flatten(task):
            source.set_downstream(to_tasks)
