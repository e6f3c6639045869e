"""A DAG file importing an Airflow module tradewind deliberately does not serve (a SubDAG, an AWS
provider hook) is parsed by the dag processor into an import error, and the DAGs page shows it with
the module's name and the reason; the rest of the folder still loads."""

from __future__ import annotations

import html
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask

from tradewind.master.scheduler.dag_processor import sync_dag_folder
from tradewind.master.webserver.db import metastore
from tradewind.settings import Settings

pytestmark = pytest.mark.integration

pytest_plugins = ["web_fixtures"]

HEADER = """
    import pendulum
    from airflow import DAG
"""

FILES = {
    "uses_subdag": "from airflow.operators.subdag import SubDagOperator\n",
    "uses_s3": "from airflow.providers.amazon.aws.hooks.s3 import S3Hook\n",
    "fine": """
        from airflow.operators.empty import EmptyOperator
        with DAG("fine", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None):
            EmptyOperator(task_id="noop")
    """,
}


def test_the_dags_page_shows_each_unserved_module_as_its_files_import_error(
    web_app: Flask, web_settings: Settings, client_as, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    for name, body in FILES.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(HEADER) + textwrap.dedent(body))

    report = sync_dag_folder(metastore(web_app).factory, replace(web_settings, dags_folder=tmp_path), force=True)
    assert report.dag_ids == ["fine"]

    page = html.unescape(client_as("Viewer").get("/").text)
    assert "2 DAG files failed to import" in page
    assert f"<summary>{tmp_path / 'uses_subdag.py'}</summary>" in page
    assert ("No module named 'airflow.operators.subdag': tradewind does not provide this Airflow module") in page
    assert (
        "No module named 'airflow.providers.amazon.aws.hooks.s3': tradewind does not provide this Airflow module"
    ) in page
