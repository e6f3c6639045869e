"""What a try's stored log keeps once its output passes TRADEWIND_TASK_LOG_MAX_BYTES: pure
decisions, no I/O; ``Reporter`` applies them to the ``task_log`` chunks.

The stored log is a head, a marker and a rolling tail. The head is the first quarter of the cap,
written as the output comes and never touched again. Everything after it is written as tail
pieces of at most 64 KiB (cut at line ends) while it fits; past the cap the oldest tail pieces
are deleted as new ones arrive, so whoever tails the log live keeps seeing the newest output, and
the end — the traceback, "Marking task as FAILED" — is always kept. Where output was cut, one
marker chunk between head and tail says how much and names the setting; it takes the seq of the
first tail piece deleted (or the next seq, when the cut output was never written) and is
rewritten as the cut grows.

Head + tail never exceed the cap, so the stored log is at most the cap plus the marker's line.
Output that cannot survive is dropped before it is written, so a burst of many megabytes costs
one write of its last part.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from tradewind.log_text import NEWLINE, char_prefix_end, pieces, prefix_end, suffix_start

#: TRADEWIND_TASK_LOG_MAX_BYTES's default.
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
#: Largest chunk written; the rolling tail gives up whole chunks, so this is its granularity.
PIECE_BYTES = 64 * 1024
SETTING = "TRADEWIND_TASK_LOG_MAX_BYTES"

_MARKER_RE = re.compile(
    r"\n?\[tradewind\] ([\d,]+) bytes \([^,()]*, ([\d,]+) lines?\) of this try's output were cut here: [^\n]*\n"
)


@dataclass(frozen=True)
class LogWrites:
    """What one ``LogCap.add`` changes in the stored log, in this order: put ``marker`` (insert or
    replace the chunk with its seq), delete the chunks strictly between the two seqs of
    ``delete_between``, insert ``inserts``. Every step can be repeated harmlessly, so a write lost
    with a failed transaction is made good by the next one."""

    marker: tuple[int, str] | None = None
    delete_between: tuple[int, int] | None = None
    inserts: tuple[tuple[int, str], ...] = ()


class StoredChunk(Protocol):
    """What ``LogCap.resume`` needs to know of a chunk already stored."""

    @property
    def seq(self) -> int: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def nlines(self) -> int: ...
    @property
    def opening(self) -> str: ...
    @property
    def ends_line(self) -> bool: ...


@dataclass(frozen=True)
class _Piece:
    seq: int
    nbytes: int
    nlines: int


@dataclass(frozen=True)
class LogCap:
    """The stored log of one try, as far as capping it needs: its sizes, never its text."""

    max_bytes: int
    next_seq: int = 0
    head_bytes: int = 0
    head_open: bool = True
    head_ends_line: bool = True
    tail: tuple[_Piece, ...] = ()
    marker_seq: int | None = None
    cut_bytes: int = 0
    cut_lines: int = 0

    @property
    def head_budget(self) -> int:
        return self.max_bytes // 4

    @property
    def piece_bytes(self) -> int:
        return max(1, min(PIECE_BYTES, (self.max_bytes - self.head_budget) // 8))

    @property
    def tail_bytes(self) -> int:
        return sum(p.nbytes for p in self.tail)

    @property
    def stored_bytes(self) -> int:
        """Head and tail, without the marker."""
        return self.head_bytes + self.tail_bytes

    def add(self, text: str) -> tuple[LogWrites, LogCap]:
        """The writes that append ``text`` (whole lines, as the worker reads them) within the cap,
        and the state after them."""
        data = text.encode()
        if not data:
            return LogWrites(), self
        state = self
        inserts: list[tuple[int, str]] = []
        if state.head_open:
            data, state = state._grow_head(data, inserts)
        if not data:
            return LogWrites(inserts=tuple(inserts)), state
        limit = state.max_bytes - state.head_bytes
        # What comes before the last ``limit`` bytes can never be kept, so it is never written.
        start = suffix_start(data, limit)
        kept = list(state.tail)
        dropped: list[_Piece] = []
        excess = state.tail_bytes + len(data) - start - limit
        # The kept tail is always the newest output: once part of this text goes, all before it does.
        while kept and (start or excess > 0):
            dropped.append(kept.pop(0))
            excess -= dropped[-1].nbytes
        cut_bytes = start + sum(p.nbytes for p in dropped)
        if not cut_bytes:
            state = state._append_tail(kept, data, inserts)
            return LogWrites(inserts=tuple(inserts)), state
        marker_seq, next_seq = state.marker_seq, state.next_seq
        if marker_seq is None and dropped:
            marker_seq = dropped[0].seq
        elif marker_seq is None:
            marker_seq, next_seq = next_seq, next_seq + 1
        state = replace(
            state,
            marker_seq=marker_seq,
            next_seq=next_seq,
            cut_bytes=state.cut_bytes + cut_bytes,
            cut_lines=state.cut_lines + data.count(b"\n", 0, start) + sum(p.nlines for p in dropped),
        )
        state = state._append_tail(kept, data[start:], inserts)
        keep_from = state.tail[0].seq if state.tail else state.next_seq
        return LogWrites(
            marker=(marker_seq, state.marker_text()), delete_between=(marker_seq, keep_from), inserts=tuple(inserts)
        ), state

    def marker_text(self) -> str:
        lead = "" if self.head_ends_line else "\n"
        lines = f"{self.cut_lines:,} line{'' if self.cut_lines == 1 else 's'}"
        return (
            f"{lead}[tradewind] {self.cut_bytes:,} bytes ({_size(self.cut_bytes)}, {lines}) of this try's "
            f"output were cut here: a try's stored log keeps its first and its last lines within "
            f"{SETTING} ({self.max_bytes:,} bytes).\n"
        )

    def _grow_head(self, data: bytes, inserts: list[tuple[int, str]]) -> tuple[bytes, LogCap]:
        """Take into the head what of ``data`` fits; the head closes at the first line that does not."""
        room = self.head_budget - self.head_bytes
        end = prefix_end(data, room)
        if end < len(data):
            line_start = end if end and data[end - 1] == NEWLINE else 0
            line_end = data.find(b"\n", line_start) + 1 or len(data)
            # The head ends at a line end, unless the line there is longer than a head of its own:
            # then its start fills the head (else no part of that line's start would be kept).
            end = char_prefix_end(data, room) if line_end - line_start > self.head_budget else line_start
        head, rest = data[:end], data[end:]
        state = self
        if head:
            seq = self.next_seq
            for piece in pieces(head, self.piece_bytes):
                inserts.append((seq, piece.decode()))
                seq += 1
            state = replace(
                self, next_seq=seq, head_bytes=self.head_bytes + len(head), head_ends_line=head.endswith(b"\n")
            )
        if rest:
            state = replace(state, head_open=False)
        return rest, state

    def _append_tail(self, kept: list[_Piece], data: bytes, inserts: list[tuple[int, str]]) -> LogCap:
        seq = self.next_seq
        tail = list(kept)
        for piece in pieces(data, self.piece_bytes):
            inserts.append((seq, piece.decode()))
            tail.append(_Piece(seq, len(piece), piece.count(b"\n")))
            seq += 1
        return replace(self, next_seq=seq, tail=tuple(tail))

    @classmethod
    def resume(cls, max_bytes: int, stored: Sequence[StoredChunk], *, next_seq: int = 0) -> LogCap:
        """The state of a try's log that already holds ``stored`` (in seq order): a sensor
        rescheduled keeps its try, and each poke goes on with the log of the ones before."""
        cap = cls(max_bytes, next_seq=max([next_seq, *(c.seq + 1 for c in stored)]))
        if not stored:
            return cap
        marker_at = next((i for i, c in enumerate(stored) if parse_marker(c.opening, c.nbytes) is not None), None)
        if marker_at is not None:
            head, tail = list(stored[:marker_at]), list(stored[marker_at + 1 :])
            cut_bytes, cut_lines = parse_marker(stored[marker_at].opening, stored[marker_at].nbytes) or (0, 0)
            cap = replace(cap, marker_seq=stored[marker_at].seq, cut_bytes=cut_bytes, cut_lines=cut_lines)
        else:
            total, split = 0, 0
            while split < len(stored) and total + stored[split].nbytes <= cap.head_budget:
                total += stored[split].nbytes
                split += 1
            head, tail = list(stored[:split]), list(stored[split:])
        return replace(
            cap,
            head_bytes=sum(c.nbytes for c in head),
            head_open=not tail and marker_at is None,
            head_ends_line=head[-1].ends_line if head else True,
            tail=tuple(_Piece(c.seq, c.nbytes, c.nlines) for c in tail),
        )


def parse_marker(opening: str, nbytes: int) -> tuple[int, int] | None:
    """(bytes cut, lines cut) when a chunk of ``nbytes`` that starts with ``opening`` is a marker."""
    if nbytes != len(opening.encode()):
        return None
    found = _MARKER_RE.fullmatch(opening)
    if found is None:
        return None
    return int(found.group(1).replace(",", "")), int(found.group(2).replace(",", ""))


def _size(nbytes: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} bytes"
