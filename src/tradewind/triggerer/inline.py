"""Triggers run inside another process, as Airflow's ``dags test`` runs them: the triggers the
given deferred task instances wait on run on a short-lived event loop until the first of them
fires (or fails), and what they did is written as a triggerer writes it."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from tradewind.metastore import triggers
from tradewind.metastore.engine import session_scope
from tradewind.triggerer.runner import Failed, Fired, TriggerOutcome, TriggerSpec, build, run_until_event


async def _first_outcomes(specs: list[triggers.StoredTrigger], wait_s: float) -> list[TriggerOutcome]:
    outcomes: list[TriggerOutcome] = []
    tasks: list[asyncio.Task[TriggerOutcome]] = []
    for stored in specs:
        built = build(TriggerSpec(stored.trigger_id, stored.classpath, stored.kwargs))
        if isinstance(built, Failed):
            outcomes.append(built)
        else:
            tasks.append(asyncio.ensure_future(run_until_event(stored.trigger_id, built)))
    if tasks and not outcomes:
        done, _ = await asyncio.wait(tasks, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
        outcomes += [task.result() for task in done]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return outcomes


def run_triggers_once(factory: sessionmaker[Session], trigger_ids: Collection[int], *, wait_s: float) -> int:
    """Run the triggers ``trigger_ids`` for at most ``wait_s`` seconds, until one fires or fails;
    write what happened and time out deferred task instances past their timeout. Returns how many
    task instances resumed."""
    with session_scope(factory) as session:
        specs = [t for t in triggers.all_triggers(session) if t.trigger_id in set(trigger_ids)]
    outcomes = asyncio.run(_first_outcomes(specs, wait_s)) if specs else []
    now = datetime.now(UTC)
    resumed = 0
    with session_scope(factory) as session:
        for outcome in outcomes:
            if isinstance(outcome, Fired):
                resumed += len(triggers.fire(session, outcome.trigger_id, outcome.payload, now))
            else:
                resumed += len(triggers.fail(session, outcome.trigger_id, outcome.error, outcome.traceback, now))
        resumed += len(triggers.time_out(session, now))
        triggers.delete_unused(session)
    return resumed
