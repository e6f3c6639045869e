"""Airflow 2.11 arguments of ``DAG`` and ``BaseOperator`` that tradewind accepts but does not act
on yet. A DAG file that sets one still imports; it gets one ``InertArgumentWarning`` per argument
set to anything but its default, which the dag processor logs with the file's name.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from tradewind.errors import InertArgumentWarning

#: DAG arguments without an effect in tradewind yet, and what a user should know about each.
DAG_ARGUMENTS: Mapping[str, str] = {
    "sla_miss_callback": "SLAs are not supported (Airflow 3 removed them)",
    "access_control": "DAG-level permissions are not enforced; roles apply to every DAG",
    "owner_links": "owner links are not shown",
    "max_consecutive_failed_dag_runs": "the DAG is not paused after consecutive failed runs",
    "fail_stop": "a failed task does not stop the rest of the run",
}

#: BaseOperator arguments without an effect in tradewind yet.
TASK_ARGUMENTS: Mapping[str, str] = {
    "sla": "SLAs are not supported (Airflow 3 removed them)",
    "resources": "resources are not reserved",
    "run_as_user": "tasks run as the worker's user",
    "executor_config": "there is one executor, which reads no per-task configuration",
    "executor": "there is one executor (Celery)",
    "max_active_tis_per_dagrun": "the per-run limit of running task instances is not enforced",
    "wait_for_past_depends_before_skipping": "a skipped task does not wait for depends_on_past",
    "map_index_template": "mapped task instances are shown by their index",
}


def warn_inert(kind: str, name: str, given: Mapping[str, Any], inert: Mapping[str, str]) -> None:
    """One warning for each ``inert`` argument in ``given`` set to something (not None/False/empty)."""
    for argument, why in inert.items():
        if given.get(argument):
            warnings.warn(
                f"{kind} {name!r}: argument {argument!r} is accepted for Airflow compatibility but has no "
                f"effect in tradewind yet: {why}",
                InertArgumentWarning,
                stacklevel=4,
            )
