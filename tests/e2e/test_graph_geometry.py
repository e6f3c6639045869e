"""The graph page in a real browser: every task node lies inside exactly the boxes of its own task
groups (a nested group inside its parent), and no two nodes or group labels overlap — for every
example DAG and for a generated 500-task DAG with nested groups. Then what a person does with a big
graph: groups start collapsed, a click on a header opens one, the choice survives a reload, the
search opens the groups around a task and centres it, fit shows the whole graph.

No cluster is needed: the pages come from the webserver's Flask app over a SQLite metastore, handed
to headless Chromium through Playwright's request routing, as ``test_dags_list_layout`` does. The
DAGs come from their files, parsed as the dag processor parses them. Each graph is saved as a
screenshot for a person to look at.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from flask_routing import ORIGIN, serve_from
from web_helpers import FAST_HASH, SECRET_KEY, csrf_token, login, store_dag, store_run

from tradewind.master.webserver.app import create_app
from tradewind.master.webserver.db import dispose, metastore
from tradewind.metastore import users
from tradewind.metastore.engine import session_scope
from tradewind.metastore.migrate import migrate
from tradewind.sdk import plugins
from tradewind.sdk.dag import DAG
from tradewind.sdk.dag_file import load_dag_file
from tradewind.settings import Settings

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "dags"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
T0 = datetime(2024, 3, 1, tzinfo=UTC)
BIG_DAG = "graph_big_nested"
LAYOUT_TIMEOUT_MS = 60_000

#: 500 tasks: a start and an end, 8 regions each holding a chain of 3 nested stages that fan out
#: and join (the middle one nests a group of checks), and loose tasks beside them.
BIG_DAG_FILE = """
from datetime import datetime

from airflow import DAG
from airflow.operators.empty import EmptyOperator
from airflow.utils.task_group import TaskGroup

with DAG("graph_big_nested", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    start = EmptyOperator(task_id="start")
    end = EmptyOperator(task_id="end")
    made = 2
    for g in range(8):
        with TaskGroup(f"region_{g}") as region:
            head = EmptyOperator(task_id="extract")
            start >> head
            made += 1
            previous = head
            for s in range(3):
                with TaskGroup(f"stage_{s}"):
                    fan = [EmptyOperator(task_id=f"part_{i:02d}") for i in range(16)]
                    made += 16
                    previous >> fan
                    join = EmptyOperator(task_id="join")
                    made += 1
                    fan >> join
                    if s == 1:
                        with TaskGroup("checks"):
                            checks = [EmptyOperator(task_id=f"check_{i}") for i in range(6)]
                            made += 6
                            join >> checks
                    previous = join
            previous >> end
    while made < 500:
        loose = EmptyOperator(task_id=f"loose_{made:03d}")
        start >> loose >> end
        made += 1
"""

#: Every drawn task node and group (box and label) in page pixels, from what the browser rendered.
GEOMETRY_JS = """() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  return {
    tasks: [...document.querySelectorAll('svg#graph g.node-group')].map((g) => ({
      id: g.dataset.taskId, box: box(g.querySelector('rect.node')) })),
    groups: [...document.querySelectorAll('svg#graph g.task-group')].map((g) => ({
      id: g.dataset.group, collapsed: g.classList.contains('collapsed'),
      box: box(g.querySelector('rect.group-box')), label: box(g.querySelector('text.group-label')) })),
  };
}"""

#: Every edge that passes through the box of a task it does not join, sampled every 2 px.
EDGES_THROUGH_NODES_JS = """() => [...document.querySelectorAll('svg#graph path.edge')].flatMap((edge) => {
  const length = edge.getTotalLength();
  const ends = [edge.dataset.source.slice(2), edge.dataset.target.slice(2)];
  const others = [...document.querySelectorAll('svg#graph g.node-group')]
    .filter((g) => !ends.includes(g.dataset.taskId));
  return others.filter((g) => {
    const r = g.querySelector('rect.node').getBBox();
    for (let at = 0; at <= length; at += 2) {
      const p = edge.getPointAtLength(at);
      if (p.x > r.x + 1 && p.x < r.x + r.width - 1 && p.y > r.y + 1 && p.y < r.y + r.height - 1) return true;
    }
    return false;
  }).map((g) => ends.join(' -> ') + ' through ' + g.dataset.taskId);
})"""


def _write_big_dag(folder: Path) -> DAG:
    path = folder / "graph_big_nested.py"
    path.write_text(BIG_DAG_FILE)
    return _parse(path)[0]


def _parse(path: Path) -> list[DAG]:
    result = load_dag_file(path, dags_folder=path.parent)
    assert result.error is None, result.error
    return result.dags


def _example_dags() -> list[DAG]:
    return [dag for path in sorted(EXAMPLES.glob("example_*.py")) for dag in _parse(path)]


def _groups_of(dag: DAG) -> dict[str, list[str]]:
    """task id -> the ids of the groups holding it, outermost first, read from the DAG itself."""
    found: dict[str, list[str]] = {}
    for task in dag.tasks:
        chain: list[str] = []
        group = task.task_group
        while group is not None and group.group_id is not None:
            chain.insert(0, group.group_id)
            group = group.parent_group
        found[task.task_id] = chain
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FlaskClient, dict[str, DAG]]]:
    home = tmp_path_factory.mktemp("graph-home")
    dags_folder = home / "dags"
    dags_folder.mkdir()
    settings = Settings(home=home, secret_key=SECRET_KEY)
    migrate(settings)
    app = create_app(settings)
    app.config["TESTING"] = True
    plugins.configure(EXAMPLES.parent / "plugins")  # example_plugin_timetable's timetable
    parsed = {dag.dag_id: dag for dag in [*_example_dags(), _write_big_dag(dags_folder)]}
    with session_scope(metastore(app).factory) as session:
        users.create_user(session, "viewer", "viewer-password", "Viewer", hash_method=FAST_HASH)
        for dag in parsed.values():
            store_dag(session, dag)
        store_run(
            session,
            "example_dynamic_task_mapping",
            "manual__1",
            "running",
            logical_date=T0,
            task_states={task.task_id: "success" for task in parsed["example_dynamic_task_mapping"].tasks},
        )
    client = app.test_client()
    assert login(client, "viewer", "viewer-password").status_code == 302
    csrf_token(client)
    yield client, parsed
    dispose(app)
    plugins.reset()


@pytest.fixture
def page(browser: Any, site: tuple[FlaskClient, dict[str, DAG]]) -> Iterator[Any]:
    client, _ = site
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    opened.route(f"{ORIGIN}/**", serve_from(client))
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    yield opened
    context.close()
    assert errors == [], errors


def _open_graph(page: Any, dag_id: str) -> None:
    page.goto(f"{ORIGIN}/dags/{dag_id}/graph")
    _wait_for_layout(page, 1)


def _wait_for_layout(page: Any, count: int) -> None:
    page.wait_for_selector(f'svg#graph[data-layout="done"][data-layouts="{count}"]', timeout=LAYOUT_TIMEOUT_MS)


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(inner: list[float], outer: list[float]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def assert_geometry(page: Any, dag: DAG) -> dict[str, Any]:
    """Every drawn task inside exactly its own groups' boxes, nothing overlapping; returns what was drawn."""
    drawn = page.evaluate(GEOMETRY_JS)
    groups_of = _groups_of(dag)
    open_boxes = {g["id"]: g["box"] for g in drawn["groups"] if not g["collapsed"]}
    for task in drawn["tasks"]:
        holding = {group_id for group_id, box in open_boxes.items() if _inside(task["box"], box)}
        assert holding == set(groups_of[task["id"]]), f"{task['id']} lies inside {sorted(holding)}"
        crossed = {group_id for group_id, box in open_boxes.items() if _overlap(task["box"], box)} - holding
        assert not crossed, f"{task['id']} crosses the box of {sorted(crossed)}"
    for group in drawn["groups"]:
        parent = group["id"].rpartition(".")[0]
        if parent in open_boxes:
            assert _inside(group["box"], open_boxes[parent]), f"group {group['id']} spills out of {parent}"
    solid = [(f"task {t['id']}", t["box"]) for t in drawn["tasks"]]
    for group in drawn["groups"]:
        if group["collapsed"]:  # drawn as one node, its label written on it
            assert _inside(group["label"], group["box"]), f"the label of {group['id']} spills out of its node"
            solid.append((f"collapsed group {group['id']}", group["box"]))
        else:
            solid.append((f"label of {group['id']}", group["label"]))
    for (name_a, a), (name_b, b) in itertools.combinations(sorted(solid, key=lambda item: item[1][0]), 2):
        if b[0] < a[2]:  # sorted by left edge: only these can overlap
            assert not _overlap(a, b), f"{name_a} overlaps {name_b}"
    return drawn


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("svg#graph").screenshot(path=str(SCREENSHOTS / f"graph-{name}.png"))


def test_every_example_graph_encloses_each_task_in_exactly_its_groups(page: Any, site: Any) -> None:
    _, parsed = site
    examples = sorted(dag_id for dag_id in parsed if dag_id != BIG_DAG)
    assert "example_dynamic_task_mapping" in examples and "example_task_groups" in examples
    for dag_id in examples:
        _open_graph(page, dag_id)
        drawn = assert_geometry(page, parsed[dag_id])
        assert sorted(t["id"] for t in drawn["tasks"]) == sorted(t.task_id for t in parsed[dag_id].tasks), dag_id
        _shot(page, dag_id)


def test_the_mapped_group_holds_only_its_own_tasks_and_no_edge_runs_through_a_node(page: Any, site: Any) -> None:
    _open_graph(page, "example_dynamic_task_mapping")
    per_city = page.locator('svg#graph g.task-group[data-group="per_city"]')
    assert per_city.count() == 1
    # The edge from make_nothing goes to handle_nothing, and it crosses no other task's box.
    crossings = page.evaluate(EDGES_THROUGH_NODES_JS)
    assert crossings == []
    edges = page.locator("svg#graph path.edge").evaluate_all(
        "(es) => es.map((e) => e.dataset.source.slice(2) + ' -> ' + e.dataset.target.slice(2))"
    )
    assert "make_nothing -> handle_nothing" in edges and "make_nothing -> add_one" not in edges
    page.locator('svg#graph g.node-group[data-task-id="per_city.measure"]').click()
    page.wait_for_url("**/runs/manual__1/tasks/per_city.measure")


def test_a_500_task_graph_starts_with_big_groups_collapsed_and_opens_them_whole(page: Any, site: Any) -> None:
    _, parsed = site
    big = parsed[BIG_DAG]
    assert len(big.tasks) == 500
    _open_graph(page, BIG_DAG)
    drawn = assert_geometry(page, big)
    regions = {g["id"]: g["collapsed"] for g in drawn["groups"]}
    assert regions == {f"region_{g}": True for g in range(8)}, regions
    _shot(page, "500-collapsed")

    # Opening one region by its header shows its stages (small enough to start open) and their tasks.
    page.locator('svg#graph g.task-group[data-group="region_2"] g.group-header').click()
    _wait_for_layout(page, 2)
    drawn = assert_geometry(page, big)
    assert sum(1 for t in drawn["tasks"] if t["id"].startswith("region_2.stage_1.checks.")) == 6

    # The choice is kept for this DAG in the browser: a reload shows region_2 open, the others closed.
    _open_graph(page, BIG_DAG)
    collapsed = page.locator("svg#graph g.task-group.collapsed").evaluate_all("(gs) => gs.map((g) => g.dataset.group)")
    assert sorted(collapsed) == [f"region_{g}" for g in range(8) if g != 2]

    # Everything open: 500 nodes, each inside exactly its groups, nested groups inside their parents.
    page.get_by_role("button", name="Expand all groups").click()
    _wait_for_layout(page, 2)
    drawn = assert_geometry(page, big)
    assert len(drawn["tasks"]) == 500 and len(drawn["groups"]) == 8 * (1 + 3 + 1)
    page.get_by_role("button", name="Fit").click()
    _shot(page, "500-expanded")


def test_finding_a_task_opens_its_groups_and_centres_it(page: Any, site: Any) -> None:
    _open_graph(page, BIG_DAG)
    page.get_by_placeholder("Find a task").fill("region_4.stage_1.checks.check_3")
    page.get_by_role("button", name="Find").click()
    _wait_for_layout(page, 2)
    found = page.locator('svg#graph g.node-group.found[data-task-id="region_4.stage_1.checks.check_3"]')
    found.wait_for()
    frame = page.locator("svg#graph").bounding_box()
    box = found.locator("rect.node").bounding_box()
    assert abs(box["x"] + box["width"] / 2 - (frame["x"] + frame["width"] / 2)) < 2
    assert abs(box["y"] + box["height"] / 2 - (frame["y"] + frame["height"] / 2)) < 2
    _shot(page, "500-found")

    page.get_by_placeholder("Find a task").fill("no_such_task")
    page.get_by_role("button", name="Find").click()
    assert page.locator("#graph-search .search-message").inner_text() == "No task matches “no_such_task”."

    # Fit brings the whole graph into the frame.
    page.get_by_role("button", name="Fit").click()
    frame = page.locator("svg#graph").bounding_box()
    drawn = page.locator("svg#graph g.viewport").bounding_box()
    assert drawn["width"] <= frame["width"] + 1 and drawn["height"] <= frame["height"] + 1
    assert frame["x"] <= drawn["x"] and drawn["x"] + drawn["width"] <= frame["x"] + frame["width"] + 1


def test_setups_and_teardowns_are_marked_and_their_link_dashed(page: Any) -> None:
    _open_graph(page, "example_setup_teardown")
    labels = page.locator("svg#graph text.node-label").all_text_contents()
    assert sorted(label for label in labels if label[0] in "▲▼") == [
        "▲ create_cluster",
        "▲ open_tunnel",
        "▼ close_tunnel",
        "▼ delete_cluster",
    ]
    dashed = page.locator("svg#graph path.edge.setup-teardown").evaluate_all(
        "(es) => es.map((e) => e.dataset.source.slice(2) + ' -> ' + e.dataset.target.slice(2))"
    )
    assert sorted(dashed) == ["create_cluster -> delete_cluster", "open_tunnel -> close_tunnel"]
    assert page.locator("svg#graph path.edge.setup-teardown").first.evaluate(
        "(e) => getComputedStyle(e).strokeDasharray"
    ) not in ("", "none")
