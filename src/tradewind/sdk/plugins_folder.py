"""Loading the plugins folder (``TRADEWIND_PLUGINS_FOLDER``, Airflow's ``$AIRFLOW_HOME/plugins``).

Every ``.py`` file under the folder (minus what an ``.airflowignore`` excludes) is imported under
its file name, the folder being on ``sys.path`` as in Airflow, so a DAG file's
``from my_timetables import AfterWorkday`` and the plugin see the same class. Each
``AirflowPlugin`` subclass found is registered. A file that fails — a syntax error, an exception,
a plugin without a name — is logged and recorded with its reason; the other files still load and
the process goes on.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import sys
from pathlib import Path
from types import ModuleType

from tradewind.errors import PluginError
from tradewind.sdk import plugins
from tradewind.sdk.dag_folder import list_dag_files

logger = logging.getLogger(__name__)


def load_folder(folder: Path) -> None:
    """Import every plugin file of ``folder`` and register its plugins."""
    if not folder.is_dir():
        return
    from tradewind.compat import airflow_shim

    airflow_shim.install()  # plugin files import airflow.plugins_manager, airflow.timetables…
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    for path in list_dag_files(folder, safe_mode=False):
        try:
            module = _import(path, folder)
            found = [
                value
                for value in vars(module).values()
                if inspect.isclass(value)
                and issubclass(value, plugins.AirflowPlugin)
                and value is not plugins.AirflowPlugin
                and value.__module__ == module.__name__
            ]
            for cls in found:
                plugins.register(cls(), str(path))
        except Exception as exc:  # noqa: BLE001 - a broken plugin is that file's error, never the role's
            logger.debug("plugin file %s failed", path, exc_info=True)
            plugins.record_error(str(path), f"{type(exc).__name__}: {exc}")


def _module_name(path: Path, folder: Path) -> str:
    relative = path.relative_to(folder).with_suffix("")
    return ".".join(relative.parts)


def _import(path: Path, folder: Path) -> ModuleType:
    name = _module_name(path, folder)
    existing = sys.modules.get(name)
    if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == path.resolve():
        return existing  # a DAG file imported it first: the same classes, not a second copy
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"{path} cannot be imported as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
