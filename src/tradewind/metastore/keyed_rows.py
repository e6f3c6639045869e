"""A kind of row named by a key a person chooses and holding secret values — connections by id,
variables by key: how such a key is checked, and how the rows are listed, read and deleted by it.
``connections`` and ``variables`` each describe their kind with one ``KeyedRows``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.errors import AirflowNotFoundException
from tradewind.metastore import secret_values
from tradewind.metastore.models import ID_LENGTH, Base

RowT = TypeVar("RowT", bound=Base)
ValueT = TypeVar("ValueT")


@dataclass(frozen=True)
class KeyedRows(Generic[RowT, ValueT]):
    """The rows of ``model``, keyed by its column ``key``; ``decode`` makes what callers get of a row."""

    model: type[RowT]
    #: The key column, also the key's name in values, request bodies and audit entries.
    key: str
    #: What one row is called in messages ("connection"), and what its key is called ("id").
    noun: str
    key_name: str
    not_found: type[AirflowNotFoundException]
    decode: Callable[[secret_values.Keyring, RowT], ValueT]

    def read_all(self, session: Session) -> list[ValueT]:
        """Every row, in key order."""
        keyring = secret_values.keyring_for(session)
        rows = session.scalars(select(self.model).order_by(getattr(self.model, self.key)))
        return [self.decode(keyring, row) for row in rows]

    def read(self, session: Session, key: str) -> ValueT:
        """The row named ``key``; raises ``not_found``."""
        return self.decode(secret_values.keyring_for(session), self._existing(session, key))

    def delete(self, session: Session, key: str) -> None:
        """Delete the row named ``key``; raises ``not_found``."""
        session.delete(self._existing(session, key))
        session.flush()

    def _existing(self, session: Session, key: str) -> RowT:
        row = session.get(self.model, key, populate_existing=True)
        if row is None:
            raise self.not_found(f"no {self.noun} with {self.key_name} {key!r}")
        return row

    def checked_key(self, key: str) -> str:
        """``key`` without surrounding blanks; ``ValueError`` when that is empty or cannot be stored."""
        key = (key or "").strip()
        if not key:
            article = "an" if self.key_name[0] in "aeiou" else "a"
            raise ValueError(f"a {self.noun} needs {article} {self.key_name}")
        if len(key) > ID_LENGTH or not key.isprintable():
            raise ValueError(f"{self.noun} {self.key_name} {key!r} must be at most {ID_LENGTH} printable characters")
        return key

    def key_of(self, value: ValueT) -> str:
        found: Any = getattr(value, self.key)
        return str(found)
