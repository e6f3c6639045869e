"""Bad input to the ``tradewind`` command gives one clear ``Error:`` line that names the problem, a
non-zero exit code, and nothing half-written: broken DAG files (tests/dags/dag_*.py) beside a good
one, wrong command-line values, a metastore that is down or not migrated.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cli_helpers import LOGICAL_DATE, TEST_DAGS, Cli, CliResult, metastore_session

from tradewind.metastore.engine import create_engine_from_settings
from tradewind.metastore.migrate import head_revision
from tradewind.metastore.models import DagRun
from tradewind.settings import Settings

pytestmark = pytest.mark.integration

GOOD_DAG = """\
import pendulum

from tradewind import DAG, EmptyOperator, Param

with DAG(dag_id="{dag_id}", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None,
         params={{"n": Param(1, type="integer")}}) as dag:
    EmptyOperator(task_id="only_task")
"""


def _syntax_error_line() -> int:
    lines = (TEST_DAGS / "dag_syntax_error.py").read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.startswith("return "))


#: Each broken file, and patterns that must all be found in its import error line.
BROKEN = {
    "dag_with_cycle": [r"\bcycle\b", r"\b(a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)\b"],
    "dag_duplicate_task_id": [r"'load'", r"(?i)duplicate|more than one"],
    "dag_bad_cron": [re.escape("'61 * * * *'"), r"(?i)\bcron\b"],
    "dag_syntax_error": [rf"\.py:{_syntax_error_line()}:", r"SyntaxError"],
    "dag_unknown_trigger_rule": [r"'all_sucess'", r"(?i)trigger rule"],
    "dag_schedule_without_start_date": [r"\bschedule\b", r"\bstart_date\b"],
    "dag_task_in_two_dags": [r"'shared'", r"'dag_task_in_two_dags_first'", r"'dag_task_in_two_dags_second'"],
    "dag_unsupported_airflow_import": [re.escape("airflow.providers.amazon.aws.operators.s3")],
}


def _dag_folder(root: Path, *, broken: bool = True, good: tuple[str, ...] = ("good",)) -> Path:
    folder = (root / "dags").resolve()
    folder.mkdir(parents=True)
    if broken:
        for name in BROKEN:
            shutil.copy(TEST_DAGS / f"{name}.py", folder)
    for dag_id in good:
        (folder / f"{dag_id}.py").write_text(GOOD_DAG.format(dag_id=dag_id))
    return folder


def _dag_ids(cli: Cli) -> list[str]:
    listed = cli("dags", "list", "-o", "json")
    assert listed.returncode == 0, listed
    return sorted(row["dag_id"] for row in listed.json())


def _import_errors(cli: Cli) -> dict[str, str]:
    """filepath -> error line; asserts the exit code says whether there are any."""
    listed = cli("dags", "list-import-errors", "-o", "json")
    rows = listed.json()
    assert listed.returncode == (1 if rows else 0), listed
    assert len({row["filepath"] for row in rows}) == len(rows), "one entry per file"
    return {row["filepath"]: row["error"] for row in rows}


# --- broken DAG files -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broken_folder(module_pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every broken file plus one good DAG; what `dags list` and `list-import-errors` said."""
    home = tmp_path_factory.mktemp("broken")
    cli = Cli(home=home, dags_folder=_dag_folder(home), database_url=module_pg_url)
    return {
        "cli": cli,
        "table": cli("dags", "list"),
        "dag_ids": _dag_ids(cli),
        "errors": cli("dags", "list-import-errors", "-o", "json"),
    }


def test_dags_list_still_lists_the_good_dag_beside_broken_files_and_says_how_many_failed(
    broken_folder: dict[str, Any],
) -> None:
    table: CliResult = broken_folder["table"]

    assert table.returncode == 0, table
    assert [row["dag_id"] for row in table.table()] == ["good"]
    assert f"{len(BROKEN)} file(s) failed to import" in table.stderr
    # Nothing of a broken file is stored, not even the valid first DAG of dag_task_in_two_dags.
    assert broken_folder["dag_ids"] == ["good"]


def test_list_import_errors_has_exactly_one_entry_per_broken_file_and_exits_1(
    broken_folder: dict[str, Any],
) -> None:
    errors: CliResult = broken_folder["errors"]
    folder = broken_folder["cli"].dags_folder

    assert errors.returncode == 1, errors
    assert sorted(row["filepath"] for row in errors.json()) == sorted(str(folder / f"{n}.py") for n in BROKEN)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_an_import_error_is_one_line_naming_the_file_and_the_problem(
    broken_folder: dict[str, Any],
    name: str,
) -> None:
    path = str(broken_folder["cli"].dags_folder / f"{name}.py")
    error = {row["filepath"]: row["error"] for row in broken_folder["errors"].json()}[path]

    assert "\n" not in error
    assert error.startswith(path), error
    for pattern in BROKEN[name]:
        assert re.search(pattern, error), f"{pattern!r} not in {error!r}"


def test_fixing_a_broken_file_clears_its_import_error_on_the_next_dags_list(
    fresh_pg_url: str,
    tmp_path: Path,
) -> None:
    cli = Cli(home=tmp_path, dags_folder=_dag_folder(tmp_path), database_url=fresh_pg_url)
    assert len(_import_errors(cli)) == len(BROKEN)
    fixed = cli.dags_folder / "dag_with_cycle.py"

    fixed.write_text(GOOD_DAG.format(dag_id="dag_with_cycle"))
    listed = cli("dags", "list", "-o", "json")

    assert listed.returncode == 0, listed
    assert sorted(row["dag_id"] for row in listed.json()) == ["dag_with_cycle", "good"]
    remaining = _import_errors(cli)
    assert str(fixed) not in remaining
    assert len(remaining) == len(BROKEN) - 1, "the other broken files keep their errors"


def test_deleting_a_dag_file_makes_its_dag_disappear_from_dags_list(fresh_pg_url: str, tmp_path: Path) -> None:
    cli = Cli(
        home=tmp_path,
        dags_folder=_dag_folder(tmp_path, broken=False, good=("good", "doomed")),
        database_url=fresh_pg_url,
    )
    assert _dag_ids(cli) == ["doomed", "good"]

    (cli.dags_folder / "doomed.py").unlink()

    assert _dag_ids(cli) == ["good"]
    gone = cli("dags", "test", "doomed", LOGICAL_DATE)
    assert gone.returncode == 1, gone
    assert "DAG 'doomed' not found" in gone.error_line


def test_a_dag_file_not_parsed_yet_is_refused_by_trigger_and_pause_with_what_to_do(
    fresh_pg_url: str, tmp_path: Path
) -> None:
    # As Airflow's, `dags trigger` and `dags pause` read the metastore only: a file written a moment
    # ago is unknown until the scheduler (or `dags reserialize`) has parsed it.
    cli = Cli(
        home=tmp_path, dags_folder=_dag_folder(tmp_path, broken=False, good=("fresh",)), database_url=fresh_pg_url
    )

    for args in (["dags", "trigger", "fresh"], ["dags", "pause", "fresh"], ["tasks", "clear", "fresh", "--yes"]):
        refused = cli(*args)
        assert refused.returncode == 1, refused
        assert "DAG 'fresh' not found in the metastore" in refused.error_line
        assert "`tradewind dags reserialize`" in refused.error_line
        assert refused.stdout == ""
    with metastore_session(cli.settings()) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(DagRun)) == 0

    assert cli("dags", "reserialize").returncode == 0
    assert cli("dags", "trigger", "fresh", "-r", "first").returncode == 0

    # The file breaks after it was parsed: trigger still acts on the DAG as the metastore holds it,
    # without importing the folder (the import error appears when the folder is parsed again).
    (cli.dags_folder / "fresh.py").write_text("raise RuntimeError('half-edited')\n# dag\n")
    again = cli("dags", "trigger", "fresh", "-r", "second", "-o", "json")
    assert again.returncode == 0, again
    assert again.json()["run_id"] == "second"
    assert cli("dags", "pause", "fresh").returncode == 0
    assert _import_errors(cli) != {}


# --- command-line values --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_cli(new_pg_url: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """One good DAG, already synced (so no command below has anything of its own to log)."""
    home = tmp_path_factory.mktemp("good")
    cli = Cli(home=home, dags_folder=_dag_folder(home, broken=False), database_url=new_pg_url())
    assert _dag_ids(cli) == ["good"]
    return cli


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(
            ["dags", "test", "good", LOGICAL_DATE, "--conf", "[1]"],
            r"--conf must be a JSON object",
            id="conf-not-an-object",
        ),
        pytest.param(
            ["dags", "test", "good", LOGICAL_DATE, "--conf", "{bad"], r"--conf is not valid JSON", id="conf-not-json"
        ),
        pytest.param(
            ["dags", "test", "good", LOGICAL_DATE, "--conf", '{"n": "five"}'],
            r"param 'n'.*'five'.*integer",
            id="conf-breaks-a-param-schema",
        ),
        pytest.param(["dags", "test", "good", "01/02/2024"], r"'01/02/2024'.*ISO 8601", id="bad-logical-date"),
        pytest.param(["dags", "test", "x"], r"DAG 'x' not found", id="unknown-dag"),
        pytest.param(
            ["tasks", "test", "good", "nope", LOGICAL_DATE], r"DAG 'good' has no task 'nope'", id="unknown-task"
        ),
        pytest.param(["dags", "show", "x"], r"DAG 'x' not found", id="show-unknown-dag"),
        pytest.param(
            ["dags", "list-runs", "-d", "x", "-o", "json"], r"DAG 'x' not found", id="list-runs-of-unknown-dag"
        ),
        pytest.param(
            ["tasks", "states-for-dag-run", "good", "nope", "-o", "json"],
            r"DAG 'good' has no run 'nope'",
            id="unknown-run",
        ),
        pytest.param(
            ["db", "clean", "--clean-before-timestamp", "yesterday", "--yes"],
            r"invalid --clean-before-timestamp 'yesterday'.*ISO 8601",
            id="db-clean-bad-timestamp",
        ),
        pytest.param(
            ["db", "clean", "--clean-before-timestamp", LOGICAL_DATE, "--tables", "dag_runs", "--yes"],
            r"unknown table\(s\) for --tables: dag_runs; valid: .*dag_run",
            id="db-clean-unknown-table",
        ),
    ],
)
def test_a_bad_command_line_value_is_refused_with_one_error_line_and_no_run_is_created(
    good_cli: Cli,
    args: list[str],
    says: str,
) -> None:
    result = good_cli(*args)

    assert result.returncode != 0, result
    assert re.search(says, result.error_line), result
    assert result.stdout == "", "nothing is printed as if it had worked"
    assert good_cli("dags", "list-runs", "-d", "good", "-o", "json").json() == []
    with metastore_session(good_cli.settings()) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(DagRun)) == 0


def test_errors_of_tradewind_itself_are_the_only_line_on_stderr(good_cli: Cli) -> None:
    # Click's own usage errors (bad --conf, bad date) put "Usage:" and a hint above the Error line;
    # errors tradewind raises print that one line and nothing else.
    for args in (["dags", "test", "x"], ["tasks", "states-for-dag-run", "good", "nope"]):
        result = good_cli(*args)
        assert result.returncode == 1, result
        assert result.stderr.splitlines() == [result.error_line]


# --- the metastore --------------------------------------------------------------------------------

DEAD_URL = "postgresql://postgres:secret@127.0.0.1:1/nope"


@pytest.mark.parametrize(
    "args",
    [
        ["dags", "list"],
        ["dags", "test", "good", LOGICAL_DATE],
        ["db", "migrate"],
        ["db", "clean", "--clean-before-timestamp", LOGICAL_DATE, "--yes"],
    ],
    ids=" ".join,
)
def test_a_dead_metastore_is_one_line_naming_host_and_port_without_the_password(
    tmp_path: Path,
    args: list[str],
) -> None:
    cli = Cli(home=tmp_path, dags_folder=_dag_folder(tmp_path, broken=False), database_url=DEAD_URL)

    result = cli(*args, timeout=60)

    assert result.returncode == 1, result
    assert result.stderr.splitlines() == [result.error_line]
    assert "127.0.0.1:1" in result.error_line
    assert "secret" not in result.stderr + result.stdout
    assert list(tmp_path.glob("*.db")) == [], "no SQLite metastore was made instead"


def _tables(settings: Settings) -> list[str]:
    engine = create_engine_from_settings(settings)
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_db_check_says_an_empty_database_is_not_migrated_and_db_migrate_twice_succeeds(
    fresh_pg_url: str,
    tmp_path: Path,
) -> None:
    cli = Cli(home=tmp_path, dags_folder=tmp_path / "dags", database_url=fresh_pg_url)

    check = cli("db", "check")
    assert check.returncode == 1, check
    assert re.search(r"not migrated.*tradewind db migrate", check.error_line)
    assert _tables(cli.settings()) == [], "db check creates nothing"

    for _ in range(2):
        migrated = cli("db", "migrate")
        assert migrated.returncode == 0, migrated
        assert migrated.stdout.strip() == head_revision()

    check = cli("db", "check")
    assert check.returncode == 0, check
    assert check.stdout.strip().endswith(f"is reachable and at revision {head_revision()} (head)")
