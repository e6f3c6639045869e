"""The task instance a running task sees as ``ti`` / ``task_instance`` in its context.

It pushes and pulls XCom through an ``XComBackend`` the runner hands in (the metastore on a
worker, a dict in unit tests), and collects the downstream tasks a branch asks to skip.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from tradewind.sdk.xcom import RETURN_VALUE_KEY, encode_xcom_value


class XComBackend(Protocol):
    """Where a running task's XCom values live (JSON text in, decoded values out)."""

    def push(self, key: str, value_json: str) -> None: ...

    def pull(self, task_id: str | None, key: str, map_index: int | None) -> tuple[bool, Any]:
        """(found, value) of ``key`` pushed by ``task_id`` in the same run; ``task_id`` None
        means the most recent push of ``key`` by any task of the run."""
        ...

    def pull_mapped(self, task_id: str, key: str) -> list[Any]:
        """The values of ``key`` pushed by the task instances of mapped task ``task_id``, in
        map-index order."""
        ...


class InMemoryXComBackend:
    """XCom in a dict, for unit tests and ``tasks test`` without a metastore."""

    def __init__(self, task_id: str, store: dict[tuple[str, str], Any] | None = None) -> None:
        import json

        self._json = json
        self.task_id = task_id
        self.store = store if store is not None else {}

    def push(self, key: str, value_json: str) -> None:
        self.store[(self.task_id, key)] = self._json.loads(value_json)

    def pull(self, task_id: str | None, key: str, map_index: int | None) -> tuple[bool, Any]:
        if task_id is None:
            matches = [v for (_, k), v in self.store.items() if k == key]
            return (True, matches[-1]) if matches else (False, None)
        if (task_id, key) in self.store:
            return True, self.store[(task_id, key)]
        return False, None

    def pull_mapped(self, task_id: str, key: str) -> list[Any]:
        value = self.store.get((task_id, key))
        return list(value) if isinstance(value, list) else []


class RuntimeTaskInstance:
    """The running try of one task instance, as the task's code sees it."""

    def __init__(
        self,
        *,
        task: Any,
        dag_id: str,
        run_id: str,
        try_number: int,
        max_tries: int,
        xcom: XComBackend,
        map_index: int = -1,
        xcom_max_bytes: int = 1_048_576,
        hostname: str = "",
        start_date: datetime | None = None,
        logical_date: datetime | None = None,
    ) -> None:
        self.task = task
        self.task_id: str = task.task_id
        self.dag_id = dag_id
        self.run_id = run_id
        self.map_index = map_index
        self.try_number = try_number
        self.max_tries = max_tries
        self.hostname = hostname
        self.start_date = start_date
        self.logical_date = logical_date
        self.execution_date = logical_date
        self.state = "running"
        self.operator = type(task).__name__
        self.pool = getattr(task, "pool", "default_pool")
        self.queue = getattr(task, "queue", "default")
        self._xcom = xcom
        self._xcom_max_bytes = xcom_max_bytes
        self.skip_requests: set[str] = set()
        self.log = logging.getLogger("tradewind.task")

    @property
    def is_last_try(self) -> bool:
        return self.try_number > self.max_tries

    def xcom_push(self, key: str, value: Any, execution_date: datetime | None = None) -> None:
        """Store ``value`` (plain JSON) under ``key`` for this task instance."""
        text = encode_xcom_value(value, task_id=self.task_id, key=key, max_bytes=self._xcom_max_bytes)
        self._xcom.push(key, text)

    def xcom_pull(
        self,
        task_ids: str | Sequence[str] | None = None,
        dag_id: str | None = None,
        key: str = RETURN_VALUE_KEY,
        include_prior_dates: bool = False,
        map_indexes: int | Sequence[int] | None = None,
        default: Any = None,
    ) -> Any:
        """A single task id gives its value (or ``default``); a list gives the values found, in
        the order of the ids (Airflow 2's behaviour)."""
        if dag_id is not None and dag_id != self.dag_id:
            raise NotImplementedError("pulling XCom from another DAG is not supported")
        map_index = map_indexes if isinstance(map_indexes, int) else None
        if task_ids is None:
            found, value = self._xcom.pull(None, key, map_index)
            return value if found else default
        if isinstance(task_ids, str):
            task_ids = [task_ids]
            single = True
        else:
            single = False
        values: list[Any] = []
        for task_id in task_ids:
            if map_indexes is None and self._in_my_mapped_group(task_id):
                # Within a mapped task group, the task instance of the same map index (as in Airflow).
                found, value = self._xcom.pull(task_id, key, self.map_index)
                if single:
                    return value if found else default
                if found:
                    values.append(value)
                continue
            if map_indexes is None and self._is_mapped(task_id):
                # A mapped task's value is the list of its task instances' values (as in Airflow).
                mapped = self._xcom.pull_mapped(task_id, key)
                if single:
                    return mapped
                values.append(mapped)
                continue
            found, value = self._xcom.pull(task_id, key, map_index)
            if single:
                return value if found else default
            if found:
                values.append(value)
        return values

    def _is_mapped(self, task_id: str) -> bool:
        dag = getattr(self.task, "dag", None)
        if dag is None or not dag.has_task(task_id):
            return False
        return bool(getattr(dag.get_task(task_id), "is_mapped", False))

    def _in_my_mapped_group(self, task_id: str) -> bool:
        group_id = getattr(self.task, "mapped_group_id", None)
        dag = getattr(self.task, "dag", None)
        if group_id is None or dag is None or not dag.has_task(task_id):
            return False
        return getattr(dag.get_task(task_id), "mapped_group_id", None) == group_id

    def request_skip(self, task_ids: Iterable[str]) -> None:
        self.skip_requests.update(task_ids)

    def __repr__(self) -> str:
        return f"<TaskInstance: {self.dag_id}.{self.task_id} {self.run_id} [{self.state}]>"
