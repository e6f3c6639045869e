"""The DAGs list in a real browser at 1280 px, the width of a small laptop: nothing runs off the
page, and every DAG's Trigger button shows whole and takes the click.

No cluster is needed: the pages come from the webserver's Flask app over a SQLite metastore, handed
to headless Chromium through Playwright's request routing (nothing listens on a port). The DAGs
are the awkward ones a real list has: long ids without a space, many tags, a long description, a
run with a task instance in every state. The page is saved as a screenshot for a person to look at.
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

from tradewind import DAG, BashOperator
from tradewind.master.webserver.app import create_app
from tradewind.master.webserver.db import dispose, metastore
from tradewind.metastore import users
from tradewind.metastore.engine import session_scope
from tradewind.metastore.migrate import migrate
from tradewind.metastore.models import DagModel
from tradewind.settings import Settings
from tradewind.states import TaskInstanceState

pytestmark = pytest.mark.e2e

#: Beside the browser story's screenshots (its fixture empties that folder, so this test does not use it).
SCREENSHOT = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots" / "dags-list-1280px.png"
T0 = datetime(2024, 3, 1, tzinfo=UTC)
LONG_IDS = (
    "example_dynamic_task_mapping_with_no_taskflow_operators",
    "warehouse_nightly_reconciliation_of_customer_orders_and_invoices_v2",
    "etl",
)

#: For each Trigger button: whether it lies inside the viewport and is what a click there hits.
TRIGGER_GEOMETRY_JS = """() => [...document.querySelectorAll('td.actions a.button')].map((button) => {
  const box = button.getBoundingClientRect();
  const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return {
    label: button.title,
    inside: box.left >= 0 && box.right <= window.innerWidth,
    clickable: hit !== null && (hit === button || button.contains(hit)),
  };
})"""


def _dag(dag_id: str) -> DAG:
    tags = ["finance", "nightly", "reconciliation", "customers", "critical", "team-data-platform"]
    with DAG(
        dag_id,
        schedule="0 3 * * *",
        start_date=T0,
        tags=tags,
        description="Reconciles every order with its invoice and payment, and reports what differs " * 2,
        default_args={"owner": "data-platform-team"},
    ) as dag:
        for state in TaskInstanceState:
            BashOperator(task_id=f"task_{state.value}", bash_command="true")
    return dag


@pytest.fixture(scope="module")
def logged_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    settings = Settings(home=tmp_path_factory.mktemp("layout-home"), secret_key=SECRET_KEY)
    migrate(settings)
    app = create_app(settings)
    app.config["TESTING"] = True
    with session_scope(metastore(app).factory) as session:
        users.create_user(session, "op", "op-password", "Op", hash_method=FAST_HASH)
        for dag_id in LONG_IDS:
            store_dag(session, _dag(dag_id))
            states = {f"task_{state.value}": state.value for state in TaskInstanceState}
            store_run(session, dag_id, "scheduled__1", "running", logical_date=T0, task_states=states)
        session.execute(
            sa.update(DagModel).values(
                next_dagrun_data_interval_start=T0,
                next_dagrun_data_interval_end=T0 + timedelta(days=1),
                next_dagrun_create_after=T0 + timedelta(days=1),
            )
        )
    client = app.test_client()
    assert login(client, "op", "op-password").status_code == 302
    csrf_token(client)
    yield client
    dispose(app)


def test_the_dags_list_fits_1280_px_and_every_trigger_button_takes_the_click(browser: Any, logged_in: FlaskClient):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.route(f"{ORIGIN}/**", serve_from(logged_in))
        page.goto(f"{ORIGIN}/")
        assert page.locator("td.actions a.button").count() == len(LONG_IDS)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the window"
        buttons = page.evaluate(TRIGGER_GEOMETRY_JS)
        assert [b for b in buttons if not (b["inside"] and b["clickable"])] == []
    finally:
        page.close()
