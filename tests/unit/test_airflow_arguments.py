"""Every argument of Airflow 2.11's ``DAG`` and ``BaseOperator`` is accepted: the display names are
kept and serialized, the hooks and the logger name act, and the arguments tradewind does not act on
yet give one warning each when a file is parsed — never an import error."""

from __future__ import annotations

import logging
import textwrap
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tradewind import DAG, BashOperator, PythonOperator, task
from tradewind.errors import InertArgumentWarning
from tradewind.sdk.dag_file import load_dag_file
from tradewind.sdk.serialization import deserialize_dag, serialize_dag

START = datetime(2024, 1, 1, tzinfo=UTC)

EVERY_ARGUMENT_DAG = """
from datetime import datetime, timedelta
from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG(
    "every_argument",
    start_date=datetime(2024, 1, 1),
    schedule=None,
    dag_display_name="Every argument",
    max_consecutive_failed_dag_runs=3,
    access_control={"Viewer": {"can_read"}},
    owner_links={"alice": "mailto:alice@example.com"},
    sla_miss_callback=print,
    fail_stop=False,
    default_args={"email": ["ops@example.com"], "sla": timedelta(hours=1)},
):
    for n in range(3):
        BashOperator(
            task_id=f"step_{n}",
            bash_command="true",
            task_display_name=f"Step {n}",
            on_skipped_callback=print,
            pre_execute=lambda context: None,
            post_execute=lambda context, result: None,
            wait_for_past_depends_before_skipping=False,
            map_index_template=None,
            max_active_tis_per_dagrun=2,
            executor="CeleryExecutor",
            multiple_outputs=False,
            logger_name="steps",
            allow_nested_operators=False,
            resources={"cpus": 1},
            run_as_user=None,
        )
"""


def test_a_file_with_every_airflow_argument_imports_and_says_once_what_has_no_effect(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "every_argument.py"
    path.write_text(textwrap.dedent(EVERY_ARGUMENT_DAG))

    with caplog.at_level(logging.WARNING, logger="tradewind.sdk.dag_file"):
        result = load_dag_file(path)

    assert result.error is None, result.traceback
    inert = sorted(line.split("'")[3] for line in result.warnings)
    assert inert == sorted(
        [
            "access_control",
            "executor",
            "max_active_tis_per_dagrun",
            "max_consecutive_failed_dag_runs",
            "owner_links",
            "resources",
            "sla",
            "sla_miss_callback",
        ]
    )
    # Three tasks set the same arguments: each is reported once for the DAG.
    assert len(result.warnings) == len(inert)
    assert all(line.startswith("DAG 'every_argument': argument ") for line in result.warnings)
    assert any(str(path) in record.getMessage() and "'sla'" in record.getMessage() for record in caplog.records)


def test_display_names_default_to_the_ids_and_survive_serialization() -> None:
    with DAG("named", schedule=None, start_date=START, dag_display_name="Named DAG") as dag:
        BashOperator(task_id="a", bash_command="true", task_display_name="First")
        BashOperator(task_id="b", bash_command="true")
    back = deserialize_dag(serialize_dag(dag))
    assert (back.dag_display_name, back.get_task("a").task_display_name, back.get_task("b").task_display_name) == (
        "Named DAG",
        "First",
        "b",
    )
    with DAG("plain", schedule=None, start_date=START) as plain:
        pass
    assert plain.dag_display_name == "plain"


def test_an_argument_left_at_its_default_gives_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", InertArgumentWarning)
        with DAG("quiet", schedule=None, start_date=START, fail_stop=False, max_consecutive_failed_dag_runs=0):
            BashOperator(task_id="a", bash_command="true", email=None, sla=None)


def test_pre_and_post_execute_arguments_run_around_execute() -> None:
    calls: list[Any] = []
    with DAG("hooks", schedule=None, start_date=START):
        op = PythonOperator(
            task_id="work",
            python_callable=lambda: "done",
            pre_execute=lambda context: calls.append(("pre", context["marker"])),
            post_execute=lambda context, result: calls.append(("post", result)),
        )
    op.pre_execute({"marker": 1})
    op.post_execute({"marker": 1}, "done")
    assert calls == [("pre", 1), ("post", "done")]


def test_logger_name_names_the_tasks_logger() -> None:
    with DAG("loggers", schedule=None, start_date=START):
        named = BashOperator(task_id="a", bash_command="true", logger_name="ingest")
        plain = BashOperator(task_id="b", bash_command="true")
    assert named.log.name == "tradewind.task.operators.ingest"
    assert plain.log.name == "tradewind.task.operators.BashOperator"


def test_multiple_outputs_of_a_taskflow_task_is_kept() -> None:
    with DAG("outputs", schedule=None, start_date=START) as dag:

        @task(multiple_outputs=True)
        def pair() -> dict[str, int]:
            return {"a": 1}

        pair()
    assert dag.get_task("pair").multiple_outputs is True


def test_sla_given_as_a_timedelta_is_kept_for_airflow_code_that_reads_it() -> None:
    with DAG("sla", schedule=None, start_date=START), pytest.warns(InertArgumentWarning, match="'sla'"):
        op = BashOperator(task_id="a", bash_command="true", sla=timedelta(hours=1))
    assert op.sla == timedelta(hours=1)
