"""The example DAGs import cleanly (with the example plugins), and tests/dags/expected_states.py names
exactly their tasks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tradewind.sdk import plugins
from tradewind.sdk.dag_file import load_dag_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "dags").glob("*.py"))


def _expected_states() -> dict:
    path = ROOT / "tests" / "dags" / "expected_states.py"
    spec = importlib.util.spec_from_file_location("expected_states", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Examples that need a server are run by their provider's integration test, not with the rest.
    return {**module.EXPECTED_STATES, **module.EXPECTED_STATES_WITH_A_SERVER}


@pytest.fixture(autouse=True)
def example_plugins():
    """The example plugins as the plugins folder (example_plugin_timetable's timetable is there)."""
    plugins.reset()
    plugins.configure(ROOT / "examples" / "plugins")
    yield
    plugins.reset()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_dag_imports_and_matches_its_expected_states(path):
    result = load_dag_file(path)
    assert result.error is None, result.traceback
    assert [dag.dag_id for dag in result.dags] == [path.stem]
    expected = _expected_states()[path.stem]
    assert sorted(result.dags[0].task_ids) == sorted(expected["tasks"])
    assert expected["run_state"] in {"success", "failed"}


def test_every_expected_dag_has_an_example_file():
    assert sorted(_expected_states()) == sorted(path.stem for path in EXAMPLES)


@pytest.mark.parametrize(("run_type", "followed"), [("scheduled", "incremental_load"), ("manual", "full_reload")])
def test_the_airflow_compat_example_branches_on_the_run_type(run_type, followed):
    from types import SimpleNamespace

    from tradewind.sdk.runtime import InMemoryXComBackend, RuntimeTaskInstance

    (dag,) = load_dag_file(ROOT / "examples" / "dags" / "example_airflow_compat.py").dags
    branch = dag.get_task("choose_load")
    ti = RuntimeTaskInstance(
        task=branch,
        dag_id=dag.dag_id,
        run_id=f"{run_type}__1",
        try_number=1,
        max_tries=0,
        xcom=InMemoryXComBackend(branch.task_id),
    )
    context = {"ti": ti, "task_instance": ti, "task": branch, "dag": dag, "dag_run": SimpleNamespace(run_type=run_type)}

    assert branch.execute(context) == followed
    assert ti.skip_requests == {"full_reload", "incremental_load"} - {followed}
