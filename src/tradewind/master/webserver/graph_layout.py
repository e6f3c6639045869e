"""A layered left-to-right layout of a DAG, computed on the server so the graph page is plain SVG.

Layers by longest path from the roots, so every edge points right; within a layer, nodes are
ordered by the barycenter of their neighbours' positions, sweeping a few times forward and back
to cut crossings (Sugiyama's method without dummy nodes). A pure function: no Flask, no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

NODE_WIDTH = 160
NODE_HEIGHT = 32
LAYER_GAP = 60
ROW_GAP = 18
MARGIN = 20
GROUP_PADDING = 10
#: The band at the top of a group box that holds its label, above everything inside it.
GROUP_LABEL_HEIGHT = 14
SWEEPS = 4


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    def overlaps(self, other: Box) -> bool:
        return self.x < other.right and other.x < self.right and self.y < other.bottom and other.y < self.bottom


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    #: (x, y) points of the polyline, from the source's right side to the target's left side.
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class GroupBox:
    group_id: str
    box: Box
    depth: int


@dataclass(frozen=True)
class Layout:
    nodes: dict[str, Box]
    layers: dict[str, int]
    edges: list[Edge]
    groups: list[GroupBox]
    width: float
    height: float


def layout(
    nodes: Sequence[str], edges: Iterable[tuple[str, str]], groups: Mapping[str, Sequence[str]] | None = None
) -> Layout:
    """Place ``nodes`` (in their given order as the first guess) joined by ``edges`` (upstream,
    downstream); ``groups`` maps a group id to its member nodes (nested groups list all members).

    Raises ValueError when the edges make a cycle or name an unknown node.
    """
    edge_list = list(dict.fromkeys(edges))
    known = set(nodes)
    upstream: dict[str, list[str]] = {n: [] for n in nodes}
    downstream: dict[str, list[str]] = {n: [] for n in nodes}
    for source, target in edge_list:
        if source not in known or target not in known:
            raise ValueError(f"edge {source!r} -> {target!r} names an unknown node")
        upstream[target].append(source)
        downstream[source].append(target)
    layer_of = _layers(nodes, upstream, downstream)
    order = _order(nodes, layer_of, upstream, downstream)
    boxes: dict[str, Box] = {}
    # One padding more than the deepest nesting needs, so edges turn outside the group boxes.
    side_pad, top_pad = (pad + GROUP_PADDING for pad in _pads(_max_group_depth(groups or {})))
    for layer, members in enumerate(order):
        for row, node in enumerate(members):
            boxes[node] = Box(
                MARGIN + side_pad + layer * (NODE_WIDTH + LAYER_GAP + 2 * side_pad),
                MARGIN + top_pad + row * (NODE_HEIGHT + ROW_GAP + top_pad + side_pad),
                NODE_WIDTH,
                NODE_HEIGHT,
            )
    drawn_edges = [_edge(boxes[s], boxes[t], s, t) for s, t in edge_list]
    group_boxes = _group_boxes(groups or {}, boxes)
    width = max((b.right for b in boxes.values()), default=0) + MARGIN + side_pad
    height = max((b.bottom for b in boxes.values()), default=0) + MARGIN + side_pad
    return Layout(boxes, layer_of, drawn_edges, group_boxes, width, height)


def _layers(
    nodes: Sequence[str], upstream: Mapping[str, list[str]], downstream: Mapping[str, list[str]]
) -> dict[str, int]:
    pending = {n: len(upstream[n]) for n in nodes}
    ready = [n for n in nodes if pending[n] == 0]
    layer_of: dict[str, int] = {}
    while ready:
        node = ready.pop(0)
        layer_of[node] = max((layer_of[u] + 1 for u in upstream[node]), default=0)
        for child in downstream[node]:
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    if len(layer_of) != len(nodes):
        raise ValueError("the edges make a cycle")
    return layer_of


def _order(
    nodes: Sequence[str],
    layer_of: Mapping[str, int],
    upstream: Mapping[str, list[str]],
    downstream: Mapping[str, list[str]],
) -> list[list[str]]:
    count = max(layer_of.values(), default=-1) + 1
    order: list[list[str]] = [[] for _ in range(count)]
    for node in nodes:
        order[layer_of[node]].append(node)
    for sweep in range(SWEEPS):
        forward = sweep % 2 == 0
        layer_indices = range(1, count) if forward else range(count - 2, -1, -1)
        neighbours = upstream if forward else downstream
        for layer in layer_indices:
            position = {n: i for i, n in enumerate(order[layer - 1 if forward else layer + 1])}
            current = {n: i for i, n in enumerate(order[layer])}

            def barycenter(
                node: str,
                position: dict[str, int] = position,
                current: dict[str, int] = current,
                neighbours: Mapping[str, list[str]] = neighbours,
            ) -> float:
                placed = [position[n] for n in neighbours[node] if n in position]
                return sum(placed) / len(placed) if placed else float(current[node])

            order[layer].sort(key=lambda n: (barycenter(n), current[n]))
    return order


def _edge(source: Box, target: Box, source_id: str, target_id: str) -> Edge:
    start = (source.right, source.y + source.height / 2)
    end = (target.x, target.y + target.height / 2)
    middle = end[0] - LAYER_GAP / 2
    return Edge(source_id, target_id, (start, (middle, start[1]), (middle, end[1]), end))


def _group_boxes(groups: Mapping[str, Sequence[str]], boxes: Mapping[str, Box]) -> list[GroupBox]:
    found: list[GroupBox] = []
    depths = _group_depths(groups)
    for group_id, members in groups.items():
        placed = [boxes[m] for m in members if m in boxes]
        if not placed:
            continue
        inner = (
            max(
                (depths[g] for g, ms in groups.items() if g != group_id and set(ms) < set(members)),
                default=depths[group_id],
            )
            - depths[group_id]
        )
        pad, top_pad = _pads(1 + inner)
        left, top = min(b.x for b in placed) - pad, min(b.y for b in placed) - top_pad
        right, bottom = max(b.right for b in placed) + pad, max(b.bottom for b in placed) + pad
        found.append(GroupBox(group_id, Box(left, top, right - left, bottom - top), depths[group_id]))
    found.sort(key=lambda g: g.depth)
    return found


def _pads(levels: int) -> tuple[int, int]:
    """(side and bottom, top) space ``levels`` nested group boxes take around a node: each level's
    top holds its label too, so a nested group's label never lies on its parent's."""
    return GROUP_PADDING * levels, (GROUP_PADDING + GROUP_LABEL_HEIGHT) * levels


def _group_depths(groups: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """How many other groups hold all of a group's members (0 for a top-level group)."""
    sets = {g: set(ms) for g, ms in groups.items()}
    return {g: sum(1 for o, ms in sets.items() if o != g and sets[g] < ms) for g in sets}


def _max_group_depth(groups: Mapping[str, Sequence[str]]) -> int:
    return max(_group_depths(groups).values(), default=-1) + 1
