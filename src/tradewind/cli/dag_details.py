"""What ``dags details`` and ``dags report`` show: a DAG's row under the names of Airflow's DAG
schema, and the import report of every file in the DAG folder (Airflow's ``DagBag`` stats)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tradewind.settings import Settings


def dag_details(row: Any, dag: Any | None) -> dict[str, Any]:
    """The DAG's details as Airflow's ``dags details`` names them (fields tradewind has).

    ``row`` is the DAG's metastore row, ``dag`` its deserialized form (None when it cannot be read)."""
    tasks = list(dag.tasks) if dag is not None else []
    return {
        "dag_id": row.dag_id,
        "dag_display_name": row.dag_id,
        "is_paused": row.is_paused,
        "is_active": row.is_active,
        "last_parsed_time": row.last_parsed,
        "fileloc": row.fileloc,
        "owners": [owner.strip() for owner in (row.owners or "").split(",") if owner.strip()],
        "description": row.description,
        "timetable_description": row.schedule_description,
        "tags": [{"name": tag} for tag in sorted(row.tags or [])],
        "max_active_tasks": row.max_active_tasks,
        "max_active_runs": row.max_active_runs,
        "has_task_concurrency_limits": any(task.max_active_tis_per_dag is not None for task in tasks),
        "has_import_errors": row.has_import_errors,
        "next_dagrun": row.next_dagrun_data_interval_start,
        "next_dagrun_data_interval_start": row.next_dagrun_data_interval_start,
        "next_dagrun_data_interval_end": row.next_dagrun_data_interval_end,
        "next_dagrun_create_after": row.next_dagrun_create_after,
    }


def import_report(settings: Settings) -> list[dict[str, Any]]:
    """One row per file of the DAG folder, imported here and now: how long it took, how many DAGs
    and tasks it defined, and their ids (a file that failed to import has none)."""
    from tradewind.sdk.dag_file import load_dag_file
    from tradewind.sdk.dag_folder import list_dag_files

    folder = settings.resolved_dags_folder
    rows = []
    for path in list_dag_files(folder):
        result = load_dag_file(path, timeout=settings.dagbag_import_timeout, dags_folder=folder)
        rows.append(
            {
                "file": _relative(path, folder),
                "duration": round(result.duration, 6),
                "dag_num": len(result.dags),
                "task_num": sum(len(dag.tasks) for dag in result.dags),
                "dags": sorted(dag.dag_id for dag in result.dags),
                "error": result.error,
            }
        )
    return sorted(rows, key=lambda row: row["duration"], reverse=True)


def _relative(path: Path, folder: Path) -> str:
    """As Airflow shows a file of the report: its path under the DAG folder, with a leading slash."""
    try:
        return "/" + str(Path(path).resolve().relative_to(Path(folder).resolve()))
    except ValueError:
        return str(path)
