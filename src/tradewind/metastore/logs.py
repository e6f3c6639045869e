"""Task logs in the metastore, as numbered chunks per try, so any UI can tail a running task."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from tradewind.metastore.models import TaskLog
from tradewind.metastore.task_instances import TIKey


def append_log(
    session: Session, key: TIKey, try_number: int, text: str, *, now: datetime | None = None,
    seq: int | None = None,
) -> int:
    """Append a chunk to the try's log; returns its seq (0, 1, 2 … per try).

    One writer per try (its worker) is assumed; a unique index turns a second, racing writer's
    chunk into an IntegrityError instead of two chunks with one seq.
    """
    if seq is None:
        # A writer that keeps count (the worker running the try) passes ``seq`` and spares the read.
        last = session.scalar(select(func.max(TaskLog.seq)).where(*_where(key, try_number)))
        seq = 0 if last is None else last + 1
    session.add(TaskLog(
        dag_id=key.dag_id, run_id=key.run_id, task_id=key.task_id, map_index=key.map_index,
        try_number=try_number, seq=seq, content=text, created_at=now or datetime.now(UTC),
    ))
    session.flush()
    return seq


def next_seq(session: Session, key: TIKey, try_number: int) -> int:
    """The seq the try's next chunk gets (a rescheduled sensor's try goes on writing its log)."""
    last = session.scalar(select(func.max(TaskLog.seq)).where(*_where(key, try_number)))
    return 0 if last is None else last + 1


def read_log(session: Session, key: TIKey, try_number: int, *, after_seq: int = -1) -> tuple[str, int]:
    """The try's log text after chunk ``after_seq``, and the last seq read (``after_seq`` if none),
    to pass back as ``after_seq`` on the next poll."""
    rows = session.execute(
        select(TaskLog.seq, TaskLog.content).where(*_where(key, try_number), TaskLog.seq > after_seq)
        .order_by(TaskLog.seq)
    ).all()
    if not rows:
        return "", after_seq
    return "".join(row.content for row in rows), rows[-1].seq


def _where(key: TIKey, try_number: int) -> tuple[ColumnElement[bool], ...]:
    return (
        TaskLog.dag_id == key.dag_id, TaskLog.run_id == key.run_id, TaskLog.task_id == key.task_id,
        TaskLog.map_index == key.map_index, TaskLog.try_number == try_number,
    )
