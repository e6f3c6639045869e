"""ObjectStoragePath (``airflow.io.path``) over fsspec: local files by ``file://`` or a plain path,
fsspec's in-memory file system standing in for a remote one, copies across the two, and the errors
a DAG author meets without fsspec or with a scheme nobody serves."""

from __future__ import annotations

import sys
import uuid

import pytest

from tradewind.errors import AirflowException
from tradewind.sdk.object_storage import ObjectStoragePath


def test_a_file_url_and_a_plain_path_name_the_same_local_file(tmp_path):
    url = ObjectStoragePath(f"file://{tmp_path}") / "in" / "orders.csv"
    plain = ObjectStoragePath(str(tmp_path)) / "in" / "orders.csv"

    assert url.write_text("order,amount\n1,10\n") == 18
    assert plain.read_text() == "order,amount\n1,10\n"
    assert (tmp_path / "in" / "orders.csv").is_file()
    assert str(url) == f"file://{tmp_path}/in/orders.csv" and str(plain) == f"{tmp_path}/in/orders.csv"
    assert (url.name, url.stem, url.suffix, url.parent.name) == ("orders.csv", "orders", ".csv", "in")
    assert url.exists() and url.is_file() and url.parent.is_dir() and url.size() == 18
    assert not (url.parent / "missing.csv").exists()


def test_iterdir_glob_and_rglob_list_what_is_there(tmp_path):
    root = ObjectStoragePath(f"file://{tmp_path}")
    for name in ["a.csv", "b.txt", "sub/c.csv"]:
        (root / name).write_bytes(b"x")

    assert [p.name for p in root.iterdir()] == ["a.csv", "b.txt", "sub"]
    assert [p.name for p in root.glob("*.csv")] == ["a.csv"]
    assert sorted(p.relative_to(root) for p in root.rglob("*.csv")) == ["a.csv", "sub/c.csv"]


def test_copy_and_move_work_within_and_across_file_systems(tmp_path):
    local = ObjectStoragePath(f"file://{tmp_path}")
    (local / "raw" / "east.csv").write_text("1")
    (local / "raw" / "deep" / "west.csv").write_text("2")
    remote = ObjectStoragePath(f"memory://bucket-{uuid.uuid4().hex}/archive")

    (local / "raw").copy(remote, recursive=True)
    assert (remote / "east.csv").read_text() == "1" and (remote / "deep" / "west.csv").read_text() == "2"
    assert (remote.bucket, (remote / "east.csv").key) == (remote.parts[0], "archive/east.csv")

    (local / "raw" / "east.csv").copy(local)  # into a folder: same name there
    assert (local / "east.csv").read_text() == "1"
    (local / "east.csv").move(local / "moved.csv")
    assert not (local / "east.csv").exists() and (local / "moved.csv").read_text() == "1"


def test_mkdir_touch_unlink_and_rmdir_behave_like_pathlib(tmp_path):
    folder = ObjectStoragePath(f"file://{tmp_path}") / "a" / "b"
    with pytest.raises(FileNotFoundError):
        folder.mkdir()
    folder.mkdir(parents=True)
    with pytest.raises(FileExistsError):
        folder.mkdir()
    (folder / "flag").touch()
    (folder / "flag").unlink()
    (folder / "flag").unlink(missing_ok=True)
    with pytest.raises(FileNotFoundError):
        (folder / "flag").unlink()
    folder.parent.rmdir(recursive=True)
    assert not folder.parent.exists()


def test_the_airflow_import_path_serves_it():
    from tradewind.compat import airflow_shim

    installed = airflow_shim.is_installed()
    airflow_shim.install()
    try:
        from airflow.io.path import ObjectStoragePath as Served

        assert Served is ObjectStoragePath
    finally:
        if not installed:
            airflow_shim.uninstall()


def test_a_scheme_no_file_system_serves_is_a_clear_error():
    with pytest.raises(AirflowException, match="no fsspec file system serves the 'nosuchfs' scheme"):
        ObjectStoragePath("nosuchfs://bucket/key").exists()


def test_without_fsspec_a_path_can_be_built_but_using_it_says_what_to_install(monkeypatch, tmp_path):
    path = ObjectStoragePath(f"file://{tmp_path}") / "x"  # building needs no file system
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(AirflowException, match="needs the fsspec package: pip install fsspec"):
        path.exists()
