"""``conf``: Airflow's configuration object as task code, templates (``{{ conf }}``) and DAG files
(``from airflow.configuration import conf``) see it, answered from tradewind's settings.

``conf.get(section, key, fallback=...)`` looks up ``AIRFLOW__SECTION__KEY`` in the environment
first, as Airflow does, then the tradewind setting that plays the part of Airflow's option (the
table below, then any setting of the same name), then ``fallback``. Values come back as strings,
as from Airflow's parser; ``getboolean``/``getint``/``getfloat`` convert them. Secrets (the
database and broker URLs, the Fernet and secret keys) are never given out.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from tradewind.errors import ConfigurationError

_NOT_GIVEN: Any = object()

#: (Airflow section, option) -> the tradewind setting that plays its part.
SETTING_FOR: Mapping[tuple[str, str], str] = {
    ("core", "dags_folder"): "resolved_dags_folder",
    ("core", "parallelism"): "parallelism",
    ("core", "dagbag_import_timeout"): "dagbag_import_timeout",
    ("core", "max_map_length"): "max_map_length",
    ("core", "dags_are_paused_at_creation"): "dags_are_paused_at_creation",
    ("core", "killed_task_cleanup_time"): "killed_task_cleanup_time",
    ("core", "dag_file_processor_timeout"): "dagbag_import_timeout",
    ("scheduler", "catchup_by_default"): "catchup_by_default",
    ("scheduler", "dag_dir_list_interval"): "dag_dir_list_interval",
    ("scheduler", "min_file_process_interval"): "min_file_process_interval",
    ("scheduler", "scheduler_heartbeat_sec"): "scheduler_heartbeat_sec",
    ("scheduler", "max_dagruns_per_loop_to_schedule"): "max_dagruns_per_loop",
    ("scheduler", "task_queued_timeout"): "task_queued_timeout",
    ("scheduler", "scheduler_zombie_task_threshold"): "zombie_threshold",
    ("webserver", "web_server_host"): "webserver_host",
    ("webserver", "web_server_port"): "webserver_port",
    ("webserver", "workers"): "webserver_workers",
    ("logging", "logging_level"): "log_level",
}

#: Options whose value is fixed in tradewind.
CONSTANTS: Mapping[tuple[str, str], str] = {
    ("core", "executor"): "CeleryExecutor",
    ("core", "default_timezone"): "utc",
    ("core", "load_examples"): "False",
    ("core", "unit_test_mode"): "False",
}

#: Settings never handed to task code, whatever the section asked for.
SECRET_SETTINGS = frozenset(
    {"database_url", "broker_url", "fernet_key", "secret_key", "secrets_backend_kwargs", "smtp_password"}
)

_TRUE = {"true", "t", "1", "yes", "y", "on"}
_FALSE = {"false", "f", "0", "no", "n", "off"}


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


class AirflowConfigParser:
    """Airflow's ``conf`` over tradewind's settings; ``settings`` gives them when asked (so the
    object can exist before the process knows its settings)."""

    def __init__(self, settings: Callable[[], Any] | None = None, environ: Mapping[str, str] | None = None) -> None:
        self._settings = settings or _current_settings
        self._environ = environ

    def get(self, section: str, key: str, fallback: Any = _NOT_GIVEN, **kwargs: Any) -> Any:
        fallback = kwargs.pop("default", fallback)
        section, key = section.lower(), key.lower()
        environ = self._environ if self._environ is not None else os.environ
        from_env = environ.get(f"AIRFLOW__{section.upper()}__{key.upper()}")
        if from_env is not None:
            return from_env
        if (section, key) in CONSTANTS:
            return CONSTANTS[(section, key)]
        name = SETTING_FOR.get((section, key), key)
        if name not in SECRET_SETTINGS:
            settings = self._settings()
            if settings is not None and hasattr(settings, name):
                value = getattr(settings, name)
                if value is not None:
                    return _as_text(value)
        if fallback is not _NOT_GIVEN:
            return fallback
        raise ConfigurationError(f"section/key [{section}/{key}] not found in config")

    def has_option(self, section: str, key: str) -> bool:
        try:
            self.get(section, key)
        except ConfigurationError:
            return False
        return True

    def getboolean(self, section: str, key: str, fallback: Any = _NOT_GIVEN, **kwargs: Any) -> bool:
        value = self.get(section, key, fallback, **kwargs)
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ConfigurationError(f'Failed to convert value to bool. Please check "{key}" key in "{section}" section.')

    def getint(self, section: str, key: str, fallback: Any = _NOT_GIVEN, **kwargs: Any) -> int:
        value = self.get(section, key, fallback, **kwargs)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigurationError(
                f'Failed to convert value to int. Please check "{key}" key in "{section}" section. '
                f'Current value: "{value}".'
            ) from None

    def getfloat(self, section: str, key: str, fallback: Any = _NOT_GIVEN, **kwargs: Any) -> float:
        value = self.get(section, key, fallback, **kwargs)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigurationError(
                f'Failed to convert value to float. Please check "{key}" key in "{section}" section. '
                f'Current value: "{value}".'
            ) from None

    def __repr__(self) -> str:
        return "<AirflowConfigParser over tradewind's settings>"


def _current_settings() -> Any:
    from tradewind.sdk import runtime_services

    try:
        return runtime_services.current().settings
    except ConfigurationError:  # no services in this process: only the environment and fallbacks answer
        return None


#: The process-wide ``conf`` (``airflow.configuration.conf``).
conf = AirflowConfigParser()
