"""The cap on a try's stored log: what is kept, what is cut, and where the marker goes, checked on
a store of chunks that applies ``LogWrites`` as the worker's ``Reporter`` does."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tradewind.errors import ConfigurationError
from tradewind.log_text import char_index, pieces, prefix_end, suffix_start
from tradewind.settings import Settings
from tradewind.worker.log_cap import DEFAULT_MAX_BYTES, SETTING, LogCap, LogWrites, parse_marker

MARKER = re.compile(r"^\[tradewind\] ([\d,]+) bytes \([^)]*\) of this try's output were cut here: .*$", re.M)


class Store:
    """The task_log chunks of one try, keyed by seq."""

    def __init__(self) -> None:
        self.chunks: dict[int, str] = {}

    def apply(self, writes: LogWrites) -> None:
        if writes.marker is not None:
            self.chunks[writes.marker[0]] = writes.marker[1]
        if writes.delete_between is not None:
            low, high = writes.delete_between
            for seq in [s for s in self.chunks if low < s < high]:
                del self.chunks[seq]
        for seq, text in writes.inserts:
            assert seq not in self.chunks, f"seq {seq} written twice"
            self.chunks[seq] = text

    @property
    def text(self) -> str:
        return "".join(self.chunks[seq] for seq in sorted(self.chunks))


def numbered(count: int, width: int = 20) -> list[str]:
    """``count`` lines of ``width`` bytes each (newline included), numbered from 0."""
    return [f"line {i:0{width - 6}d}\n" for i in range(count)]


def run(cap: LogCap, writes: list[str], store: Store | None = None) -> tuple[Store, LogCap]:
    store = store or Store()
    for text in writes:
        change, cap = cap.add(text)
        store.apply(change)
    return store, cap


def without_marker(text: str) -> tuple[str, str | None]:
    found = MARKER.search(text)
    if found is None:
        return text, None
    return text[: found.start()].rstrip("\n") + "\n" + text[found.end() + 1 :], found.group(0)


def cut_bytes(marker: str) -> int:
    return int(MARKER.match(marker).group(1).replace(",", ""))  # type: ignore[union-attr]


# --- what is kept ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    lines: int
    per_write: int
    cut: bool


CAP = 4000  # 200 lines of 20 bytes


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(Case(lines=10, per_write=3, cut=False), id="far-under-the-cap"),
        pytest.param(Case(lines=200, per_write=7, cut=False), id="exactly-at-the-cap-in-small-writes"),
        pytest.param(Case(lines=200, per_write=200, cut=False), id="exactly-at-the-cap-in-one-write"),
        pytest.param(Case(lines=201, per_write=7, cut=True), id="one-line-past-the-cap"),
        pytest.param(Case(lines=10_000, per_write=13, cut=True), id="fifty-times-the-cap-in-small-writes"),
        pytest.param(Case(lines=10_000, per_write=10_000, cut=True), id="fifty-times-the-cap-in-one-write"),
        pytest.param(Case(lines=10_000, per_write=900, cut=True), id="writes-bigger-than-the-cap"),
    ],
)
def test_the_stored_log_keeps_its_first_and_last_lines_within_the_cap(case: Case) -> None:
    lines = numbered(case.lines)
    output = "".join(lines)
    store, cap = run(
        LogCap(CAP), ["".join(lines[i : i + case.per_write]) for i in range(0, case.lines, case.per_write)]
    )
    kept, marker = without_marker(store.text)

    if not case.cut:
        assert store.text == output and marker is None
        return
    assert marker is not None, "a marker says where output was cut"
    assert len(store.text.encode()) <= CAP + len(marker.encode()) + 2
    assert kept.startswith("".join(lines[: CAP // 4 // 20])), "the head is the first quarter of the cap"
    assert kept.endswith(lines[-1]) and len(kept) >= CAP - 20 - cap.piece_bytes
    head, tail = store.text.split(marker + "\n")
    assert output.startswith(head) and output.endswith(tail), "whole lines, in order, on both sides"
    assert cut_bytes(marker) == len(output) - len(kept) == cap.cut_bytes
    assert re.search(rf"\b{case.lines - kept.count(chr(10)):,} lines?\)", marker) and SETTING in marker


def test_the_marker_is_one_line_between_head_and_tail_and_is_rewritten_as_the_cut_grows() -> None:
    lines = numbered(1000)
    store, cap = run(LogCap(CAP), ["".join(lines[:300])])
    assert cap.marker_seq is not None
    first = store.chunks[cap.marker_seq]
    store, cap = run(cap, ["".join(lines[300:])], store)
    second = store.chunks[cap.marker_seq]
    assert first != second and cut_bytes(first) < cut_bytes(second)
    seqs = sorted(store.chunks)
    marker_at = seqs.index(cap.marker_seq)
    assert all("[tradewind]" not in store.chunks[s] for s in seqs if s != cap.marker_seq)
    assert "".join(store.chunks[s] for s in seqs[:marker_at]) == "".join(lines[: CAP // 4 // 20])
    assert second.count("\n") == 1 and second.endswith("\n")


def test_while_a_long_try_runs_past_the_cap_its_newest_output_is_always_stored() -> None:
    cap, store = LogCap(CAP), Store()
    for index, line in enumerate(numbered(2000)):
        change, cap = cap.add(line)
        store.apply(change)
        assert store.text.endswith(line), f"after line {index}"
        assert cap.stored_bytes <= CAP
    assert len(store.chunks) <= CAP // 20 + 1, "deleted chunks are gone, not piled up"


def test_output_that_cannot_be_kept_is_never_written() -> None:
    lines = numbered(10_000)
    change, cap = LogCap(CAP).add("".join(lines))
    written = sum(len(text) for _, text in change.inserts)
    assert written <= CAP
    assert change.delete_between is not None and change.marker is not None


# --- lines longer than the cap, and characters wider than a byte ---------------------------------


def test_a_single_line_longer_than_the_cap_is_cut_mid_line_keeping_its_start_and_end() -> None:
    line = "".join(str(i % 10) for i in range(3 * CAP)) + "\n"
    store, cap = run(LogCap(CAP), ["start\n", line, "Marking task as FAILED.\n"])
    text = store.text
    assert text.startswith("start\n0123456789")
    assert text.endswith("789\nMarking task as FAILED.\n")
    _, marker = without_marker(text)
    assert marker is not None
    # The head ended inside the line, so the marker starts a line of its own.
    assert f"\n{marker}\n" in text
    assert len(text.encode()) <= CAP + len(marker) + 2


def test_the_head_ends_at_a_line_end_unless_a_line_is_longer_than_the_head() -> None:
    lines = numbered(40, width=30)
    store, cap = run(LogCap(CAP), ["".join(lines[:20]), "".join(lines[20:])])
    assert cap.head_bytes == 33 * 30, "33 whole lines; the 34th would not fit whole"
    store, cap = run(LogCap(CAP), ["first line\n" + "x" * (2 * CAP) + "\n", "last\n"])
    assert cap.head_bytes == CAP // 4 and store.text.startswith("first line\nxxx")


@pytest.mark.parametrize("char", ["é", "日", "𝄞"], ids=["2-byte", "3-byte", "4-byte"])
@pytest.mark.parametrize("line_chars", [7, 333, 5000], ids=["short-lines", "lines-near-a-piece", "one-long-line"])
def test_multi_byte_characters_are_never_split(char: str, line_chars: int) -> None:
    lines = [f"{i:05d}{char * line_chars}\n" for i in range(60_000 // line_chars + 1)]
    cap = LogCap(CAP + 1)  # an odd cap, so budgets fall inside characters
    store, cap = run(cap, ["".join(lines[i : i + 5]) for i in range(0, len(lines), 5)])
    for text in store.chunks.values():
        assert "\ufffd" not in text and text.encode().decode() == text
    _, marker = without_marker(store.text)
    assert marker is not None
    assert len(store.text.encode()) <= CAP + 1 + len(marker.encode()) + 2
    assert store.text.endswith(lines[-1][-50:])


# --- a rescheduled sensor, and a write that was lost ---------------------------------------------


@dataclass(frozen=True)
class Chunk:
    seq: int
    nbytes: int
    nlines: int
    opening: str
    ends_line: bool


def stored(store: Store) -> list[Chunk]:
    return [
        Chunk(seq, len(text.encode()), text.count("\n"), text[:400], text.endswith("\n"))
        for seq, text in sorted(store.chunks.items())
    ]


@pytest.mark.parametrize("pokes_before", [1, 30, 400], ids=["under-the-cap", "head-closed", "past-the-cap"])
def test_a_rescheduled_try_goes_on_capping_the_log_its_earlier_pokes_stored(pokes_before: int) -> None:
    pokes = [f"poke {i:04d}: not yet\n" * 3 for i in range(600)]
    store, cap = run(LogCap(CAP), pokes[:pokes_before])
    resumed = LogCap.resume(CAP, stored(store), next_seq=max(store.chunks) + 1)
    assert (resumed.head_bytes, resumed.tail_bytes, resumed.marker_seq, resumed.cut_bytes, resumed.cut_lines) == (
        cap.head_bytes,
        cap.tail_bytes,
        cap.marker_seq,
        cap.cut_bytes,
        cap.cut_lines,
    )
    assert (resumed.tail, resumed.head_open, resumed.next_seq) == (cap.tail, cap.head_open, cap.next_seq)
    store, _ = run(resumed, pokes[pokes_before:], store)
    one_go, _ = run(LogCap(CAP), pokes)
    assert store.text == one_go.text


def test_a_lost_write_is_made_good_by_the_next_one() -> None:
    lines = numbered(3000)
    cap, store = LogCap(CAP), Store()
    for index in range(0, 3000, 50):
        change, cap = cap.add("".join(lines[index : index + 50]))
        if index not in (500, 1000):  # these transactions failed
            store.apply(change)
    _, marker = without_marker(store.text)
    assert marker is not None and store.text.endswith(lines[-1])
    assert len(store.text.encode()) <= CAP + len(marker) + 2


def test_a_marker_is_recognised_only_when_it_is_a_whole_chunk() -> None:
    cap = LogCap(CAP, cut_bytes=12_345_678, cut_lines=1)
    text = cap.marker_text()
    assert parse_marker(text, len(text.encode())) == (12_345_678, 1)
    assert "12,345,678 bytes (11.8 MiB, 1 line)" in text
    assert parse_marker(text, len(text.encode()) + 10) is None
    mention = "user output that mentions [tradewind]\n"
    assert parse_marker(mention, len(mention)) is None


# --- the text cuts both the worker and the web UI use --------------------------------------------


@pytest.mark.parametrize(
    ("data", "max_bytes", "end"),
    [
        (b"ab\ncd\n", 10, 6),
        (b"ab\ncd\n", 6, 6),
        (b"ab\ncd\n", 5, 3),
        (b"abcdef", 4, 4),
        ("aé".encode(), 2, 1),
        (b"", 0, 0),
        (b"ab", 0, 0),
    ],
    ids=["fits", "exactly", "at-the-last-newline", "no-newline", "inside-a-character", "empty", "no-room"],
)
def test_prefix_end(data: bytes, max_bytes: int, end: int) -> None:
    assert prefix_end(data, max_bytes) == end


@pytest.mark.parametrize(
    ("data", "max_bytes", "start"),
    [
        (b"ab\ncd\n", 10, 0),
        (b"ab\ncd\n", 6, 0),
        (b"ab\ncd\n", 5, 3),
        (b"ab\ncd\n", 3, 3),
        (b"ab\ncdef\n", 4, 4),
        ("éa".encode(), 2, 2),
        (b"ab\n", 0, 3),
    ],
    ids=[
        "fits",
        "exactly",
        "at-a-line-start",
        "one-line",
        "mid-line-when-no-line-starts",
        "inside-a-character",
        "no-room",
    ],
)
def test_suffix_start(data: bytes, max_bytes: int, start: int) -> None:
    assert suffix_start(data, max_bytes) == start


def test_pieces_end_at_line_ends_and_cover_everything() -> None:
    data = "".join(numbered(100, width=30)).encode() + ("é" * 100).encode() + b"\n"
    found = pieces(data, 64)
    assert b"".join(found) == data and all(len(p) <= 64 for p in found)
    assert all(p.endswith(b"\n") for p in found[: 100 // 2])
    assert all(p.decode() for p in found)
    assert pieces("𝄞".encode(), 1) == ["𝄞".encode()]


def test_char_index_maps_a_byte_offset_back_to_the_text() -> None:
    text = "aé日𝄞b"
    data = text.encode()
    assert [char_index(text, data, i) for i in (0, 1, 3, 6, 10)] == [0, 1, 2, 3, 4]


def test_the_cap_is_a_setting_with_a_floor() -> None:
    assert Settings().task_log_max_bytes == DEFAULT_MAX_BYTES
    assert Settings.from_env({"TRADEWIND_TASK_LOG_MAX_BYTES": "65536"}).task_log_max_bytes == 65536
    with pytest.raises(ConfigurationError, match="TRADEWIND_TASK_LOG_MAX_BYTES"):
        Settings.from_env({"TRADEWIND_TASK_LOG_MAX_BYTES": "100"})
