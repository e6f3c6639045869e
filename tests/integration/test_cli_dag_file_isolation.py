"""The CLI imports DAG files in a child process first, as the scheduler does: a file that ends its own
process at import (``os._exit(0)``) or hangs there can no longer make ``dags test``, ``tasks test``,
``dags list`` or ``dags list-import-errors`` print nothing and exit 0 — a CI job running
``dags test`` fails with a message saying why.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from cli_helpers import LOGICAL_DATE, Cli

pytestmark = pytest.mark.integration

GOOD = """
import pendulum
{imports}
from tradewind import DAG, EmptyOperator

with DAG("{dag_id}", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None):
    EmptyOperator(task_id="only_task")
"""
#: Defines its DAG, then ends the process that imports it with exit code 0.
EXITS = GOOD.format(imports="import os", dag_id="exits") + "\nos._exit(0)\n"
#: Sleeps forever, deaf to the import's alarm: only being killed stops it.
HANGS = textwrap.dedent(
    """
    import signal, time
    from tradewind import DAG

    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    while True:
        time.sleep(1)
    """
)
DIED = "the process importing the file died (exit code 0) before it finished"


def _cli(tmp_path: Path, url: str, files: dict[str, str], **env: str) -> Cli:
    folder = tmp_path / "dags"
    folder.mkdir()
    for name, source in files.items():
        (folder / name).write_text(source)
    return Cli(home=tmp_path, dags_folder=folder, database_url=url).with_env(**env)


def test_a_file_that_exits_at_import_is_reported_by_every_command(fresh_pg_url: str, tmp_path: Path) -> None:
    cli = _cli(tmp_path, fresh_pg_url, {"exits.py": EXITS, "good.py": GOOD.format(imports="", dag_id="good")})
    path = cli.dags_folder / "exits.py"

    listed = cli("dags", "list")
    assert listed.returncode == 0, listed
    assert [row["dag_id"] for row in listed.table()] == ["good"], "the good DAG is listed beside it"
    assert "1 file(s) failed to import" in listed.stderr, listed

    errors = cli("dags", "list-import-errors", "-o", "json")
    assert errors.returncode == 1, errors
    assert [(row["filepath"], row["error"]) for row in errors.json()] == [(str(path), f"{path}: {DIED}")]

    for args in (("dags", "test", "exits", LOGICAL_DATE), ("tasks", "test", "exits", "only_task", LOGICAL_DATE)):
        result = cli(*args)
        assert result.returncode == 1, result
        assert "DAG 'exits' not found" in result.error_line and DIED in result.error_line, result


def test_dags_test_fails_when_a_dag_that_ran_before_now_exits_at_import(fresh_pg_url: str, tmp_path: Path) -> None:
    cli = _cli(
        tmp_path,
        fresh_pg_url,
        {"helper_mod.py": "VALUE = 1\n", "uses_helper.py": GOOD.format(imports="import helper_mod", dag_id="uses")},
    )
    first = cli("dags", "test", "uses", LOGICAL_DATE)
    assert first.returncode == 0, first

    # The DAG file is unchanged; a module it imports now ends the process.
    (cli.dags_folder / "helper_mod.py").write_text("import os\nos._exit(0)\n")

    for args in (("dags", "test", "uses", "2024-01-02"), ("tasks", "test", "uses", "only_task", "2024-01-02")):
        result = cli(*args)
        assert result.returncode == 1, result
        assert result.error_line == f"Error: DAG 'uses' cannot be loaded: {cli.dags_folder / 'uses_helper.py'}: {DIED}"
        assert "success" not in result.stdout, result


def test_a_file_that_hangs_at_import_ends_with_a_timeout_error(fresh_pg_url: str, tmp_path: Path) -> None:
    cli = _cli(
        tmp_path,
        fresh_pg_url,
        {"hangs.py": HANGS, "good.py": GOOD.format(imports="", dag_id="good")},
        TRADEWIND_DAGBAG_IMPORT_TIMEOUT="2",
    )

    errors = cli("dags", "list-import-errors", "-o", "json", timeout=60)

    assert errors.returncode == 1, errors
    assert errors.seconds < 30, "killed after the import timeout, not left to hang"
    [row] = errors.json()
    assert row["error"] == (
        f"{cli.dags_folder / 'hangs.py'}: DagFileImportError: importing the file took longer than 2 s "
        "(dagbag_import_timeout); the import was killed"
    )
    good = cli("dags", "test", "good", LOGICAL_DATE, timeout=60)
    assert good.returncode == 0, good
