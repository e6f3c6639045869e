"""What a run id (and a run's logical date) may be, decided in one place for every way one is
given: the REST API, the trigger form, ``tradewind dags trigger -r``, ``TriggerDagRunOperator``
and the metastore itself.

As in Airflow 2.10, a run id is either one tradewind or Airflow generates
(``manual__2024-01-01T00:00:00+00:00``) or matches ``allowed_run_id_pattern``'s default,
``^[A-Za-z0-9_.~:+-]+$``: letters, digits and ``_ . ~ : + -``, no ``/``, space or control character,
so a run id always fits in a URL path segment. Unlike Airflow, ids made of dots only (``.``,
``..``) are refused too: a browser resolves them as path steps, so the run's pages could never be
reached. The length limit is the column's (``metastore.column_limits``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tradewind.errors import InvalidInput, InvalidRunId

#: Airflow's ``[scheduler] allowed_run_id_pattern`` default.
ALLOWED_RUN_ID_PATTERN = r"^[A-Za-z0-9_.~:+-]+$"
#: Airflow's ``RUN_ID_REGEX``: the run ids its scheduler and trigger generate.
GENERATED_RUN_ID_PATTERN = r"^(?:manual|scheduled|dataset_triggered)__(?:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00)$"

_ALLOWED = re.compile(ALLOWED_RUN_ID_PATTERN)
_GENERATED = re.compile(GENERATED_RUN_ID_PATTERN)
_DOTS_ONLY = re.compile(r"^\.+$")


def check_run_id(run_id: object) -> str:
    """``run_id`` when it may name a run; raises ``InvalidRunId`` saying why not."""
    if not isinstance(run_id, str):
        raise InvalidRunId(f"a run id must be a string, not {type(run_id).__name__}")
    if _GENERATED.fullmatch(run_id):
        return run_id
    if not run_id:
        raise InvalidRunId("a run id must not be empty")
    if not _ALLOWED.fullmatch(run_id) or _DOTS_ONLY.fullmatch(run_id):
        shown = run_id if len(run_id) <= 80 else run_id[:77] + "..."
        raise InvalidRunId(
            f"run id {shown!r} may hold only letters, digits and _ . ~ : + - (Airflow's allowed_run_id_pattern "
            f"{ALLOWED_RUN_ID_PATTERN}), and not dots alone"
        )
    return run_id


#: The logical dates a run may have: far enough inside Python's years 1–9999 that the data
#: interval, ``prev_ds``/``next_ds`` and a year of schedule on either side never overflow.
EARLIEST_LOGICAL_DATE = datetime(1000, 1, 1, tzinfo=UTC)
LATEST_LOGICAL_DATE = datetime(9000, 1, 1, tzinfo=UTC)


def check_logical_date(logical_date: datetime) -> datetime:
    """``logical_date`` when a run may have it; raises ``InvalidInput`` for a date too far out."""
    aware = logical_date if logical_date.tzinfo is not None else logical_date.replace(tzinfo=UTC)
    if not EARLIEST_LOGICAL_DATE <= aware < LATEST_LOGICAL_DATE:
        raise InvalidInput(
            f"logical date {logical_date.isoformat()} is out of range: it must be from "
            f"{EARLIEST_LOGICAL_DATE.date().isoformat()} to before {LATEST_LOGICAL_DATE.date().isoformat()}"
        )
    return logical_date
