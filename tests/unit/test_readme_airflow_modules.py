"""The README's table of Airflow 2 modules says exactly what the airflow import shim serves: every
module and name it lists imports, every served module (providers aside: they have their own table)
is listed, and the modules it says are deliberately not served fail to import, naming themselves."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from test_airflow_shim import shim  # noqa: F401  (the shim installed on a clean slate)

from tradewind.compat import airflow_shim

README = Path(__file__).resolve().parents[2] / "README.md"
_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")
_ENVIRONMENT_VARIABLE = re.compile(r"^[A-Z][A-Z0-9]*__[A-Z0-9_]+$")


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("### Airflow 2 modules and names served", 1)[1].split("\n#", 1)[0]


def _modules(cell: str) -> list[str]:
    """The cell's modules; ``.python`` after ``airflow.operators.bash`` is ``airflow.operators.python``."""
    modules: list[str] = []
    for token in re.findall(r"`([^`]+)`", cell):
        if token.startswith("."):
            token = modules[-1].rsplit(".", 1)[0] + token
        modules.append(token)
    return modules


def _names(cell: str) -> list[str]:
    """The importable names a cell lists: ``X(Async)`` is two; ``.python`` (an attribute) and
    ``AIRFLOW__SECTION__KEY`` (an environment variable) none."""
    names: list[str] = []
    for token in re.findall(r"`([^`]+)`", cell):
        async_pair = re.fullmatch(r"(\w+)\(Async\)", token)
        if async_pair:
            names += [async_pair.group(1), async_pair.group(1) + "Async"]
        elif _IDENTIFIER.match(token) and not _ENVIRONMENT_VARIABLE.match(token):
            names.append(token)
    return names


def _rows() -> list[tuple[list[str], list[str]]]:
    rows = []
    for line in _section().splitlines():
        cells = line.split("|")
        if line.startswith("| `") and len(cells) >= 4:
            rows.append((_modules(cells[1]), _names(cells[2])))
    return rows


ROWS = _rows()


def test_the_table_is_found_and_not_empty():
    assert len(ROWS) >= 10


@pytest.mark.parametrize(("modules", "names"), ROWS, ids=lambda value: value[0] if isinstance(value, list) else "")
def test_every_listed_module_is_served_and_every_listed_name_imports_from_one_of_them(modules, names):
    unserved = [module for module in modules if module not in airflow_shim.SUPPORTED_MODULES]
    assert unserved == [], f"the README lists modules the shim does not serve: {unserved}"
    exports = {name for module in modules for name in airflow_shim._SERVED[module].exports}
    missing = [name for name in names if name not in exports]
    assert missing == [], f"the README lists names none of {modules} serves: {missing}"


def test_every_served_module_with_names_is_in_the_table():
    listed = {module for modules, _ in ROWS for module in modules}
    served = {
        module
        for module, served in airflow_shim._SERVED.items()
        if served.exports and not module.startswith("airflow.providers.")
    }
    assert sorted(served - listed) == [], "add these modules to the README's table"


def _deliberately_not_served() -> list[str]:
    sentence = _section().split("Deliberately not served:", 1)[1].split("\n\n", 1)[0]
    return [module for module in re.findall(r"`(airflow[\w.]*)`", sentence)]


@pytest.mark.usefixtures("shim")
def test_the_modules_the_readme_says_are_not_served_fail_naming_themselves():
    refused = _deliberately_not_served()
    assert "airflow.operators.subdag" in refused
    for module in refused:
        with pytest.raises(ModuleNotFoundError) as raised:
            importlib.import_module(module)
        assert f"No module named {module!r}: tradewind does not provide this Airflow module" in str(raised.value)


@pytest.mark.usefixtures("shim")
def test_a_subdag_import_is_an_import_error_naming_the_module():
    with pytest.raises(ModuleNotFoundError, match=r"'airflow\.operators\.subdag': tradewind does not provide"):
        from airflow.operators.subdag import SubDagOperator  # noqa: F401


@pytest.mark.usefixtures("shim")
def test_a_provider_hook_tradewind_does_not_serve_is_an_import_error_naming_its_module():
    with pytest.raises(ImportError, match=r"'airflow\.providers\.amazon\.aws\.hooks\.s3': tradewind does not provide"):
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # noqa: F401
