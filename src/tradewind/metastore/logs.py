"""Task logs in the metastore, as numbered chunks per try, so any UI can tail a running task.

A try's worker may delete and rewrite chunks of its log to keep it under its cap (see
``worker/log_cap.py``), so seqs can have gaps. Readers page through a log by position (a chunk's
seq and a character offset in it) and read only what they show, never a whole long log at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from typing import cast as cast_type

from sqlalchemy import ColumnElement, LargeBinary, Table, cast, delete, func, select
from sqlalchemy.orm import Session

from tradewind.log_text import char_index, suffix_start
from tradewind.metastore import statements
from tradewind.metastore.models import TaskLog
from tradewind.metastore.task_instances import TIKey

#: Rows of chunk sizes read per query while walking a log.
_BATCH = 500
#: Built once (see ``task_instances``): the hot path's insert of a try's log chunks.
_INSERT = cast_type("Table", TaskLog.__table__).insert()
#: Characters of a chunk's beginning ``chunk_summaries`` returns (a cap's marker fits in it).
OPENING_CHARS = 400


@dataclass(frozen=True)
class LogPosition:
    """A place in a try's log: ``offset`` characters into chunk ``seq``."""

    seq: int
    offset: int


@dataclass(frozen=True)
class LogPage:
    """Part of a try's log that ends where it was asked to. ``start`` is where the part begins
    (ask for the page before it there); ``at_start`` when nothing comes before it; ``last_seq``
    is the log's newest chunk (-1 for none), for tailing it from there."""

    text: str
    start: LogPosition | None
    at_start: bool
    last_seq: int


@dataclass(frozen=True)
class LogUpdate:
    """What a tailing reader has not seen yet; ``skipped`` when part of it is gone or left out
    (cut by the log's cap, or too much to send at once: then only its end is in ``text``)."""

    text: str
    last_seq: int
    skipped: bool


@dataclass(frozen=True)
class ChunkSummary:
    """One stored chunk, without its text: what a writer going on with a stored log needs."""

    seq: int
    nbytes: int
    nlines: int
    opening: str
    ends_line: bool


def append_log(
    session: Session,
    key: TIKey,
    try_number: int,
    text: str,
    *,
    now: datetime | None = None,
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
    session.add(
        TaskLog(
            dag_id=key.dag_id,
            run_id=key.run_id,
            task_id=key.task_id,
            map_index=key.map_index,
            try_number=try_number,
            seq=seq,
            content=text,
            created_at=now or datetime.now(UTC),
        )
    )
    session.flush()
    return seq


def append_log_chunks(
    session: Session, key: TIKey, try_number: int, chunks: Sequence[tuple[int, str]], *, now: datetime | None = None
) -> None:
    """Insert ``(seq, text)`` chunks in one statement (the try's one writer keeps count)."""
    if not chunks:
        return
    created = now or datetime.now(UTC)
    rows = [_chunk_row(key, try_number, seq, text, created) for seq, text in chunks]
    # On the table: one row a plain INSERT, many batched into multi-row INSERTs.
    session.execute(_INSERT, rows[0] if len(rows) == 1 else rows)


def _chunk_row(key: TIKey, try_number: int, seq: int, text: str, created: datetime) -> dict[str, Any]:
    return {
        "dag_id": key.dag_id,
        "run_id": key.run_id,
        "task_id": key.task_id,
        "map_index": key.map_index,
        "try_number": try_number,
        "seq": seq,
        "content": text,
        "created_at": created,
    }


def put_log_chunk(
    session: Session, key: TIKey, try_number: int, seq: int, text: str, *, now: datetime | None = None
) -> None:
    """Chunk ``seq`` of the try's log holds ``text`` from now on, whether it existed or not."""
    statements.upsert(
        session,
        TaskLog,
        _chunk_row(key, try_number, seq, text, now or datetime.now(UTC)),
        conflict_on=["dag_id", "run_id", "task_id", "map_index", "try_number", "seq"],
        update=["content"],
    )


def delete_log_chunks(session: Session, key: TIKey, try_number: int, *, after_seq: int, before_seq: int) -> None:
    """Delete the try's chunks with a seq strictly between the two."""
    session.execute(delete(TaskLog).where(*_where(key, try_number), TaskLog.seq > after_seq, TaskLog.seq < before_seq))


def next_seq(session: Session, key: TIKey, try_number: int) -> int:
    """The seq the try's next chunk gets (a rescheduled sensor's try goes on writing its log)."""
    last = session.scalar(select(func.max(TaskLog.seq)).where(*_where(key, try_number)))
    return 0 if last is None else last + 1


def chunk_summaries(session: Session, key: TIKey, try_number: int) -> list[ChunkSummary]:
    """Size in bytes, newline count, opening and whether it ends a line, of each chunk of the try's
    log in seq order — computed by the database, without reading the log's text."""
    content = TaskLog.content
    newlines = func.length(content) - func.length(func.replace(content, "\n", ""))
    rows = session.execute(
        select(
            TaskLog.seq,
            _content_bytes(session),
            newlines,
            func.substr(content, 1, OPENING_CHARS),
            func.substr(content, func.length(content), 1),
        )
        .where(*_where(key, try_number))
        .order_by(TaskLog.seq)
    ).all()
    return [
        ChunkSummary(seq, int(size or 0), int(lines or 0), opening or "", last == "\n")
        for seq, size, lines, opening, last in rows
    ]


def read_log(session: Session, key: TIKey, try_number: int, *, after_seq: int = -1) -> tuple[str, int]:
    """The try's log text after chunk ``after_seq``, and the last seq read (``after_seq`` if none),
    to pass back as ``after_seq`` on the next poll."""
    rows = session.execute(
        select(TaskLog.seq, TaskLog.content)
        .where(*_where(key, try_number), TaskLog.seq > after_seq)
        .order_by(TaskLog.seq)
    ).all()
    if not rows:
        return "", after_seq
    return "".join(row.content for row in rows), rows[-1].seq


def read_log_page(
    session: Session, key: TIKey, try_number: int, *, max_bytes: int, before: LogPosition | None = None
) -> LogPage:
    """The last at most ``max_bytes`` (UTF-8) of the try's log before ``before`` (before its end
    when None), beginning at a line start unless one line is longer than that. Reads the chunk
    sizes back from ``before`` and then only the text the page needs, however long the log."""
    last_seq = session.scalar(select(func.max(TaskLog.seq)).where(*_where(key, try_number)))
    # One character more than fits, so that whether the page starts a line can be seen.
    wanted = max_bytes + 1
    spans: list[tuple[int, int, int, int]] = []  # (seq, start, end, length), newest first
    for seq, length in _sizes_newest_first(session, key, try_number, None if before is None else before.seq):
        end = min(length, before.offset) if before is not None and seq == before.seq else length
        take = min(end, wanted)
        if take:
            spans.append((seq, end - take, end, length))
            wanted -= take
        if not wanted:
            break
    texts = _read_spans(session, key, try_number, spans[::-1])
    window = "".join(text for _, _, text in texts)
    data = window.encode()
    cut = char_index(window, data, suffix_start(data, max_bytes))
    return LogPage(
        window[cut:],
        _position(texts, cut),
        at_start=wanted > 0 and cut == 0,
        last_seq=-1 if last_seq is None else last_seq,
    )


def read_log_after(session: Session, key: TIKey, try_number: int, after_seq: int, *, max_bytes: int) -> LogUpdate:
    """What the try's log holds after chunk ``after_seq``: all of it, or its last ``max_bytes``
    when there is more (a reader that fell far behind needs the newest output, not all of it)."""
    sizes = session.execute(
        select(TaskLog.seq, func.length(TaskLog.content))
        .where(*_where(key, try_number), TaskLog.seq > after_seq)
        .order_by(TaskLog.seq)
    ).all()
    if not sizes:
        return LogUpdate("", after_seq, skipped=False)
    last = sizes[-1][0]
    if sum(length for _, length in sizes) > max_bytes:
        page = read_log_page(session, key, try_number, max_bytes=max_bytes, before=LogPosition(last + 1, 0))
        return LogUpdate(page.text, last, skipped=True)
    text = "".join(
        session.scalars(
            select(TaskLog.content)
            .where(*_where(key, try_number), TaskLog.seq > after_seq, TaskLog.seq <= last)
            .order_by(TaskLog.seq)
        )
    )
    # Chunks right after the last one seen that are gone were cut by the log's cap meanwhile.
    return LogUpdate(text, last, skipped=sizes[0][0] != after_seq + 1)


def iter_log(session: Session, key: TIKey, try_number: int, *, piece_chars: int = 1 << 20) -> Iterator[str]:
    """The try's whole log, first chunk to last, as pieces of about ``piece_chars`` characters
    read one after the other (a chunk longer than that in slices), for streaming it out. A
    running try's log changes meanwhile: what is read is what each query found."""
    after = -1
    while True:
        sizes = session.execute(
            select(TaskLog.seq, func.length(TaskLog.content))
            .where(*_where(key, try_number), TaskLog.seq > after)
            .order_by(TaskLog.seq)
            .limit(_BATCH)
        ).all()
        if not sizes:
            return
        group: list[int] = []
        group_chars = 0
        for seq, length in sizes:
            if group and group_chars + length > piece_chars:
                yield _read_range(session, key, try_number, group[0], group[-1])
                group, group_chars = [], 0
            if length > piece_chars:
                for start in range(0, length, piece_chars):
                    yield _read_slice(session, key, try_number, seq, start, piece_chars)
                continue
            group.append(seq)
            group_chars += length
        if group:
            yield _read_range(session, key, try_number, group[0], group[-1])
        after = sizes[-1][0]


def _sizes_newest_first(session: Session, key: TIKey, try_number: int, upto: int | None) -> Iterator[tuple[int, int]]:
    """(seq, length in characters) of the try's chunks up to seq ``upto``, newest first, in batches."""
    while True:
        query = select(TaskLog.seq, func.length(TaskLog.content)).where(*_where(key, try_number))
        if upto is not None:
            query = query.where(TaskLog.seq <= upto)
        rows = session.execute(query.order_by(TaskLog.seq.desc()).limit(_BATCH)).all()
        for seq, length in rows:
            yield seq, int(length or 0)
        if len(rows) < _BATCH:
            return
        upto = rows[-1][0] - 1


def _read_spans(
    session: Session, key: TIKey, try_number: int, spans: list[tuple[int, int, int, int]]
) -> list[tuple[int, int, str]]:
    """(seq, start, text) of each (seq, start, end, length) span, oldest first. Only the first and
    the last span can be part of a chunk; those in between are whole and read in one query."""
    if not spans:
        return []
    whole = [seq for seq, start, end, length in spans if start == 0 and end == length]
    found = (
        dict(
            session.execute(
                select(TaskLog.seq, TaskLog.content).where(
                    *_where(key, try_number), TaskLog.seq >= whole[0], TaskLog.seq <= whole[-1]
                )
            ).all()
        )
        if whole
        else {}
    )
    texts = []
    for seq, start, end, length in spans:
        if start == 0 and end == length:
            text = found.get(seq)
        else:
            text = _read_slice(session, key, try_number, seq, start, end - start)
        if text:
            texts.append((seq, start, text))
    return texts


def _position(texts: list[tuple[int, int, str]], index: int) -> LogPosition | None:
    """The log position of character ``index`` of the spans' texts joined."""
    for seq, start, text in texts:
        if index < len(text):
            return LogPosition(seq, start + index)
        index -= len(text)
    return None


def _read_range(session: Session, key: TIKey, try_number: int, first: int, last: int) -> str:
    return "".join(
        session.scalars(
            select(TaskLog.content)
            .where(*_where(key, try_number), TaskLog.seq >= first, TaskLog.seq <= last)
            .order_by(TaskLog.seq)
        )
    )


def _read_slice(session: Session, key: TIKey, try_number: int, seq: int, start: int, length: int) -> str:
    """``length`` characters of chunk ``seq`` from character ``start`` (SQL counts from 1)."""
    return (
        session.scalar(
            select(func.substr(TaskLog.content, start + 1, length)).where(*_where(key, try_number), TaskLog.seq == seq)
        )
        or ""
    )


def _content_bytes(session: Session) -> ColumnElement[int]:
    if session.get_bind().dialect.name == "postgresql":
        return func.octet_length(TaskLog.content)
    return func.length(cast(TaskLog.content, LargeBinary))  # SQLite counts a blob's bytes, a text's characters


def _where(key: TIKey, try_number: int) -> tuple[ColumnElement[bool], ...]:
    return (
        TaskLog.dag_id == key.dag_id,
        TaskLog.run_id == key.run_id,
        TaskLog.task_id == key.task_id,
        TaskLog.map_index == key.map_index,
        TaskLog.try_number == try_number,
    )
