"""What people are shown of an XCom value.

- ``xcom.display_value``: the pushed value with the secrets the task's process had fetched (a
  connection's password, a secret variable, anything given to ``mask_secret``) and the values of
  secret-looking keys replaced by ``***``; NULL when nothing had to be hidden. Downstream tasks
  pull ``value``; the UI, the API and the CLI show this.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-12
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("xcom") as batch:
        batch.add_column(sa.Column("display_value", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("xcom") as batch:
        batch.drop_column("display_value")
