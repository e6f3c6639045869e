"""The Airflow provider packages whose modules tradewind serves itself (see ``airflow_shim``), as
``tradewind providers list`` and the REST API's providers endpoint show them: Airflow's package
names, tradewind's version, since the code is tradewind's own."""

from __future__ import annotations

from dataclasses import dataclass

from tradewind.compat.airflow_shim import SUPPORTED_MODULES
from tradewind.version import __version__

_PREFIX = "airflow.providers."
#: What each served provider brings, as a line of ``providers list``.
_DESCRIPTIONS = {
    "common.sql": "Common SQL: DbApiHook, SQLExecuteQueryOperator, the SQL check operators, SqlSensor",
    "http": "HTTP: HttpHook, HttpOperator (SimpleHttpOperator), HttpSensor",
    "smtp": "SMTP: SmtpHook, EmailOperator",
    "mysql": "MySQL: MySqlHook",
    "postgres": "PostgreSQL: PostgresHook, PostgresOperator",
    "sqlite": "SQLite: SqliteHook, SqliteOperator",
}


@dataclass(frozen=True)
class Provider:
    package_name: str
    description: str
    version: str


def served_providers() -> list[Provider]:
    """Every provider package a DAG file may import from, by package name."""
    names = set()
    for module in SUPPORTED_MODULES:
        if not module.startswith(_PREFIX):
            continue
        parts = module[len(_PREFIX) :].split(".")
        if parts[0] != "common":
            names.add(parts[0])
        elif len(parts) > 1:  # airflow.providers.common is a namespace; its packages are one level down
            names.add(f"common.{parts[1]}")
    return [
        Provider(
            package_name="apache-airflow-providers-" + name.replace(".", "-"),
            description=f"{_DESCRIPTIONS.get(name, name)} (built into tradewind)",
            version=__version__,
        )
        for name in sorted(names, key=lambda n: n.replace(".", "-"))
    ]
