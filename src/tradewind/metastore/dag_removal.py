"""Deleting every row of one DAG, as Airflow's ``dags delete`` does: its runs with their task
instances, tries, XComs and log chunks (the database cascades from ``dag_run``), the DAG's row, and
the record of its file's last import (so the dag processor imports the file again and the DAG comes
back while the file is still in the DAG folder) with that file's import error. The audit log stays.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tradewind.metastore import import_errors
from tradewind.metastore.models import DagFile, DagModel, DagRun, TaskInstance, TaskLog, TaskTry, XCom
from tradewind.metastore.statements import rows_changed
from tradewind.states import TaskInstanceState

#: Tables of a run's rows, counted before the run goes (the cascade deletes them).
_RUN_ROWS = (TaskLog, XCom, TaskTry, TaskInstance)
#: Task instances whose try a worker may still be running.
_LIVE_STATES = (TaskInstanceState.RUNNING.value, TaskInstanceState.RESTARTING.value)


def live_task_instances(session: Session, dag_id: str) -> int:
    """How many of the DAG's task instances are running (or being stopped) now."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(TaskInstance)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.state.in_(_LIVE_STATES))
        )
        or 0
    )


def delete_dag_rows(session: Session, dag: DagModel) -> int:
    """Delete every row of ``dag`` (see the module's docstring); returns how many rows went."""
    dag_id, fileloc = dag.dag_id, dag.fileloc
    removed = sum(
        int(session.scalar(select(func.count()).select_from(model).where(model.dag_id == dag_id)) or 0)
        for model in _RUN_ROWS
    )
    removed += rows_changed(
        session, delete(DagRun).where(DagRun.dag_id == dag_id).execution_options(synchronize_session=False)
    )
    removed += rows_changed(
        session, delete(DagModel).where(DagModel.dag_id == dag_id).execution_options(synchronize_session=False)
    )
    removed += int(import_errors.clear_import_error(session, fileloc))
    session.execute(delete(DagFile).where(DagFile.filename == fileloc).execution_options(synchronize_session=False))
    session.expire_all()
    return removed
