"""DAG and task params: Airflow's ``Param`` (a default plus a JSON schema) and ``ParamsDict``.

This module also owns how a run's params are merged: DAG params, then task params, then the run's
conf, validated together into the plain ``params`` dict that templates and tasks see.
"""

from __future__ import annotations

import copy
from collections.abc import ItemsView, Iterator, Mapping, MutableMapping, ValuesView
from typing import Any, ClassVar

from tradewind.errors import ParamValidationError


class ArgNotSet:
    """Type of ``NOTSET``: tells "no default given" apart from a default of ``None``."""

    _instance: ClassVar[ArgNotSet | None] = None

    def __new__(cls) -> ArgNotSet:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOTSET"

    def __bool__(self) -> bool:
        return False

    def __copy__(self) -> ArgNotSet:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> ArgNotSet:
        return self


NOTSET: Any = ArgNotSet()


def _schema_errors(value: Any, schema: Mapping[str, Any]) -> str | None:
    """The most telling reason ``value`` does not fit ``schema``, or ``None`` when it fits."""
    import jsonschema

    reasons = _reasons(value, schema, pick=jsonschema.exceptions.best_match)
    return reasons[0] if reasons else None


def schema_problems(value: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every reason ``value`` does not fit ``schema`` (the trigger form shows them all)."""
    return _reasons(value, schema, pick=None)


def _reasons(value: Any, schema: Mapping[str, Any], pick: Any) -> list[str]:
    # Imported here so that importing a DAG file stays cheap for DAGs that declare no params.
    import jsonschema

    validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator_cls.check_schema(schema)
    except jsonschema.SchemaError as err:
        return [f"invalid schema: {err.message}"]
    validator = validator_cls(schema, format_checker=jsonschema.FormatChecker())
    found = validator.iter_errors(value)
    if pick is not None:
        best = pick(found)
        errors = [best] if best is not None else []
    else:
        errors = sorted(found, key=lambda e: [str(part) for part in e.absolute_path])
    reasons = []
    for error in errors:
        where = "/".join(str(part) for part in error.absolute_path)
        reasons.append(f"{error.message} (at {where})" if where else error.message)
    return reasons


class Param:
    """A param's default value and the JSON schema every value given for it must fit.

    ``Param(5, type="integer", minimum=0, description="how many")``; a nested ``schema=`` dict is
    accepted too, as in Airflow.
    """

    def __init__(self, default: Any = NOTSET, description: str | None = None, **schema: Any) -> None:
        self.value = default
        self.description = description
        self.schema: dict[str, Any] = dict(schema.pop("schema")) if "schema" in schema else schema

    @property
    def has_value(self) -> bool:
        """Whether a default other than ``None`` was given (Airflow's meaning)."""
        return self.value is not NOTSET and self.value is not None

    def resolve(self, value: Any = NOTSET, *, name: str | None = None, suppress_exception: bool = False) -> Any:
        """``value`` (or the default when not given) after checking it against the schema."""
        label = f"param {name!r}" if name else "param"
        final = self.value if value is NOTSET else value
        if final is NOTSET:
            if suppress_exception:
                return None
            raise ParamValidationError(f"{label} has no value and no default")
        reason = _schema_errors(final, self.schema)
        if reason is not None:
            if suppress_exception:
                return None
            raise ParamValidationError(f"{label}: {reason}")
        return final

    def with_value(self, value: Any) -> Param:
        """A copy of this param whose default is ``value``; the schema and description are kept."""
        return Param(value, self.description, schema=copy.deepcopy(self.schema))

    def dump(self) -> dict[str, Any]:
        """JSON-able form; ``has_default`` keeps "no default" apart from a default of ``None``."""
        return {
            "value": None if self.value is NOTSET else self.value,
            "has_default": self.value is not NOTSET,
            "description": self.description,
            "schema": copy.deepcopy(self.schema),
        }

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Param:
        """The inverse of :meth:`dump`."""
        default = data.get("value") if data.get("has_default", True) else NOTSET
        return cls(default, data.get("description"), schema=dict(data.get("schema") or {}))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Param):
            return NotImplemented
        return (self.value, self.description, self.schema) == (other.value, other.description, other.schema)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Param({self.value!r}, description={self.description!r}, schema={self.schema!r})"


class ParamsDict(MutableMapping[str, Any]):
    """A mapping of names to :class:`Param`; reading a key gives the param's resolved value.

    As in Airflow 2: plain values are wrapped as ``Param(value)``; assigning a plain value to a key
    that already holds a ``Param`` keeps its schema and validates the value; ``items()`` and
    ``values()`` yield the ``Param`` objects themselves, while ``params[key]`` yields the value.
    """

    def __init__(self, dict_obj: Mapping[str, Any] | None = None, suppress_exception: bool = False) -> None:
        self._params: dict[str, Param] = {}
        self.suppress_exception = suppress_exception
        for key, value in (dict_obj or {}).items():
            self._params[key] = value if isinstance(value, Param) else Param(value)

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, Param):
            self._params[key] = value
            return
        current = self._params.get(key)
        if current is None:
            self._params[key] = Param(value)
            return
        param = current.with_value(value)
        param.resolve(name=key, suppress_exception=self.suppress_exception)
        self._params[key] = param

    def __getitem__(self, key: str) -> Any:
        return self._params[key].resolve(name=key, suppress_exception=self.suppress_exception)

    def __delitem__(self, key: str) -> None:
        del self._params[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __contains__(self, key: object) -> bool:
        return key in self._params

    def __bool__(self) -> bool:
        return bool(self._params)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ParamsDict):
            return self._params == other._params
        if isinstance(other, Mapping):
            return self._values(suppress=True) == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ParamsDict({self._params!r})"

    def __copy__(self) -> ParamsDict:
        return ParamsDict(self._params, self.suppress_exception)

    def __deepcopy__(self, memo: dict[int, Any]) -> ParamsDict:
        return ParamsDict(copy.deepcopy(self._params, memo), self.suppress_exception)

    def items(self) -> ItemsView[str, Param]:  # type: ignore[override]
        return ItemsView(self._params)

    def values(self) -> ValuesView[Param]:  # type: ignore[override]
        return ValuesView(self._params)

    def get_param(self, key: str) -> Param:
        """The :class:`Param` object itself, not its value."""
        return self._params[key]

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Merge like ``dict.update``; a ``ParamsDict`` argument brings its ``Param`` objects along."""
        if len(args) == 1 and not kwargs and isinstance(args[0], ParamsDict):
            self._params.update(args[0]._params)
            return
        super().update(*args, **kwargs)

    def validate(self) -> dict[str, Any]:
        """Every param resolved and checked; the first that fails raises ``ParamValidationError``."""
        return self._values(suppress=self.suppress_exception)

    def _values(self, *, suppress: bool) -> dict[str, Any]:
        return {k: p.resolve(name=k, suppress_exception=suppress) for k, p in self._params.items()}

    def dump(self) -> dict[str, dict[str, Any]]:
        """JSON-able form, ``{name: Param.dump()}``, for the serialized DAG."""
        return {key: param.dump() for key, param in self._params.items()}

    @classmethod
    def load(cls, data: Mapping[str, Mapping[str, Any]]) -> ParamsDict:
        """The inverse of :meth:`dump`."""
        return cls({key: Param.load(value) for key, value in data.items()})


def merge_params(
    dag_params: Mapping[str, Any] | None,
    task_params: Mapping[str, Any] | None,
    conf: Mapping[str, Any] | None,
    *,
    conf_overrides_params: bool = True,
) -> dict[str, Any]:
    """The validated ``params`` of one task instance: DAG params < task params < the run's conf.

    A value that overrides a declared ``Param`` must fit that param's schema; conf keys the DAG
    does not declare are passed through, as Airflow does with ``dag_run_conf_overrides_params``.
    """
    if conf is not None and not isinstance(conf, Mapping):
        raise ParamValidationError(f"conf must be a JSON object, got {type(conf).__name__}")
    merged = ParamsDict()
    for layer in (dag_params, task_params):
        if layer:
            merged.update(layer)
    if conf and conf_overrides_params:
        merged.update(conf)
    return merged.validate()
