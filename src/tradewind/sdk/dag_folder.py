"""Finding DAG files: which ``.py`` files in the DAG folder may hold DAGs, and their content hash.

Kept apart from importing them (``dag_file``) so a scan of an unchanged folder loads nothing of
the SDK: ``tradewind dags list`` stays fast. ``find_dag_files`` reads and hashes only the files
whose stat (modification time and size) differs from the one recorded when they were last hashed;
a stat is recorded only once the file is older than the file system's timestamps can be trusted
to tell apart (``settled_stamp``), so a quick second write of the same size is still seen.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

IGNORE_FILES = (".tradewindignore", ".airflowignore")

#: A file modified less than this long ago may change again within the same timestamp tick.
SETTLE_NS = 2_000_000_000


class FileStamp(NamedTuple):
    """A file's modification time (ns) and size: while both stay, its content is taken as unchanged."""

    mtime_ns: int
    size: int


class FoundFile(NamedTuple):
    """One DAG file of a scan (its path as a string: most are never opened): its stamp worth
    recording (None: too recent to trust) and its content hash (None: its stat matched the recorded
    stamp, so it was not read)."""

    path: str
    stamp: FileStamp | None
    content_hash: str | None


def file_hash(path: str | Path) -> str:
    return _hash(Path(path).read_bytes())


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def settled_stamp(stamp: FileStamp, now_ns: int) -> FileStamp | None:
    """The stamp to record for a file just hashed, or None while it changed too recently (or has a
    modification time in the future) for a later write of the same size to move its stat."""
    return stamp if now_ns - stamp.mtime_ns > SETTLE_NS else None


def find_dag_files(folder: str | Path, known: Mapping[str, FileStamp], *, safe_mode: bool = True) -> list[FoundFile]:
    """The DAG files of ``folder`` (as ``list_dag_files``), each read and hashed only when its stat
    differs from its ``known`` stamp (a known file passed the safe-mode check when it was read)."""
    root = Path(folder)
    if not root.is_dir():
        return []
    now_ns = time.time_ns()
    found: list[FoundFile] = []
    for entry in _walk(str(root), "", []):
        try:
            stat = entry.stat()
            stamp = FileStamp(mtime_ns=stat.st_mtime_ns, size=stat.st_size)
            if known.get(entry.path) == stamp:
                found.append(FoundFile(path=entry.path, stamp=stamp, content_hash=None))
                continue
            with open(entry.path, "rb") as file:
                data = file.read()
        except OSError:
            continue  # removed while scanning; the next scan forgets it
        if safe_mode and not _may_hold_dags(data):
            continue
        found.append(FoundFile(path=entry.path, stamp=settled_stamp(stamp, now_ns), content_hash=_hash(data)))
    found.sort(key=lambda f: f.path)
    return found


def list_dag_files(folder: str | Path, *, safe_mode: bool = True) -> list[Path]:
    """``.py`` files under ``folder`` that may hold DAGs, minus those an ignore file excludes.

    In safe mode (Airflow's default) a file must mention "dag" to be imported at all.
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    found: list[Path] = []
    for entry in _walk(str(root), "", []):
        path = Path(entry.path)
        if safe_mode:
            try:
                if not _may_hold_dags(path.read_bytes()):
                    continue
            except OSError:
                continue
        found.append(path)
    return sorted(found)


def _may_hold_dags(data: bytes) -> bool:
    """Safe mode (Airflow's default): a file must mention "dag" to be imported at all."""
    return b"dag" in data.lower()


def _walk(folder: str, relative: str, patterns: list[re.Pattern[str]]) -> Iterator[os.DirEntry[str]]:
    """The ``.py`` files under ``folder`` (``relative`` to the DAG folder: "" or "sub/dir/"), by name,
    without the ignored ones; ``os.scandir`` so a folder of thousands costs few system calls."""
    patterns = patterns + _ignore_patterns(Path(folder))
    with os.scandir(folder) as listing:
        entries = sorted(listing, key=lambda e: e.name)
    for entry in entries:
        path = relative + entry.name
        if entry.name.startswith((".", "__")) or any(p.search(path) for p in patterns):
            continue
        if entry.is_dir():
            yield from _walk(entry.path, path + "/", patterns)
        elif entry.name.endswith(".py"):
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
