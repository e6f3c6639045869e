"""What the graph page hands the browser: the DAG's tasks, its groups as a tree, its edges and one
run's states — a pure function of the serialized DAG, tested without Flask or a database."""

from __future__ import annotations

from datetime import UTC, datetime

from tradewind import DAG, BashOperator, TaskGroup
from tradewind.master.webserver.graph_document import COLLAPSE_ABOVE, graph_document
from tradewind.metastore.grid import GridCell
from tradewind.sdk.serialization import SerializedDAG, deserialize_dag, serialize_dag

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def _pipeline() -> SerializedDAG:
    with DAG("pipeline", schedule=None, start_date=T0) as dag:
        start = BashOperator(task_id="start", bash_command="true")
        with TaskGroup("ingest", tooltip="Pull everything in") as ingest:
            with TaskGroup("sources"):
                files = BashOperator(task_id="from_files", bash_command="true")
                api = BashOperator(task_id="from_api", bash_command="true", task_display_name="From the API")
            merge = BashOperator(task_id="merge", bash_command="true")
            [files, api] >> merge
        create = BashOperator(task_id="create_cluster", bash_command="true")
        delete = BashOperator(task_id="delete_cluster", bash_command="true")
        start >> ingest >> create >> delete.as_teardown(setups=create)
    return deserialize_dag(serialize_dag(dag))


def test_groups_nest_as_a_tree_holding_exactly_their_own_tasks() -> None:
    document = graph_document(_pipeline(), {}, None)

    assert document["root"] == [
        {"task": "start"},
        {
            "group": "ingest",
            "label": "ingest",
            "tooltip": "Pull everything in",
            "size": 3,
            "children": [
                {
                    "group": "ingest.sources",
                    "label": "sources",
                    "tooltip": "",
                    "size": 2,
                    "children": [{"task": "ingest.sources.from_files"}, {"task": "ingest.sources.from_api"}],
                },
                {"task": "ingest.merge"},
            ],
        },
        {"task": "create_cluster"},
        {"task": "delete_cluster"},
    ]
    assert document["collapse_above"] == COLLAPSE_ABOVE


def test_edges_join_tasks_and_the_setup_teardown_link_is_marked() -> None:
    edges = graph_document(_pipeline(), {}, None)["edges"]

    assert sorted(edges) == [
        ["create_cluster", "delete_cluster", "setup_teardown"],
        ["ingest.merge", "create_cluster", ""],
        ["ingest.sources.from_api", "ingest.merge", ""],
        ["ingest.sources.from_files", "ingest.merge", ""],
        ["start", "ingest.sources.from_api", ""],
        ["start", "ingest.sources.from_files", ""],
    ]


def test_without_a_run_every_task_is_none_and_links_nowhere() -> None:
    tasks = graph_document(_pipeline(), {}, None)["tasks"]

    assert {task["state"] for task in tasks.values()} == {"none"}
    assert {task["url"] for task in tasks.values()} == {None}
    assert tasks["ingest.sources.from_api"]["label"] == "From the API"
    assert tasks["ingest.merge"]["label"] == "merge"
    assert (tasks["create_cluster"]["role"], tasks["delete_cluster"]["role"], tasks["start"]["role"]) == (
        "setup",
        "teardown",
        "",
    )


def test_a_run_colours_its_tasks_and_links_each_to_its_panel() -> None:
    cells = {"start": GridCell("success", 1, 0), "ingest.merge": GridCell("running", 1, 0)}

    tasks = graph_document(_pipeline(), cells, lambda task_id: f"/panel/{task_id}")["tasks"]

    assert (tasks["start"]["state"], tasks["start"]["url"]) == ("success", "/panel/start")
    assert (tasks["ingest.merge"]["state"], tasks["ingest.merge"]["url"]) == ("running", "/panel/ingest.merge")
    assert (tasks["create_cluster"]["state"], tasks["create_cluster"]["url"]) == ("none", None)
    assert tasks["start"]["operator"] == "BashOperator"


def test_a_mapped_task_carries_its_count_or_an_empty_mark_before_it_expands() -> None:
    with DAG("mapped", schedule=None, start_date=T0) as dag:
        BashOperator.partial(task_id="work").expand(bash_command=["true", "false"])
        BashOperator.partial(task_id="later").expand(bash_command=["true"])
    stored = deserialize_dag(serialize_dag(dag))

    tasks = graph_document(stored, {"work": GridCell("success", 1, 2)}, None)["tasks"]

    assert (tasks["work"]["mapped"], tasks["later"]["mapped"]) == ("[2]", "[ ]")
