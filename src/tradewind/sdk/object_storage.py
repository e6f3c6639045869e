"""``ObjectStoragePath``: a ``pathlib``-like path over any fsspec file system (Airflow's ``airflow.io``).

``ObjectStoragePath("file:///data/in.csv")``, a plain ``"/data/in.csv"`` and ``"memory://bucket/x"``
work wherever ``fsspec`` is installed; other schemes (``s3://``, ``gs://`` …) where their fsspec
package is (``s3fs``, ``gcsfs`` …). A path names its file system by scheme and, optionally,
``conn_id``; the file system itself is made on first use, so a DAG file can build paths at import
time on a machine that reaches none of them. ``fsspec`` is an optional dependency: without it,
using a path is an error that says what to install.
"""

from __future__ import annotations

import importlib
import posixpath
import shutil
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import urlsplit

from tradewind.errors import AirflowException

__all__ = ["ObjectStoragePath", "attach", "get_fs", "has_fs"]

#: File systems attached by ``attach``, by (protocol, conn_id): they win over a freshly made one.
_ATTACHED: dict[tuple[str, str | None], Any] = {}

_LOCAL = ("file", "local")


def _fsspec() -> Any:
    try:
        return importlib.import_module("fsspec")
    except ImportError as err:
        raise AirflowException("ObjectStoragePath needs the fsspec package: pip install fsspec") from err


def get_fs(scheme: str | None, conn_id: str | None = None, storage_options: dict[str, Any] | None = None) -> Any:
    """The fsspec file system for ``scheme`` (``file`` when empty)."""
    protocol = scheme or "file"
    attached = _ATTACHED.get((protocol, conn_id))
    if attached is not None:
        return attached
    try:
        return _fsspec().filesystem(protocol, **(storage_options or {}))
    except ImportError as err:
        raise AirflowException(f"the {protocol!r} scheme needs its fsspec package installed: {err}") from err
    except ValueError as err:
        raise AirflowException(f"no fsspec file system serves the {protocol!r} scheme: {err}") from err


def has_fs(scheme: str) -> bool:
    """Whether fsspec knows the scheme (its package may still be missing)."""
    try:
        return scheme in _fsspec().available_protocols()
    except AirflowException:
        return False


def attach(protocol: str | None = None, conn_id: str | None = None, fs: Any = None, **kwargs: Any) -> Any:
    """Use ``fs`` (or a file system made from ``kwargs``) for paths of ``protocol`` and ``conn_id``."""
    protocol = protocol or "file"
    _ATTACHED[(protocol, conn_id)] = fs if fs is not None else get_fs(protocol, conn_id, kwargs)
    return _ATTACHED[(protocol, conn_id)]


class ObjectStoragePath:
    """A path on a local or remote file system, as Airflow's ``ObjectStoragePath``."""

    __slots__ = ("_path", "_protocol", "_show_protocol", "conn_id", "storage_options")

    def __init__(self, *args: Any, conn_id: str | None = None, protocol: str | None = None, **kwargs: Any) -> None:
        if not args:
            raise TypeError("ObjectStoragePath() needs a path")
        first, *rest = (str(arg) for arg in args)
        parts = urlsplit(first) if "://" in first else None
        if parts is not None:
            protocol = protocol or parts.scheme
            conn_id = conn_id or parts.username
            host = parts.hostname or ""
            if protocol in _LOCAL:
                path = parts.path
            else:
                path = f"{host}{parts.path}" if host else parts.path.lstrip("/")
        else:
            path = first
        self._protocol = protocol or "file"
        self._show_protocol = parts is not None or protocol is not None
        self._path = posixpath.join(path, *rest) if rest else path
        if self._protocol in _LOCAL:
            self._path = posixpath.normpath(self._path) if self._path else self._path
        self.conn_id = conn_id
        self.storage_options = kwargs

    # -- naming --------------------------------------------------------------------------------

    @property
    def protocol(self) -> str:
        return self._protocol

    @property
    def path(self) -> str:
        """The path without its scheme."""
        return self._path

    @property
    def fs(self) -> Any:
        return get_fs(self._protocol, self.conn_id, self.storage_options)

    @property
    def bucket(self) -> str:
        return "" if self._protocol in _LOCAL else self._path.split("/", 1)[0]

    @property
    def key(self) -> str:
        if self._protocol in _LOCAL:
            return self._path.lstrip("/")
        return self._path.split("/", 1)[1] if "/" in self._path else ""

    @property
    def name(self) -> str:
        return posixpath.basename(self._path.rstrip("/"))

    @property
    def suffix(self) -> str:
        return posixpath.splitext(self.name)[1]

    @property
    def stem(self) -> str:
        return posixpath.splitext(self.name)[0]

    @property
    def parent(self) -> ObjectStoragePath:
        return self._with_path(posixpath.dirname(self._path.rstrip("/")))

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(part for part in self._path.split("/") if part)

    def _with_path(self, path: str) -> ObjectStoragePath:
        other = object.__new__(ObjectStoragePath)
        other._protocol, other._show_protocol = self._protocol, self._show_protocol
        other._path, other.conn_id, other.storage_options = path, self.conn_id, dict(self.storage_options)
        return other

    def joinpath(self, *others: str | ObjectStoragePath) -> ObjectStoragePath:
        return self._with_path(
            posixpath.join(self._path, *(str(o.path if isinstance(o, ObjectStoragePath) else o) for o in others))
        )

    def __truediv__(self, other: str | ObjectStoragePath) -> ObjectStoragePath:
        return self.joinpath(other)

    def with_name(self, name: str) -> ObjectStoragePath:
        return self.parent / name

    def with_suffix(self, suffix: str) -> ObjectStoragePath:
        return self.parent / (self.stem + suffix)

    def relative_to(self, other: str | ObjectStoragePath) -> str:
        base = other.path if isinstance(other, ObjectStoragePath) else str(other)
        relative = posixpath.relpath(self._path, base)
        if relative.startswith(".."):
            raise ValueError(f"{self} is not in the subpath of {other}")
        return relative

    def __str__(self) -> str:
        if not self._show_protocol:
            return self._path
        if self._protocol in _LOCAL:
            return f"{self._protocol}://{self._path}"
        user = f"{self.conn_id}@" if self.conn_id else ""
        return f"{self._protocol}://{user}{self._path}"

    def __fspath__(self) -> str:
        if self._protocol not in _LOCAL:
            raise TypeError(f"{self} is not on the local file system")
        return self._path

    def __repr__(self) -> str:
        return f"ObjectStoragePath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ObjectStoragePath):
            return NotImplemented
        return (self._protocol, self._path, self.conn_id) == (other._protocol, other._path, other.conn_id)

    def __hash__(self) -> int:
        return hash((self._protocol, self._path, self.conn_id))

    # -- the file system -----------------------------------------------------------------------

    def exists(self) -> bool:
        return bool(self.fs.exists(self._path))

    def is_dir(self) -> bool:
        return bool(self.fs.isdir(self._path))

    def is_file(self) -> bool:
        return bool(self.fs.isfile(self._path))

    def stat(self) -> dict[str, Any]:
        return dict(self.fs.info(self._path))

    def size(self) -> int:
        return int(self.fs.size(self._path))

    def checksum(self) -> int:
        return int(self.fs.checksum(self._path))

    def open(self, mode: str = "r", **kwargs: Any) -> IO[Any]:
        if "w" in mode or "a" in mode:
            self.fs.makedirs(posixpath.dirname(self._path) or "/", exist_ok=True)
        return self.fs.open(self._path, mode, **kwargs)  # type: ignore[no-any-return]

    def read_text(self, encoding: str = "utf-8") -> str:
        with self.open("r", encoding=encoding) as file:
            return str(file.read())

    def read_bytes(self) -> bytes:
        with self.open("rb") as file:
            return bytes(file.read())

    def write_text(self, data: str, encoding: str = "utf-8") -> int:
        with self.open("w", encoding=encoding) as file:
            return int(file.write(data))

    def write_bytes(self, data: bytes) -> int:
        with self.open("wb") as file:
            return int(file.write(data))

    def touch(self, exist_ok: bool = True) -> None:
        if self.exists() and not exist_ok:
            raise FileExistsError(str(self))
        self.fs.touch(self._path, truncate=False)

    def mkdir(self, mode: int = 0o777, parents: bool = False, exist_ok: bool = False) -> None:
        if self.exists():
            if exist_ok and self.is_dir():
                return
            raise FileExistsError(str(self))
        if not parents and not self.parent.exists():
            raise FileNotFoundError(f"{self.parent} does not exist")
        self.fs.makedirs(self._path, exist_ok=True)

    def unlink(self, missing_ok: bool = False) -> None:
        if not self.exists():
            if missing_ok:
                return
            raise FileNotFoundError(str(self))
        self.fs.rm_file(self._path)

    def rmdir(self, recursive: bool = True) -> None:
        self.fs.rm(self._path, recursive=recursive)

    def iterdir(self) -> Iterator[ObjectStoragePath]:
        for entry in sorted(self.fs.ls(self._path, detail=False)):
            yield self._with_path(self._entry_path(entry))

    def glob(self, pattern: str) -> Iterator[ObjectStoragePath]:
        for entry in sorted(self.fs.glob(posixpath.join(self._path, pattern))):
            yield self._with_path(self._entry_path(entry))

    def rglob(self, pattern: str) -> Iterator[ObjectStoragePath]:
        return self.glob(posixpath.join("**", pattern))

    def _entry_path(self, entry: str) -> str:
        # fsspec's local file system answers absolute paths, the others "bucket/key" (memory: "/key").
        if self._protocol not in _LOCAL and not self._path.startswith("/"):
            return entry.lstrip("/")
        return entry

    def samefile(self, other: ObjectStoragePath) -> bool:
        return self == other

    def copy(self, dst: str | ObjectStoragePath, recursive: bool = False) -> None:
        """Copy this file (into ``dst`` when that is a folder) or this folder's files, across file
        systems too."""
        target = dst if isinstance(dst, ObjectStoragePath) else ObjectStoragePath(dst)
        if self.is_file():
            if target.is_dir():
                target = target / self.name
            with self.open("rb") as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink)
            return
        if not self.is_dir():
            raise FileNotFoundError(str(self))
        if target.is_file():
            raise ValueError("Cannot copy directory to a file.")
        target.mkdir(parents=True, exist_ok=True)
        for child in self.iterdir():
            if child.is_file() or recursive:
                child.copy(target / child.name, recursive=recursive)

    def move(self, dst: str | ObjectStoragePath, recursive: bool = False) -> None:
        """Copy, then remove this path."""
        self.copy(dst, recursive=True)
        if self.is_dir():
            self.rmdir(recursive=True)
        else:
            self.unlink()
