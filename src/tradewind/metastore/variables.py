"""Variables: named values that DAGs read at run time, each with an optional description.

Values are stored encrypted with the Fernet key of the session's engine (see ``secret_values``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.errors import VariableNotFound
from tradewind.metastore import secret_values
from tradewind.metastore.models import ID_LENGTH, Variable


@dataclass(frozen=True)
class VariableValue:
    key: str
    value: str | None
    description: str | None


def list_variables(session: Session) -> list[VariableValue]:
    keyring = secret_values.keyring_for(session)
    return [_decode(keyring, row) for row in session.scalars(select(Variable).order_by(Variable.key))]


def get_variable(session: Session, key: str) -> VariableValue:
    """The variable; raises ``VariableNotFound``."""
    return _decode(secret_values.keyring_for(session), _existing(session, key))


def set_variable(session: Session, key: str, value: str, description: str | None = None) -> VariableValue:
    """Create the variable or change its value (and its description, when one is given)."""
    key = _check_key(key)
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
    session.delete(_existing(session, key))
    session.flush()


def _existing(session: Session, key: str) -> Variable:
    row = session.get(Variable, key, populate_existing=True)
    if row is None:
        raise VariableNotFound(f"no variable with key {key!r}")
    return row


def _check_key(key: str) -> str:
    key = (key or "").strip()
    if not key:
        raise ValueError("a variable needs a key")
    if len(key) > ID_LENGTH or not key.isprintable():
        raise ValueError(f"variable key {key!r} must be at most {ID_LENGTH} printable characters")
    return key


def _decode(keyring: secret_values.Keyring, row: Variable) -> VariableValue:
    value = secret_values.decode(keyring, row.val, row.is_encrypted, f"the value of variable {row.key!r}")
    return VariableValue(row.key, value, row.description)
