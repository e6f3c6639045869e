"""One typed ``Settings`` object, built by entry points from ``TRADEWIND_*`` environment variables.

No module reads the environment at import time: the CLI (or a test) calls ``Settings.from_env()``
once and passes the result along. With nothing set, tradewind uses an SQLite metastore under the
home folder and the DAG folder beside it, so ``tradewind standalone`` works with no server.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from tradewind.errors import ConfigurationError

ENV_PREFIX = "TRADEWIND_"
MIN_TASK_LOG_MAX_BYTES = 1024


def option(default: Any, help_text: str) -> Any:
    """A settings field: its default and the one-line description ``tradewind info`` shows."""
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class Settings:
    """Every option has a default, a one-line description and a ``TRADEWIND_<NAME>`` variable."""

    home: Path = field(
        default_factory=lambda: Path.home() / "tradewind",
        metadata={"help": "Folder for the embedded metastore, logs and the default DAG folder."},
    )
    dags_folder: Path | None = option(None, "Folder scanned for DAG files (default: HOME/dags).")
    plugins_folder: Path | None = option(
        None, "Folder of AirflowPlugin files (custom timetables, macros) every role loads (default: HOME/plugins)."
    )
    database_url: str | None = option(None, "SQLAlchemy URL of the metastore (default: SQLite under HOME).")
    broker_url: str | None = option(None, "Celery broker URL, e.g. redis://127.0.0.1:6379/0 (default: embedded).")
    catchup_by_default: bool = option(False, "Catchup for DAGs that do not say (Airflow 2 used True).")
    dags_are_paused_at_creation: bool = option(True, "New DAGs start paused unless they say otherwise.")
    xcom_max_bytes: int = option(1_048_576, "Largest XCom value, in bytes of JSON.")
    task_log_max_bytes: int = option(
        4_194_304, "Most bytes of one try's log kept in the metastore: its beginning and its end, cut between."
    )
    max_map_length: int = option(1024, "Most task instances one mapped task may expand into (max_map_length).")
    dagbag_import_timeout: float = option(30.0, "Seconds a DAG file may take to import.")
    dag_callback_timeout: float = option(
        60.0, "Seconds a DAG's on_success/on_failure callback may take (in a child process of the scheduler)."
    )
    default_pool_slots: int = option(128, "Slots of default_pool when the metastore is created.")
    parallelism: int = option(32, "Task instances queued or running at once, all schedulers together.")
    scheduler_heartbeat_sec: float = option(1.0, "Seconds between a scheduler's job heartbeats.")
    dag_dir_list_interval: float = option(2.0, "Seconds between scans of the DAG folder for new, changed, gone files.")
    min_file_process_interval: float = option(
        30.0,
        "Seconds after which a DAG file whose import failed is imported again even if unchanged "
        "(a dependency installed, a variable set may have fixed it).",
    )
    zombie_threshold: float = option(30.0, "Seconds without a heartbeat before a running task instance is a zombie.")
    task_queued_timeout: float = option(60.0, "Seconds a task instance stays queued before it is sent again, same try.")
    scheduler_idle_sleep: float = option(1.0, "Longest a scheduler sleeps when no event wakes it (the timer fallback).")
    max_dagruns_per_loop: int = option(50, "DAG runs a scheduler examines in one loop.")
    worker_heartbeat_interval: float = option(5.0, "Seconds between a running task's heartbeats (workers).")
    killed_task_cleanup_time: float = option(
        60.0,
        "Seconds a task stopped from outside (cleared, marked, past its execution_timeout) gets for its "
        "on_kill before it and every process it started are killed.",
    )
    secret_key: str = option("", "Secret for web sessions (set it in a cluster).")
    fernet_key: str = option(
        "",
        "Fernet key(s) encrypting connection passwords and variables; comma-separated: "
        "the first encrypts, any decrypts (see `tradewind rotate-fernet-key`).",
    )
    secrets_backend: str = option(
        "",
        "Import path of a secrets backend class asked for connections and variables "
        "before the environment and the metastore (Airflow's [secrets] backend).",
    )
    secrets_backend_kwargs: str = option("", "JSON object of keyword arguments for TRADEWIND_SECRETS_BACKEND.")
    sensitive_names: str = option(
        "",
        "Comma-separated words that mark a variable key, a connection extra's field, an XCom key or a run "
        "conf's key as secret, besides the defaults (Airflow's sensitive_var_conn_names).",
    )
    log_level: str = option("INFO", "Logging level of tradewind's own processes.")
    sql_echo: bool = option(False, "Log every SQL statement (debugging).")
    webserver_host: str = option("0.0.0.0", "Address the web UI and REST API listen on.")
    webserver_port: int = option(8080, "Port of the web UI and REST API.")
    webserver_workers: int = option(
        1,
        "Gunicorn worker processes of the webserver (forked from a master that built the app; one "
        "process of threads serves a team, as a page is mostly waiting on the metastore).",
    )
    webserver_worker_threads: int = option(8, "Threads per webserver worker process.")
    webserver_cookie_secure: bool = option(False, "Send the session cookie over HTTPS only (set behind TLS).")
    webserver_session_minutes: int = option(720, "Minutes a web login lasts.")
    webserver_max_request_bytes: int = option(1_048_576, "Largest request body the webserver accepts.")
    webserver_test_connection: bool = option(False, "Let Admins test a connection from the webserver (REST API).")
    login_max_failures: int = option(
        5, "Failed logins of one account before each further attempt must wait (the login back-off)."
    )
    login_max_failures_per_address: int = option(
        20, "Failed logins from one client address, to any accounts, before its attempts must wait."
    )
    login_backoff_seconds: float = option(
        1.0, "Seconds the first attempt past a limit waits after the last failure; doubles with each failure."
    )
    login_backoff_max_seconds: float = option(300.0, "Longest wait of the login back-off, in seconds.")
    login_failure_window: float = option(
        3600.0, "Seconds after its last failure that an account's or address's failed logins are forgotten."
    )
    api_token_ttl_days: int = option(90, "Days an API token from `users create --token` is valid (0: no expiry).")
    health_check_threshold: float = option(30.0, "Seconds after which a scheduler or worker heartbeat is stale.")
    triggerer_capacity: int = option(1000, "Most triggers one triggerer runs at once (deferred tasks it holds).")
    triggerer_heartbeat_interval: float = option(1.0, "Seconds between a triggerer's heartbeats and looks for work.")
    triggerer_health_check_threshold: float = option(
        30.0, "Seconds without a heartbeat after which a triggerer is dead and its triggers go to another."
    )
    smtp_host: str = option("localhost", "SMTP server that task emails go through (EmailOperator, email_on_failure).")
    smtp_port: int = option(25, "Port of the SMTP server.")
    smtp_user: str = option("", "SMTP login (none when empty; the smtp_default connection's login wins).")
    smtp_password: str = option("", "SMTP password (the smtp_default connection's password wins).")
    smtp_starttls: bool = option(True, "Upgrade the SMTP connection with STARTTLS.")
    smtp_ssl: bool = option(False, "Connect to the SMTP server over SSL (SMTPS, usually port 465).")
    smtp_mail_from: str = option("tradewind@example.com", "Sender of task emails that name none.")
    smtp_timeout: int = option(30, "Seconds to wait for the SMTP server.")
    smtp_retry_limit: int = option(5, "Attempts to reach the SMTP server before an email fails.")

    def __post_init__(self) -> None:
        if self.task_log_max_bytes < MIN_TASK_LOG_MAX_BYTES:
            raise ConfigurationError(
                f"TRADEWIND_TASK_LOG_MAX_BYTES ({self.task_log_max_bytes}) must be at least "
                f"{MIN_TASK_LOG_MAX_BYTES}, room for the lines kept and the note of what was cut"
            )
        # A worker kills its own tries after half the threshold without a heartbeat getting through
        # (self-fencing): that must be at least two heartbeats, or one late heartbeat would kill
        # healthy tries.
        if self.zombie_threshold < 4 * self.worker_heartbeat_interval:
            raise ConfigurationError(
                f"TRADEWIND_ZOMBIE_THRESHOLD ({self.zombie_threshold:g} s) must be at least four times "
                f"TRADEWIND_WORKER_HEARTBEAT_INTERVAL ({self.worker_heartbeat_interval:g} s)"
            )

    @property
    def resolved_dags_folder(self) -> Path:
        return self.dags_folder if self.dags_folder is not None else self.home / "dags"

    @property
    def resolved_plugins_folder(self) -> Path:
        return self.plugins_folder if self.plugins_folder is not None else self.home / "plugins"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'tradewind.db'}"

    @property
    def sensitive_name_list(self) -> list[str]:
        """``sensitive_names`` as words, blanks dropped."""
        return [word.strip() for word in self.sensitive_names.split(",") if word.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``TRADEWIND_*`` variables; a value that cannot be used is a clear error."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, str(f.type), raw)
        return cls(**values)

    @classmethod
    def describe(cls) -> list[tuple[str, str]]:
        """(variable name, description) for every option, for ``--help`` and the env example."""
        return [(ENV_PREFIX + f.name.upper(), f.metadata.get("help", "")) for f in fields(cls)]


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse(name: str, type_name: str, raw: str) -> Any:
    variable = ENV_PREFIX + name.upper()
    if "Path" in type_name:
        return Path(raw).expanduser()
    if type_name == "bool":
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigurationError(f"{variable}={raw!r} is not a boolean (use true or false)")
    if type_name in ("int", "float"):
        try:
            return int(raw) if type_name == "int" else float(raw)
        except ValueError:
            raise ConfigurationError(f"{variable}={raw!r} is not a number") from None
    return raw
