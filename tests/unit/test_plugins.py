"""Plugins from the plugins folder: custom timetables a stored DAG finds again by class, plugin
macros in templates, attributes accepted without effect, and broken plugin files that stay their
own error."""

from __future__ import annotations

import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tradewind.compat import airflow_shim
from tradewind.errors import TimetableNotRegistered
from tradewind.sdk import plugins
from tradewind.sdk.dag_file import load_dag_file
from tradewind.sdk.schedules import manual_run_interval, next_dagrun_info
from tradewind.sdk.serialization import deserialize_dag, serialize_dag
from tradewind.sdk.templating import render_template
from tradewind.sdk.timetables.base import DataInterval

WORKDAY_PLUGIN = '''
from datetime import timedelta

from pendulum import UTC, DateTime, Time

from airflow.plugins_manager import AirflowPlugin
from airflow.timetables.base import DagRunInfo, DataInterval, Timetable


class {cls}(Timetable):
    """A run per weekday, covering that day; Saturday and Sunday have none."""

    def infer_manual_data_interval(self, *, run_after):
        start = DateTime.combine((run_after - timedelta(days=1)).date(), Time.min).replace(tzinfo=UTC)
        while start.weekday() >= 5:
            start = start - timedelta(days=1)
        return DataInterval(start=start, end=start + timedelta(days=1))

    def next_dagrun_info(self, *, last_automated_data_interval, restriction):
        if last_automated_data_interval is not None:
            next_start = last_automated_data_interval.end
        elif restriction.earliest is None:
            return None
        else:
            next_start = restriction.earliest
        while next_start.weekday() >= 5:
            next_start = next_start + timedelta(days=1)
        if restriction.latest is not None and next_start > restriction.latest:
            return None
        return DagRunInfo.interval(start=next_start, end=next_start + timedelta(days=1))


def days_until(ds, until):
    return (DateTime.fromisoformat(until) - DateTime.fromisoformat(ds)).days


class WorkdayPlugin(AirflowPlugin):
    name = "{name}"
    timetables = [{cls}]
    macros = [days_until]
    flask_blueprints = ["not used by tradewind"]
'''

DAG_FILE = """
from datetime import datetime, timezone

from airflow import DAG
from airflow.operators.empty import EmptyOperator
from {module} import {cls}

with DAG("workdays", timetable={cls}(), start_date=datetime(2024, 1, 5, tzinfo=timezone.utc)):
    EmptyOperator(task_id="t")
"""


@pytest.fixture
def plugins_folder(tmp_path: Path, request: pytest.FixtureRequest):
    """A plugins folder whose modules have names unique to the test; forgotten afterwards."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    suffix = request.node.name.replace("[", "_").replace("]", "").replace("-", "_")
    names = {"module": f"workday_{suffix}", "cls": "AfterWorkday", "name": f"workday_{suffix}"}
    plugins.reset()
    yield folder, names
    plugins.reset()
    for name in [m for m in sys.modules if m.startswith("workday_") or m.startswith("broken_")]:
        del sys.modules[name]
    while str(folder) in sys.path:
        sys.path.remove(str(folder))
    airflow_shim.uninstall()


def write_plugin(folder: Path, names: dict[str, str]) -> None:
    (folder / f"{names['module']}.py").write_text(textwrap.dedent(WORKDAY_PLUGIN.format(**names)))


def write_dag(folder: Path, names: dict[str, str]) -> Path:
    path = folder / "workdays.py"
    path.write_text(DAG_FILE.format(**names))
    return path


def test_a_dag_with_a_plugin_timetable_is_stored_and_scheduled_from_the_stored_form(plugins_folder, tmp_path):
    folder, names = plugins_folder
    write_plugin(folder, names)
    plugins.configure(folder)
    result = load_dag_file(write_dag(tmp_path, names))
    assert result.error is None, result.error
    (dag,) = result.dags

    data = serialize_dag(dag)
    assert data["timetable"]["__type"] == f"{names['module']}.AfterWorkday"
    stored = deserialize_dag(data)  # what the scheduler does, never importing the DAG file
    now = datetime(2024, 2, 1, tzinfo=UTC)
    first = next_dagrun_info(stored.timetable, start_date=stored.start_date, last_automated_interval=None, now=now)
    # 5 January 2024 is a Friday: its run covers Friday; the next one skips the weekend to Monday.
    assert first.data_interval == DataInterval(datetime(2024, 1, 5, tzinfo=UTC), datetime(2024, 1, 6, tzinfo=UTC))
    second = next_dagrun_info(
        stored.timetable, start_date=stored.start_date, last_automated_interval=first.data_interval, now=now
    )
    assert second.logical_date == datetime(2024, 1, 8, tzinfo=UTC)
    assert manual_run_interval(stored.timetable, datetime(2024, 1, 8, 9, tzinfo=UTC)).start == datetime(
        2024, 1, 5, tzinfo=UTC
    )


def test_an_unregistered_timetable_is_an_import_error_naming_it(plugins_folder, tmp_path):
    folder, names = plugins_folder
    write_plugin(folder, names)
    (folder / f"{names['module']}.py").write_text(
        (folder / f"{names['module']}.py").read_text().replace("timetables = [AfterWorkday]", "timetables = []")
    )
    plugins.configure(folder)
    (dag,) = load_dag_file(write_dag(tmp_path, names)).dags
    with pytest.raises(
        TimetableNotRegistered, match=rf"timetable class '{names['module']}.AfterWorkday' is not registered"
    ):
        serialize_dag(dag)


def test_a_stored_dag_whose_timetable_no_plugin_registers_cannot_be_read(plugins_folder):
    with pytest.raises(TimetableNotRegistered, match="'gone_plugin.Weekly' is not registered"):
        deserialize_dag({**_stored_daily(), "timetable": {"__type": "gone_plugin.Weekly", "__var": {}}})


def _stored_daily() -> dict:
    from tradewind import DAG, EmptyOperator

    with DAG("daily", schedule="@daily", start_date=datetime(2024, 1, 1, tzinfo=UTC)) as dag:
        EmptyOperator(task_id="t")
    return serialize_dag(dag)


def test_plugin_macros_render_under_the_plugins_name(plugins_folder):
    from types import SimpleNamespace

    from tradewind.sdk.context import RunInfo, build_context
    from tradewind.sdk.templating import make_environment

    folder, names = plugins_folder
    write_plugin(folder, names)
    plugins.configure(folder)
    run = RunInfo(dag_id="d", run_id="r", run_type="manual", logical_date=datetime(2024, 1, 1, tzinfo=UTC))
    context = build_context(dag=None, task=SimpleNamespace(task_id="t"), run=run, ti=SimpleNamespace(), params={})
    template = f"{{{{ macros.{names['name']}.days_until(ds, '2024-01-31') }}}} {{{{ macros.ds_add(ds, 1) }}}}"
    assert render_template(template, context, make_environment()) == "30 2024-01-02"


def test_a_broken_plugin_file_is_its_own_error_and_the_others_still_load(plugins_folder, caplog):
    folder, names = plugins_folder
    write_plugin(folder, names)
    (folder / "broken_syntax.py").write_text("def oops(:\n")
    (folder / "broken_nameless.py").write_text(
        "from airflow.plugins_manager import AirflowPlugin\n\nclass Nameless(AirflowPlugin):\n    pass\n"
    )
    plugins.load_now(folder)

    assert [type(p).name for p in plugins.loaded()] == [names["name"]]
    errors = plugins.errors()
    assert set(errors) == {str(folder / "broken_syntax.py"), str(folder / "broken_nameless.py")}
    assert errors[str(folder / "broken_syntax.py")].startswith("SyntaxError")
    assert "needs a name" in errors[str(folder / "broken_nameless.py")]
    assert "broken_syntax.py could not be loaded" in caplog.text


def test_attributes_without_effect_are_accepted_and_listed(plugins_folder):
    from tradewind.cli.plugins import plugin_rows

    folder, names = plugins_folder
    write_plugin(folder, names)
    plugins.configure(folder)
    (row,) = plugin_rows()
    assert row["name"] == names["name"]
    assert row["macros"] == ["days_until"]
    assert row["timetables"] == [f"{names['module']}.AfterWorkday"]
    assert row["without_effect"] == ["flask_blueprints"]


def test_no_plugins_folder_means_no_plugins(tmp_path):
    plugins.reset()
    plugins.configure(tmp_path / "missing")
    assert plugins.loaded() == [] and plugins.errors() == {}
    plugins.reset()
