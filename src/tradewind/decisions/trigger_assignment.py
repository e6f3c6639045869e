"""Which triggers a triggerer takes: the pure rule behind the triggerers' sharing of the work.

A trigger is free when no triggerer holds it or the one that holds it is no longer alive (its job
stopped heartbeating within the threshold). A triggerer takes free triggers, oldest first, up to
its fair share of all triggers — ``ceil(total / live triggerers)`` — and never past its capacity,
so two triggerers split the work between them and one that dies has its triggers taken by the
others at their next look. The shares of the live triggerers add up to at least the total, so no
trigger stays free while a triggerer has room.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TriggerHolding:
    """One trigger and the triggerer job holding it (None: none)."""

    trigger_id: int
    triggerer_id: int | None


def is_free(holding: TriggerHolding, alive: Collection[int]) -> bool:
    """No live triggerer holds the trigger."""
    return holding.triggerer_id is None or holding.triggerer_id not in alive


def fair_share(total: int, alive_count: int) -> int:
    """How many of ``total`` triggers one of ``alive_count`` live triggerers should hold."""
    return math.ceil(total / max(alive_count, 1))


def triggers_to_take(
    holdings: Sequence[TriggerHolding], me: int, alive: Collection[int], *, capacity: int
) -> list[int]:
    """The ids of the free triggers triggerer ``me`` takes now, oldest (lowest id) first.

    ``holdings`` is every trigger; ``alive`` the live triggerers' ids (``me`` counts as alive).
    """
    live = set(alive) | {me}
    held = sum(1 for h in holdings if h.triggerer_id == me)
    room = min(capacity, fair_share(len(holdings), len(live))) - held
    if room <= 0:
        return []
    free = sorted(h.trigger_id for h in holdings if is_free(h, live))
    return free[:room]
