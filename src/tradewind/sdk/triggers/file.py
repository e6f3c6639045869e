"""``FileTrigger``: fires once a path or glob pattern matches a file (Airflow's ``airflow.triggers.file``)."""

from __future__ import annotations

import asyncio
import glob
import os
from collections.abc import AsyncIterator
from typing import Any

from tradewind.sdk.triggers.base import BaseTrigger, TriggerEvent, classpath_of


def find_file(filepath: str, recursive: bool) -> str | None:
    """The first file ``filepath`` matches, or a directory under it that holds a file (FileSensor's rule)."""
    for path in glob.glob(filepath, recursive=recursive):
        if os.path.isfile(path):
            return path
        for _, _, files in os.walk(path):
            if files:
                return path
    return None


class FileTrigger(BaseTrigger):
    """Looks for ``filepath`` every ``poke_interval`` seconds; fires ``True`` once it matches (Airflow's event)."""

    def __init__(self, filepath: str, recursive: bool = False, poke_interval: float = 5.0, **kwargs: Any) -> None:
        super().__init__()
        self.filepath = filepath
        self.recursive = recursive
        self.poke_interval = float(poke_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return classpath_of(FileTrigger), {
            "filepath": self.filepath,
            "recursive": self.recursive,
            "poke_interval": self.poke_interval,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            found = await asyncio.to_thread(find_file, self.filepath, self.recursive)
            if found is not None:
                yield TriggerEvent(True)
                return
            await asyncio.sleep(self.poke_interval)
