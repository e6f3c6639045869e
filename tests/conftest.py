"""Checks of the test suite's own shape: every test under ``tests/integration`` carries the
``integration`` marker and every test under ``tests/e2e`` the ``e2e`` marker, so ``-m`` selections
(``-m "not integration"`` for a quick run without servers) never miss one."""

from __future__ import annotations

from pathlib import Path

import pytest

_MARKER_OF_FOLDER = {"integration": "integration", "e2e": "e2e"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    unmarked: set[str] = set()
    for item in items:
        try:
            folder = Path(item.path).relative_to(tests).parts[0]
        except ValueError:
            continue
        marker = _MARKER_OF_FOLDER.get(folder)
        if marker is not None and item.get_closest_marker(marker) is None:
            unmarked.add(f"{Path(item.path).relative_to(tests.parent)} (needs pytestmark = pytest.mark.{marker})")
    if unmarked:
        raise pytest.UsageError("test modules without their folder's marker:\n  " + "\n  ".join(sorted(unmarked)))
