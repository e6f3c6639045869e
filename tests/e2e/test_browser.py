"""The web UI in a real browser, against a real cluster: a person's story, step by step.

Headless Chromium (Debian's package) driven by Playwright logs in through the form, finds the DAG in
the list, triggers it through the trigger form, watches the grid turn green without a reload, opens
the graph and clicks a node, reads the task's log, clears the task (with its downstream, as
Airflow's clear dialog does by default) and sees it re-run with try 2, then marks one task failed
and sees its downstream become upstream_failed; last, a run started from the CLI appears on the open
grid by itself, a collapsed group staying collapsed. Each page is
saved as a full-page screenshot under ``test-artifacts/screenshots/`` (printed with ``-s``).

The DAG is ``example_task_groups``: start >> ingest(sources(from_api, from_files) >> merge)
>> publish(to_warehouse >> notify) >> end, with no schedule, so the only run is the one we trigger.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

DAG_ID = "example_task_groups"
TASKS = (
    "start",
    "ingest.sources.from_api",
    "ingest.sources.from_files",
    "ingest.merge",
    "publish.to_warehouse",
    "publish.notify",
    "end",
)

#: [row id, state] of every grid row in the column of one run, read from the boxes' classes.
GRID_COLUMN_JS = """(runId) => {
  const headers = [...document.querySelectorAll('#grid thead th.run-col')];
  const index = headers.findIndex((th) => th.dataset.runId === runId);
  if (index < 0) { return null; }
  return [...document.querySelectorAll('#grid tbody tr.grid-row')].map((tr) => {
    const box = tr.querySelectorAll('.box')[index];
    const match = box && box.className.match(/\\bstate-([a-z_]+)/);
    return [tr.dataset.rowId, match ? match[1] : null];
  });
}"""


class Story:
    """The page, its screenshots and the waits the story shares."""

    def __init__(self, page: Any, base_url: str, folder: Path) -> None:
        self.page, self.base_url, self.folder = page, base_url, folder
        self.shots = 0

    def shot(self, name: str) -> Path:
        self.shots += 1
        path = self.folder / f"{self.shots:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def grid_states(self, run_id: str) -> dict[str, str | None]:
        column = self.page.evaluate(GRID_COLUMN_JS, run_id)
        return dict(column or [])

    def wait_grid(self, run_id: str, expected: dict[str, str], timeout: float = 60) -> dict[str, str | None]:
        """Poll the grid's DOM (never reloading it) until the boxes of ``run_id`` show ``expected``."""
        deadline = time.monotonic() + timeout
        seen: dict[str, str | None] = {}
        while time.monotonic() < deadline:
            seen = self.grid_states(run_id)
            if all(seen.get(task) == state for task, state in expected.items()):
                return seen
            self.page.wait_for_timeout(250)
        raise AssertionError(f"the grid never showed {expected} for run {run_id}; it shows {seen}")

    def open_panel_from_grid(self, run_id: str, task_id: str) -> None:
        """Click the grid box of ``task_id`` in ``run_id``'s column: the task instance opens in the
        side panel beside the grid, without leaving the page."""
        index = self.page.evaluate(
            "(runId) => [...document.querySelectorAll('#grid thead th.run-col')]"
            ".findIndex((th) => th.dataset.runId === runId)",
            run_id,
        )
        row = self.page.locator(f'#grid tbody tr.grid-row[data-row-id="{task_id}"]')
        row.locator(".box").nth(index).click()
        heading = self.page.locator("#grid-details h2.ti-heading", has_text=task_id)
        heading.wait_for(timeout=15_000)
        assert re.search(rf"/dags/{DAG_ID}/grid", self.page.url), "the grid stays open under the panel"

    def confirm(self, kind_heading: str, affected: list[str]) -> None:
        """On a clear / mark confirmation page: check the listed task instances, then confirm."""
        assert self.page.locator("h1").inner_text().startswith(kind_heading)
        listed = self.page.locator("tr.affected-ti td.task-id").all_inner_texts()
        assert sorted(listed) == sorted(affected), listed
        self.shot(f"{kind_heading.lower().replace(' ', '-')}-confirmation")
        self.page.get_by_role("button", name="Confirm").click()
        self.page.wait_for_url(re.compile(rf"/dags/{DAG_ID}/grid"))


@pytest.fixture
def story(web_cluster: Any, browser: Any, screenshots: Path) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=web_cluster.base_url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status} for {r.url}"))

    def console(message: Any) -> None:
        # The pages name no icon, so Chromium asks for /favicon.ico on its own and gets a 404.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            problems.append(f"console error: {message.text} at {message.location}")

    page.on("console", console)
    yield Story(page, web_cluster.base_url, screenshots)
    context.close()
    assert not problems, problems


def test_a_person_runs_watches_clears_and_marks_a_dag_in_the_browser(story: Story, web_cluster: Any) -> None:
    page = story.page
    cluster = web_cluster.cluster

    # 1. Every page needs a login: the DAGs list sends us to the form; log in through it.
    page.goto("/")
    assert "/login" in page.url
    assert page.locator("h1").inner_text() == "Log in to tradewind"
    story.shot("login")
    page.get_by_label("Username").fill(web_cluster.username)
    page.get_by_label("Password").fill(web_cluster.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{story.base_url}/")

    # 2. The DAGs list shows both example DAGs, each with a trigger button.
    dag_ids = page.locator("table.dag-list td.dag-id > a").all_inner_texts()
    assert {"example_bash_python", DAG_ID} <= set(dag_ids), dag_ids
    story.shot("dags-list")

    # 3. Trigger it through its trigger page: submit the form as it comes (conf {}).
    page.locator(f'a.button[title="Trigger {DAG_ID}"]').click()
    page.wait_for_url(re.compile(rf"/dags/{DAG_ID}/trigger"))
    assert page.locator("h1").inner_text() == f"Trigger {DAG_ID}"
    story.shot("trigger-form")
    page.get_by_role("button", name="Trigger").click()

    # 4. We land on the grid, which says which run started; without reloading, its boxes turn green.
    page.wait_for_url(re.compile(rf"/dags/{DAG_ID}/grid"))
    flash = page.locator(".flash", has_text="triggered").inner_text()
    run_id = re.search(r"run (\S+)", flash).group(1)  # type: ignore[union-attr]
    page.evaluate("window.__notReloaded = true")
    first_seen = story.grid_states(run_id)
    assert set(first_seen) >= set(TASKS), first_seen
    all_green = {row: "success" for row in first_seen}  # the tasks and their groups' rows
    story.wait_grid(run_id, all_green)
    assert page.evaluate("window.__notReloaded === true"), "the grid reloaded itself"
    assert (
        page.locator(f'#grid th.run-col[data-run-id="{run_id}"] .run-bar')
        .get_attribute("class")
        .endswith("state-success")
    )
    story.shot("grid-all-success")
    print(f"run {run_id}: grid went from {sorted(set(first_seen.values()), key=str)} to all success in place")

    # 5. The graph of that run: nodes for every task, all green; clicking one opens its panel.
    page.get_by_role("link", name="Graph").first.click()
    page.wait_for_url(re.compile(rf"/dags/{DAG_ID}/graph"))
    page.locator('svg#graph[data-layout="done"]').wait_for()  # the browser lays the graph out
    nodes = page.locator("svg#graph g.node-group")
    assert sorted(nodes.evaluate_all("(gs) => gs.map((g) => g.dataset.taskId)")) == sorted(TASKS)
    node_classes = page.locator("svg#graph rect.node").evaluate_all("(rs) => rs.map((r) => r.getAttribute('class'))")
    assert all("state-success" in c for c in node_classes), node_classes
    story.shot("graph")
    page.locator('svg#graph g.node-group[data-task-id="ingest.sources.from_api"]').click()
    page.wait_for_url(re.compile(r"/runs/[^/]+/tasks/ingest\.sources\.from_api"))
    heading = page.locator("h2.ti-heading").inner_text()
    assert "ingest.sources.from_api" in heading and "success" in heading, heading

    # 6. Its log shows what the task printed.
    page.locator("#log").wait_for()
    assert "fetched 3 rows from the API" in page.locator("#log").inner_text()
    assert page.locator("table.details tr", has_text="Try number").locator("td").inner_text() == "1"
    story.shot("task-panel-try-1")

    # 7. Clear that task from its panel: the page opens with Airflow's defaults (downstream and
    #    recursive on), so it lists the task and everything below it; it re-runs as try 2.
    page.locator(".toolbar a.button", has_text="Clear").click()
    assert page.locator("p.options-on").inner_text() == "Options on: downstream, recursive."
    story.confirm("Clear", ["ingest.sources.from_api", "ingest.merge", "publish.to_warehouse", "publish.notify", "end"])
    page.evaluate("window.__notReloaded = true")
    story.wait_grid(run_id, all_green)
    assert page.evaluate("window.__notReloaded === true"), "the grid reloaded itself"
    story.open_panel_from_grid(run_id, "ingest.sources.from_api")
    assert page.locator("table.details tr", has_text="Try number").locator("td").inner_text() == "2"
    assert page.locator("table.tries tbody tr").count() == 2
    assert "fetched 3 rows from the API" in page.locator("#log").inner_text()
    story.shot("task-panel-try-2")

    # 8. Mark ingest.merge failed (only it: the mark page's "downstream" would mark its descendants
    #    *failed*, per actions/plan.py). Marking never re-runs finished downstream tasks, so
    #    we then clear publish.to_warehouse (downstream is on by default): the scheduler re-decides those tasks
    #    with merge failed, and their trigger rule (all_success) makes them upstream_failed.
    page.goto(f"/dags/{DAG_ID}/grid")
    story.open_panel_from_grid(run_id, "ingest.merge")
    page.locator(".toolbar a.button", has_text="Mark failed").click()
    story.confirm("Mark failed", ["ingest.merge"])
    story.wait_grid(run_id, {"ingest.merge": "failed"})
    story.open_panel_from_grid(run_id, "publish.to_warehouse")
    page.locator(".toolbar a.button", has_text="Clear").click()
    assert page.locator('form.action-options input[name="downstream"]').is_checked()
    story.confirm("Clear", ["publish.to_warehouse", "publish.notify", "end"])
    page.evaluate("window.__notReloaded = true")
    final = story.wait_grid(
        run_id,
        {
            "ingest.merge": "failed",
            "publish.to_warehouse": "upstream_failed",
            "publish.notify": "upstream_failed",
            "end": "upstream_failed",
            "start": "success",
            "ingest.sources.from_api": "success",
        },
    )
    assert page.evaluate("window.__notReloaded === true"), "the grid reloaded itself"
    story.shot("grid-after-mark-failed")
    assert cluster.states(DAG_ID, run_id) == {task: state for task, state in final.items() if task in TASKS}

    # 9. The graph of the run shows the same colours.
    page.get_by_role("link", name="Graph").first.click()
    page.wait_for_url(re.compile(rf"/dags/{DAG_ID}/graph"))
    page.locator('svg#graph[data-layout="done"]').wait_for()
    to_warehouse = page.locator('svg#graph g.node-group[data-task-id="publish.to_warehouse"] rect.node')
    assert "state-upstream_failed" in to_warehouse.get_attribute("class")
    story.shot("graph-after-mark-failed")

    # 10. With the grid open and nothing running, a run started elsewhere (the CLI here) appears on
    #     its own, and the group collapsed before it came stays collapsed.
    page.goto(f"/dags/{DAG_ID}/grid")
    toggle = page.locator('#grid button.group-toggle[data-group="publish"]')
    toggle.click()
    assert page.locator('#grid tr.grid-row[data-row-id="publish.notify"]').is_hidden()
    started_elsewhere = cluster.trigger(DAG_ID)
    page.locator(f'#grid th.run-col[data-run-id="{started_elsewhere}"]').wait_for(state="attached", timeout=30_000)
    assert toggle.get_attribute("aria-expanded") == "false"
    assert page.locator('#grid tr.grid-row[data-row-id="publish.notify"]').is_hidden()
    story.wait_grid(started_elsewhere, {"start": "success", "end": "success"})
    story.shot("grid-with-a-run-started-elsewhere")
    print(f"{story.shots} screenshots in {story.folder}")
