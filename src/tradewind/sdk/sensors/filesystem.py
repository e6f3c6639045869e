"""``FileSensor``: wait until a file, a glob match or a non-empty directory exists.

With ``deferrable=True`` it looks once and then waits in a triggerer (``FileTrigger``).
``fs_conn_id`` is accepted for Airflow compatibility but not looked up yet: the path is taken as
absolute or relative to the worker's current directory.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar

from tradewind.errors import AirflowException
from tradewind.sdk.sensors.base import BaseSensorOperator
from tradewind.sdk.triggers.file import FileTrigger

log = logging.getLogger("tradewind.task.operators")


class FileSensor(BaseSensorOperator):
    """Done when ``filepath`` (a path or glob pattern) matches a file, or a directory that holds
    at least one file somewhere below it — an empty directory does not count (Airflow's rule)."""

    template_fields: ClassVar[Sequence[str]] = ("filepath",)
    ui_color: ClassVar[str] = "#91818a"

    def __init__(
        self,
        *,
        filepath: str,
        fs_conn_id: str = "fs_default",
        recursive: bool = False,
        deferrable: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.filepath = filepath
        self.fs_conn_id = fs_conn_id
        self.recursive = recursive
        #: Look once, then wait in a triggerer (``FileTrigger``) instead of poking on a worker.
        self.deferrable = deferrable

    def execute(self, context: dict[str, Any]) -> Any:
        if not self.deferrable:
            return super().execute(context)
        if not self.poke(context):
            self.defer(
                timeout=timedelta(seconds=self.timeout),
                trigger=FileTrigger(filepath=self.filepath, recursive=self.recursive, poke_interval=self.poke_interval),
                method_name="execute_complete",
            )
        return None

    def execute_complete(self, context: dict[str, Any], event: bool | None = None) -> None:
        if not event:
            raise AirflowException(f"{self.task_id} task failed as {self.filepath} not found.")
        log.info("%s completed successfully as %s found.", self.task_id, self.filepath)

    def poke(self, context: dict[str, Any]) -> bool:
        path_pattern = os.fspath(self.filepath)
        log.info("Poking for file %s", path_pattern)
        for path in glob.glob(path_pattern, recursive=self.recursive):
            if os.path.isfile(path):
                log.info("Found file %s", path)
                return True
            for _, _, files in os.walk(path):
                if files:
                    log.info("Found files in directory %s", path)
                    return True
        return False
