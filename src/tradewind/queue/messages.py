"""The one message the master sends a worker: which try of which task instance to run.

A frozen dataclass with a schema version, encoded as a JSON object — never a pickle — so a
message from a newer or older tradewind is refused with a clear reason instead of misread.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tradewind.errors import TradewindException

SCHEMA_VERSION = 1
#: The Celery task name: the whole contract between the executor and the worker.
RUN_TASK_INSTANCE = "tradewind.run_task_instance"


class MessageError(TradewindException):
    """A queue message that cannot be understood."""


@dataclass(frozen=True)
class TaskMessage:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    version: int = SCHEMA_VERSION

    def encode(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def decode(cls, data: Any) -> TaskMessage:
        if not isinstance(data, dict):
            raise MessageError(f"a task message must be a JSON object, got {type(data).__name__}")
        version = data.get("version")
        if version != SCHEMA_VERSION:
            raise MessageError(f"task message schema version {version!r} is not {SCHEMA_VERSION}")
        try:
            return cls(
                dag_id=str(data["dag_id"]),
                run_id=str(data["run_id"]),
                task_id=str(data["task_id"]),
                map_index=int(data["map_index"]),
                try_number=int(data["try_number"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MessageError(f"task message {data!r} is missing or has a bad field: {exc}") from None

    def describe(self) -> str:
        index = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.dag_id}.{self.task_id}{index} {self.run_id} try {self.try_number}"


#: A message and the Celery queue it goes to (the task's ``queue``).
QueueItem = tuple[TaskMessage, str]
