"""The colour of every task-instance and DAG-run state, as Airflow users know them, defined once.

Templates get ``STATE_COLOURS`` as ``state_colours``; ``base.html`` turns it into the CSS variables
``--state-<name>`` / ``--state-<name>-text`` and the classes ``.state-<name>`` that every page uses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StateColour:
    background: str
    text: str
    border: str


def _colour(background: str, text: str = "#1b1b1b", border: str | None = None) -> StateColour:
    return StateColour(background, text, border or background)


#: Airflow 2's defaults (airflow.settings.STATE_COLORS); "none" is white with a border.
STATE_COLOURS: dict[str, StateColour] = {
    "success": _colour("green", "#ffffff"),
    "failed": _colour("red", "#ffffff"),
    "running": _colour("lime"),
    "queued": _colour("gray", "#ffffff"),
    "up_for_retry": _colour("gold"),
    "up_for_reschedule": _colour("turquoise"),
    "skipped": _colour("hotpink"),
    "upstream_failed": _colour("orange"),
    "scheduled": _colour("tan"),
    "none": _colour("white", border="#9e9e9e"),
    "removed": _colour("lightgrey"),
    "restarting": _colour("violet"),
    "deferred": _colour("mediumpurple", "#ffffff"),
}

#: The order states are shown in (counts, legends): finished first, as Airflow's DAGs list does.
TASK_STATE_ORDER: tuple[str, ...] = (
    "success",
    "running",
    "failed",
    "upstream_failed",
    "skipped",
    "up_for_retry",
    "up_for_reschedule",
    "deferred",
    "queued",
    "none",
    "scheduled",
    "removed",
    "restarting",
)
RUN_STATE_ORDER: tuple[str, ...] = ("success", "running", "failed", "queued")


def ordered_counts(counts: dict[str, int], order: tuple[str, ...]) -> list[tuple[str, int]]:
    """(state, count) in ``order``, every state of ``order`` present (0 when absent); unknown last."""
    known = [(state, counts.get(state, 0)) for state in order]
    return known + sorted((s, n) for s, n in counts.items() if s not in order)
