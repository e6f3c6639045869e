"""``tradewind rotate-fernet-key``: re-encrypt every stored secret with the first Fernet key.

After a new key is put first in ``TRADEWIND_FERNET_KEY`` (the old ones after it), this rewrites each
variable value, connection password and extra under the new key (values stored in clear get
encrypted), so the old keys can then be dropped from the setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.metastore import secret_values
from tradewind.metastore.models import Connection, Variable


@dataclass(frozen=True)
class RotationResult:
    variables: int
    connections: int


def rotate_fernet_key(session: Session) -> RotationResult:
    """Re-encrypt every stored secret with the first key; the rows rewritten, by table."""
    keyring = secret_values.keyring_for(session)
    variables = 0
    for row in session.scalars(select(Variable).order_by(Variable.key).with_for_update()):
        if row.val is not None:
            row.val, row.is_encrypted = secret_values.reencrypt(
                keyring, row.val, row.is_encrypted, f"the value of variable {row.key!r}"
            )
            variables += 1
    connections = 0
    for conn in session.scalars(select(Connection).order_by(Connection.conn_id).with_for_update()):
        name = f"connection {conn.conn_id!r}"
        conn.password, conn.is_encrypted = secret_values.reencrypt(
            keyring, conn.password, conn.is_encrypted, f"the password of {name}"
        )
        conn.extra, conn.is_extra_encrypted = secret_values.reencrypt(
            keyring, conn.extra, conn.is_extra_encrypted, f"the extra of {name}"
        )
        if conn.password is not None or conn.extra is not None:
            connections += 1
    session.flush()
    return RotationResult(variables, connections)
