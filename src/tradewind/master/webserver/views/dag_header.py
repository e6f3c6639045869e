"""The header of every page of one DAG, as Airflow 2 draws it above the grid: the pause switch, the
schedule and next run, owners and tags, the DAG's docs (``doc_md``, rendered safely), its params,
and its details (file, active-run and task limits, catchup, start and end dates, time zone).

Templates call ``dag_header(dag_id)``; it reads the DAG row (already in the request's session) and
the stored DAG, so no view has to pass any of this along.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import request

from tradewind.master.webserver import masking
from tradewind.master.webserver.auth import current_user
from tradewind.master.webserver.db import get_session, get_settings
from tradewind.metastore import dags
from tradewind.sdk.params import NOTSET
from tradewind.sdk.serialization import SerializedDAG, deserialize_dag


@dataclass(frozen=True)
class DagHeader:
    dag_id: str
    is_paused: bool
    can_pause: bool
    schedule: str | None
    next_run: datetime | None
    owners: list[str]
    tags: list[str]
    description: str | None
    doc_md: str | None
    #: (name, default as JSON-ish text, description) of each param.
    params: list[tuple[str, str, str | None]]
    #: (label, value) rows of the details box, in Airflow's order.
    details: list[tuple[str, str]]
    #: Where the pause form sends the browser back to.
    return_to: str


def _shown(value: Any) -> str:
    if value is NOTSET:
        return "(no default)"
    if value is None:
        return "None"
    return repr(value) if not isinstance(value, str) else value


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S%z") if value is not None else "None"


def _masked(name: str, value: Any) -> Any:
    """A param's default as the header shows it: secret-looking names (nested too) as ``***``."""
    return value if value is NOTSET else masking.details({name: value})[name]


def dag_header(dag_id: str, loaded: SerializedDAG | None = None) -> DagHeader | None:
    """What the header shows for ``dag_id``; ``None`` when the DAG is not (or no longer) stored.
    ``loaded`` is the DAG the page already read, so the header does not read it again."""
    from tradewind.master.webserver.views.dags import next_run

    session = get_session()
    row = dags.get_dag(session, dag_id)
    if row is None or row.serialized is None:
        return None
    if loaded is not None and loaded.dag_id == dag_id:
        dag = loaded
    else:
        try:
            dag = deserialize_dag(row.serialized)
        except (KeyError, ValueError):
            return None
    timeout = dag.dagrun_timeout
    user = current_user()
    details = [
        ("File", row.fileloc),
        ("Max active runs", str(dag.max_active_runs)),
        ("Max active tasks", str(dag.max_active_tasks)),
        ("Catchup", str(dag.resolved_catchup(get_settings().catchup_by_default))),
        ("Start date", _when(dag.start_date)),
        ("End date", _when(dag.end_date)),
        ("Time zone", str(dag.timezone)),
        ("Run timeout", str(timedelta(seconds=timeout)) if timeout is not None else "None"),
        ("Last parsed", _when(row.last_parsed)),
    ]
    return DagHeader(
        dag_id=dag_id,
        is_paused=row.is_paused,
        can_pause=user is not None and user.has_role("Op"),
        schedule=row.schedule_description,
        next_run=next_run(row),
        owners=[o.strip() for o in (row.owners or "").split(",") if o.strip()],
        tags=sorted(row.tags or []),
        description=dag.description,
        doc_md=dag.doc_md,
        params=[(name, _shown(_masked(name, p.value)), p.description) for name, p in dag.params.items()],
        details=details,
        return_to=request.full_path.rstrip("?"),
    )
