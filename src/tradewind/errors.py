"""The tradewind exception family, with the Airflow names DAG authors already raise and catch."""

from __future__ import annotations


class TradewindException(Exception):
    """Base of every error tradewind raises on purpose."""


# Airflow's base class name, so `except AirflowException` in user code keeps working.
AirflowException = TradewindException


class DagDefinitionError(TradewindException):
    """A DAG file describes something that cannot run (cycle, duplicate id, bad schedule…)."""


class DagCycleError(DagDefinitionError):
    """The task graph has a cycle; the message names the tasks on it."""


class DuplicateTaskIdError(DagDefinitionError):
    """Two tasks in one DAG share a task id."""


# Airflow's name for the same error.
DuplicateTaskIdFound = DuplicateTaskIdError


class InvalidScheduleError(DagDefinitionError):
    """A schedule that is not None, a preset, a valid cron string or a timedelta."""


class TimetableNotRegistered(InvalidScheduleError):
    """A DAG's custom timetable class is not registered by any plugin in this process."""


class PluginError(TradewindException):
    """A plugin file or ``AirflowPlugin`` that cannot be loaded; the message names it."""


class TaskAlreadyInDagError(DagDefinitionError):
    """A task was added to a second DAG."""


class InvalidTriggerRuleError(DagDefinitionError):
    """A trigger rule name that tradewind does not know."""


class DagNotFound(TradewindException):
    """No DAG with that id is known."""


class DatasetNotFound(TradewindException):
    """No dataset has this URI (no DAG names it and no event was ever sent for it)."""


class TaskNotFound(TradewindException):
    """No task with that id exists in the DAG."""


class DagRunNotFound(TradewindException):
    """No run with that id exists for the DAG."""


class DagRunAlreadyExists(TradewindException):
    """A run with that run id or logical date already exists."""


class ParamValidationError(TradewindException):
    """A param or a run's conf does not fit what the DAG declares."""


class AirflowSkipException(TradewindException):
    """Raised by a task to end itself as skipped."""


class AirflowFailException(TradewindException):
    """Raised by a task to fail at once, without using its remaining retries."""


class AirflowSensorTimeout(AirflowFailException):
    """A sensor waited longer than its ``timeout``; fails without retry, as in Airflow."""


class AirflowTaskTimeout(TradewindException):
    """A try ran longer than the task's ``execution_timeout``; it may be retried."""


class AirflowRescheduleException(TradewindException):
    """A reschedule-mode sensor hands back its slot until ``reschedule_date``."""

    def __init__(self, reschedule_date):  # type: ignore[no-untyped-def]
        super().__init__(f"reschedule at {reschedule_date.isoformat()}")
        self.reschedule_date = reschedule_date


class TaskDeferred(BaseException):
    """Raised by ``BaseOperator.defer``: the try hands its worker slot back and waits, in a
    triggerer, for ``trigger`` to fire; the task then resumes by calling ``method_name``.

    A ``BaseException``, as in Airflow, so a task's ``except Exception`` does not swallow it."""

    def __init__(self, *, trigger, method_name, kwargs=None, timeout=None):  # type: ignore[no-untyped-def]
        super().__init__()
        self.trigger = trigger
        self.method_name = method_name
        self.kwargs = kwargs
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"<TaskDeferred trigger={self.trigger} method={self.method_name}>"


class TaskDeferralError(TradewindException):
    """A deferred task's trigger failed or timed out; the task fails (or is retried)."""


class XComValueError(TradewindException):
    """An XCom value that is not JSON-serialisable or larger than the configured limit."""


class DagFileImportError(TradewindException):
    """A DAG file could not be imported; the message names the file and the problem."""


class MetastoreError(TradewindException):
    """The metastore cannot be reached or is not migrated."""


class ConfigurationError(TradewindException):
    """A TRADEWIND_* setting has a value that cannot be used."""


class NotAJsonObject(TradewindException):
    """Text that must hold a JSON object (a file, an option, a setting) does not; the message names
    the text. ``found`` is the JSON type it holds instead, or None when it is not JSON at all."""

    def __init__(self, message: str, found: str | None = None) -> None:
        super().__init__(message)
        self.found = found


class UserNotFound(TradewindException):
    """No web user with that name exists."""


class UserAlreadyExists(TradewindException):
    """A web user with that name exists already."""


class AirflowNotFoundException(TradewindException):
    """Something named by the caller (a connection, a variable) is not defined; Airflow's name."""


class VariableNotFound(AirflowNotFoundException):
    """No variable with that key exists."""


class ConnectionNotFound(AirflowNotFoundException):
    """No connection with that id exists."""


class SecretDecryptionError(ConfigurationError):
    """A stored secret value cannot be decrypted with TRADEWIND_FERNET_KEY; the message names its row."""


class PoolNotFound(TradewindException):
    """No pool with that name exists."""


class DagStillRunning(TradewindException):
    """A DAG cannot be deleted while a worker runs one of its task instances."""


class InertArgumentWarning(UserWarning):
    """A DAG file set an Airflow argument that tradewind accepts but does not act on yet."""


class InvalidInput(TradewindException, ValueError):
    """A value given by a person or a program that tradewind refuses (too long, out of range, of a
    form it cannot store); the message names the value and says what is wrong. A 400 in the API."""


class InvalidRunId(InvalidInput):
    """A run id with characters Airflow does not allow in one (``allowed_run_id_pattern``)."""
