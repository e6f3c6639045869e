"""A scan of the DAG folder reads only the files whose stat moved, and imports only those whose
content changed, that are new, or whose failed import is due for another try."""

from __future__ import annotations

import os
from pathlib import Path

from tradewind.master.scheduler.dag_processor import plan_scan
from tradewind.metastore.dag_files import KnownFile
from tradewind.sdk.dag_folder import SETTLE_NS, FileStamp, FoundFile, file_hash, find_dag_files, settled_stamp

DAG_SOURCE = "from tradewind import DAG\n"
HOUR_NS = 3600 * 1_000_000_000


def _write_old(path: Path, text: str) -> FileStamp:
    """Write a file and date it an hour back, as a DAG file nobody touched lately."""
    path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - HOUR_NS))
    stat = path.stat()
    return FileStamp(mtime_ns=stat.st_mtime_ns, size=stat.st_size)


def test_a_file_whose_stat_matches_the_recorded_one_is_not_read_again(tmp_path: Path) -> None:
    kept = _write_old(tmp_path / "kept.py", DAG_SOURCE)
    edited = _write_old(tmp_path / "edited.py", DAG_SOURCE)
    (tmp_path / "edited.py").write_text(DAG_SOURCE + "# edited\n")

    found = {
        Path(f.path).name: f
        for f in find_dag_files(tmp_path, {str(tmp_path / "kept.py"): kept, str(tmp_path / "edited.py"): edited})
    }

    assert found["kept.py"].content_hash is None
    assert found["edited.py"].content_hash == file_hash(tmp_path / "edited.py")
    # Just written: its stat is not yet trusted, so the next scan hashes it again.
    assert found["edited.py"].stamp is None


def test_safe_mode_still_skips_files_that_never_mention_dags(tmp_path: Path) -> None:
    _write_old(tmp_path / "helper.py", "VALUE = 1\n")
    _write_old(tmp_path / "pipeline.py", DAG_SOURCE)

    assert [Path(f.path).name for f in find_dag_files(tmp_path, {})] == ["pipeline.py"]


def test_a_stat_is_trusted_only_once_the_file_is_older_than_the_settling_time() -> None:
    stamp = FileStamp(mtime_ns=10 * SETTLE_NS, size=42)

    assert settled_stamp(stamp, now_ns=10 * SETTLE_NS + SETTLE_NS // 2) is None
    assert settled_stamp(stamp, now_ns=12 * SETTLE_NS) == stamp
    assert settled_stamp(stamp, now_ns=9 * SETTLE_NS) is None  # dated in the future


def test_only_new_changed_and_retried_files_are_due_and_touched_ones_get_their_new_stat() -> None:
    old = FileStamp(mtime_ns=1, size=10)
    new = FileStamp(mtime_ns=2, size=10)
    known = {
        "/dags/same.py": KnownFile(content_hash="h-same", stamp=old),
        "/dags/touched.py": KnownFile(content_hash="h-touched", stamp=old),
        "/dags/changed.py": KnownFile(content_hash="h-old", stamp=old),
        "/dags/broken.py": KnownFile(content_hash="h-broken", stamp=old),
    }
    found = [
        FoundFile(path=("/dags/same.py"), stamp=old, content_hash=None),
        FoundFile(path=("/dags/touched.py"), stamp=new, content_hash="h-touched"),
        FoundFile(path=("/dags/changed.py"), stamp=new, content_hash="h-new"),
        FoundFile(path=("/dags/broken.py"), stamp=old, content_hash=None),
        FoundFile(path=("/dags/added.py"), stamp=None, content_hash="h-added"),
    ]

    scan = plan_scan(found, known, retry={"/dags/broken.py"})

    assert {f.path: f.content_hash for f in scan.due} == {
        "/dags/changed.py": "h-new",
        "/dags/broken.py": "h-broken",
        "/dags/added.py": "h-added",
    }
    assert scan.unchanged == ["/dags/same.py", "/dags/touched.py"]
    assert scan.stamps == {"/dags/touched.py": new}
    assert len(scan.present) == 5


def test_reserializing_imports_every_file_changed_or_not() -> None:
    stamp = FileStamp(mtime_ns=1, size=10)
    known = {"/dags/same.py": KnownFile(content_hash="h", stamp=stamp)}

    scan = plan_scan([FoundFile(path=("/dags/same.py"), stamp=stamp, content_hash=None)], known, retry=(), force=True)

    assert [(f.path, f.content_hash) for f in scan.due] == [("/dags/same.py", "h")]
