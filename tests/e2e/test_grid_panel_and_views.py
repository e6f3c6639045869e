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
from flask_routing import ORIGIN, serve_from
from web_helpers import FAST_HASH, SECRET_KEY, csrf_token, login, store_dag, store_run

from tradewind import DAG, BashOperator, TaskGroup
from tradewind.master.webserver.app import create_app
from tradewind.master.webserver.db import dispose, metastore
from tradewind.metastore import users
from tradewind.metastore.engine import session_scope
from tradewind.metastore.migrate import migrate
from tradewind.metastore.models import TaskInstance
from tradewind.sdk.operators.trigger_dagrun import TriggerDagRunOperator
from tradewind.sdk.params import Param
from tradewind.sdk.sensors.external_task import ExternalTaskSensor
from tradewind.settings import Settings

pytestmark = pytest.mark.e2e

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
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    settings = Settings(home=tmp_path_factory.mktemp("grid-home"), secret_key=SECRET_KEY)
    migrate(settings)
    app = create_app(settings)
    app.config["TESTING"] = True
    with session_scope(metastore(app).factory) as session:
        users.create_user(session, "op", "op-password", "Op", hash_method=FAST_HASH)
        users.create_user(session, "admin", "admin-password", "Admin", hash_method=FAST_HASH)
        store_dag(session, _dag())
        store_dag(session, _kicker())
        store_dag(session, _with_params())
        for night in range(4):
            logical = T0 + timedelta(days=night)
            state = "failed" if night == 2 else "success"
            run_id = f"scheduled__{night}"
            store_run(session, DAG_ID, run_id, state, logical_date=logical, task_states=dict.fromkeys(TASKS, state))
            ended = logical + timedelta(minutes=1)
            session.execute(
                sa.update(TaskInstance)
                .where(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run_id)
                .values(duration=30.0 + 10 * night, try_number=1, start_date=logical, end_date=ended)
            )
    yield app
    dispose(app)


def _client(app: Any, username: str, password: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username, password).status_code == 302
    csrf_token(client)
    return client


@pytest.fixture(scope="module")
def logged_in(app: Any) -> FlaskClient:
    return _client(app, "op", "op-password")


@pytest.fixture(scope="module")
def admin_in(app: Any) -> FlaskClient:
    return _client(app, "admin", "admin-password")


def _kicker() -> DAG:
    with DAG("orders_kicker", schedule=None, start_date=T0) as dag:
        TriggerDagRunOperator(task_id="kick", trigger_dag_id=DAG_ID)
        ExternalTaskSensor(task_id="wait_billing", external_dag_id="billing", external_task_id="load")
    return dag


def _with_params() -> DAG:
    params = {
        "rows": Param(10, type="integer", minimum=1, title="Rows to load"),
        "env": Param("dev", enum=["dev", "prod"], values_display={"prod": "Production"}),
        "full": Param(False, type="boolean", description="Reload everything"),
    }
    with DAG("with_params", schedule=None, start_date=T0, params=params) as dag:
        BashOperator(task_id="t", bash_command="true")
    return dag


@pytest.fixture
def page(browser: Any, logged_in: FlaskClient) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.route(f"{ORIGIN}/**", serve_from(logged_in))
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
        phone.route(f"{ORIGIN}/**", serve_from(logged_in))
        phone.goto(f"{ORIGIN}{path}")
        overflow = phone.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow} px wider than a phone's screen"
        name = "phone-dags-list.png" if path == "/" else "phone-grid.png"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=str(SCREENSHOTS / name), full_page=True)
    finally:
        phone.close()


def test_the_trigger_form_names_every_wrong_field_then_triggers(page: Any) -> None:
    page.goto(f"{ORIGIN}/dags/with_params/trigger")
    assert page.get_by_label("Rows to load").input_value() == "10"
    assert page.locator("#field-env option:checked").inner_text() == "dev"
    page.get_by_label("Rows to load").fill("0")
    page.screenshot(path=str(SCREENSHOTS / "trigger-form.png"), full_page=True)
    page.evaluate("() => document.querySelector('form.trigger').noValidate = true")
    page.get_by_role("button", name="Trigger").click()
    page.locator(".field-error").first.wait_for(timeout=10_000)
    assert "less than the minimum of 1" in page.locator('[data-param="rows"] .field-error').inner_text()
    page.get_by_label("Rows to load").fill("5")
    page.locator("#field-env").select_option(label="Production")
    page.get_by_role("button", name="Trigger").click()
    page.wait_for_url(f"{ORIGIN}/dags/with_params/grid", timeout=10_000)
    assert "triggered with_params" in page.locator(".flash").inner_text()


def test_runs_list_bulk_marks_ticked_runs_after_a_confirmation(page: Any) -> None:
    page.goto(f"{ORIGIN}/runs?dag_id={DAG_ID}")
    page.locator('tr[data-run-id="scheduled__0"] input[type=checkbox]').check()
    page.locator('select[name="action"]').select_option("failed")
    page.get_by_role("button", name="Go…").click()
    assert "Set state to failed: 1 run(s)" in page.locator("h1").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "runs-bulk-confirm.png"), full_page=True)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{ORIGIN}/runs?dag_id={DAG_ID}", timeout=10_000)
    assert "marked failed 1 run(s)" in page.locator(".flash").inner_text()
    assert page.locator('tr[data-run-id="scheduled__0"] .state-badge').inner_text() == "failed"


def test_task_instances_list_filters_by_state(page: Any) -> None:
    page.goto(f"{ORIGIN}/task-instances?dag_id={DAG_ID}&state=failed")
    rows = page.locator("tr.ti-row")
    assert rows.count() >= 4 and all(s == "failed" for s in page.locator("tr.ti-row .state-badge").all_inner_texts())
    page.screenshot(path=str(SCREENSHOTS / "task-instances.png"), full_page=True)


def test_dag_dependencies_are_drawn_as_a_graph(page: Any) -> None:
    page.goto(f"{ORIGIN}/dag-dependencies")
    page.wait_for_selector('#dependencies-graph[data-layout="done"]', timeout=10_000)
    nodes = page.locator("#dependencies-graph g.dependency-node")
    assert sorted(n.get_attribute("data-dag-id") for n in nodes.all()) == ["billing", "orders_kicker", DAG_ID]
    assert page.locator("#dependencies-graph path.dependency-edge").count() == 2
    assert "not-loaded" in (page.locator('g.dependency-node[data-dag-id="billing"]').get_attribute("class") or "")
    page.screenshot(path=str(SCREENSHOTS / "dag-dependencies.png"), full_page=True)


def test_the_connection_form_follows_the_chosen_type(browser: Any, admin_in: FlaskClient) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.route(f"{ORIGIN}/**", serve_from(admin_in))
        page.goto(f"{ORIGIN}/connections")
        page.locator('select[name="conn_type"]').select_option("sqlite")
        assert page.locator('label[data-field="login"]').is_hidden()
        assert page.locator('label[data-field="host"] .field-label').inner_text() == "Database file path"
        page.locator('select[name="conn_type"]').select_option("postgres")
        assert page.locator('label[data-field="login"]').is_visible()
        assert page.locator('label[data-field="schema"] .field-label').inner_text() == "Database"
        page.screenshot(path=str(SCREENSHOTS / "connection-form.png"), full_page=True)
    finally:
        page.close()


def test_only_one_top_bar_menu_is_open_at_a_time(browser: Any, admin_in: FlaskClient) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.route(f"{ORIGIN}/**", serve_from(admin_in))
        page.goto(f"{ORIGIN}/")
        page.locator("details.menu summary", has_text="Browse").click()
        page.locator("details.menu summary", has_text="Admin").click()
        open_menus = page.evaluate(
            "() => [...document.querySelectorAll('details.menu[open] summary')].map(s => s.textContent)"
        )
        assert open_menus == ["Admin"]
    finally:
        page.close()
