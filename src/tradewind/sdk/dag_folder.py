"""Finding DAG files: which ``.py`` files in the DAG folder may hold DAGs, and their content hash.

Kept apart from importing them (``dag_file``) so a scan of an unchanged folder loads nothing of
the SDK: ``tradewind dags list`` stays fast.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

IGNORE_FILES = (".tradewindignore", ".airflowignore")


def file_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def list_dag_files(folder: str | Path, *, safe_mode: bool = True) -> list[Path]:
    """``.py`` files under ``folder`` that may hold DAGs, minus those an ignore file excludes.

    In safe mode (Airflow's default) a file must mention "dag" to be imported at all.
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    found: list[Path] = []
    for path in _walk(root, root, []):
        if safe_mode:
            try:
                if b"dag" not in path.read_bytes().lower():
                    continue
            except OSError:
                continue
        found.append(path)
    return sorted(found)


def _walk(root: Path, folder: Path, patterns: list[re.Pattern[str]]) -> Iterator[Path]:
    patterns = patterns + _ignore_patterns(folder)
    for entry in sorted(folder.iterdir()):
        relative = entry.relative_to(root).as_posix()
        if entry.name.startswith((".", "__")) or any(p.search(relative) for p in patterns):
            continue
        if entry.is_dir():
            yield from _walk(root, entry, patterns)
        elif entry.suffix == ".py":
            yield entry


def _ignore_patterns(folder: Path) -> list[re.Pattern[str]]:
    patterns: list[re.Pattern[str]] = []
    for name in IGNORE_FILES:
        ignore = folder / name
        if not ignore.is_file():
            continue
        for line in ignore.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                try:
                    patterns.append(re.compile(line))
                except re.error:
                    continue
    return patterns
