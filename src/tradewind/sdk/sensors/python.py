"""``PythonSensor``: poke by calling a Python callable until it returns something truthy.

The callable gets its arguments by the same rules as ``PythonOperator``'s; returning a
``PokeReturnValue`` also sets the sensor's XCom.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from tradewind.errors import DagDefinitionError
from tradewind.sdk.context import set_current_context
from tradewind.sdk.operators.python import determine_kwargs
from tradewind.sdk.sensors.base import BaseSensorOperator, PokeReturnValue


class PythonSensor(BaseSensorOperator):
    """Done when ``python_callable(*op_args, **kwargs)`` returns a truthy value."""

    template_fields: ClassVar[Sequence[str]] = ("templates_dict", "op_args", "op_kwargs")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not callable(python_callable):
            raise DagDefinitionError(
                f"task {kwargs.get('task_id')!r}: `python_callable` param must be callable, got {python_callable!r}"
            )
        super().__init__(**kwargs)
        self.python_callable = python_callable
        self.op_args: list[Any] = list(op_args or [])
        self.op_kwargs: dict[str, Any] = dict(op_kwargs or {})
        self.templates_dict = templates_dict

    def poke(self, context: dict[str, Any]) -> PokeReturnValue:
        context["templates_dict"] = self.templates_dict
        kwargs = determine_kwargs(self.python_callable, self.op_args, self.op_kwargs, context)
        with set_current_context(context):  # type: ignore[arg-type]
            result = self.python_callable(*self.op_args, **kwargs)
        return result if isinstance(result, PokeReturnValue) else PokeReturnValue(bool(result))
