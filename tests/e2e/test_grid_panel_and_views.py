"""The grid's side panel, its keyboard moves, the history charts and narrow screens, in a real
browser (Debian's Chromium through Playwright).

As in the DAGs-list layout test, no cluster is needed: the webserver's Flask app over a SQLite
metastore answers the browser through Playwright's request routing. What a user sees is asserted,
and each page is saved as a screenshot for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from web_helpers import FAST_HASH, SECRET_KEY, csrf_token, login, store_dag, store_run

from tradewind import DAG, BashOperator, TaskGroup
from tradewind.master.webserver.app import create_app
from tradewind.master.webserver.db import dispose, metastore
from tradewind.metastore import users
from tradewind.metastore.engine import session_scope
from tradewind.metastore.migrate import migrate
from tradewind.metastore.models import TaskInstance
from tradewind.settings import Settings

pytestmark = pytest.mark.e2e

ORIGIN = "http://tradewind.test"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
T0 = datetime(2024, 3, 1, tzinfo=UTC)
DAG_ID = "orders_nightly"
TASKS = ("extract", "transform.clean", "transform.enrich", "load")


def _dag() -> DAG:
    with DAG(DAG_ID, schedule="@daily", start_date=T0, doc_md="Loads **orders**.", tags=["finance"]) as dag:
        extract = BashOperator(task_id="extract", bash_command="echo extract")
        with TaskGroup("transform") as transform:
            BashOperator(task_id="clean", bash_command="true") >> BashOperator(task_id="enrich", bash_command="true")
        extract >> transform >> BashOperator(task_id="load", bash_command="true")
    return dag


@pytest.fixture(scope="module")
def logged_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    settings = Settings(home=tmp_path_factory.mktemp("grid-home"), secret_key=SECRET_KEY)
    migrate(settings)
    app = create_app(settings)
    app.config["TESTING"] = True
    with session_scope(metastore(app).factory) as session:
        users.create_user(session, "op", "op-password", "Op", hash_method=FAST_HASH)
        store_dag(session, _dag())
        for night in range(4):
            logical = T0 + timedelta(days=night)
            state = "failed" if night == 2 else "success"
            store_run(
                session,
                DAG_ID,
                f"scheduled__{night}",
                state,
                logical_date=logical,
                task_states=dict.fromkeys(TASKS, state),
            )
            session.execute(
                sa.update(TaskInstance)
                .where(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == f"scheduled__{night}")
                .values(
                    duration=30.0 + 10 * night,
                    try_number=1,
                    start_date=logical,
                    end_date=logical + timedelta(minutes=1),
                )
            )
    client = app.test_client()
    assert login(client, "op", "op-password").status_code == 302
    csrf_token(client)
    yield client
    dispose(app)


def _serve(client: FlaskClient) -> Any:
    def handle(route: Any) -> None:
        answer = client.get(route.request.url.removeprefix(ORIGIN))
        route.fulfill(status=answer.status_code, headers=dict(answer.headers), body=answer.get_data())

    return handle


@pytest.fixture
def page(browser: Any, logged_in: FlaskClient) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.route(f"{ORIGIN}/**", _serve(logged_in))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield page
    page.close()


def test_a_box_a_run_and_a_group_open_in_the_side_panel_without_leaving_the_grid(page: Any) -> None:
    page.goto(f"{ORIGIN}/dags/{DAG_ID}/grid")
    grid_url = page.url
    page.locator('tr[data-row-id="extract"] a.box').nth(2).click()
    panel = page.locator("#grid-details")
    panel.locator(".ti-panel").wait_for(timeout=10_000)
    assert "Task instance" in panel.locator("h2").inner_text() and "scheduled__2" in panel.inner_text()
    assert page.url == grid_url, "the grid stays where it was"
    page.screenshot(path=str(SCREENSHOTS / "grid-task-panel.png"), full_page=True)

    page.locator('th.run-col[data-run-id="scheduled__1"] a.run-bar').click()
    panel.locator(".run-details").wait_for(timeout=10_000)
    assert "Run scheduled__1" in panel.locator("h2").inner_text()

    page.locator('tr[data-row-id="transform"] span.box').nth(0).click()
    assert panel.locator(".group-actions a").all_inner_texts() == [
        "Clear task group",
        "Mark group success",
        "Mark group failed",
    ]
    href = panel.locator(".group-actions a").first.get_attribute("href")
    assert href == f"/dags/{DAG_ID}/clear?run_id=scheduled__0&group_id=transform"

    page.keyboard.press("Escape")
    assert panel.is_hidden()


def test_arrow_keys_move_between_boxes_and_enter_opens_one(page: Any) -> None:
    page.goto(f"{ORIGIN}/dags/{DAG_ID}/grid")
    page.locator('tr[data-row-id="extract"] a.box').nth(0).focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    focused = page.evaluate(
        "() => [document.activeElement.closest('tr').dataset.rowId, "
        "[...document.activeElement.closest('tr').querySelectorAll('td.cell')]"
        ".indexOf(document.activeElement.closest('td'))]"
    )
    assert focused == ["transform", 1]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.locator("#grid-details .ti-panel").wait_for(timeout=10_000)
    assert "transform.clean" in page.locator("#grid-details h2").inner_text()


def test_a_collapsed_group_stays_collapsed_after_a_reload(page: Any) -> None:
    page.goto(f"{ORIGIN}/dags/{DAG_ID}/grid")
    page.locator('button.group-toggle[data-group="transform"]').click()
    assert page.locator('tr[data-row-id="transform.clean"]').is_hidden()
    page.reload()
    assert page.locator('tr[data-row-id="transform.clean"]').is_hidden()
    page.locator('button.group-toggle[data-group="transform"]').click()
    assert page.locator('tr[data-row-id="transform.clean"]').is_visible()


def test_find_task_keeps_only_the_matching_rows_and_their_groups(page: Any) -> None:
    page.goto(f"{ORIGIN}/dags/{DAG_ID}/grid")
    page.locator("#grid-task-search").fill("enri")
    visible = [row for row in page.locator("tbody tr.grid-row").all() if row.is_visible()]
    assert [row.get_attribute("data-row-id") for row in visible] == ["transform", "transform.enrich"]


def test_the_history_charts_are_drawn_and_the_calendar_coloured(page: Any) -> None:
    page.goto(f"{ORIGIN}/dags/{DAG_ID}/duration")
    page.locator("#task-chart canvas").wait_for(timeout=10_000)
    assert page.locator("#task-chart").get_attribute("data-drawn") == "4", "one line per task"
    assert "extract" in page.locator("#task-chart .u-legend").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "task-duration.png"), full_page=True)
    page.goto(f"{ORIGIN}/dags/{DAG_ID}/calendar?year=2024")
    assert page.locator('td.day[data-date="2024-03-03"]').get_attribute("class") == "day state-failed"
    page.screenshot(path=str(SCREENSHOTS / "calendar.png"), full_page=True)


@pytest.mark.parametrize("path", ["/", f"/dags/{DAG_ID}/grid"])
def test_the_dags_list_and_the_grid_are_readable_on_a_phone(browser: Any, logged_in: FlaskClient, path: str) -> None:
    phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    try:
        phone.route(f"{ORIGIN}/**", _serve(logged_in))
        phone.goto(f"{ORIGIN}{path}")
        overflow = phone.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow} px wider than a phone's screen"
        name = "phone-dags-list.png" if path == "/" else "phone-grid.png"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=str(SCREENSHOTS / name), full_page=True)
    finally:
        phone.close()
