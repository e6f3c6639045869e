"""How the dag processor splits the DAG files waiting to be imported across its parsing processes."""

from __future__ import annotations

import pytest

from tradewind.decisions.parse_batches import plan_batches


@pytest.mark.parametrize(
    ("waiting", "free", "processes", "cap", "sizes"),
    [
        pytest.param(1000, 2, 2, 250, [250, 250], id="a-big-folder-fills-every-process-up-to-the-cap"),
        pytest.param(300, 2, 2, 250, [150, 150], id="a-folder-under-the-caps-is-split-evenly"),
        pytest.param(3, 2, 2, 250, [2, 1], id="an-odd-count-gives-the-first-process-one-more"),
        pytest.param(1, 2, 2, 250, [1], id="one-changed-file-starts-one-process"),
        pytest.param(600, 1, 2, 250, [250], id="a-process-freed-mid-folder-takes-a-capped-batch"),
        pytest.param(40, 1, 2, 250, [20], id="a-process-freed-near-the-end-leaves-a-share-for-the-other"),
        pytest.param(10, 0, 2, 250, [], id="no-free-process-starts-nothing"),
        pytest.param(0, 2, 2, 250, [], id="nothing-waiting-starts-nothing"),
        pytest.param(5, 4, 4, 1, [1, 1, 1, 1], id="a-cap-of-one-imports-file-by-file"),
    ],
)
def test_waiting_files_are_split_across_the_free_processes(
    waiting: int, free: int, processes: int, cap: int, sizes: list[int]
) -> None:
    assert plan_batches(waiting, free, processes, cap=cap) == sizes


def test_every_waiting_file_is_taken_when_the_processes_are_free() -> None:
    for waiting in range(1, 40):
        assert sum(plan_batches(waiting, 3, 3, cap=100)) == waiting
