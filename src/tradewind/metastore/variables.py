"""Variables: named values that DAGs read at run time, each with an optional description.

Values are stored encrypted with the Fernet key of the session's engine (see ``secret_values``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from tradewind.errors import VariableNotFound
from tradewind.metastore import secret_values
from tradewind.metastore.keyed_rows import KeyedRows
from tradewind.metastore.models import Variable


@dataclass(frozen=True)
class VariableValue:
    key: str
    value: str | None
    description: str | None


def _decode(keyring: secret_values.Keyring, row: Variable) -> VariableValue:
    value = secret_values.decode(keyring, row.val, row.is_encrypted, f"the value of variable {row.key!r}")
    return VariableValue(row.key, value, row.description)


#: Variables by key.
ROWS: KeyedRows[Variable, VariableValue] = KeyedRows(
    Variable, key="key", noun="variable", key_name="key", not_found=VariableNotFound, decode=_decode
)


def list_variables(session: Session) -> list[VariableValue]:
    return ROWS.read_all(session)


def get_variable(session: Session, key: str) -> VariableValue:
    """The variable; raises ``VariableNotFound``."""
    return ROWS.read(session, key)


def set_variable(session: Session, key: str, value: str, description: str | None = None) -> VariableValue:
    """Create the variable or change its value (and its description, when one is given)."""
    key = ROWS.checked_key(key)
    if not isinstance(value, str):
        raise ValueError(f"variable {key!r}: the value must be text")
    row = session.get(Variable, key)
    if row is None:
        row = Variable(key=key)
        session.add(row)
    keyring = secret_values.keyring_for(session)
    row.val, row.is_encrypted = secret_values.encode(keyring, value)
    if description is not None:
        row.description = description or None
    session.flush()
    return _decode(keyring, row)


def delete_variable(session: Session, key: str) -> None:
    """Delete the variable; raises ``VariableNotFound``."""
    ROWS.delete(session, key)
