"""The mistakes and attacks of findings 7 and 8, each answered with a 4xx that says what is wrong
and nothing written: run ids Airflow would not allow, run ids and pool names too long for their
column (alike on SQLite and PostgreSQL), logical dates no task could compute with, a conf nested
100,000 levels deep, and numbers and dates out of range in the pages' query strings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import Cli
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from web_helpers import T0, basic_auth, csrf_token, make_dag, store_dag

from tradewind.errors import InvalidInput, InvalidRunId
from tradewind.metastore import pools, runs

pytestmark = pytest.mark.integration

pytest_plugins = ["web_fixtures"]

DAG_ID = "etl_daily"
DEEP = 100_000


@pytest.fixture
def one_dag(web_db: Session) -> str:
    store_dag(web_db, make_dag(DAG_ID))
    web_db.commit()
    return DAG_ID


def _runs(web_db: Session) -> list[str]:
    web_db.expire_all()
    return [run.run_id for run in runs.list_runs(web_db, DAG_ID)]


def _trigger_api(web_app: Flask, body: object) -> object:
    return web_app.test_client().post(f"/api/v1/dags/{DAG_ID}/dagRuns", json=body, auth=basic_auth("Op"))


# --- run ids -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("run_id", ["team/a", "has space", "tab\there", "..", "ünïcode", "a?b", "a#b"])
def test_the_api_refuses_a_run_id_airflow_would_not_allow(
    run_id: str, web_app: Flask, web_db: Session, one_dag: str
) -> None:
    response = _trigger_api(web_app, {"dag_run_id": run_id})
    assert response.status_code == 400, response.text
    assert "may hold only letters, digits and _ . ~ : + -" in response.get_json()["detail"]
    assert _runs(web_db) == []


def test_the_api_accepts_every_character_airflow_allows(web_app: Flask, web_db: Session, one_dag: str) -> None:
    response = _trigger_api(web_app, {"dag_run_id": "Team_A.run~1:2+3-4"})
    assert response.status_code == 200, response.text
    assert _runs(web_db) == ["Team_A.run~1:2+3-4"]


def test_the_trigger_form_refuses_a_run_id_with_a_slash_and_keeps_what_was_typed(
    client_as, web_db: Session, one_dag: str
) -> None:  # type: ignore[no-untyped-def]
    client: FlaskClient = client_as("Op")
    response = client.post(
        f"/dags/{DAG_ID}/trigger", data={"csrf_token": csrf_token(client), "run_id": "team/a", "conf": '{"n": 1}'}
    )
    assert response.status_code == 400
    assert "may hold only letters, digits and _ . ~ : + -" in response.text
    assert 'value="team/a"' in response.text and "&#34;n&#34;: 1" in response.text
    assert _runs(web_db) == []


def _hello_cli(tmp_path: Path) -> Cli:
    """The command line over an SQLite metastore, with one DAG file, ``hello``."""
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    (dags_folder / "hello.py").write_text(
        "from datetime import datetime, timezone\nfrom tradewind import DAG, BashOperator\n"
        "with DAG('hello', schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):\n"
        "    BashOperator(task_id='greet', bash_command='echo hi')\n"
    )
    cli = Cli(tmp_path, dags_folder)
    # `dags trigger` reads the metastore only: the new file is parsed first, as a user does.
    assert cli("dags", "reserialize").returncode == 0
    return cli


def test_dags_trigger_on_the_command_line_refuses_a_run_id_with_a_slash(tmp_path: Path) -> None:
    cli = _hello_cli(tmp_path)
    result = cli("dags", "trigger", "hello", "-r", "team/a")
    assert result.returncode == 1, result
    assert "run id 'team/a' may hold only letters, digits and _ . ~ : + -" in result.error_line
    assert cli("dags", "list-runs", "-d", "hello", "-o", "json").json() == []


def test_an_over_length_run_id_is_a_400_that_says_how_long_it_may_be(
    web_app: Flask, web_db: Session, one_dag: str
) -> None:
    response = _trigger_api(web_app, {"dag_run_id": "r" * 251})
    assert response.status_code == 400
    assert response.get_json()["detail"] == "run_id is 251 characters long; at most 250 fit"
    assert _runs(web_db) == []


def test_run_id_and_pool_limits_hold_alike_on_sqlite_and_postgres(session_factory: sessionmaker[Session]) -> None:
    """PostgreSQL used to fail the statement (a 500) and SQLite to store the value silently."""
    with session_factory() as session:
        with pytest.raises(InvalidInput, match="run_id is 300 characters long; at most 250 fit"):
            runs.create_run(session, dag_id="d", run_id="r" * 300, run_type="manual", logical_date=T0)
        with pytest.raises(InvalidRunId):
            runs.create_run(session, dag_id="d", run_id="team/a", run_type="manual", logical_date=T0)
        with pytest.raises(InvalidInput, match="pool is 300 characters long; at most 256 fit"):
            pools.set_pool(session, "p" * 300, 1)
        with pytest.raises(InvalidInput, match="slots must be between"):
            pools.set_pool(session, "big", 10**25)
        assert runs.list_runs(session, "d") == [] and pools.get_pool(session, "big") is None


# --- logical dates and conf --------------------------------------------------------------------------


@pytest.mark.parametrize("logical_date", ["0001-01-01T00:00:00+00:00", "9999-12-31T00:00:00+00:00"])
def test_a_logical_date_no_task_could_compute_with_is_a_400(
    logical_date: str, web_app: Flask, web_db: Session, one_dag: str
) -> None:
    response = _trigger_api(web_app, {"logical_date": logical_date})
    assert response.status_code == 400
    assert "is out of range: it must be from 1000-01-01 to before 9000-01-01" in response.get_json()["detail"]
    assert _runs(web_db) == []


def test_a_logical_date_that_is_not_a_date_is_a_400_that_shows_the_form_expected(
    web_app: Flask, web_db: Session, one_dag: str
) -> None:
    response = _trigger_api(web_app, {"logical_date": "tomorrow"})
    assert response.status_code == 400
    assert response.get_json()["detail"] == (
        "logical_date: 'tomorrow' is not an ISO 8601 date-time such as 2024-01-01T00:00:00Z"
    )
    assert _runs(web_db) == []


def test_dags_test_refuses_a_logical_date_in_year_1(tmp_path: Path) -> None:
    result = _hello_cli(tmp_path)("dags", "test", "hello", "0001-01-01")
    assert result.returncode == 1, result
    assert "logical date 0001-01-01T00:00:00+00:00 is out of range" in result.error_line


def test_a_conf_nested_100k_levels_deep_is_a_400_in_the_api_and_the_form(
    client_as, web_app: Flask, web_db: Session, one_dag: str
) -> None:  # type: ignore[no-untyped-def]
    deep = "[" * DEEP + "]" * DEEP
    api = web_app.test_client().post(
        f"/api/v1/dags/{DAG_ID}/dagRuns",
        data='{"conf": {"a": ' + deep + "}}",
        content_type="application/json",
        auth=basic_auth("Op"),
    )
    assert api.status_code == 400
    assert api.get_json()["detail"] == "The request body nests arrays and objects more than 100 levels deep"
    client: FlaskClient = client_as("Op")
    form = client.post(
        f"/dags/{DAG_ID}/trigger", data={"csrf_token": csrf_token(client), "conf": '{"a": ' + deep + "}"}
    )
    assert form.status_code == 400 and "conf nests arrays and objects more than 100 levels deep" in form.text
    assert _runs(web_db) == []


def test_a_conf_nested_a_few_levels_is_still_fine(web_app: Flask, web_db: Session, one_dag: str) -> None:
    conf = {"a": json.loads("[" * 50 + "]" * 50)}
    assert _trigger_api(web_app, {"conf": conf}).status_code == 200


# --- numbers and dates in query strings --------------------------------------------------------------


def test_pages_with_numbers_and_dates_out_of_range_answer_400_saying_which(
    client_as, web_db: Session, one_dag: str
) -> None:  # type: ignore[no-untyped-def]
    client: FlaskClient = client_as("Admin")
    huge = "9" * 25
    run = runs.create_run(web_db, dag_id=DAG_ID, run_id="manual__x", run_type="manual", logical_date=T0,
                          task_rows=[{"task_id": "task_0"}])  # fmt: skip
    web_db.commit()
    panel = f"/dags/{DAG_ID}/runs/{run.run_id}/tasks/task_0"
    cases = {
        f"/audit-log?page={huge}": "page must be between 1 and 2147483647",
        f"/runs?page={huge}": "page must be between 1 and 2147483647",
        f"/dags/{DAG_ID}/grid?before=2024-01-01": "before must say its time zone, e.g. 2024-01-01T00:00:00+00:00",
        f"/dags/{DAG_ID}/grid/data?before=2024-01-01": "before must say its time zone",
        f"{panel}?map_index={huge}": "map_index must be between -1 and 2147483647",
        f"{panel}/log/tail?after_seq={huge}": "after_seq must be between -1 and 2147483647",
    }
    for url, message in cases.items():
        response = client.get(url)
        assert response.status_code == 400, (url, response.status_code)
        assert message in response.text, url


def test_pool_slots_too_large_are_refused_with_a_message(client_as, web_app: Flask, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    client: FlaskClient = client_as("Admin")
    page = client.post(
        "/pools", data={"csrf_token": csrf_token(client), "name": "big", "slots": "9" * 25}, follow_redirects=True
    )
    assert "slots must be between" in page.text
    api = web_app.test_client().post("/api/v1/pools", json={"name": "big", "slots": 10**25}, auth=basic_auth("Admin"))
    assert api.status_code == 400 and "slots must be between" in api.get_json()["detail"]
    long_name = web_app.test_client().post(
        "/api/v1/pools", json={"name": "p" * 300, "slots": 1}, auth=basic_auth("Admin")
    )
    assert long_name.status_code == 400
    assert long_name.get_json()["detail"] == "pool is 300 characters long; at most 256 fit"
    assert pools.get_pool(web_db, "big") is None
