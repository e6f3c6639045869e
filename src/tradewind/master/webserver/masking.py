"""What the UI and the API show of secret values: a variable whose key looks secret, a
connection's password, the secret-looking keys of a connection's extra, of a run's conf and of the
audit log's details, and what a task pushed to XCom — secrets as ``***``.

Which names look secret is the secrets masker's rule (Airflow's ``sensitive_var_conn_names``), the
same one that masks task logs and the CLI's output."""

from __future__ import annotations

import json
from typing import Any

from tradewind.secrets.masker import REDACTED, redact_value, should_hide_value_for_key


def variable_value(key: str, value: str | None) -> str | None:
    return REDACTED if value is not None and should_hide_value_for_key(key) else value


def password(value: str | None) -> str | None:
    return REDACTED if value else None


def extra(value: str | None) -> str | None:
    """The extra JSON with the values of secret-looking keys masked; all of it masked when it is
    not JSON, since then there is no telling which part is secret."""
    if not value:
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        return REDACTED
    return json.dumps(redact_value(parsed))


def xcom_value(key: str, value: Any, display_value: Any) -> Any:
    """An XCom as people see it: the copy its task's process stored with the secrets it had fetched
    masked (None: nothing was), and in any case the values under secret-looking keys masked."""
    return redact_value(value if display_value is None else display_value, key)


def details(value: Any) -> Any:
    """A run's conf or an audit-log entry's details, the values under secret-looking keys (nested
    too) masked; the run itself keeps the real conf for its tasks."""
    return redact_value(value)


def restore_masked(edited: Any, stored: Any) -> Any:
    """What an edit form posted, with every ``***`` it sent back unchanged replaced by the stored
    value it stood for (as Airflow's connection form does), so editing one field of a connection
    never overwrites a secret with the mask. Keys and list positions are matched; anything else
    the person typed is kept as typed."""
    if edited == REDACTED and isinstance(stored, str):
        return stored
    if isinstance(edited, dict) and isinstance(stored, dict):
        return {key: restore_masked(value, stored.get(key)) for key, value in edited.items()}
    if isinstance(edited, list) and isinstance(stored, list):
        return [restore_masked(v, stored[i] if i < len(stored) else None) for i, v in enumerate(edited)]
    return edited
