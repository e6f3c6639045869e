"""tradewind's settings shown as Airflow shows its configuration: options grouped in sections
(``[core]``, ``[scheduler]``…), each named as its ``Settings`` field and set by ``TRADEWIND_<NAME>``;
secrets masked. ``tradewind config`` prints this; the REST API's config endpoint can serve the same.

An option not placed in a section below shows in ``[core]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from tradewind.secrets.masker import REDACTED
from tradewind.settings import ENV_PREFIX, Settings

#: section -> its options, in the order they are listed; ``core`` takes every option not named here.
SECTIONS: Mapping[str, tuple[str, ...]] = {
    "core": (
        "home",
        "dags_folder",
        "dags_are_paused_at_creation",
        "parallelism",
        "default_pool_slots",
        "dagbag_import_timeout",
        "xcom_max_bytes",
        "max_map_length",
        "killed_task_cleanup_time",
        "fernet_key",
    ),
    "database": ("database_url", "sql_echo"),
    "celery": ("broker_url",),
    "scheduler": (
        "catchup_by_default",
        "scheduler_heartbeat_sec",
        "scheduler_idle_sleep",
        "dag_dir_list_interval",
        "max_dagruns_per_loop",
        "zombie_threshold",
        "task_queued_timeout",
        "dag_callback_timeout",
        "health_check_threshold",
    ),
    "worker": ("worker_heartbeat_interval",),
    "triggerer": ("triggerer_capacity", "triggerer_heartbeat_interval", "triggerer_health_check_threshold"),
    "logging": ("log_level", "task_log_max_bytes"),
    "secrets": ("secrets_backend", "secrets_backend_kwargs"),
    "webserver": (
        "secret_key",
        "webserver_host",
        "webserver_port",
        "webserver_workers",
        "webserver_worker_threads",
        "webserver_cookie_secure",
        "webserver_session_minutes",
        "webserver_max_request_bytes",
    ),
    "api": ("api_token_ttl_days",),
}

#: Options whose value is a secret: shown as ``***`` when set.
SECRET_OPTIONS = frozenset({"fernet_key", "secret_key", "secrets_backend_kwargs"})
#: Options holding a URL that may carry a password: shown with the password as ``***``.
URL_OPTIONS = frozenset({"database_url", "broker_url"})


@dataclass(frozen=True)
class ConfigOption:
    section: str
    name: str
    #: The value in force, as text, secrets masked.
    value: str
    #: The default, as text, secrets masked.
    default: str
    #: "env var" when TRADEWIND_<NAME> set it, else "default".
    source: str
    description: str

    @property
    def variable(self) -> str:
        return ENV_PREFIX + self.name.upper()


def config_options(settings: Settings, environ: Mapping[str, str]) -> list[ConfigOption]:
    """Every option by section (in ``SECTIONS``' order), as ``settings`` holds it; ``environ`` says
    which ones an environment variable set."""
    # Defaults under the home in force, so the default DAG folder and metastore are the ones meant.
    defaults = Settings(home=settings.home)
    section_of = {name: section for section, names in SECTIONS.items() for name in names}
    order = {name: i for i, name in enumerate(n for names in SECTIONS.values() for n in names)}
    found = [
        ConfigOption(
            section=section_of.get(f.name, "core"),
            name=f.name,
            value=_shown(f.name, _effective(settings, f.name)),
            default=_shown(f.name, _effective(defaults, f.name) if f.name != "home" else Settings().home),
            source="env var" if environ.get(ENV_PREFIX + f.name.upper()) else "default",
            description=str(f.metadata.get("help", "")),
        )
        for f in fields(Settings)
    ]
    sections = list(SECTIONS)
    return sorted(found, key=lambda o: (sections.index(o.section), order.get(o.name, len(order))))


def _effective(settings: Settings, name: str) -> Any:
    """The value in force: the DAG folder and metastore that an unset option stands for."""
    if name == "dags_folder":
        return settings.resolved_dags_folder
    if name == "database_url":
        return settings.resolved_database_url
    return getattr(settings, name)


def _shown(name: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if name in SECRET_OPTIONS:
        return REDACTED
    if name in URL_OPTIONS:
        from tradewind.redaction import redact

        return redact(str(value))
    return str(value)
