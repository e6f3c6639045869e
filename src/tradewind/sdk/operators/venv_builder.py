"""Build the Python virtual environment a ``PythonVirtualenvOperator`` task runs in.

With ``uv`` on the PATH the environment is made by ``uv venv`` and filled by ``uv pip install``;
otherwise by the standard library's ``python -m venv`` and the environment's own pip (Airflow
2.10's two install methods). With a cache folder the environment is kept under
``<cache>/venv-<hash>``, the hash being that of everything that shapes it (requirements, pip
options, index URLs, Python version, system site packages): a worker builds it once, under a file
lock so two tasks on one machine do not build it at the same time, and marks it complete only when
the install finished, so a half-built environment (or one whose marker names other settings) is
rebuilt instead of used.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import logging
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from tradewind.errors import AirflowException

__all__ = ["CommandRunner", "VenvSpec", "cached_venv", "is_venv_installed", "prepare_venv", "venv_python"]

log = logging.getLogger("tradewind.task.operators")

#: Runs a command to its end, its output in the task log; returns the exit code.
CommandRunner = Callable[[list[str]], int]

#: Written into a cached environment once its install finished: the settings it was built with.
MARKER_FILE = "install_complete_marker.json"


@dataclass(frozen=True)
class VenvSpec:
    """Everything that makes one virtual environment differ from another."""

    requirements: tuple[str, ...] = ()
    python_version: str | None = None
    system_site_packages: bool = False
    pip_install_options: tuple[str, ...] = ()
    index_urls: tuple[str, ...] | None = None
    #: The Variable ``PythonVirtualenvOperator.cache_key`` (Airflow's): changing it has every cached
    #: environment built again.
    cache_variable: str = ""

    def hash_data(self) -> str:
        """The spec as canonical JSON, requirements sorted: what the cache key is the hash of."""
        data = asdict(self)
        data["requirements"] = sorted(self.requirements)
        return json.dumps(data, sort_keys=True)

    def cache_key(self) -> str:
        return hashlib.md5(self.hash_data().encode(), usedforsecurity=False).hexdigest()[:8]


def is_venv_installed() -> bool:
    """Whether this machine can build virtual environments (``uv``, or ``venv`` with ``ensurepip``)."""
    if shutil.which("uv"):
        return True
    return importlib.util.find_spec("venv") is not None and importlib.util.find_spec("ensurepip") is not None


def venv_python(venv_dir: Path) -> Path:
    """The interpreter of the environment at ``venv_dir``."""
    return venv_dir / "bin" / "python"


def _base_python(python_version: str | None) -> str:
    if not python_version:
        return sys.executable
    found = shutil.which(f"python{python_version}")
    if found is None:
        raise AirflowException(
            f"python_version={python_version!r}: no interpreter `python{python_version}` on this worker's PATH"
        )
    return found


def _index_options(index_urls: Sequence[str] | None) -> list[str]:
    if not index_urls:
        return []
    first, *others = index_urls
    return ["--index-url", first, *(option for url in others for option in ("--extra-index-url", url))]


def prepare_venv(venv_dir: Path, spec: VenvSpec, run: CommandRunner, *, uv: str | None = None) -> Path:
    """Create the environment at ``venv_dir`` and install ``spec.requirements``; its interpreter.
    ``uv`` is the uv program to use (by default the one on the PATH; none: venv and pip)."""
    uv = uv if uv is not None else shutil.which("uv")
    site = ["--system-site-packages"] if spec.system_site_packages else []
    if uv:
        create = [uv, "venv", "--seed", *site, "--python", _base_python(spec.python_version), str(venv_dir)]
    else:
        create = [_base_python(spec.python_version), "-m", "venv", *site, str(venv_dir)]
    _check(run(create), "creating the virtual environment")
    python = venv_python(venv_dir)
    if spec.requirements:
        requirements_file = venv_dir / "requirements.txt"
        requirements_file.write_text("\n".join(spec.requirements) + "\n", encoding="utf-8")
        install = [uv, "pip", "install", "--python", str(python)] if uv else [str(python), "-m", "pip", "install"]
        options = [*spec.pip_install_options, *_index_options(spec.index_urls)]
        _check(run([*install, *options, "-r", str(requirements_file)]), "installing the requirements")
    return python


def _check(exit_code: int, doing: str) -> None:
    if exit_code != 0:
        raise AirflowException(f"{doing} failed with exit code {exit_code}; the command's output is above")


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached_venv(cache_path: Path, spec: VenvSpec, run: CommandRunner) -> Path:
    """The interpreter of the environment for ``spec`` under ``cache_path``, built if not there yet."""
    cache_path.mkdir(parents=True, exist_ok=True)
    venv_dir = cache_path / f"venv-{spec.cache_key()}"
    marker = venv_dir / MARKER_FILE
    with _locked(venv_dir.with_suffix(".lock")):
        if marker.exists():
            built_with = marker.read_text(encoding="utf-8")
            if built_with == spec.hash_data():
                log.info("Re-using cached Python virtual environment in %s", venv_dir)
                return venv_python(venv_dir)
            log.warning(
                "The cached virtual environment %s was built with other settings (%s) than this task asks for "
                "(%s); building it again",
                venv_dir,
                built_with,
                spec.hash_data(),
            )
            shutil.rmtree(venv_dir)
        if venv_dir.exists():
            log.warning("Removing %s: a virtual environment whose build did not finish", venv_dir)
            shutil.rmtree(venv_dir)
        log.info("Building a Python virtual environment in %s", venv_dir)
        try:
            python = prepare_venv(venv_dir, spec, run)
        except BaseException:
            shutil.rmtree(venv_dir, ignore_errors=True)
            raise
        marker.write_text(spec.hash_data(), encoding="utf-8")
        return python
