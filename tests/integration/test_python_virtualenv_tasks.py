"""Tasks in another Python, run by ``tradewind dags test`` on PostgreSQL with no network: a virtual
environment that installs a package from a wheel this test builds (``--no-index --find-links``),
built once and reused from its cache; a virtual environment the test made, used as an external
Python; and the errors a user meets — a callable that raises, a Python path that does not exist.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from cli_helpers import LOGICAL_DATE, RUN_ID, Cli, metastore_session

from tradewind.metastore import logs, xcoms
from tradewind.metastore.task_instances import TIKey

pytestmark = pytest.mark.integration


def _build_wheel(folder: Path) -> Path:
    """``tinycalc-1.0``, a one-module package, as a wheel written by hand (nothing downloaded)."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "tinycalc-1.0-py3-none-any.whl"
    files = {
        "tinycalc/__init__.py": "def triple(x):\n    return 3 * x\n",
        "tinycalc-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinycalc\nVersion: 1.0\n",
        "tinycalc-1.0.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{name},,\n" for name in files) + "tinycalc-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        archive.writestr("tinycalc-1.0.dist-info/RECORD", record)
    return wheel


def _write_dag(folder: Path, name: str, source: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(source))


@pytest.fixture(scope="module")
def cli(module_pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    home = tmp_path_factory.mktemp("venv_home")
    dags = home / "dags"
    dags.mkdir()
    wheels = _build_wheel(home / "wheels").parent
    # A bare interpreter environment (no pip: nothing is installed into it).
    external = home / "external-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(external)], check=True, timeout=120)
    (dags / "requirements.txt").write_text("# what venv_from_file installs\ntinycalc==1.0\n")
    _write_dag(
        dags,
        "venv_with_a_wheel",
        f"""
        from datetime import datetime, timezone
        from tradewind import DAG, PythonVirtualenvOperator, task

        VENV = dict(
            system_site_packages=False,
            pip_install_options=["--no-index", "--find-links", {str(wheels)!r}],
            venv_cache_path={str(home / "venv-cache")!r},
        )

        def triple_in_venv(x):
            import sys
            import tinycalc
            return {{"tripled": tinycalc.triple(x), "python": sys.executable}}

        with DAG("venv_with_a_wheel", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
            first = PythonVirtualenvOperator(
                task_id="first", python_callable=triple_in_venv, op_args=[14], requirements=["tinycalc==1.0"], **VENV
            )

            @task.virtualenv(requirements=["tinycalc==1.0"], **VENV)
            def again(previous):
                import sys
                import tinycalc
                return {{"tripled": tinycalc.triple(previous["tripled"]), "python": sys.executable}}

            @task.virtualenv(requirements="requirements.txt", **VENV)
            def from_file():
                import tinycalc
                return tinycalc.triple(1)

            again(first.output) >> from_file()
        """,
    )
    _write_dag(
        dags,
        "external_venv",
        f"""
        from datetime import datetime, timezone
        from tradewind import DAG, ExternalPythonOperator, task

        def where_am_i(greeting, ds=None, logical_date=None, dag=None):
            import sys
            return {{"prefix": sys.prefix, "greeting": greeting, "ds": ds, "dag": dag,
                     "logical_date": logical_date}}

        def broken():
            raise ValueError("the numbers do not add up")

        with DAG("external_venv", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
            ExternalPythonOperator(
                task_id="in_external", python={str(external / "bin" / "python")!r},
                python_callable=where_am_i, op_kwargs={{"greeting": "hi"}}, expect_airflow=False,
            )
            ExternalPythonOperator(
                task_id="raises", python={str(external / "bin" / "python")!r}, python_callable=broken,
            )

            @task.external_python(python="/nowhere/bin/python")
            def missing_python():
                return 1

            missing_python()
        """,
    )
    return Cli(home=home, dags_folder=dags, database_url=module_pg_url)


def _log(cli: Cli, dag_id: str, task_id: str) -> str:
    with metastore_session(cli.settings()) as session:
        text, _ = logs.read_log(session, TIKey(dag_id, RUN_ID, task_id), 1)
    return text


def _xcom(cli: Cli, dag_id: str, task_id: str) -> object:
    with metastore_session(cli.settings()) as session:
        return xcoms.get_xcom(session, dag_id, RUN_ID, task_id, xcoms.RETURN_VALUE, default=None)


def test_a_virtualenv_installs_a_local_wheel_once_and_later_tasks_reuse_it(cli: Cli) -> None:
    result = cli("dags", "test", "venv_with_a_wheel", LOGICAL_DATE, "-q", timeout=300)

    assert result.returncode == 0, result
    assert {row["task_id"]: row["state"] for row in result.table()} == {
        "first": "success",
        "again": "success",
        "from_file": "success",
    }
    first, again = _xcom(cli, "venv_with_a_wheel", "first"), _xcom(cli, "venv_with_a_wheel", "again")
    assert first["tripled"] == 42 and again["tripled"] == 126  # type: ignore[index]
    assert first["python"] == again["python"]  # type: ignore[index]
    assert Path(first["python"]).parents[1].parent == cli.home / "venv-cache"  # type: ignore[index]
    assert "Building a Python virtual environment" in _log(cli, "venv_with_a_wheel", "first")
    assert "Re-using cached Python virtual environment" in _log(cli, "venv_with_a_wheel", "again")
    # A requirements file naming the same package is the same environment.
    assert "Re-using cached Python virtual environment" in _log(cli, "venv_with_a_wheel", "from_file")
    assert _xcom(cli, "venv_with_a_wheel", "from_file") == 3


def test_an_external_python_gets_its_arguments_and_only_the_context_it_can_load(cli: Cli) -> None:
    result = cli("dags", "test", "external_venv", LOGICAL_DATE, "-q", timeout=300)

    assert result.returncode == 1, result  # two of its tasks fail on purpose
    assert {row["task_id"]: row["state"] for row in result.table()} == {
        "in_external": "success",
        "raises": "failed",
        "missing_python": "failed",
    }
    answer = _xcom(cli, "external_venv", "in_external")
    # The environment has no pendulum, so the run's dates (pendulum objects) do not cross; nor does
    # the DAG. The run's ds, a plain string, does.
    assert answer == {
        "prefix": str(cli.home / "external-venv"),
        "greeting": "hi",
        "ds": "2024-01-01",
        "dag": None,
        "logical_date": None,
    }
    raised = _log(cli, "external_venv", "raises")
    assert "Process returned non-zero exit status 1." in raised
    assert "ValueError: the numbers do not add up" in raised
    assert "Python Path '/nowhere/bin/python' must exist" in _log(cli, "external_venv", "missing_python")


def test_changing_the_cache_key_variable_has_the_environment_built_again(cli: Cli) -> None:
    assert cli("dags", "test", "venv_with_a_wheel", LOGICAL_DATE, "-q", timeout=300).returncode == 0
    before = sorted((cli.home / "venv-cache").glob("venv-*/"))

    assert cli("variables", "set", "PythonVirtualenvOperator.cache_key", "rebuild-1").returncode == 0
    result = cli("dags", "test", "venv_with_a_wheel", "2024-01-02", "-q", timeout=300)

    assert result.returncode == 0, result
    after = sorted((cli.home / "venv-cache").glob("venv-*/"))
    assert len(after) == 2 and set(before) < set(after), after
