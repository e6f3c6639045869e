"""Waking the schedulers after a person's action: one "state changed" event per run on Redis, so a
scheduler acts within milliseconds instead of at its next timer tick. Best effort: the action is
committed already, and a scheduler that misses the event finds the change on its timer."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

logger = logging.getLogger(__name__)


def wake_schedulers(broker_url: str | None, dag_id: str, run_ids: Sequence[str] = ()) -> None:
    """Publish ``state_changed`` for each run of ``run_ids`` (for the DAG alone when there is none)."""
    wake_runs(broker_url, [(dag_id, run_id) for run_id in run_ids or [""]])


def wake_runs(broker_url: str | None, runs: Iterable[tuple[str, str]]) -> None:
    """Publish ``state_changed`` for each (dag_id, run_id) of ``runs`` — of any DAGs, over one
    connection (a bulk action on the lists); an empty run id stands for the DAG alone."""
    from tradewind.queue.events import make_event_bus
    from tradewind.queue.redis_keys import is_redis_url

    if not broker_url or not is_redis_url(broker_url):
        return
    try:
        bus = make_event_bus(broker_url)
        try:
            for dag_id, run_id in dict.fromkeys(runs):
                bus.publish_state_changed(dag_id, run_id)
        finally:
            bus.close()
    except Exception:  # noqa: BLE001 - waking is only a speed-up; the scheduler's timer covers it
        logger.debug("could not wake the schedulers", exc_info=True)
