"""The graph page's server-side layered layout: a pure function, tested without Flask."""

from __future__ import annotations

import itertools

import pytest

from tradewind.master.webserver.graph_layout import GROUP_LABEL_HEIGHT, Box, layout


def _assert_no_overlap(boxes: dict) -> None:  # type: ignore[type-arg]
    for (a, box_a), (b, box_b) in itertools.combinations(boxes.items(), 2):
        assert not box_a.overlaps(box_b), f"{a} overlaps {b}"


def test_every_edge_points_to_a_later_layer_and_right() -> None:
    nodes = ["extract", "clean", "join", "load", "notify", "audit"]
    edges = [
        ("extract", "clean"),
        ("clean", "join"),
        ("extract", "join"),
        ("join", "load"),
        ("load", "notify"),
        ("extract", "audit"),
    ]
    drawn = layout(nodes, edges)
    for source, target in edges:
        assert drawn.layers[source] < drawn.layers[target]
        assert drawn.nodes[source].right < drawn.nodes[target].x
    # Longest path: join waits for clean, so it is in layer 2, not 1.
    assert drawn.layers == {"extract": 0, "clean": 1, "audit": 1, "join": 2, "load": 3, "notify": 4}


def test_no_two_nodes_overlap_in_a_wide_dag() -> None:
    nodes = ["root"] + [f"fan_{i}" for i in range(30)] + ["sink"]
    edges = [("root", f"fan_{i}") for i in range(30)] + [(f"fan_{i}", "sink") for i in range(30)]
    drawn = layout(nodes, edges)
    _assert_no_overlap(drawn.nodes)
    assert drawn.width >= max(b.right for b in drawn.nodes.values())
    assert drawn.height >= max(b.bottom for b in drawn.nodes.values())


def test_barycenter_ordering_uncrosses_parallel_chains() -> None:
    # Given in an order that crosses: a1 -> b1, a2 -> b2, but the b layer is listed reversed.
    drawn = layout(["a1", "a2", "b2", "b1"], [("a1", "b1"), ("a2", "b2")])
    assert drawn.nodes["a1"].y < drawn.nodes["a2"].y
    assert drawn.nodes["b1"].y < drawn.nodes["b2"].y


def test_edges_run_from_the_source_right_side_to_the_target_left_side() -> None:
    drawn = layout(["a", "b"], [("a", "b")])
    (edge,) = drawn.edges
    assert edge.points[0] == (drawn.nodes["a"].right, drawn.nodes["a"].y + drawn.nodes["a"].height / 2)
    assert edge.points[-1] == (drawn.nodes["b"].x, drawn.nodes["b"].y + drawn.nodes["b"].height / 2)


def test_group_boxes_enclose_their_members_and_nested_groups() -> None:
    nodes = ["start", "g.a", "g.inner.b", "g.inner.c", "end"]
    edges = [("start", "g.a"), ("g.a", "g.inner.b"), ("g.inner.b", "g.inner.c"), ("g.inner.c", "end")]
    groups = {"g": ["g.a", "g.inner.b", "g.inner.c"], "g.inner": ["g.inner.b", "g.inner.c"]}
    drawn = layout(nodes, edges, groups)
    boxes = {group.group_id: group.box for group in drawn.groups}
    for group_id, members in groups.items():
        for member in members:
            node = drawn.nodes[member]
            box = boxes[group_id]
            assert box.x < node.x and node.right < box.right and box.y < node.y and node.bottom < box.bottom
    outer, inner = boxes["g"], boxes["g.inner"]
    assert outer.x < inner.x and inner.right < outer.right and outer.y < inner.y and inner.bottom < outer.bottom
    _assert_no_overlap(drawn.nodes)


def test_each_group_label_has_a_band_of_its_own_above_what_the_group_holds() -> None:
    # example_task_groups' shape: ingest holds ingest.sources, whose tasks start the group.
    nodes = [
        "start",
        "ingest.sources.from_api",
        "ingest.sources.from_files",
        "ingest.merge",
        "publish.to_warehouse",
        "publish.notify",
        "end",
    ]
    edges = [
        ("start", "ingest.sources.from_api"),
        ("start", "ingest.sources.from_files"),
        ("ingest.sources.from_api", "ingest.merge"),
        ("ingest.sources.from_files", "ingest.merge"),
        ("ingest.merge", "publish.to_warehouse"),
        ("publish.to_warehouse", "publish.notify"),
        ("publish.notify", "end"),
    ]
    groups = {
        "ingest": ["ingest.sources.from_api", "ingest.sources.from_files", "ingest.merge"],
        "ingest.sources": ["ingest.sources.from_api", "ingest.sources.from_files"],
        "publish": ["publish.to_warehouse", "publish.notify"],
    }
    drawn = layout(nodes, edges, groups)
    for group in drawn.groups:
        band = Box(group.box.x, group.box.y, group.box.width, GROUP_LABEL_HEIGHT)
        for node_id, node in drawn.nodes.items():
            assert not band.overlaps(node), f"the label of {group.group_id} lies on {node_id}"
        for other in drawn.groups:
            if other.group_id != group.group_id:
                other_band = Box(other.box.x, other.box.y, other.box.width, GROUP_LABEL_HEIGHT)
                assert not band.overlaps(other_band), f"the labels of {group.group_id} and {other.group_id} meet"


def test_a_cycle_or_an_unknown_node_is_refused() -> None:
    with pytest.raises(ValueError, match="cycle"):
        layout(["a", "b"], [("a", "b"), ("b", "a")])
    with pytest.raises(ValueError, match="unknown"):
        layout(["a"], [("a", "ghost")])


def test_an_empty_dag_has_an_empty_layout() -> None:
    drawn = layout([], [])
    assert drawn.nodes == {} and drawn.edges == [] and drawn.groups == []
