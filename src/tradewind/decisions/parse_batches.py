"""How many DAG files each newly started parsing process imports.

The files waiting are split evenly across the parsing processes, so that all of them work on a
big folder and finish together; a batch holds at most ``cap`` files, so a process that ends (and
with it the memory its imports took: some 30 KB a small file) is replaced now and then, and a
child killed for one file hands back only a bounded rest to import again. Results stream back
file by file whatever the batch size; a new batch starts only on a tick of the scheduler's loop,
which a thousand new DAGs keep busy for a second or more, so small batches would leave the
processes idle between ticks.
"""

from __future__ import annotations

#: Files one parsing process imports at most before it ends and a fresh one takes over.
MAX_BATCH = 250


def plan_batches(waiting: int, free: int, processes: int, *, cap: int = MAX_BATCH) -> list[int]:
    """The sizes of the batches to start now: ``waiting`` files ready to import, ``free`` of the
    ``processes`` parsing processes idle."""
    if waiting <= 0 or free <= 0:
        return []
    size = max(1, min(cap, -(-waiting // max(1, processes))))
    sizes: list[int] = []
    while waiting > 0 and len(sizes) < free:
        sizes.append(min(size, waiting))
        waiting -= sizes[-1]
    return sizes
