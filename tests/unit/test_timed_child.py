"""The scheduler's children that run user code (DAG-file imports, DAG callbacks) end in one of
three ways, and the parent learns which without waiting: the JSON they sent, the exit code of a
child that died before answering, or a kill past the time limit."""

from __future__ import annotations

import json
import os
import signal
import time

from tradewind.timed_child import ChildEnd, TimedChild


def _answers(value: int, conn) -> None:
    conn.send_bytes(json.dumps({"doubled": value * 2}).encode())
    conn.close()


def _dies(conn) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _exits(code: int, conn) -> None:
    os._exit(code)


def _sends_a_list(conn) -> None:
    conn.send_bytes(b"[1, 2]")


def _hangs(conn) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only SIGKILL stops it
    time.sleep(60)


def _wait_for_end(child: TimedChild, within: float = 10.0) -> ChildEnd:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        ended = child.collect()
        if ended is not None:
            return ended
        time.sleep(0.02)
    child.stop()
    raise AssertionError("the child neither answered nor was stopped")


def test_a_child_that_answers_gives_its_json_object() -> None:
    child = TimedChild.start(_answers, (21,), name="answers", timeout=5)
    assert _wait_for_end(child) == ChildEnd({"doubled": 42})
    assert not os.path.exists(f"/proc/{child.pid}"), "the child is reaped, not left a zombie"


def test_a_child_killed_by_a_signal_is_reported_with_the_signal_as_a_negative_exit_code() -> None:
    assert _wait_for_end(TimedChild.start(_dies, (), name="dies", timeout=5)) == ChildEnd(None, exit_code=-9)


def test_a_child_that_exits_without_answering_is_reported_with_its_exit_code() -> None:
    assert _wait_for_end(TimedChild.start(_exits, (3,), name="exits", timeout=5)) == ChildEnd(None, exit_code=3)


def test_an_answer_that_is_not_a_json_object_counts_as_no_answer() -> None:
    ended = _wait_for_end(TimedChild.start(_sends_a_list, (), name="list", timeout=5))
    assert ended.payload is None and not ended.timed_out


def test_a_child_past_its_time_limit_and_grace_is_killed_and_reported_as_timed_out() -> None:
    child = TimedChild.start(_hangs, (), name="hangs", timeout=0.1)
    assert child.collect() is None, "still within its time limit"
    assert _wait_for_end(child) == ChildEnd(None, timed_out=True)
    assert not os.path.exists(f"/proc/{child.pid}"), "killed and reaped"


def test_wait_blocks_until_the_child_answers_or_is_killed_past_its_time_limit() -> None:
    assert TimedChild.start(_answers, (4,), name="answers", timeout=5).wait() == ChildEnd({"doubled": 8})
    assert TimedChild.start(_exits, (0,), name="exits", timeout=5).wait() == ChildEnd(None, exit_code=0)
    started = time.monotonic()
    assert TimedChild.start(_hangs, (), name="hangs", timeout=0.1).wait() == ChildEnd(None, timed_out=True)
    assert time.monotonic() - started < 10
