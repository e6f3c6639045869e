"""Importing DAG files: find them in a folder, import one, collect and validate its DAGs.

Any failure — a syntax error, a cycle, a bad cron, an Airflow module tradewind does not provide —
becomes a one-line message naming the file, plus the traceback for the UI; it never escapes to
take down the caller. This module runs user code, so only workers, the dag processor's child and
CLI commands that run tasks call it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tradewind.errors import DagFileImportError, InertArgumentWarning, TradewindException
from tradewind.sdk import dag_context, plugins
from tradewind.sdk.dag import DAG
from tradewind.sdk.dag_folder import file_hash, list_dag_files  # noqa: F401 - re-exported
from tradewind.sdk.time_limit import time_limit

logger = logging.getLogger(__name__)


@dataclass
class DagFileResult:
    """What importing one file gave: its DAGs, or the error that stopped it."""

    path: str
    dags: list[DAG] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None
    duration: float = 0.0
    #: Airflow arguments the file set that tradewind does not act on yet, one line each.
    warnings: list[str] = field(default_factory=list)


def load_dag_file(
    path: str | Path,
    *,
    timeout: float | None = None,
    dags_folder: str | Path | None = None,
) -> DagFileResult:
    """Import ``path`` and return its validated DAGs, or a one-line error naming the file."""
    from tradewind.compat import airflow_shim

    path = Path(path).resolve()
    result = DagFileResult(path=str(path))
    started = time.monotonic()
    airflow_shim.install()
    # A DAG file may import its timetable from the plugins folder; the plugins come first.
    plugins.ensure_loaded()
    if dags_folder is not None and str(dags_folder) not in sys.path:
        # DAG files import their helper modules from the DAG folder, as in Airflow.
        sys.path.append(str(dags_folder))
    dag_context.reset()
    module_name = "tradewind_dagfile_" + hashlib.sha1(str(path).encode()).hexdigest()[:16]
    try:
        with _time_limit(timeout, path), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InertArgumentWarning)
            module = _import(path, module_name)
        result.warnings = _inert_argument_lines(path, caught)
        dags = _collect(module)
        _check(dags, path)
        result.dags = dags
    except BaseException as exc:  # noqa: BLE001 - user code may raise anything, even SystemExit
        if isinstance(exc, KeyboardInterrupt):
            raise
        result.error = describe_error(path, exc)
        result.traceback = "".join(traceback.format_exception(exc))
        sys.modules.pop(module_name, None)
    finally:
        dag_context.reset()
        result.duration = time.monotonic() - started
    return result


def _inert_argument_lines(path: Path, caught: list[warnings.WarningMessage]) -> list[str]:
    """Each inert-argument warning once, logged with the file's name; other warnings go on as usual."""
    lines: list[str] = []
    for warning in caught:
        if not issubclass(warning.category, InertArgumentWarning):
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
            continue
        line = str(warning.message)
        if line not in lines:
            lines.append(line)
            logger.warning("%s: %s", path, line)
    return lines


def _import(path: Path, module_name: str) -> Any:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise DagFileImportError(f"{path}: cannot be imported as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def _collect(module: Any) -> list[DAG]:
    found: list[DAG] = []
    for dag in [*dag_context.collect_registered(), *vars(module).values()]:
        if isinstance(dag, DAG) and not any(d is dag for d in found):
            found.append(dag)
    return found


def _check(dags: list[DAG], path: Path) -> None:
    seen: set[str] = set()
    for dag in dags:
        if dag.dag_id in seen:
            raise DagFileImportError(f"the DAG id {dag.dag_id!r} is defined twice in this file")
        seen.add(dag.dag_id)
        dag.fileloc = str(path)
        dag.validate()


def lost_import_error(path: str | Path, *, timed_out: bool, timeout: float, exit_code: int | None) -> str:
    """The import error of a file whose importing process ran past the time limit (and was
    killed) or died before it answered."""
    if timed_out:
        return (
            f"{path}: DagFileImportError: importing the file took longer than {timeout:g} s "
            "(dagbag_import_timeout); the import was killed"
        )
    return f"{path}: the process importing the file died (exit code {exit_code}) before it finished"


def describe_error(path: Path, exc: BaseException) -> str:
    """One line: the file, where, and what is wrong."""
    if isinstance(exc, SyntaxError):
        return f"{path}:{exc.lineno}: SyntaxError: {exc.msg}"
    if isinstance(exc, TradewindException):
        return f"{path}: {type(exc).__name__}: {exc}"
    line = _user_line(path, exc)
    where = f"{path}:{line}" if line else str(path)
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{where}: {type(exc).__name__}: {message}".rstrip(": ")


def _user_line(path: Path, exc: BaseException) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(path):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _time_limit(seconds: float | None, path: Path) -> Any:
    """Stop an import that takes longer than ``seconds``."""
    return time_limit(
        seconds,
        lambda: DagFileImportError(f"importing the file took longer than {seconds:g} s (dagbag_import_timeout)"),
    )
